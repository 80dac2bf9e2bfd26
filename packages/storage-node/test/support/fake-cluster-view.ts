/**
 * A ClusterView for tests, built from a hand-written ClusterMap: this node's id, which nodes are
 * online, and routing by the map alone (routeByMap, the same decision the real view starts from).
 * The map and presence can be changed mid-test, as a watch on the real map would.
 */
import { createHash } from 'node:crypto';
import type { ClusterMap, ClusterState, NodeAddress, PartitionAssignment } from '@ballast/cluster';
import type { Access, ClusterView, Route } from '../../src/cluster/cluster-view.js';
import { routeByMap } from '../../src/cluster/routing.js';

/** A stable 40-hex-character Redis node id for a Ballast node id. */
export function fakeRedisId(nodeId: string): string {
  return createHash('sha1').update(nodeId).digest('hex');
}

export class FakeClusterView implements ClusterView {
  readonly redisNodeId: string;
  readonly address: NodeAddress;
  private currentMap: ClusterMap | null;
  private readonly offline = new Set<string>();

  constructor(
    readonly nodeId: string,
    map: ClusterMap | null,
    options: { offline?: Iterable<string>; address?: NodeAddress } = {},
  ) {
    this.currentMap = map;
    this.redisNodeId = fakeRedisId(nodeId);
    this.address = options.address ?? map?.nodes[nodeId] ?? { host: '127.0.0.1', port: 0, peerPort: 0, adminPort: 0 };
    for (const id of options.offline ?? []) this.offline.add(id);
  }

  map(): ClusterMap | null {
    return this.currentMap;
  }

  setMap(map: ClusterMap | null): void {
    this.currentMap = map;
  }

  isOnline(nodeId: string): boolean {
    return !this.offline.has(nodeId);
  }

  setOnline(nodeId: string, online: boolean): void {
    if (online) this.offline.delete(nodeId);
    else this.offline.add(nodeId);
  }

  redisIdOf(nodeId: string): string {
    return fakeRedisId(nodeId);
  }

  route(slot: number, access: Access, readonlyConnection: boolean): Route {
    return routeByMap(this.currentMap, this.nodeId, slot, access, readonlyConnection);
  }

  /** No replication in a fake view: no replica ever acknowledges. */
  acknowledgements(partition: number): { acknowledged: number; required: number } {
    const replicas = this.currentMap?.partitions[partition]?.replicas ?? [];
    return { acknowledged: 0, required: replicas.filter((node) => node !== this.nodeId).length };
  }
}

export interface MapOptions {
  /** Node id → address; the baseline is every node listed. */
  nodes: Record<string, NodeAddress>;
  partitionCount: number;
  backups: number;
  state?: ClusterState;
  version?: number;
  /** The assignment of one partition (default: roundRobin over the sorted node ids). */
  assign?: (partition: number, nodeIds: readonly string[]) => PartitionAssignment;
}

/**
 * Partition p: replicas are `backups + 1` consecutive nodes starting at p mod N, all in sync, the
 * first is primary.
 */
export function roundRobin(backups: number): (partition: number, nodeIds: readonly string[]) => PartitionAssignment {
  return (partition, nodeIds) => {
    const replicas: string[] = [];
    for (let i = 0; i <= backups && i < nodeIds.length; i++) replicas.push(nodeIds[(partition + i) % nodeIds.length]!);
    return { replicas, isr: [...replicas], primary: replicas[0]!, term: 1, lost: false };
  };
}

/** A valid active map (invariants of cluster-map.ts hold if `assign` keeps them). */
export function buildMap(options: MapOptions): ClusterMap {
  const nodeIds = Object.keys(options.nodes).sort();
  const assign = options.assign ?? roundRobin(options.backups);
  return {
    formatVersion: 1,
    clusterId: 'test-cluster',
    version: options.version ?? 7,
    state: options.state ?? 'ACTIVE',
    autoActivatePending: false,
    partitionCount: options.partitionCount,
    backups: options.backups,
    writeSynchronization: 'FULL_SYNC',
    baseline: nodeIds,
    nodes: { ...options.nodes },
    history: [],
    partitions: Array.from({ length: options.partitionCount }, (_, partition) => assign(partition, nodeIds)),
  };
}

/** A copy of `map` with one partition's assignment changed (and the version bumped). */
export function withPartition(map: ClusterMap, partition: number, change: Partial<PartitionAssignment>): ClusterMap {
  const partitions = map.partitions.map((assignment, index) =>
    index === partition ? { ...assignment, ...change } : { ...assignment },
  );
  return { ...map, version: map.version + 1, partitions };
}

export function localAddress(port: number): NodeAddress {
  return { host: '127.0.0.1', port, peerPort: port + 10000, adminPort: 0 };
}
