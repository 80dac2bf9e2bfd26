/**
 * The ClusterMap: the one versioned document that describes a cluster (DESIGN.md, Coordination).
 * Every change is a compare-and-swap from version N to N+1 on a linearizable store; the functions
 * in transitions.ts compute version N+1 from version N and refuse invalid changes.
 *
 * Invariants (checked by validateMap):
 * - partitions.length === partitionCount once the cluster was ever activated, else 0.
 * - for every partition: primary ∈ isr (when primary is set), isr ⊆ replicas, replicas ⊆ known nodes,
 *   no duplicates, term ≥ 1 once assigned; a move's target ⊆ replicas, non-empty, duplicate-free.
 * - baseline is sorted and duplicate-free; history[i].hash chains from history[i-1].hash.
 */

export type ClusterState = 'INACTIVE' | 'ACTIVE' | 'ACTIVE_READ_ONLY';
export type WriteSynchronization = 'FULL_SYNC' | 'PRIMARY_SYNC';

export const CLUSTER_STATES: readonly ClusterState[] = ['INACTIVE', 'ACTIVE', 'ACTIVE_READ_ONLY'];
export const WRITE_SYNCHRONIZATIONS: readonly WriteSynchronization[] = ['FULL_SYNC', 'PRIMARY_SYNC'];

/** Where a node can be reached. `zone` (optional) drives zone-aware backup placement. */
export interface NodeAddress {
  /** Host clients and peers use (a stable DNS name on Kubernetes). */
  host: string;
  /** Redis protocol port. */
  port: number;
  /** Peer (replication) port. */
  peerPort: number;
  /** Admin HTTP port. */
  adminPort: number;
  zone?: string;
}

export interface PartitionAssignment {
  /** Nodes that should hold the partition, in rendezvous order (the first is the preferred primary). */
  replicas: string[];
  /** In-sync replicas: every committed write of the partition is on each of them. */
  isr: string[];
  /** The node serving reads and writes, or null while none can. */
  primary: string | null;
  /** Incremented at every change of primary; messages from older terms are rejected. */
  term: number;
  /** No in-sync replica is available: the partition's commands fail until one returns or it is reset. */
  lost: boolean;
  /**
   * Set while the partition moves (a baseline change): the replicas it should end with, in
   * rendezvous order. `replicas` then holds the target plus old ISR members that still serve as
   * sources; new target members catch up as learners, enter the ISR, and the primary (handing off
   * first when it is not in the target) completes the move: replicas = isr = target.
   */
  target?: string[];
}

/** The last baseline change that moved data (for progress reports). */
export interface RebalanceRecord {
  /** Wall-clock time (ms since the epoch) the baseline change was stored. */
  startedAtMs: number;
  /** Map version of that change. */
  version: number;
  /** Partitions that had to move at that change. */
  partitionsTotal: number;
}

/** Cluster-wide limits on data movement, adjustable at runtime (absent: each node's flags). */
export interface RebalanceLimits {
  /** Snapshot bytes per second each node may send (0: unlimited). */
  bytesPerSecond: number;
  /** Snapshots each node may send at once. */
  concurrentMoves: number;
}

/** One activation in the cluster's history: a link of the sha256 hash chain. */
export interface ActivationRecord {
  /** sha256(previous hash ‖ sorted baseline ids ‖ map version), hex. */
  hash: string;
  baseline: string[];
  version: number;
}

export interface ClusterMap {
  formatVersion: 1;
  clusterId: string;
  /** The CAS version: every stored change goes from version N to N + 1. */
  version: number;
  state: ClusterState;
  /**
   * Set when every baseline node was found offline (a full restart): the cluster stays INACTIVE
   * and activates itself once every baseline node is back.
   */
  autoActivatePending: boolean;
  partitionCount: number;
  backups: number;
  writeSynchronization: WriteSynchronization;
  /** Node ids that own data, sorted. */
  baseline: string[];
  /** Addresses of baseline nodes (and of nodes that were). */
  nodes: Record<string, NodeAddress>;
  /** Activation hash chain, oldest first. */
  history: ActivationRecord[];
  /** Index = partition id. Empty until the first activation. */
  partitions: PartitionAssignment[];
  /** The last baseline change that moved data; absent before the first one. */
  rebalance?: RebalanceRecord;
  rebalanceLimits?: RebalanceLimits;
}

/** A change the map refuses, with a stable code (converted to HTTP 409/400 or a log line). */
export class MapTransitionError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'MapTransitionError';
  }
}

/** Largest partition count one map may hold (keeps the document well under Kubernetes' 1 MiB). */
export const MAP_PARTITIONS_MAX = 4096;
export const BACKUPS_MAX = 5;
