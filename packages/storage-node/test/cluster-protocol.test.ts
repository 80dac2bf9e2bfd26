// Proves the Redis Cluster protocol end to end on real StorageServers started in this process, each
// given a FakeClusterView over a hand-written map (the replication layer that will provide the real
// view comes later), driven by real clients:
// - ioredis's Cluster client, unmodified, starts against a one-node map (CLUSTER SLOTS and CLUSTER INFO)
//   and runs get/set/mget with hash tags; against two nodes it spreads keys over both and follows
//   MOVED after the map swaps primaries;
// - on a 3-node map where this node owns some partitions: -MOVED with the owner's host:port,
//   -CROSSSLOT for keys in different slots, -CLUSTERDOWN naming a lost partition, keyless commands run
//   locally, MULTI refuses misrouted queued commands (EXECABORT) and EXEC refuses a cross-slot queue
//   (and discards it), WATCH routes, READONLY serves reads where this node is an in-sync backup and only
//   after READONLY (writes still MOVED), in PRIMARY_SYNC only (FULL_SYNC redirects them), READWRITE and RESET end that;
// - a standalone node (no view) answers cluster commands as redis-server without cluster support.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { pino } from 'pino';
import { keyHashSlot, type ClusterMap } from '@ballast/cluster';
import { plain, RawClient } from '@ballast/testkit';
import { parseConfig, type NodeConfig } from '../src/server/config.js';
import { StorageServer } from '../src/server/storage-server.js';
import { buildMap, fakeRedisId, FakeClusterView, localAddress, withPartition } from './support/fake-cluster-view.js';

const PARTITIONS = 16;
const SLOTS_PER_PARTITION = 16384 / PARTITIONS;
const log = pino({ level: 'silent' });
const directories: string[] = [];
const servers: StorageServer[] = [];

function configFor(dataDir: string): NodeConfig {
  const config = parseConfig(
    ['--port', '0', '--admin-port', '0', '--data-dir', dataDir, '--partitions', String(PARTITIONS), '--durability', 'async'],
    {},
    () => '',
  );
  if (config === 'help') throw new Error('unexpected --help');
  return config;
}

async function startServer(view: FakeClusterView | null): Promise<StorageServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ballast-cluster-protocol-'));
  directories.push(dataDir);
  const server = await StorageServer.start(configFor(dataDir), log, view === null ? {} : { cluster: view });
  servers.push(server);
  return server;
}

