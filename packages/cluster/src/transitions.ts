/**
 * ClusterMap transitions: each computes version N + 1 from version N, or refuses with a
 * MapTransitionError whose `code` is stable. The store layer does the compare-and-swap; these
 * functions only decide.
 *
 * Rules every transition follows:
 * - The input is never mutated; a successful change returns a deep copy with `version + 1`.
 * - A call that would change nothing returns the input object itself (no version bump), so a caller
 *   can skip the CAS with `next === map`. registerNode with the same address, setState to the
 *   current state, markLost of a lost partition, markFullRestart when already pending and an empty
 *   shrinkIsr do this.
 * - Inputs are assumed valid maps (validateMap / parseMap at the edge); every successful transition
 *   of a valid map yields a valid map.
 */
import {
  BACKUPS_MAX,
  CLUSTER_STATES,
  MAP_PARTITIONS_MAX,
  MapTransitionError,
  WRITE_SYNCHRONIZATIONS,
  type ActivationRecord,
  type ClusterMap,
  type ClusterState,
  type NodeAddress,
  type PartitionAssignment,
  type RebalanceLimits,
  type WriteSynchronization,
} from './cluster-map.js';
import { assignAll, assignPartition } from './assignment.js';
import { appendActivation, firstBrokenLink } from './history.js';
import { isValidPartitionCount } from './slots.js';

/** Every code a transition, validateMap or parseMap can throw. */
export const MAP_ERROR_CODES = [
  'INVALID_CLUSTER_ID',
  'INVALID_NODE_ID',
  'INVALID_ADDRESS',
  'ALREADY_ACTIVE',
  'NO_ONLINE_NODES',
  'INVALID_PARTITION_COUNT',
  'INVALID_BACKUPS',
  'INVALID_WRITE_SYNCHRONIZATION',
  'PARTITIONS_IMMUTABLE',
  'OPTIONS_CONFLICT',
  'BASELINE_INCOMPLETE',
  'INVALID_STATE',
  'USE_ACTIVATE',
  'NOT_ACTIVE',
  'UNKNOWN_PARTITION',
  'PARTITION_LOST',
  'STALE_TERM',
  'NOT_IN_SYNC',
  'NOT_PRIMARY',
  'CANNOT_REMOVE_PRIMARY',
  'NOT_IN_ISR',
  'NOT_A_REPLICA',
  'ALREADY_IN_ISR',
  'NOT_LOST',
  'INVALID_BASELINE',
  'NO_SURVIVING_COPY',
  'NO_MOVE',
  'NOT_IN_TARGET',
  'INVALID_LIMITS',
  'INVALID_MAP',
] as const;
export type MapErrorCode = (typeof MAP_ERROR_CODES)[number];

/**
 * Node ids: 1–63 characters (a DNS label, like a StatefulSet pod's hostname) of letters, digits and
 * `.`, `_`, `:`, `-`, starting with a letter or digit. The bound keeps a 4096-partition map small;
 * excluding `,` and newlines keeps the activation hash input unambiguous; requiring a leading
 * letter or digit rules out `__proto__`.
 */
export const NODE_ID_LENGTH_MAX = 63;
const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/;
/** Cluster ids follow Kubernetes object names (at most 253 characters). */
export const CLUSTER_ID_LENGTH_MAX = 253;
/** Hostnames are at most 253 characters (RFC 1035). */
export const HOST_LENGTH_MAX = 253;
/** Zones are Kubernetes topology label values (at most 63 characters). */
export const ZONE_LENGTH_MAX = 63;
/** parseMap's message lists at most this many violations (validateMap returns them all). */
const PARSE_ERRORS_LISTED_MAX = 10;

export function isValidNodeId(nodeId: unknown): nodeId is string {
  return typeof nodeId === 'string' && NODE_ID_PATTERN.test(nodeId);
}

