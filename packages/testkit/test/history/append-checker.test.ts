// Proves checkAppends on the append workload (a list per key; append adds a unique element; readAll
// returns the list): concurrent appends read in either order are valid; each anomaly — lost,
// stale-read, duplicated, phantom (also: only a failed append added it), future-read, reads that are
// not prefixes of one another, an order against real time — is named with its ops; info appends
// that show up are fine and are counted observed or not; ops of other kinds are ignored.
import { describe, expect, it } from 'vitest';
import { checkAppends, type HistoryOp } from '../../src/history/index.js';
import { HistoryBuilder } from './support.js';

const kinds = (ops: HistoryOp[]): string[] => checkAppends(ops).anomalies.map((anomaly) => anomaly.kind);

describe('checkAppends: valid histories', () => {
  it.each([
    [['x', 'y']],
    [['y', 'x']],
  ])('accepts concurrent appends read in either order (%j)', (order) => {
    const ops = new HistoryBuilder()
      .append(1, 'x', 0, 2)
      .append(2, 'y', 1, 3)
      .readAll(3, [], 0, 1)
      .readAll(4, order, 4, 5)
      .ops();
    expect(checkAppends(ops)).toMatchObject({ valid: true, anomalies: [], checked: { keys: 1, ops: 4 } });
  });

  it('accepts reads that are prefixes of one another, concurrent with the appends', () => {
    const ops = new HistoryBuilder()
      .append(1, 'x', 0, 10)
      .append(2, 'y', 0, 10)
      .readAll(3, ['y'], 1, 9)
      .readAll(4, [], 1, 9)
      .readAll(5, ['y', 'x'], 11, 12)
      .ops();
    expect(checkAppends(ops).valid).toBe(true);
  });

  it('counts info appends observed and not, and ignores failed ones that never show up', () => {
    const ops = new HistoryBuilder()
      .append(1, 'x', 0, null, 'info')
      .append(2, 'y', 0, null, 'info')
      .append(3, 'z', 0, 1, 'fail')
      .readAll(4, ['x'], 5, 6)
      .readAll(5, ['x'], 7, 8)
      .read(6, null, 0, 1)
      .ops();
    const report = checkAppends(ops);
    expect(report).toMatchObject({ valid: true, checked: { keys: 1, ops: 5 } });
    expect(report.stats).toMatchObject({ indeterminateAppendsObserved: 1, indeterminateAppendsUnobserved: 1, failedOps: 1 });
  });
});

describe('checkAppends: anomalies', () => {
  it('lost: an acknowledged append missing from every read that began after it completed', () => {
    const ops = new HistoryBuilder()
      .append(1, 'x', 0, 1)
      .append(2, 'y', 0, 1)
      .readAll(3, ['y'], 2, 3)
      .readAll(4, ['y'], 4, 5)
      .ops();
    const report = checkAppends(ops);
    expect(report.anomalies).toHaveLength(1);
    expect(report.anomalies[0]).toMatchObject({ kind: 'lost', key: 'k' });
    expect(report.anomalies[0]?.message).toContain('acknowledged append of "x"');
    expect(report.anomalies[0]?.message).toContain('every one of the 2 reads');
    expect(report.anomalies[0]?.ops.map((op) => op.id)).toEqual([0, 2]);
  });

  it('lost: an info append seen by one read and gone from the later ones', () => {
    const ops = new HistoryBuilder().append(1, 'x', 0, null, 'info').readAll(2, ['x'], 1, 2).readAll(3, [], 3, 4).ops();
    expect(kinds(ops)).toEqual(['lost']);
    expect(checkAppends(ops).anomalies[0]?.message).toContain('returned by a read that completed at');
  });

  it('stale-read: missing from one later read but present in another', () => {
    const ops = new HistoryBuilder().append(1, 'x', 0, 1).readAll(2, [], 2, 3).readAll(3, ['x'], 4, 5).ops();
    expect(kinds(ops)).toEqual(['stale-read']);
  });

  it('duplicated: an element twice in one read', () => {
    const ops = new HistoryBuilder().append(1, 'x', 0, 1).readAll(2, ['x', 'x'], 2, 3).ops();
    expect(kinds(ops)).toEqual(['duplicated']);
    expect(checkAppends(ops).anomalies[0]?.message).toContain('1 repeated element(s): "x"');
  });

  it('phantom: an element never appended, once per element however many reads hold it', () => {
    const ops = new HistoryBuilder().append(1, 'x', 0, 1).readAll(2, ['x', 'z'], 2, 3).readAll(3, ['x', 'z'], 4, 5).ops();
    expect(kinds(ops)).toEqual(['phantom']);
  });

  it('phantom: an element only a failed append added', () => {
    const ops = new HistoryBuilder().append(1, 'x', 0, 1, 'fail').readAll(2, ['x'], 2, 3).ops();
    const report = checkAppends(ops);
    expect(report.anomalies.map((anomaly) => anomaly.kind)).toEqual(['phantom']);
    expect(report.anomalies[0]?.message).toContain('only a failed append');
  });

  it('future-read: an element read before its append was invoked', () => {
    const ops = new HistoryBuilder().readAll(1, ['x'], 0, 1).append(2, 'x', 2, 3).readAll(3, ['x'], 4, 5).ops();
    expect(kinds(ops)).toEqual(['future-read']);
  });

  it('order-inconsistent: two reads neither of which is a prefix of the other', () => {
    const ops = new HistoryBuilder()
      .append(1, 'x', 0, 10)
      .append(2, 'y', 0, 10)
      .readAll(3, ['x', 'y'], 11, 12)
      .readAll(4, ['y', 'x'], 13, 14)
      .ops();
    const report = checkAppends(ops);
    expect(report.anomalies.map((anomaly) => anomaly.kind)).toEqual(['order-inconsistent']);
    expect(report.anomalies[0]?.message).toContain('disagree at position 0');
  });

  it('order-inconsistent: an append ordered before one that completed before it was invoked', () => {
    const ops = new HistoryBuilder().append(1, 'x', 0, 1).append(2, 'y', 2, 3).readAll(3, ['y', 'x'], 4, 5).ops();
    const report = checkAppends(ops);
    expect(report.anomalies.map((anomaly) => anomaly.kind)).toEqual(['order-inconsistent']);
    expect(report.anomalies[0]?.message).toContain('orders "y" before "x"');
  });

  it('checks keys independently and in key order', () => {
    const ops = new HistoryBuilder('b')
      .append(1, 'x', 0, 1)
      .readAll(2, ['x', 'x'], 2, 3)
      .onKey('a')
      .append(3, 'y', 0, 1)
      .readAll(4, ['z'], 2, 3)
      .onKey('c')
      .append(5, 'w', 0, 1)
      .readAll(6, ['w'], 2, 3)
      .ops();
    const report = checkAppends(ops);
    expect(report.checked).toEqual({ keys: 3, ops: 6 });
    expect(report.anomalies.map((anomaly) => `${anomaly.key}:${anomaly.kind}`)).toEqual(['a:phantom', 'a:lost', 'b:duplicated']);
  });
});