afterAll(async () => {
  for (const server of servers.splice(0)) await server.shutdown();
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function partitionOf(key: string): number {
  return Math.floor(keyHashSlot(Buffer.from(key)) / SLOTS_PER_PARTITION);
}

/** A key (with an optional prefix) whose slot is in `partition`. */
function keyIn(partition: number, prefix = 'key'): string {
  for (let i = 0; i < 100_000; i++) {
    const key = `${prefix}:${i}`;
    if (partitionOf(key) === partition) return key;
  }
  throw new Error(`no key found for partition ${partition}`);
}

function errorOf(reply: unknown): string {
  if (typeof reply !== 'object' || reply === null || !('error' in reply)) {
    throw new Error(`expected an error reply, got ${JSON.stringify(plain(reply as never))}`);
  }
  return (reply as { error: string }).error;
}

describe('ioredis Cluster client', () => {
  const clients: Cluster[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.quit().catch(() => client.disconnect());
  });

  it('starts against a one-node map and runs get/set/mget with hash tags', async () => {
    const view = new FakeClusterView('solo', null);
    const server = await startServer(view);
    view.setMap(buildMap({ nodes: { solo: localAddress(server.tcpPort) }, partitionCount: PARTITIONS, backups: 0 }));

    const client = new Cluster([{ host: '127.0.0.1', port: server.tcpPort }]);
    clients.push(client);
    expect(await client.set('{user:1}:name', 'ada')).toBe('OK');
    expect(await client.set('{user:1}:lang', 'ballast')).toBe('OK');
    expect(await client.mget('{user:1}:name', '{user:1}:lang', '{user:1}:missing')).toEqual(['ada', 'ballast', null]);
    expect(await client.hset('{user:1}:profile', 'age', '36')).toBe(1);
    expect(await client.hgetall('{user:1}:profile')).toEqual({ age: '36' });
    for (let i = 0; i < 50; i++) await client.set(`spread:${i}`, String(i));
    for (let i = 0; i < 50; i++) expect(await client.get(`spread:${i}`)).toBe(String(i));
    expect(client.status).toBe('ready');

    const slots = await client.cluster('SLOTS');
    expect(slots).toEqual([[0, 16383, ['127.0.0.1', server.tcpPort, fakeRedisId('solo'), []]]]);
    const info = (await client.cluster('INFO')) as string;
    expect(info).toContain('cluster_state:ok\r\n');
    expect(await client.cluster('KEYSLOT', '{user:1}:name')).toBe(keyHashSlot(Buffer.from('user:1')));
    expect(await client.cluster('COUNTKEYSINSLOT', keyHashSlot(Buffer.from('user:1')))).toBe(3);
    expect(((await client.cluster('GETKEYSINSLOT', keyHashSlot(Buffer.from('user:1')), 10)) as string[]).sort()).toEqual([
      '{user:1}:lang',
      '{user:1}:name',
      '{user:1}:profile',
    ]);
  });

  it('spreads keys over two nodes and follows MOVED when the map swaps primaries', async () => {
    const viewA = new FakeClusterView('a', null);
    const viewB = new FakeClusterView('b', null);
    const [serverA, serverB] = [await startServer(viewA), await startServer(viewB)];
    const nodes = { a: localAddress(serverA.tcpPort), b: localAddress(serverB.tcpPort) };
    const split = (firstOwner: string, secondOwner: string): ClusterMap =>
      buildMap({
        nodes,
        partitionCount: PARTITIONS,
        backups: 0,
        assign: (partition) => {
          const owner = partition < PARTITIONS / 2 ? firstOwner : secondOwner;
          return { replicas: [owner], isr: [owner], primary: owner, term: 1, lost: false };
        },
      });
    const before = split('a', 'b');
    viewA.setMap(before);
    viewB.setMap(before);

    const client = new Cluster([{ host: '127.0.0.1', port: serverA.tcpPort }]);
    clients.push(client);
    for (let i = 0; i < 40; i++) expect(await client.set(`k:${i}`, `v${i}`)).toBe('OK');
    for (let i = 0; i < 40; i++) expect(await client.get(`k:${i}`)).toBe(`v${i}`);
    // Both nodes hold some of the keys: each served its own half.
    expect(serverA.engine.keyCount()).toBeGreaterThan(0);
    expect(serverB.engine.keyCount()).toBeGreaterThan(0);
    expect(serverA.engine.keyCount() + serverB.engine.keyCount()).toBe(40);

    // The map swaps primaries (data does not move with the fake view: writes after the swap are read back).
    const after = { ...split('b', 'a'), version: before.version + 1 };
    viewA.setMap(after);
    viewB.setMap(after);
    for (let i = 0; i < 40; i++) expect(await client.set(`k:${i}`, `w${i}`)).toBe('OK');
    for (let i = 0; i < 40; i++) expect(await client.get(`k:${i}`)).toBe(`w${i}`);
    expect(serverA.engine.keyCount()).toBe(40);
    expect(serverB.engine.keyCount()).toBe(40);
  });
});

describe('a node that owns some partitions of a 3-node map', () => {
  const B_PORT = 7002;
  const C_PORT = 7003;
  let server: StorageServer;
  let view: FakeClusterView;
  let baseMap: ClusterMap;
  let client: RawClient;

  /**
   * Partition p: primary n[p mod 3], backup n[p+1 mod 3] over nodes a (this one), b, c (a→b, b→c,
   * c→a). Partition 5 is lost. c is offline. b and c listen nowhere: only the redirections matter.
   */
  beforeAll(async () => {
    view = new FakeClusterView('a', null, { offline: ['c'] });
    server = await startServer(view);
    baseMap = withPartition(
      buildMap({
        nodes: { a: localAddress(server.tcpPort), b: localAddress(B_PORT), c: localAddress(C_PORT) },
        partitionCount: PARTITIONS,
        backups: 1,
      }),
      5,
      { primary: null, isr: [], lost: true },
    );
    view.setMap(baseMap);
    client = await RawClient.connect(server.tcpPort);
  });

  afterAll(() => client?.close());

  it('serves its own partitions and redirects the others with -MOVED <slot> <host>:<port>', async () => {
    const own = keyIn(0);
    expect(await client.call('SET', own, 'here')).toBe('OK');
    expect(plain(await client.call('GET', own))).toBe('here');
    const atB = keyIn(1);
    const atC = keyIn(2);
    expect(errorOf(await client.call('GET', atB))).toBe(`MOVED ${keyHashSlot(Buffer.from(atB))} 127.0.0.1:${B_PORT}`);
    expect(errorOf(await client.call('SET', atC, 'x'))).toBe(`MOVED ${keyHashSlot(Buffer.from(atC))} 127.0.0.1:${C_PORT}`);
    expect(errorOf(await client.call('HSET', atB, 'f', 'v'))).toMatch(/^MOVED /);
  });

  it('refuses keys in different slots with CROSSSLOT, and a lost partition with CLUSTERDOWN', async () => {
    expect(errorOf(await client.call('MGET', keyIn(0), keyIn(3)))).toBe("CROSSSLOT Keys in request don't hash to the same slot");
    expect(errorOf(await client.call('MSET', '{t}a', '1', 'other', '2'))).toBe(
      "CROSSSLOT Keys in request don't hash to the same slot",
    );
    expect(errorOf(await client.call('DEL', keyIn(0), keyIn(1)))).toMatch(/^CROSSSLOT /);
    expect(errorOf(await client.call('GET', keyIn(5)))).toMatch(/^CLUSTERDOWN Partition 5 is lost/);
    // Same slot through a hash tag: fine, when this node owns it.
    const tag = keyIn(0, 'tag');
    expect(await client.call('MSET', `{${tag}}:x`, '1', `{${tag}}:y`, '2')).toBe('OK');
    expect(plain(await client.call('MGET', `{${tag}}:x`, `{${tag}}:y`))).toEqual(['1', '2']);
  });

  it('runs keyless commands locally, on this node only', async () => {
    expect(await client.call('PING')).toBe('PONG');
    expect(typeof (await client.call('DBSIZE'))).toBe('number');
    const scan = plain(await client.call('SCAN', '0', 'COUNT', '1000')) as [string, string[]];
    expect(scan[1].every((key) => [0, 3, 6, 9, 12, 15].includes(partitionOf(key)))).toBe(true);
    expect(plain(await client.call('CLUSTER', 'MYID'))).toBe(fakeRedisId('a'));
  });

  it('checks each queued command in MULTI and refuses a cross-slot EXEC, discarding it', async () => {
    const own = keyIn(0, 'multi');
    expect(await client.call('MULTI')).toBe('OK');
    expect(await client.call('SET', own, '1')).toBe('QUEUED');
    expect(errorOf(await client.call('SET', keyIn(1), '1'))).toMatch(/^MOVED /);
    expect(errorOf(await client.call('EXEC'))).toBe('EXECABORT Transaction discarded because of previous errors.');
    expect(await client.call('GET', own)).toBeNull();

    const other = keyIn(3, 'multi'); // also this node's, another slot
    expect(await client.call('MULTI')).toBe('OK');
    expect(await client.call('SET', own, '1')).toBe('QUEUED');
    expect(await client.call('SET', other, '2')).toBe('QUEUED');
    expect(errorOf(await client.call('EXEC'))).toBe("CROSSSLOT Keys in request don't hash to the same slot");
    expect(errorOf(await client.call('EXEC'))).toBe('ERR EXEC without MULTI');
    expect(await client.call('GET', own)).toBeNull();

    expect(await client.call('MULTI')).toBe('OK');
    expect(await client.call('SET', `{${own}}a`, '1')).toBe('QUEUED');
    expect(await client.call('PING')).toBe('QUEUED');
    expect(await client.call('GET', `{${own}}a`)).toBe('QUEUED');
    expect(plain(await client.call('EXEC'))).toEqual(['OK', 'PONG', '1']);
  });

  it('routes WATCH keys', async () => {
    expect(errorOf(await client.call('WATCH', keyIn(1)))).toMatch(/^MOVED /);
    expect(errorOf(await client.call('WATCH', keyIn(0), keyIn(3)))).toMatch(/^CROSSSLOT /);
    expect(await client.call('WATCH', keyIn(0))).toBe('OK');
    expect(await client.call('UNWATCH')).toBe('OK');
  });

  it('PRIMARY_SYNC: serves reads where it is an in-sync backup only after READONLY; writes still go to the primary', async () => {
    const key = keyIn(8, 'backup'); // partition 8: primary c, backup a
    const primarySync: ClusterMap = { ...baseMap, writeSynchronization: 'PRIMARY_SYNC' };
    // Write it while this node is the partition's primary, then hand the partition back to c.
    view.setMap(withPartition(primarySync, 8, { primary: 'a' }));
    expect(await client.call('SET', key, 'replicated')).toBe('OK');
    view.setMap(primarySync);

    const movedToC = `MOVED ${keyHashSlot(Buffer.from(key))} 127.0.0.1:${C_PORT}`;
    expect(errorOf(await client.call('GET', key))).toBe(movedToC);
    expect(await client.call('READONLY')).toBe('OK');
    expect(plain(await client.call('GET', key))).toBe('replicated');
    expect(errorOf(await client.call('SET', key, 'x'))).toBe(movedToC);
    // Not a replica of partition 1 at all: still MOVED.
    expect(errorOf(await client.call('GET', keyIn(1)))).toMatch(/^MOVED /);
    expect(plain(await client.call('CLIENT', 'INFO'))).toMatch(/ flags=r /);
    expect(await client.call('READWRITE')).toBe('OK');
    expect(errorOf(await client.call('GET', key))).toBe(movedToC);

    expect(await client.call('READONLY')).toBe('OK');
    expect(await client.call('RESET')).toBe('RESET');
    expect(errorOf(await client.call('GET', key))).toBe(movedToC);

    // FULL_SYNC: the same READONLY read is redirected to the primary (campaign seed 483).
    view.setMap(baseMap);
    expect(await client.call('READONLY')).toBe('OK');
    expect(errorOf(await client.call('GET', key))).toBe(movedToC);
    expect(await client.call('READWRITE')).toBe('OK');
  });

  it('accepts ASKING and says it is a cluster node in HELLO and INFO', async () => {
    expect(await client.call('ASKING')).toBe('OK');
    const hello = plain(await client.call('HELLO', '3')) as Record<string, unknown>;
    expect(hello.mode).toBe('cluster');
    const info = plain(await client.call('INFO', 'cluster')) as { verbatim: string } | string;
    expect(typeof info === 'string' ? info : info.verbatim).toContain('cluster_enabled:1');
    await client.call('HELLO', '2');
  });

  it('reports the map in CLUSTER NODES and SHARDS', async () => {
    const nodes = plain(await client.call('CLUSTER', 'NODES')) as string;
    const lines = nodes.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.find((line) => line.includes('myself'))).toMatch(
      new RegExp(`^${fakeRedisId('a')} 127\\.0\\.0\\.1:${server.tcpPort}@\\d+ myself,master - 0 0 \\d+ connected 0-1023 `),
    );
    expect(lines.find((line) => line.startsWith(fakeRedisId('c')))).toContain(' master,fail - ');
    const shards = plain(await client.call('CLUSTER', 'SHARDS')) as unknown[][];
    expect(shards.length).toBeGreaterThanOrEqual(3);
  });
});

describe('a standalone node', () => {
  it('answers cluster commands as redis-server without cluster support', async () => {
    const server = await startServer(null);
    const client = await RawClient.connect(server.tcpPort);
    try {
      for (const command of [['CLUSTER', 'INFO'], ['CLUSTER', 'SLOTS'], ['READONLY'], ['READWRITE'], ['ASKING']]) {
        expect(errorOf(await client.call(...command))).toBe('ERR This instance has cluster support disabled');
      }
      expect(errorOf(await client.call('CLUSTER', 'NOSUCH'))).toBe("ERR unknown subcommand 'NOSUCH'. Try CLUSTER HELP.");
      expect(errorOf(await client.call('CLUSTER', 'KEYSLOT'))).toBe("ERR wrong number of arguments for 'cluster|keyslot' command");
      // Keys of any slot are served: no routing without a cluster.
      expect(await client.call('MSET', 'a', '1', 'b', '2')).toBe('OK');
      expect(plain(await client.call('MGET', 'a', 'b'))).toEqual(['1', '2']);
      expect((plain(await client.call('HELLO', '3')) as Record<string, unknown>).mode).toBe('standalone');
    } finally {
      client.close();
    }
  });
});
