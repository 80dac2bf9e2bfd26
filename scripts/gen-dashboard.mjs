#!/usr/bin/env node
// Writes manifests/monitoring/grafana-dashboard.json, the Ballast Grafana dashboard, from the panel
// list below (layout, ids and data source references are computed, so they stay consistent).
// The Helm chart ships the same file (charts/ballast-operator/files/ is a link to it).
//
//   node scripts/gen-dashboard.mjs           write the file
//   node scripts/gen-dashboard.mjs --check   exit 1 when the file differs from what would be written
//
// Every query filters by the dashboard variables: $namespace and $cluster for cluster figures,
// $node too for the per-node rows. Storage node metrics carry namespace, cluster and node as
// target labels (set by the PodMonitor or `ballast dev`'s /v1/prometheus/targets); operator metrics
// carry namespace and cluster as metric labels. test/monitoring/prometheus.test.ts runs every
// expression against a real Prometheus scraping a real cluster.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUTPUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'manifests', 'monitoring', 'grafana-dashboard.json');

const CLUSTER = 'namespace=~"$namespace", cluster=~"$cluster"';
const NODE = `${CLUSTER}, node=~"$node"`;
const RATE = '$__rate_interval';

/** Panel helpers: each returns a panel without id and position (added by layout). */
/** A single-value panel; `expr` may be a list of [expr, legend] pairs to show several values. */
function stat(title, description, expr, { unit = 'none', thresholds = null } = {}) {
  const targets = Array.isArray(expr) ? expr : [[expr, '']];
  return {
    type: 'stat',
    title,
    description,
    w: 4,
    h: 4,
    targets: targets.map(([query, legendFormat]) => ({ expr: query, legendFormat })),
    fieldConfig: {
      defaults: {
        unit,
        ...(thresholds === null ? {} : { thresholds: { mode: 'absolute', steps: thresholds } }),
        color: { mode: thresholds === null ? 'fixed' : 'thresholds', ...(thresholds === null ? { fixedColor: 'blue' } : {}) },
      },
      overrides: [],
    },
    options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', textMode: 'auto', justifyMode: 'auto', orientation: 'auto' },
  };
}

function series(title, description, targets, { unit = 'short', w = 12, h = 8, stack = false, min = undefined } = {}) {
  return {
    type: 'timeseries',
    title,
    description,
    w,
    h,
    targets: targets.map(([query, legendFormat]) => ({ expr: query, legendFormat })),
    fieldConfig: {
      defaults: {
        unit,
        ...(min === undefined ? {} : { min }),
        color: { mode: 'palette-classic' },
        custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: stack ? 30 : 10, showPoints: 'never', spanNulls: false, stacking: { mode: stack ? 'normal' : 'none', group: 'A' } },
      },
      overrides: [],
    },
    options: { legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } },
  };
}

const RED_ABOVE_ZERO = [{ color: 'green', value: null }, { color: 'red', value: 1 }];
const ORANGE_ABOVE_ZERO = [{ color: 'green', value: null }, { color: 'orange', value: 1 }];

