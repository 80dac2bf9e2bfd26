#!/usr/bin/env node
// Cluster benchmark: a Redis Cluster (3 masters + 3 replicas) and a Ballast cluster (3 nodes,
// backups=1, FULL_SYNC) in the same run, side by side, printing ratios; then failover time (kill -9
// the owner of a key's slot under a light write load, time until a write to that key succeeds
// again). Writes the results into docs/benchmarks.md between the "bench:cluster" markers.
//
//   npm run bench:cluster                 # full run (estimated 15-25 minutes)
//   npm run bench:cluster -- --quick      # small run to check the script works (figures meaningless)
//
// Throughput: `redis-benchmark --cluster` (same flags for both), plain and with -P 16, against
//   Redis Cluster appendfsync everysec  and  Ballast --durability async   (pair 1)
//   Redis Cluster appendfsync always    and  Ballast --durability sync    (pair 2)
// and Ballast sync against Redis everysec (the same measurements, paired the other way).
// Failover: Redis Cluster at cluster-node-timeout 15000 (the default) and 5000, Ballast (sync) at its
// default replication timing; every process this script starts is killed by pid when it exits.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nodeMain = path.join(root, 'packages/storage-node/dist/main.js');
const testkitMain = path.join(root, 'packages/testkit/dist/index.js');
const clusterMain = path.join(root, 'packages/cluster/dist/index.js');

const quick = process.argv.includes('--quick');
const requests = quick ? 20_000 : 200_000;
const pipelinedRequests = quick ? 50_000 : 1_000_000;
const failoverTrials = quick ? 1 : 5;
/** Redis Cluster's default cluster-node-timeout first, then a lower one. */
const redisNodeTimeoutsMs = [15_000, 5_000];
/** The whole run is bounded: past this the script stops everything it started and exits 1. */
const runTimeLimitMs = (quick ? 20 : 90) * 60_000;
const benchmarkTimeLimitMs = (quick ? 3 : 15) * 60_000;
const partitions = 256;
const backups = 1;
const writeSynchronization = 'FULL_SYNC';
const clusterToken = 'bench-cluster-token';
const benchmarkFlags = ['-t', 'set,get', '-c', '50', '-r', '100000', '-d', '100'];
/** Per process, the last output kept for error messages. */
const outputTailBytesMax = 32 * 1024;
/** Failover probe: one write in flight per loop; pauses keep the load light. */
const probePauseMs = 10;
const loadPauseMs = 5;
const probeReplyTimeoutMs = 2_000;
const retryPauseMs = 20;

const children = new Map();
const temporaryDirectories = new Set();

function need(command) {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    child.once('exit', (code) => {
      if (code !== 0) {
        console.error(`${command} not found: install redis-server, redis-tools and etcd-server`);
        process.exit(2);
      }
      resolve();
    });
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

function temporaryDirectory(prefix) {
  const directory = mkdtempSync(path.join(tmpdir(), prefix));
  temporaryDirectories.add(directory);
  return directory;
}

function removeDirectory(directory) {
  rmSync(directory, { recursive: true, force: true });
  temporaryDirectories.delete(directory);
}

function killByPid(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if (error.code !== 'ESRCH') console.error(`could not kill pid ${pid}:`, error);
  }
}

process.on('exit', () => {
  for (const pid of children.keys()) killByPid(pid);
  for (const directory of temporaryDirectories) rmSync(directory, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`${signal}: stopping every process this script started`);
    process.exit(130);
  });
}

/**
 * Spawns a process whose output is drained continuously (a full pipe would block the server's
 * logging) and kept as a bounded tail; `ready` turns true when `readyText` appears.
 */
function launch(command, args, readyText) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.set(child.pid, child);
  const launched = {
    child,
    pid: child.pid,
    tail: '',
    ready: false,
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  void launched.exited.then(() => children.delete(child.pid));
  const append = (chunk) => {
    const text = chunk.toString('utf8');
    if (!launched.ready && (launched.tail.slice(-readyText.length) + text).includes(readyText)) launched.ready = true;
    launched.tail = (launched.tail + text).slice(-outputTailBytesMax);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  return launched;
}

async function waitReady(launched, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!launched.ready) {
    if (launched.child.exitCode !== null || launched.child.signalCode !== null) {
      throw new Error(`${what} exited before it was ready:\n${launched.tail}`);
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms:\n${launched.tail}`);
    await sleep(20);
  }
}

async function kill(launched) {
  if (launched.child.exitCode === null && launched.child.signalCode === null) killByPid(launched.pid);
  await launched.exited;
}

/** Runs a command to completion (asynchronously, so server output keeps draining). */
function run(command, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.set(child.pid, child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk) => (stderr = (stderr + chunk.toString('utf8')).slice(-outputTailBytesMax)));
    const timer = setTimeout(() => {
      killByPid(child.pid);
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${stdout.slice(-4000)}\n${stderr}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      children.delete(child.pid);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${stdout.slice(-4000)}\n${stderr}`));
    });
  });
}