/** Why an address is unusable, or null when it is fine. */
export function addressProblem(address: unknown): string | null {
  if (typeof address !== 'object' || address === null || Array.isArray(address)) return 'must be an object';
  const record = address as Record<string, unknown>;
  const host = record['host'];
  if (typeof host !== 'string' || host.length === 0 || host.length > HOST_LENGTH_MAX) {
    return `host must be a non-empty string of at most ${HOST_LENGTH_MAX} characters`;
  }
  for (const field of ['port', 'peerPort', 'adminPort'] as const) {
    const port = record[field];
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      return `${field} must be an integer in 1..65535, got ${JSON.stringify(port)}`;
    }
  }
  const zone = record['zone'];
  if (zone !== undefined && (typeof zone !== 'string' || zone.length > ZONE_LENGTH_MAX)) {
    return `zone must be a string of at most ${ZONE_LENGTH_MAX} characters`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Creation and nodes

/** A new, never-activated map at version 0. */
export function createMap(clusterId: string): ClusterMap {
  if (typeof clusterId !== 'string' || clusterId.length === 0 || clusterId.length > CLUSTER_ID_LENGTH_MAX) {
    throw new MapTransitionError(
      'INVALID_CLUSTER_ID',
      `cluster id must be a non-empty string of at most ${CLUSTER_ID_LENGTH_MAX} characters, got ${JSON.stringify(clusterId)}`,
    );
  }
  return {
    formatVersion: 1,
    clusterId,
    version: 0,
    state: 'INACTIVE',
    autoActivatePending: false,
    partitionCount: 0,
    backups: 0,
    writeSynchronization: 'FULL_SYNC',
    baseline: [],
    nodes: {},
    history: [],
    partitions: [],
  };
}

/** Records (or updates) where a node can be reached. Returns `map` itself when nothing changes. */
export function registerNode(map: ClusterMap, nodeId: string, address: NodeAddress): ClusterMap {
  checkNodeId(nodeId);
  checkAddress(nodeId, address);
  const current = Object.hasOwn(map.nodes, nodeId) ? map.nodes[nodeId] : undefined;
  if (current !== undefined && sameAddress(current, address)) return map;
  const next = bump(map);
  next.nodes[nodeId] = copyAddress(address);
  return next;
}

// ---------------------------------------------------------------------------------------------
// Activation and cluster state

export interface ActivateOptions {
  /** The nodes online now, with their addresses. The first activation makes them the baseline. */
  onlineNodes: Record<string, NodeAddress>;
  /** Required at the first activation; afterwards absent or equal to the map's (it never changes). */
  partitionCount?: number;
  /** Required at the first activation; afterwards absent or equal to the map's. */
  backups?: number;
  /** Required at the first activation; afterwards absent or equal to the map's. */
  writeSynchronization?: WriteSynchronization;
}

/**
 * Activates an INACTIVE map.
 *
 * First activation (no partitions yet): the online nodes become the baseline and the only known
 * nodes, and every partition is placed by rendezvous hashing (zones from the addresses): replicas =
 * isr = the placement, primary = its first node, term 1. When there are fewer online nodes than
 * backups + 1, partitions get as many replicas as there are nodes.
 *
 * Re-activation (after setState INACTIVE or a full restart): every baseline node must be online;
 * the partitions, their terms and ISRs stay as they were; online baseline nodes' addresses are
 * refreshed. Options must be absent or equal to the map's values.
 *
 * Both append an activation record for the new version and clear autoActivatePending.
 */
export function activate(map: ClusterMap, options: ActivateOptions): ClusterMap {
  if (map.state !== 'INACTIVE') {
    throw new MapTransitionError('ALREADY_ACTIVE', `cluster ${map.clusterId} is already ${map.state}`);
  }
  const onlineIds = Object.keys(options.onlineNodes).sort();
  for (const nodeId of onlineIds) {
    checkNodeId(nodeId);
    checkAddress(nodeId, options.onlineNodes[nodeId]);
  }
  return map.partitions.length === 0
    ? firstActivation(map, options, onlineIds)
    : reactivation(map, options, onlineIds);
}

function firstActivation(map: ClusterMap, options: ActivateOptions, onlineIds: string[]): ClusterMap {
  const { partitionCount, backups, writeSynchronization } = options;
  if (partitionCount === undefined || !isValidPartitionCount(partitionCount) || partitionCount > MAP_PARTITIONS_MAX) {
    throw new MapTransitionError(
      'INVALID_PARTITION_COUNT',
      `the first activation needs partitionCount, a power of two in 1..${MAP_PARTITIONS_MAX}; got ${JSON.stringify(partitionCount)}`,
    );
  }
  if (backups === undefined || !Number.isInteger(backups) || backups < 0 || backups > BACKUPS_MAX) {
    throw new MapTransitionError(
      'INVALID_BACKUPS',
      `the first activation needs backups, an integer in 0..${BACKUPS_MAX}; got ${JSON.stringify(backups)}`,
    );
  }
  if (writeSynchronization === undefined || !WRITE_SYNCHRONIZATIONS.includes(writeSynchronization)) {
    throw new MapTransitionError(
      'INVALID_WRITE_SYNCHRONIZATION',
      `the first activation needs writeSynchronization, one of ${WRITE_SYNCHRONIZATIONS.join(', ')}; got ${JSON.stringify(writeSynchronization)}`,
    );
  }
  if (onlineIds.length === 0) {
    throw new MapTransitionError('NO_ONLINE_NODES', `cannot activate cluster ${map.clusterId}: no node is online`);
  }
  const next = bump(map);
  const nodes: Record<string, NodeAddress> = {};
  for (const nodeId of onlineIds) nodes[nodeId] = copyAddress(options.onlineNodes[nodeId]!);
  const placement = assignAll(
    partitionCount,
    onlineIds.map((id) => ({ id, zone: nodes[id]!.zone ?? '' })),
    backups,
  );
  next.partitionCount = partitionCount;
  next.backups = backups;
  next.writeSynchronization = writeSynchronization;
  next.baseline = onlineIds;
  next.nodes = nodes;
  next.partitions = placement.map((replicas) => ({
    replicas,
    isr: [...replicas],
    primary: replicas[0]!,
    term: 1,
    lost: false,
  }));
  return finishActivation(next);
}

function reactivation(map: ClusterMap, options: ActivateOptions, onlineIds: string[]): ClusterMap {
  if (options.partitionCount !== undefined && options.partitionCount !== map.partitionCount) {
    throw new MapTransitionError(
      'PARTITIONS_IMMUTABLE',
      `cluster ${map.clusterId} has ${map.partitionCount} partitions; the partition count is fixed at creation and cannot become ${options.partitionCount}`,
    );
  }
  if (options.backups !== undefined && options.backups !== map.backups) {
    throw new MapTransitionError(
      'OPTIONS_CONFLICT',
      `cluster ${map.clusterId} has backups ${map.backups}; re-activation cannot change it to ${options.backups}`,
    );
  }
  if (options.writeSynchronization !== undefined && options.writeSynchronization !== map.writeSynchronization) {
    throw new MapTransitionError(
      'OPTIONS_CONFLICT',
      `cluster ${map.clusterId} has writeSynchronization ${map.writeSynchronization}; re-activation cannot change it to ${options.writeSynchronization}`,
    );
  }
  const online = new Set(onlineIds);
  const missing = map.baseline.filter((nodeId) => !online.has(nodeId));
  if (missing.length > 0) {
    throw new MapTransitionError(
      'BASELINE_INCOMPLETE',
      `cannot activate cluster ${map.clusterId}: baseline nodes offline: ${missing.join(', ')}`,
    );
  }
  const next = bump(map);
  for (const nodeId of map.baseline) next.nodes[nodeId] = copyAddress(options.onlineNodes[nodeId]!);
  return finishActivation(next);
}

function finishActivation(next: ClusterMap): ClusterMap {
  next.state = 'ACTIVE';
  next.autoActivatePending = false;
  next.history = appendActivation(next.history, next.baseline, next.version);
  return next;
}

/**
 * ACTIVE ⇄ ACTIVE_READ_ONLY, and either → INACTIVE (an explicit deactivation, which also cancels a
 * pending auto-activation). INACTIVE → ACTIVE or ACTIVE_READ_ONLY goes through `activate`, which
 * checks the baseline. Returns `map` itself when the state (and pending flag) would not change.
 */
export function setState(map: ClusterMap, state: ClusterState): ClusterMap {
  if (!CLUSTER_STATES.includes(state)) {
    throw new MapTransitionError(
      'INVALID_STATE',
      `state must be one of ${CLUSTER_STATES.join(', ')}, got ${JSON.stringify(state)}`,
    );
  }
  if (state === map.state && !(state === 'INACTIVE' && map.autoActivatePending)) return map;
  if (map.state === 'INACTIVE' && state !== 'INACTIVE') {
    const reason =
      map.partitions.length === 0 ? 'it was never activated' : 'activation must check that the baseline is complete';
    throw new MapTransitionError(
      'USE_ACTIVATE',
      `cluster ${map.clusterId} is INACTIVE; use activate to make it ${state} (${reason})`,
    );
  }
  const next = bump(map);
  next.state = state;
  next.autoActivatePending = false;
  return next;
}

/**
 * Every baseline node was found offline: the cluster goes INACTIVE and activates itself once every
 * baseline node is back (autoActivatePending). Returns `map` itself when it is already pending.
 */
export function markFullRestart(map: ClusterMap): ClusterMap {
  if (map.state === 'INACTIVE') {
    if (map.autoActivatePending) return map;
    throw new MapTransitionError(
      'NOT_ACTIVE',
      `cluster ${map.clusterId} is INACTIVE without a pending auto-activation; a full restart applies only to an active cluster`,
    );
  }
  const next = bump(map);
  next.state = 'INACTIVE';
  next.autoActivatePending = true;
  return next;
}

// ---------------------------------------------------------------------------------------------
// Partitions: failover and ISR

/**
 * Makes `candidate` (an ISR member) the primary of a partition that is not lost; `expectedTerm`
 * must be the partition's current term (the CAS guard against two concurrent failovers). The old
 * primary leaves the ISR when it is not the candidate: it may hold writes the others never
 * acknowledged and must catch up before rejoining. Term + 1. Promoting the current primary only
 * starts a new term. Allowed in every cluster state: failover must not wait for an admin.
 */
export function promote(map: ClusterMap, partition: number, candidate: string, expectedTerm: number): ClusterMap {
  const assignment = partitionOf(map, partition);
  if (assignment.lost) {
    throw new MapTransitionError(
      'PARTITION_LOST',
      `partition ${partition} is lost; use restoreLost with a member of its last ISR (${assignment.isr.join(', ')})`,
    );
  }
  checkTerm(partition, assignment, expectedTerm);
  if (!assignment.isr.includes(candidate)) {
    throw new MapTransitionError(
      'NOT_IN_SYNC',
      `node ${candidate} is not in the ISR of partition ${partition} (${assignment.isr.join(', ')}) and cannot become its primary`,
    );
  }
  const next = bump(map);
  const updated = next.partitions[partition]!;
  const oldPrimary = updated.primary;
  updated.primary = candidate;
  if (oldPrimary !== null && oldPrimary !== candidate) updated.isr = updated.isr.filter((id) => id !== oldPrimary);
  updated.term += 1;
  return next;
}

/**
 * A graceful handoff: the primary `from` stopped serving at `expectedTerm` with everything committed
 * and durable on `candidate` (an ISR member), which takes over at term + 1. Unlike promote, the
 * old primary stays in the ISR: it holds nothing the others lack.
 */
export function handOver(map: ClusterMap, partition: number, from: string, candidate: string, expectedTerm: number): ClusterMap {
  const assignment = partitionOf(map, partition);
  checkCaller(partition, assignment, from, expectedTerm);
  if (!assignment.isr.includes(candidate)) {
    throw new MapTransitionError(
      'NOT_IN_SYNC',
      `node ${candidate} is not in the ISR of partition ${partition} (${assignment.isr.join(', ')}) and cannot take it over`,
    );
  }
  if (candidate === from) throw new MapTransitionError('NOT_IN_SYNC', `node ${from} cannot hand partition ${partition} to itself`);
  const next = bump(map);
  const updated = next.partitions[partition]!;
  updated.primary = candidate;
  updated.term += 1;
  return next;
}

/**
 * The primary drops ISR members it can no longer reach, before acknowledging more writes.
 * Returns `map` itself when `removed` is empty.
 */
export function shrinkIsr(
  map: ClusterMap,
  partition: number,
  primary: string,
  term: number,
  removed: readonly string[],
): ClusterMap {
  const assignment = partitionOf(map, partition);
  checkCaller(partition, assignment, primary, term);
  if (removed.length === 0) return map;
  for (const nodeId of removed) {
    if (nodeId === primary) {
      throw new MapTransitionError(
        'CANNOT_REMOVE_PRIMARY',
        `primary ${primary} cannot remove itself from the ISR of partition ${partition}`,
      );
    }
    if (!assignment.isr.includes(nodeId)) {
      throw new MapTransitionError(
        'NOT_IN_ISR',
        `node ${nodeId} is not in the ISR of partition ${partition} (${assignment.isr.join(', ')})`,
      );
    }
  }
  const next = bump(map);
  const gone = new Set(removed);
  const updated = next.partitions[partition]!;
  updated.isr = updated.isr.filter((id) => !gone.has(id));
  return next;
}

/** The primary re-admits a replica that has caught up. The ISR keeps the replicas' order. */
export function expandIsr(
  map: ClusterMap,
  partition: number,
  primary: string,
  term: number,
  added: string,
): ClusterMap {
  const assignment = partitionOf(map, partition);
  checkCaller(partition, assignment, primary, term);
  if (!assignment.replicas.includes(added)) {
    throw new MapTransitionError(
      'NOT_A_REPLICA',
      `node ${added} is not a replica of partition ${partition} (${assignment.replicas.join(', ')})`,
    );
  }
  if (assignment.isr.includes(added)) {
    throw new MapTransitionError('ALREADY_IN_ISR', `node ${added} is already in the ISR of partition ${partition}`);
  }
  const next = bump(map);
  const updated = next.partitions[partition]!;
  const members = new Set([...updated.isr, added]);
  updated.isr = updated.replicas.filter((id) => members.has(id));
  return next;
}

/**
 * No ISR member is available: the partition has no primary and its commands fail. The ISR is kept
 * as the last in-sync set, so that a returning member can restore the partition without losing
 * acknowledged writes. The term is unchanged (restoreLost bumps it). Returns `map` itself when the
 * partition is already lost.
 */
export function markLost(map: ClusterMap, partition: number): ClusterMap {
  const assignment = partitionOf(map, partition);
  if (assignment.lost) return map;
  const next = bump(map);
  const updated = next.partitions[partition]!;
  updated.primary = null;
  updated.lost = true;
  return next;
}

/**
 * A member of a lost partition's last ISR is back: it becomes the primary and the only ISR member
 * (the others catch up from it). Term + 1.
 */
export function restoreLost(map: ClusterMap, partition: number, candidate: string): ClusterMap {
  const assignment = partitionOf(map, partition);
  if (!assignment.lost) {
    throw new MapTransitionError(
      'NOT_LOST',
      `partition ${partition} is not lost (primary ${assignment.primary}); use promote to change its primary`,
    );
  }
  if (!assignment.isr.includes(candidate)) {
    throw new MapTransitionError(
      'NOT_IN_SYNC',
      `node ${candidate} is not in the last ISR of lost partition ${partition} (${assignment.isr.join(', ')}); restoring from it could lose acknowledged writes`,
    );
  }
  const next = bump(map);
  const updated = next.partitions[partition]!;
  updated.primary = candidate;
  updated.isr = [candidate];
  updated.lost = false;
  updated.term += 1;
  return next;
}

// ---------------------------------------------------------------------------------------------
// Baseline changes and partition moves

export interface SetBaselineOptions {
  /** The new baseline (any order; stored sorted). */
  baseline: readonly string[];
  /** Addresses of nodes the map does not know yet (or new addresses of known ones). */
  addresses?: Record<string, NodeAddress>;
  /**
   * Nodes leaving the baseline that are online and keep serving as sources until their partitions
   * moved (a drain). Removed nodes not listed here are offline: their copies do not count.
   */
  draining?: readonly string[];
  /** Wall-clock time of the change (recorded in `rebalance.startedAtMs`). */
  nowMs: number;
}

/**
 * Changes the baseline of an active cluster and starts moving partitions toward the rendezvous
 * placement over it. For every partition the target is `assignPartition(new baseline)`; its
 * replicas become the target plus the ISR members outside it (sources until the move completes);
 * old non-ISR replicas outside the target are dropped. A partition whose target equals its ISR does
 * not move (its replica order is refreshed). Each change appends to the activation history.
 *
 * Refused (NO_SURVIVING_COPY) when some partition would keep no ISR member in the new baseline or
 * among the draining nodes: its only in-sync copies would be on nodes leaving while offline. A
 * moving partition gets a new target (retargeting), never a stale one. Returns `map` itself when the
 * baseline and every placement are unchanged.
 */
export function setBaseline(map: ClusterMap, options: SetBaselineOptions): ClusterMap {
  if (map.partitions.length === 0 || map.state === 'INACTIVE') {
    throw new MapTransitionError('NOT_ACTIVE', `cluster ${map.clusterId} is ${map.state}; the baseline changes only while it is active`);
  }
  const baseline = [...new Set(options.baseline)].sort();
  if (baseline.length === 0) throw new MapTransitionError('INVALID_BASELINE', 'the baseline cannot be empty');
  if (baseline.length !== options.baseline.length) {
    throw new MapTransitionError('INVALID_BASELINE', `the baseline lists a node twice: ${options.baseline.join(', ')}`);
  }
  const addresses = options.addresses ?? {};
  for (const [nodeId, address] of Object.entries(addresses)) {
    checkNodeId(nodeId);
    checkAddress(nodeId, address);
  }
  const addressOf = (nodeId: string): NodeAddress | undefined =>
    Object.hasOwn(addresses, nodeId) ? addresses[nodeId] : Object.hasOwn(map.nodes, nodeId) ? map.nodes[nodeId] : undefined;
  for (const nodeId of baseline) {
    checkNodeId(nodeId);
    if (addressOf(nodeId) === undefined) {
      throw new MapTransitionError('INVALID_BASELINE', `node ${nodeId} has never registered: start it before adding it to the baseline`);
    }
  }
  const keeps = new Set([...baseline, ...(options.draining ?? [])]);
  const orphaned = map.partitions.flatMap((assignment, partition) => (assignment.isr.some((node) => keeps.has(node)) ? [] : [partition]));
  if (orphaned.length > 0) {
    const shown = orphaned.slice(0, 8).join(', ') + (orphaned.length > 8 ? ` and ${orphaned.length - 8} more` : '');
    throw new MapTransitionError(
      'NO_SURVIVING_COPY',
      `this baseline would leave partitions ${shown} with no in-sync copy: their in-sync replicas are all offline and leaving the baseline. Bring one back, or reset the lost partitions first (accepting their loss)`,
    );
  }
  const placementNodes = baseline.map((id) => ({ id, zone: addressOf(id)!.zone ?? '' }));
  const replicaCount = map.backups + 1;
  const planned = map.partitions.map((assignment, partition) => {
    const target = assignPartition(partition, placementNodes, replicaCount);
    const isr = new Set(assignment.isr);
    const replicas = [...target, ...assignment.isr.filter((node) => !target.includes(node))];
    const settled = target.length === assignment.isr.length && target.every((node) => isr.has(node));
    return { target, replicas, settled };
  });
  const sameBaseline = baseline.length === map.baseline.length && baseline.every((id, i) => id === map.baseline[i]);
  const unchanged = planned.every(({ target, replicas, settled }, partition) => {
    const assignment = map.partitions[partition]!;
    const current = assignment.target ?? (settled ? assignment.replicas : null);
    return current !== null && sameList(current, target) && sameList(assignment.replicas, replicas);
  });
  if (sameBaseline && unchanged && Object.keys(addresses).every((id) => map.nodes[id] !== undefined && sameAddress(map.nodes[id]!, addresses[id]!))) {
    return map;
  }
  const next = bump(map);
  for (const [nodeId, address] of Object.entries(addresses)) next.nodes[nodeId] = copyAddress(address);
  next.baseline = baseline;
  let moving = 0;
  planned.forEach(({ target, replicas, settled }, partition) => {
    const updated = next.partitions[partition]!;
    const isr = new Set(updated.isr);
    if (settled) {
      updated.replicas = target;
      updated.isr = target.filter((node) => isr.has(node));
      delete updated.target;
      return;
    }
    moving++;
    updated.replicas = replicas;
    updated.isr = replicas.filter((node) => isr.has(node));
    updated.target = target;
  });
  if (moving > 0) next.rebalance = { startedAtMs: options.nowMs, version: next.version, partitionsTotal: moving };
  next.history = appendActivation(next.history, next.baseline, next.version);
  return next;
}

/**
 * The primary of a moving partition finishes the move: every target member is in the ISR and the
 * primary is one of them (it hands off first otherwise). Replicas and ISR become the target; the
 * nodes that drop out delete their copies when they see this version.
 */
export function completeMove(map: ClusterMap, partition: number, primary: string, term: number): ClusterMap {
  const assignment = partitionOf(map, partition);
  checkCaller(partition, assignment, primary, term);
  const target = assignment.target;
  if (target === undefined) throw new MapTransitionError('NO_MOVE', `partition ${partition} is not moving`);
  if (!target.includes(primary)) {
    throw new MapTransitionError('NOT_IN_TARGET', `primary ${primary} of partition ${partition} is not in its target (${target.join(', ')}): hand off first`);
  }
  const missing = target.filter((node) => !assignment.isr.includes(node));
  if (missing.length > 0) {
    throw new MapTransitionError('NOT_IN_SYNC', `target members ${missing.join(', ')} of partition ${partition} are not in its ISR yet`);
  }
  const next = bump(map);
  const updated = next.partitions[partition]!;
  updated.replicas = [...target];
  updated.isr = [...target];
  delete updated.target;
  return next;
}

/**
 * Accepts the loss of lost partitions (all of them, or `partitions`): each gets a primary again,
 * chosen among online nodes — a member of its last ISR when one is online (nothing is lost then),
 * else an online replica or target member, else any online baseline node — as the only ISR member,
 * term + 1. Writes acknowledged only by the missing ISR members are gone. Returns `map` itself when
 * no listed partition is lost.
 */
export function resetLost(map: ClusterMap, online: readonly string[], partitions?: readonly number[]): ClusterMap {
  const onlineSet = new Set(online);
  const chosen = (partitions ?? map.partitions.map((_, index) => index)).filter((partition) => partitionOf(map, partition).lost);
  if (chosen.length === 0) return map;
  const next = bump(map);
  for (const partition of chosen) {
    const updated = next.partitions[partition]!;
    const candidates = [...updated.isr, ...(updated.target ?? []), ...updated.replicas, ...next.baseline];
    const candidate = candidates.find((node) => onlineSet.has(node));
    if (candidate === undefined) {
      throw new MapTransitionError('NO_ONLINE_NODES', `lost partition ${partition} cannot be reset: none of its replicas or baseline nodes is online`);
    }
    // A candidate outside a moving partition's target serves until the target members caught up
    // from it, then hands off (as any primary outside its target does).
    if (!updated.replicas.includes(candidate)) updated.replicas.push(candidate);
    updated.primary = candidate;
    updated.isr = [candidate];
    updated.lost = false;
    updated.term += 1;
  }
  return next;
}

export const REBALANCE_CONCURRENCY_MAX = 64;

/** Sets the cluster-wide rebalance limits. Returns `map` itself when they are unchanged. */
export function setRebalanceLimits(map: ClusterMap, limits: RebalanceLimits): ClusterMap {
  const problem = rebalanceLimitsProblem(limits);
  if (problem !== null) throw new MapTransitionError('INVALID_LIMITS', problem);
  const current = map.rebalanceLimits;
  if (current !== undefined && current.bytesPerSecond === limits.bytesPerSecond && current.concurrentMoves === limits.concurrentMoves) return map;
  const next = bump(map);
  next.rebalanceLimits = { bytesPerSecond: limits.bytesPerSecond, concurrentMoves: limits.concurrentMoves };
  return next;
}

export function rebalanceLimitsProblem(limits: unknown): string | null {
  if (!isPlainObject(limits)) return 'rebalance limits must be an object { bytesPerSecond, concurrentMoves }';
  const { bytesPerSecond, concurrentMoves } = limits;
  if (typeof bytesPerSecond !== 'number' || !Number.isSafeInteger(bytesPerSecond) || bytesPerSecond < 0) {
    return `bytesPerSecond must be an integer ≥ 0 (0: unlimited), got ${JSON.stringify(bytesPerSecond)}`;
  }
  if (typeof concurrentMoves !== 'number' || !Number.isInteger(concurrentMoves) || concurrentMoves < 1 || concurrentMoves > REBALANCE_CONCURRENCY_MAX) {
    return `concurrentMoves must be an integer in 1..${REBALANCE_CONCURRENCY_MAX}, got ${JSON.stringify(concurrentMoves)}`;
  }
  return null;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

// ---------------------------------------------------------------------------------------------
// Validation and parsing

/**
 * Every invariant the map violates, each naming the node or partition; [] when valid. Beyond the
 * list in cluster-map.ts it checks what the transitions guarantee: field domains (state, write
 * synchronization, backups ≤ BACKUPS_MAX, partitionCount ≤ MAP_PARTITIONS_MAX), node ids and
 * addresses, baseline nodes have addresses, a never-activated map (empty history) is INACTIVE and
 * empty, ACTIVE* or autoActivatePending only after an activation and pending only while INACTIVE,
 * no history record newer than the map, replicas and ISR non-empty, and a partition is lost exactly
 * when it has no primary.
 */
export function validateMap(map: ClusterMap): string[] {
  const errors: string[] = [];
  if (map.formatVersion !== 1) errors.push(`formatVersion must be 1, got ${JSON.stringify(map.formatVersion)}`);
  if (typeof map.clusterId !== 'string' || map.clusterId.length === 0 || map.clusterId.length > CLUSTER_ID_LENGTH_MAX) {
    errors.push(`clusterId must be a non-empty string of at most ${CLUSTER_ID_LENGTH_MAX} characters`);
  }
  if (!Number.isSafeInteger(map.version) || map.version < 0) {
    errors.push(`version must be a non-negative integer, got ${map.version}`);
  }
  if (!CLUSTER_STATES.includes(map.state)) errors.push(`state ${JSON.stringify(map.state)} is not a cluster state`);
  if (!WRITE_SYNCHRONIZATIONS.includes(map.writeSynchronization)) {
    errors.push(
      `writeSynchronization ${JSON.stringify(map.writeSynchronization)} is not one of ${WRITE_SYNCHRONIZATIONS.join(', ')}`,
    );
  }
  if (!Number.isInteger(map.backups) || map.backups < 0 || map.backups > BACKUPS_MAX) {
    errors.push(`backups must be an integer in 0..${BACKUPS_MAX}, got ${map.backups}`);
  }

  // Nodes and their addresses.
  for (const [nodeId, address] of Object.entries(map.nodes)) {
    if (!isValidNodeId(nodeId)) errors.push(`node id ${JSON.stringify(nodeId)} is invalid`);
    const problem = addressProblem(address);
    if (problem !== null) errors.push(`node ${nodeId}: address ${problem}`);
  }
  const known = (nodeId: string): boolean => Object.hasOwn(map.nodes, nodeId);

  // Baseline.
  for (let i = 0; i < map.baseline.length; i++) {
    const nodeId = map.baseline[i]!;
    if (i > 0 && !(map.baseline[i - 1]! < nodeId)) {
      errors.push(`baseline is not sorted and duplicate-free at ${JSON.stringify(nodeId)}`);
    }
    if (!known(nodeId)) errors.push(`baseline node ${nodeId} has no address in nodes`);
  }

  // Activation history.
  const broken = firstBrokenLink(map.history);
  if (broken >= 0) {
    const version = map.history[broken]!.version;
    errors.push(`history[${broken}] (version ${version}) does not chain from the record before it`);
  }
  const lastActivation = map.history.at(-1);
  if (lastActivation !== undefined && lastActivation.version > map.version) {
    errors.push(
      `history records an activation at version ${lastActivation.version}, after the map's version ${map.version}`,
    );
  }

  // Activation state and partition count.
  const activated = map.history.length > 0;
  if (!activated) {
    if (map.state !== 'INACTIVE') {
      errors.push(`state is ${map.state} but the cluster was never activated (empty history)`);
    }
    if (map.partitionCount !== 0) {
      errors.push(`partitionCount must be 0 before the first activation, got ${map.partitionCount}`);
    }
    if (map.partitions.length !== 0) {
      errors.push(`partitions must be empty before the first activation, got ${map.partitions.length}`);
    }
    if (map.baseline.length !== 0) errors.push('baseline must be empty before the first activation');
    if (map.autoActivatePending) errors.push('autoActivatePending is set but the cluster was never activated');
  } else {
    if (!isValidPartitionCount(map.partitionCount) || map.partitionCount > MAP_PARTITIONS_MAX) {
      errors.push(`partitionCount must be a power of two in 1..${MAP_PARTITIONS_MAX}, got ${map.partitionCount}`);
    }
    if (map.partitions.length !== map.partitionCount) {
      errors.push(`partitions has ${map.partitions.length} entries but partitionCount is ${map.partitionCount}`);
    }
    if (map.baseline.length === 0) errors.push('baseline is empty but the cluster was activated');
    if (map.autoActivatePending && map.state !== 'INACTIVE') {
      errors.push(`autoActivatePending is set but the state is ${map.state}`);
    }
  }

  // Partitions.
  map.partitions.forEach((assignment, partition) => {
    const where = `partition ${partition}`;
    if (assignment.replicas.length === 0) errors.push(`${where}: replicas is empty`);
    const replicas = new Set<string>();
    for (const nodeId of assignment.replicas) {
      if (replicas.has(nodeId)) errors.push(`${where}: replica ${nodeId} is listed twice`);
      replicas.add(nodeId);
      if (!known(nodeId)) errors.push(`${where}: replica ${nodeId} is not a known node`);
    }
    if (assignment.isr.length === 0) errors.push(`${where}: isr is empty`);
    const isr = new Set<string>();
    for (const nodeId of assignment.isr) {
      if (isr.has(nodeId)) errors.push(`${where}: ISR member ${nodeId} is listed twice`);
      isr.add(nodeId);
      if (!replicas.has(nodeId)) errors.push(`${where}: ISR member ${nodeId} is not a replica`);
    }
    if (assignment.primary !== null && !isr.has(assignment.primary)) {
      errors.push(`${where}: primary ${assignment.primary} is not in the ISR`);
    }
    if (assignment.lost && assignment.primary !== null) {
      errors.push(`${where}: is lost but has primary ${assignment.primary}`);
    }
    if (!assignment.lost && assignment.primary === null) errors.push(`${where}: has no primary but is not marked lost`);
    if (!Number.isSafeInteger(assignment.term) || assignment.term < 1) {
      errors.push(`${where}: term must be an integer ≥ 1, got ${assignment.term}`);
    }
    if (assignment.target !== undefined) {
      if (assignment.target.length === 0) errors.push(`${where}: target is empty`);
      if (new Set(assignment.target).size !== assignment.target.length) errors.push(`${where}: target lists a node twice`);
      for (const nodeId of assignment.target) if (!replicas.has(nodeId)) errors.push(`${where}: target member ${nodeId} is not a replica`);
    }
  });
  if (map.rebalanceLimits !== undefined) {
    const problem = rebalanceLimitsProblem(map.rebalanceLimits);
    if (problem !== null) errors.push(problem);
  }
  if (map.rebalance !== undefined) {
    const { startedAtMs, version, partitionsTotal } = map.rebalance;
    if (![startedAtMs, version, partitionsTotal].every((value) => Number.isSafeInteger(value) && value >= 0)) {
      errors.push('rebalance must be { startedAtMs, version, partitionsTotal }, non-negative integers');
    }
  }
  return errors;
}

/**
 * A ClusterMap from untrusted JSON (the store's document, an HTTP body): checks the shape, then
 * every invariant, and returns a clean deep copy without unknown fields. Throws
 * MapTransitionError('INVALID_MAP') listing what is wrong.
 */
export function parseMap(json: unknown): ClusterMap {
  const shapeErrors: string[] = [];
  const map = readMap(json, shapeErrors);
  const errors = map === null ? shapeErrors : validateMap(map);
  if (errors.length > 0) {
    const listed = errors.slice(0, PARSE_ERRORS_LISTED_MAX).join('; ');
    const unlisted = errors.length - PARSE_ERRORS_LISTED_MAX;
    const more = unlisted > 0 ? ` (and ${unlisted} more)` : '';
    throw new MapTransitionError('INVALID_MAP', `invalid ClusterMap: ${listed}${more}`);
  }
  return map!;
}

function readMap(json: unknown, errors: string[]): ClusterMap | null {
  if (!isPlainObject(json)) {
    errors.push('the document must be a JSON object');
    return null;
  }
  const start = errors.length;
  const field = (name: string): unknown => (Object.hasOwn(json, name) ? json[name] : undefined);
  const formatVersion = field('formatVersion');
  if (formatVersion !== 1) errors.push(`formatVersion must be 1, got ${JSON.stringify(formatVersion)}`);
  const clusterId = field('clusterId');
  if (typeof clusterId !== 'string') errors.push('clusterId must be a string');
  const version = field('version');
  if (typeof version !== 'number') errors.push('version must be a number');
  const state = field('state');
  if (typeof state !== 'string' || !CLUSTER_STATES.includes(state as ClusterState)) {
    errors.push(`state must be one of ${CLUSTER_STATES.join(', ')}`);
  }
  const autoActivatePending = field('autoActivatePending');
  if (typeof autoActivatePending !== 'boolean') errors.push('autoActivatePending must be a boolean');
  const partitionCount = field('partitionCount');
  if (typeof partitionCount !== 'number') errors.push('partitionCount must be a number');
  const backups = field('backups');
  if (typeof backups !== 'number') errors.push('backups must be a number');
  const writeSynchronization = field('writeSynchronization');
  if (
    typeof writeSynchronization !== 'string' ||
    !WRITE_SYNCHRONIZATIONS.includes(writeSynchronization as WriteSynchronization)
  ) {
    errors.push(`writeSynchronization must be one of ${WRITE_SYNCHRONIZATIONS.join(', ')}`);
  }
  const baseline = field('baseline');
  if (!isStringArray(baseline)) errors.push('baseline must be an array of strings');

  const nodesJson = field('nodes');
  const nodes: Record<string, NodeAddress> = {};
  if (!isPlainObject(nodesJson)) {
    errors.push('nodes must be an object');
  } else {
    for (const [nodeId, address] of Object.entries(nodesJson)) {
      // Checked before the assignment below: `nodes["__proto__"] = …` would replace the prototype.
      if (!isValidNodeId(nodeId)) {
        errors.push(`nodes: node id ${JSON.stringify(nodeId)} is invalid`);
        continue;
      }
      const problem = addressProblem(address);
      if (problem !== null) errors.push(`nodes[${JSON.stringify(nodeId)}]: ${problem}`);
      else nodes[nodeId] = copyAddress(address as NodeAddress);
    }
  }

  const historyJson = field('history');
  const history: ActivationRecord[] = [];
  if (!Array.isArray(historyJson)) {
    errors.push('history must be an array');
  } else {
    historyJson.forEach((record: unknown, index) => {
      if (
        isPlainObject(record) &&
        typeof record['hash'] === 'string' &&
        isStringArray(record['baseline']) &&
        typeof record['version'] === 'number'
      ) {
        history.push({ hash: record['hash'], baseline: [...record['baseline']], version: record['version'] });
      } else {
        errors.push(`history[${index}] must be { hash: string, baseline: string[], version: number }`);
      }
    });
  }

  const partitionsJson = field('partitions');
  const partitions: PartitionAssignment[] = [];
  if (!Array.isArray(partitionsJson)) {
    errors.push('partitions must be an array');
  } else if (partitionsJson.length > MAP_PARTITIONS_MAX) {
    errors.push(`partitions has ${partitionsJson.length} entries, more than ${MAP_PARTITIONS_MAX}`);
  } else {
    partitionsJson.forEach((assignment: unknown, index) => {
      if (
        isPlainObject(assignment) &&
        isStringArray(assignment['replicas']) &&
        isStringArray(assignment['isr']) &&
        (assignment['primary'] === null || typeof assignment['primary'] === 'string') &&
        typeof assignment['term'] === 'number' &&
        typeof assignment['lost'] === 'boolean' &&
        (assignment['target'] === undefined || isStringArray(assignment['target']))
      ) {
        const parsed: PartitionAssignment = {
          replicas: [...assignment['replicas']],
          isr: [...assignment['isr']],
          primary: assignment['primary'],
          term: assignment['term'],
          lost: assignment['lost'],
        };
        if (assignment['target'] !== undefined) parsed.target = [...(assignment['target'] as string[])];
        partitions.push(parsed);
      } else {
        errors.push(
          `partitions[${index}] must be { replicas: string[], isr: string[], primary: string | null, term: number, lost: boolean, target?: string[] }`,
        );
      }
    });
  }
  const rebalanceJson = field('rebalance');
  if (rebalanceJson !== undefined && !(isPlainObject(rebalanceJson) && ['startedAtMs', 'version', 'partitionsTotal'].every((name) => typeof rebalanceJson[name] === 'number'))) {
    errors.push('rebalance must be { startedAtMs: number, version: number, partitionsTotal: number }');
  }
  const limitsJson = field('rebalanceLimits');
  if (limitsJson !== undefined && !(isPlainObject(limitsJson) && typeof limitsJson['bytesPerSecond'] === 'number' && typeof limitsJson['concurrentMoves'] === 'number')) {
    errors.push('rebalanceLimits must be { bytesPerSecond: number, concurrentMoves: number }');
  }
  if (errors.length > start) return null;
  const parsedMap: ClusterMap = {
    formatVersion: 1,
    clusterId: clusterId as string,
    version: version as number,
    state: state as ClusterState,
    autoActivatePending: autoActivatePending as boolean,
    partitionCount: partitionCount as number,
    backups: backups as number,
    writeSynchronization: writeSynchronization as WriteSynchronization,
    baseline: [...(baseline as string[])],
    nodes,
    history,
    partitions,
  };
  if (rebalanceJson !== undefined) {
    const record = rebalanceJson as Record<string, number>;
    parsedMap.rebalance = { startedAtMs: record['startedAtMs']!, version: record['version']!, partitionsTotal: record['partitionsTotal']! };
  }
  if (limitsJson !== undefined) {
    const limits = limitsJson as Record<string, number>;
    parsedMap.rebalanceLimits = { bytesPerSecond: limits['bytesPerSecond']!, concurrentMoves: limits['concurrentMoves']! };
  }
  return parsedMap;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** A deep copy of `map` at version + 1: the start of every successful transition. */
function bump(map: ClusterMap): ClusterMap {
  const next = copyMap(map);
  next.version = map.version + 1;
  return next;
}

function copyMap(map: ClusterMap): ClusterMap {
  const nodes: Record<string, NodeAddress> = {};
  for (const [nodeId, address] of Object.entries(map.nodes)) nodes[nodeId] = copyAddress(address);
  const copy: ClusterMap = {
    formatVersion: 1,
    clusterId: map.clusterId,
    version: map.version,
    state: map.state,
    autoActivatePending: map.autoActivatePending,
    partitionCount: map.partitionCount,
    backups: map.backups,
    writeSynchronization: map.writeSynchronization,
    baseline: [...map.baseline],
    nodes,
    history: map.history.map((record) => ({
      hash: record.hash,
      baseline: [...record.baseline],
      version: record.version,
    })),
    partitions: map.partitions.map((assignment) => {
      const copied: PartitionAssignment = {
        replicas: [...assignment.replicas],
        isr: [...assignment.isr],
        primary: assignment.primary,
        term: assignment.term,
        lost: assignment.lost,
      };
      if (assignment.target !== undefined) copied.target = [...assignment.target];
      return copied;
    }),
  };
  if (map.rebalance !== undefined) copy.rebalance = { ...map.rebalance };
  if (map.rebalanceLimits !== undefined) copy.rebalanceLimits = { ...map.rebalanceLimits };
  return copy;
}

/** A copy with exactly the known fields; `zone` only when set, so JSON round trips compare equal. */
function copyAddress(address: NodeAddress): NodeAddress {
  const copy: NodeAddress = {
    host: address.host,
    port: address.port,
    peerPort: address.peerPort,
    adminPort: address.adminPort,
  };
  if (address.zone !== undefined) copy.zone = address.zone;
  return copy;
}

function sameAddress(a: NodeAddress, b: NodeAddress): boolean {
  return (
    a.host === b.host &&
    a.port === b.port &&
    a.peerPort === b.peerPort &&
    a.adminPort === b.adminPort &&
    a.zone === b.zone
  );
}

function partitionOf(map: ClusterMap, partition: number): PartitionAssignment {
  const assignment = Number.isInteger(partition) && partition >= 0 ? map.partitions[partition] : undefined;
  if (assignment === undefined) {
    const range =
      map.partitions.length === 0 ? 'it has no partitions yet' : `partitions are 0..${map.partitions.length - 1}`;
    throw new MapTransitionError(
      'UNKNOWN_PARTITION',
      `cluster ${map.clusterId} has no partition ${partition} (${range})`,
    );
  }
  return assignment;
}

function checkTerm(partition: number, assignment: PartitionAssignment, term: number): void {
  if (term !== assignment.term) {
    throw new MapTransitionError(
      'STALE_TERM',
      `partition ${partition} is at term ${assignment.term}, not ${term}`,
    );
  }
}

/** The caller of an ISR change must be the partition's primary at its current term. */
function checkCaller(partition: number, assignment: PartitionAssignment, primary: string, term: number): void {
  if (assignment.primary !== primary) {
    const actual = assignment.primary === null ? 'it has none (lost)' : `it is ${assignment.primary}`;
    throw new MapTransitionError(
      'NOT_PRIMARY',
      `node ${primary} is not the primary of partition ${partition}; ${actual}`,
    );
  }
  checkTerm(partition, assignment, term);
}

function checkNodeId(nodeId: string): void {
  if (!isValidNodeId(nodeId)) {
    throw new MapTransitionError(
      'INVALID_NODE_ID',
      `node id ${JSON.stringify(nodeId)} is invalid: use 1..${NODE_ID_LENGTH_MAX} letters, digits, '.', '_', ':' or '-', starting with a letter or digit`,
    );
  }
}

function checkAddress(nodeId: string, address: unknown): void {
  const problem = addressProblem(address);
  if (problem !== null) throw new MapTransitionError('INVALID_ADDRESS', `address of node ${nodeId}: ${problem}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
