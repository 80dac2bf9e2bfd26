/**
 * One campaign run: a seed's fault schedule against a fresh `ballast dev` cluster (members in
 * network namespaces) under a recorded workload, then heal, settle, final reads, and the checkers.
 *
 * Timeline: workload and map monitor start → the schedule runs (each fault healed after its
 * duration) → at the end of the faulty phase everything is healed → the workload runs on for a
 * quiet period → it stops → the cluster is waited for (bounded) until settled: every member back in
 * the baseline, nothing under-replicated, lost, pending or moving → every key is read once more.
 *
 * Files, in `<outDir>`: schedule.jsonl (replayable: the header holds seed and options),
 * history.jsonl (every operation), events.jsonl (fault starts and heals, primary changes seen),
 * report.txt and report.json (verdicts, anomalies with their operations, losses), and data/ with
 * `ballast dev`'s output (operator.log) and each member's log (c-i.log). A run that does not settle
 * or cannot read a key also gets diagnostics.json: each member's view of the cluster and its map,
 * its rebalance share and its replication metrics, taken before the cluster is stopped.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultInjector, type FaultEvent } from '../faults/injector.js';
import { describeFault, generateSchedule, scheduleToJsonl, type FaultKind, type Schedule } from '../faults/schedule.js';
import { checkAppends, checkLinearizableRegisters, formatReport, HistoryRecorder, monotonicMicroseconds, type CheckReport } from '../history/index.js';
import { removeDirectory } from '../processes.js';
import { CampaignCluster, type WriteSynchronization } from './dev-cluster.js';
import { findLostWrites, type LossSummary } from './losses.js';
import { MapMonitor } from './map-monitor.js';
import { Workload } from './workload.js';

export const CAMPAIGN_MEMBERS = ['c-0', 'c-1', 'c-2'];
export const CAMPAIGN_PARTITIONS = 16;
export const REGISTER_KEYS = ['reg:0', 'reg:1', 'reg:2', 'reg:3', 'reg:4', 'reg:5'];
export const APPEND_KEYS = ['list:0', 'list:1', 'list:2'];

export interface SeedRunOptions {
  seed: number;
  mode: WriteSynchronization;
  /** The faulty phase (the run takes longer: start, quiet period, settle, final reads). */
  durationMs: number;
  /** This run's directory. */
  outDir: string;
  kinds?: readonly FaultKind[];
  clients?: number;
  graceSeconds?: number;
  /** Workload after the heal, before the final reads (default 3000). */
  quietMs?: number;
  /** Lab name and /24: distinct per concurrent campaign. */
  labName?: string;
  subnet?: string;
  /** Keep the members' LMDB directories even when the run is valid. */
  keepData?: boolean;
  /** Where progress lines go (schedule JSON lines, fault events). */
  log?: (line: string) => void;
}

export type Verdict = 'valid' | 'anomalies' | 'unknown' | 'incomplete';

export interface SeedResult {
  seed: number;
  mode: WriteSynchronization;
  schedule: Schedule;
  faultCounts: Partial<Record<FaultKind, number>>;
  faultErrors: string[];
  ops: number;
  ok: number;
  fail: number;
  info: number;
  registers: CheckReport;
  appends: CheckReport;
  anomalies: number;
  losses: LossSummary;
  settled: { settled: boolean; why: string; waitedMs: number };
  unreadKeys: string[];
  /**
   * valid: both checkers valid, settled, every key read. anomalies: a checker found one (under
   * PRIMARY_SYNC lost writes are expected; see losses). unknown: a search hit its bound.
   * incomplete: no anomaly, but the cluster did not settle, a final read failed or a fault failed.
   */
  verdict: Verdict;
  outDir: string;
  elapsedMs: number;
}

export function campaignSchedule(seed: number, durationMs: number, graceSeconds: number, kinds?: readonly FaultKind[]): Schedule {
  return generateSchedule({ seed, durationMs, members: CAMPAIGN_MEMBERS, graceMs: graceSeconds * 1000, ...(kinds === undefined ? {} : { kinds }) });
}

function verdictOf(result: Omit<SeedResult, 'verdict'>): Verdict {
  if (result.anomalies > 0) return 'anomalies';
  if (result.registers.valid === 'unknown' || result.appends.valid === 'unknown') return 'unknown';
  if (!result.settled.settled || result.unreadKeys.length > 0 || result.faultErrors.length > 0) return 'incomplete';
  return 'valid';
}

