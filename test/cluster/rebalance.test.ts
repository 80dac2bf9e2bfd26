// Proves baseline changes and partition moves on real ballast-node processes and a real etcd
// (backups=1, FULL_SYNC). Every test keeps writers running through the change (ioredis Cluster
// clients, which follow MOVED/ASK and retry TRYAGAIN as any Redis Cluster client does).
// - Change: a 4th node joins a 3-node baseline. Invariants: only partitions the new node wins move,
//   each replacing exactly one old copy by a copy on the new node (no copy moves between old nodes;
//   the count and share are printed); no acknowledged write lost; writers see no error; progress is
//   reported while it runs and the rebalance finishes; old owners delete the copies they gave up.
//   Figures printed (never asserted): MB/s moved and client p99 latency during the move vs idle.
// - Change: removing an online node is refused with 409; fault: kill -9 of a node, then removing it
//   (offline) from the baseline. Invariant: every partition gets back to 2 in-sync replicas, none on
//   the removed node, no acknowledged write lost.
// - Fault: kill -9 of the receiving node in the middle of a throttled rebalance, then a restart.
//   Invariants: the rebalance completes (after the throttle is raised at runtime), nothing is lost.
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterMap } from '@ballast/cluster';
import { startCluster, type ClusterMember, type TestCluster } from '@ballast/testkit';
import {
  checkNoAcknowledgedWriteLost,
  clusterClient,
  percentile,
  sleep,
  waitFor,
  Writer,
} from './support/cluster-helpers.js';

const PARTITIONS = 32;
const WRITERS = 4;
const KEYS_PER_WRITER = 25;

type Client = ReturnType<typeof clusterClient>;

