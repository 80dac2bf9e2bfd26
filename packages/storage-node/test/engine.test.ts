// Proves the storage engine's contract on a real LMDB directory, without a server around it:
// - a write is visible at once (overlay) and carries a ticket until its batch is acknowledged
//   (sync: fsynced; async: nothing to wait for), and reads keep returning the newest value while
//   older batches are acknowledged underneath;
// - close + reopen returns every acknowledged record and the per-partition counters (sequence, keys,
//   keys with expiry) that were committed with them, and a recount of LMDB agrees with the counters;
// - scan merges overlay and LMDB in key order, hides deletes not yet committed, and pages correctly;
// - clearAll (FLUSHALL) followed by writes in the same batch leaves exactly those writes, in memory
//   and after reopen, and (sync) a read that shows a FLUSHALL carries its ticket until it is fsynced;
// - removeExpired removes only keys whose current record has expired, bounded by its limit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine, type Durability } from '../src/engine/engine.js';
import { encodeString, expireAtOfRecord, RECORD_HEADER_BYTES } from '../src/engine/record.js';
import { userKeyOf } from '../src/engine/key-layout.js';

const PARTITIONS = 16;
const FAR_FUTURE_MS = Date.UTC(2100, 0, 1);

const directories: string[] = [];
const engines: Engine[] = [];

afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function newDirectory(): string {
  const directory = mkdtempSync(path.join(tmpdir(), 'ballast-engine-'));
  directories.push(directory);
  return directory;
}

interface Harness {
  engine: Engine;
  /** Resolves once batch `batchId` (and so every earlier one) is acknowledged. */
  acknowledged(batchId: number): Promise<void>;
  /** Resolves once everything written so far is acknowledged (async: committed). */
  settled(): Promise<void>;
  /** Records that the open batch holds writes (call after every engine write). */
  noteWrite(): void;
}

function openEngine(directory: string, durability: Durability): Harness {
  const fatal: Error[] = [];
  const engine = Engine.open({
    path: directory,
    durability,
    partitionCount: PARTITIONS,
    onFatal: (error) => fatal.push(error),
  });
  engines.push(engine);
  const waiters: Array<{ batchId: number; resolve: () => void }> = [];
  engine.onAcknowledged((batchId) => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.batchId <= batchId) waiters.splice(i, 1)[0]!.resolve();
    }
  });
  const acknowledged = (batchId: number): Promise<void> => {
    if (fatal.length > 0) return Promise.reject(fatal[0]);
    if (batchId <= engine.acknowledgedBatchId) return Promise.resolve();
    return new Promise((resolve) => waiters.push({ batchId, resolve }));
  };
  let lastWrittenBatchId = 0;
  const noteWrite = (): void => {
    lastWrittenBatchId = engine.openBatchId;
  };
  const settled = (): Promise<void> => acknowledged(lastWrittenBatchId);
  return { engine, acknowledged, settled, noteWrite };
}

async function reopen(harness: Harness, directory: string, durability: Durability): Promise<Harness> {
  await harness.engine.close();
  engines.splice(engines.indexOf(harness.engine), 1);
  return openEngine(directory, durability);
}

const key = (text: string): Buffer => Buffer.from(text, 'utf8');
const stringRecord = (text: string, expireAtMs = 0): Buffer => encodeString(Buffer.from(text, 'utf8'), expireAtMs);

function valueOf(harness: Harness, name: string): string | null {
  const { record } = harness.engine.lookup(harness.engine.ref(key(name)));
  return record === null ? null : record.subarray(RECORD_HEADER_BYTES).toString('utf8');
}

function set(harness: Harness, name: string, value: string, expireAtMs = 0): number {
  const ticket = harness.engine.write(harness.engine.ref(key(name)), stringRecord(value, expireAtMs));
  harness.noteWrite();
  return ticket;
}

function del(harness: Harness, name: string): number {
  const ticket = harness.engine.write(harness.engine.ref(key(name)), null);
  harness.noteWrite();
  return ticket;
}

