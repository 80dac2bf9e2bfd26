#!/usr/bin/env node
// Benchmark of the history checkers on simulated (valid) histories: seconds to check, and the ratio
// to reading the same history back from JSONL, measured in the same run (a peer on this machine:
// the checkers should cost a small multiple of parsing what they check).
//
//   npx tsc -b && node packages/testkit/test/history/bench-checkers.mjs           # full run
//   npx tsc -b && node packages/testkit/test/history/bench-checkers.mjs --quick   # small shapes
import { performance } from 'node:perf_hooks';
import {
  checkAppends,
  checkLinearizableRegisters,
  historyFromJsonl,
  historyToJsonl,
  seededRandom,
  simulateHistory,
} from '../../dist/index.js';

const quick = process.argv.includes('--quick');
const shapes = quick
  ? [{ ops: 5_000, keys: 10, clients: 5 }]
  : [
      { ops: 50_000, keys: 100, clients: 5 },
      { ops: 50_000, keys: 100, clients: 10 },
      { ops: 50_000, keys: 10, clients: 10 },
      { ops: 50_000, keys: 1, clients: 10 },
      { ops: 20_000, keys: 1, clients: 20 },
    ];

function seconds(run) {
  const startMs = performance.now();
  const result = run();
  return { result, seconds: (performance.now() - startMs) / 1000 };
}

console.log('workload  ops     keys  clients  check s  parse s  check/parse  verdict  search steps');
for (const workload of ['register', 'append']) {
  for (const shape of shapes) {
    // Appends to a single key make every read hold the whole list: the history grows with the square.
    if (workload === 'append' && shape.keys === 1 && shape.ops > 20_000) continue;
    const { ops } = simulateHistory({ ...shape, workload, random: seededRandom(42) });
    const text = historyToJsonl(ops);
    const parse = seconds(() => historyFromJsonl(text));
    const check = seconds(() => (workload === 'register' ? checkLinearizableRegisters(ops) : checkAppends(ops)));
    console.log(
      [
        workload.padEnd(8),
        String(ops.length).padEnd(7),
        String(shape.keys).padEnd(5),
        String(shape.clients).padEnd(8),
        check.seconds.toFixed(2).padStart(7),
        parse.seconds.toFixed(2).padStart(8),
        (check.seconds / parse.seconds).toFixed(1).padStart(12),
        String(check.result.valid).padStart(8),
        String(check.result.stats?.searchSteps ?? '-').padStart(13),
      ].join('  '),
    );
  }
}
