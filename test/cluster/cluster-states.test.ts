// Proves the cluster states and baseline rules on real ballast-node processes and a real etcd:
// (a) a never-activated cluster is INACTIVE: data commands get CLUSTERDOWN, CLUSTER INFO says fail;
// (b) activation through the admin API stores the baseline (the online nodes) and the first link of
//     the activation hash chain in the ClusterMap in etcd;
// (c) ACTIVE_READ_ONLY refuses writes with READONLY and serves reads (also to a client that connects
//     then), and ACTIVE serves writes again;
// (d) fault: every node stopped (SIGTERM), then started one at a time. Invariant: while not all are
//     back the cluster is INACTIVE with autoActivatePending and refuses commands; once all are back it
//     activates itself (history length 2, the first link unchanged) with every key intact;
// (e) fault: a node whose data directory was activated in another cluster starts into this one
//     (with a new node id, and again with the id and ports of a baseline node that was killed).
//     Invariant: it is refused, not merged — /readyz 503 naming the cause, the
//     ballast_cluster_history_diverged metric is 1, commands get CLUSTERDOWN, and it never enters
//     the baseline, a replica set, an ISR or a primary role; the cluster keeps serving; its own data
//     stays untouched (back in its own cluster it serves what it held);
// (f) fault: kill -9 of a node with backups=0, so its partitions lose every in-sync replica.
//     Invariant: commands on exactly those partitions fail with CLUSTERDOWN naming the partition,
//     CLUSTER INFO says fail, every other partition keeps serving; when the node returns its
//     partitions serve again with their data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activationHash, verifyChain, type ClusterMap } from '@ballast/cluster';
import { openStore } from '@ballast/cluster-store';
import {
  freePort,
  plain,
  RawClient,
  removeDirectory,
  startCluster,
  startNode,
  temporaryDirectory,
  type ClusterMember,
  type NodeProcess,
  type TestCluster,
} from '@ballast/testkit';
import { clusterClient, keyInPartition, redisCli, sleep, waitFor, type ClusterSummary } from './support/cluster-helpers.js';

const PARTITIONS = 16;

/** One command on a fresh raw connection; errors come back as { error }. */
async function call(port: number, ...args: Array<string | number>): Promise<unknown> {
  const client = await RawClient.connect(port);
  try {
    return plain(await client.call(...args));
  } finally {
    client.close();
  }
}

/** `promise`, or a clear failure once `ms` passed (a client that never becomes ready must not hang the test). */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function errorOf(reply: unknown): string {
  if (typeof reply === 'object' && reply !== null && 'error' in reply) return String((reply as { error: unknown }).error);
  throw new Error(`expected an error reply, got ${JSON.stringify(reply)}`);
}

async function clusterInfo(port: number): Promise<Record<string, string>> {
  const reply = (await call(port, 'CLUSTER', 'INFO')) as string | { verbatim: string };
  const text = typeof reply === 'string' ? reply : reply.verbatim;
  return Object.fromEntries(
    text
      .split('\r\n')
      .filter((line) => line.includes(':'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
  );
}

async function summaryOf(cluster: TestCluster, member: ClusterMember): Promise<ClusterSummary> {
  return (await cluster.summary(member)) as unknown as ClusterSummary;
}

/** Waits until every live member's map satisfies `check`. */
async function waitAllSee(cluster: TestCluster, what: string, check: (summary: ClusterSummary) => boolean, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    what,
    async () => {
      for (const member of cluster.members) {
        if (member.process === null) continue;
        if (!check(await summaryOf(cluster, member))) return undefined;
      }
      return true;
    },
    timeoutMs,
  );
}

async function metricValue(adminPort: number, name: string): Promise<number | null> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return line === undefined ? null : Number(line.split(' ')[1]);
}

