// Proves the storage node's cluster metrics on 3 real ballast-node processes (embedded store,
// backups=1, FULL_SYNC, 16 partitions), scraped from each node's admin /metrics:
// - every cluster series with a fixed label set is exported from the first scrape, at 0, before
//   the cluster is even activated (dashboards have data before anything happens);
// - healthy, after writes: the nodes' primaries add up to the partition count, every replica is
//   counted once (as primary or backup), nothing is under-replicated, every primary serves, every
//   peer link is up and each peer's replication lag is a finite count ≥ 0;
// - a plain (non-cluster) client sent to a node that does not own the key gets -MOVED, and that
//   node's ballast_rejected_requests_total{reason="moved"} counts it;
// - fault: kill -9 of a node that leads partitions. Invariant: within a bounded wait a survivor
//   reports the peer link down and under-replicated partitions, and the survivors' failover
//   counters grow (they took the killed node's partitions over).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type ClusterMember, type TestCluster } from '@ballast/testkit';
import { clusterClient, messageOf, waitFor, type ClusterSummary } from './support/cluster-helpers.js';
import { ballastNodeVersion, findSample, metricsText, parseSamples, type Sample } from '../storage-node/support/node-admin.js';

const PARTITIONS = 16;
const BACKUPS = 1;
const VERSION = ballastNodeVersion();

/** Every series with a fixed label set, as the dashboards and alert rules expect them. */
const FIXED_SERIES: Record<string, Array<Record<string, string>>> = {
  ballast_partitions: ['primary', 'backup', 'learner'].map((role) => ({ role })),
  ballast_primary_partitions: ['serving', 'read_only', 'no_lease', 'catching_up', 'handing_off', 'inactive'].map((state) => ({ state })),
  ballast_primary_partitions_by_isr_size: [{ isr_size: '1' }],
  ballast_failovers_total: [{}],
  ballast_handoffs_total: [{}],
  ballast_cluster_map_version: [{}],
  ballast_cluster_map_updates_total: ['applied', 'conflict', 'rejected'].map((result) => ({ result })),
  ballast_cluster_partitions: ['total', 'under_replicated', 'lost', 'moving', 'without_online_primary'].map((state) => ({ state })),
  ballast_cluster_nodes: ['baseline', 'online'].map((state) => ({ state })),
  ballast_rejected_requests_total: ['moved', 'ask', 'tryagain', 'clusterdown', 'crossslot', 'readonly', 'noauth', 'noreplicas'].map((reason) => ({ reason })),
  ballast_replication_bytes_total: ['sent', 'received'].map((direction) => ({ direction })),
  ballast_storage_bytes: [{}],
  ballast_build_info: [{ version: VERSION }],
};
const PEER_SERIES = ['ballast_replication_lag_entries', 'ballast_replication_lag_bytes', 'ballast_peer_connected'];

