/**
 * `npm run campaign -- --seeds N [--seed S] [--duration 60] [--mode FULL_SYNC|PRIMARY_SYNC|both]
 * [--out DIR] [--faults kill,pause,...] [--clients 5] [--grace 6] [--keep-data]`
 *
 * Runs seeds S, S+1, ... (each against a fresh cluster, once per mode), prints each schedule and its
 * fault events as JSON lines while it runs, one summary line per run and a total. Exit code: 1 when
 * any FULL_SYNC run found an anomaly; 2 when a run could not be completed or checked (it did not
 * settle, a final read or a fault failed, a search hit its bound, the run crashed); 0 otherwise.
 * PRIMARY_SYNC runs are measured, not judged: their lost acknowledged writes and loss windows are
 * printed.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from '../faults/schedule.js';
import type { WriteSynchronization } from './dev-cluster.js';
import { runSeed, summaryLine, type SeedResult } from './run.js';
import { CampaignTotals } from './totals.js';

export const CAMPAIGN_USAGE = `Usage: npm run campaign -- [--seeds N] [--seed S] [--duration SECONDS] [--mode FULL_SYNC|PRIMARY_SYNC|both]
                           [--out DIR] [--faults KIND,...] [--clients N] [--grace SECONDS] [--lab K] [--keep-data] [--quiet]

  --seeds N        how many schedules (seeds S, S+1, ...; default 1)
  --seed S         the first seed (default: derived from the time, and printed)
  --duration S     the faulty phase of each run, seconds (default 60)
  --mode M         FULL_SYNC (default), PRIMARY_SYNC, or both (each seed in both modes)
  --out DIR        where each run writes schedule, history, events, report and logs
                   (default .data/campaign/<time>, which git ignores)
  --faults LIST    fault kinds to draw from (default all: ${FAULT_KINDS.join(',')})
  --clients N      concurrent clients (default 5)
  --grace S        the cluster's baseline grace timeout, seconds (default 6)
  --lab K          network lab 0-9 (default 0: namespaces ns-camp-*, 10.232.0.0/24; K: ns-campK-*,
                   10.232.K.0/24), so campaigns can run side by side
  --keep-data      keep the members' data directories of valid runs too
  --quiet          print only the summary lines (schedules and events are in the files)
Needs root (network namespaces, nftables, tc) and a build (npm run campaign builds first).`;

function integer(value: string | undefined, fallback: number, name: string, minimum: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < minimum) throw new Error(`--${name} must be an integer of at least ${minimum}, got ${value}`);
  return parsed;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seeds: { type: 'string' },
      seed: { type: 'string' },
      duration: { type: 'string' },
      mode: { type: 'string' },
      out: { type: 'string' },
      faults: { type: 'string' },
      clients: { type: 'string' },
      grace: { type: 'string' },
      lab: { type: 'string' },
      'keep-data': { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(`${CAMPAIGN_USAGE}\n`);
    return 0;
  }
  const seeds = integer(values.seeds, 1, 'seeds', 1);
  const firstSeed = integer(values.seed, Date.now() % 1_000_000, 'seed', 0);
  const durationMs = integer(values.duration, 60, 'duration', 5) * 1000;
  const clients = integer(values.clients, 5, 'clients', 1);
  const graceSeconds = integer(values.grace, 6, 'grace', 1);
  const lab = integer(values.lab, 0, 'lab', 0);
  if (lab > 9) throw new Error(`--lab must be 0-9, got ${lab}`);
  const network = { labName: lab === 0 ? 'camp' : `camp${lab}`, subnet: `10.232.${lab}` };
  const mode = values.mode ?? 'FULL_SYNC';
  if (!['FULL_SYNC', 'PRIMARY_SYNC', 'both'].includes(mode)) throw new Error(`--mode must be FULL_SYNC, PRIMARY_SYNC or both, got ${mode}`);
  const modes: WriteSynchronization[] = mode === 'both' ? ['FULL_SYNC', 'PRIMARY_SYNC'] : [mode as WriteSynchronization];
  const kinds = values.faults?.split(',').map((kind) => kind.trim()) as FaultKind[] | undefined;
  for (const kind of kinds ?? []) if (!FAULT_KINDS.includes(kind)) throw new Error(`unknown fault kind ${kind} (known: ${FAULT_KINDS.join(', ')})`);
  const out = path.resolve(values.out ?? path.join('.data', 'campaign', new Date().toISOString().replaceAll(':', '-')));
  const print = (line: string): void => void process.stdout.write(`${line}\n`);
  const progress = values.quiet === true ? undefined : print;
  print(`campaign: seeds ${firstSeed}..${firstSeed + seeds - 1}, ${modes.join(' and ')}, ${durationMs / 1000} s each, out ${out}`);

  const totals = new CampaignTotals();
  for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
    for (const runMode of modes) {
      const outDir = path.join(out, `seed-${seed}-${runMode}`);
      let result: SeedResult;
      try {
        result = await runSeed({ seed, mode: runMode, durationMs, outDir, clients, graceSeconds, ...network, ...(kinds === undefined ? {} : { kinds }), keepData: values['keep-data'] === true, ...(progress === undefined ? {} : { log: progress }) });
      } catch (error) {
        totals.addCrashed();
        print(`seed ${seed} ${runMode}: run failed: ${(error as Error).stack ?? (error as Error).message}`);
        continue;
      }
      totals.add({ ...result, faults: result.schedule.faults });
      print(summaryLine(result));
    }
  }
  for (const line of totals.lines()) print(`total: ${line}`);
  return totals.exitCode;
}
