// Proves the activation hash chain: hashes match vectors computed outside Node (printf | sha256sum),
// the baseline is hashed sorted, appendActivation chains and never mutates, verifyChain catches
// every kind of tampering, and historyRelation tells equal, behind, ahead and diverged apart.
import { describe, expect, it } from 'vitest';
import {
  activationHash,
  appendActivation,
  firstBrokenLink,
  historyRelation,
  verifyChain,
  type ActivationRecord,
} from '../src/index.js';

// printf '\na,b,c\n1' | sha256sum
const GENESIS_ABC_1 = 'e28124540475e5927b53ef048b5b60499e651ab22fa4cecd44c8d8bea79bd826';
// printf '%s\na,b,c\n5' e281…d826 | sha256sum
const ABC_5_AFTER_GENESIS = 'b0dfeec38f42d5fadbf577659525831a1adb34cf28bfbb376030a4467f81699c';
// printf '\n\n0' | sha256sum
const GENESIS_EMPTY_0 = '8bce48c578ed64b7695cd6c6217adcd4ae0670f00309340c8671a53dbb9d3d0e';

describe('activationHash', () => {
  it.each([
    { previous: '', baseline: ['a', 'b', 'c'], version: 1, hash: GENESIS_ABC_1 },
    { previous: '', baseline: ['c', 'a', 'b'], version: 1, hash: GENESIS_ABC_1 },
    { previous: GENESIS_ABC_1, baseline: ['b', 'c', 'a'], version: 5, hash: ABC_5_AFTER_GENESIS },
    { previous: '', baseline: [], version: 0, hash: GENESIS_EMPTY_0 },
  ])('sha256($previous, $baseline, $version)', ({ previous, baseline, version, hash }) => {
    expect(activationHash(previous, baseline, version)).toBe(hash);
  });

  it('does not sort the caller’s array in place', () => {
    const baseline = ['c', 'a'];
    activationHash('', baseline, 1);
    expect(baseline).toEqual(['c', 'a']);
  });
});

function chain(...links: Array<[string[], number]>): ActivationRecord[] {
  return links.reduce<ActivationRecord[]>((history, [baseline, version]) => appendActivation(history, baseline, version), []);
}

describe('appendActivation and verifyChain', () => {
  it('appends sorted records that chain from genesis', () => {
    const history = chain([['c', 'b', 'a'], 1], [['a', 'b', 'c'], 5]);
    expect(history).toEqual([
      { hash: GENESIS_ABC_1, baseline: ['a', 'b', 'c'], version: 1 },
      { hash: ABC_5_AFTER_GENESIS, baseline: ['a', 'b', 'c'], version: 5 },
    ]);
    expect(verifyChain(history)).toBe(true);
  });

  it('returns a new array and leaves its inputs alone', () => {
    const history = Object.freeze(chain([['a'], 1]).map((record) => Object.freeze(record)));
    const baseline = Object.freeze(['b', 'a']);
    const next = appendActivation(history, baseline, 2);
    expect(next).toHaveLength(2);
    expect(history).toHaveLength(1);
    expect(next[0]).not.toBe(history[0]);
  });

  it.each([
    { name: 'the same version twice', version: 1 },
    { name: 'an older version', version: 0 },
    { name: 'a fractional version', version: 1.5 },
  ])('asserts on $name', ({ version }) => {
    expect(() => appendActivation(chain([['a'], 1]), ['a'], version)).toThrow();
  });

  const valid = chain([['a', 'b'], 1], [['a', 'b'], 4], [['a', 'b', 'c'], 9]);
  const tamper = (index: number, change: Partial<ActivationRecord>): ActivationRecord[] =>
    valid.map((record, i) => (i === index ? { ...record, ...change } : record));
  it.each([
    { name: 'an empty history', history: [] as ActivationRecord[], broken: -1 },
    { name: 'a valid chain', history: valid, broken: -1 },
    { name: 'a changed baseline', history: tamper(1, { baseline: ['a', 'x'] }), broken: 1 },
    { name: 'a changed version', history: tamper(2, { version: 10 }), broken: 2 },
    { name: 'a changed hash', history: tamper(0, { hash: '0'.repeat(64) }), broken: 0 },
    { name: 'a dropped first link', history: valid.slice(1), broken: 0 },
    { name: 'a dropped middle link', history: [valid[0]!, valid[2]!], broken: 1 },
    { name: 'reordered links', history: [valid[1]!, valid[0]!], broken: 0 },
    {
      name: 'a version that goes back (hash recomputed)',
      history: [valid[0]!, { baseline: ['a'], version: 1, hash: activationHash(valid[0]!.hash, ['a'], 1) }],
      broken: 1,
    },
  ])('verifyChain on $name', ({ history, broken }) => {
    expect(firstBrokenLink(history)).toBe(broken);
    expect(verifyChain(history)).toBe(broken === -1);
  });
});

describe('historyRelation', () => {
  const cluster = chain([['a', 'b'], 1], [['a', 'b'], 4], [['a', 'b', 'c'], 9]);
  const elsewhere = chain([['a', 'b'], 2]);
  const forked = [...cluster.slice(0, 2), ...appendActivation(cluster.slice(0, 2), ['a', 'b', 'd'], 9).slice(2)];
  it.each([
    { name: 'both empty', local: [] as ActivationRecord[], remote: [] as ActivationRecord[], relation: 'equal' },
    { name: 'same chain', local: cluster, remote: cluster, relation: 'equal' },
    { name: 'empty local', local: [], remote: cluster, relation: 'behind' },
    { name: 'strict prefix', local: cluster.slice(0, 2), remote: cluster, relation: 'behind' },
    { name: 'empty cluster', local: cluster, remote: [], relation: 'ahead' },
    { name: 'local extends cluster', local: cluster, remote: cluster.slice(0, 1), relation: 'ahead' },
    { name: 'activated elsewhere', local: elsewhere, remote: cluster, relation: 'diverged' },
    { name: 'same length, last link differs', local: forked, remote: cluster, relation: 'diverged' },
    { name: 'shorter and differs', local: elsewhere, remote: cluster.slice(0, 2), relation: 'diverged' },
    { name: 'longer and differs', local: forked, remote: cluster.slice(0, 1).concat(elsewhere), relation: 'diverged' },
  ])('$name → $relation', ({ local, remote, relation }) => {
    expect(historyRelation(local, remote)).toBe(relation);
  });
});
