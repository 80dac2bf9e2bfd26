/**
 * A campaign's totals: what `npm run campaign` prints after its runs and what
 * `scripts/campaign-summary.mjs` prints over run directories (each run's report.json with its
 * schedule.jsonl read back), so both report the same figures the same way.
 */
import type { ScheduledFault } from '../faults/schedule.js';
import { median } from '../statistics.js';
import type { WriteSynchronization } from './dev-cluster.js';
import type { SeedResult } from './run.js';

/** What one run adds: a SeedResult, or a report.json with its schedule's faults. */
export type RunTotalsInput = Pick<
  SeedResult,
  'mode' | 'ops' | 'ok' | 'fail' | 'info' | 'anomalies' | 'elapsedMs' | 'verdict' | 'faultCounts' | 'losses' | 'settled' | 'unreadKeys' | 'faultErrors'
> & { faults: readonly ScheduledFault[] };

interface ModeTotals {
  runs: number;
  ops: number;
  ok: number;
  fail: number;
  info: number;
  anomalies: number;
  seconds: number;
  verdicts: Map<string, number>;
}

const count = (map: Map<string, number>, key: string, value = 1): void => void map.set(key, (map.get(key) ?? 0) + value);
const round = (value: number): string => Math.round(value).toLocaleString('en-US');
const listed = (map: Map<string, number>): string =>
  [...map.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key} ${value}`)
    .join(', ');

/**
 * A run is complete when it was checked to the end: the searches finished, the cluster settled,
 * every key was read back and every fault was carried out. A PRIMARY_SYNC run with anomalies can be
 * complete: its lost writes are measured, not judged.
 */
export function runIsComplete(run: Pick<RunTotalsInput, 'verdict' | 'settled' | 'unreadKeys' | 'faultErrors'>): boolean {
  return run.verdict !== 'unknown' && run.settled.settled && run.unreadKeys.length === 0 && run.faultErrors.length === 0;
}

export class CampaignTotals {
  private readonly modes = new Map<WriteSynchronization, ModeTotals>();
  private readonly faults = new Map<string, number>();
  private readonly shapes = new Map<string, number>();
  private readonly settleWaitsMs: number[] = [];
  private readonly windowsMs: number[] = [];
  private primarySyncLost = 0;
  private fullSyncAnomalies = 0;
  /** Runs that crashed, or did not complete (runIsComplete). */
  private incomplete = 0;

  /** Adds a run; true when it counts against the campaign (a FULL_SYNC anomaly, or not complete). */
  add(run: RunTotalsInput): boolean {
    const mode = this.modes.get(run.mode) ?? { runs: 0, ops: 0, ok: 0, fail: 0, info: 0, anomalies: 0, seconds: 0, verdicts: new Map<string, number>() };
    this.modes.set(run.mode, mode);
    mode.runs += 1;
    mode.ops += run.ops;
    mode.ok += run.ok;
    mode.fail += run.fail;
    mode.info += run.info;
    mode.anomalies += run.anomalies;
    mode.seconds += run.elapsedMs / 1000;
    count(mode.verdicts, run.verdict);
    for (const [kind, times] of Object.entries(run.faultCounts)) count(this.faults, kind, times);
    for (const { fault } of run.faults) if (fault.kind === 'partition') count(this.shapes, fault.shape);
    if (run.settled.settled) this.settleWaitsMs.push(run.settled.waitedMs);
    if (run.mode === 'FULL_SYNC') this.fullSyncAnomalies += run.anomalies;
    if (run.mode === 'PRIMARY_SYNC') {
      this.primarySyncLost += run.losses.count;
      for (const write of run.losses.lost) if (write.windowMs !== null) this.windowsMs.push(write.windowMs);
    }
    const complete = runIsComplete(run);
    if (!complete) this.incomplete += 1;
    return !complete || (run.mode === 'FULL_SYNC' && run.anomalies > 0);
  }

  /** A run that crashed before it produced a result. */
  addCrashed(): void {
    this.incomplete += 1;
  }

  /** 1 when a FULL_SYNC run found an anomaly, 2 when a run did not complete, else 0. */
  get exitCode(): number {
    if (this.fullSyncAnomalies > 0) return 1;
    return this.incomplete > 0 ? 2 : 0;
  }

  lines(): string[] {
    const lines: string[] = [];
    for (const [name, mode] of [...this.modes.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(
        `${name}: ${mode.runs} runs (${listed(mode.verdicts)}); ops ${round(mode.ops)} (ok ${round(mode.ok)} / fail ${round(mode.fail)} / info ${round(mode.info)}); ` +
          `anomalies ${mode.anomalies}; wall time ${(mode.seconds / 3600).toFixed(2)} h of runs`,
      );
    }
    const faultTotal = [...this.faults.values()].reduce((sum, times) => sum + times, 0);
    lines.push(`faults ${round(faultTotal)}: ${listed(this.faults)}`);
    if (this.shapes.size > 0) lines.push(`partition shapes: ${listed(this.shapes)}`);
    if (this.settleWaitsMs.length > 0) {
      const [middle, most] = [median(this.settleWaitsMs), Math.max(...this.settleWaitsMs)].map((ms) => (ms / 1000).toFixed(1));
      lines.push(`settling after the faults: median ${middle} s, max ${most} s (${this.settleWaitsMs.length} settled runs)`);
    }
    if (this.modes.has('PRIMARY_SYNC')) {
      let window = '';
      if (this.windowsMs.length > 0) {
        const [least, middle, most] = [Math.min(...this.windowsMs), median(this.windowsMs), Math.max(...this.windowsMs)].map(round);
        window = `; window ${least} / ${middle} / ${most} ms (min / median / max, over the ${this.windowsMs.length} with a failover seen)`;
      }
      lines.push(`PRIMARY_SYNC lost acknowledged writes ${this.primarySyncLost}${window}`);
    }
    lines.push(`FULL_SYNC anomalies ${this.fullSyncAnomalies}; incomplete or failed runs ${this.incomplete}`);
    return lines;
  }
}
