/**
 * What CLUSTER SLOTS / SHARDS / NODES / INFO report, computed from the ClusterMap as this node sees
 * it (a ClusterView). Pure: cluster-commands.ts writes these values in Redis's reply shapes.
 *
 * Redis Cluster has one master per slot range and replicas that follow one master. In Ballast a node
 * is primary of some partitions and backup of others, so:
 * - SLOTS lists maximal runs of consecutive slots with the same primary and the same (online) backups;
 * - SHARDS groups the runs that share the same primary and replica list into one shard;
 * - NODES shows every node as a master, with the slot ranges it is primary for.
 * A partition is *served* when it has a primary and is not lost; slots of other partitions are
 * reported as unassigned, so clients learn they have no owner.
 */
import { isIP } from 'node:net';
import { partitionOfSlot, SLOT_COUNT, slotRangeOfPartition, type ClusterMap, type NodeAddress } from '@ballast/cluster';
import type { ClusterView } from './cluster-view.js';

/** An inclusive slot range. */
export interface SlotRange {
  readonly first: number;
  readonly last: number;
}

/** One CLUSTER SLOTS entry: a slot range and the nodes serving it, primary first. */
export interface SlotsEntry extends SlotRange {
  readonly nodeIds: readonly string[];
}

/** One node of a CLUSTER SHARDS shard. */
export interface ShardNode {
  readonly nodeId: string;
  readonly role: 'master' | 'replica';
  readonly health: 'online' | 'fail' | 'loading';
}

/** One CLUSTER SHARDS entry. */
export interface Shard {
  readonly slots: readonly SlotRange[];
  readonly nodes: readonly ShardNode[];
}

