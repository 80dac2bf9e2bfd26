/**
 * Cluster commands: CLUSTER (INFO MYID SLOTS SHARDS NODES KEYSLOT COUNTKEYSINSLOT GETKEYSINSLOT
 * HELP), READONLY, READWRITE and ASKING, with Redis 7's reply shapes in RESP2 and RESP3. What they
 * report comes from topology.ts. A node without a ClusterView (standalone) answers them all as a
 * redis-server without cluster support does.
 */
import { keyHashSlot, SLOT_COUNT } from '@ballast/cluster';
import { slotRangeEndKey, slotStartKey, userKeyOf } from '../engine/key-layout.js';
import { CommandError } from '../errors.js';
import { clampedIntegerArgument } from '../commands/arguments.js';
import { command, type CommandContext, type CommandFlag, type CommandSpec } from '../commands/types.js';
import type { ClusterView } from './cluster-view.js';
import { addressOf, hostFields, infoText, nodesText, shards, slotsEntries } from './topology.js';

function clusterViewOf(ctx: CommandContext): ClusterView {
  const view = ctx.server.cluster;
  if (view === null) throw new CommandError('CLUSTER_DISABLED', 'ERR This instance has cluster support disabled');
  return view;
}

/** A slot argument: an integer (Redis's integer error otherwise) within [0, 16384). */
function slotArgument(arg: Buffer, message: string): number {
  const slot = clampedIntegerArgument(arg);
  if (slot < 0 || slot >= SLOT_COUNT) throw new CommandError('INVALID_SLOT', `ERR ${message}`);
  return slot;
}

function clusterSubcommand(spec: {
  name: string;
  arity: number;
  flags?: readonly CommandFlag[];
  summary: string;
  since: string;
  complexity: string;
  handler: (ctx: CommandContext, args: Buffer[], view: ClusterView) => void;
}): CommandSpec {
  return command({
    name: `cluster|${spec.name}`,
    arity: spec.arity,
    flags: spec.flags ?? ['stale'],
    group: 'cluster',
    summary: spec.summary,
    since: spec.since,
    complexity: spec.complexity,
    handler(ctx, args) {
      spec.handler(ctx, args, clusterViewOf(ctx));
    },
  });
}

const HELP_LINES = [
  'CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'COUNTKEYSINSLOT <slot>',
  '    Return the number of keys in <slot>.',
  'GETKEYSINSLOT <slot> <count>',
  '    Return key names stored by current node in a slot.',
  'INFO',
  '    Return information about the cluster.',
  'KEYSLOT <key>',
  '    Return the hash slot for <key>.',
  'MYID',
  '    Return the node id.',
  'NODES',
  '    Return cluster configuration seen by node. Output format:',
  '    <id> <ip:port@bus-port[,hostname]> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...',
  'SLOTS',
  '    Return information about slots range mappings. Each range is made of:',
  '    start, end, master and replicas IP addresses, ports and ids',
  'SHARDS',
  '    Return information about slot range mappings and the nodes associated with them.',
  'HELP',
  '    Prints this help.',
];

/** One node of a CLUSTER SLOTS range: [endpoint, port, id, {metadata}] as Redis 7. */
function replySlotsNode(ctx: CommandContext, view: ClusterView, nodeId: string): void {
  const address = addressOf(view, view.map(), nodeId)!;
  const reply = ctx.reply;
  reply.arrayHeader(4);
  reply.bulkString(hostFields(address.host).endpoint);
  reply.integer(address.port);
  reply.bulkString(view.redisIdOf(nodeId));
  // Redis puts the hostname here when the endpoint is the IP; a Ballast endpoint is the host itself.
  reply.mapHeader(0);
}

