/**
 * Cluster-mode Prometheus metrics of a storage node: the replicas it holds and the primaries it
 * leads, replication lag and peer links, takeovers, the map it holds and the cluster as that map
 * shows it. Everything is read at scrape time from one ClusterFigures snapshot per scrape (hot paths
 * only bump plain counters). Every series with a fixed set of label values is exported from the
 * first scrape, at 0, so dashboards have data before anything happens; label values are bounded
 * (roles, states, ISR sizes up to the replica count, peers = nodes of the map).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export const PARTITION_ROLES = ['primary', 'backup', 'learner'] as const;
export type PartitionRole = (typeof PARTITION_ROLES)[number];

/**
 * What a primary's partition can do now (ReplicationCore.canServe for a write): serving, or why
 * not. `inactive`: the cluster is INACTIVE (deactivated, or a full restart waiting for the baseline).
 */
export const PRIMARY_STATES = ['serving', 'read_only', 'no_lease', 'catching_up', 'handing_off', 'inactive'] as const;
export type PrimaryState = (typeof PRIMARY_STATES)[number];

/** As GET /v1/cluster's `partitions` (ClusterNode.partitionCounts). */
export const CLUSTER_PARTITION_STATES = ['total', 'under_replicated', 'lost', 'moving', 'without_online_primary'] as const;
export type ClusterPartitionState = (typeof CLUSTER_PARTITION_STATES)[number];

export interface PeerFigures {
  peer: string;
  /** The peer link to it is up. */
  connected: boolean;
  /** Summed over the partitions this node leads that it replicates (0 when none). */
  lagEntries: number;
  lagBytes: number;
}

/** A snapshot of this node's cluster membership (ClusterNode.clusterFigures). */
export interface ClusterFigures {
  mapVersion: number;
  /** The map's backups setting (ISR sizes 1..backups+1 are exported from the start). */
  backups: number;
  partitionsByRole: Record<PartitionRole, number>;
  primariesByState: Record<PrimaryState, number>;
  /** Partitions this node leads, by the size of their ISR in the map. */
  primariesByIsrSize: ReadonlyMap<number, number>;
  /** Every other node of the map, and any other node that replicates a partition this node leads. */
  peers: PeerFigures[];
  partitions: Record<ClusterPartitionState, number>;
  nodes: { baseline: number; online: number };
  /** Totals since this process started. */
  failovers: number;
  handoffsReceived: number;
  mapUpdates: { applied: number; conflict: number; rejected: number };
  peerBytes: { sent: number; received: number };
}

type Series = Array<[labels: Record<string, string>, value: number]>;

