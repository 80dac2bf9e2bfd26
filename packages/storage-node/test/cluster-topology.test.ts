// Proves, on hand-written maps (3 nodes, 16 partitions, 1 backup, one lost partition, one offline
// node), what the Redis Cluster protocol layer reports and decides, without a server:
// - CLUSTER SLOTS: one entry per maximal run of slots with the same primary and online backups,
//   primary first, lost partitions left out; exact RESP2 and RESP3 bytes as redis-server 7 writes them;
// - CLUSTER SHARDS: Redis 7's map shape, health online / loading / fail, replication-offset 0;
// - CLUSTER NODES: Redis's text line format, `myself`, `fail`/`disconnected`, ranges a node is primary for;
// - CLUSTER INFO: Redis's fields and cluster_state (ok only when every partition is served by an
//   online primary in an ACTIVE or ACTIVE_READ_ONLY cluster), plus ballast_* fields;
// - routing: slot of a command from its key positions, CROSSSLOT, MOVED to the primary, CLUSTERDOWN
//   for lost / unowned partitions and an inactive cluster, READONLY reads served by in-sync backups only,
//   EXEC routed over its whole queue with write access when any queued command writes.
import { describe, expect, it } from 'vitest';
import { keyHashSlot, type ClusterMap } from '@ballast/cluster';
import { plain, ReplyParser, type RespValue } from '@ballast/testkit';
import { ReplyWriter } from '../src/resp/reply-writer.js';
import { clusterCommands } from '../src/cluster/cluster-commands.js';
import { commandRefusal, commandSlot, CROSS_SLOT, NO_KEYS, routeByMap, transactionRefusal } from '../src/cluster/routing.js';
import { infoFields, nodesText, shards, slotsEntries } from '../src/cluster/topology.js';
import { buildCommandTable } from '../src/commands/registry.js';
import type { CommandContext, CommandSpec, ServerApi } from '../src/commands/types.js';
import { buildMap, fakeRedisId, FakeClusterView, localAddress, roundRobin, withPartition } from './support/fake-cluster-view.js';

const NODES = { a: localAddress(7001), b: localAddress(7002), c: localAddress(7003) };

/**
 * Partition p: primary n[p mod 3], backup n[p+1 mod 3] (a→b, b→c, c→a). Node c is offline:
 * partition 2 already failed over to a (c out of its ISR); partitions 8, 11, 14 still name c as
 * primary (failover not done yet). Partition 5 is lost (no primary).
 */
function threeNodeMap(): ClusterMap {
  let map = buildMap({ nodes: NODES, partitionCount: 16, backups: 1 });
  map = withPartition(map, 2, { primary: 'a', isr: ['a'], term: 2 });
  map = withPartition(map, 5, { primary: null, isr: [], lost: true });
  return map;
}

function viewOf(nodeId: string, map: ClusterMap | null = threeNodeMap()): FakeClusterView {
  return new FakeClusterView(nodeId, map, { offline: ['c'] });
}

const partitionSlots = (partition: number): { first: number; last: number } => ({
  first: partition * 1024,
  last: partition * 1024 + 1023,
});

/** Runs a cluster command's handler against `view` and returns the raw reply bytes. */
function runCluster(view: FakeClusterView | null, protocol: 2 | 3, ...args: string[]): string {
  const table = new Map(clusterCommands.map((spec) => [spec.name, spec]));
  const top = table.get(args[0]!.toLowerCase())!;
  const spec = top.subcommands?.get(args[1]!.toLowerCase()) ?? top;
  const reply = new ReplyWriter();
  reply.protocol = protocol;
  const ctx = {
    server: { cluster: view } as unknown as ServerApi,
    reply,
    client: { readonlyMode: false, asking: false },
    ticket: 0,
    nowMs: 0,
  } as unknown as CommandContext;
  spec.handler(ctx, args.map((arg) => Buffer.from(arg)));
  return Buffer.concat(reply.takeUpTo(reply.length)).toString('latin1');
}

function parse(bytes: string): RespValue {
  const parser = new ReplyParser();
  parser.push(Buffer.from(bytes, 'latin1'));
  const value = parser.next();
  if (value === undefined) throw new Error(`incomplete reply: ${JSON.stringify(bytes)}`);
  return value;
}

