/**
 * The watch cache and fan-out: every committed write becomes one event, kept in a bounded history
 * (for watches that resume from a resourceVersion) and delivered to every open watch whose filter
 * it passes. Transport-agnostic: a watch is a sink function; the HTTP edge writes lines, the
 * in-process API calls back.
 *
 * Selector semantics follow the API server's cacher: an object modified into a watch's selector
 * arrives as ADDED, one modified out of it as DELETED (with its previous content at the new
 * resourceVersion).
 */
import { kubeErrors } from './errors.js';
import type { JsonObject } from './json.js';
import { kubeLimits } from './limits.js';
import { matchesSelector, type Selector } from './selectors.js';

export type StoredEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export type WatchEventType = StoredEventType | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  type: WatchEventType;
  object: JsonObject;
}

/** Receives a watch's events in order. Must not write to the store synchronously. */
export type WatchSink = (event: WatchEvent) => void;

export interface StoredEvent {
  type: StoredEventType;
  revision: number;
  groupResource: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  /** Frozen: the object as committed (for DELETED, its last state at the deletion's revision). */
  object: JsonObject;
  /** For MODIFIED: the object before the write. */
  previous?: JsonObject;
}

export interface WatchFilter {
  groupResource: string;
  /** apiVersion the watcher asked for; objects are shown in it. */
  apiVersion: string;
  /** Undefined: every namespace. */
  namespace?: string;
  selector: Selector;
}

interface Watcher {
  filter: WatchFilter;
  sink: WatchSink;
}

function shown(object: JsonObject, apiVersion: string): JsonObject {
  return object.apiVersion === apiVersion ? object : { ...object, apiVersion };
}

function atRevision(object: JsonObject, revision: number): JsonObject {
  const metadata = { ...(object.metadata as JsonObject), resourceVersion: String(revision) };
  return { ...object, metadata };
}

/** What `filter` sees of `event`, if anything. */
function eventFor(filter: WatchFilter, event: StoredEvent): WatchEvent | undefined {
  if (event.groupResource !== filter.groupResource) return undefined;
  if (filter.namespace !== undefined && event.namespace !== filter.namespace) return undefined;
  const matchesNow = matchesSelector(filter.selector, event.object);
  if (event.type !== 'MODIFIED' || event.previous === undefined) {
    return matchesNow ? { type: event.type, object: shown(event.object, filter.apiVersion) } : undefined;
  }
  const matchedBefore = matchesSelector(filter.selector, event.previous);
  if (matchesNow) return { type: matchedBefore ? 'MODIFIED' : 'ADDED', object: shown(event.object, filter.apiVersion) };
  if (matchedBefore) return { type: 'DELETED', object: shown(atRevision(event.previous, event.revision), filter.apiVersion) };
  return undefined;
}

/**
 * Invariant: `history` holds every event with revision > `oldestRevision`, in revision order; a
 * watch may resume from any revision >= `oldestRevision`.
 */
export class WatchHub {
  private history: StoredEvent[] = [];
  private oldestRevision = 0;
  private readonly watchers = new Set<Watcher>();

  constructor(private readonly capacity: number) {}

  publish(event: StoredEvent): void {
    this.history.push(event);
    while (this.history.length > this.capacity) {
      const evicted = this.history.shift();
      if (evicted) this.oldestRevision = evicted.revision;
    }
    // A copy: a sink may end its own watch (a slow HTTP client) while we iterate.
    for (const watcher of [...this.watchers]) {
      const visible = eventFor(watcher.filter, event);
      if (visible && this.watchers.has(watcher)) watcher.sink(visible);
    }
  }

  /**
   * Replays the events after `afterRevision`, then delivers live ones until the returned function
   * is called. Throws 410 Expired when that history is no longer kept.
   */
  subscribe(filter: WatchFilter, sink: WatchSink, afterRevision: number): () => void {
    if (afterRevision < this.oldestRevision) throw kubeErrors.expired(afterRevision, this.oldestRevision);
    if (this.watchers.size >= kubeLimits.watchesMax) throw kubeErrors.tooManyWatches(kubeLimits.watchesMax);
    for (const event of this.history) {
      if (event.revision <= afterRevision) continue;
      const visible = eventFor(filter, event);
      if (visible) sink(visible);
    }
    const watcher: Watcher = { filter, sink };
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** Forgets all history: resuming from any revision before `currentRevision` now answers 410. */
  compact(currentRevision: number): void {
    this.history = [];
    this.oldestRevision = currentRevision;
  }
}
