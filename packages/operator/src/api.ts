/**
 * The KVCluster API (group ballast.io, version v1alpha1): the single source of truth for the custom
 * resource. scripts/gen-crd.mjs generates the CRD's openAPIV3Schema from these types (their doc
 * comments become its descriptions) and the constants below; the local runtime (`ballast dev`)
 * reads the same objects from a file.
 *
 * `applyDefaults` fills every optional field; `validateSpec` lists every problem with the field's
 * path, so a user sees all mistakes at once (`spec.partitions: must be a power of two …`).
 */
import { BACKUPS_MAX, isValidPartitionCount, MAP_PARTITIONS_MAX, WRITE_SYNCHRONIZATIONS, type WriteSynchronization } from '@ballast/cluster';
import { parseDurationMs } from './duration.js';

export const API_GROUP = 'ballast.io';
export const API_VERSION = 'v1alpha1';
export const KIND = 'KVCluster';

export const DURABILITIES = ['sync', 'async'] as const;
export type Durability = (typeof DURABILITIES)[number];

/** Upper bound on members: far above what the ClusterMap and one operator are meant for. */
export const REPLICAS_MAX = 128;

/**
 * Longest KVCluster name: member pods (`<name>-<ordinal>`), their StatefulSet's revision-hash label
 * (`<name>-<10 characters>`, 63 at most) and Services (`<name>`, `<name>-nodes`) derive from it.
 */
export const NAME_LENGTH_MAX = 40;

/** Problems of a KVCluster name (a DNS-1035 label, at most NAME_LENGTH_MAX characters); [] when valid. */
export function validateName(name: unknown): string[] {
  if (typeof name !== 'string' || !/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    return [`metadata.name: must start with a lowercase letter and contain only lowercase letters, digits and '-' (not at the end), got ${JSON.stringify(name)}`];
  }
  return name.length > NAME_LENGTH_MAX ? [`metadata.name: must be at most ${NAME_LENGTH_MAX} characters, got ${name.length}`] : [];
}

export interface KVClusterSpec {
  /** Members (pods / local processes), named `<name>-0` … `<name>-(replicas-1)`. */
  replicas: number;
  /** Partitions, a power of two; fixed at creation. */
  partitions: number;
  /** Backups per partition (replicas per partition − 1). */
  backups: number;
  /** FULL_SYNC: a write is acknowledged once durable on every in-sync replica; PRIMARY_SYNC: on the primary only. */
  writeSynchronization: WriteSynchronization;
  /** sync: fsync before acknowledging; async: commit to LMDB, flush within milliseconds. */
  durability: Durability;
  /** How the baseline (the members that own data) follows the members that are up. */
  baseline: {
    autoAdjust: {
      /** Change the baseline by itself after members leave or join (default true). */
      enabled: boolean;
      /** Wait this long after the last join/leave before changing the baseline (default `5m`). */
      graceTimeout: string;
    };
  };
  /** Storage node image (Kubernetes; default: the operator's --node-image). A change rolls the members. */
  image?: string;
  /** Pull policy of the storage node image (Kubernetes). */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** CPU and memory requests and limits of each member (Kubernetes). A change rolls the members. */
  resources?: {
    requests?: Record<string, string>;
    limits?: Record<string, string>;
  };
  /** Each member's volume (Kubernetes): a PersistentVolumeClaim from the StatefulSet's template. */
  storage?: {
    /** Volume size, e.g. 10Gi. */
    size: string;
    /** StorageClass of the claims (default: the cluster's default class). */
    storageClassName?: string;
    /** Keep the claims when the KVCluster is deleted (default false: they are deleted with it). */
    retainOnDelete?: boolean;
  };
  /** Where members run (Kubernetes), passed to the pod template. */
  scheduling?: {
    nodeSelector?: Record<string, string>;
    tolerations?: Array<Record<string, unknown>>;
    affinity?: Record<string, unknown>;
    topologySpreadConstraints?: Array<Record<string, unknown>>;
    /** Node label whose value is a member's failure zone (backups go to other zones). */
    zoneLabel?: string;
  };
  /** Secret with the cluster token (key `token`); created by the operator when absent. */
  auth?: {
    /** Name of the Secret (default `<name>-token`). */
    secretName?: string;
  };
  /**
   * Prometheus Operator objects the operator keeps for this cluster (Kubernetes), owned by it and
   * deleted when their toggle is turned off. Each scrapes every member's admin port (`/metrics`)
   * and labels its series `cluster` (this object's name) and `node` (the pod); Prometheus adds
   * `namespace`. Turn on one of the two, not both (each member would be scraped twice). They need
   * the Prometheus Operator's CRDs: without them the cluster runs on and reports Degraded, reason
   * ActionFailed, naming the missing CRD. Alert rules are not made per cluster: the Helm chart
   * installs them once per installation, and they cover every cluster by its `cluster` label.
   */
  monitoring?: {
    /** A ServiceMonitor `<name>` on the headless Service `<name>-nodes`, port `admin`. */
    serviceMonitor?: boolean;
    /** A PodMonitor `<name>` selecting the member pods, port `admin`. */
    podMonitor?: boolean;
  };
}