/** Polls `check` (which returns true, or a reason it is not there yet) until true or the deadline. */
async function waitUntil(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let reason = 'not checked';
  while (Date.now() < deadline) {
    try {
      const result = await check();
      if (result === true) return;
      reason = result;
    } catch (error) {
      reason = error.message;
    }
    await sleep(200);
  }
  throw new Error(`${what}: not reached after ${timeoutMs} ms (last: ${reason})`);
}

let testkit;
let ballastCluster;

/** One command on a fresh connection; the reply as plain data (an error reply is thrown). */
async function query(port, ...args) {
  const client = await testkit.RawClient.connect(port);
  try {
    client.send(...args);
    const reply = testkit.plain(await client.reply(5_000));
    if (reply !== null && typeof reply === 'object' && 'error' in reply) throw new Error(`${args.join(' ')}: ${reply.error}`);
    return reply;
  } finally {
    client.close();
  }
}

function infoField(text, name) {
  const match = new RegExp(`^${name}:(.*)$`, 'm').exec(text);
  return match?.[1]?.trim();
}

// ---------------------------------------------------------------- Redis Cluster

function redisNodeArgs(cluster, node) {
  return [
    '--port', String(node.port), '--cluster-port', String(node.busPort), '--bind', '127.0.0.1', '--dir', node.dir,
    '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
    '--cluster-node-timeout', String(cluster.nodeTimeoutMs),
    '--appendonly', 'yes', '--appendfsync', cluster.appendfsync, '--save', '',
  ];
}

async function startRedisNode(cluster, node) {
  node.process = launch('redis-server', redisNodeArgs(cluster, node), 'Ready to accept connections');
  await waitReady(node.process, `redis-server :${node.port}`);
}

async function startRedisCluster() {
  const cluster = { nodes: [], nodeTimeoutMs: redisNodeTimeoutsMs[0], appendfsync: 'everysec' };
  for (let i = 0; i < 6; i++) {
    cluster.nodes.push({ port: await freePort(), busPort: await freePort(), dir: temporaryDirectory(`bench-cluster-redis-${i}-`), process: null });
  }
  await Promise.all(cluster.nodes.map((node) => startRedisNode(cluster, node)));
  await run('redis-cli', ['--cluster', 'create', ...cluster.nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '1', '--cluster-yes'], 120_000);
  await waitUntil('Redis Cluster healthy', () => redisClusterHealthy(cluster), 120_000);
  return cluster;
}

/**
 * Healthy: every node says cluster_state:ok and knows 6 nodes, none flagged fail or pfail, all
 * connected, 3 masters with slots, and every replica's link to its master is up.
 */
async function redisClusterHealthy(cluster) {
  let masters = 0;
  for (const node of cluster.nodes) {
    const info = await query(node.port, 'CLUSTER', 'INFO');
    if (infoField(info, 'cluster_state') !== 'ok') return `:${node.port} cluster_state ${infoField(info, 'cluster_state')}`;
    if (infoField(info, 'cluster_known_nodes') !== '6') return `:${node.port} knows ${infoField(info, 'cluster_known_nodes')} nodes`;
    const lines = (await query(node.port, 'CLUSTER', 'NODES')).trim().split('\n');
    for (const line of lines) {
      const fields = line.split(' ');
      if (/fail/.test(fields[2]) || fields[7] !== 'connected') return `:${node.port} sees ${fields[1]} ${fields[2]} ${fields[7]}`;
    }
    const self = lines.find((line) => line.split(' ')[2].includes('myself')).split(' ');
    if (self[2].includes('master')) {
      if (self.length > 8) masters++;
    } else {
      const replication = await query(node.port, 'INFO', 'replication');
      if (infoField(replication, 'master_link_status') !== 'up') return `replica :${node.port} master link ${infoField(replication, 'master_link_status')}`;
    }
  }
  return masters === 3 ? true : `${masters} masters with slots`;
}