describe('cluster states and baseline (etcd, 3 nodes, backups=1, FULL_SYNC)', () => {
  let cluster: TestCluster;
  let stranger: NodeProcess | null = null;
  const strangerDir = temporaryDirectory('ballast-stranger-');
  const clients: Array<{ disconnect(): void }> = [];
  const keys = Array.from({ length: 300 }, (_, i) => `state:key:${i}`);

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, store: 'etcd', partitions: PARTITIONS, backups: 1, writeSynchronization: 'FULL_SYNC', activate: false });
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await stranger?.kill();
    removeDirectory(strangerDir);
    await cluster?.destroy();
  });

  const ioredis = (): ReturnType<typeof clusterClient> => {
    const client = clusterClient(cluster.members.filter((member) => member.process !== null).map((member) => member.port));
    clients.push(client);
    return client;
  };

  it('(a) before activation: INACTIVE, data commands get CLUSTERDOWN, CLUSTER INFO cluster_state:fail', async () => {
    await waitAllSee(cluster, 'every node sees the three nodes online', (summary) => summary.onlineNodes.length === 3);
    for (const member of cluster.members) {
      const summary = await summaryOf(cluster, member);
      expect(summary.state).toBe('INACTIVE');
      expect(summary.history).toEqual([]);
      expect(errorOf(await call(member.port, 'SET', 'a', '1'))).toMatch(/^CLUSTERDOWN .*not active/);
      expect(errorOf(await call(member.port, 'GET', 'a'))).toMatch(/^CLUSTERDOWN /);
      expect((await clusterInfo(member.port)).cluster_state).toBe('fail');
    }
    // An unmodified redis-cli sees the same.
    expect((await redisCli(cluster.members[0]!.port, ['-c', 'GET', 'a'])).stdout).toMatch(/CLUSTERDOWN/);
  });

  it('(b) activation through the admin API stores the baseline and the first link of the hash chain', async () => {
    const result = await cluster.activate();
    expect(result.status, JSON.stringify(result.body)).toBe(200);
    await cluster.waitHealthy({ fullIsr: true, timeoutMs: 60_000 });
    const store = openStore(cluster.storeUrl);
    let map: ClusterMap | null;
    try {
      map = await store.read();
    } finally {
      await store.close();
    }
    expect(map).not.toBeNull();
    const ids = cluster.members.map((member) => member.nodeId).sort();
    expect(map!.state).toBe('ACTIVE');
    expect(map!.baseline).toEqual(ids);
    expect(map!.history).toHaveLength(1);
    const link = map!.history[0]!;
    expect(link.baseline).toEqual(ids);
    expect(link.hash).toBe(activationHash('', ids, link.version));
    expect(verifyChain(map!.history)).toBe(true);
    await waitAllSee(cluster, 'every node sees the activation', (summary) => summary.history.length === 1 && summary.history[0]!.hash === link.hash);
    for (const member of cluster.members) expect((await clusterInfo(member.port)).cluster_state).toBe('ok');
    const client = ioredis();
    for (const key of keys) await client.set(key, `v:${key}`);
    // Activating an active cluster is refused with a clear error.
    const again = await cluster.activate();
    expect(again.status).toBe(409);
    expect(JSON.stringify(again.body)).toMatch(/ALREADY_ACTIVE/);
  });

  it('(c) ACTIVE_READ_ONLY: writes get READONLY, reads are served (also to a new client); ACTIVE again serves writes', async () => {
    const member = cluster.members[0]!;
    const existing = ioredis();
    await existing.get(keys[0]!);
    const unauthorized = await fetch(`http://127.0.0.1:${member.adminPort}/v1/cluster/state`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ state: 'ACTIVE_READ_ONLY' }),
    });
    expect(unauthorized.status).toBe(401);
    const readOnly = await cluster.admin(member, 'POST', '/v1/cluster/state', { state: 'ACTIVE_READ_ONLY' });
    expect(readOnly.status, JSON.stringify(readOnly.body)).toBe(200);
    await waitAllSee(cluster, 'every node sees ACTIVE_READ_ONLY', (summary) => summary.state === 'ACTIVE_READ_ONLY');
    for (const node of cluster.members) {
      expect(errorOf(await call(node.port, 'SET', keys[1]!, 'refused'))).toMatch(/^READONLY /);
    }
    await expect(existing.set(keys[1]!, 'refused')).rejects.toThrow(/READONLY/);
    for (const key of keys.slice(0, 50)) expect(await existing.get(key)).toBe(`v:${key}`);
    // A client that connects now (ioredis checks CLUSTER INFO's cluster_state when it connects).
    const fresh = ioredis();
    await within(20_000, 'a new ioredis Cluster client becomes ready in ACTIVE_READ_ONLY', fresh.get(keys[0]!));
    for (const key of keys.slice(0, 50)) expect(await fresh.get(key)).toBe(`v:${key}`);
    expect((await redisCli(member.port, ['-c', 'GET', keys[2]!])).stdout.trim()).toBe(`v:${keys[2]}`);
    expect((await redisCli(member.port, ['-c', 'SET', keys[2]!, 'refused'])).stdout).toMatch(/READONLY/);

    const active = await cluster.admin(cluster.members[2]!, 'POST', '/v1/cluster/state', { state: 'ACTIVE' });
    expect(active.status, JSON.stringify(active.body)).toBe(200);
    await waitAllSee(cluster, 'every node sees ACTIVE', (summary) => summary.state === 'ACTIVE');
    expect(await existing.set(keys[1]!, `v:${keys[1]}`)).toBe('OK');
    expect(await fresh.get(keys[1]!)).toBe(`v:${keys[1]}`);
    expect((await summaryOf(cluster, member)).history).toHaveLength(1);
  });

  it('(d) fault: full restart (SIGTERM all, start one at a time); invariant: INACTIVE + autoActivatePending until all are back, then ACTIVE with all data, history length 2', async () => {
    const before = await summaryOf(cluster, cluster.members[0]!);
    await Promise.all(cluster.members.map((member) => cluster.stopNode(member)));
    const [first, second, third] = cluster.members as [ClusterMember, ClusterMember, ClusterMember];

    const startedAt = performance.now();
    await cluster.start(first);
    const pending = await waitFor(
      'the first node back declares a full restart',
      async () => {
        const summary = await summaryOf(cluster, first);
        return summary.state === 'INACTIVE' && summary.autoActivatePending ? summary : undefined;
      },
      30_000,
    );
    console.log(`full restart detected ${Math.round(performance.now() - startedAt)} ms after the first node started`);
    expect(pending.baseline).toEqual(before.baseline);
    expect(errorOf(await call(first.port, 'GET', keys[0]!))).toMatch(/^CLUSTERDOWN /);
    expect((await clusterInfo(first.port)).cluster_state).toBe('fail');

    await cluster.start(second);
    await sleep(3000);
    for (const member of [first, second]) {
      const summary = await summaryOf(cluster, member);
      expect(summary.state, `${member.nodeId} with one baseline node still offline`).toBe('INACTIVE');
      expect(summary.autoActivatePending).toBe(true);
      expect(errorOf(await call(member.port, 'SET', keys[0]!, 'refused'))).toMatch(/^CLUSTERDOWN /);
    }

    await cluster.start(third);
    await cluster.waitHealthy({ fullIsr: true, timeoutMs: 60_000 });
    await waitAllSee(cluster, 'every node sees the re-activation', (summary) => summary.state === 'ACTIVE' && summary.history.length === 2);
    const after = await summaryOf(cluster, third);
    expect(after.history[0]).toEqual(before.history[0]);
    expect(verifyChain(after.history)).toBe(true);
    expect(after.autoActivatePending).toBe(false);
    expect(after.baseline).toEqual(before.baseline);
    const client = ioredis();
    const wrong: string[] = [];
    for (const key of keys) {
      const value = await client.get(key);
      if (value !== `v:${key}`) wrong.push(`${key}=${value}`);
    }
    expect(wrong, 'keys lost or changed by the full restart').toEqual([]);
    expect(await client.set(keys[0]!, `v:${keys[0]}`)).toBe('OK');
  }, 180_000);

  it('(e) fault: a node activated in another cluster starts into this one; invariant: refused (readyz 503, metric, CLUSTERDOWN), never joins', async () => {
    const [port, adminPort, peerPort] = [await freePort(), await freePort(), await freePort()];
    const flags = (storeUrl: string): string[] => [
      '--node-id', 'stranger',
      '--cluster-store', storeUrl,
      '--cluster-token', cluster.token,
      '--peer-port', String(peerPort),
      '--partitions', String(PARTITIONS),
    ];
    // Another cluster (another prefix on the same etcd): one node, activated, with a key.
    const otherStore = `etcd://${cluster.etcd!.endpoint}/another-cluster`;
    stranger = await startNode({ dataDir: strangerDir, port, adminPort, args: flags(otherStore) });
    const activation = await fetch(`http://127.0.0.1:${adminPort}/v1/cluster/activate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cluster.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ partitions: PARTITIONS, backups: 0, writeSynchronization: 'FULL_SYNC' }),
    });
    expect(activation.status).toBe(200);
    await waitFor('the other cluster serves', async () => ((await call(port, 'SET', 'foreign', 'x')) === 'OK' ? true : undefined), 30_000);
    await stranger.stop();

    stranger = await startNode({ dataDir: strangerDir, port, adminPort, args: flags(cluster.storeUrl) });
    const readyz = await waitFor(
      'the stranger reports itself not ready',
      async () => {
        const response = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
        const text = await response.text();
        return response.status === 503 && /diverged/.test(text) ? text : undefined;
      },
      30_000,
    );
    console.log(`stranger /readyz: 503 ${readyz.trim()}`);
    expect(readyz).toMatch(/activated in another cluster/);
    expect(await metricValue(adminPort, 'ballast_cluster_history_diverged')).toBe(1);
    expect(await metricValue(cluster.members[0]!.adminPort, 'ballast_cluster_history_diverged')).toBe(0);
    const refusal = errorOf(await call(port, 'GET', 'foreign'));
    expect(refusal).toMatch(/^CLUSTERDOWN .*activated in another cluster/);
    expect(errorOf(await call(port, 'SET', keys[0]!, 'x'))).toMatch(/^CLUSTERDOWN /);
    const strangerSummary = (await (await fetch(`http://127.0.0.1:${adminPort}/v1/cluster`)).json()) as ClusterSummary;
    expect(strangerSummary.thisNode.diverged).toMatch(/diverged/);
    expect(strangerSummary.thisNode.leading).toEqual([]);

    // Give it time to do harm if it could; then the cluster's map still does not include it.
    await sleep(3000);
    const store = openStore(cluster.storeUrl);
    let map: ClusterMap | null;
    try {
      map = await store.read();
    } finally {
      await store.close();
    }
    expect(map!.baseline).not.toContain('stranger');
    expect(map!.nodes['stranger']).toBeUndefined();
    for (const assignment of map!.partitions) {
      expect(assignment.replicas).not.toContain('stranger');
      expect(assignment.isr).not.toContain('stranger');
      expect(assignment.primary).not.toBe('stranger');
    }
    expect(map!.history).toHaveLength(2);
    const slots = JSON.stringify(await call(cluster.members[0]!.port, 'CLUSTER', 'SLOTS'));
    expect(slots).not.toContain(`${port}`);
    expect((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status).toBe(503);
    // The cluster keeps serving.
    await cluster.waitHealthy({ fullIsr: true, timeoutMs: 30_000 });
    const client = ioredis();
    expect(await client.get(keys[3]!)).toBe(`v:${keys[3]}`);
    await stranger.kill();
    // Its data was left untouched: back in its own cluster, it serves the key it held.
    stranger = await startNode({ dataDir: strangerDir, port, adminPort, args: flags(otherStore) });
    expect(await waitFor('the stranger serves its own data again', async () => ((await call(port, 'GET', 'foreign')) === 'x' ? 'x' : undefined), 30_000)).toBe('x');
    await stranger.kill();
    stranger = null;
  }, 120_000);

  it('(e2) fault: a baseline node comes back with a data directory activated in another cluster (same node id, same ports); invariant: refused, never in an ISR or primary, the cluster serves; the real one rejoins', async () => {
    const victim = cluster.members[2]!;
    const foreignDir = temporaryDirectory('ballast-foreign-');
    const flags = (storeUrl: string, peerPort: number): string[] => [
      '--node-id', victim.nodeId,
      '--cluster-store', storeUrl,
      '--cluster-token', cluster.token,
      '--peer-port', String(peerPort),
      '--partitions', String(PARTITIONS),
    ];
    try {
      let foreign = await startNode({ dataDir: foreignDir, args: flags(`etcd://${cluster.etcd!.endpoint}/third-cluster`, 0) });
      const activation = await fetch(`http://127.0.0.1:${foreign.adminPort}/v1/cluster/activate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${cluster.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ partitions: PARTITIONS, backups: 0, writeSynchronization: 'FULL_SYNC' }),
      });
      expect(activation.status).toBe(200);
      await foreign.stop();

      await cluster.kill(victim);
      foreign = await startNode({ dataDir: foreignDir, port: victim.port, adminPort: victim.adminPort, args: flags(cluster.storeUrl, victim.peerPort) });
      stranger = foreign;
      await waitFor(
        'the foreign node reports itself not ready',
        async () => {
          const response = await fetch(`http://127.0.0.1:${victim.adminPort}/readyz`);
          return response.status === 503 && /another cluster/.test(await response.text()) ? true : undefined;
        },
        30_000,
      );
      expect(errorOf(await call(victim.port, 'GET', keys[0]!))).toMatch(/^CLUSTERDOWN .*another cluster/);
      // The others fail over from the old node-2 and drop it from every ISR: it never acks or grants.
      await waitFor(
        `no ISR includes ${victim.nodeId} and every partition has a primary`,
        async () => {
          const store = openStore(cluster.storeUrl);
          try {
            const map = await store.read();
            const clean = map!.partitions.every((assignment) => !assignment.isr.includes(victim.nodeId) && assignment.primary !== null && !assignment.lost);
            return clean ? true : undefined;
          } finally {
            await store.close();
          }
        },
        30_000,
      );
      const client = ioredis();
      const wrong: string[] = [];
      for (const key of keys) if ((await client.get(key)) !== `v:${key}`) wrong.push(key);
      expect(wrong, 'keys not served while the foreign node is up').toEqual([]);
      expect(await metricValue(victim.adminPort, 'ballast_cluster_history_diverged')).toBe(1);

      await foreign.kill();
      stranger = null;
      await cluster.start(victim);
      await cluster.waitHealthy({ fullIsr: true, timeoutMs: 60_000 });
      expect((await fetch(`http://127.0.0.1:${victim.adminPort}/readyz`)).status).toBe(200);
      expect(await metricValue(victim.adminPort, 'ballast_cluster_history_diverged')).toBe(0);
    } finally {
      removeDirectory(foreignDir);
    }
  }, 180_000);
});