describe('storage node cluster metrics (embedded store, 3 nodes, backups=1, FULL_SYNC, 16 partitions)', () => {
  let cluster: TestCluster;
  const clients: Array<{ disconnect(): void }> = [];

  const scrape = async (member: ClusterMember): Promise<Sample[]> => parseSamples(await metricsText(member.adminPort));
  const live = (): ClusterMember[] => cluster.members.filter((member) => member.process !== null);
  const peersOf = (member: ClusterMember): string[] => cluster.members.filter((other) => other !== member).map((other) => other.nodeId);
  /** A series' value; fails the test when the series is absent. */
  const value = (samples: Sample[], name: string, labels: Record<string, string> = {}): number => {
    const found = findSample(samples, name, labels);
    if (found === undefined) throw new Error(`${name}${JSON.stringify(labels)} is not exported`);
    return found;
  };
  const sum = (scrapes: Sample[][], name: string, labels: Record<string, string> = {}): number =>
    scrapes.reduce((total, samples) => total + value(samples, name, labels), 0);

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, store: 'embedded', partitions: PARTITIONS, backups: BACKUPS, activate: false });
  }, 60_000);

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await cluster?.destroy();
  });

  it('exports every fixed-label series at 0 from the first scrape, before activation', async () => {
    for (const member of cluster.members) {
      const samples = await scrape(member);
      for (const [name, labelSets] of Object.entries(FIXED_SERIES)) {
        for (const labels of labelSets) expect(findSample(samples, name, labels), `${member.nodeId}: ${name}${JSON.stringify(labels)}`).toBeDefined();
      }
      for (const name of ['ballast_partitions', 'ballast_primary_partitions', 'ballast_cluster_partitions', 'ballast_failovers_total', 'ballast_rejected_requests_total']) {
        for (const labels of FIXED_SERIES[name]!) expect(value(samples, name, labels), `${member.nodeId}: ${name}${JSON.stringify(labels)}`).toBe(0);
      }
      expect(value(samples, 'ballast_build_info', { version: VERSION })).toBe(1);
      expect(value(samples, 'ballast_storage_bytes')).toBeGreaterThan(0);
    }

    // Activate once every node sees the others online (as startCluster does).
    await waitFor('every node online', async () => {
      const summary = (await cluster.summary(cluster.members[0])) as unknown as ClusterSummary;
      return summary.onlineNodes.length === cluster.members.length ? true : undefined;
    });
    const activated = await cluster.activate();
    expect(activated.status).toBe(200);
    await cluster.waitHealthy({ fullIsr: true });
  });

  it('healthy after writes: primaries add up to the partition count, full ISRs, every peer link up, finite lag', async () => {
    const client = clusterClient(cluster.members.map((member) => member.port));
    clients.push(client);
    for (let i = 0; i < 200; i++) expect(await client.set(`metrics:${i}`, `value:${i}`)).toBe('OK');

    // Scrapes of the three nodes at one map version, every primary serving.
    const scrapes = await waitFor('a consistent healthy view on every node', async () => {
      const all = await Promise.all(cluster.members.map(scrape));
      const versions = new Set(all.map((samples) => value(samples, 'ballast_cluster_map_version')));
      const healthy =
        versions.size === 1 &&
        sum(all, 'ballast_primary_partitions', { state: 'serving' }) === PARTITIONS &&
        sum(all, 'ballast_cluster_partitions', { state: 'under_replicated' }) === 0;
      return healthy ? all : undefined;
    });
    expect(sum(scrapes, 'ballast_partitions', { role: 'primary' })).toBe(PARTITIONS);
    expect(sum(scrapes, 'ballast_partitions', { role: 'backup' })).toBe(PARTITIONS * BACKUPS);
    expect(sum(scrapes, 'ballast_partitions', { role: 'learner' })).toBe(0);
    expect(sum(scrapes, 'ballast_primary_partitions_by_isr_size', { isr_size: String(BACKUPS + 1) })).toBe(PARTITIONS);
    expect(sum(scrapes, 'ballast_primary_partitions_by_isr_size', { isr_size: '1' })).toBe(0);
    expect(sum(scrapes, 'ballast_cluster_map_updates_total', { result: 'applied' })).toBeGreaterThan(0);

    for (const [index, samples] of scrapes.entries()) {
      const member = cluster.members[index]!;
      const where = member.nodeId;
      for (const [name, labelSets] of Object.entries(FIXED_SERIES)) {
        for (const labels of labelSets) expect(findSample(samples, name, labels), `${where}: ${name}${JSON.stringify(labels)}`).toBeDefined();
      }
      expect(value(samples, 'ballast_primary_partitions_by_isr_size', { isr_size: '2' }), where).toBeGreaterThanOrEqual(0);
      expect(value(samples, 'ballast_cluster_partitions', { state: 'total' }), where).toBe(PARTITIONS);
      for (const state of ['under_replicated', 'lost', 'moving', 'without_online_primary']) {
        expect(value(samples, 'ballast_cluster_partitions', { state }), `${where}: ${state}`).toBe(0);
      }
      expect(value(samples, 'ballast_cluster_nodes', { state: 'baseline' }), where).toBe(3);
      expect(value(samples, 'ballast_cluster_nodes', { state: 'online' }), where).toBe(3);
      expect(value(samples, 'ballast_cluster_map_version'), where).toBeGreaterThan(0);
      expect(value(samples, 'ballast_replication_bytes_total', { direction: 'sent' }), where).toBeGreaterThan(0);
      expect(value(samples, 'ballast_replication_bytes_total', { direction: 'received' }), where).toBeGreaterThan(0);
      expect(value(samples, 'ballast_storage_bytes'), where).toBeGreaterThan(0);
      for (const peer of peersOf(member)) {
        for (const name of PEER_SERIES) expect(findSample(samples, name, { peer }), `${where}: ${name}{peer=${peer}}`).toBeDefined();
        expect(value(samples, 'ballast_peer_connected', { peer }), `${where} → ${peer}`).toBe(1);
        const lag = value(samples, 'ballast_replication_lag_entries', { peer });
        expect(Number.isFinite(lag) && lag >= 0, `${where} → ${peer}: lag ${lag}`).toBe(true);
        expect(value(samples, 'ballast_replication_lag_bytes', { peer }), `${where} → ${peer}`).toBeGreaterThanOrEqual(0);
      }
      // Peers are the other nodes of the map only: no series for this node itself.
      expect(samples.filter((sample) => PEER_SERIES.includes(sample.name) && sample.labels.peer === member.nodeId)).toEqual([]);
    }
  });

  it('a plain client on a node that does not own the key gets -MOVED, counted as reason="moved"', async () => {
    let redirected = 0;
    for (const member of cluster.members) {
      const before = value(await scrape(member), 'ballast_rejected_requests_total', { reason: 'moved' });
      const plain = new Redis({ host: '127.0.0.1', port: member.port, lazyConnect: true, maxRetriesPerRequest: 0 });
      plain.on('error', () => undefined);
      clients.push(plain);
      // A TRYAGAIN (a preferred-primary handoff in flight) is asked again; MOVED and OK are final.
      const replies: string[] = [];
      for (let attempt = 0; attempt < 50 && (replies.length === 0 || replies.at(-1)!.startsWith('TRYAGAIN')); attempt++) {
        replies.push(await plain.set('metrics:moved', 'v').then(String, messageOf));
      }
      plain.disconnect();
      const after = value(await scrape(member), 'ballast_rejected_requests_total', { reason: 'moved' });
      const moved = replies.filter((reply) => reply.startsWith('MOVED ')).length;
      expect(after - before, `${member.nodeId} answered ${replies.join(' | ')}`).toBe(moved);
      expect(replies.at(-1), member.nodeId).toMatch(/^(OK|MOVED )/);
      redirected += moved;
    }
    // One node owns the key; the other two redirect.
    expect(redirected).toBe(2);
  });

  it('fault: kill -9 of a node that leads partitions; invariant: survivors report the link down, under-replicated partitions and failovers', async () => {
    // The victim: the node that is primary of the most partitions in the map.
    const primaries = await Promise.all(cluster.members.map(async (member) => value(await scrape(member), 'ballast_partitions', { role: 'primary' })));
    const led = Math.max(...primaries);
    const victim = cluster.members[primaries.indexOf(led)]!;
    expect(led, 'the victim is primary of partitions').toBeGreaterThan(0);
    const survivors = cluster.members.filter((member) => member !== victim);
    const failoversBefore = sum(await Promise.all(survivors.map(scrape)), 'ballast_failovers_total');

    await cluster.kill(victim);
    expect(live()).toEqual(survivors);

    const after = await waitFor(
      'survivors see the kill',
      async () => {
        const scrapes = await Promise.all(survivors.map(scrape));
        const seen =
          scrapes.some((samples) => value(samples, 'ballast_peer_connected', { peer: victim.nodeId }) === 0) &&
          scrapes.some((samples) => value(samples, 'ballast_cluster_partitions', { state: 'under_replicated' }) > 0) &&
          sum(scrapes, 'ballast_failovers_total') > failoversBefore &&
          sum(scrapes, 'ballast_primary_partitions', { state: 'serving' }) === PARTITIONS;
        return seen ? scrapes : undefined;
      },
      20_000,
    );
    // Each of the victim's partitions was taken over once, by failover (backups=1: one candidate).
    expect(sum(after, 'ballast_failovers_total') - failoversBefore).toBe(led);
    expect(sum(after, 'ballast_partitions', { role: 'primary' })).toBe(PARTITIONS);
    for (const samples of after) expect(value(samples, 'ballast_cluster_partitions', { state: 'lost' })).toBe(0);
  });
});
