#!/usr/bin/env node
// Single-node benchmark: redis-benchmark against redis-server and a Ballast node in the same run,
// side by side, printing ratios; then restart time and disk use with 1M keys. Writes the results
// into docs/benchmarks.md between the "bench:node" markers.
//
//   npm run bench:node                 # full run (a few minutes)
//   npm run bench:node -- --quick      # small run to check the script works (figures meaningless)
//
// Pairs compared (same flags for both):
//   Ballast --durability async  vs  redis-server appendonly yes, appendfsync everysec
//   Ballast --durability sync   vs  redis-server appendonly yes, appendfsync always
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nodeMain = path.join(root, 'packages/storage-node/dist/main.js');
const quick = process.argv.includes('--quick');
const requests = quick ? 20_000 : 200_000;
const pipelinedRequests = quick ? 50_000 : 1_000_000;
const restartKeys = quick ? 50_000 : 1_000_000;
const children = new Set();

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
  const child = track(
    spawn(process.execPath, [nodeMain, '--port', String(port), '--admin-port', '0', '--data-dir', dir,
      '--durability', durability, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  await waitForOutput(child, 'ballast-node ready');
  return { port, child, name: `ballast-node (durability ${durability})` };
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

/** Loads `count` keys `key:<n>` with 100-byte values over one pipelined connection. */
async function loadKeys(port, count) {
  const socket = new Socket();
  await new Promise((resolve, reject) => socket.connect(port, '127.0.0.1', resolve).once('error', reject));
  const value = 'v'.repeat(100);
  let acknowledged = 0;
  let pending = '';
  const done = new Promise((resolve) => {
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      let index;
      while ((index = pending.indexOf('\r\n')) >= 0) {
        if (pending[0] === '-') throw new Error(`load failed: ${pending.slice(0, index)}`);
        pending = pending.slice(index + 2);
        acknowledged++;
      }
      if (acknowledged >= count) resolve();
    });
  });
  const windowSize = 2000;
  let sent = 0;
  while (sent < count) {
    while (sent - acknowledged < windowSize * 4 && sent < count) {
      let batch = '';
      for (let i = 0; i < windowSize && sent < count; i++, sent++) {
        const key = `key:${sent}`;
        batch += `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$100\r\n${value}\r\n`;
      }
      socket.write(batch);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await done;
  socket.destroy();
}

async function firstGet(port, key) {
  const started = performance.now();
  while (true) {
    try {
      const socket = new Socket();
      await new Promise((resolve, reject) => socket.connect(port, '127.0.0.1', resolve).once('error', reject));
      const reply = await new Promise((resolve) => {
        socket.once('data', (chunk) => resolve(chunk.toString('latin1')));
        socket.write(`*2\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`);
      });
      socket.destroy();
      if (reply.startsWith('$100')) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function restartTimes() {
  const ballastDir = tempDir('bench-restart-ballast-');
  let ballast = await startBallast(ballastDir, 'async');
  const loadStarted = performance.now();
  await loadKeys(ballast.port, restartKeys);
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  await stop(ballast);
  const diskBytes = statSync(path.join(ballastDir, 'data.mdb')).size;
  const started = performance.now();
  const port = await freePort();
  const child = track(spawn(process.execPath, [nodeMain, '--port', String(port), '--admin-port', '0', '--data-dir', ballastDir, '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] }));
  await firstGet(port, `key:${restartKeys - 1}`);
  const ballastTotalMs = performance.now() - started;
  ballast = { child, port };
  await stop(ballast);
  rmSync(ballastDir, { recursive: true, force: true });

  const redisDir = tempDir('bench-restart-redis-');
  let redis = await startRedis(redisDir, 'everysec');
  await loadKeys(redis.port, restartKeys);
  await stop(redis);
  const redisStarted = performance.now();
  const redisPort = await freePort();
  const redisChild = track(spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', redisDir, '--save', '', '--appendonly', 'yes'],
    { stdio: ['ignore', 'pipe', 'pipe'] }));
  await firstGet(redisPort, `key:${restartKeys - 1}`);
  const redisMs = performance.now() - redisStarted;
  redis = { child: redisChild };
  await stop(redis);
  rmSync(redisDir, { recursive: true, force: true });
  return { keys: restartKeys, ballastMs: ballastTotalMs, redisMs, diskBytes, loadSeconds };
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
  lines.push(
    '',
    `Restart with ${fmt(restart.keys)} keys of 100 bytes (time from process start to the first successful GET of the last key):`,
    '',
    '| Server | Restart to first GET | Data on disk |',
    '| --- | ---: | ---: |',
    `| ballast-node (LMDB, nothing replayed) | ${(restart.ballastMs / 1000).toFixed(2)} s | ${(restart.diskBytes / 1048576).toFixed(0)} MiB (${(restart.diskBytes / restart.keys).toFixed(0)} B/key) |`,
    `| redis-server (AOF everysec, replayed) | ${(restart.redisMs / 1000).toFixed(2)} s | — |`,
  );
  return lines.join('\n');
}

async function main() {
  need('redis-server');
  need('redis-benchmark');
  if (!existsSync(nodeMain)) {
    console.error('build first: npm run build');
    process.exit(2);
  }
  await comparePair('everysec', 'async');
  await comparePair('always', 'sync');
  const restart = await restartTimes();
  console.log(`restart with ${restart.keys} keys: ballast ${(restart.ballastMs / 1000).toFixed(2)} s, redis ${(restart.redisMs / 1000).toFixed(2)} s; ballast data.mdb ${(restart.diskBytes / 1048576).toFixed(0)} MiB`);
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
