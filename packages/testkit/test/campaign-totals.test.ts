// Proves CampaignTotals, the one aggregation `npm run campaign` and scripts/campaign-summary.mjs
// print: figures add up per mode, partition shapes come from the schedule, PRIMARY_SYNC's losses
// are measured but do not fail the campaign, and the exit code is 1 for a FULL_SYNC anomaly and 2
// for a run that did not complete.
import { describe, expect, it } from 'vitest';
import { CampaignTotals, runIsComplete, type RunTotalsInput } from '../src/campaign/totals.js';
import type { ScheduledFault } from '../src/faults/schedule.js';

const partition = (id: number, shape: 'halves' | 'bridge' | 'one-way'): ScheduledFault => ({
  id,
  atMs: 1000 * id,
  durationMs: 2000,
  fault: { kind: 'partition', shape, description: shape, cuts: [{ from: 'c-0', to: 'c-1' }], storeCut: [] },
});

function run(overrides: Partial<RunTotalsInput> = {}): RunTotalsInput {
  return {
    mode: 'FULL_SYNC',
    ops: 1000,
    ok: 990,
    fail: 4,
    info: 6,
    anomalies: 0,
    elapsedMs: 1_800_000,
    verdict: 'valid',
    faultCounts: { kill: 2, partition: 2 },
    losses: { lost: [], count: 0, windowMs: null },
    settled: { settled: true, why: '', waitedMs: 1500 },
    unreadKeys: [],
    faultErrors: [],
    faults: [partition(0, 'halves'), partition(1, 'bridge')],
    ...overrides,
  };
}

const lostWrite = (windowMs: number | null) => ({ windowMs }) as RunTotalsInput['losses']['lost'][number];

describe('CampaignTotals', () => {
  it('adds runs up per mode, faults by kind and partitions by shape', () => {
    const totals = new CampaignTotals();
    totals.add(run());
    totals.add(run({ ops: 2000, ok: 1999, fail: 0, info: 1, settled: { settled: true, why: '', waitedMs: 4500 }, faults: [partition(0, 'one-way')] }));
    expect(totals.lines()).toEqual([
      'FULL_SYNC: 2 runs (valid 2); ops 3,000 (ok 2,989 / fail 4 / info 7); anomalies 0; wall time 1.00 h of runs',
      'faults 8: kill 4, partition 4',
      'partition shapes: bridge 1, halves 1, one-way 1',
      'settling after the faults: median 3.0 s, max 4.5 s (2 settled runs)',
      'FULL_SYNC anomalies 0; incomplete or failed runs 0',
    ]);
    expect(totals.exitCode).toBe(0);
  });

  it('measures PRIMARY_SYNC losses without failing, and fails on a FULL_SYNC anomaly', () => {
    const totals = new CampaignTotals();
    const losses = { lost: [lostWrite(700), lostWrite(1500), lostWrite(null), lostWrite(3400)], count: 4, windowMs: { min: 700, median: 1500, max: 3400 } };
    totals.add(run({ mode: 'PRIMARY_SYNC', anomalies: 3, verdict: 'anomalies', losses }));
    expect(totals.lines()).toContain('PRIMARY_SYNC lost acknowledged writes 4; window 700 / 1,500 / 3,400 ms (min / median / max, over the 3 with a failover seen)');
    expect(totals.exitCode).toBe(0);
    totals.add(run({ anomalies: 1, verdict: 'anomalies' }));
    expect(totals.lines()).toContain('FULL_SYNC anomalies 1; incomplete or failed runs 0');
    expect(totals.exitCode).toBe(1);
  });

  it('counts a run that did not complete, or crashed, as incomplete (exit code 2)', () => {
    const unsettled = run({ verdict: 'incomplete', settled: { settled: false, why: 'partition 3 has no primary', waitedMs: 60_000 } });
    expect(runIsComplete(unsettled)).toBe(false);
    expect(runIsComplete(run({ verdict: 'unknown' }))).toBe(false);
    expect(runIsComplete(run({ faultErrors: ['nft failed'] }))).toBe(false);
    expect(runIsComplete(run({ unreadKeys: ['r:1'] }))).toBe(false);
    expect(runIsComplete(run())).toBe(true);
    const totals = new CampaignTotals();
    totals.add(unsettled);
    totals.addCrashed();
    expect(totals.lines().at(-1)).toBe('FULL_SYNC anomalies 0; incomplete or failed runs 2');
    expect(totals.lines().some((line) => line.startsWith('settling'))).toBe(false);
    expect(totals.exitCode).toBe(2);
  });
});