const rows = [
  {
    title: 'Health',
    panels: [
      stat('Partitions lost', 'Partitions with no in-sync replica online (their keys are unavailable). Alert: BallastPartitionsLost.', `max(ballast_cluster_partitions{${CLUSTER}, state="lost"})`, { thresholds: RED_ABOVE_ZERO }),
      stat('Under-replicated', 'Partitions with fewer in-sync replicas than placed replicas. Alert: BallastPartitionsUnderReplicated.', `max(ballast_cluster_partitions{${CLUSTER}, state="under_replicated"})`, { thresholds: ORANGE_ABOVE_ZERO }),
      stat('Nodes up', 'Storage nodes Prometheus scrapes successfully.', `sum(up{${CLUSTER}, node!=""})`),
      stat('Online / baseline', 'Nodes with a live presence registration, and nodes in the baseline (the nodes that own data).', [
        [`max(ballast_cluster_nodes{${CLUSTER}, state="online"})`, 'online'],
        [`max(ballast_cluster_nodes{${CLUSTER}, state="baseline"})`, 'baseline'],
      ]),
      stat('Baseline change due in', 'Time until a pending baseline change is applied (empty: none pending). Alert: BallastBaselineChangePending.', `max(ballast_operator_baseline_pending_deadline_seconds{${CLUSTER}}) - time()`, { unit: 's' }),
      stat('Rebalance progress', 'Share of the moving partitions that reached their new replicas (100%: nothing moving).', `min(ballast_operator_rebalance_progress_ratio{${CLUSTER}})`, { unit: 'percentunit' }),
    ],
  },
  {
    title: 'Throughput',
    panels: [
      series('Commands by command', 'Commands processed per second, by command.', [[`sum by (command) (rate(ballast_commands_total{${CLUSTER}}[${RATE}]))`, '{{command}}']], { unit: 'ops', stack: true }),
      series('Commands by result', 'ok, error (the command replied an error) and rejected (refused before running).', [[`sum by (result) (rate(ballast_commands_total{${CLUSTER}}[${RATE}]))`, '{{result}}']], { unit: 'ops' }),
      series('Rejected requests', 'Requests refused by routing, availability or authentication, by reason (moved: the client used an old slot map; tryagain/clusterdown: a partition is changing hands or unavailable).', [[`sum by (reason) (rate(ballast_rejected_requests_total{${CLUSTER}}[${RATE}]))`, '{{reason}}']], { unit: 'ops' }),
      series('Client connections', 'Open client connections per node.', [[`sum by (node) (ballast_connected_clients{${CLUSTER}})`, '{{node}}']], { unit: 'short', stack: true }),
    ],
  },
  {
    title: 'Latency',
    panels: [
      series('Command latency', 'From receiving a command to releasing its reply, including waiting for replication and durability.', [
        [`histogram_quantile(0.5, sum by (le) (rate(ballast_command_duration_seconds_bucket{${CLUSTER}}[${RATE}])))`, 'p50'],
        [`histogram_quantile(0.99, sum by (le) (rate(ballast_command_duration_seconds_bucket{${CLUSTER}}[${RATE}])))`, 'p99'],
        [`histogram_quantile(0.999, sum by (le) (rate(ballast_command_duration_seconds_bucket{${CLUSTER}}[${RATE}])))`, 'p99.9'],
      ], { unit: 's' }),
      series('p99 latency by command', 'p99 of the commands with traffic.', [[`histogram_quantile(0.99, sum by (le, command) (rate(ballast_command_duration_seconds_bucket{${CLUSTER}}[${RATE}])))`, '{{command}}']], { unit: 's' }),
      series('Persistence commit latency', 'Time to commit one write batch to LMDB.', [
        [`histogram_quantile(0.5, sum by (le) (rate(ballast_persistence_commit_duration_seconds_bucket{${CLUSTER}}[${RATE}])))`, 'p50'],
        [`histogram_quantile(0.99, sum by (le) (rate(ballast_persistence_commit_duration_seconds_bucket{${CLUSTER}}[${RATE}])))`, 'p99'],
      ], { unit: 's' }),
      series('Commit batch size', 'Records per LMDB commit (group commit), mean.', [[`sum(rate(ballast_persistence_commit_records_sum{${CLUSTER}}[${RATE}])) / sum(rate(ballast_persistence_commit_records_count{${CLUSTER}}[${RATE}]))`, 'records per commit']], { unit: 'short' }),
    ],
  },
  {
    title: 'Replication',
    panels: [
      series('Partitions by role', 'Replicas held across the cluster: primary, backup (in-sync) and learner (catching up, not yet in sync).', [[`sum by (role) (ballast_partitions{${CLUSTER}})`, '{{role}}']], { unit: 'short', w: 8 }),
      series('Primaries per node', 'Partitions each node leads (balanced after restarts by preferred-primary handoff).', [[`sum by (node) (ballast_partitions{${CLUSTER}, role="primary"})`, '{{node}}']], { unit: 'short', w: 8, stack: true }),
      series('ISR size distribution', 'Partitions by the number of in-sync replicas.', [[`sum by (isr_size) (ballast_primary_partitions_by_isr_size{${CLUSTER}})`, 'ISR {{isr_size}}']], { unit: 'short', w: 8, stack: true }),
      series('Replication lag (entries)', 'Log entries a replica has not durably acknowledged, per primary node and replica. Alert: BallastReplicationLagHigh.', [[`max by (node, peer) (ballast_replication_lag_entries{${CLUSTER}})`, '{{node}} → {{peer}}']], { unit: 'short', w: 8 }),
      series('Replication in flight (bytes)', 'Log bytes sent to a replica and not yet acknowledged (bounded by the send window).', [[`max by (node, peer) (ballast_replication_lag_bytes{${CLUSTER}})`, '{{node}} → {{peer}}']], { unit: 'bytes', w: 8 }),
      series('Replication traffic', 'Bytes on peer links per second.', [[`sum by (node, direction) (rate(ballast_replication_bytes_total{${CLUSTER}}[${RATE}]))`, '{{node}} {{direction}}']], { unit: 'Bps', w: 8 }),
      series('Primary lease state', 'Partitions led, by whether they serve: no_lease means an in-sync replica stopped granting the lease (a failover may follow).', [[`sum by (state) (ballast_primary_partitions{${CLUSTER}})`, '{{state}}']], { unit: 'short', w: 8, stack: true }),
      series('Failovers', 'Partitions taken over after their primary failed. Alert: BallastFailoverStorm.', [[`sum by (node) (increase(ballast_failovers_total{${CLUSTER}}[${RATE}]))`, '{{node}}']], { unit: 'short', w: 8 }),
      series('Peer links down', 'Links from each node to other map nodes that are not connected.', [[`sum by (node) (1 - ballast_peer_connected{${CLUSTER}})`, '{{node}}']], { unit: 'short', w: 8 }),
    ],
  },
  {
    title: 'Baseline and rebalance',
    panels: [
      series('Members by state', 'Members as the operator sees them (ready, running, stopped).', [[`sum by (state) (ballast_operator_members{${CLUSTER}})`, '{{state}}']], { unit: 'short', w: 8, stack: true }),
      series('Baseline size', 'Nodes in the baseline, and the replicas the KVCluster asks for.', [
        [`max(ballast_operator_baseline_nodes{${CLUSTER}})`, 'baseline'],
        [`max(ballast_operator_replicas_desired{${CLUSTER}})`, 'desired replicas'],
      ], { unit: 'short', w: 8 }),
      series('Conditions', 'KVCluster status conditions (1: True).', [[`max by (type) (ballast_operator_condition{${CLUSTER}})`, '{{type}}']], { unit: 'bool', w: 8 }),
      series('Partitions moving', 'Partitions on their way to new replicas after a baseline change.', [[`max(ballast_cluster_partitions{${CLUSTER}, state="moving"})`, 'moving']], { unit: 'short', w: 8 }),
      series('Rebalance traffic', 'Bytes sent to new or returning replicas per second: snapshots and log. Alert: BallastRebalanceStalled.', [[`sum by (node, kind) (rate(ballast_rebalance_bytes_sent_total{${CLUSTER}}[${RATE}]))`, '{{node}} {{kind}}']], { unit: 'Bps', w: 8 }),
      series('Map updates', 'ClusterMap compare-and-swap writes by the nodes: applied, conflict (retried), rejected.', [[`sum by (result) (rate(ballast_cluster_map_updates_total{${CLUSTER}}[${RATE}]))`, '{{result}}']], { unit: 'ops', w: 8 }),
    ],
  },
  {
    title: 'Operator',
    panels: [
      series('Reconciles', 'Reconciles per second by result, one series per operator installation (Prometheus job); each covers every cluster its operator runs.', [[`sum by (job, result) (rate(ballast_operator_reconciles_total[${RATE}]))`, '{{job}} {{result}}']], { unit: 'ops', w: 8 }),
      series('Reconcile duration', 'p99 time of one reconcile, per operator installation (Prometheus job).', [[`histogram_quantile(0.99, sum by (job, le) (rate(ballast_operator_reconcile_duration_seconds_bucket[${RATE}])))`, '{{job}} p99']], { unit: 's', w: 8 }),
      series('Since the last reconcile', 'Time since the operator last completed a reconcile of the cluster. Alert: BallastOperatorNotReconciling.', [[`time() - max by (cluster) (ballast_operator_last_reconcile_timestamp_seconds{${CLUSTER}})`, '{{cluster}}']], { unit: 's', w: 8 }),
    ],
  },
  {
    title: 'Per node ($node)',
    panels: [
      series('Commands', 'Commands per second per node.', [[`sum by (node) (rate(ballast_commands_total{${NODE}}[${RATE}]))`, '{{node}}']], { unit: 'ops', w: 8 }),
      series('p99 latency', 'p99 command latency per node.', [[`histogram_quantile(0.99, sum by (le, node) (rate(ballast_command_duration_seconds_bucket{${NODE}}[${RATE}])))`, '{{node}}']], { unit: 's', w: 8 }),
      series('Keys', 'Keys stored per node (primary and backup copies).', [[`sum by (node) (ballast_keys{${NODE}})`, '{{node}}']], { unit: 'short', w: 8 }),
      series('Storage', 'LMDB bytes in use per node.', [[`sum by (node) (ballast_storage_bytes{${NODE}})`, '{{node}}']], { unit: 'bytes', w: 8 }),
      series('Memory', 'Resident memory per node process.', [[`sum by (node) (process_resident_memory_bytes{${NODE}})`, '{{node}}']], { unit: 'bytes', w: 8 }),
      series('CPU', 'CPU time per second per node process (1 = one core).', [[`sum by (node) (rate(process_cpu_seconds_total{${NODE}}[${RATE}]))`, '{{node}}']], { unit: 'percentunit', w: 8 }),
      series('Event loop lag', 'p99 event loop delay per node (a busy loop delays every reply).', [[`max by (node) (nodejs_eventloop_lag_p99_seconds{${NODE}})`, '{{node}}']], { unit: 's', w: 8 }),
      series('Pending writes', 'Writes applied in memory and not yet durable in LMDB.', [[`sum by (node) (ballast_pending_writes{${NODE}})`, '{{node}}']], { unit: 'short', w: 8 }),
      series('Map version', 'ClusterMap version each node holds (they converge within a watch round-trip).', [[`max by (node) (ballast_cluster_map_version{${NODE}})`, '{{node}}']], { unit: 'none', w: 8 }),
    ],
  },
];

