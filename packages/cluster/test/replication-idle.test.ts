// Liveness of the replication core when nothing is written (found by the fault campaign, seeds 2 and
// 11): a learner of a moving partition must report its position on its own, and a primary whose
// handoff timed out must keep proposing its new term while the store does not answer.
import { describe, expect, it } from 'vitest';
import { applyProposals, ReplicationCore, type PeerMessage } from '../src/index.js';
import { emptyLog, onePartitionMap } from './support/one-partition.js';

const mapAt = (version: number, assignment: Parameters<typeof onePartitionMap>[1], rebalanceVersion?: number) =>
  onePartitionMap(version, assignment, { nodes: ['a', 'b', 'c'], ...(rebalanceVersion === undefined ? {} : { rebalanceVersion }) });


function reportsTo(core: ReplicationCore, peer: string): Array<Extract<PeerMessage, { type: 'ack' }>> {
  return core
    .take()
    .messages.filter(({ to, message }) => to === peer && message.type === 'ack')
    .map(({ message }) => message as Extract<PeerMessage, { type: 'ack' }>);
}

function promotes(core: ReplicationCore): unknown[] {
  return core.take().proposals.filter((proposal) => proposal.kind === 'promote');
}

describe('replication core with an idle partition', () => {
  it('a learner reports its position once per baseline change, from the map that made it one', () => {
    const core = new ReplicationCore('c', emptyLog);
    core.onPeerConnected('a', 0);
    const moving = { replicas: ['a', 'b', 'c'], isr: ['a', 'b'], primary: 'a', term: 1, lost: false, target: ['a', 'c'] };
    core.onMap(mapAt(5, moving, 5), 0);
    const first = reportsTo(core, 'a');
    expect(first).toHaveLength(1);
    // A refusal: the primary realigns from this position rather than trusting an older one.
    expect(first[0]).toMatchObject({ ok: false, mapVersion: 5, term: 1, lastSeq: 0, durableSeq: 0 });

    // Nothing more for the same change, however long the partition stays idle.
    core.tick(1000);
    core.onMap(mapAt(6, moving, 5), 1100);
    expect(reportsTo(core, 'a')).toHaveLength(0);

    // A new baseline change: reported again, from that map.
    core.onMap(mapAt(7, moving, 7), 1200);
    expect(reportsTo(core, 'a').map((report) => report.mapVersion)).toEqual([7]);
  });

  it('a primary whose handoff timed out proposes its own new term again until the store answers', () => {
    // b takes the partition from a silent a (a node leads only a term it created itself)...
    const core = new ReplicationCore('b', emptyLog);
    core.onPeerConnected('a', 0);
    core.onMap(mapAt(1, { replicas: ['a', 'b'], isr: ['a', 'b'], primary: 'a', term: 1, lost: false }), 0);
    core.tick(5000);
    expect(core.take().proposals).toEqual([{ kind: 'promote', partition: 0, candidate: 'b', expectedTerm: 1 }]);
    core.onMap(mapAt(2, { replicas: ['a', 'b'], isr: ['b', 'a'], primary: 'b', term: 2, lost: false }), 5000);
    core.onMessage('a', { type: 'ack', mapVersion: 2, partition: 0, term: 2, durableSeq: 0, ok: false, lastSeq: 0, lastTerm: 0 }, 5001);
    core.tick(5002);
    expect(core.isPrimary(0)).toBe(true);
    // ...then steps down (a rolling restart): it hands the partition to a.
    core.stepDown(5003);
    core.tick(5004);
    const handoff = core.take().messages.filter(({ message }) => message.type === 'handoff');
    expect(handoff.map(({ to }) => to)).toContain('a');

    // a never takes over; after the handoff timeout b proposes term 3 for itself...
    core.tick(7100);
    const promote = { kind: 'promote', partition: 0, candidate: 'b', expectedTerm: 2 };
    expect(promotes(core)).toEqual([promote]);
    // ...and the store never answers (the edge drops the proposal when the CAS fails): b retries.
    core.tick(7300);
    expect(promotes(core)).toEqual([]);
    core.tick(7700);
    expect(promotes(core)).toEqual([promote]);
    core.tick(8300);
    expect(promotes(core)).toEqual([promote]);
  });
});

describe('an ISR expansion judged before a baseline change', () => {
  it('is refused by a map with a newer baseline change (it may have waited in a queue meanwhile)', () => {
    const assignment = { replicas: ['a', 'b', 'c'], isr: ['a', 'b'], primary: 'a', term: 1, lost: false, target: ['a', 'c'] };
    const expansion = { kind: 'expand-isr', partition: 0, primary: 'a', term: 1, added: 'c', rebalanceVersion: 5 } as const;
    const same = applyProposals(mapAt(6, assignment, 5), [expansion]);
    expect(same.next?.partitions[0]?.isr).toEqual(['a', 'b', 'c']);
    const newer = applyProposals(mapAt(9, assignment, 8), [expansion]);
    expect(newer.next).toBeNull();
    expect(newer.rejected.map(({ error }) => error.code)).toEqual(['STALE_EXPANSION']);
  });
});
