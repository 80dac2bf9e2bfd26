#!/usr/bin/env node
// Rebalance benchmark: a 3-node Ballast cluster (real processes, real etcd, backups=1, FULL_SYNC)
// holding a dataset of --mb MB gets a 4th node; the script measures how fast the copies move to
// it (MB/s, from GET /v1/cluster/rebalance) and the latency of a probe client's SETs during the move
// next to idle, and checks a sample of keys afterwards. It writes its section of docs/benchmarks.md.
//
//   npm run bench:rebalance [-- --mb 512 --value-bytes 16384 --partitions 256 --no-write]
//
// Not a test: figures are printed, never asserted. Everything runs on loopback on this machine.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Redis from 'ioredis';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { startCluster } = await import(pathToFileURL(path.join(root, 'packages/testkit/dist/index.js')).href);

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const MB = option('mb', 512);
const VALUE_BYTES = option('value-bytes', 16384);
const PARTITIONS = option('partitions', 256);
const WRITE_DOCS = !args.includes('--no-write');
/** Rebalance limits to run with, "bytesPerSecond:concurrentMoves" each; default: as shipped, then 16 MiB/s with 1 stream. */
const LIMIT_RUNS = (args.includes('--limits') ? args[args.indexOf('--limits') + 1] : 'default,16777216:1').split(',').map((item) => {
  if (item === 'default') return null;
  const [bytesPerSecond, concurrentMoves] = item.split(':').map(Number);
  return { bytesPerSecond, concurrentMoves };
});
const KEYS = Math.ceil((MB * 1024 * 1024) / VALUE_BYTES);
const LOAD_CONCURRENCY = 32;
const IDLE_PROBE_MS = 5000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values, p) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function client(ports) {
  const cluster = new Redis.Cluster(ports.map((port) => ({ host: '127.0.0.1', port })), {
    retryDelayOnTryAgain: 20,
    retryDelayOnMoved: 0,
    retryDelayOnClusterDown: 100,
    maxRedirections: 64,
    slotsRefreshTimeout: 1000,
    redisOptions: { maxRetriesPerRequest: 20 },
  });
  cluster.on('error', () => undefined);
  return cluster;
}

/** One SET at a time on small keys; records each latency (ms) with its time, and errors. */
function startProbe(redis) {
  const state = { samples: [], errors: 0, lastError: '', stopped: false };
  state.done = (async () => {
    for (let i = 0; !state.stopped; i++) {
      const started = performance.now();
      try {
        await redis.set(`probe:${i % 1000}`, String(i));
        state.samples.push({ at: Date.now(), ms: performance.now() - started });
      } catch (error) {
        state.errors++;
        state.lastError = error.message;
      }
      await sleep(2);
    }
  })();
  return state;
}

async function main() {
  const results = [];
  for (const limits of LIMIT_RUNS) results.push(await runOnce(limits));
  if (WRITE_DOCS) writeDocs(results);
}

async function runOnce(limits) {
  console.log(`bench:rebalance: ${MB} MB as ${KEYS} keys of ${VALUE_BYTES} bytes, ${PARTITIONS} partitions, backups=1, FULL_SYNC`);
  const cluster = await startCluster({ nodes: 3, store: 'etcd', partitions: PARTITIONS, backups: 1, writeSynchronization: 'FULL_SYNC', durability: 'async' });
  const clients = [];
  try {
    const ports = cluster.members.map((member) => member.port);
    const loader = client(ports);
    clients.push(loader);
    const value = randomBytes(VALUE_BYTES);
    const loadStarted = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: LOAD_CONCURRENCY }, async () => {
        while (next < KEYS) {
          const key = next++;
          await loader.set(`data:${key}`, value);
        }
      }),
    );
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    console.log(`loaded ${MB} MB in ${loadSeconds.toFixed(1)} s (${(MB / loadSeconds).toFixed(1)} MB/s through the Redis protocol, replicated)`);
    await cluster.waitHealthy({ fullIsr: true, timeoutMs: 60_000 });

    const probeClient = client(ports);
    clients.push(probeClient);
    const probe = startProbe(probeClient);
    await sleep(IDLE_PROBE_MS);
    const idle = probe.samples.map((sample) => sample.ms);

    if (limits !== null) {
      const set = await cluster.admin(cluster.members[0], 'PUT', '/v1/cluster/rebalance/limits', limits);
      if (set.status !== 200) throw new Error(`setting limits failed: ${JSON.stringify(set.body)}`);
    }
    const versionBefore = (await cluster.summary(cluster.members[0])).mapVersion;
    const newcomer = await cluster.addMember();
    const started = Date.now();
    const added = await cluster.admin(cluster.members[0], 'POST', '/v1/cluster/baseline/add', { nodes: [newcomer.nodeId] });
    if (added.status !== 200) throw new Error(`baseline add failed: ${JSON.stringify(added.body)}`);
    let lastPrinted = 0;
    const report = await cluster.waitRebalanced({
      timeoutMs: 30 * 60_000,
      onProgress: (progress) => {
        if (Date.now() - lastPrinted < 2000) return;
        lastPrinted = Date.now();
        console.log(
          `  ${((Date.now() - started) / 1000).toFixed(1)} s: ${progress.partitionsDone}/${progress.partitionsTotal} partitions, ` +
            `${(progress.bytesMoved / 1e6).toFixed(0)} MB moved, ~${(progress.bytesRemaining / 1e6).toFixed(0)} MB to go`,
        );
      },
    });
    const finished = Date.now();
    await sleep(1000);
    probe.stopped = true;
    await probe.done;
    const during = probe.samples.filter((sample) => sample.at >= started && sample.at <= finished).map((sample) => sample.ms);
    const seconds = (finished - started) / 1000;
    const full = (await cluster.admin(cluster.members[0], 'GET', '/v1/cluster/rebalance')).body;
    const mapVersions = (await cluster.summary(cluster.members[0])).mapVersion - versionBefore;
    const bytesMoved = full.bytesMoved ?? report.bytesMoved;

    // A sample of keys reads back intact.
    let bad = 0;
    for (let i = 0; i < 500; i++) {
      const key = Math.floor((i * KEYS) / 500);
      const read = await loader.getBuffer(`data:${key}`);
      if (read === null || !read.equals(value)) bad++;
    }
    const result = {
      when: new Date().toISOString().slice(0, 10),
      cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
      node: process.version,
      mb: MB,
      keys: KEYS,
      valueBytes: VALUE_BYTES,
      partitions: PARTITIONS,
      partitionsMoved: report.partitionsTotal,
      bytesMoved,
      seconds,
      mbPerSecond: bytesMoved / 1e6 / seconds,
      loadSeconds,
      idle: { n: idle.length, p50: percentile(idle, 50), p99: percentile(idle, 99), max: Math.max(...idle) },
      during: { n: during.length, p50: percentile(during, 50), p99: percentile(during, 99), max: Math.max(0, ...during) },
      mapVersions,
      probeErrors: probe.errors,
      probeLastError: probe.lastError,
      badKeys: bad,
      limits: report.limits,
    };
    console.log(JSON.stringify(result, null, 2));
    return result;
  } finally {
    for (const redis of clients) redis.disconnect();
    // SIGTERM first (a node started with BALLAST_NODE_FLAGS="--cpu-prof ..." then writes its profile).
    await Promise.all(cluster.members.map((member) => member.process?.stop()));
    await cluster.destroy();
  }
}