describe('CLUSTER SLOTS', () => {
  it('lists runs with the primary first, skips lost partitions and offline backups', () => {
    const entries = slotsEntries(viewOf('a'));
    const expected: Array<{ first: number; last: number; nodeIds: string[] }> = [];
    for (let partition = 0; partition < 16; partition++) {
      if (partition === 5) continue;
      const nodeIds =
        partition === 2 ? ['a'] : partition % 3 === 0 ? ['a', 'b'] : partition % 3 === 1 ? ['b'] : ['c', 'a'];
      expected.push({ ...partitionSlots(partition), nodeIds });
    }
    expect(entries).toEqual(expected);
  });

  it('merges consecutive partitions with the same nodes into one range', () => {
    const single = buildMap({ nodes: { a: NODES.a }, partitionCount: 16, backups: 0 });
    expect(slotsEntries(new FakeClusterView('a', single))).toEqual([{ first: 0, last: 16383, nodeIds: ['a'] }]);
    const halves = buildMap({
      nodes: { a: NODES.a, b: NODES.b },
      partitionCount: 16,
      backups: 1,
      assign: (partition) => {
        const replicas = partition < 8 ? ['a', 'b'] : ['b', 'a'];
        return { replicas, isr: [...replicas], primary: replicas[0]!, term: 1, lost: false };
      },
    });
    expect(slotsEntries(new FakeClusterView('b', halves))).toEqual([
      { first: 0, last: 8191, nodeIds: ['a', 'b'] },
      { first: 8192, last: 16383, nodeIds: ['b', 'a'] },
    ]);
  });

  it('writes Redis 7 bytes: [start, end, [ip, port, id, {}]...] in RESP2 and RESP3', () => {
    const map = buildMap({ nodes: { a: NODES.a, b: NODES.b }, partitionCount: 16, backups: 1, assign: roundRobin(1) });
    const view = new FakeClusterView('a', map);
    const node = (id: string, port: number, emptyMap: string): string =>
      `*4\r\n$9\r\n127.0.0.1\r\n:${port}\r\n$40\r\n${fakeRedisId(id)}\r\n${emptyMap}\r\n`;
    const resp2 = runCluster(view, 2, 'CLUSTER', 'SLOTS');
    const resp3 = runCluster(view, 3, 'CLUSTER', 'SLOTS');
    // Partitions alternate a/b as primary: 16 runs of 1024 slots.
    expect(resp2.startsWith(`*16\r\n*4\r\n:0\r\n:1023\r\n${node('a', 7001, '*0')}${node('b', 7002, '*0')}*4\r\n:1024\r\n:2047\r\n`)).toBe(true);
    expect(resp3.startsWith(`*16\r\n*4\r\n:0\r\n:1023\r\n${node('a', 7001, '%0')}${node('b', 7002, '%0')}`)).toBe(true);
  });

  it('is empty before the node has a map', () => {
    expect(runCluster(new FakeClusterView('a', null), 2, 'CLUSTER', 'SLOTS')).toBe('*0\r\n');
  });
});

