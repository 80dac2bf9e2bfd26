/**
 * The embedded store's state, without I/O: the current map with a bounded history of recent
 * versions (for watchers), and the presence table (registrations expiring by TTL). Time comes in
 * as `nowMs` from the server's monotonic clock; the server persists and answers HTTP.
 */
import type { ClusterMap } from '@ballast/cluster';
import { sortedRegistrations } from './documents.js';
import { StoreLimitError } from './errors.js';
import { MAP_HISTORY_BYTES_MAX, MAP_HISTORY_VERSIONS_MAX, REGISTRATIONS_MAX } from './limits.js';
import type { NodeRegistration } from './store.js';

export interface StoredVersion {
  readonly map: ClusterMap;
  /** The map's JSON text, as persisted and as sent to clients. */
  readonly document: string;
}

/**
 * The current map and the versions just before it, oldest first. Invariants: versions are
 * consecutive (each append is current + 1); at least the current version is kept; at most
 * MAP_HISTORY_VERSIONS_MAX versions and (beyond the current one) MAP_HISTORY_BYTES_MAX bytes.
 */
export class MapHistory {
  private readonly versions: StoredVersion[] = [];
  private bytes = 0;

  constructor(initial: StoredVersion | null) {
    if (initial !== null) this.push(initial);
  }

  get current(): StoredVersion | null {
    return this.versions.at(-1) ?? null;
  }

  get currentVersion(): number {
    return this.current?.map.version ?? 0;
  }

  append(stored: StoredVersion): void {
    if (stored.map.version !== this.currentVersion + 1) {
      throw new Error(`assertion: appended version ${stored.map.version} after ${this.currentVersion}`);
    }
    this.push(stored);
  }

  /**
   * Up to `countMax` versions newer than `version`, oldest first. Versions older than the history
   * are gone: a watcher that far behind receives the oldest kept ones (it skips, never goes back).
   */
  after(version: number, countMax: number): StoredVersion[] {
    const newer = this.versions.filter((stored) => stored.map.version > version);
    return newer.slice(0, countMax);
  }

  private push(stored: StoredVersion): void {
    this.versions.push(stored);
    this.bytes += stored.document.length;
    while (
      this.versions.length > MAP_HISTORY_VERSIONS_MAX ||
      (this.versions.length > 1 && this.bytes > MAP_HISTORY_BYTES_MAX)
    ) {
      this.bytes -= this.versions.shift()!.document.length;
    }
  }
}

interface PresenceEntry {
  readonly registration: NodeRegistration;
  readonly document: string;
  expiresAtMs: number;
}

/**
 * Live registrations. `changeCounter` grows by one at every change of the set (a node added,
 * removed or expired, or its registration changed); a heartbeat that only extends the TTL is not
 * a change. At most REGISTRATIONS_MAX entries.
 */
export class PresenceTable {
  private readonly entries = new Map<string, PresenceEntry>();
  private changes = 0;

  get changeCounter(): number {
    return this.changes;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Adds or renews a registration until nowMs + ttlMs. Throws StoreLimitError when full. */
  heartbeat(registration: NodeRegistration, ttlMs: number, nowMs: number): void {
    const document = JSON.stringify(registration);
    const entry = this.entries.get(registration.nodeId);
    if (entry === undefined && this.entries.size >= REGISTRATIONS_MAX) {
      throw new StoreLimitError(`the embedded store holds at most ${REGISTRATIONS_MAX} registrations`);
    }
    if (entry !== undefined && entry.document === document) {
      entry.expiresAtMs = nowMs + ttlMs;
      return;
    }
    this.entries.set(registration.nodeId, { registration, document, expiresAtMs: nowMs + ttlMs });
    this.changes++;
  }

  /** Removes a registration; with `incarnation`, only that run's (a newer run's stays). */
  remove(nodeId: string, incarnation: string | undefined): boolean {
    const entry = this.entries.get(nodeId);
    if (entry === undefined || (incarnation !== undefined && entry.registration.incarnation !== incarnation)) return false;
    this.entries.delete(nodeId);
    this.changes++;
    return true;
  }

  /** Drops registrations whose TTL ran out; returns whether any did. */
  expire(nowMs: number): boolean {
    let removed = false;
    for (const [nodeId, entry] of this.entries) {
      if (entry.expiresAtMs <= nowMs) {
        this.entries.delete(nodeId);
        removed = true;
      }
    }
    if (removed) this.changes++;
    return removed;
  }

  /** Live registrations in node-id order. */
  nodes(): NodeRegistration[] {
    return sortedRegistrations([...this.entries.values()].map((entry) => entry.registration));
  }
}