function writeDocs(results) {
  const file = path.join(root, 'docs/benchmarks.md');
  const begin = '<!-- bench:rebalance begin -->';
  const end = '<!-- bench:rebalance end -->';
  const r0 = results[0];
  const limitText = (r) => `${r.limits.bytesPerSecond === 0 ? 'unlimited' : `${(r.limits.bytesPerSecond / 1048576).toFixed(0)} MiB/s`} per node, ${r.limits.concurrentMoves} stream${r.limits.concurrentMoves > 1 ? 's' : ''}`;
  const rows = results
    .map(
      (r) =>
        `| ${limitText(r)} | ${r.partitionsMoved} of ${r.partitions} | ${(r.bytesMoved / 1e6).toFixed(0)} MB | ${r.seconds.toFixed(1)} s | **${r.mbPerSecond.toFixed(1)} MB/s** | ` +
        `${r.idle.p50.toFixed(1)} / ${r.idle.p99.toFixed(1)} ms | ${r.during.p50.toFixed(1)} / ${r.during.p99.toFixed(1)} / ${r.during.max.toFixed(0)} ms (${r.during.n}) | ${r.mapVersions} | ${r.probeErrors} | ${r.badKeys} |`,
    )
    .join('\n');
  const section = `${begin}
Measured ${r0.when} on ${r0.cpu}; Node ${r0.node}. Command: \`npm run bench:rebalance\` (defaults: \`--mb ${r0.mb} --value-bytes ${r0.valueBytes} --partitions ${r0.partitions} --limits default,16777216:1\`).

Each row: three ballast-node processes on one etcd (\`--durability async\`, backups=1, FULL_SYNC) hold ${r0.mb} MB of values (${r0.keys} keys of ${r0.valueBytes} bytes, loaded through the Redis protocol); the rebalance limits are set (\`PUT /v1/cluster/rebalance/limits\`, or left as shipped); a 4th node starts and \`POST /v1/cluster/baseline/add\` adds it. Time runs from that call until \`GET /v1/cluster/rebalance\` says \`inProgress: false\`; bytes are its \`bytesMoved\` (snapshots and log entries sent to learners). A probe client sends one SET at a time (2 ms apart) on small keys throughout; its latency is taken on its own clock, idle over the ${IDLE_PROBE_MS / 1000} s before the change and during the move. Everything (4 nodes, etcd, loader and probe) shares the 2 cores; on this shared VM the rate and the probe latency vary a lot between runs (the same settings gave 38–62 MB/s and a probe p50 of 18–108 ms during the move on 2026-11-22), so compare rows of one run.

| Limits | Partitions moving a copy to the new node | Bytes moved | Time | Rate | Probe SET p50 / p99 idle | Probe SET p50 / p99 / max during the move (SETs) | Map versions written | Probe errors | Sampled keys wrong after (of 500) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows}
${end}`;
  let text = readFileSync(file, 'utf8');
  if (text.includes(begin)) text = text.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), section);
  else text += `\n## Rebalance: a 4th node joins\n\n${section}\n`;
  writeFileSync(file, text);
  console.log('wrote docs/benchmarks.md');
}

await main();
