// Proves the checkers against the seeded simulation of a correct store: histories of linearizable
// registers and lists driven by concurrent clients (ops take effect at a random instant inside
// their interval; some fail; some end info and take effect later or never) are valid for every seed
// and shape tried, including one key under 20 clients and a 50,000-op history over 100 keys; and
// each mutation (stale read, lost acknowledged write, phantom value, duplicated append, lost
// append, phantom append, reordered append) is caught, with the anomaly naming the changed op.
// Also: the simulation is deterministic per seed and its effect order is a linearization.
import { describe, expect, it } from 'vitest';
import {
  checkAppends,
  checkLinearizableRegisters,
  formatReport,
  historyToJsonl,
  mutateHistory,
  simulateHistory,
  type CheckReport,
  type HistoryMutation,
  type HistoryOp,
  type SimulatedWorkload,
  type SimulationOptions,
} from '../../src/history/index.js';
import { seededRandom } from '../../src/random.js';

const seeds = Array.from({ length: 40 }, (_, index) => index + 1);

function check(workload: SimulatedWorkload, ops: HistoryOp[]): CheckReport {
  return workload === 'register' ? checkLinearizableRegisters(ops) : checkAppends(ops);
}

const shapes: { name: string; options: Omit<SimulationOptions, 'random'> }[] = [
  { name: '5 clients, 10 keys', options: { clients: 5, keys: 10, ops: 1000 } },
  { name: '10 clients, 2 keys', options: { clients: 10, keys: 2, ops: 1000 } },
  { name: '20 clients, 1 key, short think times', options: { clients: 20, keys: 1, ops: 600, thinkUs: { min: 1, max: 20 } } },
  { name: 'many info and failed ops', options: { clients: 8, keys: 3, ops: 600, infoFraction: 0.2, failFraction: 0.2 } },
];

describe.each<SimulatedWorkload>(['register', 'append'])('simulated %s histories are valid', (workload) => {
  it.each(shapes)('$name, 40 seeds', ({ options }) => {
    for (const seed of seeds) {
      const { ops } = simulateHistory({ ...options, workload, random: seededRandom(seed) });
      const report = check(workload, ops);
      if (report.valid !== true) throw new Error(`seed ${String(seed)}:\n${formatReport(workload, report)}`);
    }
  });

  it('50,000 ops over 100 keys with 10 clients', () => {
    const { ops } = simulateHistory({ workload, clients: 10, keys: 100, ops: 50_000, random: seededRandom(2024) });
    const report = check(workload, ops);
    expect(report).toMatchObject({ valid: true, checked: { keys: 100, ops: 50_100 }, unknownKeys: [] });
  });
});

describe('simulateHistory', () => {
  it('is deterministic per seed', () => {
    const make = (seed: number): string => historyToJsonl(simulateHistory({ random: seededRandom(seed), ops: 300 }).ops);
    expect(make(7)).toBe(make(7));
    expect(make(7)).not.toBe(make(8));
  });

  it('ids follow invocations, a process has one op at a time, and info ops retire their process', () => {
    const { ops } = simulateHistory({ random: seededRandom(3), ops: 2000, clients: 6, infoFraction: 0.1 });
    const busyUntil = new Map<number, number>();
    const retired = new Set<number>();
    let lastInvokeUs = -1;
    for (const op of ops) {
      expect(op.invokeUs).toBeGreaterThanOrEqual(lastInvokeUs);
      lastInvokeUs = op.invokeUs;
      expect(retired.has(op.process)).toBe(false);
      expect(op.invokeUs).toBeGreaterThan(busyUntil.get(op.process) ?? -1);
      busyUntil.set(op.process, op.completeUs ?? Number.POSITIVE_INFINITY);
      if (op.result === 'info') retired.add(op.process);
    }
  });

  it('its effect order is a linearization: each read returns the last write before it in that order', () => {
    const { ops, effectOrder } = simulateHistory({ random: seededRandom(5), ops: 3000, keys: 4 });
    const register = new Map<string, string | null>();
    let order = 0;
    const positions = new Map<number, number>();
    for (const id of effectOrder) {
      const op = ops[id]!;
      positions.set(id, order++);
      if (op.kind === 'write') register.set(op.key, op.value);
      if (op.kind === 'read') expect(op.value).toBe(register.get(op.key) ?? null);
    }
    // Real time: an op that completed before another began took effect first.
    const effected = effectOrder.map((id) => ops[id]!).filter((op) => op.result === 'ok');
    for (const [index, op] of effected.entries()) {
      const later = effected[index + 1];
      if (later !== undefined) expect(later.completeUs!).toBeGreaterThan(op.invokeUs);
    }
    expect(ops.every((op) => op.result !== 'fail' || !positions.has(op.id))).toBe(true);
  });
});

describe('mutations are caught', () => {
  const cases: { mutation: HistoryMutation; workload: SimulatedWorkload; kinds: string[] }[] = [
    // A read of an overwritten value is a stale read, or a lost write when nobody read the overwrite.
    { mutation: 'stale-read', workload: 'register', kinds: ['stale-read', 'lost-write'] },
    { mutation: 'lost-write', workload: 'register', kinds: ['lost-write'] },
    { mutation: 'phantom-read', workload: 'register', kinds: ['phantom-read'] },
    { mutation: 'duplicated-append', workload: 'append', kinds: ['duplicated'] },
    { mutation: 'lost-append', workload: 'append', kinds: ['lost'] },
    { mutation: 'phantom-append', workload: 'append', kinds: ['phantom'] },
    { mutation: 'reordered-append', workload: 'append', kinds: ['order-inconsistent'] },
  ];

  it.each(cases)('$mutation ($workload), 40 seeds', ({ mutation, workload, kinds }) => {
    for (const seed of seeds) {
      const history = simulateHistory({ workload, clients: 6, keys: 5, ops: 400, random: seededRandom(seed) });
      const mutated = mutateHistory(history, mutation, seededRandom(seed * 31));
      if (mutated === null) throw new Error(`seed ${String(seed)}: no place for ${mutation}`);
      const report = check(workload, mutated.ops);
      const context = `seed ${String(seed)}, ${mutated.description}:\n${formatReport(mutation, report)}`;
      expect(report.valid, context).toBe(false);
      const named = report.anomalies.filter(
        (anomaly) => kinds.includes(anomaly.kind) && anomaly.ops.some((op) => mutated.targetOpIds.includes(op.id)),
      );
      expect(named.length, context).toBeGreaterThan(0);
    }
  });

  it('returns null when the history has no place for the mutation', () => {
    const history = simulateHistory({ workload: 'register', ops: 5, random: seededRandom(1), finalReads: false });
    expect(mutateHistory(history, 'duplicated-append', seededRandom(1))).toBeNull();
  });

  it('does not change the history it was given', () => {
    const history = simulateHistory({ workload: 'append', ops: 200, random: seededRandom(9) });
    const before = historyToJsonl(history.ops);
    mutateHistory(history, 'lost-append', seededRandom(1));
    mutateHistory(history, 'reordered-append', seededRandom(2));
    expect(historyToJsonl(history.ops)).toBe(before);
  });
});