export function registerClusterMetrics(registry: Registry, read: () => ClusterFigures | null): void {
  const figures = oncePerTurn(read);
  const metric = (kind: 'gauge' | 'counter', name: string, help: string, labelNames: string[], series: (figures: ClusterFigures | null) => Series): void => {
    const options = { name, help, labelNames, registers: [registry] };
    if (kind === 'counter') {
      new Counter({
        ...options,
        collect() {
          this.reset();
          for (const [labels, value] of series(figures())) this.inc(labels, value);
        },
      });
    } else {
      new Gauge({
        ...options,
        collect() {
          this.reset();
          for (const [labels, value] of series(figures())) this.set(labels, value);
        },
      });
    }
  };
  /** One series per label value, all of them present (0 until figures are there). */
  const byLabel =
    <L extends string>(label: string, values: readonly L[], pick: (figures: ClusterFigures) => Record<L, number>) =>
    (current: ClusterFigures | null): Series =>
      values.map((value) => [{ [label]: value }, current === null ? 0 : pick(current)[value]]);
  const single =
    (pick: (figures: ClusterFigures) => number) =>
    (current: ClusterFigures | null): Series => [[{}, current === null ? 0 : pick(current)]];
  const byPeer =
    (pick: (peer: PeerFigures) => number) =>
    (current: ClusterFigures | null): Series =>
      (current?.peers ?? []).map((peer) => [{ peer: peer.peer }, pick(peer)]);

  metric(
    'gauge',
    'ballast_partitions',
    'Partitions of the current map this node holds a replica of, by role: primary (the map names it primary), backup (in the ISR, not primary), learner (a replica or move target outside the ISR, catching up)',
    ['role'],
    byLabel('role', PARTITION_ROLES, (f) => f.partitionsByRole),
  );
  metric(
    'gauge',
    'ballast_primary_partitions',
    'Partitions this node leads, by whether it can serve writes now: serving; read_only (cluster ACTIVE_READ_ONLY); no_lease (an ISR member did not grant a lease beacon in time); catching_up (a new primary waiting for its log to commit); handing_off (a graceful handoff in progress); inactive (cluster INACTIVE)',
    ['state'],
    byLabel('state', PRIMARY_STATES, (f) => f.primariesByState),
  );
  metric(
    'gauge',
    'ballast_primary_partitions_by_isr_size',
    'Partitions this node leads, by the size of their ISR in the map (summed over nodes: the cluster\'s ISR-size distribution; sizes 1..backups+1 always present)',
    ['isr_size'],
    (current) => {
      const sizes = new Map<number, number>();
      for (let size = 1; size <= (current?.backups ?? 0) + 1; size++) sizes.set(size, 0);
      for (const [size, count] of current?.primariesByIsrSize ?? []) sizes.set(size, count);
      return [...sizes].sort(([a], [b]) => a - b).map(([size, count]) => [{ isr_size: String(size) }, count]);
    },
  );
  metric(
    'gauge',
    'ballast_replication_lag_entries',
    'Log entries the peer lacks durably, summed over the partitions this node leads that the peer replicates: local last seq minus the seq the peer acknowledged as durable (0 for peers that replicate none)',
    ['peer'],
    byPeer((peer) => peer.lagEntries),
  );
  metric(
    'gauge',
    'ballast_replication_lag_bytes',
    'Bytes of log entries sent to the peer and not yet acknowledged, summed over the partitions this node leads (bounded by the send window: about 8 MiB per partition by default; snapshots not included)',
    ['peer'],
    byPeer((peer) => peer.lagBytes),
  );
  metric(
    'gauge',
    'ballast_peer_connected',
    '1 when the peer link (replication connection) to this node of the map is up, else 0',
    ['peer'],
    byPeer((peer) => (peer.connected ? 1 : 0)),
  );
  metric(
    'counter',
    'ballast_failovers_total',
    'Partitions this node took over as primary from another node that stopped answering (a promotion it won by compare-and-swap); graceful handoffs, activation and restoring lost partitions are not counted',
    [],
    single((f) => f.failovers),
  );
  metric(
    'counter',
    'ballast_handoffs_total',
    'Partitions this node took over as primary by a graceful handoff from the previous primary (rolling restarts, moves, preferred-primary rebalancing)',
    [],
    single((f) => f.handoffsReceived),
  );
  metric('gauge', 'ballast_cluster_map_version', 'Version of the cluster map this node holds', [], single((f) => f.mapVersion));
  metric(
    'counter',
    'ballast_cluster_map_updates_total',
    'Cluster map changes this node proposed by compare-and-swap, by result: applied (stored), conflict (the map changed first; retried), rejected (a replication proposal the map\'s rules refused)',
    ['result'],
    byLabel('result', ['applied', 'conflict', 'rejected'] as const, (f) => f.mapUpdates),
  );
  metric(
    'gauge',
    'ballast_cluster_partitions',
    'Partitions of the cluster as this node\'s map shows them: total; under_replicated (fewer in-sync replicas than replicas, not lost); lost (no in-sync replica available); moving (a baseline change moves them); without_online_primary (their primary is offline)',
    ['state'],
    byLabel('state', CLUSTER_PARTITION_STATES, (f) => f.partitions),
  );
  metric(
    'gauge',
    'ballast_cluster_nodes',
    'Nodes of the cluster as this node sees them: baseline (nodes that own data, from the map), online (nodes with a live presence registration, this one included)',
    ['state'],
    byLabel('state', ['baseline', 'online'] as const, (f) => f.nodes),
  );
  metric(
    'counter',
    'ballast_replication_bytes_total',
    'Bytes on peer links, by direction: encoded message frames (log entries, snapshots, acknowledgements, lease beacons), without WebSocket and TCP overhead',
    ['direction'],
    byLabel('direction', ['sent', 'received'] as const, (f) => f.peerBytes),
  );
}

/**
 * `compute` at most once per event-loop turn: the metrics of one scrape (collected in one turn)
 * share one snapshot, so they agree with each other.
 */
function oncePerTurn<T>(compute: () => T): () => T {
  let cached: { value: T } | null = null;
  return () => {
    if (cached === null) {
      cached = { value: compute() };
      setImmediate(() => (cached = null));
    }
    return cached.value;
  };
}
