// Proves `ballast dev` (the operator's local runtime) with real processes and a 6 s grace timeout:
// - it starts the members, activates the cluster and serves an unmodified Redis Cluster client;
// - fault: kill -9 of a member; the runtime restarts it inside the grace. Invariant: the baseline
//   does not change and the member catches up by the log, not by a full copy (bytes printed);
// - fault: a member stopped past the grace. Invariant: the baseline shrinks at the deadline (±1 s,
//   measured from the deadline in the status) and replication is restored (underReplicated 0);
// - the member's return: it rejoins the baseline after the grace, and the data is all there;
// - restarting `ballast dev` while a change is pending keeps the original deadline (status on disk;
//   the members restart with it, so the change lands once they are back, never before the deadline).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPortFree, removeDirectory, temporaryDirectory } from '@ballast/testkit';
import { clusterClient, waitFor } from '../cluster/support/cluster-helpers.js';

const MAIN = path.resolve('packages/operator/dist/main.js');
const GRACE_MS = 6000;

interface Member {
  name: string;
  pid: number | null;
  port: number;
  adminPort: number;
  running: boolean;
  ready: boolean;
  inBaseline: boolean;
  restarts: number;
}

interface Status {
  baseline: { nodes: string[]; pending: { reason: string; since: string; deadline: string; nodes: string[] } | null };
  partitions: { total: number; underReplicated: number; lost: number };
  clusterState: string;
  conditions: Array<{ type: string; status: string; reason: string; message: string }>;
}

/** A base port whose member, admin, peer, store and runtime ports are all free. */
async function freeBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral range (32768+), so a port a member frees on restart is not taken by
    // some client's outgoing connection meanwhile.
    const base = 20_000 + Math.floor(Math.random() * 120) * 100;
    const ports = [0, 1, 2, 100, 101, 102, 200, 201, 202, 300, 400].map((offset) => base + offset);
    if ((await Promise.all(ports.map(isPortFree))).every(Boolean)) return base;
  }
  throw new Error('no free port range');
}

