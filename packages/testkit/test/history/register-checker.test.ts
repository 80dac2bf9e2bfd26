// Proves checkLinearizableRegisters on single-key read/write registers:
// - classic hand-written histories: concurrent writes read in either order are valid; a read of an
//   overwritten value, of a value never written (or only by a failed write), or of a value before
//   its write began is invalid with a precise kind; an info write may take effect later or never;
// - search findings name the longest linearizable prefix and the op that could not be placed;
// - the bound: a cut search answers 'unknown' (never true), and an anomaly elsewhere still wins;
// - as a fast-check property, the verdict equals an exhaustive search on small random histories,
//   and does not depend on the order of the input or on other keys.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkLinearizableRegisters,
  InvalidHistoryError,
  simulateHistory,
  type HistoryOp,
  type OpResult,
} from '../../src/history/index.js';
import { seededRandom } from '../../src/random.js';
import { bruteForceLinearizable, HistoryBuilder } from './support.js';

const kinds = (ops: HistoryOp[]): string[] => checkLinearizableRegisters(ops).anomalies.map((anomaly) => anomaly.kind);

/** Two writes, "a" by p1 and "b" by p2, both over [0, 10]. */
const concurrentWrites = (): HistoryBuilder => new HistoryBuilder().write(1, 'a', 0, 10).write(2, 'b', 0, 10);

/** "a" written by p1 over [0, 1], then an info write of "b" by p2 at 2. */
const infoOverwrite = (): HistoryBuilder => new HistoryBuilder().write(1, 'a', 0, 1).write(2, 'b', 2, null, 'info');

describe('checkLinearizableRegisters: valid histories', () => {
  it('accepts an empty history', () => {
    expect(checkLinearizableRegisters([])).toMatchObject({ valid: true, checked: { keys: 0, ops: 0 }, anomalies: [] });
  });

  it.each(['a', 'b'])('accepts concurrent writes followed by a read of either (%s)', (seen) => {
    const ops = concurrentWrites().read(3, seen, 11, 12).ops();
    expect(checkLinearizableRegisters(ops)).toMatchObject({ valid: true, anomalies: [], unknownKeys: [] });
  });

  it('accepts concurrent reads that see the two concurrent writes in different states', () => {
    const ops = concurrentWrites().read(3, 'a', 1, 9).read(4, 'b', 1, 9).read(5, 'a', 2, 8).ops();
    expect(checkLinearizableRegisters(ops).valid).toBe(true);
  });

  it('accepts reads of null before any write completed', () => {
    const ops = new HistoryBuilder().read(1, null, 0, 5).write(2, 'a', 1, 10).read(3, null, 2, 9).read(4, 'a', 11, 12).ops();
    expect(checkLinearizableRegisters(ops).valid).toBe(true);
  });

  it('accepts an info write that takes effect long after its client gave up', () => {
    const ops = infoOverwrite().read(3, 'a', 10, 11).read(4, 'b', 20, 21).ops();
    expect(checkLinearizableRegisters(ops).valid).toBe(true);
  });

  it('accepts an info write that never takes effect', () => {
    const ops = infoOverwrite().read(3, 'a', 10, 11).read(4, 'a', 20, 21).ops();
    const report = checkLinearizableRegisters(ops);
    expect(report.valid).toBe(true);
    expect(report.stats).toMatchObject({ indeterminateWritesUnobserved: 1, indeterminateWritesObserved: 0 });
  });

  it('ignores failed ops and info reads, and ops of other kinds', () => {
    const ops = new HistoryBuilder()
      .write(1, 'a', 0, 1)
      .write(2, 'b', 2, 3, 'fail')
      .read(3, null, 4, null, 'info')
      .read(4, 'a', 5, 6)
      .append(5, 'x', 0, 1)
      .ops();
    const report = checkLinearizableRegisters(ops);
    expect(report).toMatchObject({ valid: true, checked: { keys: 1, ops: 4 } });
    expect(report.stats).toMatchObject({ failedOps: 1, indeterminateReads: 1 });
  });
});

