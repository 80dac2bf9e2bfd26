// Proves rendezvous placement: scores match sha256 vectors computed outside Node (sha256sum), fixed
// inputs give the exact expected replica lists, the result is deterministic under input order,
// distinct and zone-spread, and adding or removing a node moves only the partitions it wins or held
// (about k/n of them) — by example and as fast-check properties.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignAll, assignPartition, rendezvousScore, type PlacementNode } from '../src/index.js';

const plain = (...ids: string[]): PlacementNode[] => ids.map((id) => ({ id }));

describe('rendezvousScore', () => {
  // printf '%s' '0/a' | sha256sum → first 12 hex digits.
  it.each([
    [0, 'a', 0xd3216b8dc7c4],
    [0, 'b', 0x7d9abe6cba14],
    [0, 'c', 0x288182d7f247],
    [1, 'a', 0xbf1d98770190],
    [7, 'node-1', 0x1aa61440d70a],
    [255, 'ballast-0', 0x62124ea73082],
  ])('score of partition %i for %j is the first 6 bytes of sha256', (partition, nodeId, score) => {
    expect(rendezvousScore(partition, nodeId)).toBe(score);
  });
});

describe('assignPartition with fixed inputs', () => {
  // Orders by score (see the vectors above and rendezvousScore for b..d):
  // p0: a > d > b > c; p1: c > b > a > d; p2: d > b > a > c; p3: a > d > b > c.
  const zoned: PlacementNode[] = [
    { id: 'a', zone: 'z1' },
    { id: 'd', zone: 'z1' },
    { id: 'b', zone: 'z2' },
    { id: 'c', zone: 'z3' },
  ];
  // a and d share z1; b has no zone, c has zone "" — the same shared zone.
  const mixed: PlacementNode[] = [{ id: 'a', zone: 'z1' }, { id: 'b' }, { id: 'c', zone: '' }, { id: 'd', zone: 'z1' }];
  it.each([
    { name: 'no zones, 3 of 4', partition: 0, nodes: plain('a', 'b', 'c', 'd'), count: 3, expected: ['a', 'd', 'b'] },
    { name: 'no zones, 3 of 4', partition: 1, nodes: plain('a', 'b', 'c', 'd'), count: 3, expected: ['c', 'b', 'a'] },
    { name: 'no zones, 3 of 4', partition: 2, nodes: plain('a', 'b', 'c', 'd'), count: 3, expected: ['d', 'b', 'a'] },
    { name: 'no zones, all 4', partition: 3, nodes: plain('a', 'b', 'c', 'd'), count: 4, expected: ['a', 'd', 'b', 'c'] },
    { name: 'zones skip a used zone', partition: 0, nodes: zoned, count: 3, expected: ['a', 'b', 'c'] },
    { name: 'zones already distinct', partition: 1, nodes: zoned, count: 3, expected: ['c', 'b', 'a'] },
    { name: 'zones skip a used zone', partition: 2, nodes: zoned, count: 3, expected: ['d', 'b', 'c'] },
    { name: 'zones, then used zones', partition: 0, nodes: zoned, count: 4, expected: ['a', 'b', 'c', 'd'] },
    { name: 'missing zone = zone ""', partition: 0, nodes: mixed, count: 4, expected: ['a', 'b', 'd', 'c'] },
    { name: 'missing zone = zone ""', partition: 1, nodes: mixed, count: 4, expected: ['c', 'a', 'b', 'd'] },
    { name: 'more copies than nodes', partition: 0, nodes: plain('a', 'b'), count: 3, expected: ['a', 'b'] },
    { name: 'zero copies', partition: 0, nodes: plain('a', 'b'), count: 0, expected: [] },
    { name: 'no nodes', partition: 0, nodes: [], count: 2, expected: [] },
  ])('$name: partition $partition → $expected', ({ partition, nodes, count, expected }) => {
    expect(assignPartition(partition, nodes, count)).toEqual(expected);
  });

  it('assignAll places backups + 1 copies per partition', () => {
    expect(assignAll(4, plain('a', 'b', 'c', 'd'), 1)).toEqual([
      ['a', 'd'],
      ['c', 'b'],
      ['d', 'b'],
      ['a', 'd'],
    ]);
    expect(assignAll(0, plain('a'), 0)).toEqual([]);
  });

  it.each([
    { name: 'duplicate ids', run: () => assignPartition(0, plain('a', 'a'), 1) },
    { name: 'negative replica count', run: () => assignPartition(0, plain('a'), -1) },
    { name: 'fractional partition', run: () => assignPartition(0.5, plain('a'), 1) },
    { name: 'negative backups', run: () => assignAll(1, plain('a'), -1) },
  ])('asserts on programmer errors: $name', ({ run }) => {
    expect(run).toThrow();
  });
});

