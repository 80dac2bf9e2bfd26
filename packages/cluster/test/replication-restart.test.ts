// A restarted node must not help a deposed primary (found by the fault campaign, seed 219, FULL_SYNC):
// c-2, the primary of term 2, was cut off; c-1 took over at term 3 and acknowledged writes with c-0;
// c-1 was killed and restarted; before its map arrived, its fresh core granted c-2 a lease at term 2
// and accepted c-2's snapshot of the older state over its own term-3 copy, and c-1 then led term 4
// from that copy: the term-3 writes were lost and c-2 served stale reads. A node with no map now
// grants nothing and accepts nothing, and knows at least the terms of its own log.
import { describe, expect, it } from 'vitest';
import { ReplicationCore, type LocalLog, type PeerMessage } from '../src/index.js';
import { onePartitionMap as mapAt } from './support/one-partition.js';

/** A log holding entries up to seq 40, the last of term 3. */
const logAtTerm3: LocalLog = {
  lastSeq: () => 40,
  lastTerm: () => 3,
  durableSeq: () => 40,
  epochs: () => [
    { term: 2, startSeq: 1 },
    { term: 3, startSeq: 31 },
  ],
  read: () => [],
};

function grants(core: ReplicationCore): boolean[] {
  return core
    .take()
    .messages.filter(({ message }) => message.type === 'grant')
    .flatMap(({ message }) => (message as Extract<PeerMessage, { type: 'grant' }>).partitions.map((partition) => partition.granted));
}

describe('replication core after a restart', () => {
  it('grants no lease and accepts no snapshot before it has a map', () => {
    const core = new ReplicationCore('b', logAtTerm3);
    core.onPeerConnected('a', 0);
    core.onMessage('a', { type: 'beacon', id: 1, partitions: [{ partition: 0, term: 2 }] }, 1);
    expect(grants(core)).toEqual([false]);
    core.onMessage('a', { type: 'beacon', id: 2, partitions: [{ partition: 0, term: 9 }] }, 2);
    expect(grants(core)).toEqual([false]);
    expect(core.acceptsSnapshot(0, 'a', 2)).toBe(false);
    expect(core.acceptsSnapshot(0, 'a', 9)).toBe(false);
  });

  it('refuses a primary at a term older than its own log, even when a stale map names it', () => {
    const core = new ReplicationCore('b', logAtTerm3);
    core.onPeerConnected('a', 0);
    core.onMap(mapAt(4, { replicas: ['a', 'b'], isr: ['a', 'b'], primary: 'a', term: 2, lost: false }), 0);
    core.take();
    core.onMessage('a', { type: 'beacon', id: 1, partitions: [{ partition: 0, term: 2 }] }, 1);
    expect(grants(core)).toEqual([false]);
    expect(core.acceptsSnapshot(0, 'a', 2)).toBe(false);

    // The map of term 4 (a took over again): granted.
    core.onMap(mapAt(7, { replicas: ['a', 'b'], isr: ['a', 'b'], primary: 'a', term: 4, lost: false }), 2);
    core.take();
    core.onMessage('a', { type: 'beacon', id: 2, partitions: [{ partition: 0, term: 4 }] }, 3);
    expect(grants(core)).toEqual([true]);
    expect(core.acceptsSnapshot(0, 'a', 4)).toBe(true);
  });
});
