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
  DATA_KEY_PREFIX_BYTES,
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
  /** Replication log entries kept per partition for catch-up (cluster mode). */
  replicationLogEntries?: number;
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
  readonly partition: number;
  /** The partition sequence number of this mutation. */
  readonly seq: number;
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
  /** Each written partition's sequence when the batch was handed to LMDB. */
  readonly durableSeqs: Map<number, number>;
  /** Committed (async) or flushed (sync): may be acknowledged once every earlier batch is. */
  durable: boolean;
  /** Cluster mode: replication log entries, in order. */
  readonly logEntries: ReplicatedEntry[];
  /** Cluster mode: partitions whose term history changed, and partitions replaced by a snapshot. */
  readonly epochsChanged: Set<number>;
  readonly replaced: Set<number>;
  /** Node metadata to store with this batch (node id, activation history). */
  readonly metaPuts: Map<string, Buffer>;
}

/** A mutation as replicated: the LMDB key and the new record (null = deleted). */
export interface ReplicatedPayload {
  dbKey: Buffer;
  record: Buffer | null;
}

export interface ReplicatedEntry {
  partition: number;
  seq: number;
  term: number;
  payload: ReplicatedPayload;
}

/** A term's start in a partition's history (mirrors @ballast/cluster's Epoch). */
export interface TermEpoch {
  term: number;
  startSeq: number;
}

/** How the cluster layer plugs replication into the engine (cluster mode only). */
export interface ReplicationHooks {
  /** Whether this node leads the partition now (only then may it write: expiry, FLUSHALL). */
  leads(partition: number): boolean;
  /** The term new local writes of a partition are made under (this node leads it). */
  termFor(partition: number): number;
  /** Replication commit point of a partition this node leads; Infinity otherwise (overlay release). */
  committedSeq(partition: number): number;
  /**
   * Whether a reply waiting for `seq` of `partition` may go out: only while this node leads the
   * partition and replication committed the seq. A partition it stopped leading never satisfies a
   * ticket (those clients are disconnected instead: their writes may be lost).
   */
  ticketCommitted(partition: number, seq: number): boolean;
  /** Local writes were appended to a partition (replicate them). */
  onAppend(partition: number): void;
  /** More of a partition became locally durable. */
  onDurable(partition: number): void;
}