export type ConditionType = 'Available' | 'Progressing' | 'Degraded' | 'Rebalancing' | 'BaselinePending';
export const CONDITION_TYPES: readonly ConditionType[] = ['Available', 'Progressing', 'Degraded', 'Rebalancing', 'BaselinePending'];

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  /** CamelCase reason, stable for alerts and tooling. */
  reason: string;
  message: string;
  /** RFC 3339; changes only when `status` changes. */
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface PendingBaselineChange {
  /** Why: `MembersLeft`, `MembersJoined`, or both. */
  reason: string;
  /** RFC 3339: when the newest join/leave event was seen (each event restarts the timer). */
  since: string;
  /** RFC 3339: when the baseline will be set to `nodes`. */
  deadline: string;
  /** The baseline that will be set. */
  nodes: string[];
}

export interface KVClusterStatus {
  /** The metadata.generation this status describes. */
  observedGeneration: number;
  conditions: Condition[];
  baseline: {
    /** The members that own data. */
    nodes: string[];
    /** A baseline change waiting for its grace timeout (null: none). */
    pending: PendingBaselineChange | null;
    /** For `kubectl get`: the baseline size, and the pending change with its deadline (`3`, `3→2 at 12:05:00Z`). */
    summary: string;
  };
  partitions: {
    total: number;
    /** Partitions with fewer in-sync replicas than placed replicas. */
    underReplicated: number;
    /** Partitions with no in-sync replica online. */
    lost: number;
  };
  /** Progress of the current rebalance (null: nothing moving). */
  rebalance: { inProgress: boolean; partitionsTotal: number; partitionsDone: number; bytesMoved: number; bytesRemaining: number } | null;
  /** For `kubectl get`: `12/64` while partitions move, `-` otherwise. */
  rebalanceProgress: string;
  /** Desired members that are online. */
  readyReplicas: number;
  /** For `kubectl get`: online of desired members (`3/3`). */
  ready: string;
  clusterState: 'INACTIVE' | 'ACTIVE' | 'ACTIVE_READ_ONLY' | 'Unknown';
}

export interface KVCluster {
  apiVersion: `${typeof API_GROUP}/${typeof API_VERSION}`;
  kind: typeof KIND;
  metadata: { name: string; namespace?: string; generation?: number; uid?: string; [key: string]: unknown };
  spec: KVClusterSpec;
  status?: KVClusterStatus;
}

/** What a user may leave out: everything but replicas has a default. */
export type KVClusterSpecInput = Partial<Omit<KVClusterSpec, 'baseline'>> & {
  baseline?: { autoAdjust?: Partial<KVClusterSpec['baseline']['autoAdjust']> };
};

export const SPEC_DEFAULTS = {
  replicas: 3,
  partitions: 256,
  backups: 1,
  writeSynchronization: 'FULL_SYNC' as WriteSynchronization,
  durability: 'sync' as Durability,
  graceTimeout: '5m',
} as const;

