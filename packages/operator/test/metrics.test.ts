// Proves the operator metrics (shared by `ballast dev` and Kubernetes) as Prometheus reads them: a
// fresh prom-client Registry, a fake source, the exposition text. Every series the dashboard and the
// alert rules use is there with its labels; the per-cluster figures follow the status the reconcile
// decided (baseline, pending deadline, rebalance, one 0/1 series per condition type, all types
// present); the reconcile durations form a histogram whose _sum is the time spent; a cluster with
// an invalid spec still shows when it was reconciled and that it is Degraded.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { applyDefaults, CONDITION_TYPES, decide, memberConfigHash, type KVClusterStatus } from '../src/index.js';
import { reconcileDurationHistogram, registerOperatorMetrics, type ClusterMetricsView, type ReconcileStats } from '../src/metrics.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');

/** The status decide() gives a 3-member cluster with kv-2 gone (a pending change) and 4 of 16 partitions moving. */
function movingStatus(): KVClusterStatus {
  const spec = applyDefaults({ replicas: 3, partitions: 16, baseline: { autoAdjust: { graceTimeout: '1m' } } });
  const names = ['kv-0', 'kv-1', 'kv-2'];
  return decide({
    name: 'kv',
    spec,
    status: undefined,
    nowMs: T0,
    observed: {
      generation: 1,
      members: names.map((name) => ({ name, running: name !== 'kv-2', online: name !== 'kv-2', configHash: memberConfigHash(spec) })),
      // Active, kv-2 offline: 5 partitions under-replicated, 12 of 16 moved.
      cluster: { state: 'ACTIVE', autoActivatePending: false, activated: true, baseline: names, onlineNodes: ['kv-0', 'kv-1'], partitions: { total: 16, underReplicated: 5, lost: 0 }, rebalance: { inProgress: true, partitionsTotal: 16, partitionsDone: 12, bytesMoved: 1000, bytesRemaining: 500 } },
    },
  }).status;
}