describe('ballast dev (3 members, grace 6 s)', () => {
  let dataDir: string;
  let file: string;
  let base: number;
  let dev: ChildProcess | null = null;
  let output = '';
  const api = (route: string): string => `http://127.0.0.1:${base + 400}${route}`;
  const getJson = async <T>(route: string): Promise<T> => (await (await fetch(api(route))).json()) as T;
  const status = async (): Promise<Status> => (await getJson<{ status: Status }>('/v1/kvcluster')).status;
  const members = async (): Promise<Member[]> => getJson<Member[]>('/v1/members');

  const startDev = async (): Promise<void> => {
    const child = spawn(process.execPath, [MAIN, 'dev', '-f', file, '--data-dir', dataDir, '--base-port', String(base)], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    dev = child;
    await waitFor('ballast dev prints how to connect', async () => (/connect: redis-cli -c -p \d+/.test(output) ? true : undefined), 30_000);
  };
  const stopDev = async (): Promise<void> => {
    const child = dev;
    if (child === null) return;
    dev = null;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  };

  beforeAll(async () => {
    dataDir = temporaryDirectory('ballast-dev-');
    file = path.join(dataDir, 'kvcluster.yaml');
    base = await freeBase();
    writeFileSync(
      file,
      ['apiVersion: ballast.io/v1alpha1', 'kind: KVCluster', 'metadata:', '  name: t', 'spec:', '  replicas: 3', '  partitions: 16', '  backups: 1', '  baseline:', '    autoAdjust:', `      graceTimeout: ${GRACE_MS / 1000}s`, ''].join('\n'),
    );
    await startDev();
  }, 60_000);

  afterAll(async () => {
    await stopDev();
    removeDirectory(dataDir);
  });

  it('starts, activates and serves a Redis Cluster client', async () => {
    expect(output).toMatch(`connect: redis-cli -c -p ${base}`);
    await waitFor('the cluster is active with every member in the baseline', async () => {
      const current = await status();
      return current.clusterState === 'ACTIVE' && current.baseline.nodes.length === 3 && current.partitions.underReplicated === 0 ? true : undefined;
    }, 60_000);
    const client = clusterClient([base, base + 1, base + 2]);
    try {
      for (let i = 0; i < 200; i++) await client.set(`key:${i}`, `value:${i}`);
      expect(await client.get('key:7')).toBe('value:7');
    } finally {
      client.disconnect();
    }
  }, 90_000);

  it('fault: kill -9 of a member inside the grace; invariant: baseline unchanged, catch-up by log only', async () => {
    const victim = (await members()).find((member) => member.name === 't-1')!;
    process.kill(victim.pid!, 'SIGKILL');
    // Writes while it is down: it must catch up on them by the log when it is back.
    const client = clusterClient([base, base + 2]);
    try {
      for (let i = 0; i < 100; i++) await client.set(`while-down:${i}`, `v${i}`);
    } finally {
      client.disconnect();
    }
    await waitFor('the runtime restarted t-1', async () => {
      const now = (await members()).find((member) => member.name === 't-1')!;
      return now.restarts > 0 && now.ready ? now : undefined;
    }, 30_000);
    type Summary = { thisNode: { stats: { snapshotsReceived: number; entriesReceived: number; bytesReceived: number } } };
    // The new process answers on its admin port (the old one's presence may still look online).
    const summary = await waitFor('t-1 serves again and every partition is in sync', async () => {
      try {
        const answer = (await (await fetch(`http://127.0.0.1:${victim.adminPort}/v1/cluster`)).json()) as Summary;
        return (await status()).partitions.underReplicated === 0 ? answer : undefined;
      } catch {
        return undefined;
      }
    }, 30_000);
    const after = await status();
    expect(after.baseline.nodes).toEqual(['t-0', 't-1', 't-2']);
    console.log(`t-1 restarted inside the grace: baseline unchanged; it caught up with ${summary.thisNode.stats.entriesReceived} log entries (${summary.thisNode.stats.bytesReceived} bytes) and ${summary.thisNode.stats.snapshotsReceived} snapshots`);
    expect(summary.thisNode.stats.snapshotsReceived).toBe(0);
  }, 90_000);

  /** Stops t-2 through the admin API and returns the pending change it causes. */
  const stopT2 = async (): Promise<{ deadline: string; deadlineMs: number }> => {
    expect((await fetch(api('/v1/members/t-2/stop'), { method: 'POST' })).status).toBe(200);
    const pending = await waitFor('a pending baseline change', async () => (await status()).baseline.pending ?? undefined, 30_000);
    expect(pending).toMatchObject({ reason: 'MembersLeft', nodes: ['t-0', 't-1'] });
    return { deadline: pending.deadline, deadlineMs: Date.parse(pending.deadline) };
  };
  const waitShrunk = async (): Promise<number> =>
    waitFor('the baseline without t-2', async () => ((await status()).baseline.nodes.join() === 't-0,t-1' ? Date.now() : undefined), GRACE_MS + 30_000, 100);
  /** Starts t-2 again; it must rejoin the baseline after the grace, with every partition in sync. */
  const returnT2 = async (): Promise<void> => {
    const started = Date.now();
    expect((await fetch(api('/v1/members/t-2/start'), { method: 'POST' })).status).toBe(200);
    const rejoined = await waitFor('t-2 back in the baseline', async () => ((await status()).baseline.nodes.join() === 't-0,t-1,t-2' ? Date.now() : undefined), GRACE_MS + 30_000, 200);
    console.log(`t-2 rejoined the baseline ${rejoined - started} ms after it was started (grace ${GRACE_MS} ms)`);
    expect(rejoined - started).toBeGreaterThanOrEqual(GRACE_MS);
    await waitFor('every partition in sync, nothing moving', async () => {
      const current = await status();
      return current.partitions.underReplicated === 0 && current.conditions.find((condition) => condition.type === 'Rebalancing')?.status === 'False' ? true : undefined;
    }, 60_000);
  };
  const checkData = async (): Promise<void> => {
    const client = clusterClient([base, base + 1, base + 2]);
    try {
      for (const i of [0, 57, 199]) expect(await client.get(`key:${i}`)).toBe(`value:${i}`);
      expect(await client.get('while-down:42')).toBe('v42');
    } finally {
      client.disconnect();
    }
  };

  it('fault: a member stopped past the grace; invariant: the baseline shrinks at the deadline (±1 s) and replication is restored; on its return it rejoins after the grace', async () => {
    const { deadlineMs } = await stopT2();
    const shrunk = await waitShrunk();
    console.log(`baseline shrank ${shrunk - deadlineMs} ms after the deadline`);
    expect(Math.abs(shrunk - deadlineMs)).toBeLessThanOrEqual(1000);
    await waitFor('replication restored', async () => ((await status()).partitions.underReplicated === 0 ? true : undefined), 30_000);
    await returnT2();
    await checkData();
  }, 180_000);

  it('restarting ballast dev while a change is pending keeps its deadline', async () => {
    const { deadline, deadlineMs } = await stopT2();
    await stopDev();
    output = '';
    await startDev();
    // The member stopped through the admin API stays stopped; the status on disk keeps the timer.
    expect((await members()).find((member) => member.name === 't-2')!.running).toBe(false);
    expect((await status()).baseline.pending?.deadline).toBe(deadline);
    const shrunk = await waitShrunk();
    console.log(`after a restart of ballast dev, the baseline shrank ${shrunk - deadlineMs} ms after the original deadline`);
    expect(shrunk).toBeGreaterThanOrEqual(deadlineMs - 100);
    await returnT2();
    await checkData();
  }, 180_000);
});
