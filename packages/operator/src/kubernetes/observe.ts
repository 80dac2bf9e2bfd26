/**
 * What the Kubernetes runtime observes, turned into the reconcile core's `Observed` — purely, from
 * objects the API server holds: the member pods, the ClusterMap (the `<name>-map` ConfigMap) and
 * the nodes' presence Leases. The operator needs no node's admin API to see the cluster's state;
 * it calls one only to act (activate, set the baseline) and, optionally, for rebalance byte counts.
 */
import { parseMap, type ClusterMap } from '@ballast/cluster';
import type { ObservedCluster, ObservedMember } from '../decide.js';
import { CONFIG_HASH_ANNOTATION } from './objects.js';

/** The parts of a Pod the runtime reads. */
export interface PodView {
  metadata?: { name?: string; annotations?: Record<string, string>; deletionTimestamp?: Date | string; creationTimestamp?: Date | string };
  status?: { phase?: string; startTime?: Date | string };
}

/** A registration from a presence Lease (see @ballast/cluster-store's kubernetes backend). */
export interface OnlineNode {
  nodeId: string;
  address: { host: string; adminPort: number };
}

/** A member that started this recently and is not online yet is on its way back, not gone. */
export const STARTING_GRACE_MS = 60_000;

export function observeMembers(pods: readonly PodView[], online: ReadonlySet<string>, nowMs: number): ObservedMember[] {
  return pods
    .filter((pod) => pod.metadata?.name !== undefined)
    .map((pod) => {
      const name = pod.metadata!.name!;
      const running = pod.metadata?.deletionTimestamp === undefined && pod.status?.phase !== 'Failed' && pod.status?.phase !== 'Succeeded';
      // A pod never started (unschedulable, say) counts from its creation: it is not "starting" forever.
      const since = pod.status?.startTime ?? pod.metadata?.creationTimestamp;
      const startedMs = since === undefined ? nowMs : new Date(since).getTime();
      return {
        name,
        running,
        online: online.has(name),
        configHash: pod.metadata?.annotations?.[CONFIG_HASH_ANNOTATION] ?? '',
        starting: running && !online.has(name) && nowMs - startedMs < STARTING_GRACE_MS,
      };
    });
}

/** The ClusterMap stored in the ConfigMap's `map.json`, or null (none yet, or unreadable). */
export function mapFromConfigMap(data: Record<string, string> | undefined): ClusterMap | null {
  const text = data?.['map.json'];
  if (text === undefined) return null;
  try {
    return parseMap(JSON.parse(text));
  } catch {
    return null;
  }
}

/** The cluster as decide() sees it; null before any node created the map. */
export function observeCluster(map: ClusterMap | null, online: readonly string[], rebalanceBytes: { bytesMoved: number; bytesRemaining: number } | null): ObservedCluster | null {
  if (map === null) return null;
  const partitions = map.partitions;
  const moving = partitions.filter((assignment) => assignment.target !== undefined).length;
  const total = Math.max(map.rebalance?.partitionsTotal ?? 0, moving);
  return {
    state: map.state,
    autoActivatePending: map.autoActivatePending ?? false,
    activated: partitions.length > 0,
    baseline: [...map.baseline],
    onlineNodes: [...online].sort(),
    partitions: {
      total: partitions.length,
      underReplicated: partitions.filter((assignment) => !assignment.lost && assignment.isr.length < assignment.replicas.length).length,
      lost: partitions.filter((assignment) => assignment.lost).length,
    },
    rebalance:
      moving === 0
        ? null
        : { inProgress: true, partitionsTotal: total, partitionsDone: total - moving, bytesMoved: rebalanceBytes?.bytesMoved ?? 0, bytesRemaining: rebalanceBytes?.bytesRemaining ?? 0 },
  };
}
