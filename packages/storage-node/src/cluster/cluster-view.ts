/**
 * What the Redis-protocol layer needs to know about the cluster: the current ClusterMap, this node's
 * identity, and how to treat a command on a slot. The replication layer implements it; tests use
 * FakeClusterView. A standalone node has no ClusterView (cluster commands answer as Redis does with
 * cluster support disabled).
 */
import type { ClusterMap, NodeAddress } from '@ballast/cluster';

export type Access = 'read' | 'write';

export type Route =
  /** Serve here. */
  | { readonly kind: 'local'; readonly partition: number }
  /** Another node serves this slot: reply `-MOVED <slot> <host>:<port>`. */
  | { readonly kind: 'moved'; readonly host: string; readonly port: number }
  /** The slot cannot be served now; `message` follows the error code (CLUSTERDOWN, TRYAGAIN, READONLY). */
  | { readonly kind: 'error'; readonly code: 'CLUSTERDOWN' | 'TRYAGAIN' | 'READONLY'; readonly message: string };

export interface ClusterView {
  /** This node's id (as in the ClusterMap). */
  readonly nodeId: string;
  /** The 40-hex-character id Redis clients see (CLUSTER MYID, NODES, SLOTS, SHARDS). */
  readonly redisNodeId: string;
  /** This node's own address (used before it appears in the map). */
  readonly address: NodeAddress;
  /** The newest map this node has seen, or null before it has read one. */
  map(): ClusterMap | null;
  /** Whether a node currently holds a live presence registration in the store. */
  isOnline(nodeId: string): boolean;
  /** The Redis-facing 40-hex id of any node id. */
  redisIdOf(nodeId: string): string;
  /**
   * How this node treats a command on `slot`. `readonlyConnection` is the READONLY flag of the
   * client connection (reads may then be served by a backup).
   */
  route(slot: number, access: Access, readonlyConnection: boolean): Route;
  /**
   * WAIT / WAITALL: how many replicas of `partition` other than its primary hold `seq` durably, and
   * how many such replicas the partition has. Disconnected replicas count as not acknowledged.
   */
  acknowledgements(partition: number, seq: number): { acknowledged: number; required: number };
}