describe('placement properties', () => {
  const nodeIds = (count: number, prefix = 'node-'): string[] =>
    Array.from({ length: count }, (_, i) => `${prefix}${i}`);

  it('spreads every partition over 3 zones with 3 zones and 2 backups', () => {
    const nodes = nodeIds(9).map((id, i) => ({ id, zone: `zone-${i % 3}` }));
    const zoneOf = new Map(nodes.map((node) => [node.id, node.zone]));
    for (const replicas of assignAll(256, nodes, 2)) {
      expect(new Set(replicas.map((id) => zoneOf.get(id))).size).toBe(3);
    }
  });

  it.each([
    { backups: 0, share: [0.15, 0.35] },
    { backups: 1, share: [0.35, 0.65] },
  ])('adding a 4th node to 3 moves only what it wins (backups $backups)', ({ backups, share }) => {
    const before = assignAll(256, plain('a', 'b', 'c'), backups);
    const after = assignAll(256, plain('a', 'b', 'c', 'd'), backups);
    let gained = 0;
    for (let partition = 0; partition < 256; partition++) {
      const wins = after[partition]!.includes('d');
      if (wins) gained++;
      else expect(after[partition]).toEqual(before[partition]);
    }
    // Expected share: (backups + 1) / 4.
    expect(gained / 256).toBeGreaterThanOrEqual(share[0]!);
    expect(gained / 256).toBeLessThanOrEqual(share[1]!);
  });

  it('removing a node changes only the partitions that held it', () => {
    const before = assignAll(256, plain('a', 'b', 'c', 'd'), 1);
    const after = assignAll(256, plain('a', 'b', 'd'), 1);
    for (let partition = 0; partition < 256; partition++) {
      if (!before[partition]!.includes('c')) expect(after[partition]).toEqual(before[partition]);
      else expect(after[partition]).not.toContain('c');
    }
  });

  // Unique ids, zones from a small set (or none), so zone collisions are common.
  const nodesArbitrary = fc.uniqueArray(
    fc.record(
      {
        id: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,8}$/),
        zone: fc.constantFrom('z1', 'z2', 'z3', ''),
      },
      { requiredKeys: ['id'] },
    ),
    { selector: (node) => node.id, maxLength: 12 },
  );
  const partitionArbitrary = fc.nat({ max: 4095 });
  const countArbitrary = fc.nat({ max: 7 });

  it('property: distinct ids, min(count, nodes) of them, top score first', () => {
    fc.assert(
      fc.property(nodesArbitrary, partitionArbitrary, countArbitrary, (nodes, partition, count) => {
        const replicas = assignPartition(partition, nodes, count);
        expect(replicas).toHaveLength(Math.min(count, nodes.length));
        expect(new Set(replicas).size).toBe(replicas.length);
        const ids = new Set(nodes.map((node) => node.id));
        for (const id of replicas) expect(ids.has(id)).toBe(true);
        if (replicas.length > 0) {
          const best = Math.max(...nodes.map((node) => rendezvousScore(partition, node.id)));
          expect(rendezvousScore(partition, replicas[0]!)).toBe(best);
        }
      }),
    );
  });

  it('property: the result does not depend on input order', () => {
    fc.assert(
      fc.property(
        nodesArbitrary.chain((nodes) => fc.tuple(fc.constant(nodes), fc.shuffledSubarray(nodes, { minLength: nodes.length }))),
        partitionArbitrary,
        countArbitrary,
        ([nodes, shuffled], partition, count) => {
          expect(assignPartition(partition, shuffled, count)).toEqual(assignPartition(partition, nodes, count));
        },
      ),
    );
  });

  it('property: picks cover min(count, zones) distinct zones (missing zone = "")', () => {
    fc.assert(
      fc.property(nodesArbitrary, partitionArbitrary, countArbitrary, (nodes, partition, count) => {
        const zoneOf = new Map(nodes.map((node) => [node.id, node.zone ?? '']));
        const replicas = assignPartition(partition, nodes, count);
        const zones = new Set(zoneOf.values()).size;
        expect(new Set(replicas.map((id) => zoneOf.get(id))).size).toBe(Math.min(replicas.length, zones));
      }),
    );
  });

  it('property: adding a node changes a partition only when the node is picked', () => {
    fc.assert(
      fc.property(
        nodesArbitrary,
        fc.constantFrom('z1', 'z2', 'z3', ''),
        partitionArbitrary,
        countArbitrary,
        (nodes, zone, partition, count) => {
          // '.' is outside the generated ids' alphabet, so the newcomer is new.
          const after = assignPartition(partition, [...nodes, { id: 'new.node', zone }], count);
          if (!after.includes('new.node')) expect(after).toEqual(assignPartition(partition, nodes, count));
        },
      ),
    );
  });

  it('property: removing a node changes a partition only when the node held it', () => {
    fc.assert(
      fc.property(
        nodesArbitrary.filter((nodes) => nodes.length > 0),
        fc.nat(),
        partitionArbitrary,
        countArbitrary,
        (nodes, index, partition, count) => {
          const removed = nodes[index % nodes.length]!;
          const before = assignPartition(partition, nodes, count);
          const after = assignPartition(partition, nodes.filter((node) => node !== removed), count);
          if (before.includes(removed.id)) expect(after).not.toContain(removed.id);
          else expect(after).toEqual(before);
        },
      ),
    );
  });
});