/** The spec with every default filled in (the input is not changed). */
export function applyDefaults(input: KVClusterSpecInput): KVClusterSpec {
  const autoAdjust = input.baseline?.autoAdjust ?? {};
  const spec: KVClusterSpec = {
    ...input,
    replicas: input.replicas ?? SPEC_DEFAULTS.replicas,
    partitions: input.partitions ?? SPEC_DEFAULTS.partitions,
    backups: input.backups ?? SPEC_DEFAULTS.backups,
    writeSynchronization: input.writeSynchronization ?? SPEC_DEFAULTS.writeSynchronization,
    durability: input.durability ?? SPEC_DEFAULTS.durability,
    baseline: {
      autoAdjust: {
        enabled: autoAdjust.enabled ?? true,
        graceTimeout: autoAdjust.graceTimeout ?? SPEC_DEFAULTS.graceTimeout,
      },
    },
  };
  return spec;
}

/** Every problem of a (defaulted) spec, each naming its field; [] when valid. */
export function validateSpec(spec: KVClusterSpec, previous?: KVClusterSpec): string[] {
  const errors: string[] = [];
  const integer = (value: unknown, field: string, min: number, max: number): void => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      errors.push(`spec.${field}: must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
  };
  integer(spec.replicas, 'replicas', 1, REPLICAS_MAX);
  if (typeof spec.partitions !== 'number' || !isValidPartitionCount(spec.partitions) || spec.partitions > MAP_PARTITIONS_MAX) {
    errors.push(`spec.partitions: must be a power of two from 1 to ${MAP_PARTITIONS_MAX} (e.g. 256), got ${JSON.stringify(spec.partitions)}`);
  }
  integer(spec.backups, 'backups', 0, BACKUPS_MAX);
  if (!WRITE_SYNCHRONIZATIONS.includes(spec.writeSynchronization)) {
    errors.push(`spec.writeSynchronization: must be one of ${WRITE_SYNCHRONIZATIONS.join(', ')}, got ${JSON.stringify(spec.writeSynchronization)}`);
  }
  if (!DURABILITIES.includes(spec.durability)) {
    errors.push(`spec.durability: must be one of ${DURABILITIES.join(', ')}, got ${JSON.stringify(spec.durability)}`);
  }
  const autoAdjust = spec.baseline?.autoAdjust;
  if (typeof autoAdjust?.enabled !== 'boolean') errors.push(`spec.baseline.autoAdjust.enabled: must be true or false, got ${JSON.stringify(autoAdjust?.enabled)}`);
  const graceMs = parseDurationMs(autoAdjust?.graceTimeout as string);
  if (graceMs === null) {
    errors.push(`spec.baseline.autoAdjust.graceTimeout: must be a duration such as 30s, 5m or 1h30m, got ${JSON.stringify(autoAdjust?.graceTimeout)}`);
  }
  if (spec.imagePullPolicy !== undefined && !['Always', 'IfNotPresent', 'Never'].includes(spec.imagePullPolicy)) {
    errors.push(`spec.imagePullPolicy: must be Always, IfNotPresent or Never, got ${JSON.stringify(spec.imagePullPolicy)}`);
  }
  if (previous !== undefined && previous.partitions !== spec.partitions) {
    errors.push(`spec.partitions: is immutable (it is ${previous.partitions}); create a new cluster to change it`);
  }
  return errors;
}

/** Grace timeout of a valid spec, in milliseconds. */
export function graceTimeoutMs(spec: KVClusterSpec): number {
  const ms = parseDurationMs(spec.baseline.autoAdjust.graceTimeout);
  if (ms === null) throw new Error(`invalid graceTimeout ${spec.baseline.autoAdjust.graceTimeout} (validate the spec first)`);
  return ms;
}

/** Member names: `<cluster>-0` … `<cluster>-(n-1)`, like StatefulSet pods; also the node ids. */
export function memberName(cluster: string, index: number): string {
  return `${cluster}-${index}`;
}

/** The ordinal of a member name of this cluster, or null. */
export function memberIndex(cluster: string, name: string): number | null {
  const prefix = `${cluster}-`;
  if (!name.startsWith(prefix)) return null;
  const rest = name.slice(prefix.length);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : null;
}
