// Proves, as a short CI version of `npm run campaign` (docs/verification.md), that FULL_SYNC loses
// no acknowledged write and serves no stale read under faults: for each seed, a fresh `ballast dev`
// cluster (3 members, each in its own network namespace; 16 partitions, backups 1, grace 6 s) runs
// 5 ioredis Cluster clients (registers: GET/SET of unique values; lists: APPEND of unique tokens,
// read whole) for 15 s while the seed's schedule injects kill -9, SIGSTOP pauses and network
// partitions (symmetric, one-way, bridge); then everything is healed, the cluster settles and every
// key is read once more. Every operation is in a history checked for linearizability (registers)
// and for lost, duplicated or reordered elements (lists).
// Invariant: zero anomalies, the cluster settles, every key is read.
// Also: the same seed yields the same schedule (so a printed seed replays it).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { campaignSchedule, removeDirectory, runSeed, scheduleToJsonl, summaryLine, temporaryDirectory, type FaultKind } from '@ballast/testkit';

const SMOKE_KINDS: FaultKind[] = ['kill', 'partition', 'pause'];
const SMOKE_SEEDS = [2, 3, 5];
const SMOKE_DURATION_MS = 15_000;
const GRACE_SECONDS = 6;

describe('campaign schedules', () => {
  it('are a function of the seed and options: the same seed replays the same schedule', () => {
    const first = scheduleToJsonl(campaignSchedule(7, 60_000, GRACE_SECONDS));
    expect(scheduleToJsonl(campaignSchedule(7, 60_000, GRACE_SECONDS))).toBe(first);
    expect(scheduleToJsonl(campaignSchedule(8, 60_000, GRACE_SECONDS))).not.toBe(first);
    // Bounded: every fault ends inside the faulty phase.
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      for (const fault of campaignSchedule(seed, 60_000, GRACE_SECONDS).faults) expect(fault.atMs + fault.durationMs).toBeLessThanOrEqual(60_000);
    }
  });

  it('the smoke seeds each contain a kill and a partition', () => {
    for (const seed of SMOKE_SEEDS) {
      const kinds = new Set(campaignSchedule(seed, SMOKE_DURATION_MS, GRACE_SECONDS, SMOKE_KINDS).faults.map((fault) => fault.fault.kind));
      expect([...kinds].sort()).toEqual(expect.arrayContaining(['kill', 'partition']));
    }
  });
});

describe('campaign smoke: FULL_SYNC under kill -9, pauses and partitions', () => {
  for (const seed of SMOKE_SEEDS) {
    it(`seed ${seed}: no anomaly, settled, every key read`, async () => {
      const outDir = temporaryDirectory(`ballast-campaign-${seed}-`);
      const result = await runSeed({
        seed,
        mode: 'FULL_SYNC',
        durationMs: SMOKE_DURATION_MS,
        outDir,
        kinds: SMOKE_KINDS,
        graceSeconds: GRACE_SECONDS,
        quietMs: 1500,
        // Not the campaign's default lab: a campaign may run meanwhile.
        labName: 'cmpsmk',
        subnet: '10.233.0',
      });
      const line = summaryLine(result);
      console.log(line);
      // On failure the report, history and logs stay for the investigation.
      expect(result.anomalies, `${line}\nsee ${path.join(outDir, 'report.txt')}`).toBe(0);
      expect(result.verdict, `${line}\nsee ${path.join(outDir, 'report.txt')}`).toBe('valid');
      expect(result.ok).toBeGreaterThan(100);
      removeDirectory(outDir);
    }, 90_000);
  }
});