function datasourceRef() {
  return { type: 'prometheus', uid: '${datasource}' };
}

function queryVariable(name, label, query, { multi = true, includeAll = true } = {}) {
  return {
    name,
    label,
    type: 'query',
    datasource: datasourceRef(),
    query: { query, refId: `${name}-variable` },
    definition: query,
    refresh: 2,
    sort: 1,
    multi,
    includeAll,
    allValue: '.*',
    current: {},
    options: [],
    hide: 0,
  };
}

function build() {
  const panels = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    panels.push({ type: 'row', id: id++, title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const { w, h, targets, ...panel } of row.panels) {
      if (x + w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      panels.push({
        id: id++,
        ...panel,
        datasource: datasourceRef(),
        gridPos: { h, w, x, y },
        targets: targets.map((target, index) => ({ datasource: datasourceRef(), refId: String.fromCharCode(65 + index), ...target, range: true })),
      });
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    y += rowHeight;
  }
  return {
    title: 'Ballast',
    uid: 'ballast-overview',
    description: 'Ballast KVClusters: health, throughput, latency, replication, baseline and rebalance, operator, per-node drill-down.',
    tags: ['ballast', 'redis', 'key-value'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    fiscalYearStartMonth: 0,
    liveNow: false,
    links: [],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '', options: [] },
        queryVariable('namespace', 'Namespace', 'label_values(ballast_cluster_map_version, namespace)'),
        queryVariable('cluster', 'Cluster', 'label_values(ballast_cluster_map_version{namespace=~"$namespace"}, cluster)'),
        queryVariable('node', 'Node', 'label_values(ballast_cluster_map_version{namespace=~"$namespace", cluster=~"$cluster"}, node)'),
      ],
    },
    panels,
  };
}

const text = `${JSON.stringify(build(), null, 2)}\n`;
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(OUTPUT, 'utf8');
  } catch {
    // missing: stale
  }
  if (current !== text) {
    console.error(`${OUTPUT} is stale: run node scripts/gen-dashboard.mjs`);
    process.exit(1);
  }
} else {
  writeFileSync(OUTPUT, text);
  console.log(`wrote ${OUTPUT}`);
}
