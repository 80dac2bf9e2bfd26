// Proves scaling and rolling changes of `ballast dev` by editing its KVCluster file, with real
// processes and continuous writes (4 writers through an unmodified ioredis Cluster client):
// - scale-out 3→5: the new members join the baseline after the grace (3 s) and partitions move;
// - scale-in 5→3: t-3 and t-4 leave the baseline first (draining) and are stopped only once no
//   partition is placed on them any more and the rebalance finished;
// - fault: a rolling restart (durability sync→async): one member at a time, highest ordinal first,
//   each handing its primaries off before it stops (SIGTERM → step down);
// Invariants throughout: no acknowledged write lost, no client error after the client's redirects,
// never two members down at once during the roll, no member stopped while it still held data.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkNoAcknowledgedWriteLost, clusterClient, percentile, sleep, waitFor, Writer } from '../cluster/support/cluster-helpers.js';
import { DevHarness, kvclusterYaml, type DevMember, type DevStatus } from './support/dev-harness.js';

const GRACE_SECONDS = 3;
const ALL = ['t-0', 't-1', 't-2', 't-3', 't-4'];
const PRELOAD_KEYS = 6000;

interface Sample {
  atMs: number;
  members: DevMember[];
  status: DevStatus;
  /** Nodes that hold a replica of some partition in the map (from a running member's admin API). */
  placed: Set<string>;
}

