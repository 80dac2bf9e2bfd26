// Proves WAIT and WAITALL on real processes (etcd, 3 nodes, backups=1, FULL_SYNC, 16 partitions):
// - healthy: after a write, WAIT numreplicas timeout answers the replicas that acknowledged it (1)
//   and WAITALL timeout answers [1, 1];
// - fault: kill -9 of the backup of the partition written to. Invariant: a disconnected replica
//   counts as not acknowledged — WAIT 1 100 answers 0 once its timeout passed and WAITALL 200
//   answers [0, 1] (Redis's WAIT would ignore the replica; WAITALL does not); after the backup
//   returns and catches up, WAITALL answers [1, 1] again;
// - a standalone node has no replicas: WAIT 0 0 answers 0 and WAITALL answers [0, 0].
// Times are printed, not asserted, except that a timed-out wait did block for its timeout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plain, RawClient, removeDirectory, startCluster, startNode, type ClusterMember, type NodeProcess, type TestCluster } from '@ballast/testkit';
import { keyInPartition, sleep } from './support/cluster-helpers.js';

const PARTITIONS = 16;

/** Sends a command, retrying (bounded) while the partition is between primaries or leases. */
async function callUntilServed(client: RawClient, ...args: string[]): Promise<unknown> {
  let last: unknown = null;
  for (let attempt = 0; attempt < 200; attempt++) {
    last = plain(await client.call(...args));
    const error = typeof last === 'object' && last !== null && 'error' in last ? String((last as { error: unknown }).error) : null;
    if (error === null || !/^(TRYAGAIN|CLUSTERDOWN)/.test(error)) return last;
    await sleep(100);
  }
  throw new Error(`${args.join(' ')} not served after 200 attempts: ${JSON.stringify(last)}`);
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

describe('WAIT and WAITALL in a cluster (etcd, 3 nodes, backups=1, FULL_SYNC)', () => {
  let cluster: TestCluster;
  let primary: ClusterMember;
  let backup: ClusterMember;
  const key = keyInPartition(0, PARTITIONS, 'wait');
  const connections: RawClient[] = [];
  const connect = async (member: ClusterMember): Promise<RawClient> => {
    const client = await RawClient.connect(member.port);
    connections.push(client);
    return client;
  };

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, store: 'etcd', partitions: PARTITIONS, backups: 1, writeSynchronization: 'FULL_SYNC' });
    // Partition 0 is slots 0..1023: CLUSTER SLOTS names its primary, then its backup.
    const client = await connect(cluster.members[0]!);
    const slots = plain(await client.call('CLUSTER', 'SLOTS')) as Array<[number, number, ...Array<[string, number, string]>]>;
    const entry = slots.find(([first, last]) => first <= 0 && 0 <= last)!;
    const byPort = (port: number): ClusterMember => cluster.members.find((member) => member.port === port)!;
    primary = byPort(entry[2]![1]);
    backup = byPort(entry[3]![1]);
  }, 120_000);

  afterAll(async () => {
    for (const client of connections) client.close();
    await cluster?.destroy();
  });

  it('healthy: WAIT 1 answers 1 and WAITALL answers [1, 1] after a write', async () => {
    const client = await connect(primary);
    expect(await callUntilServed(client, 'SET', key, 'one')).toBe('OK');
    const waited = await timed(() => client.call('WAIT', '1', '1000'));
    expect(plain(waited.value)).toBe(1);
    expect(plain(await client.call('WAIT', '0', '0'))).toBe(1);
    // Asking for more replicas than exist answers what there is once the timeout passed.
    const more = await timed(() => client.call('WAIT', '2', '150'));
    expect(plain(more.value)).toBe(1);
    expect(more.ms).toBeGreaterThanOrEqual(145);
    const all = await timed(() => client.call('WAITALL', '1000'));
    expect(plain(all.value)).toEqual([1, 1]);
    console.log(`healthy: WAIT 1 1000 → 1 in ${waited.ms.toFixed(1)} ms; WAIT 2 150 → 1 in ${more.ms.toFixed(1)} ms; WAITALL 1000 → [1, 1] in ${all.ms.toFixed(1)} ms`);
  });

  it('fault: kill -9 of the backup; invariant: a disconnected replica is not acknowledged (WAIT 1 100 → 0, WAITALL 200 → [0, 1])', async () => {
    const client = await connect(primary);
    await cluster.kill(backup);
    // The write waits (or is retried) until the primary dropped the dead backup from the ISR.
    const write = await timed(() => callUntilServed(client, 'SET', key, 'two'));
    expect(write.value).toBe('OK');
    const wait = await timed(() => client.call('WAIT', '1', '100'));
    expect(plain(wait.value)).toBe(0);
    expect(wait.ms).toBeGreaterThanOrEqual(95);
    const waitAll = await timed(() => client.call('WAITALL', '200'));
    expect(plain(waitAll.value)).toEqual([0, 1]);
    expect(waitAll.ms).toBeGreaterThanOrEqual(195);
    console.log(
      `backup killed: SET served after ${write.ms.toFixed(0)} ms; WAIT 1 100 → 0 after ${wait.ms.toFixed(1)} ms; WAITALL 200 → [0, 1] after ${waitAll.ms.toFixed(1)} ms`,
    );
    expect(await callUntilServed(client, 'GET', key)).toBe('two');

    await cluster.start(backup);
    await cluster.waitHealthy({ fullIsr: true, timeoutMs: 60_000 });
    expect(await callUntilServed(client, 'SET', key, 'three')).toBe('OK');
    const again = await timed(() => client.call('WAITALL', '2000'));
    expect(plain(again.value)).toEqual([1, 1]);
    console.log(`backup back: WAITALL 2000 → [1, 1] in ${again.ms.toFixed(1)} ms`);
  }, 120_000);
});

describe('WAIT and WAITALL on a standalone node', () => {
  let node: NodeProcess;
  let client: RawClient;

  beforeAll(async () => {
    node = await startNode();
    client = await RawClient.connect(node.port);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await node?.kill();
    if (node !== undefined) removeDirectory(node.dataDir);
  });

  it('has no replicas: WAIT 0 0 → 0, WAITALL → [0, 0], before and after a write', async () => {
    expect(plain(await client.call('WAIT', '0', '0'))).toBe(0);
    expect(plain(await client.call('WAITALL', '0'))).toEqual([0, 0]);
    expect(plain(await client.call('SET', 'k', 'v'))).toBe('OK');
    expect(plain(await client.call('WAIT', '0', '0'))).toBe(0);
    expect(plain(await client.call('WAITALL', '100'))).toEqual([0, 0]);
    // As redis-server without replicas: WAIT 1 blocks for its timeout, then answers 0.
    const wait = await timed(() => client.call('WAIT', '1', '100'));
    expect(plain(wait.value)).toBe(0);
    expect(wait.ms).toBeGreaterThanOrEqual(95);
  });
});