describe('baseline changes and rebalancing (etcd, backups=1, FULL_SYNC)', () => {
  let cluster: TestCluster | null = null;
  const clients: Client[] = [];
  const open = (): Client => {
    const client = clusterClient(cluster!.members.filter((member) => member.process !== null).map((member) => member.port));
    clients.push(client);
    return client;
  };
  const map = async (member?: ClusterMember): Promise<ClusterMap> => {
    const live = member ?? cluster!.members.find((candidate) => candidate.process !== null)!;
    return (await cluster!.admin(live, 'GET', '/v1/cluster/map')).body as unknown as ClusterMap;
  };
  /** Preloads `count` keys of `bytes` each through a pipeline per batch. */
  const preload = async (client: Client, count: number, bytes: number): Promise<void> => {
    const value = 'v'.repeat(bytes);
    for (let start = 0; start < count; start += 200) {
      await Promise.all(Array.from({ length: Math.min(200, count - start) }, (_, i) => client.set(`preload:${start + i}`, value)));
    }
  };
  const checkPreload = async (client: Client, count: number, bytes: number): Promise<number> => {
    let missing = 0;
    for (let start = 0; start < count; start += 200) {
      const values = await Promise.all(Array.from({ length: Math.min(200, count - start) }, (_, i) => client.get(`preload:${start + i}`)));
      missing += values.filter((value) => value?.length !== bytes).length;
    }
    return missing;
  };

  afterEach(async () => {
    for (const client of clients.splice(0)) client.disconnect();
    await cluster?.destroy();
    cluster = null;
  });

  it('adds a 4th node under writes: a quarter of the copies move to it, none between old nodes, nothing lost', async () => {
    cluster = await startCluster({ nodes: 3, store: 'etcd', partitions: PARTITIONS, backups: 1, writeSynchronization: 'FULL_SYNC' });
    const loader = open();
    const PRELOAD = 3000;
    const VALUE_BYTES = 1000;
    await preload(loader, PRELOAD, VALUE_BYTES);
    const latencies: Array<{ atMs: number; ms: number }> = [];
    const writers = Array.from({ length: WRITERS }, (_, index) => new Writer(index, open(), KEYS_PER_WRITER, latencies, 2));
    await sleep(1500);
    const idleLatencies = latencies.map((item) => item.ms);
    const before = await map();

    const newcomer = await cluster.addMember();
    const refused = await cluster.admin(newcomer, 'POST', '/v1/cluster/baseline/remove', { nodes: ['node-0'] });
    expect(refused.status).toBe(409);
    expect(JSON.stringify(refused.body)).toMatch(/online: stop it before removing it/);

    const startedMs = Date.now();
    const added = await cluster.admin(cluster.members[0]!, 'POST', '/v1/cluster/baseline/add', { nodes: [newcomer.nodeId] });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    const progress: Array<Record<string, unknown>> = [];
    const finished = await cluster.waitRebalanced({ timeoutMs: 90_000, onProgress: (report) => progress.push(report) });
    const moveEndMs = Date.now();
    const during = latencies.filter((item) => item.atMs >= startedMs && item.atMs <= moveEndMs).map((item) => item.ms);
    await sleep(500);
    for (const writer of writers) await writer.stop();

    const after = await map();
    expect(after.baseline, JSON.stringify(after.history)).toEqual(["node-0", "node-1", "node-2", "node-3"]);
    let moved = 0;
    let copies = 0;
    after.partitions.forEach((assignment, partition) => {
      const previous = before.partitions[partition]!;
      expect(assignment.target).toBeUndefined();
      expect(assignment.isr.sort()).toEqual([...assignment.replicas].sort());
      copies += assignment.replicas.length;
      const gained = assignment.replicas.filter((node) => !previous.replicas.includes(node));
      // Nothing moves between old nodes: a partition either keeps its replicas or swaps one for node-3.
      expect(gained.length === 0 || (gained.length === 1 && gained[0] === newcomer.nodeId), `partition ${partition}: ${previous.replicas} → ${assignment.replicas}`).toBe(true);
      if (gained.length === 1) moved++;
    });
    const inProgressReports = progress.filter((report) => report['inProgress'] === true);
    const report = finished as { partitionsTotal: number; bytesMoved: number; startedAt: string; finishedAt: string | null };
    const seconds = (moveEndMs - startedMs) / 1000;
    console.log(
      `4th node: ${moved} of ${PARTITIONS} partitions moved a copy to it (${moved} of ${copies} copies = ${((moved / copies) * 100).toFixed(0)}%), ` +
        `${report.bytesMoved} bytes in ${seconds.toFixed(2)} s (${(report.bytesMoved / 1e6 / seconds).toFixed(1)} MB/s, small dataset), ` +
        `progress reports while moving: ${inProgressReports.length}; client SET p99 ${percentile(idleLatencies, 99).toFixed(1)} ms idle vs ${percentile(during, 99).toFixed(1)} ms during the move`,
    );
    expect(moved).toBeGreaterThan(PARTITIONS / 4);
    expect(moved).toBeLessThan((PARTITIONS * 3) / 4);
    expect(report.partitionsTotal).toBe(moved);
    expect(report.bytesMoved).toBeGreaterThan(0);
    expect(inProgressReports.length).toBeGreaterThan(0);
    expect(writers.map((writer) => writer.errorCount)).toEqual(writers.map(() => 0));
    expect(writers.every((writer) => writer.acknowledgedCount > 0)).toBe(true);

    const checker = open();
    expect(await checkNoAcknowledgedWriteLost(checker, writers)).toEqual([]);
    expect(await checkPreload(checker, PRELOAD, VALUE_BYTES)).toBe(0);
    // Old owners deleted the copies they gave up; the newcomer holds what it gained.
    const dropped = await Promise.all(cluster.members.map(async (member) => ((await cluster!.summary(member)) as { thisNode: { stats: { partitionsDropped: number } } }).thisNode.stats.partitionsDropped));
    expect(dropped.slice(0, 3).reduce((a, b) => a + b, 0)).toBe(moved);
  }, 240_000);

  it('refuses to remove an online node; removes an offline one and restores two in-sync copies', async () => {
    cluster = await startCluster({ nodes: 3, store: 'etcd', partitions: PARTITIONS, backups: 1, writeSynchronization: 'FULL_SYNC' });
    const writers = Array.from({ length: WRITERS }, (_, index) => new Writer(index, open(), KEYS_PER_WRITER, undefined, 5));
    await preload(open(), 1000, 500);
    const [first, , victim] = cluster.members as [ClusterMember, ClusterMember, ClusterMember];

    const online = await cluster.admin(first, 'POST', '/v1/cluster/baseline/remove', { nodes: [victim.nodeId] });
    expect(online.status).toBe(409);
    expect((online.body as { error: { code: string; message: string } }).error).toMatchObject({ code: 'NODE_ONLINE' });
    expect((online.body as { error: { message: string } }).error.message).toMatch(/node-2 is online: stop it/);

    await cluster.kill(victim);
    await waitFor('the killed node offline and leading nothing', async () => {
      const summary = (await cluster!.summary(first)) as { onlineNodes: string[] };
      const current = await map();
      const offline = !summary.onlineNodes.includes(victim.nodeId);
      return offline && current.partitions.every((assignment) => assignment.primary !== victim.nodeId) ? true : undefined;
    }, 30_000);
    const removed = await cluster.admin(first, 'POST', '/v1/cluster/baseline/remove', { nodes: [victim.nodeId] });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    await cluster.waitRebalanced({ timeoutMs: 90_000 });
    await sleep(300);
    for (const writer of writers) await writer.stop();

    const after = await map();
    expect(after.baseline).toEqual(['node-0', 'node-1']);
    for (const assignment of after.partitions) {
      expect([...assignment.isr].sort()).toEqual(['node-0', 'node-1']);
      expect(assignment.replicas).not.toContain(victim.nodeId);
    }
    const checker = open();
    expect(await checkNoAcknowledgedWriteLost(checker, writers)).toEqual([]);
    expect(await checkPreload(checker, 1000, 500)).toBe(0);

    // The removed node comes back: it is no replica of anything, so it deletes its stale copies;
    // added again, it gets full copies (it starts from nothing), and the data is all there.
    await cluster.start(victim);
    type Stats = { thisNode: { stats: { partitionsDropped: number; snapshotsReceived: number; entriesReceived: number } } };
    const dropped = await waitFor('the returning node deleted its stale copies', async () => {
      const stats = ((await cluster!.summary(victim)) as Stats).thisNode.stats;
      return stats.partitionsDropped > 0 ? stats.partitionsDropped : undefined;
    }, 30_000);
    const readded = await cluster.admin(first, 'POST', '/v1/cluster/baseline/add', { nodes: [victim.nodeId] });
    expect(readded.status, JSON.stringify(readded.body)).toBe(200);
    await cluster.waitRebalanced({ timeoutMs: 90_000 });
    await cluster.waitHealthy({ fullIsr: true, timeoutMs: 60_000 });
    const stats = ((await cluster.summary(victim)) as Stats).thisNode.stats;
    const holds = (await map()).partitions.filter((assignment) => assignment.replicas.includes(victim.nodeId)).length;
    console.log(`removed node back: deleted ${dropped} stale copies, then received ${stats.snapshotsReceived} snapshots and ${stats.entriesReceived} log entries for the ${holds} partitions it holds again`);
    expect(holds).toBeGreaterThan(0);
    expect(stats.snapshotsReceived + stats.entriesReceived).toBeGreaterThan(0);
    expect(await checkPreload(open(), 1000, 500)).toBe(0);
  }, 240_000);

  it('finishes a rebalance after kill -9 of the receiving node mid-move, with the throttle raised at runtime', async () => {
    cluster = await startCluster({ nodes: 3, store: 'etcd', partitions: PARTITIONS, backups: 1, writeSynchronization: 'FULL_SYNC' });
    const PRELOAD = 4000;
    const VALUE_BYTES = 1000;
    await preload(open(), PRELOAD, VALUE_BYTES);
    const writers = Array.from({ length: WRITERS }, (_, index) => new Writer(index, open(), KEYS_PER_WRITER, undefined, 5));
    // About 2 MB must reach the newcomer; at 200 kB/s per node the move takes several seconds.
    const limited = await cluster.admin(cluster.members[0]!, 'PUT', '/v1/cluster/rebalance/limits', { bytesPerSecond: 200_000, concurrentMoves: 1 });
    expect(limited.status, JSON.stringify(limited.body)).toBe(200);
    const newcomer = await cluster.addMember();
    const added = await cluster.admin(cluster.members[0]!, 'POST', '/v1/cluster/baseline/add', { nodes: [newcomer.nodeId] });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    const midway = await waitFor('some partitions moved, others still moving', async () => {
      const report = (await cluster!.admin(cluster!.members[0]!, 'GET', '/v1/cluster/rebalance')).body as { partitionsDone: number; partitionsMoving: number; bytesMoved: number };
      return report.partitionsDone > 0 && report.partitionsMoving > 0 ? report : undefined;
    }, 60_000, 50);
    console.log(`killing ${newcomer.nodeId} mid-rebalance: ${midway.partitionsDone} partitions done, ${midway.partitionsMoving} moving, ${midway.bytesMoved} bytes moved`);
    await cluster.kill(newcomer);
    await sleep(1000);
    await cluster.start(newcomer);
    const raised = await cluster.admin(cluster.members[0]!, 'PUT', '/v1/cluster/rebalance/limits', { bytesPerSecond: 0, concurrentMoves: 4 });
    expect(raised.status).toBe(200);
    await cluster.waitRebalanced({ timeoutMs: 90_000 });
    // Partitions whose move completed before the kill dropped node-3 from their ISR; it caught up again.
    await cluster.waitHealthy({ fullIsr: true, timeoutMs: 60_000 });
    await sleep(300);
    for (const writer of writers) await writer.stop();

    const after = await map();
    for (const assignment of after.partitions) {
      expect(assignment.target).toBeUndefined();
      expect([...assignment.isr].sort()).toEqual([...assignment.replicas].sort());
    }
    const checker = open();
    expect(await checkNoAcknowledgedWriteLost(checker, writers)).toEqual([]);
    expect(await checkPreload(checker, PRELOAD, VALUE_BYTES)).toBe(0);
  }, 240_000);
});