/** Exposition text as `name{labels} → value` (labels as Prometheus prints them). */
async function scrape(source: { stats: ReconcileStats; clusters: () => ClusterMetricsView[] }): Promise<Map<string, number>> {
  const registry = new Registry();
  registerOperatorMetrics(registry, source);
  const samples = new Map<string, number>();
  for (const line of (await registry.metrics()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

function stats(durations: number[] = [], errors = 0): ReconcileStats {
  const histogram = reconcileDurationHistogram();
  for (const seconds of durations) histogram.observe(seconds);
  return { reconciles: durations.length, reconcileErrors: errors, reconcileDurations: histogram };
}

const moving: ClusterMetricsView = {
  namespace: 'data',
  cluster: 'kv',
  replicasDesired: 3,
  lastReconcileMs: T0 + 1500,
  members: { ready: 2, running: 2, stopped: 1 },
  status: movingStatus(),
};

describe('operator metrics', () => {
  it('shows each cluster as its last reconcile left it, labelled namespace and cluster', async () => {
    const samples = await scrape({ stats: stats(), clusters: () => [moving] });
    const at = (name: string, extra = ''): number | undefined => samples.get(`${name}{namespace="data",cluster="kv"${extra}}`);
    expect(at('ballast_operator_last_reconcile_timestamp_seconds')).toBe((T0 + 1500) / 1000);
    expect(at('ballast_operator_baseline_nodes')).toBe(3);
    expect(at('ballast_operator_baseline_pending_deadline_seconds')).toBe((T0 + 60_000) / 1000);
    expect(at('ballast_operator_replicas_desired')).toBe(3);
    expect(at('ballast_operator_members', ',state="ready"')).toBe(2);
    expect(at('ballast_operator_members', ',state="stopped"')).toBe(1);
    expect(at('ballast_operator_partitions_under_replicated')).toBe(5);
    expect(at('ballast_operator_partitions_lost')).toBe(0);
    expect(at('ballast_operator_rebalance_partitions_moving')).toBe(4);
    expect(at('ballast_operator_rebalance_progress_ratio')).toBe(0.75);
    expect(Object.fromEntries(CONDITION_TYPES.map((type) => [type, at('ballast_operator_condition', `,type="${type}"`)]))).toEqual({
      Available: 1,
      Progressing: 1,
      Degraded: 1,
      Rebalancing: 1,
      BaselinePending: 1,
    });
  });

  it('reports progress 1 and nothing moving, no deadline, and False conditions as 0 on a settled cluster', async () => {
    const settled: ClusterMetricsView = {
      ...moving,
      status: { ...moving.status!, rebalance: null, baseline: { ...moving.status!.baseline!, pending: null }, conditions: moving.status!.conditions!.map((condition) => ({ ...condition, status: condition.type === 'Available' ? 'True' : 'False' })) },
    };
    const samples = await scrape({ stats: stats(), clusters: () => [settled] });
    expect(samples.get('ballast_operator_rebalance_partitions_moving{namespace="data",cluster="kv"}')).toBe(0);
    expect(samples.get('ballast_operator_rebalance_progress_ratio{namespace="data",cluster="kv"}')).toBe(1);
    expect([...samples.keys()].some((key) => key.startsWith('ballast_operator_baseline_pending_deadline_seconds'))).toBe(false);
    expect(CONDITION_TYPES.map((type) => samples.get(`ballast_operator_condition{namespace="data",cluster="kv",type="${type}"}`))).toEqual([1, 0, 0, 0, 0]);
  });

  it('shows a cluster with an invalid spec as reconciled and Degraded, without figures it does not have', async () => {
    const invalid: ClusterMetricsView = {
      namespace: 'data',
      cluster: 'bad',
      replicasDesired: null,
      lastReconcileMs: T0,
      members: null,
      status: { observedGeneration: 2, conditions: [{ type: 'Degraded', status: 'True', reason: 'InvalidSpec', message: 'the spec is invalid', lastTransitionTime: new Date(T0).toISOString() }] },
    };
    const samples = await scrape({ stats: stats(), clusters: () => [moving, invalid] });
    const bad = [...samples.keys()].filter((key) => key.includes('cluster="bad"')).sort();
    expect(bad).toEqual([
      'ballast_operator_condition{namespace="data",cluster="bad",type="Available"}',
      'ballast_operator_condition{namespace="data",cluster="bad",type="BaselinePending"}',
      'ballast_operator_condition{namespace="data",cluster="bad",type="Degraded"}',
      'ballast_operator_condition{namespace="data",cluster="bad",type="Progressing"}',
      'ballast_operator_condition{namespace="data",cluster="bad",type="Rebalancing"}',
      'ballast_operator_last_reconcile_timestamp_seconds{namespace="data",cluster="bad"}',
    ]);
    expect(samples.get('ballast_operator_condition{namespace="data",cluster="bad",type="Degraded"}')).toBe(1);
    expect(samples.get('ballast_operator_baseline_nodes{namespace="data",cluster="kv"}')).toBe(3);
  });

  it('counts reconciles by result and their durations as a histogram whose _sum is the time spent', async () => {
    const durations = [0.003, 0.02, 0.02, 0.4, 12, 45];
    const samples = await scrape({ stats: stats(durations, 2), clusters: () => [] });
    expect(samples.get('ballast_operator_reconciles_total{result="ok"}')).toBe(4);
    expect(samples.get('ballast_operator_reconciles_total{result="error"}')).toBe(2);
    expect(samples.get('ballast_operator_reconcile_duration_seconds_sum')).toBeCloseTo(durations.reduce((sum, seconds) => sum + seconds, 0), 9);
    expect(samples.get('ballast_operator_reconcile_duration_seconds_count')).toBe(6);
    expect(samples.get('ballast_operator_reconcile_duration_seconds_bucket{le="0.005"}')).toBe(1);
    expect(samples.get('ballast_operator_reconcile_duration_seconds_bucket{le="0.025"}')).toBe(3);
    expect(samples.get('ballast_operator_reconcile_duration_seconds_bucket{le="0.5"}')).toBe(4);
    expect(samples.get('ballast_operator_reconcile_duration_seconds_bucket{le="30"}')).toBe(5);
    expect(samples.get('ballast_operator_reconcile_duration_seconds_bucket{le="+Inf"}')).toBe(6);
    // Cumulative: never decreasing from bucket to bucket.
    const buckets = [...samples.entries()].filter(([key]) => key.startsWith('ballast_operator_reconcile_duration_seconds_bucket')).map(([, value]) => value);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(samples.has('ballast_operator_reconcile_seconds_total')).toBe(false);
  });

  it('reads the figures when scraped, not when registered', async () => {
    const live = stats();
    const views: ClusterMetricsView[] = [];
    const registry = new Registry();
    registerOperatorMetrics(registry, { stats: live, clusters: () => views });
    live.reconcileDurations.observe(0.5);
    live.reconciles++;
    views.push(moving);
    const text = await registry.metrics();
    expect(text).toContain('ballast_operator_reconcile_duration_seconds_count 1');
    expect(text).toContain('ballast_operator_replicas_desired{namespace="data",cluster="kv"} 3');
  });

  it('says which operator build runs', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const samples = await scrape({ stats: stats(), clusters: () => [] });
    expect(samples.get(`ballast_build_info{version="${version}"}`)).toBe(1);
  });
});