describe('ballast dev: scale 3→5→3 and a rolling restart by editing the file, under writes', () => {
  let dev: DevHarness;
  let client: ReturnType<typeof clusterClient>;
  let writers: Writer[] = [];
  const latencies: Array<{ atMs: number; ms: number }> = [];
  const samples: Sample[] = [];
  let sampling = true;
  let sampler: Promise<void> = Promise.resolve();

  /** Polls the runtime and the map every 150 ms (bounded by the test's own time limits). */
  const sample = async (): Promise<void> => {
    const started = Date.now();
    while (sampling && Date.now() - started < 15 * 60_000) {
      try {
        const [members, status] = await Promise.all([dev.members(), dev.status()]);
        const source = members.find((member) => member.running && member.ready);
        const placed = new Set<string>();
        if (source !== undefined) {
          const map = (await (await fetch(`http://127.0.0.1:${source.adminPort}/v1/cluster/map`, { signal: AbortSignal.timeout(3000) })).json()) as { partitions: Array<{ replicas: string[] }> };
          for (const partition of map.partitions) for (const node of partition.replicas) placed.add(node);
        }
        samples.push({ atMs: Date.now(), members, status, placed });
      } catch {
        // A member going away mid-request: the next sample sees it.
      }
      await sleep(150);
    }
  };

  beforeAll(async () => {
    dev = await DevHarness.create(5);
    dev.writeSpec(kvclusterYaml({ replicas: 3, graceSeconds: GRACE_SECONDS }));
    await dev.start();
    await dev.waitSettled(['t-0', 't-1', 't-2'], 60_000);
    client = clusterClient(ALL.map((_, index) => dev.base + index));
    // Data to move (6 MB), moved slowly (256 KB/s per sending node), so draining takes seconds and a
    // member stopped too early would be seen holding data.
    const value = 'x'.repeat(1024);
    for (let batch = 0; batch < PRELOAD_KEYS / 200; batch++) {
      await Promise.all(Array.from({ length: 200 }, (_, i) => client.set(`preload:${batch * 200 + i}`, value)));
    }
    const token = readFileSync(path.join(dev.dataDir, 'token'), 'utf8').trim();
    const limits = await fetch(`http://127.0.0.1:${dev.base + 100}/v1/cluster/rebalance/limits`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ bytesPerSecond: 256 * 1024, concurrentMoves: 2 }),
    });
    expect(limits.status).toBe(200);
    writers = Array.from({ length: 4 }, (_, index) => new Writer(index, client, 50, latencies, 5));
    sampler = sample();
  }, 120_000);

  afterAll(async () => {
    sampling = false;
    await sampler;
    await Promise.all(writers.map((writer) => writer.stop().catch(() => undefined)));
    client?.disconnect();
    await dev.close();
  });

  it('scale-out 3→5 by editing the file: t-3 and t-4 join the baseline after the grace; partitions move to them', async () => {
    await sleep(1000);
    const edited = Date.now();
    dev.writeSpec(kvclusterYaml({ replicas: 5, graceSeconds: GRACE_SECONDS }));
    const settled = await dev.waitSettled(ALL, 120_000);
    const joined = samples.find((item) => item.atMs >= edited && item.status.baseline.nodes.length === 5);
    console.log(`scale-out: baseline of 5 ${joined === undefined ? '?' : joined.atMs - edited} ms after the edit (grace ${GRACE_SECONDS} s), settled ${Date.now() - edited} ms after it`);
    expect(joined!.atMs - edited).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000);
    expect(settled.partitions).toMatchObject({ underReplicated: 0, lost: 0 });
    const last = samples.at(-1)!;
    expect(last.placed.has('t-3') && last.placed.has('t-4')).toBe(true);
    expect(writers.every((writer) => writer.errorCount === 0)).toBe(true);
  }, 150_000);

  it('scale-in 5→3: t-3 and t-4 leave the baseline first and stop only after their data moved', async () => {
    const edited = Date.now();
    dev.writeSpec(kvclusterYaml({ replicas: 3, graceSeconds: GRACE_SECONDS }));
    await dev.waitSettled(['t-0', 't-1', 't-2'], 120_000);
    await waitFor('t-3 and t-4 stopped and gone from the runtime, as sampled', async () => (samples.at(-1)!.atMs > edited && samples.at(-1)!.members.length === 3 ? true : undefined), 60_000);
    const after = samples.filter((item) => item.atMs >= edited);
    for (const leaving of ['t-3', 't-4']) {
      const stoppedAt = after.findIndex((item) => !item.members.some((member) => member.name === leaving && member.running));
      expect(stoppedAt, `${leaving} was seen stopping`).toBeGreaterThan(0);
      // Every sample up to the one where it stopped: while it still held a replica, it was running.
      for (const item of after.slice(0, stoppedAt + 1)) {
        if (item.placed.has(leaving)) expect(item.members.some((member) => member.name === leaving && member.running), `${leaving} running while it holds data`).toBe(true);
      }
      // When it was seen stopped, nothing was placed on it any more and nothing was moving.
      const atStop = after[stoppedAt]!;
      expect(atStop.placed.has(leaving), `${leaving} held no replica when it stopped`).toBe(false);
      const drained = after.find((item) => !item.placed.has(leaving))!;
      console.log(`scale-in: ${leaving} drained ${drained.atMs - edited} ms after the edit, stopped ${atStop.atMs - edited} ms after it`);
    }
    const baselineShrunk = after.find((item) => item.status.baseline.nodes.join() === 't-0,t-1,t-2');
    expect(baselineShrunk!.atMs - edited).toBeLessThan(GRACE_SECONDS * 1000 + 2000);
    expect(writers.every((writer) => writer.errorCount === 0)).toBe(true);
  }, 200_000);

  it('fault: rolling restart (durability sync→async); invariant: one member at a time, highest first, primaries handed off first', async () => {
    const before = new Map((await dev.members()).map((member) => [member.name, member.pid]));
    const edited = Date.now();
    dev.writeSpec(kvclusterYaml({ replicas: 3, graceSeconds: GRACE_SECONDS, durability: 'async' }));
    await waitFor('every member restarted with the new configuration', async () => {
      const members = await dev.members();
      const current = await dev.status();
      const done = members.every((member) => member.pid !== before.get(member.name) && member.ready) && dev.condition(current, 'Progressing')?.reason === 'Stable';
      return done ? true : undefined;
    }, 180_000, 200);
    await dev.waitSettled(['t-0', 't-1', 't-2'], 60_000);
    const rollEnded = Date.now();
    const during = samples.filter((item) => item.atMs >= edited);
    // Order of restarts: the first sample where each member has a new pid.
    const order = ['t-0', 't-1', 't-2']
      .map((name) => ({ name, at: during.findIndex((item) => item.members.some((member) => member.name === name && member.pid !== null && member.pid !== before.get(name))) }))
      .sort((a, b) => a.at - b.at)
      .map((item) => item.name);
    const mostDown = Math.max(...during.map((item) => item.members.filter((member) => !member.ready || !member.running).length));
    for (const member of await dev.members()) {
      expect(readFileSync(`/proc/${member.pid}/cmdline`, 'utf8').split('\0').join(' ')).toContain('--durability async');
    }
    // Each member's log: it stepped down (handed its primaries off) before it stopped.
    for (const name of ['t-0', 't-1', 't-2']) {
      const log = readFileSync(path.join(dev.dataDir, `${name}.log`), 'utf8');
      expect(log, `${name} stepped down before stopping`).toContain('stepped down: every partition handed off');
      expect(log).not.toContain('some partitions were not handed off');
    }
    const window = latencies.filter((item) => item.atMs >= edited && item.atMs <= rollEnded).map((item) => item.ms);
    console.log(
      `rolling restart: order ${order.join(' → ')}, at most ${mostDown} member(s) down at once, took ${rollEnded - edited} ms; ` +
        `${window.length} writes acknowledged meanwhile, latency p50 ${percentile(window, 50).toFixed(1)} ms, p99 ${percentile(window, 99).toFixed(1)} ms, max ${percentile(window, 100).toFixed(1)} ms`,
    );
    expect(order).toEqual(['t-2', 't-1', 't-0']);
    expect(mostDown).toBeLessThanOrEqual(1);
    expect(writers.every((writer) => writer.errorCount === 0)).toBe(true);
  }, 240_000);

  it('invariant: no acknowledged write lost and no client error over the whole run', async () => {
    await Promise.all(writers.map((writer) => writer.stop()));
    const acknowledged = writers.reduce((sum, writer) => sum + writer.acknowledgedCount, 0);
    const errors = writers.reduce((sum, writer) => sum + writer.errorCount, 0);
    console.log(`${acknowledged} writes acknowledged, ${errors} client errors (last: ${writers.map((writer) => writer.lastError).filter(Boolean).join(' | ') || 'none'})`);
    expect(acknowledged).toBeGreaterThan(1000);
    expect(errors).toBe(0);
    expect(await checkNoAcknowledgedWriteLost(client, writers)).toEqual([]);
    const missing: string[] = [];
    for (const i of [0, 1, 999, 2500, 4321, PRELOAD_KEYS - 1]) if ((await client.get(`preload:${i}`))?.length !== 1024) missing.push(`preload:${i}`);
    expect(missing).toEqual([]);
  }, 120_000);
});
