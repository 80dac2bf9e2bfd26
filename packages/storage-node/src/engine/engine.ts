/**
 * The storage engine: LMDB (through `lmdb`) plus an overlay of writes not yet acknowledged.
 *
 * Commands run synchronously on the event loop. A write goes into the overlay at once, so the next
 * command sees it, and into the open batch. At the end of the event-loop turn the batch is flushed
 * as ONE LMDB transaction: the records, the expiry-index changes and each touched partition's
 * counters (sequence, key count), so counters and data can never disagree after a crash.
 *
 * Every batch has an id. With durability `sync` a batch is *acknowledged* when it is fsynced; replies
 * that depend on it (the write itself, or a read that saw an unacknowledged overlay value) carry its
 * id as a ticket and are held until then, so no client ever sees a value that a crash could take
 * back. With durability `async` nothing waits: writes are acknowledged once applied in memory and
 * queued; LMDB commits them within the next event-loop turn and fsyncs right after, so a process
 * crash loses at most the batch being committed and a power loss at most the commits not yet
 * fsynced (docs/durability.md gives the measured window). Overlay entries are dropped once their
 * batch is committed (async) or fsynced (sync) and LMDB serves them.
 *
 * Invariants:
 * - overlay entry for a key ⇒ it is the newest state of that key (LMDB may hold an older one).
 * - batches commit in id order; acknowledgedBatchId only grows.
 * - partitionState[p].keys = number of records stored in partition p (expired or not).
 */
import { open, type Database, type RootDatabase } from 'lmdb';
import { keyHashSlot, partitionOfSlot, slotRangeOfPartition } from '@ballast/cluster';
import {
  dataKey,
  expiryIndexKey,
  expiryIndexUpperBound,
  parseExpiryIndexKey,
  slotOfDataKey,
  slotRangeEndKey,
  slotStartKey,
} from './key-layout.js';
import { expireAtOfRecord } from './record.js';
import { RecordCache } from './record-cache.js';

export type Durability = 'sync' | 'async';

export interface EngineOptions {
  path: string;
  durability: Durability;
  /** Partition count for a new data directory; an existing one keeps its own. */
  partitionCount: number;
  /** Called when LMDB fails to commit: the process must stop (it recovers from disk on restart). */
  onFatal: (error: Error) => void;
  /** Byte budget of the in-memory cache of hot records (0 disables it). */
  cacheBytes?: number;
}

/** A key resolved once per command: slot, partition, LMDB key, and its state as last read. */
export interface KeyRef {
  readonly key: Buffer;
  readonly slot: number;
  readonly partition: number;
  readonly dbKey: Buffer;
  readonly overlayKey: string;
}

interface OverlayEntry {
  readonly dbKey: Buffer;
  /** The record, or null for a deleted key. */
  readonly record: Buffer | null;
  readonly batchId: number;
}

interface Batch {
  readonly id: number;
  /** Final state per key in this batch (later writes to a key replace earlier ones). */
  readonly records: Map<string, OverlayEntry>;
  /** Expiry index changes: index key (latin1) → key bytes to put, or null to remove. */
  readonly expiryIndex: Map<string, Buffer | null>;
  readonly dirtyPartitions: Set<number>;
  /** FLUSHALL happened in this batch: clear both databases before applying `records`. */
  clearAll: boolean;
  /** Committed (async) or flushed (sync): may be acknowledged once every earlier batch is. */
  durable: boolean;
}

export interface PartitionState {
  /** Mutations applied to this partition, ever (the per-partition update counter). */
  sequence: number;
  /** Replication term under which the last mutation was made (0 on a standalone node). */
  term: number;
  keys: number;
  keysWithExpiry: number;
}

export interface EngineStats {
  batchesCommitted: number;
  recordsWritten: number;
  overlayEntries: number;
  acknowledgedBatchId: number;
  lastCommitDurationMs: number;
  cacheEntries: number;
  cacheHits: number;
  cacheMisses: number;
}

const META_FORMAT_KEY = Buffer.from('format');
const FORMAT_VERSION = 1;
const EMPTY_VALUE = Buffer.alloc(0);
const PARTITION_STATE_BYTES = 32;