const subcommands: CommandSpec[] = [
  clusterSubcommand({
    name: 'countkeysinslot',
    arity: 3,
    summary: 'Returns the number of keys in a hash slot.',
    since: '3.0.0',
    complexity: 'O(1)',
    handler(ctx, args) {
      const slot = slotArgument(args[2]!, 'Invalid slot');
      // Counted by a scan (as engine.countKeysInSlot) so the reply waits for the writes it counts.
      const { entries, ticket } = ctx.engine.scan(slotStartKey(slot), slotRangeEndKey(slot), Number.MAX_SAFE_INTEGER);
      if (ticket > ctx.ticket) ctx.ticket = ticket;
      ctx.reply.integer(entries.length);
    },
  }),
  clusterSubcommand({
    name: 'getkeysinslot',
    arity: 4,
    summary: 'Returns the key names in a hash slot.',
    since: '3.0.0',
    complexity: 'O(N) where N is the number of requested keys',
    handler(ctx, args) {
      // Redis parses both numbers before checking either range.
      const slot = clampedIntegerArgument(args[2]!);
      const count = clampedIntegerArgument(args[3]!);
      if (slot < 0 || slot >= SLOT_COUNT || count < 0) {
        throw new CommandError('INVALID_SLOT', 'ERR Invalid slot or number of keys');
      }
      const { entries, ticket } =
        count === 0 ? { entries: [], ticket: 0 } : ctx.engine.scan(slotStartKey(slot), slotRangeEndKey(slot), count);
      if (ticket > ctx.ticket) ctx.ticket = ticket;
      ctx.reply.arrayHeader(entries.length);
      for (const [dbKey] of entries) ctx.reply.bulk(userKeyOf(dbKey));
    },
  }),
  clusterSubcommand({
    name: 'help',
    arity: 2,
    flags: ['loading', 'stale'],
    summary: 'Returns helpful text about the different subcommands.',
    since: '5.0.0',
    complexity: 'O(1)',
    handler(ctx) {
      ctx.reply.arrayHeader(HELP_LINES.length);
      for (const line of HELP_LINES) ctx.reply.simple(line);
    },
  }),
  clusterSubcommand({
    name: 'info',
    arity: 2,
    summary: 'Returns information about the state of a node.',
    since: '3.0.0',
    complexity: 'O(1)',
    handler(ctx, _args, view) {
      ctx.reply.verbatim(infoText(view));
    },
  }),
  clusterSubcommand({
    name: 'keyslot',
    arity: 3,
    summary: 'Returns the hash slot for a key.',
    since: '3.0.0',
    complexity: 'O(N) where N is the number of bytes in the key',
    handler(ctx, args) {
      ctx.reply.integer(keyHashSlot(args[2]!));
    },
  }),
  clusterSubcommand({
    name: 'myid',
    arity: 2,
    summary: 'Returns the ID of a node.',
    since: '3.0.0',
    complexity: 'O(1)',
    handler(ctx, _args, view) {
      ctx.reply.bulkString(view.redisNodeId);
    },
  }),
  clusterSubcommand({
    name: 'nodes',
    arity: 2,
    summary: 'Returns the cluster configuration for a node.',
    since: '3.0.0',
    complexity: 'O(N) where N is the total number of Cluster nodes',
    handler(ctx, _args, view) {
      ctx.reply.verbatim(nodesText(view));
    },
  }),
  clusterSubcommand({
    name: 'shards',
    arity: 2,
    summary: 'Returns the mapping of cluster slots to shards.',
    since: '7.0.0',
    complexity: 'O(N) where N is the total number of cluster nodes',
    handler(ctx, _args, view) {
      const reply = ctx.reply;
      const map = view.map();
      const all = shards(view);
      reply.arrayHeader(all.length);
      for (const shard of all) {
        reply.mapHeader(2);
        reply.bulkString('slots');
        reply.arrayHeader(shard.slots.length * 2);
        for (const { first, last } of shard.slots) {
          reply.integer(first);
          reply.integer(last);
        }
        reply.bulkString('nodes');
        reply.arrayHeader(shard.nodes.length);
        for (const node of shard.nodes) {
          const address = addressOf(view, map, node.nodeId);
          const fields = address === undefined ? null : hostFields(address.host);
          reply.mapHeader(fields === null ? 6 : fields.hostname === null ? 7 : 8);
          reply.bulkString('id');
          reply.bulkString(view.redisIdOf(node.nodeId));
          if (address !== undefined && fields !== null) {
            reply.bulkString('port');
            reply.integer(address.port);
            reply.bulkString('ip');
            reply.bulkString(fields.ip);
            reply.bulkString('endpoint');
            reply.bulkString(fields.endpoint);
            if (fields.hostname !== null) {
              reply.bulkString('hostname');
              reply.bulkString(fields.hostname);
            }
          } else {
            // A node without a known address (Redis: no port, empty ip and endpoint).
            reply.bulkString('ip');
            reply.bulkString('');
            reply.bulkString('endpoint');
            reply.bulkString('');
          }
          reply.bulkString('role');
          reply.bulkString(node.role);
          reply.bulkString('replication-offset');
          reply.integer(0);
          reply.bulkString('health');
          reply.bulkString(node.health);
        }
      }
    },
  }),
  clusterSubcommand({
    name: 'slots',
    arity: 2,
    summary: 'Returns the mapping of cluster slots to nodes.',
    since: '3.0.0',
    complexity: 'O(N) where N is the total number of Cluster nodes',
    handler(ctx, _args, view) {
      const entries = slotsEntries(view);
      ctx.reply.arrayHeader(entries.length);
      for (const entry of entries) {
        ctx.reply.arrayHeader(2 + entry.nodeIds.length);
        ctx.reply.integer(entry.first);
        ctx.reply.integer(entry.last);
        for (const nodeId of entry.nodeIds) replySlotsNode(ctx, view, nodeId);
      }
    },
  }),
];

const cluster = command({
  name: 'cluster',
  arity: -2,
  flags: [],
  group: 'cluster',
  summary: 'A container for Redis Cluster commands.',
  since: '3.0.0',
  complexity: 'Depends on subcommand.',
  handler() {
    throw new Error('CLUSTER is dispatched to its subcommands');
  },
  subcommands,
});

const readonly = command({
  name: 'readonly',
  arity: 1,
  flags: ['loading', 'stale', 'fast'],
  group: 'cluster',
  summary: 'Enables read-only queries for a connection to a Redis Cluster replica node.',
  since: '3.0.0',
  complexity: 'O(1)',
  handler(ctx) {
    clusterViewOf(ctx);
    ctx.client.readonlyMode = true;
    ctx.reply.simple('OK');
  },
});

const readwrite = command({
  name: 'readwrite',
  arity: 1,
  flags: ['loading', 'stale', 'fast'],
  group: 'cluster',
  summary: 'Enables read-write queries for a connection to a Redis Cluster replica node.',
  since: '3.0.0',
  complexity: 'O(1)',
  handler(ctx) {
    clusterViewOf(ctx);
    ctx.client.readonlyMode = false;
    ctx.reply.simple('OK');
  },
});

const asking = command({
  name: 'asking',
  arity: 1,
  flags: ['fast'],
  group: 'cluster',
  summary: 'Signals that a cluster client is following an -ASK redirect.',
  since: '3.0.0',
  complexity: 'O(1)',
  handler(ctx) {
    clusterViewOf(ctx);
    ctx.client.asking = true;
    ctx.reply.simple('OK');
  },
});

export const clusterCommands: CommandSpec[] = [cluster, readonly, readwrite, asking];