describe('CLUSTER SHARDS', () => {
  it('groups runs by node list and reports health from presence and the ISR', () => {
    const view = viewOf('a');
    const all = shards(view);
    const slotsOf = (partitions: number[]): Array<{ first: number; last: number }> => partitions.map(partitionSlots);
    expect(all).toEqual([
      {
        slots: slotsOf([0, 3, 6, 9, 12, 15]),
        nodes: [
          { nodeId: 'a', role: 'master', health: 'online' },
          { nodeId: 'b', role: 'replica', health: 'online' },
        ],
      },
      {
        slots: slotsOf([1, 4, 7, 10, 13]),
        nodes: [
          { nodeId: 'b', role: 'master', health: 'online' },
          { nodeId: 'c', role: 'replica', health: 'fail' },
        ],
      },
      {
        // Partition 2 after failover: replicas [c, a], primary a; c is out of the ISR and offline.
        slots: slotsOf([2]),
        nodes: [
          { nodeId: 'a', role: 'master', health: 'online' },
          { nodeId: 'c', role: 'replica', health: 'fail' },
        ],
      },
      {
        slots: slotsOf([8, 11, 14]),
        nodes: [
          { nodeId: 'c', role: 'master', health: 'fail' },
          { nodeId: 'a', role: 'replica', health: 'online' },
        ],
      },
    ]);
  });

  it('reports an online backup outside the ISR as loading, and a node without partitions as an empty shard', () => {
    const nodes = { ...NODES, d: localAddress(7004) };
    let map = buildMap({ nodes, partitionCount: 16, backups: 1, assign: roundRobin(1) });
    // Every partition on a/b only; d is in the baseline but holds nothing.
    map = {
      ...map,
      partitions: map.partitions.map(() => ({ replicas: ['a', 'b'], isr: ['a'], primary: 'a', term: 1, lost: false })),
    };
    const view = new FakeClusterView('a', map, { offline: ['c'] });
    expect(shards(view)).toEqual([
      {
        slots: [{ first: 0, last: 16383 }],
        nodes: [
          { nodeId: 'a', role: 'master', health: 'online' },
          { nodeId: 'b', role: 'replica', health: 'loading' },
        ],
      },
      { slots: [], nodes: [{ nodeId: 'c', role: 'master', health: 'fail' }] },
      { slots: [], nodes: [{ nodeId: 'd', role: 'master', health: 'online' }] },
    ]);
  });

  it('writes Redis 7 maps: slots as a flat start/end list, nodes with id, port, ip, endpoint, role, offset, health', () => {
    const map = buildMap({ nodes: { a: NODES.a }, partitionCount: 16, backups: 0 });
    const view = new FakeClusterView('a', map);
    const node =
      `$2\r\nid\r\n$40\r\n${fakeRedisId('a')}\r\n$4\r\nport\r\n:7001\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n` +
      `$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:0\r\n` +
      `$6\r\nhealth\r\n$6\r\nonline\r\n`;
    expect(runCluster(view, 3, 'CLUSTER', 'SHARDS')).toBe(
      `*1\r\n%2\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n%7\r\n${node}`,
    );
    expect(runCluster(view, 2, 'CLUSTER', 'SHARDS')).toBe(
      `*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n*14\r\n${node}`,
    );
  });

  it('adds hostname for a node whose host is a DNS name', () => {
    const map = buildMap({
      nodes: { a: { host: 'ballast-0.ballast.default.svc', port: 6379, peerPort: 16379, adminPort: 8080 } },
      partitionCount: 16,
      backups: 0,
    });
    const reply = plain(parse(runCluster(new FakeClusterView('a', map), 3, 'CLUSTER', 'SHARDS'))) as Array<{
      nodes: Array<Record<string, unknown>>;
    }>;
    expect(reply[0]!.nodes[0]).toEqual({
      id: fakeRedisId('a'),
      port: 6379,
      ip: 'ballast-0.ballast.default.svc',
      endpoint: 'ballast-0.ballast.default.svc',
      hostname: 'ballast-0.ballast.default.svc',
      role: 'master',
      'replication-offset': 0,
      health: 'online',
    });
  });
});

describe('CLUSTER NODES', () => {
  it('writes one Redis-format line per node: masters with the ranges they are primary for', () => {
    const text = nodesText(viewOf('a'));
    // Ranges of partitions [first, last]; a's partitions 2 and 3 are consecutive and merge.
    const ranges = (runs: Array<[number, number]>): string =>
      runs.map(([first, last]) => `${first * 1024}-${last * 1024 + 1023}`).join(' ');
    const a = ranges([[0, 0], [2, 3], [6, 6], [9, 9], [12, 12], [15, 15]]);
    const b = ranges([[1, 1], [4, 4], [7, 7], [10, 10], [13, 13]]);
    const c = ranges([[8, 8], [11, 11], [14, 14]]);
    expect(text).toBe(
      `${fakeRedisId('a')} 127.0.0.1:7001@17001 myself,master - 0 0 9 connected ${a}\n` +
        `${fakeRedisId('b')} 127.0.0.1:7002@17002 master - 0 0 9 connected ${b}\n` +
        `${fakeRedisId('c')} 127.0.0.1:7003@17003 master,fail - 0 0 9 disconnected ${c}\n`,
    );
  });

  it('merges consecutive ranges, writes single slots alone, and answers as bulk (RESP2) or verbatim (RESP3)', () => {
    const single = buildMap({ nodes: { a: NODES.a }, partitionCount: 16384, backups: 0, version: 3 });
    // One slot per partition; partitions 100 and 102 are lost, so slot 101 stands alone.
    const map = withPartition(withPartition(single, 100, { primary: null, isr: [], lost: true }), 102, {
      primary: null,
      isr: [],
      lost: true,
    });
    const view = new FakeClusterView('a', map);
    const line = `${fakeRedisId('a')} 127.0.0.1:7001@17001 myself,master - 0 0 5 connected 0-99 101 103-16383\n`;
    expect(nodesText(view)).toBe(line);
    expect(runCluster(view, 2, 'CLUSTER', 'NODES')).toBe(`$${line.length}\r\n${line}\r\n`);
    expect(runCluster(view, 3, 'CLUSTER', 'NODES')).toBe(`=${line.length + 4}\r\ntxt:${line}\r\n`);
  });

  it('shows only this node before it has a map', () => {
    const view = new FakeClusterView('a', null, { address: NODES.a });
    expect(nodesText(view)).toBe(`${fakeRedisId('a')} 127.0.0.1:7001@17001 myself,master - 0 0 0 connected\n`);
  });
});

