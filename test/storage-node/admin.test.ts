// Proves the admin HTTP port of a real ballast-node: /livez and /readyz answer 200 while serving and
// /readyz answers 503 "shutting down" during a graceful shutdown (fault: SIGTERM while a client that
// never reads is owed replies; invariant: the node reports not-ready, then still exits 0 without
// waiting for that client); /metrics exports the documented
// series (docs/metrics.md) and their values follow what clients do; /v1/node reports the node's
// state as JSON; unknown paths get a JSON 404.
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCommand, RawClient, removeDirectory, startNode, type NodeProcess } from '@ballast/testkit';
import { ballastNodeVersion, findSample, metricsText, nodeState, sampleValue, sleep, waitFor } from './support/node-admin.js';

const MAX_CLIENTS = 6;

describe('admin HTTP', () => {
  let node: NodeProcess;
  let client: RawClient;
  let base: string;

  beforeAll(async () => {
    node = await startNode({ durability: 'sync', args: ['--maxclients', String(MAX_CLIENTS), '--partitions', '64'] });
    client = await RawClient.connect(node.port);
    base = `http://127.0.0.1:${node.adminPort}`;
  });

  afterAll(async () => {
    client.close();
    await node.kill();
    removeDirectory(node.dataDir);
  });

  it('/livez and /readyz answer 200 while the node serves', async () => {
    const livez = await fetch(`${base}/livez`);
    expect(livez.status).toBe(200);
    expect(await livez.text()).toBe('ok\n');
    const readyz = await fetch(`${base}/readyz`);
    expect(readyz.status).toBe(200);
    expect(await readyz.text()).toBe('ready\n');
  });

  it('/metrics exports the documented series', async () => {
    expect(await client.call('SET', 'warm-up', 'v')).toBe('OK');
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    for (const name of [
      'ballast_commands_total',
      'ballast_command_duration_seconds_bucket',
      'ballast_connected_clients',
      'ballast_keys',
      'ballast_expired_keys_total',
      'ballast_persistence_commit_duration_seconds',
      'ballast_rejected_connections_total',
      'ballast_pending_writes',
    ]) {
      expect(text, name).toMatch(new RegExp(`^${name}[ {_]`, 'm'));
    }
    // Labelled counters that have not moved yet are declared without samples.
    expect(text).toMatch(/^# TYPE ballast_client_disconnects_total counter$/m);
    expect(text).toMatch(/^# TYPE ballast_command_duration_seconds histogram$/m);
    expect(text).toMatch(/^# TYPE ballast_persistence_commit_duration_seconds histogram$/m);
  });

  it('metric values follow what clients do', async () => {
    const before = await metricsText(node.adminPort);
    const writes = 25;
    client.write(Buffer.concat(Array.from({ length: writes }, (_, i) => encodeCommand(['SET', `metric:${i}`, 'v']))));
    for (let i = 0; i < writes; i++) expect(await client.reply()).toBe('OK');
    expect(await client.call('SET', 'short-lived', 'v', 'PX', 50)).toBe('OK');
    expect(await client.call('GET', 'metric:0')).not.toBeNull();
    expect((await client.call('GET', 'no-such-key'))).toBeNull();
    expect(await client.call('INCR', 'metric:0')).toEqual({ error: 'ERR value is not an integer or out of range' });
    // Wait for the short-lived key to be expired by the active cycle.
    expect(await waitFor(async () => (await client.call('EXISTS', 'short-lived')) === 0, 10_000)).toBe(true);
    const after = await metricsText(node.adminPort);

    const delta = (name: string, labels: Record<string, string> = {}): number =>
      sampleValue(after, name, labels) - sampleValue(before, name, labels);
    expect(delta('ballast_commands_total', { command: 'set', result: 'ok' })).toBe(writes + 1);
    expect(delta('ballast_commands_total', { command: 'get', result: 'ok' })).toBe(2);
    expect(delta('ballast_commands_total', { command: 'incr', result: 'error' })).toBe(1);
    expect(delta('ballast_command_duration_seconds_count', { command: 'set' })).toBe(writes + 1);
    expect(delta('ballast_command_duration_seconds_bucket', { command: 'set', le: '+Inf' })).toBe(writes + 1);
    expect(delta('ballast_keyspace_lookups_total', { result: 'miss' })).toBeGreaterThanOrEqual(1);
    expect(delta('ballast_expired_keys_total')).toBe(1);
    expect(delta('ballast_persistence_commit_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(delta('ballast_error_replies_total', { prefix: 'ERR' })).toBe(1);
    const keys = (await client.call('DBSIZE')) as number;
    expect(sampleValue(after, 'ballast_keys')).toBe(keys);
    expect(sampleValue(after, 'ballast_connected_clients')).toBe(1);
  });

  it('standalone: rejected-request reasons at 0, LMDB bytes in use, build info; no cluster series', async () => {
    const before = await metricsText(node.adminPort);
    for (const reason of ['moved', 'ask', 'tryagain', 'clusterdown', 'crossslot', 'readonly', 'noauth', 'noreplicas']) {
      expect(findSample(before, 'ballast_rejected_requests_total', { reason }), reason).toBe(0);
    }
    expect(findSample(before, 'ballast_build_info', { version: ballastNodeVersion() })).toBe(1);
    expect(before).not.toMatch(/^ballast_(partitions|cluster_|peer_|replication_|failovers)/m);
    // A durable write of 256 KiB (sync durability: replied once committed) takes that much more room.
    expect(await client.call('SET', 'storage-bytes', Buffer.alloc(256 * 1024, 's'))).toBe('OK');
    const after = await metricsText(node.adminPort);
    expect(findSample(after, 'ballast_storage_bytes')! - findSample(before, 'ballast_storage_bytes')!).toBeGreaterThanOrEqual(256 * 1024);
  });

  it('counts connected and rejected clients', async () => {
    const extra = await Promise.all(Array.from({ length: MAX_CLIENTS - 1 }, () => RawClient.connect(node.port)));
    try {
      for (const other of extra) expect(await other.call('PING')).toBe('PONG');
      expect(sampleValue(await metricsText(node.adminPort), 'ballast_connected_clients')).toBe(MAX_CLIENTS);
      expect(sampleValue(await metricsText(node.adminPort), 'ballast_max_clients')).toBe(MAX_CLIENTS);

      const refused = new Socket();
      const refusal = await new Promise<string>((resolve, reject) => {
        let text = '';
        refused.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
        refused.on('close', () => resolve(text));
        refused.on('error', reject);
        refused.connect(node.port, '127.0.0.1');
      });
      expect(refusal).toBe('-ERR max number of clients reached\r\n');
      const text = await metricsText(node.adminPort);
      expect(sampleValue(text, 'ballast_rejected_connections_total')).toBe(1);
      expect(sampleValue(text, 'ballast_connected_clients')).toBe(MAX_CLIENTS);
    } finally {
      for (const other of extra) other.close();
    }
    expect(await waitFor(async () => sampleValue(await metricsText(node.adminPort), 'ballast_connected_clients') === 1, 10_000)).toBe(
      true,
    );
    expect(sampleValue(await metricsText(node.adminPort), 'ballast_client_disconnects_total', { reason: 'client' })).toBeGreaterThanOrEqual(
      MAX_CLIENTS - 1,
    );
  });

  it('/v1/node reports keys, durability, partitions and clients', async () => {
    const response = await fetch(`${base}/v1/node`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const state = await nodeState(node.adminPort);
    expect(state.keys).toBe((await client.call('DBSIZE')) as number);
    expect(state.durability).toBe('sync');
    expect(state.partitions).toBe(64);
    expect(state.state).toBe('SERVING');
    expect(state.clients.connected).toBe(1);
    expect(state.clients.max).toBe(MAX_CLIENTS);
    expect(state.port).toBe(node.port);
    expect(state.adminPort).toBe(node.adminPort);
    expect(state.pid).toBe(node.pid);
    expect(state.memory.rss).toBeGreaterThan(0);

    expect(await client.call('SET', 'one-more', 'v')).toBe('OK');
    expect((await nodeState(node.adminPort)).keys).toBe(state.keys + 1);
  });

  it('unknown paths answer 404 with a JSON error', async () => {
    const response = await fetch(`${base}/v1/no-such-thing`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } });
  });

  it('/readyz answers 503 while the node shuts down; the process then exits 0', async () => {
    // A client that asked for replies and does not read them keeps the shutdown busy (up to its
    // linger bound), which leaves time to look at the probes.
    expect(await client.call('SET', 'big', Buffer.alloc(1024 * 1024, 'b'))).toBe('OK');
    const stuck = await RawClient.connect(node.port);
    stuck.socket.pause();
    stuck.write(Buffer.concat(Array.from({ length: 20 }, () => encodeCommand(['GET', 'big']))));
    await sleep(200);

    const exited = node.stop();
    const seen: Array<{ status: number; body: string }> = [];
    let livezDuringShutdown = 0;
    await waitFor(async () => {
      try {
        const readyz = await fetch(`${base}/readyz`);
        seen.push({ status: readyz.status, body: await readyz.text() });
        if (readyz.status === 503) livezDuringShutdown = (await fetch(`${base}/livez`)).status;
      } catch {
        return true; // the admin port closed: the node is past its drain
      }
      return seen.some((probe) => probe.status === 503) && livezDuringShutdown !== 0;
    }, 20_000, 20);
    // The shutdown does not wait forever for a client that never reads: the stuck client stays open
    // (and paused) until the process has exited.
    const exitCode = await Promise.race([exited, sleep(30_000).then(() => 'still running after 30 s')]);
    stuck.close();
    expect(exitCode).toBe(0);
    const notReady = seen.find((probe) => probe.status === 503);
    expect(notReady, `probes seen: ${JSON.stringify(seen)}`).toEqual({ status: 503, body: 'shutting down\n' });
    expect(livezDuringShutdown).toBe(200);
  });
});