function removeExpired(harness: Harness, nowMs: number, limit: number): ReturnType<Engine['removeExpired']> {
  const result = harness.engine.removeExpired(nowMs, limit);
  if (result.removed > 0) harness.noteWrite();
  return result;
}

/** Every live key name the engine scans from the start of the keyspace (in data-key order). */
function scanAll(harness: Harness, pageSize = 7): { names: string[]; ticket: number } {
  const names: string[] = [];
  let ticket = 0;
  let start: Buffer = Buffer.alloc(0);
  const end = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  for (let page = 0; page < 100_000; page++) {
    const result = harness.engine.scan(start, end, pageSize);
    ticket = Math.max(ticket, result.ticket);
    for (const [dbKey] of result.entries) names.push(userKeyOf(dbKey).toString('utf8'));
    if (result.next === null) return { names, ticket };
    start = result.next;
  }
  throw new Error('scan did not terminate');
}

/** The names in data-key order, as the engine stores them. */
function inKeyOrder(harness: Harness, names: string[]): string[] {
  return [...names].sort((a, b) => Buffer.compare(harness.engine.ref(key(a)).dbKey, harness.engine.ref(key(b)).dbKey));
}

function totalSequence(engine: Engine): number {
  let total = 0;
  for (let partition = 0; partition < engine.partitionCount; partition++) total += engine.partitionState(partition).sequence;
  return total;
}