export class Engine {
  readonly partitionCount: number;
  readonly durability: Durability;
  private readonly env: RootDatabase;
  private readonly data: Database<Buffer, Buffer>;
  private readonly expiries: Database<Buffer, Buffer>;
  private readonly meta: Database<Buffer, Buffer>;
  private readonly overlay = new Map<string, OverlayEntry>();
  private readonly cache: RecordCache;
  /** Batches handed to LMDB and not yet committed; a new batch waits while one is committing. */
  private committing = 0;
  private flushWhenCommitted = false;
  private readonly partitions: PartitionState[];
  private openBatch: Batch;
  private flushScheduled = false;
  private committedBatchId = 0;
  /** The previous batch's commit and flush, so a batch with nothing to write is acknowledged after it. */
  private previousCommitted: Promise<unknown> = Promise.resolve();
  private previousFlushed: Promise<unknown> = Promise.resolve();
  /** Batches handed to LMDB and not yet acknowledged, oldest first. */
  private readonly inFlight: Batch[] = [];
  private acknowledgedBatchIdValue = 0;
  /** Id of the newest batch with a FLUSHALL; until it commits, LMDB's contents are stale. */
  private clearAllBatchId = 0;
  private readonly acknowledgeListeners: Array<(batchId: number) => void> = [];
  private readonly commitObservers: Array<(durationMs: number, records: number) => void> = [];
  private closed = false;
  private readonly statsValue: EngineStats = {
    batchesCommitted: 0,
    recordsWritten: 0,
    overlayEntries: 0,
    acknowledgedBatchId: 0,
    lastCommitDurationMs: 0,
    cacheEntries: 0,
    cacheHits: 0,
    cacheMisses: 0,
  };

  private constructor(
    private readonly options: EngineOptions,
    env: RootDatabase,
    partitionCount: number,
  ) {
    this.env = env;
    this.durability = options.durability;
    this.partitionCount = partitionCount;
    this.cache = new RecordCache(options.cacheBytes ?? 0);
    this.data = env.openDB<Buffer, Buffer>({ name: 'data', keyEncoding: 'binary', encoding: 'binary' });
    this.expiries = env.openDB<Buffer, Buffer>({ name: 'expiries', keyEncoding: 'binary', encoding: 'binary' });
    this.meta = env.openDB<Buffer, Buffer>({ name: 'meta', keyEncoding: 'binary', encoding: 'binary' });
    this.partitions = [];
    for (let partition = 0; partition < partitionCount; partition++) {
      this.partitions.push(this.readPartitionState(partition));
    }
    this.openBatch = newBatch(1);
  }

  /** Opens (or creates) the data directory. Reads only per-partition counters: no replay. */
  static open(options: EngineOptions): Engine {
    const env = open({
      path: options.path,
      // Commits become visible first and durable (fdatasync) just after, off the main thread;
      // `flushed` tells us when. After a process crash the last committed transaction is used; after
      // an OS crash or power loss, the last flushed one.
      overlappingSync: true,
      separateFlushed: true,
      maxDbs: 8,
      keyEncoding: 'binary',
      encoding: 'binary',
    });
    const meta = env.openDB<Buffer, Buffer>({ name: 'meta', keyEncoding: 'binary', encoding: 'binary' });
    const formatRecord = meta.getBinary(META_FORMAT_KEY);
    let partitionCount = options.partitionCount;
    if (formatRecord === undefined) {
      const format = { version: FORMAT_VERSION, partitionCount };
      meta.putSync(META_FORMAT_KEY, Buffer.from(JSON.stringify(format)));
    } else {
      const format = JSON.parse(formatRecord.toString('utf8')) as { version: number; partitionCount: number };
      if (format.version !== FORMAT_VERSION) {
        throw new Error(`data directory format ${format.version} is not supported (expected ${FORMAT_VERSION})`);
      }
      partitionCount = format.partitionCount;
    }
    return new Engine(options, env, partitionCount);
  }

  /** Resolves a key: computes its slot, partition and LMDB key once for the whole command. */
  ref(key: Buffer): KeyRef {
    const slot = keyHashSlot(key);
    const dbKey = dataKey(key, slot);
    return {
      key,
      slot,
      partition: partitionOfSlot(slot, this.partitionCount),
      dbKey,
      overlayKey: dbKey.toString('latin1', 0, dbKey.length),
    };
  }

  /** The raw record (expired or not) and the batch that must be acknowledged before it is shown. */
  lookup(ref: KeyRef): { record: Buffer | null; ticket: number } {
    const record = this.lookupRecord(ref);
    return { record, ticket: this.lookupTicket };
  }

