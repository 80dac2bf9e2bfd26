/**
 * Streams partition snapshots to peers (catch-up of a replica whose log no longer matches, and
 * partition moves), within the rebalance limits: at most `concurrentMoves` streams at once per node
 * (the rest wait in a queue, newest request per peer and partition), and at most `bytesPerSecond`
 * over all streams (a token bucket that runs into debt, so a chunk waits until its bytes are paid).
 * A stream also waits while the peer link holds more than LINK_BUFFER_MAX unsent bytes
 * (back-pressure), and stops when the peer disconnects or this node no longer leads the partition
 * at the term the core asked for.
 */
import type { Logger } from 'pino';
import type { PartitionSnapshot } from '../engine/engine.js';

export interface SnapshotJob {
  partition: number;
  to: string;
  term: number;
}

export interface RebalanceLimitsInEffect {
  /** 0: unlimited. */
  bytesPerSecond: number;
  concurrentMoves: number;
}

export interface SnapshotSenderHooks {
  read(partition: number): PartitionSnapshot;
  connected(peer: string): boolean;
  /** Bytes the link to `peer` has not handed to the kernel yet. */
  buffered(peer: string): number;
  sendBegin(job: SnapshotJob, snapshot: PartitionSnapshot): void;
  sendChunk(job: SnapshotJob, records: Array<[Buffer, Buffer]>): void;
  sendEnd(job: SnapshotJob): void;
  /** Whether the core still wants this stream (it leads the partition at job.term). */
  wanted(job: SnapshotJob): boolean;
  failed(job: SnapshotJob): void;
  limits(): RebalanceLimitsInEffect;
  log: Logger;
}

const CHUNK_BYTES = 512 * 1024;
const LINK_BUFFER_MAX = 8 * 1024 * 1024;
const BACKPRESSURE_POLL_MS = 2;

export interface ActiveStream {
  partition: number;
  to: string;
  term: number;
  bytesTotal: number;
  bytesSent: number;
  startedMs: number;
}

export class SnapshotSender {
  private readonly queue: SnapshotJob[] = [];
  private readonly active = new Map<string, ActiveStream & { cancelled: boolean }>();
  private tokens = 0;
  private lastRefillMs = performance.now();
  private stopped = false;
  readonly stats = {
    snapshotsSent: 0,
    snapshotsFailed: 0,
    bytesSent: 0,
    throttleWaitMs: 0,
    backpressureWaitMs: 0,
  };
  private readonly finishedListeners: Array<(stream: ActiveStream, seconds: number) => void> = [];

  constructor(private readonly hooks: SnapshotSenderHooks) {}

  /** The core asked for a snapshot of `job.partition` to `job.to`; a newer request replaces an older one. */
  request(job: SnapshotJob): void {
    const key = keyOf(job);
    for (let i = this.queue.length - 1; i >= 0; i--) if (keyOf(this.queue[i]!) === key) this.queue.splice(i, 1);
    const running = this.active.get(key);
    if (running !== undefined) running.cancelled = true;
    this.queue.push(job);
    this.pump();
  }

  onFinished(listener: (stream: ActiveStream, seconds: number) => void): void {
    this.finishedListeners.push(listener);
  }

  /** Streams in progress and requests waiting for a slot. */
  streams(): { active: ActiveStream[]; queued: SnapshotJob[] } {
    return {
      active: [...this.active.values()].filter((stream) => !stream.cancelled).map(({ cancelled: _cancelled, ...stream }) => stream),
      queued: [...this.queue],
    };
  }

  stop(): void {
    this.stopped = true;
    for (const stream of this.active.values()) stream.cancelled = true;
    this.queue.length = 0;
  }

  /** Starts queued streams while slots are free (limits may have changed). */
  pump(): void {
    const slots = Math.max(1, this.hooks.limits().concurrentMoves);
    while (!this.stopped && this.queue.length > 0 && this.runningCount() < slots) {
      const job = this.queue.shift()!;
      if (!this.hooks.wanted(job)) continue;
      void this.stream(job);
    }
  }

  private runningCount(): number {
    let count = 0;
    for (const stream of this.active.values()) if (!stream.cancelled) count++;
    return count;
  }

  private async stream(job: SnapshotJob): Promise<void> {
    const key = keyOf(job);
    const hooks = this.hooks;
    if (!hooks.connected(job.to)) {
      this.stats.snapshotsFailed++;
      hooks.failed(job);
      return;
    }
    const snapshot = hooks.read(job.partition);
    let bytesTotal = 0;
    for (const [dbKey, record] of snapshot.records) bytesTotal += dbKey.length + record.length;
    const stream = { ...job, bytesTotal, bytesSent: 0, startedMs: performance.now(), cancelled: false };
    // A stream still running for the same peer and partition was cancelled by request(): this one
    // replaces it (the old loop notices `cancelled` and ends without touching the new entry).
    this.active.set(key, stream);
    hooks.log.info({ partition: job.partition, to: job.to, seq: snapshot.seq, records: snapshot.records.length, bytes: bytesTotal }, 'sending a partition snapshot');
    let ok = false;
    try {
      hooks.sendBegin(job, snapshot);
      let chunk: Array<[Buffer, Buffer]> = [];
      let chunkBytes = 0;
      const flushChunk = async (): Promise<boolean> => {
        await this.pace(chunkBytes);
        while (hooks.buffered(job.to) > LINK_BUFFER_MAX && !this.stopped && !stream.cancelled) {
          const started = performance.now();
          await sleep(BACKPRESSURE_POLL_MS);
          this.stats.backpressureWaitMs += performance.now() - started;
        }
        if (this.stopped || stream.cancelled || !hooks.connected(job.to) || !hooks.wanted(job)) return false;
        hooks.sendChunk(job, chunk);
        stream.bytesSent += chunkBytes;
        this.stats.bytesSent += chunkBytes;
        chunk = [];
        chunkBytes = 0;
        return true;
      };
      for (const record of snapshot.records) {
        chunk.push(record);
        chunkBytes += record[0].length + record[1].length;
        if (chunkBytes >= CHUNK_BYTES && !(await flushChunk())) return;
      }
      if (chunk.length > 0 && !(await flushChunk())) return;
      if (this.stopped || stream.cancelled || !hooks.connected(job.to) || !hooks.wanted(job)) return;
      hooks.sendEnd(job);
      ok = true;
      this.stats.snapshotsSent++;
      const seconds = (performance.now() - stream.startedMs) / 1000;
      for (const listener of this.finishedListeners) listener(stream, seconds);
    } finally {
      if (this.active.get(key) === stream) this.active.delete(key);
      if (!ok && !stream.cancelled && !this.stopped) {
        this.stats.snapshotsFailed++;
        hooks.failed(job);
      }
      this.pump();
    }
  }

  /** Token bucket over all streams: waits until `bytes` fit under bytesPerSecond. */
  private async pace(bytes: number): Promise<void> {
    const rate = this.hooks.limits().bytesPerSecond;
    if (rate <= 0) return;
    const now = performance.now();
    // A burst of up to 100 ms of traffic (at least one chunk) may go at once.
    const burst = Math.max(rate / 10, CHUNK_BYTES);
    this.tokens = Math.min(burst, this.tokens + ((now - this.lastRefillMs) * rate) / 1000);
    this.lastRefillMs = now;
    this.tokens -= bytes;
    if (this.tokens >= 0) return;
    const waitMs = (-this.tokens / rate) * 1000;
    this.stats.throttleWaitMs += waitMs;
    await sleep(waitMs);
  }
}

function keyOf(job: SnapshotJob): string {
  return `${job.to}/${job.partition}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
