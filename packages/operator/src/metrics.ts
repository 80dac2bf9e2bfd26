/**
 * Operator metrics, the same for both runtimes (`ballast dev` and Kubernetes). Per cluster, labelled
 * `namespace` and `cluster` (`ballast dev` labels its cluster namespace `local`): when it was last
 * reconciled, the baseline and its pending deadline, desired replicas, members by state, partitions
 * under-replicated and lost, the rebalance seen, and one 0/1 series per condition. Per operator:
 * reconciles by result, their durations as a histogram, and the build.
 *
 * Everything is read when scraped from what the runtime keeps anyway (the status its last reconcile
 * decided): nothing here can fall out of step with the KVCluster status.
 */
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CONDITION_TYPES, type KVClusterStatus } from './api.js';

/** The operator package's version (`ballast_build_info{version}`). */
export const OPERATOR_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** How `ballast dev` labels its one cluster's namespace, in metrics and Prometheus targets alike. */
export const LOCAL_NAMESPACE = 'local';

/**
 * Upper bounds of the reconcile duration buckets, in seconds: a reconcile is a few API calls
 * (milliseconds) and at worst waits on a node's admin API (10 s timeouts).
 */
export const RECONCILE_DURATION_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const RECONCILE_DURATION = 'ballast_operator_reconcile_duration_seconds';

/** A reconcile duration histogram, in no registry until registerOperatorMetrics registers it. */
export function reconcileDurationHistogram(): Histogram {
  return new Histogram({ name: RECONCILE_DURATION, help: 'Time one reconcile of one cluster took', buckets: [...RECONCILE_DURATION_BUCKETS_SECONDS], registers: [] });
}

/**
 * A runtime's reconcile counters (every cluster together). They live as long as the process: a
 * Kubernetes operator that becomes leader hands its runtime the ones /metrics already serves.
 */
export interface ReconcileStats {
  reconciles: number;
  reconcileErrors: number;
  reconcileDurations: Histogram;
}

export type MemberState = 'ready' | 'running' | 'stopped';

/** One cluster as its last reconcile left it. */
export interface ClusterMetricsView {
  namespace: string;
  cluster: string;
  /** spec.replicas; null when the spec is invalid and has none. */
  replicasDesired: number | null;
  /** When the last reconcile of the cluster finished without error (ms since the epoch); null: none yet. */
  lastReconcileMs: number | null;
  /** Members by state; null when not observed (an invalid spec). */
  members: Record<MemberState, number> | null;
  /**
   * The status the last reconcile decided: complete, or only `conditions` (and observedGeneration)
   * when it reported an invalid spec; undefined before the first reconcile.
   */
  status: Partial<KVClusterStatus> | undefined;
}

export interface OperatorMetricsSource {
  /** Registered as they are: the same object for the registry's lifetime. */
  readonly stats: ReconcileStats;
  /** Every cluster the operator runs. */
  clusters(): ClusterMetricsView[];
}

/** Members by state, for ballast_operator_members: `ready` (its node is online), `running`, `stopped`. */
export function membersByState(members: ReadonlyArray<{ ready: boolean; running: boolean }>): Record<MemberState, number> {
  let ready = 0;
  let running = 0;
  for (const member of members) {
    if (member.ready) ready++;
    if (member.running) running++;
  }
  return { ready, running, stopped: members.length - running };
}

/** A fresh set of counters (what a Kubernetes standby reports until it leads: nothing reconciled). */
export function emptyReconcileStats(): ReconcileStats {
  return { reconciles: 0, reconcileErrors: 0, reconcileDurations: reconcileDurationHistogram() };
}

