// Proves the text of formatOp and formatReport: one line per op (process, kind, key, value or list,
// [invoke..complete] in ms, result, error), long lists elided in the middle; a report gives the
// verdict, counts, unknown keys, stats, then each anomaly with its ops.
import { describe, expect, it } from 'vitest';
import { checkLinearizableRegisters, formatOp, formatReport, type CheckReport } from '../../src/history/index.js';
import { HistoryBuilder } from './support.js';

describe('formatOp', () => {
  it.each([
    [new HistoryBuilder('k7').write(3, 'v12', 1_203_100, 1_210_400).ops(), 'p3 write k7 "v12" [1203.1ms..1210.4ms] ok'],
    [new HistoryBuilder().read(1, null, 0, 1500).ops(), 'p1 read k null [0.0ms..1.5ms] ok'],
    [new HistoryBuilder().read(1, null, 0, null, 'info').ops(), 'p1 read k - [0.0ms..?] info (timeout)'],
    [new HistoryBuilder().append(2, 'e1', 1000, 2000, 'fail').ops(), 'p2 append k "e1" [1.0ms..2.0ms] fail (refused)'],
    [new HistoryBuilder().readAll(4, ['a', 'b'], 0, 100).ops(), 'p4 readAll k ["a","b"] [0.0ms..0.1ms] ok'],
  ])('%#: %s', (ops, line) => {
    expect(formatOp(ops[0]!)).toBe(line);
  });

  it('elides the middle of a long list and gives its length', () => {
    const values = Array.from({ length: 20 }, (_, index) => `e${String(index)}`);
    const [op] = new HistoryBuilder().readAll(1, values, 0, 1000).ops();
    expect(formatOp(op!)).toBe(
      'p1 readAll k ["e0","e1","e2","e3","e4","e5",…(8 more),"e14","e15","e16","e17","e18","e19"] (20 elements) [0.0ms..1.0ms] ok',
    );
  });
});

describe('formatReport', () => {
  it('prints the verdict, counts, stats and each anomaly with its ops', () => {
    const ops = new HistoryBuilder('k7')
      .write(1, 'v1', 1000, 2000)
      .write(3, 'v12', 1_203_100, 1_210_400)
      .read(4, 'v12', 1_210_500, 1_211_000)
      .read(5, 'v1', 1_300_000, 1_300_500)
      .ops();
    expect(formatReport('registers', checkLinearizableRegisters(ops))).toBe(
      [
        'registers: INVALID',
        'checked 1 keys, 4 ops; 1 anomalies',
        'stats: failedOps=0, indeterminateReads=0, searchSteps=0, indeterminateWritesObserved=0, indeterminateWritesUnobserved=0',
        '- stale-read on k7: read began at 1300.0ms and returned "v1", written by p1 (completed at 2.0ms, before the ' +
          'overwrite was invoked), but p3 overwrote it with "v12", acknowledged at 1210.4ms, before the read began',
        '    p1 write k7 "v1" [1.0ms..2.0ms] ok',
        '    p3 write k7 "v12" [1203.1ms..1210.4ms] ok',
        '    p5 read k7 "v1" [1300.0ms..1300.5ms] ok',
        '',
      ].join('\n'),
    );
  });

  it('names unknown keys and anomalies not listed', () => {
    const report: CheckReport = {
      valid: 'unknown',
      checked: { keys: 3, ops: 10 },
      anomalies: [],
      unknownKeys: ['a', 'b'],
      anomaliesOmitted: 0,
    };
    expect(formatReport('t', report)).toBe('t: UNKNOWN (search bound reached)\nchecked 3 keys, 10 ops; 0 anomalies\nunknown keys: a, b\n');
    expect(formatReport('t', { ...report, valid: true, unknownKeys: [] })).toBe('t: valid\nchecked 3 keys, 10 ops; 0 anomalies\n');
    const omitted = formatReport('t', { ...report, valid: false, anomaliesOmitted: 4 });
    expect(omitted).toContain('4 anomalies (4 not listed)');
  });
});
