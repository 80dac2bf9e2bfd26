// Fixtures for unit tests of the replication core on a one-partition map.
import type { ClusterMap, LocalLog, PartitionAssignment } from '../../src/index.js';

export const emptyLog: LocalLog = {
  lastSeq: () => 0,
  lastTerm: () => 0,
  durableSeq: () => 0,
  epochs: () => [],
  read: () => [],
};

const address = { host: 'h', port: 1, peerPort: 2, adminPort: 3 };

/**
 * An ACTIVE FULL_SYNC map of one partition at `version`, whose baseline is `nodes` (default: the
 * assignment's replicas); `rebalanceVersion`: the version of the baseline change in progress.
 */
export function onePartitionMap(version: number, assignment: PartitionAssignment, options: { nodes?: string[]; rebalanceVersion?: number } = {}): ClusterMap {
  const nodes = options.nodes ?? assignment.replicas;
  return {
    formatVersion: 1,
    clusterId: 'c',
    version,
    state: 'ACTIVE',
    autoActivatePending: false,
    partitionCount: 1,
    backups: 1,
    writeSynchronization: 'FULL_SYNC',
    baseline: [...nodes],
    nodes: Object.fromEntries(nodes.map((node) => [node, address])),
    history: [],
    partitions: [assignment],
    ...(options.rebalanceVersion === undefined ? {} : { rebalance: { startedAtMs: 0, version: options.rebalanceVersion, partitionsTotal: 1 } }),
  };
}