  /**
   * The ticket of the last `lookupRecord`: the batch that must be acknowledged before the record
   * it returned may be shown (0 = none). A field, not a returned pair, to keep the hot path free of
   * allocations.
   */
  lookupTicket = 0;

  /** Like `lookup`, returning the record and leaving the ticket in `lookupTicket`. */
  lookupRecord(ref: KeyRef): Buffer | null {
    const entry = this.overlay.get(ref.overlayKey);
    if (entry !== undefined) {
      this.lookupTicket = this.ticketFor(entry.batchId);
      return entry.record;
    }
    if (this.clearAllBatchId > this.committedBatchId) {
      this.lookupTicket = this.ticketFor(this.clearAllBatchId);
      return null;
    }
    const cached = this.cache.get(ref.overlayKey);
    if (cached !== undefined) {
      this.lookupTicket = 0;
      return cached;
    }
    const record = this.data.getBinary(ref.dbKey);
    if (record !== undefined) {
      this.cache.set(ref.overlayKey, record);
      this.lookupTicket = 0;
      return record;
    }
    // Absent because of a FLUSHALL that is committed but not yet acknowledged (fsynced): the
    // reply must wait for it like any other reply that depends on that batch.
    this.lookupTicket = this.ticketFor(this.clearAllBatchId);
    return null;
  }

  /** The ticket a reply depending on batch `batchId` must wait for: 0 when nothing to wait for. */
  private ticketFor(batchId: number): number {
    return this.durability === 'async' || batchId <= this.acknowledgedBatchIdValue ? 0 : batchId;
  }

  /**
   * Replaces the key's record (null deletes it). Returns the ticket the reply must wait for.
   */
  write(ref: KeyRef, record: Buffer | null): number {
    const previous = this.lookupRecord(ref);
    if (previous === null && record === null) return 0;
    const batch = this.openBatch;
    const entry: OverlayEntry = { dbKey: ref.dbKey, record, batchId: batch.id };
    this.overlay.set(ref.overlayKey, entry);
    this.cache.delete(ref.overlayKey);
    batch.records.set(ref.overlayKey, entry);

    const state = this.partitions[ref.partition]!;
    state.sequence++;
    if (previous === null) state.keys++;
    else if (record === null) state.keys--;
    const previousExpireAt = previous === null ? 0 : expireAtOfRecord(previous);
    const expireAt = record === null ? 0 : expireAtOfRecord(record);
    if (previousExpireAt !== expireAt) {
      if (previousExpireAt !== 0) {
        state.keysWithExpiry--;
        batch.expiryIndex.set(expiryIndexKey(previousExpireAt, ref.dbKey).toString('latin1'), null);
      }
      if (expireAt !== 0) {
        state.keysWithExpiry++;
        batch.expiryIndex.set(expiryIndexKey(expireAt, ref.dbKey).toString('latin1'), EMPTY_VALUE);
      }
    }
    batch.dirtyPartitions.add(ref.partition);
    this.scheduleFlush();
    return this.ticketFor(batch.id);
  }

  /** Deletes every key (FLUSHALL). Returns the batch id to wait for. */
  clearAll(): number {
    const batch = this.openBatch;
    for (const key of batch.records.keys()) this.overlay.delete(key);
    batch.records.clear();
    batch.expiryIndex.clear();
    batch.clearAll = true;
    // Older overlay entries would shadow the clear; replace them all by the "cleared" view.
    this.overlay.clear();
    this.cache.clear();
    this.clearAllBatchId = batch.id;
    for (let partition = 0; partition < this.partitionCount; partition++) {
      const state = this.partitions[partition]!;
      state.sequence++;
      state.keys = 0;
      state.keysWithExpiry = 0;
      batch.dirtyPartitions.add(partition);
    }
    this.scheduleFlush();
    return this.ticketFor(batch.id);
  }

  /** The id of the batch now collecting writes. */
  get openBatchId(): number {
    return this.openBatch.id;
  }

  get acknowledgedBatchId(): number {
    return this.acknowledgedBatchIdValue;
  }

  /** Registers a listener called (with the batch id) each time a batch is acknowledged. */
  onAcknowledged(listener: (batchId: number) => void): void {
    this.acknowledgeListeners.push(listener);
  }

  /** Registers an observer of each commit's duration (ms) and record count, for metrics. */
  onCommit(observer: (durationMs: number, records: number) => void): void {
    this.commitObservers.push(observer);
  }

