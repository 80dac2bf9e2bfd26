// Proves searchLinearization on its own, with a model other than a register (a fetch-and-increment
// counter: each op returns the value before its increment): overlapping ops in any order are found;
// a real-time order the values contradict is refused, with the deepest attempt named; an op with an
// infinite return need never be placed; the step bound answers 'unknown'; unsorted input throws.
import { describe, expect, it } from 'vitest';
import { searchLinearization, type SearchOp, type SearchResult } from '../../src/history/index.js';

interface CounterOp extends SearchOp {
  returned: number;
}

function searchCounter(ops: CounterOp[], maxSteps = 10_000): SearchResult {
  return searchLinearization({
    ops,
    initialState: 0,
    step: (state, index) => (ops[index]?.returned === state ? state + 1 : -1),
    maxSteps,
  });
}

describe('searchLinearization with a counter model', () => {
  it('finds the order of overlapping increments', () => {
    const ops = [
      { invokeUs: 0, returnUs: 10, returned: 2 },
      { invokeUs: 1, returnUs: 10, returned: 0 },
      { invokeUs: 2, returnUs: 10, returned: 1 },
      { invokeUs: 11, returnUs: 12, returned: 3 },
    ];
    expect(searchCounter(ops)).toMatchObject({ outcome: 'linearizable' });
  });

  it('refuses values that contradict real time, naming the deepest attempt', () => {
    const ops = [
      { invokeUs: 0, returnUs: 1, returned: 0 },
      { invokeUs: 2, returnUs: 3, returned: 2 },
      { invokeUs: 4, returnUs: 5, returned: 1 },
    ];
    const result = searchCounter(ops);
    expect(result.outcome).toBe('not-linearizable');
    if (result.outcome !== 'not-linearizable') return;
    expect(result.deepest).toEqual({ linearizedCount: 1, lastLinearized: [0], state: 1, stuckOp: 1, pendingOps: [] });
  });

  it('does not need to place an op whose return is infinite', () => {
    const ops = [
      { invokeUs: 0, returnUs: Number.POSITIVE_INFINITY, returned: 7 },
      { invokeUs: 1, returnUs: 2, returned: 0 },
    ];
    expect(searchCounter(ops).outcome).toBe('linearizable');
  });

  it('answers unknown at the step bound', () => {
    const ops = Array.from({ length: 10 }, (_, index) => ({ invokeUs: 0, returnUs: 100, returned: 9 - index }));
    expect(searchCounter(ops).outcome).toBe('linearizable');
    expect(searchCounter(ops, 3)).toEqual({ outcome: 'unknown', steps: 3 });
  });

  it('throws on ops not sorted by invocation', () => {
    const ops = [
      { invokeUs: 5, returnUs: 6, returned: 0 },
      { invokeUs: 1, returnUs: 2, returned: 1 },
    ];
    expect(() => searchCounter(ops)).toThrow(/sorted by invokeUs/);
  });
});