describe('checkLinearizableRegisters: anomalies found by the direct checks', () => {
  it('stale-read: a read of a value overwritten (and read) before the read began', () => {
    const ops = new HistoryBuilder().write(1, 'a', 0, 1).write(2, 'b', 2, 3).read(3, 'b', 3.5, 3.8).read(4, 'a', 4, 5).ops();
    const report = checkLinearizableRegisters(ops);
    expect(report.valid).toBe(false);
    expect(report.anomalies).toHaveLength(1);
    const [anomaly] = report.anomalies;
    expect(anomaly).toMatchObject({ kind: 'stale-read', key: 'k' });
    expect(anomaly?.ops.map((op) => op.id)).toEqual([0, 1, 3]);
    expect(anomaly?.message).toContain('overwrote it with "b"');
  });

  it('lost-write: the overwriting acknowledged write was never read', () => {
    const ops = new HistoryBuilder().write(1, 'a', 0, 1).write(2, 'b', 2, 3).read(3, 'a', 4, 5).read(4, 'a', 6, 7).ops();
    const report = checkLinearizableRegisters(ops);
    expect(report.anomalies).toHaveLength(1);
    expect(report.anomalies[0]).toMatchObject({ kind: 'lost-write' });
    expect(report.anomalies[0]?.message).toContain('acknowledged write of "b"');
    expect(report.anomalies[0]?.message).toContain('1 more reads like it');
  });

  it('lost-write from the initial state: null read after an acknowledged write', () => {
    expect(kinds(new HistoryBuilder().write(1, 'a', 0, 1).read(2, null, 2, 3).ops())).toEqual(['lost-write']);
    expect(kinds(new HistoryBuilder().write(1, 'a', 0, 1).read(3, 'a', 1.5, 1.8).read(2, null, 2, 3).ops())).toEqual([
      'stale-read',
    ]);
  });

  it('phantom-read: a value never written, or written only by a failed write', () => {
    expect(kinds(new HistoryBuilder().write(1, 'a', 0, 1).read(2, 'z', 2, 3).ops())).toEqual(['phantom-read']);
    const failed = checkLinearizableRegisters(new HistoryBuilder().write(1, 'a', 0, 1, 'fail').read(2, 'a', 2, 3).ops());
    expect(failed.anomalies[0]).toMatchObject({ kind: 'phantom-read' });
    expect(failed.anomalies[0]?.message).toContain('only a failed write');
    expect(failed.anomalies[0]?.ops.map((op) => op.result)).toEqual(['ok', 'fail']);
  });

  it('future-read: a value read before its write was invoked', () => {
    expect(kinds(new HistoryBuilder().read(1, 'a', 0, 1).write(2, 'a', 2, 3).ops())).toEqual(['future-read']);
  });

  it('an info write cannot make a later read stale (it may not have taken effect)', () => {
    const ops = infoOverwrite().read(3, 'a', 10, 11).ops();
    expect(checkLinearizableRegisters(ops).valid).toBe(true);
  });

  it('lists at most maxAnomaliesPerKey per key and counts the rest', () => {
    const builder = new HistoryBuilder().write(1, 'a', 0, 1);
    for (let index = 0; index < 7; index += 1) builder.read(2 + index, `z${String(index)}`, 2, 3);
    const report = checkLinearizableRegisters(builder.ops(), { maxAnomaliesPerKey: 3 });
    expect(report.anomalies).toHaveLength(3);
    expect(report.anomaliesOmitted).toBe(4);
  });
});

describe('checkLinearizableRegisters: anomalies found by the search', () => {
  it('reads that see b, then a, then b again', () => {
    const ops = concurrentWrites().read(3, 'b', 1, 5).read(4, 'a', 6, 9).read(5, 'b', 10.5, 11).ops();
    expect(bruteForceLinearizable(ops)).toBe(false);
    const report = checkLinearizableRegisters(ops);
    expect(report.valid).toBe(false);
    const [anomaly] = report.anomalies;
    expect(anomaly?.kind).toBe('not-linearizable');
    expect(anomaly?.message).toMatch(/longest linearizable prefix places \d of 5 ops/);
    expect(anomaly?.ops.length).toBeGreaterThan(1);
  });

  it('an info write read, then the value it overwrote read again', () => {
    const ops = infoOverwrite().read(3, 'b', 10, 11).read(4, 'a', 20, 21).ops();
    expect(kinds(ops)).toEqual(['not-linearizable']);
  });

  it('two reads after both writes completed disagree about which came last', () => {
    const ops = concurrentWrites().read(3, 'a', 11, 12).read(4, 'b', 13, 14).ops();
    expect(kinds(ops)).toEqual(['not-linearizable']);
  });
});

describe('checkLinearizableRegisters: bound', () => {
  /**
   * Overlapping writes, each read by an overlapping read: valid. With `disagreeing`, two later
   * reads see the first two writes in both orders: invalid, but only an exhaustive search shows it.
   */
  function hardHistory(key: string, writes: number, disagreeing = false): HistoryOp[] {
    const builder = new HistoryBuilder(key);
    for (let index = 0; index < writes; index += 1) builder.write(index, `v${String(index)}`, 0, 100);
    for (let index = 0; index < writes; index += 1) builder.read(writes + index, `v${String(writes - 1 - index)}`, 1, 99);
    if (disagreeing) builder.read(100, 'v0', 101, 102).read(101, 'v1', 103, 104);
    return builder.ops();
  }

  it.each([
    ['valid', false, true],
    ['invalid', true, false],
  ])('answers unknown, never a verdict, when the search of a hard %s history is cut', (_name, disagreeing, verdict) => {
    const ops = hardHistory('hard', 12, disagreeing);
    expect(checkLinearizableRegisters(ops).valid).toBe(verdict);
    const report = checkLinearizableRegisters(ops, { maxStepsPerKey: 20 });
    expect(report).toMatchObject({ valid: 'unknown', unknownKeys: ['hard'], anomalies: [] });
    expect(report.stats?.['searchSteps']).toBe(20);
  });

  it('answers false when another key has an anomaly', () => {
    const ops = [...hardHistory('hard', 12), ...new HistoryBuilder('bad').write(1, 'a', 0, 1).read(2, 'z', 2, 3).ops()].map(
      (op, id) => ({ ...op, id }),
    );
    const report = checkLinearizableRegisters(ops, { maxStepsPerKey: 5 });
    expect(report.valid).toBe(false);
    expect(report.unknownKeys).toEqual(['hard']);
  });

  it('refuses a bound below one step', () => {
    expect(() => checkLinearizableRegisters([], { maxStepsPerKey: 0 })).toThrow(RangeError);
  });
});