  partitionState(partition: number): Readonly<PartitionState> {
    return this.partitions[partition]!;
  }

  keyCount(): number {
    let total = 0;
    for (const state of this.partitions) total += state.keys;
    return total;
  }

  keysWithExpiryCount(): number {
    let total = 0;
    for (const state of this.partitions) total += state.keysWithExpiry;
    return total;
  }

  stats(): Readonly<EngineStats> {
    this.statsValue.overlayEntries = this.overlay.size;
    this.statsValue.acknowledgedBatchId = this.acknowledgedBatchIdValue;
    this.statsValue.cacheEntries = this.cache.entries;
    this.statsValue.cacheHits = this.cache.hits;
    this.statsValue.cacheMisses = this.cache.misses;
    return this.statsValue;
  }

  /**
   * Up to `limit` keys in data-key order starting at `startKey` (inclusive) and before `endKey`,
   * merged with the overlay, as [dbKey, record] pairs. Deleted keys are skipped; expired ones are
   * included (the caller decides). `ticket` is the batch a reply must wait for. When `extendWhile`
   * is given, keys past the limit are still returned while it says they belong with the last one.
   */
  scan(
    startKey: Buffer,
    endKey: Buffer,
    limit: number,
    extendWhile?: (last: Buffer, next: Buffer) => boolean,
  ): { entries: Array<[Buffer, Buffer]>; next: Buffer | null; ticket: number } {
    let ticket = 0;
    const pending: Array<[Buffer, OverlayEntry]> = [];
    for (const [overlayKey, entry] of this.overlay) {
      const dbKey = Buffer.from(overlayKey, 'latin1');
      if (Buffer.compare(dbKey, startKey) >= 0 && Buffer.compare(dbKey, endKey) < 0) pending.push([dbKey, entry]);
    }
    pending.sort((a, b) => Buffer.compare(a[0], b[0]));
    const entries: Array<[Buffer, Buffer]> = [];
    let pendingIndex = 0;
    const lmdbIsStale = this.clearAllBatchId > this.committedBatchId;
    // Whether LMDB is stale or has committed the clear, what a scan shows depends on the FLUSHALL
    // until it is acknowledged.
    ticket = this.ticketFor(this.clearAllBatchId);
    const iterator = lmdbIsStale
      ? ([] as Array<{ key: Buffer; value: Buffer }>)[Symbol.iterator]()
      : this.data.getRange({ start: startKey, end: endKey })[Symbol.iterator]();
    let lmdbNext = iterator.next();
    let next: Buffer | null = null;
    try {
      while (true) {
        let candidateKey: Buffer;
        let candidateRecord: Buffer | null;
        const overlayHead = pending[pendingIndex];
        const lmdbHead = lmdbNext.done ? undefined : lmdbNext.value;
        if (overlayHead === undefined && lmdbHead === undefined) break;
        const order =
          overlayHead === undefined ? 1 : lmdbHead === undefined ? -1 : Buffer.compare(overlayHead[0], lmdbHead.key);
        if (order <= 0) {
          candidateKey = overlayHead![0];
          candidateRecord = overlayHead![1].record;
          ticket = Math.max(ticket, this.ticketFor(overlayHead![1].batchId));
          pendingIndex++;
          if (order === 0) lmdbNext = iterator.next();
        } else {
          candidateKey = Buffer.from(lmdbHead!.key);
          candidateRecord = this.overlay.has(candidateKey.toString('latin1')) ? null : Buffer.from(lmdbHead!.value);
          lmdbNext = iterator.next();
          // A key deleted in the overlay shows up here only when sorting missed it; skip it.
        }
        if (candidateRecord === null) continue;
        if (entries.length >= limit) {
          const last = entries[entries.length - 1]![0];
          if (extendWhile === undefined || !extendWhile(last, candidateKey)) {
            next = candidateKey;
            break;
          }
        }
        entries.push([candidateKey, candidateRecord]);
      }
    } finally {
      iterator.return?.();
    }
    return { entries, next, ticket };
  }

  /** Number of keys stored in a slot (expired or not), for CLUSTER COUNTKEYSINSLOT. */
  countKeysInSlot(slot: number): number {
    return this.scan(slotStartKey(slot), slotRangeEndKey(slot), Number.MAX_SAFE_INTEGER).entries.length;
  }

