#!/usr/bin/env node
// Single-node benchmark: redis-benchmark against redis-server and a Ballast node in the same run,
// side by side, printing ratios; then, with 1M keys loaded into each, memory and disk per key and
// restart time. Writes the results into docs/benchmarks.md between the "bench:node" markers.
//
//   npm run bench:node                 # full run (a few minutes)
//   npm run bench:node -- --quick      # small run to check the script works (figures meaningless)
//
// Pairs compared (same flags for both):
//   Ballast --durability async  vs  redis-server appendonly yes, appendfsync everysec
//   Ballast --durability sync   vs  redis-server appendonly yes, appendfsync always
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nodeMain = path.join(root, 'packages/storage-node/dist/main.js');
const nodeIndex = path.join(root, 'packages/storage-node/dist/index.js');
const testkitMain = path.join(root, 'packages/testkit/dist/index.js');
const quick = process.argv.includes('--quick');
const requests = quick ? 20_000 : 200_000;
const pipelinedRequests = quick ? 50_000 : 1_000_000;
const restartKeys = quick ? 50_000 : 1_000_000;
/** Memory is sampled this long after the server is ready or the last request is answered. */
const memorySettleMs = 2_000;
/** Pipelined loads and reads: commands per write, and at most this many writes' worth unanswered. */
const pipelineBatchCommands = 2000;
const pipelineBatchesInFlight = 4;
/** A batch's replies take this long only if the server is stuck. */
const pipelineBatchTimeoutMs = 60_000;
const children = new Set();
/** The built @ballast/testkit (its RawClient), imported once the build is checked. */
let testkit;
/**
 * The node's default `--cache-bytes`, read from the built @ballast/storage-node; every ballast-node
 * this script starts is given it as a flag, so a BALLAST_CACHE_BYTES in the environment does not apply.
 */
let recordCacheBytes;