describe('CLUSTER INFO', () => {
  const fields = (view: FakeClusterView): Record<string, string | number> => Object.fromEntries(infoFields(view));

  it("reports Redis's fields and fail when a partition is lost or its primary offline", () => {
    const info = fields(viewOf('a'));
    expect(Object.keys(info).slice(0, 12)).toEqual([
      'cluster_state',
      'cluster_slots_assigned',
      'cluster_slots_ok',
      'cluster_slots_pfail',
      'cluster_slots_fail',
      'cluster_known_nodes',
      'cluster_size',
      'cluster_current_epoch',
      'cluster_my_epoch',
      'cluster_stats_messages_sent',
      'cluster_stats_messages_received',
      'total_cluster_links_buffer_limit_exceeded',
    ]);
    expect(info).toMatchObject({
      cluster_state: 'fail',
      cluster_slots_assigned: 15 * 1024,
      cluster_slots_ok: 12 * 1024,
      cluster_slots_pfail: 0,
      cluster_slots_fail: 3 * 1024,
      cluster_known_nodes: 3,
      cluster_size: 3,
      cluster_current_epoch: 9,
      cluster_my_epoch: 9,
      ballast_state: 'ACTIVE',
      ballast_map_version: 9,
      ballast_baseline_size: 3,
      ballast_partitions: 16,
      ballast_lost_partitions: 1,
    });
  });

  it('is ok only when ACTIVE (or ACTIVE_READ_ONLY, which serves reads) and every partition has an online primary', () => {
    const healthy = buildMap({ nodes: NODES, partitionCount: 16, backups: 1 });
    expect(fields(new FakeClusterView('a', healthy)).cluster_state).toBe('ok');
    expect(fields(new FakeClusterView('a', healthy, { offline: ['b'] })).cluster_state).toBe('fail');
    expect(fields(new FakeClusterView('a', { ...healthy, state: 'ACTIVE_READ_ONLY' })).cluster_state).toBe('ok');
    expect(fields(new FakeClusterView('a', { ...healthy, state: 'INACTIVE' })).cluster_state).toBe('fail');
    expect(fields(new FakeClusterView('a', null))).toMatchObject({ cluster_state: 'fail', cluster_known_nodes: 1, ballast_state: 'NO_MAP' });
  });

  it('answers as CRLF lines in a bulk string (RESP2) or verbatim string (RESP3)', () => {
    const view = new FakeClusterView('a', buildMap({ nodes: NODES, partitionCount: 16, backups: 1 }));
    const resp2 = runCluster(view, 2, 'CLUSTER', 'INFO');
    expect(resp2).toMatch(/^\$\d+\r\ncluster_state:ok\r\ncluster_slots_assigned:16384\r\n/);
    expect(resp2.endsWith('ballast_lost_partitions:0\r\n\r\n')).toBe(true);
    expect(runCluster(view, 3, 'CLUSTER', 'INFO')).toMatch(/^=\d+\r\ntxt:cluster_state:ok\r\n/);
  });
});