/** The nodes of a served partition, primary first, then the other replicas in replica order. */
function servingNodes(map: ClusterMap, partition: number): string[] | null {
  const assignment = map.partitions[partition]!;
  if (assignment.primary === null || assignment.lost) return null;
  const primary = assignment.primary;
  return [primary, ...assignment.replicas.filter((replica) => replica !== primary)];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

/**
 * Maximal runs of consecutive served partitions with equal node lists (`nodesOf` may filter the
 * list; a partition it maps to null is skipped), as slot ranges.
 */
function runs(map: ClusterMap, nodesOf: (partition: number) => string[] | null): SlotsEntry[] {
  const entries: SlotsEntry[] = [];
  let current: { first: number; last: number; nodeIds: string[] } | null = null;
  for (let partition = 0; partition < map.partitions.length; partition++) {
    const nodeIds = nodesOf(partition);
    const { first, last } = slotRangeOfPartition(partition, map.partitionCount);
    if (nodeIds !== null && current !== null && current.last + 1 === first && sameList(current.nodeIds, nodeIds)) {
      current.last = last;
      continue;
    }
    if (current !== null) entries.push(current);
    current = nodeIds === null ? null : { first, last, nodeIds };
  }
  if (current !== null) entries.push(current);
  return entries;
}

/** The address of a node as this node knows it (its own address before the map lists it). */
export function addressOf(view: ClusterView, map: ClusterMap | null, nodeId: string): NodeAddress | undefined {
  return map?.nodes[nodeId] ?? (nodeId === view.nodeId ? view.address : undefined);
}

/**
 * CLUSTER SLOTS: as Redis, the primary comes first and backups that are not online are left out
 * (Redis skips failed replicas); nodes without a known address are left out too.
 */
export function slotsEntries(view: ClusterView): SlotsEntry[] {
  const map = view.map();
  if (map === null) return [];
  return runs(map, (partition) => {
    const nodeIds = servingNodes(map, partition);
    if (nodeIds === null || addressOf(view, map, nodeIds[0]!) === undefined) return null;
    const [primary, ...backups] = nodeIds;
    return [primary!, ...backups.filter((id) => view.isOnline(id) && addressOf(view, map, id) !== undefined)];
  });
}

/**
 * The nodes CLUSTER NODES / SHARDS / INFO know of: this node, the baseline and every replica of a
 * partition (nodes that left the baseline and hold nothing are forgotten), sorted by id.
 */
export function knownNodeIds(view: ClusterView): string[] {
  const ids = new Set<string>([view.nodeId]);
  const map = view.map();
  if (map !== null) {
    for (const id of map.baseline) ids.add(id);
    for (const assignment of map.partitions) for (const id of assignment.replicas) ids.add(id);
  }
  return [...ids].sort();
}

/** SHARDS health: offline → fail; an online backup still catching up (not in the ISR) → loading. */
function healthOf(view: ClusterView, map: ClusterMap, nodeId: string, partition: number): ShardNode['health'] {
  if (!view.isOnline(nodeId)) return 'fail';
  return map.partitions[partition]!.isr.includes(nodeId) ? 'online' : 'loading';
}

/**
 * CLUSTER SHARDS: served partitions grouped by their node list (primary + every replica, online or
 * not: Redis lists failed nodes here, with health "fail"); each shard's slots are the maximal runs it
 * serves. Known nodes that serve no partition follow as shards without slots, as Redis lists masters
 * without slots. Shards are ordered by their first slot.
 */
export function shards(view: ClusterView): Shard[] {
  const map = view.map();
  const result: Array<{ slots: SlotRange[]; nodes: ShardNode[]; key: string }> = [];
  const placed = new Set<string>();
  if (map !== null) {
    const byKey = new Map<string, { slots: SlotRange[]; nodes: ShardNode[]; key: string }>();
    for (const entry of runs(map, (partition) => servingNodes(map, partition))) {
      const key = entry.nodeIds.join(' ');
      let shard = byKey.get(key);
      if (shard === undefined) {
        // Health is per node for the shard: a backup is "loading" if it is out of the ISR of the
        // first partition of the shard (partitions of one shard share replicas, not necessarily ISR).
        const partition = partitionOfSlot(entry.first, map.partitionCount);
        shard = {
          key,
          slots: [],
          nodes: entry.nodeIds.map((nodeId, index) => ({
            nodeId,
            role: index === 0 ? 'master' : 'replica',
            health: healthOf(view, map, nodeId, partition),
          })),
        };
        byKey.set(key, shard);
        result.push(shard);
      }
      shard.slots.push({ first: entry.first, last: entry.last });
      for (const nodeId of entry.nodeIds) placed.add(nodeId);
    }
  }
  for (const nodeId of knownNodeIds(view)) {
    if (placed.has(nodeId)) continue;
    result.push({ key: nodeId, slots: [], nodes: [{ nodeId, role: 'master', health: view.isOnline(nodeId) ? 'online' : 'fail' }] });
  }
  return result.map(({ slots, nodes }) => ({ slots, nodes }));
}

/** How a node's host appears: Redis's `ip` and `endpoint` fields, and `hostname` when it is a DNS name. */
export function hostFields(host: string): { ip: string; endpoint: string; hostname: string | null } {
  return { ip: host, endpoint: host, hostname: isIP(host) === 0 ? host : null };
}

/** The slot ranges a node is primary for (served partitions only), merged. */
export function primaryRanges(map: ClusterMap | null, nodeId: string): SlotRange[] {
  if (map === null) return [];
  return runs(map, (partition) => {
    const assignment = map.partitions[partition]!;
    return assignment.primary === nodeId && !assignment.lost ? [nodeId] : null;
  }).map(({ first, last }) => ({ first, last }));
}

/**
 * CLUSTER NODES text in Redis's format, one line per known node, each ending in "\n":
 * `<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...`
 * Every node is a master (`-` for the master id) listing the ranges it is primary for; offline
 * nodes carry the `fail` flag and a `disconnected` link; the config epoch is the map version.
 */
export function nodesText(view: ClusterView): string {
  const map = view.map();
  const epoch = map?.version ?? 0;
  let text = '';
  for (const nodeId of knownNodeIds(view)) {
    const address = addressOf(view, map, nodeId);
    const online = nodeId === view.nodeId || view.isOnline(nodeId);
    const flags = [nodeId === view.nodeId ? 'myself' : null, 'master', online ? null : 'fail', address === undefined ? 'noaddr' : null]
      .filter((flag) => flag !== null)
      .join(',');
    let addressText = ':0@0';
    if (address !== undefined) {
      const { hostname } = hostFields(address.host);
      addressText = `${address.host}:${address.port}@${address.peerPort}${hostname === null ? '' : `,${hostname}`}`;
    }
    const ranges = primaryRanges(map, nodeId).map(({ first, last }) => (first === last ? `${first}` : `${first}-${last}`));
    const fields = [view.redisIdOf(nodeId), addressText, flags, '-', '0', '0', String(epoch), online ? 'connected' : 'disconnected', ...ranges];
    text += `${fields.join(' ')}\n`;
  }
  return text;
}

/**
 * CLUSTER INFO fields, exactly Redis 7's (cluster_enabled:1 is in INFO's Cluster section, as in
 * Redis), then Ballast's own. The state is ok only when the cluster is ACTIVE or ACTIVE_READ_ONLY
 * and every slot's partition has a primary that is online and not lost. ACTIVE_READ_ONLY serves
 * reads, and cluster clients (ioredis) refuse to start against a cluster whose state is fail.
 */
export function infoFields(view: ClusterView): Array<[string, string | number]> {
  const map = view.map();
  let assigned = 0;
  let ok = 0;
  let failed = 0;
  let lost = 0;
  const primaries = new Set<string>();
  if (map !== null) {
    const slotsPerPartition = SLOT_COUNT / map.partitionCount;
    for (const assignment of map.partitions) {
      if (assignment.lost) lost++;
      if (assignment.primary === null) continue;
      assigned += slotsPerPartition;
      primaries.add(assignment.primary);
      if (assignment.lost || !view.isOnline(assignment.primary)) failed += slotsPerPartition;
      else ok += slotsPerPartition;
    }
  }
  const healthy = map !== null && map.state !== 'INACTIVE' && map.partitions.length > 0 && ok === SLOT_COUNT;
  const version = map?.version ?? 0;
  return [
    ['cluster_state', healthy ? 'ok' : 'fail'],
    ['cluster_slots_assigned', assigned],
    ['cluster_slots_ok', ok],
    ['cluster_slots_pfail', 0],
    ['cluster_slots_fail', failed],
    ['cluster_known_nodes', knownNodeIds(view).length],
    ['cluster_size', primaries.size],
    ['cluster_current_epoch', version],
    ['cluster_my_epoch', version],
    ['cluster_stats_messages_sent', 0],
    ['cluster_stats_messages_received', 0],
    ['total_cluster_links_buffer_limit_exceeded', 0],
    ['ballast_state', map?.state ?? 'NO_MAP'],
    ['ballast_map_version', version],
    ['ballast_baseline_size', map?.baseline.length ?? 0],
    ['ballast_partitions', map?.partitionCount ?? 0],
    ['ballast_lost_partitions', lost],
  ];
}

export function infoText(view: ClusterView): string {
  return infoFields(view)
    .map(([name, value]) => `${name}:${value}\r\n`)
    .join('');
}
