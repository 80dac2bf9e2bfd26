/**
 * Watches who leads each partition during a campaign run: polls the members' GET /v1/cluster/map
 * (the ClusterMap each node holds; no token needed) and records every change of a partition's
 * primary or term with the time it was first seen, on the history's clock. A change is seen at
 * most one poll interval (plus the node's own lag behind the store) after it happened. Used to name
 * the failover that dropped a lost PRIMARY_SYNC write.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MemberEndpoint } from './dev-cluster.js';

export interface PrimaryChange {
  /** When the campaign first saw the new assignment (history clock, µs). */
  seenUs: number;
  mapVersion: number;
  partition: number;
  primary: string | null;
  term: number;
}

interface MapDocument {
  version: number;
  partitions: Array<{ primary: string | null; term: number }>;
}

const POLL_MS = 200;
const REQUEST_TIMEOUT_MS = 1000;

export class MapMonitor {
  readonly changes: PrimaryChange[] = [];
  private readonly current = new Map<number, { primary: string | null; term: number }>();
  private highestVersion = -1;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly members: readonly MemberEndpoint[],
    private readonly clockUs: () => number,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    let next = 0;
    while (!this.stopped) {
      // One member per poll, in turn: a paused or cut-off member costs one poll, not all of them.
      const member = this.members[next++ % this.members.length]!;
      try {
        const response = await fetch(`http://${member.host}:${member.adminPort}/v1/cluster/map`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        if (response.ok) this.observe((await response.json()) as MapDocument);
      } catch {
        // Down, paused or cut off: the next member answers.
      }
      await sleep(POLL_MS);
    }
  }

  private observe(map: MapDocument): void {
    // A node behind the others shows an older map: only newer versions are news.
    if (map.version <= this.highestVersion) return;
    this.highestVersion = map.version;
    const seenUs = this.clockUs();
    map.partitions.forEach((assignment, partition) => {
      const before = this.current.get(partition);
      if (before !== undefined && before.primary === assignment.primary && before.term === assignment.term) return;
      this.current.set(partition, { primary: assignment.primary, term: assignment.term });
      this.changes.push({ seenUs, mapVersion: map.version, partition, primary: assignment.primary, term: assignment.term });
    });
  }
}