/** A consistent copy of one partition as committed in LMDB. */
export interface PartitionSnapshot {
  partition: number;
  seq: number;
  lastTerm: number;
  epochs: TermEpoch[];
  records: Array<[Buffer, Buffer]>;
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
  private readonly replog: Database<Buffer, Buffer>;
  private replication: ReplicationHooks | null = null;
  /** Per partition: highest seq locally durable, term history, recent entries, oldest logged seq. */
  private durableSeqs: number[] = [];
  private termHistories: TermEpoch[][] = [];
  private readonly recentEntries: ReplicatedEntry[][] = [];
  private oldestLoggedSeq: number[] = [];
  /** Cluster mode: overlay entries durable locally but not yet committed by replication. */
  private readonly heldOverlay = new Map<number, OverlayEntry[]>();
  private readonly replicationLogEntriesMax: number;
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
  /** The last storageBytes() figure (reported after close). */
  private storageBytesValue = 0;
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
    this.replog = env.openDB<Buffer, Buffer>({ name: 'replog', keyEncoding: 'binary', encoding: 'binary' });
    this.replicationLogEntriesMax = options.replicationLogEntries ?? 4096;
    this.partitions = [];
    for (let partition = 0; partition < partitionCount; partition++) {
      const state = this.readPartitionState(partition);
      this.partitions.push(state);
      // Whatever LMDB holds after a restart is what survived: it counts as durable.
      this.durableSeqs.push(state.sequence);
      this.termHistories.push(this.readEpochs(partition));
      this.recentEntries.push([]);
      this.oldestLoggedSeq.push(-1);
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
      this.lookupTicket = this.ticketOf(entry);
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
   * The ticket of an overlay entry. Standalone: its batch (durability). Cluster mode: its
   * partition and seq, satisfied once replication committed it (which implies local durability).
   */
  private ticketOf(entry: OverlayEntry): number {
    if (this.replication === null) return this.ticketFor(entry.batchId);
    return this.replication.ticketCommitted(entry.partition, entry.seq) ? 0 : clusterTicket(entry.partition, entry.seq);
  }

  /** Whether the reply holding `ticket` may be released. */
  ticketSatisfied(ticket: number): boolean {
    if (ticket === 0) return true;
    if (this.replication === null) return ticket <= this.acknowledgedBatchIdValue;
    const partition = Math.floor(ticket / CLUSTER_TICKET_PARTITION_FACTOR);
    return this.replication.ticketCommitted(partition, ticket - partition * CLUSTER_TICKET_PARTITION_FACTOR);
  }

  /**
   * Replaces the key's record (null deletes it). Returns the ticket the reply must wait for.
   * In cluster mode the write gets the partition's next seq under the term this node leads with.
   */
  write(ref: KeyRef, record: Buffer | null): number {
    const previous = this.lookupRecord(ref);
    if (previous === null && record === null) return 0;
    const replication = this.replication;
    const term = replication === null ? 0 : replication.termFor(ref.partition);
    const entry = this.mutate(ref.overlayKey, ref.dbKey, ref.partition, previous, record, term);
    if (replication !== null) replication.onAppend(ref.partition);
    return replication === null ? this.ticketFor(entry.batchId) : clusterTicket(entry.partition, entry.seq);
  }

  /** The seq of the last write made by `write` (cluster mode: what WAIT waits for). */
  lastWriteSeq = 0;

  private mutate(
    overlayKey: string,
    dbKey: Buffer,
    partition: number,
    previous: Buffer | null,
    record: Buffer | null,
    term: number,
  ): OverlayEntry {
    const batch = this.openBatch;
    const state = this.partitions[partition]!;
    state.sequence++;
    const entry: OverlayEntry = { dbKey, partition, seq: state.sequence, record, batchId: batch.id };
    this.lastWriteSeq = entry.seq;
    this.overlay.set(overlayKey, entry);
    this.cache.delete(overlayKey);
    batch.records.set(overlayKey, entry);
    if (this.replication !== null) {
      if (term !== state.term || this.termHistories[partition]!.length === 0) {
        const history = this.termHistories[partition]!;
        if (history.at(-1)?.term !== term) history.push({ term, startSeq: entry.seq });
        batch.epochsChanged.add(partition);
      }
      const logged: ReplicatedEntry = { partition, seq: entry.seq, term, payload: { dbKey, record } };
      batch.logEntries.push(logged);
      const recent = this.recentEntries[partition]!;
      recent.push(logged);
      // Trimmed in halves, not one entry per write: a splice at the front moves the whole array.
      if (recent.length > RECENT_ENTRIES_MAX * 2) recent.splice(0, recent.length - RECENT_ENTRIES_MAX);
    }
    state.term = term;
    if (this.replication !== null && this.durability === 'async' && entry.seq > this.durableSeqs[partition]!) {
      // Durability async: a replica acknowledges what it has applied (as a Redis replica does);
      // LMDB commits it within the turn and fsyncs right after (docs/durability.md).
      this.durableSeqs[partition] = entry.seq;
      this.asyncDurablePartitions.add(partition);
      if (!this.asyncDurableScheduled) {
        this.asyncDurableScheduled = true;
        queueMicrotask(() => {
          this.asyncDurableScheduled = false;
          const partitions = [...this.asyncDurablePartitions];
          this.asyncDurablePartitions.clear();
          for (const dirty of partitions) this.replication?.onDurable(dirty);
        });
      }
    }
    this.account(batch, state, dbKey, previous, record);
    batch.dirtyPartitions.add(partition);
    this.scheduleFlush();
    return entry;
  }

  // --- Cluster mode -----------------------------------------------------------------------------

  /** Whether this node may write to a partition: always standalone; when leading it in cluster mode. */
  mayWrite(partition: number): boolean {
    return this.replication === null || this.replication.leads(partition);
  }

  get clusterMode(): boolean {
    return this.replication !== null;
  }

  /** Turns on cluster mode: writes get seqs and terms and are logged for replication. */
  setReplication(hooks: ReplicationHooks): void {
    this.replication = hooks;
  }

  /** A KeyRef for a stored key (replicated entries and snapshots carry LMDB keys). */
  refOfDataKey(dbKey: Buffer): KeyRef {
    const slot = slotOfDataKey(dbKey);
    return {
      key: dbKey.subarray(DATA_KEY_PREFIX_BYTES),
      slot,
      partition: partitionOfSlot(slot, this.partitionCount),
      dbKey,
      overlayKey: dbKey.toString('latin1'),
    };
  }

  /** Backup side: applies entries received from the primary, in seq order. */
  applyReplicated(partition: number, entries: ReadonlyArray<{ seq: number; term: number; payload: unknown }>): void {
    for (const entry of entries) {
      const state = this.partitions[partition]!;
      if (entry.seq !== state.sequence + 1) {
        throw new Error(`replicated seq ${entry.seq} does not follow ${state.sequence} in partition ${partition}`);
      }
      const { dbKey, record } = entry.payload as ReplicatedPayload;
      const ref = this.refOfDataKey(Buffer.from(dbKey));
      if (ref.partition !== partition) throw new Error(`replicated key of partition ${ref.partition} sent for ${partition}`);
      const previous = this.lookupRecord(ref);
      this.mutate(ref.overlayKey, ref.dbKey, partition, previous, record === null ? null : Buffer.from(record), entry.term);
    }
  }

  lastSeq(partition: number): number {
    return this.partitions[partition]!.sequence;
  }

  lastTerm(partition: number): number {
    return this.partitions[partition]!.term;
  }

  durableSeq(partition: number): number {
    return this.durableSeqs[partition]!;
  }

  epochs(partition: number): readonly TermEpoch[] {
    return this.termHistories[partition]!;
  }

  /**
   * Logged entries from `fromSeq` on (for catch-up), or null when the log no longer reaches back
   * that far. Recent entries come from memory, older ones from the replication log in LMDB.
   */
  readLog(partition: number, fromSeq: number, maxEntries: number, maxBytes: number): ReplicatedEntry[] | null {
    const last = this.partitions[partition]!.sequence;
    if (fromSeq > last) return [];
    const recent = this.recentEntries[partition]!;
    const out: ReplicatedEntry[] = [];
    let bytes = 0;
    if (recent.length > 0 && recent[0]!.seq <= fromSeq) {
      for (let i = fromSeq - recent[0]!.seq; i < recent.length && out.length < maxEntries && bytes < maxBytes; i++) {
        const entry = recent[i]!;
        out.push(entry);
        bytes += entryBytes(entry);
      }
      return out;
    }
    for (const { key, value } of this.replog.getRange({ start: replogKey(partition, fromSeq), end: replogKey(partition + 1, 0) })) {
      const seq = Number(Buffer.from(key).readBigUInt64BE(2));
      if (out.length === 0 && seq !== fromSeq) return null;
      if (out.length >= maxEntries || bytes >= maxBytes) break;
      const entry = decodeReplogValue(partition, seq, Buffer.from(value));
      out.push(entry);
      bytes += entryBytes(entry);
    }
    if (out.length === 0) return null;
    return out;
  }

  /** Overlay entries of partitions this node leads stay until replication commits them. */
  onCommitted(partition: number, committedSeq: number): void {
    const held = this.heldOverlay.get(partition);
    if (held === undefined) return;
    const kept = held.filter((entry) => {
      if (entry.seq > committedSeq) return true;
      this.dropOverlayEntry(entry);
      return false;
    });
    if (kept.length === 0) this.heldOverlay.delete(partition);
    else this.heldOverlay.set(partition, kept);
  }

  /** Stops holding overlay entries of a partition (this node no longer leads it). */
  releaseHeld(partition: number): void {
    this.onCommitted(partition, Infinity);
  }

  private dropOverlayEntry(entry: OverlayEntry): void {
    const overlayKey = entry.dbKey.toString('latin1');
    if (this.overlay.get(overlayKey) === entry) this.overlay.delete(overlayKey);
  }

  /** A consistent copy of a partition as committed in LMDB (one read snapshot). */
  readSnapshot(partition: number): PartitionSnapshot {
    const stored = this.readPartitionState(partition);
    const epochs = this.readEpochs(partition).filter((epoch) => epoch.startSeq <= stored.sequence);
    const { start, end } = this.partitionKeyRange(partition);
    const records: Array<[Buffer, Buffer]> = [];
    for (const { key, value } of this.data.getRange({ start, end })) records.push([Buffer.from(key), Buffer.from(value)]);
    return { partition, seq: stored.sequence, lastTerm: stored.term, epochs, records };
  }

  /**
   * Backup side: replaces a partition's data, log and history with a snapshot, in one batch.
   * Returns the batch id; the copy is durable once that batch is acknowledged.
   */
  replacePartition(snapshot: PartitionSnapshot): number {
    const partition = snapshot.partition;
    const batch = this.openBatch;
    const { start, end } = this.partitionKeyRange(partition);
    const state = this.partitions[partition]!;
    const existing = new Map<string, Buffer>();
    if (state.keysWithExpiry === 0) {
      // No stored record has an expiry: the old values matter only as "present", so only the keys
      // are read (a partition of large values is replaced or dropped without copying them).
      for (const key of this.data.getKeys({ start, end })) existing.set(Buffer.from(key as Buffer).toString('latin1'), NO_EXPIRY_RECORD);
    } else {
      for (const { key, value } of this.data.getRange({ start, end })) existing.set(Buffer.from(key).toString('latin1'), Buffer.from(value));
    }
    for (const [overlayKey, entry] of this.overlay) {
      if (entry.partition !== partition) continue;
      if (entry.record === null) existing.delete(overlayKey);
      else existing.set(overlayKey, entry.record);
    }
    const incoming = new Map(snapshot.records.map(([dbKey, record]) => [dbKey.toString('latin1'), record]));
    for (const [overlayKey, record] of existing) {
      if (incoming.has(overlayKey)) continue;
      this.setDirect(batch, overlayKey, record, null, partition);
    }
    for (const [overlayKey, record] of incoming) this.setDirect(batch, overlayKey, existing.get(overlayKey) ?? null, record, partition);
    this.heldOverlay.delete(partition);
    state.sequence = snapshot.seq;
    state.term = snapshot.lastTerm;
    this.termHistories[partition] = snapshot.epochs.map((epoch) => ({ ...epoch }));
    this.recentEntries[partition] = [];
    this.oldestLoggedSeq[partition] = snapshot.seq + 1;
    batch.replaced.add(partition);
    batch.epochsChanged.add(partition);
    batch.dirtyPartitions.add(partition);
    this.scheduleFlush();
    return batch.id;
  }

  /**
   * Deletes this node's copy of a partition it no longer holds (a completed move): data, log and
   * history, as an empty snapshot at seq 0. Returns the batch id.
   */
  dropPartition(partition: number): number {
    return this.replacePartition({ partition, seq: 0, lastTerm: 0, epochs: [], records: [] });
  }

  /** Whether this node holds anything of a partition (records or history). */
  holdsPartition(partition: number): boolean {
    const state = this.partitions[partition]!;
    return state.sequence > 0 || state.keys > 0;
  }

  /** Keeps a partition's key counters and the expiry index exact for one record change. */
  private account(batch: Batch, state: PartitionState, dbKey: Buffer, previous: Buffer | null, record: Buffer | null): void {
    if (previous === null && record !== null) state.keys++;
    else if (previous !== null && record === null) state.keys--;
    const previousExpireAt = previous === null ? 0 : expireAtOfRecord(previous);
    const expireAt = record === null ? 0 : expireAtOfRecord(record);
    if (previousExpireAt !== expireAt) {
      if (previousExpireAt !== 0) {
        state.keysWithExpiry--;
        batch.expiryIndex.set(expiryIndexKey(previousExpireAt, dbKey).toString('latin1'), null);
      }
      if (expireAt !== 0) {
        state.keysWithExpiry++;
        batch.expiryIndex.set(expiryIndexKey(expireAt, dbKey).toString('latin1'), EMPTY_VALUE);
      }
    }
  }

  /** A record change outside the log (snapshot install): counters and expiry index kept exact. */
  private setDirect(batch: Batch, overlayKey: string, previous: Buffer | null, record: Buffer | null, partition: number): void {
    const dbKey = Buffer.from(overlayKey, 'latin1');
    const state = this.partitions[partition]!;
    const entry: OverlayEntry = { dbKey, partition, seq: 0, record, batchId: batch.id };
    this.overlay.set(overlayKey, entry);
    this.cache.delete(overlayKey);
    batch.records.set(overlayKey, entry);
    this.account(batch, state, dbKey, previous, record);
  }

  /** Node metadata (node id, activation history), as last stored or queued. */
  getMeta(name: string): Buffer | undefined {
    return this.pendingMeta.get(name) ?? this.meta.getBinary(nodeMetaKey(name));
  }

  /** Stores node metadata with the next batch (in order with data writes). Returns its batch id. */
  putMeta(name: string, value: Buffer): number {
    this.openBatch.metaPuts.set(name, value);
    this.pendingMeta.set(name, value);
    this.scheduleFlush();
    return this.openBatch.id;
  }

  private readonly pendingMeta = new Map<string, Buffer>();
  private readonly asyncDurablePartitions = new Set<number>();
  private asyncDurableScheduled = false;

  private readEpochs(partition: number): TermEpoch[] {
    const stored = this.meta.getBinary(epochsKey(partition));
    return stored === undefined ? [] : (JSON.parse(stored.toString('utf8')) as TermEpoch[]);
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

  /**
   * Bytes of the LMDB data file in use: the pages of every B+tree (data, expiries, meta,
   * replication log, and LMDB's main and free-list trees, branch + leaf + overflow pages) × the
   * page size, from LMDB's own statistics. Pages freed and awaiting reuse are not counted, so the
   * data file is at least this large. After close, the last figure.
   */
  storageBytes(): number {
    if (this.closed) return this.storageBytesValue;
    const root = this.env.getStats() as LmdbStats & { free: LmdbStats };
    let pages = pagesOf(root) + pagesOf(root.free);
    for (const db of [this.data, this.expiries, this.meta, this.replog]) pages += pagesOf(db.getStats() as LmdbStats);
    this.storageBytesValue = pages * root.pageSize;
    return this.storageBytesValue;
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
      if (!this.mayWrite(ref.partition)) continue;
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
    const open = this.openBatch;
    if (open.records.size > 0 || open.clearAll || open.expiryIndex.size > 0 || open.metaPuts.size > 0 || open.logEntries.length > 0) {
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
    for (const partition of batch.replaced) {
      // A snapshot replaces the partition's history: its old log entries must not be served.
      for (const { key } of this.replog.getRange({ start: replogKey(partition, 0), end: replogKey(partition + 1, 0) })) {
        lastWrite = this.replog.remove(Buffer.from(key));
      }
    }
    for (const entry of batch.logEntries) {
      lastWrite = this.replog.put(replogKey(entry.partition, entry.seq), encodeReplogValue(entry));
    }
    for (const [name, value] of batch.metaPuts) lastWrite = this.meta.put(nodeMetaKey(name), value);
    for (const partition of batch.epochsChanged) {
      lastWrite = this.meta.put(epochsKey(partition), Buffer.from(JSON.stringify(this.termHistories[partition])));
    }
    for (const partition of batch.dirtyPartitions) {
      lastWrite = this.meta.put(partitionStateKey(partition), encodePartitionState(this.partitions[partition]!));
      if (this.replication !== null) lastWrite = this.trimLog(partition) ?? lastWrite;
    }
    for (const partition of batch.dirtyPartitions) batch.durableSeqs.set(partition, this.partitions[partition]!.sequence);
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

  /** Deletes the oldest replication log entries beyond the window (a bounded number per batch). */
  private trimLog(partition: number): Promise<boolean> | undefined {
    const keepFrom = this.partitions[partition]!.sequence - this.replicationLogEntriesMax + 1;
    if (keepFrom <= 1) return undefined;
    if (this.oldestLoggedSeq[partition]! < 0) {
      let first: number | null = null;
      for (const key of this.replog.getKeys({ start: replogKey(partition, 0), end: replogKey(partition + 1, 0), limit: 1 })) {
        first = Number(Buffer.from(key).readBigUInt64BE(2));
      }
      this.oldestLoggedSeq[partition] = first ?? keepFrom;
    }
    let oldest = this.oldestLoggedSeq[partition]!;
    let lastWrite: Promise<boolean> | undefined;
    for (let count = 0; oldest < keepFrom && count < TRIM_PER_BATCH; count++, oldest++) {
      lastWrite = this.replog.remove(replogKey(partition, oldest));
    }
    this.oldestLoggedSeq[partition] = oldest;
    return lastWrite;
  }

  private acknowledge(batch: Batch): void {
    this.acknowledgedBatchIdValue = batch.id;
    for (const [partition, seq] of batch.durableSeqs) {
      if (seq > this.durableSeqs[partition]!) this.durableSeqs[partition] = seq;
    }
    // lmdb-js keeps a read snapshot until a timer renews it. Before the overlay stops shadowing
    // these keys, reads must see the commit, or a read-modify-write could start from a stale
    // record (found by the crash-safety test: an HSET after a DEL resurrected old fields).
    this.data.resetReadTxn();
    const replication = this.replication;
    for (const [overlayKey, entry] of batch.records) {
      if (this.overlay.get(overlayKey) !== entry) continue;
      if (replication !== null && entry.seq > replication.committedSeq(entry.partition)) {
        // Durable here, not yet replicated: readers must keep seeing it as pending.
        let held = this.heldOverlay.get(entry.partition);
        if (held === undefined) this.heldOverlay.set(entry.partition, (held = []));
        held.push(entry);
        continue;
      }
      this.overlay.delete(overlayKey);
      // The cache is filled by reads only: most written records are not read before they change.
    }
    if (replication !== null) for (const partition of batch.durableSeqs.keys()) replication.onDurable(partition);
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
  return {
    id,
    records: new Map(),
    expiryIndex: new Map(),
    dirtyPartitions: new Set(),
    clearAll: false,
    durableSeqs: new Map(),
    durable: false,
    logEntries: [],
    epochsChanged: new Set(),
    replaced: new Set(),
    metaPuts: new Map(),
  };
}

/** Cluster tickets: partition × 2^39 + seq (14 + 39 bits stay within a safe integer). */
const CLUSTER_TICKET_PARTITION_FACTOR = 2 ** 39;
/** Entries kept in memory per partition for sending to backups without reading LMDB. */
const RECENT_ENTRIES_MAX = 4096;
/** Stands for a stored record without expiry when only its presence matters (replacePartition). */
const NO_EXPIRY_RECORD: Buffer = (() => {
  const record = Buffer.alloc(9);
  record.writeDoubleLE(0, 1);
  return record;
})();
/** Log entries trimmed per partition per batch (bounds the work one flush does). */
const TRIM_PER_BATCH = 512;

/** The partition of a cluster ticket (0 for standalone batch tickets). */
export function ticketPartition(ticket: number): number {
  return Math.floor(ticket / CLUSTER_TICKET_PARTITION_FACTOR);
}

export function clusterTicket(partition: number, seq: number): number {
  return partition * CLUSTER_TICKET_PARTITION_FACTOR + seq;
}

function replogKey(partition: number, seq: number): Buffer {
  const key = Buffer.allocUnsafe(10);
  key.writeUInt16BE(partition, 0);
  key.writeBigUInt64BE(BigInt(seq), 2);
  return key;
}

function nodeMetaKey(name: string): Buffer {
  return Buffer.from(`n:${name}`, 'utf8');
}

function epochsKey(partition: number): Buffer {
  const key = Buffer.allocUnsafe(3);
  key[0] = 0x65; // 'e'
  key.writeUInt16BE(partition, 1);
  return key;
}

/** Replication log value: term u32, key length u16, key, then the record (absent = deleted, flag byte). */
function encodeReplogValue(entry: ReplicatedEntry): Buffer {
  const { dbKey, record } = entry.payload;
  const value = Buffer.allocUnsafe(7 + dbKey.length + (record?.length ?? 0));
  value.writeUInt32BE(entry.term, 0);
  value[4] = record === null ? 0 : 1;
  value.writeUInt16BE(dbKey.length, 5);
  dbKey.copy(value, 7);
  record?.copy(value, 7 + dbKey.length);
  return value;
}

function decodeReplogValue(partition: number, seq: number, value: Buffer): ReplicatedEntry {
  const term = value.readUInt32BE(0);
  const keyLength = value.readUInt16BE(5);
  const dbKey = value.subarray(7, 7 + keyLength);
  const record = value[4] === 0 ? null : value.subarray(7 + keyLength);
  return { partition, seq, term, payload: { dbKey, record } };
}

export function entryBytes(entry: { payload: unknown }): number {
  const { dbKey, record } = entry.payload as ReplicatedPayload;
  return 24 + dbKey.length + (record?.length ?? 0);
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

/** What lmdb-js's getStats() reports of one B+tree (mdb_stat; its typings say `{}`). */
interface LmdbStats {
  pageSize: number;
  treeBranchPageCount: number;
  treeLeafPageCount: number;
  overflowPages: number;
}

function pagesOf(stats: LmdbStats): number {
  return stats.treeBranchPageCount + stats.treeLeafPageCount + stats.overflowPages;
}
