// Proves `ballast dev` (the operator's local runtime) with real processes and a 6 s grace timeout:
// - it starts the members, activates the cluster and serves an unmodified Redis Cluster client;
// - it lists its members as Prometheus http_sd targets (each answers /metrics), labelled as its
//   operator metrics label the cluster, and its metrics show a quiet cluster still reconciled;
// - fault: kill -9 of a member; the runtime restarts it inside the grace. Invariant: the baseline
//   does not change and the member catches up by the log, not by a full copy (bytes printed);
// - fault: a member stopped past the grace. Invariant: the baseline shrinks at the deadline (±1 s,
//   measured from the deadline in the status) and replication is restored (underReplicated 0);
// - the member's return: it rejoins the baseline after the grace, and the data is all there;
// - restarting `ballast dev` while a change is pending keeps the original deadline (status on disk;
//   the members restart with it, so the change lands once they are back, never before the deadline).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterClient, waitFor } from '../cluster/support/cluster-helpers.js';
import { DevHarness, kvclusterYaml } from './support/dev-harness.js';

const GRACE_MS = 6000;

describe('ballast dev (3 members, grace 6 s)', () => {
  let dev: DevHarness;
  let base: number;
  const api = (route: string): string => dev.api(route);
  const status = async () => dev.status();
  const members = async () => dev.members();

  beforeAll(async () => {
    dev = await DevHarness.create(3);
    base = dev.base;
    dev.writeSpec(kvclusterYaml({ replicas: 3, graceSeconds: GRACE_MS / 1000 }));
    await dev.start();
  }, 60_000);

  afterAll(async () => {
    await dev.close();
  });

  it('starts, activates and serves a Redis Cluster client', async () => {
    expect(dev.output).toMatch(`connect: redis-cli -c -p ${base}`);
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

  it('lists the members as Prometheus targets and reports the cluster in its metrics, reconciled while quiet', async () => {
    const targets = (await (await fetch(api('/v1/prometheus/targets'))).json()) as unknown;
    expect(targets).toEqual(
      (await members()).map((member) => ({ targets: [`127.0.0.1:${member.adminPort}`], labels: { namespace: 'local', cluster: 't', node: member.name } })),
    );
    expect(targets).toHaveLength(3);
    for (const target of targets as Array<{ targets: string[] }>) expect((await fetch(`http://${target.targets[0]}/metrics`)).status).toBe(200);
    const metrics = async (): Promise<string> => (await fetch(api('/metrics'))).text();
    const lastReconcile = (text: string): number => Number(/^ballast_operator_last_reconcile_timestamp_seconds\{namespace="local",cluster="t"\} (\S+)$/m.exec(text)?.[1]);
    const first = await metrics();
    for (const line of [
      'ballast_operator_baseline_nodes{namespace="local",cluster="t"} 3',
      'ballast_operator_replicas_desired{namespace="local",cluster="t"} 3',
      'ballast_operator_rebalance_progress_ratio{namespace="local",cluster="t"} 1',
      'ballast_operator_condition{namespace="local",cluster="t",type="Available"} 1',
      'ballast_operator_condition{namespace="local",cluster="t",type="BaselinePending"} 0',
    ]) {
      expect(first).toContain(line);
    }
    expect(first).toMatch(/^ballast_operator_reconcile_duration_seconds_count [1-9]/m);
    expect(first).toMatch(/^ballast_build_info\{version="[^"]+"\} 1$/m);
    expect(lastReconcile(first)).toBeGreaterThan(Date.now() / 1000 - 30);
    // Nothing changes meanwhile: the timestamp still advances.
    await waitFor('another reconcile of the quiet cluster', async () => (lastReconcile(await metrics()) > lastReconcile(first) ? true : undefined), 30_000, 200);
  }, 60_000);

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
    await dev.stop();
    dev.output = '';
    await dev.start();
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