export function registerOperatorMetrics(registry: Registry, source: OperatorMetricsSource): void {
  new Gauge({
    name: 'ballast_build_info',
    help: 'Always 1; the operator version in its label',
    labelNames: ['version'],
    registers: [registry],
  }).set({ version: OPERATOR_VERSION }, 1);
  new Counter({
    name: 'ballast_operator_reconciles_total',
    help: 'Reconciles run, by result',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ result: 'ok' }, source.stats.reconciles - source.stats.reconcileErrors);
      this.inc({ result: 'error' }, source.stats.reconcileErrors);
    },
  });
  registry.registerMetric(source.stats.reconcileDurations);

  /** A gauge per cluster; `values` gives [extra label value, value] pairs, a null value leaves the series out. */
  const perCluster = (name: string, help: string, extraLabel: string | null, values: (entry: ClusterMetricsView) => Array<[string | null, number | null | undefined]>): void => {
    new Gauge({
      name,
      help,
      labelNames: extraLabel === null ? ['namespace', 'cluster'] : ['namespace', 'cluster', extraLabel],
      registers: [registry],
      collect() {
        this.reset();
        for (const entry of source.clusters()) {
          for (const [label, value] of values(entry)) {
            if (value === null || value === undefined) continue;
            const labels: Record<string, string> = { namespace: entry.namespace, cluster: entry.cluster };
            if (extraLabel !== null && label !== null) labels[extraLabel] = label;
            this.set(labels, value);
          }
        }
      },
    });
  };
  const one = (value: number | null | undefined): Array<[null, number | null | undefined]> => [[null, value]];
  perCluster('ballast_operator_last_reconcile_timestamp_seconds', 'Unix time at which the last reconcile of the cluster finished without error', null, (entry) =>
    one(entry.lastReconcileMs === null ? null : entry.lastReconcileMs / 1000));
  perCluster('ballast_operator_baseline_pending_deadline_seconds', 'Unix time at which the pending baseline change is applied (absent when none is pending)', null, (entry) => {
    const deadline = entry.status?.baseline?.pending?.deadline;
    return one(deadline === undefined ? null : Date.parse(deadline) / 1000);
  });
  perCluster('ballast_operator_baseline_nodes', 'Members in the baseline (the members that own data)', null, (entry) => one(entry.status?.baseline?.nodes.length));
  perCluster('ballast_operator_replicas_desired', 'Members the spec asks for (spec.replicas)', null, (entry) => one(entry.replicasDesired));
  perCluster('ballast_operator_members', 'Members by state', 'state', (entry) => (entry.members === null ? [] : Object.entries(entry.members)));
  perCluster('ballast_operator_partitions_under_replicated', 'Partitions with fewer in-sync replicas than placed replicas', null, (entry) => one(entry.status?.partitions?.underReplicated));
  perCluster('ballast_operator_partitions_lost', 'Partitions with no in-sync replica online', null, (entry) => one(entry.status?.partitions?.lost));
  perCluster('ballast_operator_rebalance_partitions_moving', 'Partitions moving to the baseline, as the last reconcile saw', null, (entry) => {
    const rebalance = entry.status?.rebalance;
    if (rebalance === undefined) return [];
    return one(rebalance === null || !rebalance.inProgress ? 0 : rebalance.partitionsTotal - rebalance.partitionsDone);
  });
  perCluster('ballast_operator_rebalance_progress_ratio', 'Share of the current rebalance done, 0 to 1 (1 when nothing moves)', null, (entry) => {
    const rebalance = entry.status?.rebalance;
    if (rebalance === undefined) return [];
    return one(rebalance === null || !rebalance.inProgress || rebalance.partitionsTotal === 0 ? 1 : rebalance.partitionsDone / rebalance.partitionsTotal);
  });
  perCluster('ballast_operator_condition', 'Status conditions: 1 when True, 0 otherwise (False, Unknown or not reported), every type present', 'type', (entry) => {
    const conditions = entry.status?.conditions;
    if (!Array.isArray(conditions)) return [];
    return CONDITION_TYPES.map((type) => [type, conditions.some((condition) => condition.type === type && condition.status === 'True') ? 1 : 0]);
  });
}
