/**
 * Operator metrics, the same for both runtimes (`ballast dev` and Kubernetes): reconciles by
 * result, time spent, the pending baseline deadline as a timestamp, members by state, and each
 * cluster's partitions under-replicated and lost.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface OperatorMetricsSource {
  stats: { reconciles: number; reconcileErrors: number; reconcileSecondsTotal: number };
  /** Every cluster the operator runs, with what its last reconcile saw. */
  clusters(): Array<{
    namespace: string;
    cluster: string;
    pendingDeadlineMs: number | null;
    members: Record<'ready' | 'running' | 'stopped', number>;
    partitions: { underReplicated: number; lost: number };
  }>;
}

export function registerOperatorMetrics(registry: Registry, source: OperatorMetricsSource): void {
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
  new Counter({
    name: 'ballast_operator_reconcile_seconds_total',
    help: 'Time spent reconciling',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(source.stats.reconcileSecondsTotal);
    },
  });
  const perCluster = (name: string, help: string, extraLabel: string | null, values: (entry: ReturnType<OperatorMetricsSource['clusters']>[number]) => Array<[string | null, number | null]>): void => {
    new Gauge({
      name,
      help,
      labelNames: extraLabel === null ? ['namespace', 'cluster'] : ['namespace', 'cluster', extraLabel],
      registers: [registry],
      collect() {
        this.reset();
        for (const entry of source.clusters()) {
          for (const [label, value] of values(entry)) {
            if (value === null) continue;
            const labels: Record<string, string> = { namespace: entry.namespace, cluster: entry.cluster };
            if (extraLabel !== null && label !== null) labels[extraLabel] = label;
            this.set(labels, value);
          }
        }
      },
    });
  };
  perCluster('ballast_operator_baseline_pending_deadline_seconds', 'Unix time at which the pending baseline change is applied (absent when none is pending)', null, (entry) => [[null, entry.pendingDeadlineMs === null ? null : entry.pendingDeadlineMs / 1000]]);
  perCluster('ballast_operator_members', 'Members by state', 'state', (entry) => Object.entries(entry.members));
  perCluster('ballast_operator_partitions_under_replicated', 'Partitions with fewer in-sync replicas than placed replicas', null, (entry) => [[null, entry.partitions.underReplicated]]);
  perCluster('ballast_operator_partitions_lost', 'Partitions with no in-sync replica online', null, (entry) => [[null, entry.partitions.lost]]);
}