export function summaryLine(result: SeedResult): string {
  const faults = Object.entries(result.faultCounts).map(([kind, count]) => `${kind} ${count}`).join(', ');
  const losses =
    result.losses.count === 0
      ? 'lost 0'
      : `lost ${result.losses.count}${result.losses.windowMs === null ? '' : ` (window ${result.losses.windowMs.min.toFixed(0)}/${result.losses.windowMs.median.toFixed(0)}/${result.losses.windowMs.max.toFixed(0)} ms min/median/max)`}`;
  const notes = [
    result.settled.settled ? '' : `not settled: ${result.settled.why}`,
    result.unreadKeys.length === 0 ? '' : `unread: ${result.unreadKeys.join(',')}`,
    result.faultErrors.length === 0 ? '' : `${result.faultErrors.length} fault errors`,
  ].filter((note) => note !== '');
  return (
    `seed ${result.seed} ${result.mode}: faults ${result.schedule.faults.length} (${faults}); ` +
    `ops ${result.ops} ok ${result.ok} fail ${result.fail} info ${result.info}; ` +
    `anomalies ${result.anomalies}; ${losses}; verdict ${result.verdict}` +
    (notes.length > 0 ? ` [${notes.join('; ')}]` : '')
  );
}

/** A checker that throws (a bug in it, or a history it cannot take) gives 'unknown', with why. */
function checked(what: string, check: () => CheckReport): CheckReport {
  try {
    return check();
  } catch (error) {
    return { valid: 'unknown', checked: { keys: 0, ops: 0 }, anomalies: [], unknownKeys: [`(${what} checker failed: ${(error as Error).message})`] };
  }
}