function need(command) {
  if (spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0) {
    console.error(`${command} not found: install redis-server and redis-tools (apt-get install -y redis-server redis-tools)`);
    process.exit(2);
  }
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

async function waitForOutput(child, text, timeoutMs = 120_000) {
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${text}":\n${output}`)), timeoutMs);
    const onData = (chunk) => {
      output += chunk.toString();
      if (output.includes(text)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before "${text}":\n${output}`));
    });
  });
}

async function startRedis(dir, appendfsync) {
  const port = await freePort();
  const child = track(
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
      '--appendonly', 'yes', '--appendfsync', appendfsync], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  await waitForOutput(child, 'Ready to accept connections');
  return { port, child, name: `redis-server (appendfsync ${appendfsync})` };
}

async function startBallast(dir, durability) {
  const port = await freePort();
  const adminPort = await freePort();
  const child = track(
    spawn(process.execPath, [nodeMain, '--port', String(port), '--admin-port', String(adminPort), '--data-dir', dir,
      '--durability', durability, '--cache-bytes', String(recordCacheBytes), '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  await waitForOutput(child, 'ballast-node ready');
  return { port, adminPort, child, name: `ballast-node (durability ${durability})` };
}

async function stop(server, signal = 'SIGTERM') {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill(signal);
  await exited;
}

/** Runs redis-benchmark and returns { SET: {rps, p50, p99}, GET: {...} }. */
function redisBenchmark(port, extraArgs) {
  const args = ['-p', String(port), '-t', 'set,get', '-c', '50', '-r', '100000', '-d', '100', '--csv', ...extraArgs];
  const result = spawnSync('redis-benchmark', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`redis-benchmark failed: ${result.stderr}`);
  const rows = {};
  for (const line of result.stdout.trim().split('\n')) {
    const cells = line.split(',').map((cell) => cell.replace(/"/g, ''));
    if (cells[0] === 'test') continue;
    rows[cells[0]] = { rps: Number(cells[1]), p50: Number(cells[4]), p99: Number(cells[6]) };
  }
  return rows;
}

function tempDir(prefix) {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

const results = [];

async function comparePair(redisFsync, ballastDurability) {
  const redisDir = tempDir('bench-redis-');
  const ballastDir = tempDir('bench-ballast-');
  const redis = await startRedis(redisDir, redisFsync);
  const ballast = await startBallast(ballastDir, ballastDurability);
  for (const [label, extra] of [
    ['no pipelining', ['-n', String(requests)]],
    ['pipeline 16', ['-n', String(pipelinedRequests), '-P', '16']],
  ]) {
    // Alternate order so neither server always runs on a warmer machine.
    const redisRows = redisBenchmark(redis.port, extra);
    const ballastRows = redisBenchmark(ballast.port, extra);
    for (const test of ['SET', 'GET']) {
      results.push({
        pair: `${ballast.name} vs ${redis.name}`,
        mode: label,
        test,
        redis: redisRows[test],
        ballast: ballastRows[test],
      });
      const row = results.at(-1);
      console.log(
        `${row.pair.padEnd(72)} ${label.padEnd(14)} ${test}  redis ${fmt(row.redis.rps)}/s  ballast ${fmt(row.ballast.rps)}/s  ratio ${(row.ballast.rps / row.redis.rps).toFixed(2)}`,
      );
    }
  }
  await stop(redis);
  await stop(ballast);
  rmSync(redisDir, { recursive: true, force: true });
  rmSync(ballastDir, { recursive: true, force: true });
}

function fmt(value) {
  return Math.round(value).toLocaleString('en-US');
}

/**
 * Sends `count` commands (`commandOf(n)`, n = 0…count-1) over one pipelined connection, a batch of
 * pipelineBatchCommands per write while fewer than pipelineBatchesInFlight batches are unanswered,
 * and waits for every reply; an error or nil reply stops the run.
 */
async function pipelined(port, count, commandOf) {
  const client = await testkit.RawClient.connect(port);
  try {
    let sent = 0;
    let answered = 0;
    while (answered < count) {
      while (sent - answered < pipelineBatchCommands * pipelineBatchesInFlight && sent < count) {
        const batch = [];
        for (let i = 0; i < pipelineBatchCommands && sent < count; i++, sent++) batch.push(testkit.encodeCommand(commandOf(sent)));
        client.write(Buffer.concat(batch));
      }
      const replies = await client.nextReplies(Math.min(pipelineBatchCommands, sent - answered), pipelineBatchTimeoutMs);
      for (const reply of replies) {
        if (reply === null || reply.error !== undefined) throw new Error(`pipelined run failed: ${JSON.stringify(testkit.plain(reply))}`);
      }
      answered += replies.length;
    }
  } finally {
    client.close();
  }
}

const loadedValue = 'v'.repeat(100);

/** Loads `count` keys `key:<n>` with 100-byte values. */
function loadKeys(port, count) {
  return pipelined(port, count, (n) => ['SET', `key:${n}`, loadedValue]);
}

/** One GET of each key loadKeys wrote. */
function readKeys(port, count) {
  return pipelined(port, count, (n) => ['GET', `key:${n}`]);
}

/**
 * Sends one command on a fresh connection; resolves its bulk-string reply as text (nil: null). Any
 * other reply (an error, -LOADING included) is thrown.
 */
async function bulkReply(port, ...args) {
  const client = await testkit.RawClient.connect(port);
  try {
    const reply = await client.call(...args);
    if (reply !== null && !Buffer.isBuffer(reply)) throw new Error(`${args[0]}: ${JSON.stringify(testkit.plain(reply))}`);
    return reply?.toString('utf8') ?? null;
  } finally {
    client.close();
  }
}

async function firstGet(port, key) {
  const started = performance.now();
  while (true) {
    try {
      if ((await bulkReply(port, 'GET', key))?.length === 100) return performance.now() - started;
    } catch {
      // Not listening yet, or still loading (-LOADING): asked again below.
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resident bytes of the mappings of `file` (LMDB maps its data file), from /proc/<pid>/smaps. */
function mappedFileBytes(pid, file) {
  let inFile = false;
  let bytes = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    // A mapping starts with its address range; its path, if any, ends the line.
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inFile = line.trimEnd().endsWith(` ${file}`);
    else if (inFile && line.startsWith('Rss:')) bytes += Number(/(\d+) kB/.exec(line)[1]) * 1024;
  }
  return bytes;
}

/**
 * Resident memory of a server, bytes, from /proc/<pid>/status: rss (VmRSS) = anonymous (RssAnon)
 * + file (RssFile: pages of mapped files it has touched) + RssShmem; `mapped`: the part of `file`
 * that is the server's data file (`server.dataFile`, if it maps one); usedMemory: INFO memory's
 * used_memory as the server reports it.
 */
async function sampleMemory(server) {
  const { pid } = server.child;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kibibytes = (field) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match === null) throw new Error(`/proc/${pid}/status has no ${field} (memory per key needs Linux)`);
    return Number(match[1]) * 1024;
  };
  const info = await bulkReply(server.port, 'INFO', 'memory');
  const usedMemory = Number(/^used_memory:(\d+)\r?$/m.exec(info)?.[1]);
  if (!Number.isFinite(usedMemory)) throw new Error(`INFO memory without used_memory:\n${info}`);
  return {
    rss: kibibytes('VmRSS'),
    anonymous: kibibytes('RssAnon'),
    file: kibibytes('RssFile'),
    mapped: server.dataFile === undefined ? 0 : mappedFileBytes(pid, server.dataFile),
    usedMemory,
  };
}

/** Records in Ballast's hot-record cache (GET /v1/node). */
async function recordCacheEntries(ballast) {
  const response = await fetch(`http://127.0.0.1:${ballast.adminPort}/v1/node`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET /v1/node: HTTP ${response.status}`);
  return (await response.json()).engine.cacheEntries;
}

function directoryBytes(directory) {
  let bytes = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const entryPath = path.join(directory, entry.name);
    if (entry.isDirectory()) bytes += directoryBytes(entryPath);
    else if (entry.isFile()) bytes += statSync(entryPath).size;
  }
  return bytes;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, memorySettleMs));

/**
 * On a freshly started (empty) server: memory and disk empty, then loaded with restartKeys keys,
 * then after one GET of every key; `onSample` runs after each sample (for Ballast's cache count).
 * The disk figure after loading is taken by the caller once the server has stopped.
 */
async function loadAndSample(server, diskBytesOf, onSample = async () => undefined) {
  await settle();
  const empty = { ...(await sampleMemory(server)), disk: diskBytesOf() };
  await onSample('empty');
  const loadStarted = performance.now();
  await loadKeys(server.port, restartKeys);
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  await settle();
  const loaded = await sampleMemory(server);
  await onSample('loaded');
  await readKeys(server.port, restartKeys);
  await settle();
  const read = await sampleMemory(server);
  await onSample('read');
  return { empty, loaded, read, loadSeconds };
}

/** Time from spawning a server on `dir` to the first GET of the last loaded key that succeeds. */
async function timeRestart(command, argsOf) {
  const started = performance.now();
  const port = await freePort();
  const child = track(spawn(command, argsOf(port), { stdio: ['ignore', 'pipe', 'pipe'] }));
  await firstGet(port, `key:${restartKeys - 1}`);
  const restartMs = performance.now() - started;
  await stop({ child });
  return restartMs;
}

async function restartAndMemory() {
  const ballastDir = tempDir('bench-restart-ballast-');
  const ballastData = path.join(ballastDir, 'data.mdb');
  const ballast = { ...(await startBallast(ballastDir, 'async')), dataFile: ballastData };
  const cacheEntries = {};
  const ballastMemory = await loadAndSample(ballast, () => statSync(ballastData).size, async (when) => {
    cacheEntries[when] = await recordCacheEntries(ballast);
  });
  await stop(ballast);
  ballastMemory.loaded.disk = statSync(ballastData).size;
  const ballastMs = await timeRestart(process.execPath, (port) =>
    [nodeMain, '--port', String(port), '--admin-port', '0', '--data-dir', ballastDir, '--cache-bytes', String(recordCacheBytes),
      '--log-level', 'warn']);
  rmSync(ballastDir, { recursive: true, force: true });

  const redisDir = tempDir('bench-restart-redis-');
  const redisAof = path.join(redisDir, 'appendonlydir');
  const redis = await startRedis(redisDir, 'everysec');
  const redisMemory = await loadAndSample(redis, () => directoryBytes(redisAof));
  await stop(redis);
  redisMemory.loaded.disk = directoryBytes(redisAof);
  const redisMs = await timeRestart('redis-server', (port) =>
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', redisDir, '--save', '', '--appendonly', 'yes']);
  rmSync(redisDir, { recursive: true, force: true });
  return { keys: restartKeys, ballastMs, redisMs, ballastMemory, redisMemory, cacheEntries };
}

function mebibytes(bytes) {
  return (bytes / 1048576).toFixed(1);
}

/**
 * Rows of the memory table: label, figure of a sample, the sample compared with the empty one, and
 * whether Redis has a like figure to divide by (Redis maps no data file; its few file-backed pages
 * are its binary's).
 */
const memoryFigures = [
  { label: 'RSS (VmRSS)', figure: 'rss', sample: 'loaded', compared: true },
  { label: 'anonymous RSS (RssAnon)', figure: 'anonymous', sample: 'loaded', compared: true },
  { label: 'file-backed RSS (RssFile)', figure: 'file', sample: 'loaded', compared: false },
  { label: 'of which data.mdb mapped (smaps)', figure: 'mapped', sample: 'loaded', compared: false },
  { label: 'used_memory (INFO memory)', figure: 'usedMemory', sample: 'loaded', compared: true },
  { label: 'RSS after one GET of every key', figure: 'rss', sample: 'read', compared: true },
  { label: 'on disk (Ballast data.mdb; Redis AOF files)', figure: 'disk', sample: 'loaded', compared: true },
];

/** Per key: the figure after loading (or reading) minus the same figure empty, over the keys. */
function perKey(memory, figure, sample, keys) {
  return (memory[sample][figure] - memory.empty[figure]) / keys;
}

function memoryTable(restart) {
  const { ballastMemory, redisMemory, keys } = restart;
  const lines = [
    '| Figure | ballast-node empty → loaded | ballast-node per key | redis-server empty → loaded | redis-server per key | Ballast ÷ Redis |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const { label, figure, sample, compared } of memoryFigures) {
    const cells = [ballastMemory, redisMemory].flatMap((memory) =>
      memory === redisMemory && figure === 'mapped'
        ? ['—', '—']
        : [`${mebibytes(memory.empty[figure])} → ${mebibytes(memory[sample][figure])} MiB`, `${perKey(memory, figure, sample, keys).toFixed(0)} B`],
    );
    const redisPerKey = perKey(redisMemory, figure, sample, keys);
    const ratio = compared && redisPerKey >= 1 ? `${(perKey(ballastMemory, figure, sample, keys) / redisPerKey).toFixed(2)}×` : '—';
    lines.push(`| ${label} | ${cells.join(' | ')} | ${ratio} |`);
  }
  return lines;
}

function markdown(restart) {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; Node ${process.version}; ${spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim()}`;
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}.`,
    '',
    `Command: \`npm run bench:node\` (redis-benchmark \`-t set,get -c 50 -r 100000 -d 100\`, \`-n ${requests}\` plain and \`-n ${pipelinedRequests} -P 16\`; both servers on loopback, one at a time, same machine, same run).`,
    '',
    '| Pair (Ballast vs Redis) | Mode | Test | Redis req/s | Ballast req/s | Ratio | Redis p50/p99 ms | Ballast p50/p99 ms |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of results) {
    lines.push(
      `| ${row.pair} | ${row.mode} | ${row.test} | ${fmt(row.redis.rps)} | ${fmt(row.ballast.rps)} | ${(row.ballast.rps / row.redis.rps).toFixed(2)}× | ${row.redis.p50}/${row.redis.p99} | ${row.ballast.p50}/${row.ballast.p99} |`,
    );
  }
  const { cacheEntries } = restart;
  lines.push(
    '',
    `Memory and disk per key with ${fmt(restart.keys)} keys of 100 bytes (\`key:0\` … \`key:${fmt(restart.keys - 1)}\`), ballast-node \`--durability async\` and redis-server \`appendfsync everysec\`, each started empty: every figure is sampled ${memorySettleMs / 1000} s after the server is ready (empty), ${memorySettleMs / 1000} s after the last SET of a pipelined load is answered (loaded), and ${memorySettleMs / 1000} s after one pipelined GET of every key; per key = (the figure sampled − the same figure empty) ÷ keys. Files on disk are measured after the server shuts down.`,
    '',
    ...memoryTable(restart),
    '',
    `RSS is what the kernel keeps resident for the process (\`/proc/<pid>/status\` VmRSS): its anonymous part (RssAnon, memory it allocated) plus its file-backed part (RssFile, pages of memory-mapped files it has touched). Ballast's anonymous RSS holds the V8 heap (garbage not yet collected included), Node's Buffers, LMDB's own allocations and the hot-record cache; the cache keeps records read from LMDB, not written ones, and stops at \`--cache-bytes\` (${recordCacheBytes / 1048576} MiB, the node's default): it held ${fmt(cacheEntries.loaded)} records after the load and ${fmt(cacheEntries.read)} after the GET pass. Ballast's file-backed RSS is the pages of data.mdb that LMDB's read-only memory map has touched (each SET reads the key's previous record through it, each GET its record; the "data.mdb mapped" row sums the resident pages of that mapping in \`/proc/<pid>/smaps\`) plus the pages of the node binary and its libraries that the workload has run: they are the kernel's page cache, shared and dropped under memory pressure, so they count in RSS without being memory Ballast has to keep. Ballast's used_memory is V8's heapUsed plus external (Buffers); Redis's is what its allocator (jemalloc) has handed out for keys, values, the keyspace dict and buffers, and its RSS adds the allocator's overhead and fragmentation. On disk: LMDB's data.mdb (a copy-on-write B-tree of 4 KiB pages) and Redis's appendonlydir, whose size depends on when Redis last rewrote its AOF on its own (auto-aof-rewrite-percentage 100 above 64 MB).`,
    '',
    `Restart with ${fmt(restart.keys)} keys of 100 bytes (the same data, time from process start to the first successful GET of the last key):`,
    '',
    '| Server | Restart to first GET |',
    '| --- | ---: |',
    `| ballast-node (LMDB, nothing replayed) | ${(restart.ballastMs / 1000).toFixed(2)} s |`,
    `| redis-server (AOF everysec, replayed) | ${(restart.redisMs / 1000).toFixed(2)} s |`,
  );
  return lines.join('\n');
}

async function main() {
  need('redis-server');
  need('redis-benchmark');
  for (const built of [nodeMain, nodeIndex, testkitMain]) {
    if (!existsSync(built)) {
      console.error('build first: npm run build');
      process.exit(2);
    }
  }
  testkit = await import(pathToFileURL(testkitMain).href);
  const { parseConfig } = await import(pathToFileURL(nodeIndex).href);
  recordCacheBytes = parseConfig([], {}, (file) => readFileSync(file, 'utf8')).cacheBytes;
  console.log(`ballast-node --cache-bytes ${recordCacheBytes} (${recordCacheBytes / 1048576} MiB, the node's default)`);
  await comparePair('everysec', 'async');
  await comparePair('always', 'sync');
  const restart = await restartAndMemory();
  console.log(`restart with ${restart.keys} keys: ballast ${(restart.ballastMs / 1000).toFixed(2)} s, redis ${(restart.redisMs / 1000).toFixed(2)} s`);
  for (const { label, figure, sample } of memoryFigures) {
    const ballastPerKey = perKey(restart.ballastMemory, figure, sample, restart.keys);
    const redisPerKey = perKey(restart.redisMemory, figure, sample, restart.keys);
    console.log(`  per key, ${label.padEnd(44)} ballast ${ballastPerKey.toFixed(0).padStart(5)} B  redis ${redisPerKey.toFixed(0).padStart(5)} B`);
  }
  const section = markdown(restart);
  if (quick) {
    console.log('\n--quick: docs/benchmarks.md not updated\n');
    console.log(section);
    return;
  }
  const file = path.join(root, 'docs/benchmarks.md');
  const begin = '<!-- bench:node begin -->';
  const end = '<!-- bench:node end -->';
  const current = readFileSync(file, 'utf8');
  const start = current.indexOf(begin);
  const stopAt = current.indexOf(end);
  if (start < 0 || stopAt < 0) throw new Error('docs/benchmarks.md lacks the bench:node markers');
  writeFileSync(file, `${current.slice(0, start + begin.length)}\n${section}\n${current.slice(stopAt)}`);
  console.log('docs/benchmarks.md updated');
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