describe('lost partitions (etcd, 3 nodes, backups=0)', () => {
  let cluster: TestCluster;
  const clients: Array<ReturnType<typeof clusterClient>> = [];

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, store: 'etcd', partitions: PARTITIONS, backups: 0, writeSynchronization: 'FULL_SYNC' });
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await cluster?.destroy();
  });

  it('(f) fault: kill -9 of the only replica of some partitions; invariant: exactly those fail with CLUSTERDOWN naming the partition, others serve; they serve again with their data when it returns', async () => {
    const client = clusterClient(cluster.members.map((member) => member.port));
    clients.push(client);
    const keyOf = (partition: number): string => keyInPartition(partition, PARTITIONS, 'lost');
    for (let partition = 0; partition < PARTITIONS; partition++) await client.set(keyOf(partition), `v${partition}`);

    const victim = cluster.members[2]!;
    const survivor = cluster.members[0]!;
    const owned = (await summaryOf(cluster, victim)).thisNode.leading;
    expect(owned.length, `${victim.nodeId} owns no partition`).toBeGreaterThan(0);
    await cluster.kill(victim);
    const killedAt = performance.now();

    const lost = await waitFor(
      'the victim\'s partitions are marked lost',
      async () => {
        const summary = await summaryOf(cluster, survivor);
        return summary.partitions.lost === owned.length ? summary.partitions.lostPartitions : undefined;
      },
      30_000,
    );
    console.log(`partitions ${lost.join(',')} marked lost ${Math.round(performance.now() - killedAt)} ms after the kill`);
    expect([...lost].sort((a, b) => a - b)).toEqual([...owned].sort((a, b) => a - b));
    for (const member of [cluster.members[0]!, cluster.members[1]!]) {
      expect((await clusterInfo(member.port)).cluster_state).toBe('fail');
      expect((await clusterInfo(member.port)).ballast_lost_partitions).toBe(String(owned.length));
    }
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const key = keyOf(partition);
      if (owned.includes(partition)) {
        const error = errorOf(await call(survivor.port, 'GET', key));
        expect(error).toMatch(new RegExp(`^CLUSTERDOWN .*[Pp]artition ${partition} is lost`));
        expect(errorOf(await call(cluster.members[1]!.port, 'SET', key, 'x'))).toMatch(new RegExp(`^CLUSTERDOWN .*${partition}`));
        expect((await redisCli(survivor.port, ['-c', 'GET', key])).stdout).toMatch(new RegExp(`CLUSTERDOWN .*${partition}`));
      } else {
        // Other partitions keep serving: a client connected before the fault, and redis-cli.
        expect(await client.get(key)).toBe(`v${partition}`);
        expect(await client.set(key, `w${partition}`)).toBe('OK');
        expect((await redisCli(survivor.port, ['-c', 'GET', key])).stdout.trim()).toBe(`w${partition}`);
      }
    }

    await cluster.start(victim);
    await cluster.waitHealthy({ fullIsr: true, timeoutMs: 60_000 });
    const summary = await summaryOf(cluster, survivor);
    expect(summary.partitions.lost).toBe(0);
    for (const member of cluster.members) expect((await clusterInfo(member.port)).cluster_state).toBe('ok');
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const expected = owned.includes(partition) ? `v${partition}` : `w${partition}`;
      expect((await redisCli(survivor.port, ['-c', 'GET', keyOf(partition)])).stdout.trim(), `partition ${partition}`).toBe(expected);
    }
    for (const partition of owned) expect(await client.set(keyOf(partition), 'again')).toBe('OK');
  }, 120_000);
});
