#!/usr/bin/env node
// Totals over campaign run directories: what docs/verification.md's results table reports. Reads
// every `report.json` (and its `schedule.jsonl`) under the directories given, so campaigns run side
// by side (`--lab 1`, `--lab 2`) or in several sittings add up to one set of figures.
//
//   node scripts/campaign-summary.mjs .data/campaign/lab1 .data/campaign/lab2
//
// Prints one line per run that found a FULL_SYNC anomaly or did not complete, then the totals
// (CampaignTotals, as `npm run campaign` prints them), with its exit codes: 1 when a FULL_SYNC run
// found an anomaly, 2 when a run did not complete.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const testkit = path.join(root, 'packages/testkit/dist/index.js');
if (!existsSync(testkit)) {
  console.error('packages/testkit is not built: run `npm run build` first');
  process.exit(2);
}
const { CampaignTotals, faultsFromJsonl } = await import(testkit);

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

const totals = new CampaignTotals();
for (const runDirectory of directories.flatMap((directory) => reports(path.resolve(directory))).sort()) {
  const report = JSON.parse(readFileSync(path.join(runDirectory, 'report.json'), 'utf8'));
  const faults = faultsFromJsonl(readFileSync(path.join(runDirectory, report.scheduleFile), 'utf8'));
  if (totals.add({ ...report, faults })) {
    console.log(`${path.relative(process.cwd(), runDirectory)}: ${report.verdict}${report.settled.settled ? '' : ` (not settled: ${report.settled.why})`}`);
  }
}
for (const line of totals.lines()) console.log(line);
process.exit(totals.exitCode);
