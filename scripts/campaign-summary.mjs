#!/usr/bin/env node
// Totals over campaign run directories: what docs/verification.md's results table reports. Reads
// every `report.json` (and its `schedule.jsonl`) under the directories given, so campaigns run side
// by side (`--lab 1`, `--lab 2`) or in several sittings add up to one set of figures.
//
//   node scripts/campaign-summary.mjs .data/campaign/lab1 .data/campaign/lab2
//
// Prints one line per verdict that is not `valid`, then the totals. Exit code 1 when a FULL_SYNC
// run found an anomaly, 2 when a run was not valid for another reason, as `npm run campaign` does.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const testkit = path.join(root, 'packages/testkit/dist/index.js');
if (!existsSync(testkit)) {
  console.error('packages/testkit is not built: run `npm run build` first');
  process.exit(2);
}
const { median } = await import(testkit);

function reports(directory) {
  const found = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const runDirectory = path.join(directory, entry.name);
    if (existsSync(path.join(runDirectory, 'report.json'))) found.push(runDirectory);
    else found.push(...reports(runDirectory));
  }
  return found;
}

const directories = process.argv.slice(2);
if (directories.length === 0) {
  console.error('usage: node scripts/campaign-summary.mjs DIR [DIR...]');
  process.exit(2);
}

const totals = new Map();
const faults = new Map();
const shapes = new Map();
const windows = [];
const settleWaits = [];
let fullSyncAnomalies = 0;
let notValid = 0;
const add = (map, key, value = 1) => map.set(key, (map.get(key) ?? 0) + value);

for (const runDirectory of directories.flatMap((directory) => reports(path.resolve(directory))).sort()) {
  const report = JSON.parse(readFileSync(path.join(runDirectory, 'report.json'), 'utf8'));
  const mode = report.mode;
  add(totals, `${mode} runs`);
  add(totals, `${mode} ops`, report.ops);
  add(totals, `${mode} ok`, report.ok);
  add(totals, `${mode} fail`, report.fail);
  add(totals, `${mode} info`, report.info);
  add(totals, `${mode} anomalies`, report.anomalies);
  add(totals, `${mode} seconds`, report.elapsedMs / 1000);
  add(totals, `${mode} verdict ${report.verdict}`);
  for (const [kind, count] of Object.entries(report.faultCounts)) add(faults, kind, count);
  for (const line of readFileSync(path.join(runDirectory, report.scheduleFile), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const fault = JSON.parse(line).fault;
    if (fault?.kind === 'partition') add(shapes, fault.shape);
  }
  if (report.settled.settled) settleWaits.push(report.settled.waitedMs);
  if (mode === 'FULL_SYNC') fullSyncAnomalies += report.anomalies;
  if (mode === 'PRIMARY_SYNC') for (const write of report.losses.lost) if (write.windowMs !== null) windows.push(write.windowMs);
  const expected = report.verdict === 'valid' || (mode === 'PRIMARY_SYNC' && report.verdict === 'anomalies' && report.settled.settled && report.unreadKeys.length === 0);
  if (!expected) {
    notValid += 1;
    console.log(`${path.relative(process.cwd(), runDirectory)}: ${report.verdict}${report.settled.settled ? '' : ` (not settled: ${report.settled.why})`}`);
  }
}

const round = (value) => Math.round(value).toLocaleString('en-US');
for (const mode of ['FULL_SYNC', 'PRIMARY_SYNC']) {
  const runs = totals.get(`${mode} runs`) ?? 0;
  if (runs === 0) continue;
  const verdicts = [...totals.entries()].filter(([key]) => key.startsWith(`${mode} verdict `)).map(([key, count]) => `${key.slice(`${mode} verdict `.length)} ${count}`);
  console.log(
    `${mode}: ${runs} runs (${verdicts.join(', ')}); ops ${round(totals.get(`${mode} ops`))} ` +
      `(ok ${round(totals.get(`${mode} ok`))} / fail ${round(totals.get(`${mode} fail`))} / info ${round(totals.get(`${mode} info`))}); ` +
      `anomalies ${totals.get(`${mode} anomalies`)}; wall time ${(totals.get(`${mode} seconds`) / 3600).toFixed(2)} h of runs`,
  );
}
const sortedFaults = [...faults.entries()].sort(([a], [b]) => a.localeCompare(b));
console.log(`faults ${round([...faults.values()].reduce((sum, count) => sum + count, 0))}: ${sortedFaults.map(([kind, count]) => `${kind} ${count}`).join(', ')}`);
if (shapes.size > 0) console.log(`partition shapes: ${[...shapes.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([shape, count]) => `${shape} ${count}`).join(', ')}`);
if (settleWaits.length > 0) {
  console.log(`settling after the faults: median ${(median(settleWaits) / 1000).toFixed(1)} s, max ${(Math.max(...settleWaits) / 1000).toFixed(1)} s (${settleWaits.length} settled runs)`);
}
if (windows.length > 0) {
  console.log(`PRIMARY_SYNC lost acknowledged writes ${windows.length}: window ${round(Math.min(...windows))} / ${round(median(windows))} / ${round(Math.max(...windows))} ms (min / median / max)`);
}
process.exit(fullSyncAnomalies > 0 ? 1 : notValid > 0 ? 2 : 0);