  /**
   * Removes up to `limit` keys whose expiry time is ≤ nowMs. Returns how many were removed.
   * Bounded work: reads at most `limit * 2` index entries.
   */
  removeExpired(nowMs: number, limit: number): { removed: number; refs: KeyRef[] } {
    if (this.clearAllBatchId > this.committedBatchId) return { removed: 0, refs: [] };
    const refs: KeyRef[] = [];
    let removed = 0;
    const batch = this.openBatch;
    for (const { key: indexKey } of this.expiries.getRange({ end: expiryIndexUpperBound(nowMs), limit: limit * 2 })) {
      if (removed >= limit) break;
      const { expireAtMs, dbKey } = parseExpiryIndexKey(Buffer.from(indexKey));
      const key = Buffer.from(dbKey.subarray(6));
      const slot = slotOfDataKey(dbKey);
      const overlayKey = dbKey.toString('latin1');
      const ref: KeyRef = {
        key,
        slot,
        partition: partitionOfSlot(slot, this.partitionCount),
        dbKey: Buffer.from(dbKey),
        overlayKey,
      };
      const { record } = this.lookup(ref);
      if (record !== null && expireAtOfRecord(record) === expireAtMs && expireAtMs <= nowMs) {
        this.write(ref, null);
        refs.push(ref);
        removed++;
      } else if (record === null || expireAtOfRecord(record) !== expireAtMs) {
        // An index entry that no longer matches its record (should not happen; repaired here).
        if (!batch.expiryIndex.has(indexKey.toString('latin1'))) {
          batch.expiryIndex.set(Buffer.from(indexKey).toString('latin1'), null);
          this.scheduleFlush();
        }
      }
    }
    return { removed, refs };
  }

  /** Slot range of a partition, for partition-scoped scans. */
  partitionKeyRange(partition: number): { start: Buffer; end: Buffer } {
    const { first, last } = slotRangeOfPartition(partition, this.partitionCount);
    return { start: slotStartKey(first), end: slotRangeEndKey(last) };
  }

  /** Recounts keys from LMDB and compares with the persisted counters (for tests and `verify`). */
  verifyCounters(): Array<{ partition: number; counted: number; recorded: number }> {
    const mismatches: Array<{ partition: number; counted: number; recorded: number }> = [];
    for (let partition = 0; partition < this.partitionCount; partition++) {
      const { start, end } = this.partitionKeyRange(partition);
      const counted = this.data.getKeysCount({ start, end });
      const recorded = this.readPartitionState(partition).keys;
      if (counted !== recorded) mismatches.push({ partition, counted, recorded });
    }
    return mismatches;
  }

  /** Writes what is pending, waits until it is acknowledged, and closes LMDB. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.openBatch.records.size > 0 || this.openBatch.clearAll || this.openBatch.expiryIndex.size > 0) {
      this.flush();
    }
    this.closed = true;
    await this.env.flushed;
    await this.env.close();
  }

  /**
   * Group commit: the open batch is handed to LMDB at the end of this event-loop turn, or, while
   * an earlier batch is still committing, as soon as that commit completes; writes meanwhile join
   * the open batch. Batches grow with load, so commits (and fsyncs) per write fall as load rises.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    if (this.committing > 0) {
      this.flushWhenCommitted = true;
      return;
    }
    this.flushScheduled = true;
    setImmediate(this.flushBound);
  }

  private readonly flushBound = (): void => {
    this.flushScheduled = false;
    if (!this.closed) this.flush();
  };

  /** Hands the open batch to LMDB as one transaction and opens the next batch. */
  private flush(): void {
    const batch = this.openBatch;
    this.openBatch = newBatch(batch.id + 1);
    const startedMs = performance.now();
    let lastWrite: Promise<boolean> | undefined;
    // Everything below is issued in one synchronous block, so lmdb-js commits it in one transaction.
    if (batch.clearAll) {
      lastWrite = this.data.clearAsync() as unknown as Promise<boolean>;
      this.expiries.clearAsync();
    }
    for (const entry of batch.records.values()) {
      const dbKey = entry.dbKey;
      lastWrite = entry.record === null ? this.data.remove(dbKey) : this.data.put(dbKey, entry.record);
    }
    for (const [indexKey, value] of batch.expiryIndex) {
      const key = Buffer.from(indexKey, 'latin1');
      lastWrite = value === null ? this.expiries.remove(key) : this.expiries.put(key, value);
    }
    for (const partition of batch.dirtyPartitions) {
      lastWrite = this.meta.put(partitionStateKey(partition), encodePartitionState(this.partitions[partition]!));
    }
    let committed: Promise<unknown>;
    let flushed: Promise<unknown>;
    if (lastWrite === undefined) {
      // Nothing to write. It is still acknowledged only after the batch before it: acknowledging
      // it now would raise acknowledgedBatchId past a batch that is not yet durable.
      committed = this.previousCommitted;
      flushed = this.previousFlushed;
    } else {
      this.statsValue.recordsWritten += batch.records.size;
      this.committing++;
      committed = lastWrite.then((result) => {
        this.committing--;
        return result;
      });
      flushed = Promise.resolve((lastWrite as Promise<boolean> & { flushed?: Promise<void> }).flushed ?? this.env.flushed);
    }
    this.previousCommitted = committed;
    this.previousFlushed = flushed;
    this.inFlight.push(batch);
    committed.then(
      () => this.onBatchCommitted(batch, startedMs),
      (error: unknown) => this.options.onFatal(new Error('LMDB commit failed', { cause: error })),
    );
    flushed.then(
      () => this.onBatchFlushed(batch),
      (error: unknown) => this.options.onFatal(new Error('LMDB flush failed', { cause: error })),
    );
  }