describe('CLUSTER KEYSLOT, MYID, HELP and the standalone answer', () => {
  it('KEYSLOT hashes as Redis Cluster', () => {
    const view = viewOf('a');
    expect(runCluster(view, 2, 'CLUSTER', 'KEYSLOT', 'somekey')).toBe(':11058\r\n');
    expect(runCluster(view, 2, 'CLUSTER', 'KEYSLOT', '{user1}.following')).toBe(':8106\r\n');
  });

  it('MYID is the 40-hex Redis id', () => {
    expect(runCluster(viewOf('b'), 2, 'CLUSTER', 'MYID')).toBe(`$40\r\n${fakeRedisId('b')}\r\n`);
  });

  it('HELP is an array of status lines ending with HELP', () => {
    const help = parse(runCluster(viewOf('a'), 2, 'CLUSTER', 'HELP')) as string[];
    expect(help[0]).toBe('CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
    expect(help.slice(-2)).toEqual(['HELP', '    Prints this help.']);
    expect(help).toContain('SHARDS');
  });

  it('without a ClusterView every cluster command fails as on a redis-server without cluster support', () => {
    for (const args of [['CLUSTER', 'INFO'], ['CLUSTER', 'SLOTS'], ['CLUSTER', 'HELP'], ['READONLY'], ['READWRITE'], ['ASKING']]) {
      expect(() => runCluster(null, 2, ...args)).toThrow('ERR This instance has cluster support disabled');
    }
  });
});

describe('routing', () => {
  const table = buildCommandTable();
  const spec = (name: string): CommandSpec => table.get(name)!;
  const args = (...items: string[]): Buffer[] => items.map((item) => Buffer.from(item));
  /** A key whose slot is in `partition` (16 partitions of 1024 slots). */
  const keyIn = (partition: number): string => {
    for (let i = 0; i < 100_000; i++) {
      const key = `k${i}`;
      if (Math.floor(keyHashSlot(Buffer.from(key)) / 1024) === partition) return key;
    }
    throw new Error(`no key found for partition ${partition}`);
  };

  it('finds the slot from the key positions; keyless commands have none; mixed slots are CROSS_SLOT', () => {
    expect(commandSlot(spec('get'), args('GET', 'somekey'))).toBe(11058);
    expect(commandSlot(spec('mset'), args('MSET', '{u}a', '1', '{u}b', '2'))).toBe(keyHashSlot(Buffer.from('u')));
    expect(commandSlot(spec('mget'), args('MGET', 'a', 'b'))).toBe(CROSS_SLOT);
    // MSET's values are not keys: only positions 1, 3, ... count.
    expect(commandSlot(spec('mset'), args('MSET', '{u}a', 'x', '{u}b', 'y'))).toBe(keyHashSlot(Buffer.from('u')));
    expect(commandSlot(spec('ping'), args('PING'))).toBe(NO_KEYS);
    expect(commandSlot(spec('scan'), args('SCAN', '0'))).toBe(NO_KEYS);
    expect(commandSlot(spec('dbsize'), args('DBSIZE'))).toBe(NO_KEYS);
  });

  it('serves the primary, redirects elsewhere, refuses lost partitions and an inactive cluster', () => {
    const map = threeNodeMap();
    const slotOf = (partition: number): number => partition * 1024 + 7;
    expect(routeByMap(map, 'a', slotOf(0), 'write', false)).toEqual({ kind: 'local', partition: 0 });
    expect(routeByMap(map, 'a', slotOf(2), 'write', false)).toEqual({ kind: 'local', partition: 2 });
    expect(routeByMap(map, 'a', slotOf(1), 'read', false)).toEqual({ kind: 'moved', host: '127.0.0.1', port: 7002 });
    expect(routeByMap(map, 'a', slotOf(8), 'read', false)).toEqual({ kind: 'moved', host: '127.0.0.1', port: 7003 });
    expect(routeByMap(map, 'a', slotOf(5), 'read', false)).toMatchObject({ kind: 'error', code: 'CLUSTERDOWN', message: expect.stringContaining('Partition 5 is lost') });
    expect(routeByMap(withPartition(map, 4, { primary: null, isr: [] }), 'a', slotOf(4), 'read', false)).toMatchObject({
      kind: 'error',
      code: 'CLUSTERDOWN',
      message: expect.stringContaining('Hash slot not served'),
    });
    expect(routeByMap({ ...map, state: 'INACTIVE' }, 'a', slotOf(0), 'read', false)).toMatchObject({ kind: 'error', code: 'CLUSTERDOWN' });
    expect(routeByMap(null, 'a', slotOf(0), 'read', false)).toMatchObject({ kind: 'error', code: 'CLUSTERDOWN' });
    expect(routeByMap({ ...map, state: 'ACTIVE_READ_ONLY' }, 'a', slotOf(0), 'write', false)).toMatchObject({ kind: 'error', code: 'READONLY' });
    expect(routeByMap({ ...map, state: 'ACTIVE_READ_ONLY' }, 'a', slotOf(0), 'read', false)).toEqual({ kind: 'local', partition: 0 });
  });

  it('PRIMARY_SYNC: serves READONLY reads on an in-sync backup only; writes still go to the primary', () => {
    const map = { ...threeNodeMap(), writeSynchronization: 'PRIMARY_SYNC' as const };
    const slotOf = (partition: number): number => partition * 1024;
    // a is the in-sync backup of c's partitions 8, 11, 14.
    expect(routeByMap(map, 'a', slotOf(8), 'read', true)).toEqual({ kind: 'local', partition: 8 });
    expect(routeByMap(map, 'a', slotOf(8), 'write', true)).toEqual({ kind: 'moved', host: '127.0.0.1', port: 7003 });
    expect(routeByMap(map, 'a', slotOf(8), 'read', false)).toEqual({ kind: 'moved', host: '127.0.0.1', port: 7003 });
    // A backup outside the ISR (catching up) redirects even READONLY reads.
    const catchingUp = withPartition(map, 8, { isr: ['c'] });
    expect(routeByMap(catchingUp, 'a', slotOf(8), 'read', true)).toEqual({ kind: 'moved', host: '127.0.0.1', port: 7003 });
    // Not a replica at all: MOVED.
    expect(routeByMap(map, 'a', slotOf(1), 'read', true)).toEqual({ kind: 'moved', host: '127.0.0.1', port: 7002 });
  });

  it('FULL_SYNC: a backup redirects READONLY reads to the primary too (its map may be stale)', () => {
    const map = threeNodeMap();
    expect(map.writeSynchronization).toBe('FULL_SYNC');
    const slotOf = (partition: number): number => partition * 1024;
    expect(routeByMap(map, 'a', slotOf(8), 'read', true)).toEqual({ kind: 'moved', host: '127.0.0.1', port: 7003 });
    expect(routeByMap(map, 'a', slotOf(0), 'read', true)).toEqual({ kind: 'local', partition: 0 });
  });

  it('turns routes into the error lines clients parse', () => {
    const view = viewOf('a');
    const movedKey = keyIn(1);
    const slot = keyHashSlot(Buffer.from(movedKey));
    expect(commandRefusal(view, spec('get'), args('GET', movedKey), false)).toBe(`MOVED ${slot} 127.0.0.1:7002`);
    expect(commandRefusal(view, spec('get'), args('GET', keyIn(0)), false)).toBeNull();
    expect(commandRefusal(view, spec('mget'), args('MGET', keyIn(0), keyIn(3)), false)).toBe(
      "CROSSSLOT Keys in request don't hash to the same slot",
    );
    expect(commandRefusal(view, spec('get'), args('GET', keyIn(5)), false)).toMatch(/^CLUSTERDOWN Partition 5 is lost/);
    expect(commandRefusal(view, spec('keys'), args('KEYS', '*'), false)).toBeNull();
  });

  it('routes EXEC over the whole queue: one slot, write access if any command writes', () => {
    // PRIMARY_SYNC, so a READONLY read of a backup's partition is served here.
    const view = viewOf('a', { ...threeNodeMap(), writeSynchronization: 'PRIMARY_SYNC' });
    const backupKey = keyIn(8);
    const queue = (...commands: string[][]): Array<{ spec: CommandSpec; args: Buffer[] }> =>
      commands.map((command) => ({ spec: spec(command[0]!.toLowerCase()), args: args(...command) }));
    expect(transactionRefusal(view, queue(['GET', keyIn(0)], ['PING'], ['SET', keyIn(0), 'v']), false)).toBeNull();
    expect(transactionRefusal(view, queue(['GET', keyIn(0)], ['GET', keyIn(3)]), false)).toBe(
      "CROSSSLOT Keys in request don't hash to the same slot",
    );
    expect(transactionRefusal(view, queue(['GET', backupKey]), true)).toBeNull();
    expect(transactionRefusal(view, queue(['GET', backupKey], ['SET', backupKey, 'v']), true)).toMatch(/^MOVED \d+ 127\.0\.0\.1:7003$/);
    expect(transactionRefusal(view, queue(['PING']), false)).toBeNull();
  });
});