describe('Engine: durability tickets and the overlay', () => {
  it('sync: a write is visible at once, holds a ticket until fsynced, then reads come from LMDB', async () => {
    const harness = openEngine(newDirectory(), 'sync');
    const { engine } = harness;
    const ticket = set(harness, 'alpha', 'one');
    expect(ticket).toBeGreaterThan(engine.acknowledgedBatchId);
    const before = engine.lookup(engine.ref(key('alpha')));
    expect(before.record?.subarray(RECORD_HEADER_BYTES).toString()).toBe('one');
    expect(before.ticket).toBe(ticket);
    expect(engine.stats().overlayEntries).toBe(1);

    await harness.acknowledged(ticket);
    const after = engine.lookup(engine.ref(key('alpha')));
    expect(after.ticket).toBe(0);
    expect(after.record?.subarray(RECORD_HEADER_BYTES).toString()).toBe('one');
    expect(engine.stats().overlayEntries).toBe(0);
    expect(engine.keyCount()).toBe(1);
  });

  it('async: writes carry no ticket and are readable after their batch commits', async () => {
    const harness = openEngine(newDirectory(), 'async');
    expect(set(harness, 'alpha', 'one')).toBe(0);
    expect(harness.engine.lookup(harness.engine.ref(key('alpha'))).ticket).toBe(0);
    await harness.settled();
    expect(valueOf(harness, 'alpha')).toBe('one');
    expect(harness.engine.stats().overlayEntries).toBe(0);
  });

  it.each(['sync', 'async'] as const)(
    '%s: read-your-writes holds across 300 acknowledged batches (LMDB read snapshot is renewed)',
    async (durability) => {
      const harness = openEngine(newDirectory(), durability);
      for (let i = 0; i < 300; i++) {
        set(harness, 'counter', String(i));
        const batchId = harness.engine.openBatchId;
        expect(valueOf(harness, 'counter')).toBe(String(i));
        await harness.acknowledged(batchId);
        expect(valueOf(harness, 'counter')).toBe(String(i));
      }
      expect(harness.engine.stats().overlayEntries).toBe(0);
    },
  );

  it('keeps the newest value of a key rewritten while an older batch is being acknowledged', async () => {
    const harness = openEngine(newDirectory(), 'sync');
    const { engine } = harness;
    const first = set(harness, 'k', 'v1');
    // Next event-loop turn: batch `first` has been handed to LMDB, a new batch is open.
    await new Promise((resolve) => setImmediate(resolve));
    const second = set(harness, 'k', 'v2');
    expect(second).toBeGreaterThan(first);
    await harness.acknowledged(first);
    // Acknowledging the first batch must not drop the second batch's overlay entry.
    expect(valueOf(harness, 'k')).toBe('v2');
    expect(engine.lookup(engine.ref(key('k'))).ticket).toBe(engine.acknowledgedBatchId >= second ? 0 : second);
    await harness.acknowledged(second);
    expect(valueOf(harness, 'k')).toBe('v2');
    expect(engine.stats().overlayEntries).toBe(0);
    expect(engine.keyCount()).toBe(1);
  });

  it('acknowledges batches in order and only grows acknowledgedBatchId', async () => {
    const harness = openEngine(newDirectory(), 'sync');
    const seen: number[] = [];
    harness.engine.onAcknowledged((batchId) => seen.push(batchId));
    let last = 0;
    for (let turn = 0; turn < 20; turn++) {
      for (let i = 0; i < 10; i++) last = set(harness, `k${turn}-${i}`, 'x');
      await new Promise((resolve) => setImmediate(resolve));
    }
    await harness.acknowledged(last);
    expect(seen.length).toBeGreaterThan(0);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
    expect(harness.engine.keyCount()).toBe(200);
  });

  it.each(['sync', 'async'] as const)(
    '%s: once a batch is acknowledged, reads see it even if LMDB\'s read snapshot predates the commit',
    async (durability) => {
      // lmdb-js renews its read snapshot lazily. The engine resets it when it drops overlay entries;
      // without that, test/storage-node/crash-safety.test.ts saw an HSET after a DEL start from
      // the pre-DEL record under load (3 of 6 runs). This checks the behaviour on every ack; it
      // rarely hits the race on an idle machine, the crash test does.
      const harness = openEngine(newDirectory(), durability);
      const { engine } = harness;
      const stale: string[] = [];
      engine.onAcknowledged(() => {
        const value = valueOf(harness, 'k');
        if (value !== expected) stale.push(`${String(value)} instead of ${String(expected)}`);
      });
      let expected: string | null = 'v0';
      set(harness, 'k', 'v0');
      await harness.settled();
      // A reader that keeps lmdb-js's read snapshot pinned (it renews it at most once per timer tick).
      let reading = true;
      let readerStopped: () => void = () => undefined;
      const stopped = new Promise<void>((resolve) => (readerStopped = resolve));
      const reader = (): void => {
        if (!reading) {
          readerStopped();
          return;
        }
        valueOf(harness, 'other');
        setImmediate(reader);
      };
      reader();
      for (let round = 1; round <= 100; round++) {
        expected = round % 3 === 0 ? null : `v${round}`;
        if (expected === null) del(harness, 'k');
        else set(harness, 'k', expected);
        await harness.settled();
        expect(valueOf(harness, 'k')).toBe(expected);
      }
      reading = false;
      await stopped;
      expect(stale).toEqual([]);
    },
  );

  it('deleting an absent key is a no-op: no ticket, no sequence change', async () => {
    const harness = openEngine(newDirectory(), 'sync');
    const sequenceBefore = totalSequence(harness.engine);
    expect(del(harness, 'missing')).toBe(0);
    expect(totalSequence(harness.engine)).toBe(sequenceBefore);
    expect(harness.engine.keyCount()).toBe(0);
  });
});