async function setRedisConfig(cluster, name, value) {
  for (const node of cluster.nodes) await query(node.port, 'CONFIG', 'SET', name, value);
}

async function redisMasterPort(cluster) {
  for (const node of cluster.nodes) {
    const role = infoField(await query(node.port, 'INFO', 'replication'), 'role');
    if (role === 'master') return node.port;
  }
  throw new Error('no Redis master');
}

// ---------------------------------------------------------------- Ballast cluster

function ballastArgs(cluster, member) {
  return [
    nodeMain, '--port', String(member.port), '--admin-port', String(member.adminPort), '--data-dir', member.dataDir,
    '--durability', cluster.durability, '--node-id', member.nodeId,
    '--cluster-store', cluster.storeUrl, '--cluster-token', clusterToken,
    '--peer-port', String(member.peerPort), '--partitions', String(partitions), '--log-level', 'info',
  ];
}

async function startBallastNode(cluster, member) {
  member.process = launch(process.execPath, ballastArgs(cluster, member), 'ballast-node ready');
  await waitReady(member.process, `ballast-node ${member.nodeId}`);
}

async function admin(member, method, route, body) {
  const response = await fetch(`http://127.0.0.1:${member.adminPort}${route}`, {
    method,
    headers: { authorization: `Bearer ${clusterToken}`, 'content-type': 'application/json' },
    signal: AbortSignal.timeout(5_000),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

async function startBallastCluster(etcd, durability) {
  const cluster = { durability, storeUrl: `etcd://${etcd.endpoint}/bench-cluster-${durability}`, members: [] };
  for (let i = 0; i < 3; i++) {
    cluster.members.push({
      nodeId: `n-${i}`,
      port: await freePort(),
      adminPort: await freePort(),
      peerPort: await freePort(),
      dataDir: temporaryDirectory(`bench-cluster-ballast-${durability}-${i}-`),
      process: null,
    });
  }
  await Promise.all(cluster.members.map((member) => startBallastNode(cluster, member)));
  const activation = await admin(cluster.members[0], 'POST', '/v1/cluster/activate', { partitions, backups, writeSynchronization });
  if (activation.status !== 200) throw new Error(`activation failed (${activation.status}): ${JSON.stringify(activation.body)}`);
  await waitUntil(`Ballast cluster (${durability}) healthy`, () => ballastClusterHealthy(cluster), 180_000);
  return cluster;
}

/** Healthy, as every node sees it: ACTIVE, every partition with an online primary and a full ISR. */
async function ballastClusterHealthy(cluster) {
  for (const member of cluster.members) {
    const { status, body } = await admin(member, 'GET', '/v1/cluster');
    if (status !== 200) return `${member.nodeId}: HTTP ${status} ${JSON.stringify(body)}`;
    const summary = body.partitions;
    if (body.state !== 'ACTIVE' || summary.total !== partitions || summary.lost !== 0 || summary.withoutOnlinePrimary !== 0 || summary.underReplicated !== 0) {
      return `${member.nodeId}: ${body.state} ${JSON.stringify(summary)}`;
    }
  }
  return true;
}

async function stopBallastCluster(cluster) {
  await Promise.all(cluster.members.map((member) => member.process && kill(member.process)));
  for (const member of cluster.members) removeDirectory(member.dataDir);
}

// ---------------------------------------------------------------- throughput

/**
 * redis-benchmark --cluster; returns the command, { SET: {rps, p50, p99}, GET: {...} } and the error
 * replies it printed. redis-benchmark counts an error reply as a finished request, so -e makes it
 * print them (at most one a second) and they are reported next to the figures.
 */
async function redisBenchmark(seedPort, extraArgs) {
  const args = ['--cluster', '-p', String(seedPort), ...benchmarkFlags, ...extraArgs, '-e', '--csv'];
  const stdout = await run('redis-benchmark', args, benchmarkTimeLimitMs);
  const rows = {};
  const errors = [];
  // Cluster mode prints the masters it found before the CSV; CSV lines are the quoted ones.
  for (const line of stdout.split('\n')) {
    if (line.startsWith('Error from server')) errors.push(line.replace(/:\d+:/, ':<port>:'));
    if (!line.startsWith('"') || line.startsWith('"test"')) continue;
    const cells = line.split(',').map((cell) => cell.replace(/"/g, ''));
    rows[cells[0]] = { rps: Number(cells[1]), p50: Number(cells[4]), p99: Number(cells[6]) };
  }
  for (const test of ['SET', 'GET']) {
    if (rows[test] === undefined || !Number.isFinite(rows[test].rps)) throw new Error(`redis-benchmark printed no ${test} row:\n${stdout}`);
  }
  const masters = /Cluster has (\d+) master nodes/.exec(stdout)?.[1];
  if (masters !== '3') throw new Error(`redis-benchmark found ${masters} masters:\n${stdout}`);
  return { command: `redis-benchmark ${args.join(' ').replace(String(seedPort), '<port>')}`, rows, errors };
}

const modes = [
  { label: 'no pipelining', args: ['-n', String(requests)] },
  { label: 'pipeline 16', args: ['-n', String(pipelinedRequests), '-P', '16'] },
];
/** throughput[mode][system] = { command, rows }; systems: redisEverysec, redisAlways, ballastAsync, ballastSync. */
const throughput = Object.fromEntries(modes.map((mode) => [mode.label, {}]));

async function measure(system, seedPort, mode) {
  const result = await redisBenchmark(seedPort, mode.args);
  throughput[mode.label][system] = result;
  console.log(`  ${system.padEnd(14)} ${mode.label.padEnd(14)} SET ${fmt(result.rows.SET.rps).padStart(9)}/s  GET ${fmt(result.rows.GET.rps).padStart(9)}/s   (${result.command})`);
  for (const error of result.errors) console.log(`    redis-benchmark saw an error reply: ${error}`);
}

function fmt(value) {
  return Math.round(value).toLocaleString('en-US');
}

// ---------------------------------------------------------------- failover

/**
 * A minimal cluster client for the failover probe: a slot map from CLUSTER SLOTS, one connection per
 * node, MOVED followed at once, anything else (connection refused or closed, CLUSTERDOWN, TRYAGAIN,
 * no reply in time) answered by re-reading the slot map from any node that answers. It has no
 * retry delays of its own, so what it measures is the servers' recovery, not a library's backoff.
 */
class ProbeClient {
  constructor(seedPorts, keyHashSlot) {
    this.seedPorts = seedPorts;
    this.keyHashSlot = keyHashSlot;
    this.ownerBySlot = new Map();
    this.connections = new Map();
    this.nextSeed = 0;
  }

  async refresh() {
    for (let attempt = 0; attempt < this.seedPorts.length; attempt++) {
      const port = this.seedPorts[this.nextSeed++ % this.seedPorts.length];
      try {
        const ranges = await query(port, 'CLUSTER', 'SLOTS');
        this.ownerBySlot.clear();
        for (const [first, last, primary] of ranges) {
          for (let slot = first; slot <= last; slot++) this.ownerBySlot.set(slot, primary[1]);
        }
        return true;
      } catch {
        // This node is down or not answering: the next one is asked.
      }
    }
    return false;
  }

  owner(key) {
    return this.ownerBySlot.get(this.keyHashSlot(Buffer.from(key)));
  }

  async connection(port) {
    let client = this.connections.get(port);
    if (client === undefined) {
      client = testkit.RawClient.connect(port);
      this.connections.set(port, client);
      client.then(
        (connected) => connected.closed.then(() => this.connections.get(port) === client && this.connections.delete(port)),
        () => this.connections.get(port) === client && this.connections.delete(port),
      );
    }
    return client;
  }

  /** One SET; resolves { ok } or { error: <first word of the error> }. */
  async set(key, value) {
    const slot = this.keyHashSlot(Buffer.from(key));
    const port = this.ownerBySlot.get(slot) ?? this.seedPorts[this.nextSeed++ % this.seedPorts.length];
    let client;
    try {
      client = await this.connection(port);
      client.send('SET', key, value);
      const reply = await client.reply(probeReplyTimeoutMs);
      if (reply === 'OK') return { ok: true };
      const message = reply?.error ?? JSON.stringify(testkit.plain(reply));
      const moved = /^MOVED (\d+) [^:]+:(\d+)/.exec(message);
      if (moved) {
        this.ownerBySlot.set(Number(moved[1]), Number(moved[2]));
        return { error: 'MOVED', moved: true };
      }
      return { error: message.split(' ')[0] };
    } catch (error) {
      // Connection refused or closed, or no reply in time: this connection is done.
      client?.close();
      this.connections.delete(port);
      return { error: error.code ?? error.message };
    }
  }

  async close() {
    for (const pending of this.connections.values()) pending.then((client) => client.close(), () => undefined);
    this.connections.clear();
  }
}

/** Writes `keyOf()` in a loop until stopped; reports each success with when it was sent. */
function writeLoop(client, keyOf, pauseMs, onResult) {
  const state = { stopped: false };
  const value = 'v'.repeat(100);
  state.done = (async () => {
    while (!state.stopped) {
      const sentAt = performance.now();
      const result = await client.set(keyOf(), value);
      onResult(result, sentAt, performance.now());
      if (result.ok) await sleep(pauseMs);
      else if (!result.moved) {
        await client.refresh();
        await sleep(retryPauseMs);
      }
    }
  })();
  return state;
}

/**
 * One trial: a probe loop writes `key` and a load loop writes random keys; once both run, the
 * process owning the key's slot gets SIGKILL; the figure is the time from the kill to the reply of
 * the first write of `key` sent after it that succeeded. Then the process is started again and the
 * cluster waited on until healthy.
 */
async function failoverTrial(system, key, recoveryLimitMs) {
  const probe = new ProbeClient(system.ports(), system.keyHashSlot);
  const load = new ProbeClient(system.ports(), system.keyHashSlot);
  if (!(await probe.refresh()) || !(await load.refresh())) throw new Error(`${system.name}: no node answered CLUSTER SLOTS`);
  let killedAt = Infinity;
  let recoveredAt = null;
  let successesBeforeKill = 0;
  const errors = {};
  const probeLoop = writeLoop(probe, () => key, probePauseMs, (result, sentAt, repliedAt) => {
    if (result.ok) {
      if (sentAt >= killedAt && recoveredAt === null) recoveredAt = repliedAt;
      if (sentAt < killedAt) successesBeforeKill++;
    } else if (sentAt >= killedAt) {
      errors[result.error] = (errors[result.error] ?? 0) + 1;
    }
  });
  let loadCounter = 0;
  let loadWrites = 0;
  const loadLoop = writeLoop(load, () => `bench:load:${loadCounter++ % 100_000}`, loadPauseMs, (result) => {
    if (result.ok) loadWrites++;
  });
  try {
    await waitUntil(`${system.name}: probe writes before the kill`, () => successesBeforeKill >= 50 || `${successesBeforeKill} writes`, 30_000);
    await probe.refresh();
    const ownerPort = probe.owner(key);
    const victim = system.processByPort(ownerPort);
    if (victim === undefined) throw new Error(`${system.name}: no process serves port ${ownerPort} for ${key}`);
    killedAt = performance.now();
    killByPid(victim.process.pid);
    await victim.process.exited;
    const deadline = Date.now() + recoveryLimitMs;
    while (recoveredAt === null && Date.now() < deadline) await sleep(5);
    const recoveryMs = recoveredAt === null ? null : recoveredAt - killedAt;
    probeLoop.stopped = true;
    loadLoop.stopped = true;
    await Promise.all([probeLoop.done, loadLoop.done]);
    await system.restart(victim);
    return { recoveryMs, victim: victim.label, errors, loadWrites };
  } finally {
    probeLoop.stopped = true;
    loadLoop.stopped = true;
    await probe.close();
    await load.close();
  }
}

function redisFailoverSystem(cluster, keyHashSlot) {
  return {
    name: 'Redis Cluster (appendfsync everysec)',
    keyHashSlot,
    ports: () => cluster.nodes.map((node) => node.port),
    processByPort: (port) => {
      const node = cluster.nodes.find((candidate) => candidate.port === port);
      return node && { process: node.process, node, label: `redis-server :${port}` };
    },
    async restart(victim) {
      await startRedisNode(cluster, victim.node);
      await waitUntil('Redis Cluster healthy after restart', () => redisClusterHealthy(cluster), 180_000);
    },
  };
}

function ballastFailoverSystem(cluster, keyHashSlot) {
  return {
    name: `Ballast (durability ${cluster.durability}, ${writeSynchronization})`,
    keyHashSlot,
    ports: () => cluster.members.map((member) => member.port),
    processByPort: (port) => {
      const member = cluster.members.find((candidate) => candidate.port === port);
      return member && { process: member.process, member, label: `ballast-node ${member.nodeId}` };
    },
    async restart(victim) {
      await startBallastNode(cluster, victim.member);
      await waitUntil('Ballast cluster healthy after restart', () => ballastClusterHealthy(cluster), 300_000);
    },
  };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function failoverSeries(system, setting, recoveryLimitMs, trialKeyPrefix) {
  const trials = [];
  for (let trial = 0; trial < failoverTrials; trial++) {
    const key = `${trialKeyPrefix}:${trial}`;
    const result = await failoverTrial(system, key, recoveryLimitMs);
    trials.push(result);
    const errorText = Object.entries(result.errors).map(([error, count]) => `${error}×${count}`).join(' ');
    console.log(`  ${system.name}, ${setting}: trial ${trial + 1}, killed ${result.victim}: ${result.recoveryMs === null ? `not recovered within ${recoveryLimitMs} ms` : `${fmt(result.recoveryMs)} ms`} (errors after the kill: ${errorText || 'none'})`);
  }
  const recovered = trials.filter((trial) => trial.recoveryMs !== null).map((trial) => trial.recoveryMs);
  return {
    name: system.name,
    setting,
    trials,
    medianMs: recovered.length > 0 ? median(recovered) : null,
    maxMs: recovered.length === trials.length ? Math.max(...recovered) : null,
    recoveryLimitMs,
  };
}

// ---------------------------------------------------------------- report

const systemsByPair = [
  { pair: 'Ballast async vs Redis everysec', redis: 'redisEverysec', ballast: 'ballastAsync' },
  { pair: 'Ballast sync vs Redis always', redis: 'redisAlways', ballast: 'ballastSync' },
  { pair: 'Ballast sync vs Redis everysec', redis: 'redisEverysec', ballast: 'ballastSync' },
];

function ratio(system, redis, mode, test) {
  return throughput[mode][system].rows[test].rps / throughput[mode][redis].rows[test].rps;
}

function markdown(failovers, replicationDefaults) {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; Node ${process.version}; ${redisVersion}`;
  const [plainCommand, pipelinedCommand] = modes.map(({ label }) => throughput[label].redisEverysec.command);
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}${quick ? ' (--quick: figures meaningless)' : ''}.`,
    '',
    `Command: \`npm run bench:cluster\`. Redis Cluster: 6 redis-server processes (3 masters, 3 replicas; \`redis-cli --cluster create … --cluster-replicas 1\`), \`--appendonly yes\`, \`appendfsync everysec\` and then \`always\` (CONFIG SET on every node). Ballast: 3 ballast-node processes on one etcd, \`--partitions ${partitions}\`, activated with \`{"partitions":${partitions},"backups":${backups},"writeSynchronization":"${writeSynchronization}"}\`, one cluster with \`--durability async\` and one with \`--durability sync\`. All on loopback on this one machine, one system benchmarked at a time, same run.`,
    '',
    `Each figure: \`${plainCommand}\` (no pipelining) and \`${pipelinedCommand}\` (pipeline 16), \`<port>\` a master of the system measured. redis-benchmark --cluster runs one thread per master and sends each master's share of the requests to one hash slot (the lowest it owns), for both systems alike; its threads notice the end of a run on a 250 ms timer, so a run's elapsed time can be up to 250 ms long, which understates the faster system most on short runs.`,
    '',
    '| Mode | Test | Redis everysec req/s | Redis always req/s | Ballast async req/s | Ballast sync req/s | async / everysec | sync / always | sync / everysec |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const { label } of modes) {
    for (const test of ['SET', 'GET']) {
      const cells = ['redisEverysec', 'redisAlways', 'ballastAsync', 'ballastSync'].map((system) => fmt(throughput[label][system].rows[test].rps));
      const ratios = systemsByPair.map(({ redis, ballast }) => `${ratio(ballast, redis, label, test).toFixed(2)}×`);
      lines.push(`| ${label} | ${test} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
    }
  }
  const errorLines = [];
  for (const { label } of modes) {
    for (const [system, result] of Object.entries(throughput[label])) {
      for (const error of result.errors) errorLines.push(`- ${system}, ${label}: ${error}`);
    }
  }
  lines.push(
    '',
    errorLines.length === 0
      ? 'redis-benchmark (run with `-e`) printed no error reply in any run.'
      : `redis-benchmark counts error replies as finished requests; it printed these (at most one a second):\n\n${errorLines.join('\n')}`,
  );
  lines.push(
    '',
    'Latency as redis-benchmark reports it, p50/p99 ms:',
    '',
    '| Mode | Test | Redis everysec | Redis always | Ballast async | Ballast sync |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  );
  for (const { label } of modes) {
    for (const test of ['SET', 'GET']) {
      const cells = ['redisEverysec', 'redisAlways', 'ballastAsync', 'ballastSync'].map((system) => {
        const row = throughput[label][system].rows[test];
        return `${row.p50}/${row.p99}`;
      });
      lines.push(`| ${label} | ${test} | ${cells.join(' | ')} |`);
    }
  }
  lines.push(
    '',
    `Failover (command: \`npm run bench:cluster\`, failover phase): while one client writes a chosen key (one write in flight, ${probePauseMs} ms apart) and another writes random keys (${loadPauseMs} ms apart), the process that owns the key's slot gets \`kill -9\`; the figure is the time from the kill to the reply of the first write of that key sent after the kill that succeeds. The client follows MOVED at once and re-reads CLUSTER SLOTS after any other failure, ${retryPauseMs} ms apart, with no backoff of its own. Between trials the killed process is started again on its data and the cluster waited on until healthy (Redis: every node cluster_state:ok, no fail flags, replicas' links up; Ballast: ACTIVE, no under-replicated partition). ${failoverTrials} trial(s) per row, a different key (so slot, and often owner) each time. Redis with \`appendfsync everysec\`; Ballast's replication timing is its default (lease ${replicationDefaults.leaseMs} ms, failover delay ${replicationDefaults.failoverDelayMs} ms).`,
    '',
    '| System | Setting | Trials | Median | Max | Each trial |',
    '| --- | --- | ---: | ---: | ---: | --- |',
  );
  for (const series of failovers) {
    const each = series.trials.map((trial) => (trial.recoveryMs === null ? `> ${series.recoveryLimitMs / 1000} s` : `${(trial.recoveryMs / 1000).toFixed(2)} s`)).join(', ');
    const seconds = (value) => (value === null ? '—' : `${(value / 1000).toFixed(2)} s`);
    lines.push(`| ${series.name} | ${series.setting} | ${series.trials.length} | ${seconds(series.medianMs)} | ${seconds(series.maxMs)} | ${each} |`);
  }
  return lines.join('\n');
}

let redisVersion = '';

async function main() {
  const timeLimit = setTimeout(() => {
    console.error(`bench:cluster: time limit of ${runTimeLimitMs / 60_000} min reached; stopping every process it started`);
    process.exit(1);
  }, runTimeLimitMs);
  timeLimit.unref();
  for (const command of ['redis-server', 'redis-cli', 'redis-benchmark', 'etcd']) await need(command);
  for (const built of [nodeMain, testkitMain, clusterMain]) {
    if (!existsSync(built)) {
      console.error('build first: npm run build');
      process.exit(2);
    }
  }
  testkit = await import(pathToFileURL(testkitMain).href);
  const { keyHashSlot, REPLICATION_DEFAULTS } = await import(pathToFileURL(clusterMain).href);
  redisVersion = (await run('redis-server', ['--version'], 10_000)).trim();

  console.log('starting a Redis Cluster (3 masters + 3 replicas) and etcd');
  const redis = await startRedisCluster();
  const redisSeed = await redisMasterPort(redis);
  const probeKey = 'bench:slot-check';
  const redisSlot = await query(redisSeed, 'CLUSTER', 'KEYSLOT', probeKey);
  if (redisSlot !== keyHashSlot(Buffer.from(probeKey))) throw new Error(`slot of ${probeKey}: Redis ${redisSlot}, @ballast/cluster ${keyHashSlot(Buffer.from(probeKey))}`);
  const etcd = await testkit.startEtcd();
  temporaryDirectories.add(etcd.dataDir);
  try {
    console.log('throughput, pair 1: Redis appendfsync everysec, Ballast --durability async');
    ballastCluster = await startBallastCluster(etcd, 'async');
    for (const mode of modes) {
      // Redis first in one mode, Ballast first in the other, so neither always runs on a warmer machine.
      const order = mode === modes[0] ? ['redis', 'ballast'] : ['ballast', 'redis'];
      for (const which of order) {
        if (which === 'redis') await measure('redisEverysec', redisSeed, mode);
        else await measure('ballastAsync', ballastCluster.members[0].port, mode);
      }
    }
    await stopBallastCluster(ballastCluster);

    console.log('throughput, pair 2: Redis appendfsync always, Ballast --durability sync');
    await setRedisConfig(redis, 'appendfsync', 'always');
    ballastCluster = await startBallastCluster(etcd, 'sync');
    for (const mode of modes) {
      const order = mode === modes[0] ? ['redis', 'ballast'] : ['ballast', 'redis'];
      for (const which of order) {
        if (which === 'redis') await measure('redisAlways', redisSeed, mode);
        else await measure('ballastSync', ballastCluster.members[0].port, mode);
      }
    }
    await setRedisConfig(redis, 'appendfsync', 'everysec');
    redis.appendfsync = 'everysec';

    console.log('\nratios (goal: ≥ 0.6× without pipelining)');
    for (const { pair, redis: redisSystem, ballast } of systemsByPair) {
      for (const { label } of modes) {
        const set = ratio(ballast, redisSystem, label, 'SET');
        const get = ratio(ballast, redisSystem, label, 'GET');
        const goal = label === modes[0].label ? `  (goal 0.6×: ${set >= 0.6 && get >= 0.6 ? 'met' : 'not met'})` : '';
        console.log(`  ${pair.padEnd(32)} ${label.padEnd(14)} SET ${set.toFixed(2)}×  GET ${get.toFixed(2)}×${goal}`);
      }
    }

    console.log(`\nfailover (${failoverTrials} trial(s) each)`);
    const failovers = [];
    const ballastSystem = ballastFailoverSystem(ballastCluster, keyHashSlot);
    failovers.push(await failoverSeries(ballastSystem, `lease ${REPLICATION_DEFAULTS.leaseMs} ms, failover delay ${REPLICATION_DEFAULTS.failoverDelayMs} ms (defaults)`, 60_000, 'bench:failover:ballast'));
    for (const nodeTimeoutMs of redisNodeTimeoutsMs) {
      await setRedisConfig(redis, 'cluster-node-timeout', String(nodeTimeoutMs));
      redis.nodeTimeoutMs = nodeTimeoutMs;
      const system = redisFailoverSystem(redis, keyHashSlot);
      failovers.push(await failoverSeries(system, `cluster-node-timeout ${nodeTimeoutMs} ms${nodeTimeoutMs === 15_000 ? ' (default)' : ''}`, nodeTimeoutMs * 4 + 30_000, `bench:failover:redis-${nodeTimeoutMs}`));
    }
    console.log('');
    for (const series of failovers) {
      const seconds = (value) => (value === null ? '—' : `${(value / 1000).toFixed(2)} s`);
      console.log(`  ${series.name.padEnd(38)} ${series.setting.padEnd(62)} median ${seconds(series.medianMs).padStart(8)}  max ${seconds(series.maxMs).padStart(8)}`);
    }

    const section = markdown(failovers, REPLICATION_DEFAULTS);
    if (quick) {
      console.log('\n--quick: docs/benchmarks.md not updated\n');
      console.log(section);
      return;
    }
    const file = path.join(root, 'docs/benchmarks.md');
    const begin = '<!-- bench:cluster begin -->';
    const end = '<!-- bench:cluster end -->';
    const current = readFileSync(file, 'utf8');
    const start = current.indexOf(begin);
    const stopAt = current.indexOf(end);
    if (start < 0 || stopAt < 0) throw new Error('docs/benchmarks.md lacks the bench:cluster markers');
    writeFileSync(file, `${current.slice(0, start + begin.length)}\n${section}\n${current.slice(stopAt)}`);
    console.log('docs/benchmarks.md updated');
  } finally {
    if (ballastCluster) await stopBallastCluster(ballastCluster);
    await Promise.all(redis.nodes.map((node) => node.process && kill(node.process)));
    for (const node of redis.nodes) removeDirectory(node.dir);
    await etcd.stop();
    temporaryDirectories.delete(etcd.dataDir);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