  private onBatchCommitted(batch: Batch, startedMs: number): void {
    if (batch.id > this.committedBatchId) this.committedBatchId = batch.id;
    if (this.flushWhenCommitted && this.committing === 0) {
      this.flushWhenCommitted = false;
      this.scheduleFlush();
    }
    this.statsValue.batchesCommitted++;
    const durationMs = performance.now() - startedMs;
    this.statsValue.lastCommitDurationMs = durationMs;
    for (const observer of this.commitObservers) observer(durationMs, batch.records.size);
    if (this.durability === 'async') this.markDurable(batch);
  }

  private onBatchFlushed(batch: Batch): void {
    if (this.durability === 'sync') this.markDurable(batch);
  }

  /**
   * Acknowledges batches strictly in id order, whatever order LMDB reports them in: a batch is
   * acknowledged only once it and every earlier batch are durable, and every batch is acknowledged
   * exactly once (so its overlay entries are always released).
   */
  private markDurable(batch: Batch): void {
    batch.durable = true;
    while (this.inFlight.length > 0 && this.inFlight[0]!.durable) this.acknowledge(this.inFlight.shift()!);
  }

  private acknowledge(batch: Batch): void {
    this.acknowledgedBatchIdValue = batch.id;
    // lmdb-js keeps a read snapshot until a timer renews it. Before the overlay stops shadowing
    // these keys, reads must see the commit, or a read-modify-write could start from a stale
    // record (found by the crash-safety test: an HSET after a DEL resurrected old fields).
    this.data.resetReadTxn();
    for (const [overlayKey, entry] of batch.records) {
      if (this.overlay.get(overlayKey) !== entry) continue;
      this.overlay.delete(overlayKey);
      // The cache is filled by reads only: most written records are not read before they change.
    }
    for (const listener of this.acknowledgeListeners) listener(batch.id);
  }

  private readPartitionState(partition: number): PartitionState {
    const stored = this.meta.getBinary(partitionStateKey(partition));
    if (stored === undefined) return { sequence: 0, term: 0, keys: 0, keysWithExpiry: 0 };
    return {
      sequence: stored.readDoubleLE(0),
      term: stored.readDoubleLE(8),
      keys: stored.readDoubleLE(16),
      keysWithExpiry: stored.readDoubleLE(24),
    };
  }
}

function newBatch(id: number): Batch {
  return { id, records: new Map(), expiryIndex: new Map(), dirtyPartitions: new Set(), clearAll: false, durable: false };
}

function partitionStateKey(partition: number): Buffer {
  const key = Buffer.allocUnsafe(3);
  key[0] = 0x70; // 'p'
  key.writeUInt16BE(partition, 1);
  return key;
}

function encodePartitionState(state: PartitionState): Buffer {
  const encoded = Buffer.allocUnsafe(PARTITION_STATE_BYTES);
  encoded.writeDoubleLE(state.sequence, 0);
  encoded.writeDoubleLE(state.term, 8);
  encoded.writeDoubleLE(state.keys, 16);
  encoded.writeDoubleLE(state.keysWithExpiry, 24);
  return encoded;
}