describe('Engine: persistence across close and reopen', () => {
  it.each(['sync', 'async'] as const)('%s: records and partition counters survive reopen', async (durability) => {
    const directory = newDirectory();
    let harness = openEngine(directory, durability);
    const names = Array.from({ length: 500 }, (_, i) => `user:${i}`);
    for (const name of names) set(harness, name, `value-${name}`);
    for (let i = 0; i < 100; i++) set(harness, `user:${i}`, `value-user:${i}`, FAR_FUTURE_MS + i);
    for (let i = 400; i < 500; i++) del(harness, `user:${i}`);
    const keysBefore = harness.engine.keyCount();
    const withExpiryBefore = harness.engine.keysWithExpiryCount();
    const statesBefore = Array.from({ length: PARTITIONS }, (_, p) => ({ ...harness.engine.partitionState(p) }));
    expect(keysBefore).toBe(400);
    expect(withExpiryBefore).toBe(100);

    harness = await reopen(harness, directory, durability);
    expect(harness.engine.partitionCount).toBe(PARTITIONS);
    expect(harness.engine.keyCount()).toBe(keysBefore);
    expect(harness.engine.keysWithExpiryCount()).toBe(withExpiryBefore);
    for (let p = 0; p < PARTITIONS; p++) expect(harness.engine.partitionState(p)).toEqual(statesBefore[p]);
    expect(harness.engine.verifyCounters()).toEqual([]);
    for (let i = 0; i < 400; i++) expect(valueOf(harness, `user:${i}`)).toBe(`value-user:${i}`);
    for (let i = 400; i < 500; i++) expect(valueOf(harness, `user:${i}`)).toBeNull();
    const { record } = harness.engine.lookup(harness.engine.ref(key('user:7')));
    expect(expireAtOfRecord(record!)).toBe(FAR_FUTURE_MS + 7);
  });

  it('keeps its partition count when reopened with a different one', async () => {
    const directory = newDirectory();
    const harness = openEngine(directory, 'sync');
    await harness.engine.close();
    engines.splice(engines.indexOf(harness.engine), 1);
    const other = Engine.open({ path: directory, durability: 'sync', partitionCount: 64, onFatal: (error) => { throw error; } });
    engines.push(other);
    expect(other.partitionCount).toBe(PARTITIONS);
  });

  it('close() writes the open batch before closing', async () => {
    const directory = newDirectory();
    let harness = openEngine(directory, 'sync');
    for (let i = 0; i < 50; i++) set(harness, `pending:${i}`, String(i));
    // No await: the batch is still open when close() is called.
    harness = await reopen(harness, directory, 'sync');
    expect(harness.engine.keyCount()).toBe(50);
    for (let i = 0; i < 50; i++) expect(valueOf(harness, `pending:${i}`)).toBe(String(i));
    expect(harness.engine.verifyCounters()).toEqual([]);
  });
});

describe('Engine: scan merges the overlay with LMDB', () => {
  it('shows uncommitted inserts and updates, hides uncommitted deletes, in key order', async () => {
    const harness = openEngine(newDirectory(), 'sync');
    const committed = Array.from({ length: 60 }, (_, i) => `k${i}`);
    for (const name of committed) set(harness, name, 'old');
    await harness.settled();
    expect(harness.engine.stats().overlayEntries).toBe(0);

    const deleted = committed.filter((_, i) => i % 3 === 0);
    const updated = committed.filter((_, i) => i % 3 === 1);
    const inserted = Array.from({ length: 25 }, (_, i) => `new${i}`);
    for (const name of deleted) del(harness, name);
    for (const name of updated) set(harness, name, 'updated');
    for (const name of inserted) set(harness, name, 'fresh');
    // Also a key inserted and deleted inside the same open batch.
    set(harness, 'ephemeral', 'x');
    del(harness, 'ephemeral');

    const expected = inKeyOrder(harness, [...committed.filter((name) => !deleted.includes(name)), ...inserted]);
    for (const pageSize of [1, 7, 1000]) {
      const { names, ticket } = scanAll(harness, pageSize);
      expect(names).toEqual(expected);
      expect(ticket).toBeGreaterThan(harness.engine.acknowledgedBatchId);
    }
    expect(harness.engine.keyCount()).toBe(expected.length);

    await harness.settled();
    const { names, ticket } = scanAll(harness);
    expect(names).toEqual(expected);
    expect(ticket).toBe(0);
    for (const name of updated) expect(valueOf(harness, name)).toBe('updated');
    expect(harness.engine.verifyCounters()).toEqual([]);
  });

  it('returns the records themselves, newest version', async () => {
    const harness = openEngine(newDirectory(), 'sync');
    set(harness, 'a', '1');
    await harness.settled();
    set(harness, 'a', '2');
    const { entries } = harness.engine.scan(Buffer.alloc(0), Buffer.from([0xff, 0xff, 0xff]), 10);
    expect(entries).toHaveLength(1);
    expect(entries[0]![1].subarray(RECORD_HEADER_BYTES).toString()).toBe('2');
  });

  it('extendWhile keeps returning keys past the limit while they belong with the last one', () => {
    const harness = openEngine(newDirectory(), 'async');
    for (let i = 0; i < 10; i++) set(harness, `e${i}`, 'x');
    const { entries, next } = harness.engine.scan(Buffer.alloc(0), Buffer.from([0xff, 0xff, 0xff]), 3, () => true);
    expect(entries).toHaveLength(10);
    expect(next).toBeNull();
  });
});

