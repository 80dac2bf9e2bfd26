/**
 * A real Ballast cluster for tests: N ballast-node processes on loopback, a ClusterMap store
 * (a real etcd, or the embedded store in this process), activation through the admin API, and
 * per-node kill -9 / restart on the same data directory and ports.
 */
import { startEmbeddedStore, type EmbeddedStoreServer } from '@ballast/cluster-store';
import { startEtcd, type EtcdProcess } from './etcd.js';
import { freePort, removeDirectory, startNode, temporaryDirectory, type NodeProcess } from './processes.js';

export interface ClusterOptions {
  nodes?: number;
  store?: 'etcd' | 'embedded';
  partitions?: number;
  backups?: number;
  writeSynchronization?: 'FULL_SYNC' | 'PRIMARY_SYNC';
  durability?: 'sync' | 'async';
  /** Activate after start (default true). */
  activate?: boolean;
  /** Extra flags for every node. */
  args?: string[];
  token?: string;
}

export interface ClusterMember {
  readonly nodeId: string;
  readonly port: number;
  readonly adminPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  process: NodeProcess | null;
}

export interface TestCluster {
  readonly members: ClusterMember[];
  readonly storeUrl: string;
  readonly token: string;
  readonly etcd: EtcdProcess | null;
  /** POST /v1/cluster/activate on a live node. */
  activate(body?: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }>;
  /** GET /v1/cluster from a live node. */
  summary(member?: ClusterMember): Promise<Record<string, unknown>>;
  /** Admin request with the cluster token. */
  admin(member: ClusterMember, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  kill(member: ClusterMember): Promise<void>;
  stopNode(member: ClusterMember): Promise<void>;
  start(member: ClusterMember): Promise<void>;
  /** Starts one more node (outside the baseline until it is added). */
  addMember(): Promise<ClusterMember>;
  /** Waits until no partition is moving (GET /v1/cluster/rebalance says inProgress false). */
  waitRebalanced(options?: { timeoutMs?: number; onProgress?: (report: Record<string, unknown>) => void }): Promise<Record<string, unknown>>;
  /** Waits until every partition has an online primary and (optionally) a full ISR. */
  waitHealthy(options?: { fullIsr?: boolean; timeoutMs?: number }): Promise<void>;
  /** Kills everything and removes data. */
  destroy(): Promise<void>;
}

export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const count = options.nodes ?? 3;
  const token = options.token ?? 'test-cluster-token';
  let etcd: EtcdProcess | null = null;
  let embedded: EmbeddedStoreServer | null = null;
  let storeUrl: string;
  if ((options.store ?? 'etcd') === 'etcd') {
    etcd = await startEtcd();
    storeUrl = `etcd://${etcd.endpoint}/ballast-test`;
  } else {
    embedded = await startEmbeddedStore({ host: '127.0.0.1', port: 0, token });
    storeUrl = embedded.url;
  }
  const members: ClusterMember[] = [];
  const newMember = async (i: number): Promise<ClusterMember> => ({
    nodeId: `node-${i}`,
    port: await freePort(),
    adminPort: await freePort(),
    peerPort: await freePort(),
    dataDir: temporaryDirectory(`ballast-cluster-${i}-`),
    process: null,
  });
  for (let i = 0; i < count; i++) members.push(await newMember(i));
  const start = async (member: ClusterMember): Promise<void> => {
    member.process = await startNode({
      dataDir: member.dataDir,
      port: member.port,
      adminPort: member.adminPort,
      durability: options.durability ?? 'sync',
      args: [
        '--node-id', member.nodeId,
        '--cluster-store', storeUrl,
        '--cluster-token', token,
        '--peer-port', String(member.peerPort),
        '--partitions', String(options.partitions ?? 16),
        ...(options.args ?? []),
      ],
    });
  };
  const live = (): ClusterMember => {
    const member = members.find((candidate) => candidate.process !== null);
    if (member === undefined) throw new Error('no live node');
    return member;
  };
  const admin = async (member: ClusterMember, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(`http://127.0.0.1:${member.adminPort}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  await Promise.all(members.map((member) => start(member)));
  /** Every partition has a node that leads it (took its term), so none answers TRYAGAIN. */
  const leadersServeEveryPartition = async (total: number): Promise<boolean> => {
    let leading = 0;
    for (const member of members) {
      if (member.process === null) continue;
      const summary = (await admin(member, 'GET', '/v1/cluster')).body as { thisNode?: { leading?: number[] } };
      leading += summary.thisNode?.leading?.length ?? 0;
    }
    return leading === total;
  };
  const cluster: TestCluster = {
    members,
    storeUrl,
    token,
    etcd,
    activate: (body = { partitions: options.partitions ?? 16, backups: options.backups ?? 1, writeSynchronization: options.writeSynchronization ?? 'FULL_SYNC' }) =>
      admin(live(), 'POST', '/v1/cluster/activate', body),
    summary: async (member = live()) => (await admin(member, 'GET', '/v1/cluster')).body,
    admin,
    async kill(member) {
      await member.process?.kill();
      member.process = null;
    },
    async stopNode(member) {
      await member.process?.stop();
      member.process = null;
    },
    start,
    async waitHealthy({ fullIsr = true, timeoutMs = 30_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      let last: unknown = null;
      while (Date.now() < deadline) {
        try {
          const summary = await cluster.summary();
          last = summary;
          const partitions = summary.partitions as { total: number; underReplicated: number; lost: number; withoutOnlinePrimary: number };
          if (
            summary.state === 'ACTIVE' &&
            partitions.total > 0 &&
            partitions.lost === 0 &&
            partitions.withoutOnlinePrimary === 0 &&
            (!fullIsr || partitions.underReplicated === 0) &&
            (await leadersServeEveryPartition(partitions.total))
          ) {
            return;
          }
        } catch (error) {
          last = error;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`cluster not healthy after ${timeoutMs} ms: ${JSON.stringify(last)}`);
    },
    async addMember() {
      const member = await newMember(members.length);
      members.push(member);
      await start(member);
      return member;
    },
    async waitRebalanced({ timeoutMs = 120_000, onProgress } = {}) {
      const deadline = Date.now() + timeoutMs;
      let last: Record<string, unknown> = {};
      while (Date.now() < deadline) {
        try {
          last = (await admin(live(), 'GET', '/v1/cluster/rebalance')).body;
          onProgress?.(last);
          if (last['inProgress'] === false) return last;
        } catch (error) {
          last = { error: String(error) };
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error(`rebalance not finished after ${timeoutMs} ms: ${JSON.stringify(last)}`);
    },
    async destroy() {
      await Promise.all(members.map((member) => member.process?.kill()));
      for (const member of members) removeDirectory(member.dataDir);
      await etcd?.stop();
      await embedded?.close();
    },
  };
  if (options.activate !== false) {
    // Activation takes the nodes online as seen by the node asked: wait until it sees every member,
    // or the baseline would miss a node whose presence had not reached it yet.
    const expected = members.map((member) => member.nodeId).sort();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const online = ((await cluster.summary(live())) as { onlineNodes?: string[] }).onlineNodes ?? [];
      if (expected.every((nodeId) => online.includes(nodeId))) break;
      if (Date.now() > deadline) throw new Error(`not every node is online before activation: ${online.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const result = await cluster.activate();
    if (result.status !== 200) throw new Error(`activation failed: ${JSON.stringify(result.body)}`);
    await cluster.waitHealthy();
  }
  return cluster;
}
