/**
 * Runs `ballast dev` as a child process for tests: a free port range, the KVCluster file, start and
 * stop (Ctrl-C), and typed reads of its admin API (/v1/kvcluster, /v1/members).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { isPortFree, removeDirectory, temporaryDirectory } from '@ballast/testkit';
import { waitFor } from '../../cluster/support/cluster-helpers.js';

const MAIN = path.resolve('packages/operator/dist/main.js');

export interface DevMember {
  name: string;
  pid: number | null;
  port: number;
  adminPort: number;
  running: boolean;
  ready: boolean;
  inBaseline: boolean;
  restarts: number;
}

export interface DevStatus {
  baseline: { nodes: string[]; pending: { reason: string; since: string; deadline: string; nodes: string[] } | null };
  partitions: { total: number; underReplicated: number; lost: number };
  rebalance: { inProgress: boolean; partitionsTotal: number; partitionsDone: number } | null;
  clusterState: string;
  conditions: Array<{ type: string; status: string; reason: string; message: string }>;
}

/** The KVCluster file `ballast dev` reads (cluster `t`). */
export function kvclusterYaml(spec: { replicas: number; graceSeconds: number; durability?: 'sync' | 'async'; partitions?: number }): string {
  return [
    'apiVersion: ballast.io/v1alpha1',
    'kind: KVCluster',
    'metadata:',
    '  name: t',
    'spec:',
    `  replicas: ${spec.replicas}`,
    `  partitions: ${spec.partitions ?? 16}`,
    '  backups: 1',
    `  durability: ${spec.durability ?? 'sync'}`,
    '  baseline:',
    '    autoAdjust:',
    `      graceTimeout: ${spec.graceSeconds}s`,
    '',
  ].join('\n');
}

export class DevHarness {
  readonly dataDir = temporaryDirectory('ballast-dev-');
  readonly file = path.join(this.dataDir, 'kvcluster.yaml');
  output = '';
  private child: ChildProcess | null = null;

  private constructor(readonly base: number) {}

  /** A harness on a base port whose ports for `members` members, the store and the runtime are free. */
  static async create(members: number): Promise<DevHarness> {
    for (let attempt = 0; attempt < 50; attempt++) {
      // Below Linux's ephemeral range (32768+), so a port a member frees on restart is not taken by
      // some client's outgoing connection meanwhile.
      const base = 20_000 + Math.floor(Math.random() * 120) * 100;
      const offsets = [300, 400];
      for (let i = 0; i < members; i++) offsets.push(i, 100 + i, 200 + i);
      if ((await Promise.all(offsets.map((offset) => isPortFree(base + offset)))).every(Boolean)) return new DevHarness(base);
    }
    throw new Error('no free port range');
  }

  writeSpec(text: string): void {
    writeFileSync(this.file, text);
  }

  api(route: string): string {
    return `http://127.0.0.1:${this.base + 400}${route}`;
  }

  async getJson<T>(route: string): Promise<T> {
    return (await (await fetch(this.api(route), { signal: AbortSignal.timeout(5000) })).json()) as T;
  }

  async status(): Promise<DevStatus> {
    return (await this.getJson<{ status: DevStatus }>('/v1/kvcluster')).status;
  }

  async members(): Promise<DevMember[]> {
    return this.getJson<DevMember[]>('/v1/members');
  }

  condition(status: DevStatus, type: string): DevStatus['conditions'][number] | undefined {
    return status.conditions.find((condition) => condition.type === type);
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [MAIN, 'dev', '-f', this.file, '--data-dir', this.dataDir, '--base-port', String(this.base)], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child = child;
    await waitFor('ballast dev prints how to connect', async () => (/connect: redis-cli -c -p \d+/.test(this.output) ? true : undefined), 30_000);
  }

  /** Ctrl-C: `ballast dev` stops its members and exits. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.child = null;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  }

  async close(): Promise<void> {
    await this.stop();
    removeDirectory(this.dataDir);
  }

  /** Waits until the cluster is active, with exactly `nodes` in the baseline, all in sync and nothing moving. */
  async waitSettled(nodes: string[], timeoutMs: number): Promise<DevStatus> {
    return waitFor(`a settled cluster with baseline ${nodes.join(',')}`, async () => {
      const current = await this.status();
      const settled =
        current.clusterState === 'ACTIVE' &&
        current.baseline.nodes.join() === nodes.join() &&
        current.baseline.pending === null &&
        current.partitions.underReplicated === 0 &&
        this.condition(current, 'Rebalancing')?.status === 'False';
      return settled ? current : undefined;
    }, timeoutMs, 200);
  }
}
