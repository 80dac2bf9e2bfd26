// Proves that a primary which heard of a newer term from a peer does not lead again when a map version
// older than that term reaches it afterwards (its store watch lagging behind the peer links, as after
// a network partition heals). Found by test/cluster/network-partition.test.ts: the old primary logged
// "leading partition" for every partition it had lost while its watch replayed the versions it missed.
// Leading there would serve with the older version's ISR, without the members a later version added.
import { describe, expect, it } from 'vitest';
import { ReplicationCore } from '../src/index.js';
import { emptyLog, onePartitionMap as mapAt } from './support/one-partition.js';

describe('replication core and a lagging map', () => {
  it('does not lead at a term it knows was superseded', () => {
    const core = new ReplicationCore('b', emptyLog);
    core.onMap(mapAt(1, { replicas: ['a', 'b'], isr: ['a', 'b'], primary: 'a', term: 1, lost: false }), 0);
    core.onPeerConnected('a', 0);
    // Nothing heard from primary a for longer than the failover delay: b asks to take over.
    core.tick(5000);
    expect(core.take().proposals).toEqual([{ kind: 'promote', partition: 0, candidate: 'b', expectedTerm: 1 }]);
    core.onMap(mapAt(2, { replicas: ['a', 'b'], isr: ['b'], primary: 'b', term: 2, lost: false }), 5000);
    expect(core.canServe(0, 'write', 5000)).toEqual({ ok: true });

    // Term 3 exists: a took the partition back while b was cut off (after a version, still on its way
    // to b, added a to the ISR again). b hears of it from a before its map watch catches up.
    core.onMessage('a', { type: 'probe', partition: 0, term: 3 }, 5001);
    expect(core.isPrimary(0)).toBe(false);

    // Then a version older than term 3 arrives (another partition's change, say): b stays deposed.
    core.onMap(mapAt(3, { replicas: ['a', 'b'], isr: ['b'], primary: 'b', term: 2, lost: false }), 5002);
    expect(core.isPrimary(0)).toBe(false);
    expect(core.canServe(0, 'write', 5002).ok).toBe(false);
    expect(core.take().proposals).toEqual([]);

    // The version with term 3 makes b a backup of a.
    core.onMap(mapAt(4, { replicas: ['a', 'b'], isr: ['a'], primary: 'a', term: 3, lost: false }), 5003);
    expect(core.isPrimary(0)).toBe(false);
    expect(core.canServe(0, 'read', 5003)).toEqual({ ok: false, reason: 'not-primary', primary: 'a' });
  });
});
