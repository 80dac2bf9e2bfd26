// Proves a real 3-node cluster on a real etcd comes up, activates through the admin API, serves
// unmodified ioredis Cluster clients, and replicates: every partition has a full ISR.
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '@ballast/testkit';

describe('cluster smoke (etcd, 3 nodes, backups=1, FULL_SYNC)', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster();
  }, 120_000);
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('serves an ioredis Cluster client', async () => {
    const client = new Redis.Cluster([{ host: '127.0.0.1', port: cluster.members[0]!.port }]);
    for (let i = 0; i < 100; i++) await client.set(`key:${i}`, `value:${i}`);
    for (let i = 0; i < 100; i++) expect(await client.get(`key:${i}`)).toBe(`value:${i}`);
    const summary = await cluster.summary();
    expect(summary.state).toBe('ACTIVE');
    expect((summary.partitions as { underReplicated: number }).underReplicated).toBe(0);
    client.disconnect();
  });
});
