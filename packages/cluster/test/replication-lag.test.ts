// Proves ReplicationCore.replicationLag(), the query behind ballast_replication_lag_entries and
// ballast_replication_lag_bytes: per peer, summed over the partitions this node leads (and only
// those), entries = local lastSeq − the peer's durably acknowledged seq, and bytes = log entries sent
// and not yet acknowledged; both follow probes, acknowledgements, local appends and disconnects.
import { describe, expect, it } from 'vitest';
import { createMap, ReplicationCore, type ClusterMap, type LocalLog, type LogEntry, type PartitionAssignment } from '../src/index.js';

const ENTRY_BYTES = 100;

/** An in-memory log: every entry at term 1, ENTRY_BYTES each, all durable. */
class MemoryLog implements LocalLog {
  private readonly entries = new Map<number, LogEntry[]>();

  constructor(lengths: Record<number, number>) {
    for (const [partition, length] of Object.entries(lengths)) {
      for (let i = 0; i < length; i++) this.append(Number(partition));
    }
  }

  append(partition: number): void {
    const log = this.entries.get(partition) ?? [];
    log.push({ seq: log.length + 1, term: 1, bytes: ENTRY_BYTES, payload: null });
    this.entries.set(partition, log);
  }

  lastSeq(partition: number): number {
    return this.entries.get(partition)?.length ?? 0;
  }

  lastTerm(partition: number): number {
    return this.lastSeq(partition) === 0 ? 0 : 1;
  }

  durableSeq(partition: number): number {
    return this.lastSeq(partition);
  }

  epochs(partition: number): Array<{ term: number; startSeq: number }> {
    return this.lastSeq(partition) === 0 ? [] : [{ term: 1, startSeq: 1 }];
  }

  read(partition: number, fromSeq: number, maxEntries: number): LogEntry[] {
    return (this.entries.get(partition) ?? []).slice(fromSeq - 1, fromSeq - 1 + maxEntries);
  }
}

const address = { host: 'h', port: 1, peerPort: 2, adminPort: 3 };

function mapAt(version: number, partitions: PartitionAssignment[]): ClusterMap {
  const nodes = { a: address, b: address, c: address };
  return { ...createMap('c'), version, state: 'ACTIVE', partitionCount: partitions.length, backups: 2, baseline: Object.keys(nodes), nodes, partitions };
}

/** Partition 0 (10 entries) and 2 (3 entries) led by a; partition 1 led by b, a a backup. */
function assignments(term: number): PartitionAssignment[] {
  return [
    { replicas: ['a', 'b', 'c'], isr: ['a', 'b', 'c'], primary: 'a', term, lost: false },
    { replicas: ['b', 'a', 'c'], isr: ['b', 'a', 'c'], primary: 'b', term: 1, lost: false },
    { replicas: ['a', 'b'], isr: ['a', 'b'], primary: 'a', term, lost: false },
  ];
}

function ack(partition: number, durableSeq: number, lastSeq: number, ok: boolean) {
  return { type: 'ack' as const, partition, term: 2, durableSeq, ok, lastSeq, lastTerm: 1, mapVersion: 2 };
}

describe('replication lag of the peers of led partitions', () => {
  it('sums lastSeq − acknowledged seq and unacknowledged bytes per peer, over led partitions only', () => {
    const log = new MemoryLog({ 0: 10, 1: 50, 2: 3 });
    const core = new ReplicationCore('a', log);
    expect(core.replicationLag()).toEqual([]);

    // a is the primary in the map at a term its process did not create: it takes term 2 first.
    core.onMap(mapAt(1, assignments(1)), 0);
    expect(core.replicationLag()).toEqual([]);
    core.onMap(mapAt(2, assignments(2)), 10);
    expect(core.isPrimary(0) && core.isPrimary(2) && !core.isPrimary(1)).toBe(true);
    // Nothing acknowledged yet: every peer lags by the whole log of each led partition it holds.
    expect(core.replicationLag()).toEqual([
      { peer: 'b', entries: 10 + 3, bytesInFlight: 0 },
      { peer: 'c', entries: 10, bytesInFlight: 0 },
    ]);

    // b reports seq 4 of partition 0 (a probe answer): the rest (5..10) is sent at once.
    core.onPeerConnected('b', 20);
    core.onMessage('b', ack(0, 4, 4, false), 21);
    expect(core.replicationLag()).toEqual([
      { peer: 'b', entries: 6 + 3, bytesInFlight: 6 * ENTRY_BYTES },
      { peer: 'c', entries: 10, bytesInFlight: 0 },
    ]);

    // b durably holds up to 8 of partition 0, and all of partition 2.
    core.onMessage('b', ack(0, 8, 10, true), 30);
    core.onMessage('b', ack(2, 3, 3, false), 31);
    expect(core.replicationLag()).toEqual([
      { peer: 'b', entries: 2, bytesInFlight: 2 * ENTRY_BYTES },
      { peer: 'c', entries: 10, bytesInFlight: 0 },
    ]);

    // A local write to partition 0: b is one entry further behind, and it is on its way to b.
    log.append(0);
    core.onLocalAppend(0, 40);
    expect(core.replicationLag()).toEqual([
      { peer: 'b', entries: 3, bytesInFlight: 3 * ENTRY_BYTES },
      { peer: 'c', entries: 11, bytesInFlight: 0 },
    ]);

    core.onMessage('b', ack(0, 11, 11, true), 50);
    expect(core.replicationLag()[0]).toEqual({ peer: 'b', entries: 0, bytesInFlight: 0 });

    // A lost link drops what was in flight (it is sent again after a probe); the lag stays.
    log.append(0);
    core.onLocalAppend(0, 60);
    expect(core.replicationLag()[0]).toEqual({ peer: 'b', entries: 1, bytesInFlight: ENTRY_BYTES });
    core.onPeerDisconnected('b', 61);
    expect(core.replicationLag()[0]).toEqual({ peer: 'b', entries: 1, bytesInFlight: 0 });
  });

  it('lists nothing once this node leads no partition', () => {
    const log = new MemoryLog({ 0: 10, 1: 50, 2: 3 });
    const core = new ReplicationCore('a', log);
    core.onMap(mapAt(1, assignments(1)), 0);
    core.onMap(mapAt(2, assignments(2)), 10);
    expect(core.replicationLag().length).toBe(2);
    // b took both partitions over (term 3): a follows.
    const takenOver = assignments(2).map((assignment, partition) =>
      partition === 1 ? assignment : { ...assignment, primary: 'b', isr: assignment.isr.filter((node) => node !== 'a'), term: 3 },
    );
    core.onMap(mapAt(3, takenOver), 20);
    expect(core.replicationLag()).toEqual([]);
  });
});