function formatLosses(losses: LossSummary): string {
  const lines = [`lost acknowledged writes: ${losses.count}`];
  for (const write of losses.lost) {
    const failover = write.failover === null ? 'no failover seen' : `failover to ${write.failover.primary} (term ${write.failover.term}) seen ${write.windowMs!.toFixed(0)} ms after the ack`;
    const faults = write.faults.length === 0 ? '' : `; faults: ${write.faults.map((fault) => `#${fault.faultId} ${fault.detail}`).join(', ')}`;
    lines.push(`- ${write.kind} ${write.key} ${JSON.stringify(write.value)} (partition ${write.partition}): ${failover}${faults}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function runSeed(options: SeedRunOptions): Promise<SeedResult> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const graceSeconds = options.graceSeconds ?? 6;
  const schedule = campaignSchedule(options.seed, options.durationMs, graceSeconds, options.kinds);
  mkdirSync(options.outDir, { recursive: true });
  const scheduleText = scheduleToJsonl(schedule);
  writeFileSync(path.join(options.outDir, 'schedule.jsonl'), scheduleText);
  for (const line of scheduleText.trimEnd().split('\n')) log(line);
  const dataDir = path.join(options.outDir, 'data');
  const cluster = await CampaignCluster.start({
    labName: options.labName ?? 'camp',
    subnet: options.subnet ?? '10.232.0',
    members: CAMPAIGN_MEMBERS.length,
    partitions: CAMPAIGN_PARTITIONS,
    backups: 1,
    writeSynchronization: options.mode,
    graceSeconds,
    durability: 'sync',
    dataDir,
    operatorLog: path.join(dataDir, 'operator.log'),
  });
  const clock = monotonicMicroseconds;
  const recorder = new HistoryRecorder(clock);
  const monitor = new MapMonitor(cluster.endpoints, clock);
  const workload = new Workload({
    nodes: cluster.endpoints.map(({ host, port }) => ({ host, port })),
    clients: options.clients ?? 5,
    registerKeys: REGISTER_KEYS,
    appendKeys: APPEND_KEYS,
    recorder,
    seed: options.seed,
    operationTimeoutMs: 2000,
    thinkMs: 20,
  });
  const events: FaultEvent[] = [];
  const injector = new FaultInjector(cluster, CAMPAIGN_MEMBERS, clock, (event) => {
    events.push(event);
    log(JSON.stringify({ event }));
  });
  let settled: SeedResult['settled'] = { settled: false, why: 'not reached', waitedMs: 0 };
  let unreadKeys: string[] = [...REGISTER_KEYS, ...APPEND_KEYS];
  let finalReadsFromUs = Number.POSITIVE_INFINITY;
  try {
    monitor.start();
    workload.start();
    try {
      const phaseStarted = performance.now();
      await injector.run(schedule);
      const left = options.durationMs - (performance.now() - phaseStarted);
      if (left > 0) await sleep(left);
    } finally {
      // The one heal of the run, also when the faulty phase throws: what follows (quiet period,
      // settling, final reads, or closing the cluster) must not run under a fault.
      await injector.healAll();
    }
    log(JSON.stringify({ event: { phase: 'healed-all', atUs: clock() } }));
    await sleep(options.quietMs ?? 3000);
    await workload.stop();
    settled = await cluster.waitSettled(60_000);
    finalReadsFromUs = clock();
    ({ unread: unreadKeys } = await workload.finalReads(20, 500));
    if (!settled.settled || unreadKeys.length > 0) {
      writeFileSync(path.join(options.outDir, 'diagnostics.json'), `${JSON.stringify(await cluster.memberDiagnostics(), null, 1)}\n`);
    }
  } finally {
    await workload.stop().catch(() => undefined);
    await monitor.stop();
    await cluster.close().catch((error: unknown) => log(`closing the cluster failed: ${(error as Error).message}`));
  }
  const ops = recorder.ops();
  // The history is kept before anything judges it (a checker that throws loses nothing).
  writeFileSync(path.join(options.outDir, 'history.jsonl'), recorder.toJsonl());
  writeFileSync(
    path.join(options.outDir, 'events.jsonl'),
    [...events.map((event) => JSON.stringify({ fault: event })), ...monitor.changes.map((change) => JSON.stringify({ primary: change }))].join('\n') + '\n',
  );
  const registers = checked('registers', () => checkLinearizableRegisters(ops));
  const appends = checked('appends', () => checkAppends(ops));
  const losses = findLostWrites(ops, { registers: REGISTER_KEYS, appends: APPEND_KEYS }, CAMPAIGN_PARTITIONS, events, monitor.changes, finalReadsFromUs);
  const faultCounts: Partial<Record<FaultKind, number>> = {};
  for (const { fault } of schedule.faults) faultCounts[fault.kind] = (faultCounts[fault.kind] ?? 0) + 1;
  const partial: Omit<SeedResult, 'verdict'> = {
    seed: options.seed,
    mode: options.mode,
    schedule,
    faultCounts,
    faultErrors: events.filter((event) => event.phase === 'error').map((event) => `#${event.faultId} ${event.kind}: ${event.detail}`),
    ops: ops.length,
    ok: ops.filter((op) => op.result === 'ok').length,
    fail: ops.filter((op) => op.result === 'fail').length,
    info: ops.filter((op) => op.result === 'info').length,
    registers,
    appends,
    anomalies: registers.anomalies.length + (registers.anomaliesOmitted ?? 0) + appends.anomalies.length + (appends.anomaliesOmitted ?? 0),
    losses,
    settled,
    unreadKeys,
    outDir: options.outDir,
    elapsedMs: performance.now() - started,
  };
  const result: SeedResult = { ...partial, verdict: verdictOf(partial) };
  writeFileSync(
    path.join(options.outDir, 'report.txt'),
    [
      `${summaryLine(result)}\n`,
      `schedule (seed ${schedule.seed}, ${schedule.durationMs} ms, kinds ${schedule.kinds.join(',')}):\n${schedule.faults.map((fault) => `  #${fault.id} at ${fault.atMs} ms for ${fault.durationMs} ms: ${describeFault(fault.fault)}`).join('\n')}\n`,
      `fault events:\n${events.map((event) => `  ${(event.atUs / 1000).toFixed(1)}ms #${event.faultId} ${event.phase} ${event.kind} ${event.detail}`).join('\n')}\n`,
      `settled: ${settled.settled ? `yes, after ${settled.waitedMs.toFixed(0)} ms` : `NO: ${settled.why}`}\n`,
      formatReport('registers (linearizable)', registers),
      formatReport('appends', appends),
      formatLosses(losses),
      `logs: ${dataDir}/operator.log and ${dataDir}/c-<i>.log\n`,
    ].join('\n'),
  );
  writeFileSync(
    path.join(options.outDir, 'report.json'),
    `${JSON.stringify({ ...result, schedule: undefined, scheduleFile: 'schedule.jsonl' }, null, 2)}\n`,
  );
  // The members' LMDB directories are only kept as evidence (the logs always are).
  if (result.verdict === 'valid' && options.keepData !== true) {
    for (const entry of readdirSync(dataDir, { withFileTypes: true })) if (entry.isDirectory()) removeDirectory(path.join(dataDir, entry.name));
  }
  return result;
}
