/**
 * Redis Cluster routing of one command: which slot its keys hash to (from the command's declared key
 * positions, never by re-parsing arguments), whether this node may run it, and the error line a
 * client gets when it may not (-MOVED, -CROSSSLOT, -CLUSTERDOWN...). Pure: the connection asks, the
 * ClusterView decides where a slot is served, this module turns both into a verdict.
 *
 * `routeByMap` is the decision a ClusterView makes from the ClusterMap alone (primary, ISR, lost,
 * cluster state). The replication layer adds what only it knows (leases, moves in progress) on top.
 */
import { keyHashSlot, partitionOfSlot, type ClusterMap } from '@ballast/cluster';
import { keyPositions, type CommandSpec } from '../commands/types.js';
import type { Access, ClusterView, Route } from './cluster-view.js';

/** commandSlot's answer for a command without keys (it runs on any node, on that node's data). */
export const NO_KEYS = -1;
/** commandSlot's answer for keys in different slots. */
export const CROSS_SLOT = -2;

export const CROSSSLOT_MESSAGE = "CROSSSLOT Keys in request don't hash to the same slot";

/** The slot all of the command's keys hash to, NO_KEYS, or CROSS_SLOT. */
export function commandSlot(spec: CommandSpec, args: readonly Buffer[]): number {
  if (spec.firstKey === 0) return NO_KEYS;
  let slot = NO_KEYS;
  for (const position of keyPositions(spec, args.length)) {
    const keySlot = keyHashSlot(args[position]!);
    if (slot === NO_KEYS) slot = keySlot;
    else if (keySlot !== slot) return CROSS_SLOT;
  }
  return slot;
}

/** Writes need the partition's primary; everything else is a read (READONLY may serve it from a backup). */
export function accessOf(spec: CommandSpec): Access {
  return spec.flags.includes('write') ? 'write' : 'read';
}

/** The error line (without the leading '-') for a route that is not local, or null to run here. */
export function refusalOf(route: Route, slot: number): string | null {
  switch (route.kind) {
    case 'local':
      return null;
    case 'moved':
      return `MOVED ${slot} ${route.host}:${route.port}`;
    case 'error':
      return `${route.code} ${route.message}`;
  }
}

/** Why this node does not run the command here, or null when it does (or the command has no keys). */
export function commandRefusal(
  view: ClusterView,
  spec: CommandSpec,
  args: readonly Buffer[],
  readonlyConnection: boolean,
): string | null {
  const slot = commandSlot(spec, args);
  if (slot === NO_KEYS) return null;
  if (slot === CROSS_SLOT) return CROSSSLOT_MESSAGE;
  return refusalOf(view.route(slot, accessOf(spec), readonlyConnection), slot);
}

/**
 * EXEC: the queued commands (each was routed when queued) must all hash to one slot, and that slot
 * is routed again with write access if any of them writes (the map may have changed meanwhile).
 */
export function transactionRefusal(
  view: ClusterView,
  queue: ReadonlyArray<{ readonly spec: CommandSpec; readonly args: readonly Buffer[] }>,
  readonlyConnection: boolean,
): string | null {
  let slot = NO_KEYS;
  let access: Access = 'read';
  for (const { spec, args } of queue) {
    const commandSlotValue = commandSlot(spec, args);
    if (commandSlotValue === NO_KEYS) continue;
    if (commandSlotValue === CROSS_SLOT) return CROSSSLOT_MESSAGE;
    if (slot === NO_KEYS) slot = commandSlotValue;
    else if (commandSlotValue !== slot) return CROSSSLOT_MESSAGE;
    if (accessOf(spec) === 'write') access = 'write';
  }
  if (slot === NO_KEYS) return null;
  return refusalOf(view.route(slot, access, readonlyConnection), slot);
}

/**
 * How `nodeId` treats a command on `slot` according to the map alone:
 * - no map yet, no partitions, or an INACTIVE cluster: CLUSTERDOWN;
 * - the slot's partition is lost, or has no primary: CLUSTERDOWN naming the partition;
 * - a write while the cluster is ACTIVE_READ_ONLY: READONLY;
 * - this node is the primary: local;
 * - a read on a READONLY connection, this node is an in-sync backup and the cluster is PRIMARY_SYNC:
 *   local (a replica read, as in Redis: it may miss the latest writes);
 * - otherwise MOVED to the primary. Under FULL_SYNC a backup never serves reads, READONLY or not:
 *   its map can be stale (it was cut off from the store), so it cannot know that the primary has
 *   not dropped it from the ISR and acknowledged writes it does not hold (campaign seed 483: a
 *   client on a READONLY connection read an older value than one acknowledged 3 s before).
 */
export function routeByMap(
  map: ClusterMap | null,
  nodeId: string,
  slot: number,
  access: Access,
  readonlyConnection: boolean,
): Route {
  if (map === null) return clusterDown('The cluster is down: this node has no cluster map yet');
  if (map.partitions.length === 0) return clusterDown('The cluster is down: it is not active (never activated)');
  if (map.state === 'INACTIVE') return clusterDown('The cluster is down: it is not active');
  const partition = partitionOfSlot(slot, map.partitionCount);
  const assignment = map.partitions[partition];
  if (assignment === undefined) throw new Error(`map version ${map.version} has no partition ${partition}`);
  if (assignment.lost) {
    return clusterDown(`Partition ${partition} is lost: none of its replicas is available (slot ${slot})`);
  }
  if (assignment.primary === null) return clusterDown(`Hash slot not served: partition ${partition} has no primary`);
  if (access === 'write' && map.state === 'ACTIVE_READ_ONLY') {
    return { kind: 'error', code: 'READONLY', message: "You can't write against a read only cluster" };
  }
  if (assignment.primary === nodeId) return { kind: 'local', partition };
  if (access === 'read' && readonlyConnection && map.writeSynchronization === 'PRIMARY_SYNC' && assignment.isr.includes(nodeId)) {
    return { kind: 'local', partition };
  }
  const address = map.nodes[assignment.primary];
  if (address === undefined) {
    return clusterDown(`Hash slot not served: the primary of partition ${partition} has no address`);
  }
  return { kind: 'moved', host: address.host, port: address.port };
}

function clusterDown(message: string): Route {
  return { kind: 'error', code: 'CLUSTERDOWN', message };
}