describe('checkLinearizableRegisters: malformed input', () => {
  it.each<[string, Partial<HistoryOp>]>([
    ['duplicate id', { id: 0 }],
    ['ok op without completion', { completeUs: null }],
    ['completion before invocation', { completeUs: -1 }],
    ['write without value', { value: null }],
  ])('throws InvalidHistoryError for %s', (_name, change) => {
    const ops = new HistoryBuilder().read(1, null, 0, 1).write(2, 'a', 0, 1).ops();
    ops[1] = { ...ops[1]!, ...change };
    expect(() => checkLinearizableRegisters(ops)).toThrow(InvalidHistoryError);
  });
});

describe('checkLinearizableRegisters: properties', () => {
  /** A small random history on one key: reads return a written value, null or a phantom. */
  const smallHistory = fc
    .array(
      fc.record({
        isWrite: fc.boolean(),
        invokeUs: fc.integer({ min: 0, max: 30 }),
        durationUs: fc.integer({ min: 0, max: 12 }),
        result: fc.constantFrom<OpResult>('ok', 'ok', 'ok', 'ok', 'fail', 'info'),
        readChoice: fc.integer({ min: -1, max: 8 }),
      }),
      { minLength: 1, maxLength: 9 },
    )
    .map((drafts) =>
      drafts.map((draft, id): HistoryOp => {
        const value = draft.isWrite ? `v${String(id)}` : draft.readChoice < 0 ? null : `v${String(draft.readChoice)}`;
        return {
          id,
          process: id,
          kind: draft.isWrite ? 'write' : 'read',
          key: 'k',
          value,
          invokeUs: draft.invokeUs,
          completeUs: draft.result === 'info' ? null : draft.invokeUs + draft.durationUs,
          result: draft.result,
        };
      }),
    );

  /**
   * The checker (with and without the direct checks) agrees with the exhaustive search on 3000
   * histories, and both verdicts were exercised.
   */
  function expectAgreementWithExhaustiveSearch(histories: fc.Arbitrary<HistoryOp[]>): void {
    let invalid = 0;
    fc.assert(
      fc.property(histories, (ops) => {
        const expected = bruteForceLinearizable(ops);
        if (!expected) invalid += 1;
        const report = checkLinearizableRegisters(ops);
        expect(report.valid).toBe(expected);
        expect(report.anomalies.length > 0).toBe(!expected);
        expect(checkLinearizableRegisters(ops, { directChecks: false }).valid).toBe(expected);
      }),
      { numRuns: 3000 },
    );
    expect(invalid).toBeGreaterThan(100);
    expect(invalid).toBeLessThan(2900);
  }

  it('property: on random histories the verdict equals an exhaustive search', () => {
    expectAgreementWithExhaustiveSearch(smallHistory);
  });

  it('property: the verdict does not depend on the order of the input or on other keys', () => {
    fc.assert(
      fc.property(smallHistory, smallHistory, fc.integer(), (ops, otherKey, seed) => {
        const expected = checkLinearizableRegisters(ops).valid;
        const others = otherKey.map((op) => ({ ...op, key: 'other', id: op.id + 100 }));
        const mixed = fc.sample(fc.shuffledSubarray([...ops, ...others], { minLength: ops.length + others.length }), {
          seed,
          numRuns: 1,
        })[0]!;
        const report = checkLinearizableRegisters(mixed);
        const keyAnomalies = report.anomalies.filter((anomaly) => anomaly.key === 'k');
        expect(keyAnomalies.length > 0).toBe(expected === false);
      }),
      { numRuns: 500 },
    );
  });

  /** A simulated (valid) history with heavy overlap, then maybe one read changed to another value. */
  const nearlyValidHistory = fc
    .record({ seed: fc.integer(), perturb: fc.boolean(), pick: fc.nat(), choice: fc.nat() })
    .map(({ seed, perturb, pick, choice }) => {
      const { ops } = simulateHistory({
        random: seededRandom(seed),
        keys: 1,
        clients: 5,
        ops: 13,
        latencyUs: { min: 2, max: 30 },
        thinkUs: { min: 1, max: 4 },
        failFraction: 0.1,
        infoFraction: 0.15,
        finalReads: true,
      });
      const reads = ops.filter((op) => op.kind === 'read' && op.result === 'ok');
      const values = [null, ...ops.filter((op) => op.kind === 'write').map((op) => op.value)];
      const read = reads[pick % Math.max(1, reads.length)];
      if (perturb && read !== undefined) read.value = values[choice % values.length] ?? null;
      return ops;
    });

  it('property: on overlapping simulated histories, perturbed or not, the verdict equals an exhaustive search', () => {
    expectAgreementWithExhaustiveSearch(nearlyValidHistory);
  });
});