describe('Engine: clearAll (FLUSHALL)', () => {
  it.each(['sync', 'async'] as const)(
    '%s: clearAll then writes in the same batch keep only those writes, before and after reopen',
    async (durability) => {
      const directory = newDirectory();
      let harness = openEngine(directory, durability);
      for (let i = 0; i < 100; i++) set(harness, `old:${i}`, 'x', i % 2 === 0 ? FAR_FUTURE_MS : 0);
      await harness.settled();
      // One more batch in flight (not acknowledged) when FLUSHALL arrives.
      await new Promise((resolve) => setImmediate(resolve));
      for (let i = 100; i < 120; i++) set(harness, `old:${i}`, 'y');
      await new Promise((resolve) => setImmediate(resolve));

      const clearTicket = harness.engine.clearAll();
      harness.noteWrite();
      set(harness, 'after:1', 'a', FAR_FUTURE_MS);
      set(harness, 'after:2', 'b');
      set(harness, 'old:5', 'reborn');
      if (durability === 'sync') expect(clearTicket).toBeGreaterThan(0);

      expect(valueOf(harness, 'old:1')).toBeNull();
      expect(valueOf(harness, 'old:110')).toBeNull();
      expect(valueOf(harness, 'old:5')).toBe('reborn');
      expect(harness.engine.keyCount()).toBe(3);
      expect(harness.engine.keysWithExpiryCount()).toBe(1);
      expect(scanAll(harness).names).toEqual(inKeyOrder(harness, ['after:1', 'after:2', 'old:5']));
      // Nothing from before the clear is left to expire.
      expect(removeExpired(harness, FAR_FUTURE_MS - 1, 1000).removed).toBe(0);

      // Until the clear is acknowledged, a read that shows its effect carries its ticket.
      for (let turn = 0; turn < 10_000 && harness.engine.acknowledgedBatchId < clearTicket; turn++) {
        const { record, ticket } = harness.engine.lookup(harness.engine.ref(key('old:1')));
        const scanned = scanAll(harness);
        const acknowledgedNow = harness.engine.acknowledgedBatchId >= clearTicket;
        expect(record).toBeNull();
        expect(acknowledgedNow || ticket >= clearTicket).toBe(true);
        expect(acknowledgedNow || scanned.ticket >= clearTicket).toBe(true);
        await new Promise((resolve) => setImmediate(resolve));
      }

      await harness.settled();
      expect(valueOf(harness, 'old:1')).toBeNull();
      expect(scanAll(harness).names).toEqual(inKeyOrder(harness, ['after:1', 'after:2', 'old:5']));

      harness = await reopen(harness, directory, durability);
      expect(harness.engine.keyCount()).toBe(3);
      expect(harness.engine.keysWithExpiryCount()).toBe(1);
      expect(harness.engine.verifyCounters()).toEqual([]);
      expect(scanAll(harness).names).toEqual(inKeyOrder(harness, ['after:1', 'after:2', 'old:5']));
      // The expiry index was cleared too: only after:1 expires.
      const { removed, refs } = removeExpired(harness, FAR_FUTURE_MS + 1, 1000);
      expect(removed).toBe(1);
      expect(refs.map((ref) => ref.key.toString())).toEqual(['after:1']);
    },
  );
});

describe('Engine: FLUSHALL and durability tickets', () => {
  it('sync: a read showing a FLUSHALL waits for it to be fsynced, also after LMDB committed it', async () => {
    const harness = openEngine(newDirectory(), 'sync');
    const { engine } = harness;
    let turnsChecked = 0;
    // The commit-to-fsync window is short: many rounds make it likely that some turn falls in it.
    for (let round = 0; round < 1000; round++) {
      set(harness, 'survivor', String(round));
      await harness.settled();
      const clearTicket = engine.clearAll();
      harness.noteWrite();
      // Every event-loop turn until the clear is acknowledged (commit and fsync happen in between).
      while (engine.acknowledgedBatchId < clearTicket) {
        const { record, ticket } = engine.lookup(engine.ref(key('survivor')));
        const scanned = scanAll(harness);
        expect(record).toBeNull();
        expect(scanned.names).toEqual([]);
        if (engine.acknowledgedBatchId < clearTicket) {
          expect(ticket).toBeGreaterThanOrEqual(clearTicket);
          expect(scanned.ticket).toBeGreaterThanOrEqual(clearTicket);
        }
        turnsChecked++;
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(engine.lookup(engine.ref(key('survivor')))).toEqual({ record: null, ticket: 0 });
    }
    expect(turnsChecked).toBeGreaterThanOrEqual(1000);
    expect(engine.keyCount()).toBe(0);
  });
});

describe('Engine: removeExpired', () => {
  it('removes expired keys only, at most `limit` per call, and persists the removal', async () => {
    const directory = newDirectory();
    let harness = openEngine(directory, 'sync');
    const nowMs = Date.UTC(2030, 0, 1);
    for (let i = 0; i < 30; i++) set(harness, `gone:${i}`, 'x', nowMs - 1000 + i);
    for (let i = 0; i < 10; i++) set(harness, `later:${i}`, 'x', nowMs + 60_000);
    set(harness, 'forever', 'x');
    // Expired, but its expiry was removed (PERSIST-like rewrite) before the cycle ran.
    set(harness, 'rescued', 'x', nowMs - 5000);
    await harness.settled();
    set(harness, 'rescued', 'x');
    await harness.settled();
    expect(harness.engine.keysWithExpiryCount()).toBe(40);

    const first = removeExpired(harness, nowMs, 12);
    expect(first.removed).toBe(12);
    await harness.settled();
    let total = first.removed;
    for (let round = 0; round < 10 && total < 30; round++) {
      total += removeExpired(harness, nowMs, 12).removed;
      await harness.settled();
    }
    expect(total).toBe(30);
    expect(removeExpired(harness, nowMs, 12).removed).toBe(0);
    expect(harness.engine.keyCount()).toBe(12);
    expect(harness.engine.keysWithExpiryCount()).toBe(10);
    expect(valueOf(harness, 'rescued')).toBe('x');
    expect(valueOf(harness, 'gone:3')).toBeNull();

    harness = await reopen(harness, directory, 'sync');
    expect(harness.engine.keyCount()).toBe(12);
    expect(harness.engine.verifyCounters()).toEqual([]);
    const later = removeExpired(harness, nowMs + 60_000, 100);
    expect(later.removed).toBe(10);
    expect(later.refs.map((ref) => ref.key.toString()).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `later:${i}`).sort(),
    );
  });

  it('does not remove a key whose expiry was extended in a batch not yet committed', () => {
    const harness = openEngine(newDirectory(), 'sync');
    const nowMs = Date.UTC(2030, 0, 1);
    set(harness, 'extended', 'x', nowMs - 10);
    set(harness, 'extended', 'x', nowMs + 10_000);
    expect(removeExpired(harness, nowMs, 10).removed).toBe(0);
    expect(valueOf(harness, 'extended')).toBe('x');
  });
});
