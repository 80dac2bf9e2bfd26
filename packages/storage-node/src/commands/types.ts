/**
 * Commands as data: each command declares its name, arity, flags and key positions, and a handler.
 * Routing, COMMAND INFO/DOCS, MULTI queueing and cluster slot routing (cluster/routing.ts) read
 * these fields; nothing re-parses a command's arguments to find its keys.
 */
import type { Engine } from '../engine/engine.js';
import type { ReplyWriter } from '../resp/reply-writer.js';
import type { Limits } from '../limits.js';
import type { Statistics } from './statistics.js';
import type { ClusterView } from '../cluster/cluster-view.js';

export type CommandFlag =
  | 'write'
  | 'readonly'
  | 'denyoom'
  | 'admin'
  | 'noscript'
  | 'loading'
  | 'stale'
  | 'fast'
  | 'no_auth'
  | 'no_multi'
  | 'allow_busy'
  | 'skip_slowlog';

export type CommandGroup = 'string' | 'hash' | 'generic' | 'connection' | 'server' | 'transactions' | 'cluster';

export interface CommandSpec {
  /** Lower-case name (for a subcommand: "client|list"). */
  readonly name: string;
  /** Redis convention: N means exactly N arguments including the name; -N means at least N. */
  readonly arity: number;
  readonly flags: readonly CommandFlag[];
  /** Position of the first key (1-based, 0 if none), last key (-1 = last argument), and step. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly keyStep: number;
  readonly group: CommandGroup;
  readonly summary: string;
  readonly since: string;
  readonly complexity?: string;
  /** Writes the reply through ctx.reply; throws CommandError for a user error. */
  readonly handler: CommandHandler;
  /** Subcommands (CLIENT LIST, CONFIG GET...), dispatched on the second argument. */
  readonly subcommands?: ReadonlyMap<string, CommandSpec>;
}

export type CommandHandler = (ctx: CommandContext, args: Buffer[]) => void;

/** Per-connection state that commands read and change. */
export interface ClientSession {
  readonly id: number;
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly createdMs: number;
  name: string;
  libraryName: string;
  libraryVersion: string;
  protocol: 2 | 3;
  authenticated: boolean;
  /** Commands queued since MULTI, or null outside a transaction. */
  multiQueue: Array<{ spec: CommandSpec; args: Buffer[] }> | null;
  /** A queued command was rejected: EXEC must abort. */
  multiFailed: boolean;
  /** Keys (overlay key strings) under WATCH. */
  readonly watchedKeys: Set<string>;
  /** A watched key changed since WATCH: EXEC must abort. */
  watchDirty: boolean;
  /** Close the connection once the replies queued so far are written (QUIT, CLIENT KILL). */
  closeAfterReply: boolean;
  /** READONLY (cluster): reads may be served by this node where it is an in-sync backup. */
  readonlyMode: boolean;
  /**
   * ASKING (cluster): set for the next command only (until EXEC inside MULTI), as Redis's
   * CLIENT_ASKING. Kept for routing during partition moves.
   */
  asking: boolean;
  /** CLIENT NO-EVICT / NO-TOUCH modes: no effect in Ballast (no eviction, no LRU), shown by CLIENT LIST. */
  noEvict: boolean;
  noTouch: boolean;
  readonly lastCommandName: string;
  readonly lastActivityMs: number;
  /** Bytes of replies not yet written to the socket, and bytes of requests not yet parsed. */
  outputBytes(): number;
  /** Cluster mode: the partition and seq of this connection's last write (for WAIT / WAITALL). */
  lastWrite: { partition: number; seq: number } | null;
  /**
   * Blocks the connection (WAIT): no further command runs until `ready()` holds or the deadline
   * passes; then `reply(timedOut)` writes the reply and the connection goes on.
   */
  block(request: BlockRequest): void;
  queryBufferBytes(): number;
}

export interface BlockRequest {
  ready(): boolean;
  /** Monotonic deadline (performance.now() ms), or Infinity. */
  deadlineMs: number;
  reply(timedOut: boolean): void;
}

/** What commands may ask of the server around them (clients, config, info, watch registry). */
export interface ServerApi {
  readonly limits: Limits;
  readonly startedMs: number;
  readonly version: string;
  readonly runId: string;
  readonly tcpPort: number;
  readonly stats: ServerStats;
  readonly statistics: Statistics;
  readonly requirePassword: string | null;
  /** The cluster this node serves in, or null for a standalone node (cluster commands disabled). */
  readonly cluster: ClusterView | null;
  commands(): Iterable<CommandSpec>;
  findCommand(name: string): CommandSpec | undefined;
  clients(): Iterable<ClientSession>;
  killClient(client: ClientSession): void;
  /** Marks the clients WATCHing this key as dirty. */
  keyTouched(overlayKey: string): void;
  allKeysTouched(): void;
  watch(client: ClientSession, overlayKey: string): void;
  unwatchAll(client: ClientSession): void;
  configGet(pattern: Buffer): Array<[string, string]>;
  configSet(name: string, value: string): void;
  resetStats(): void;
  info(section: string | null, nowMs: number): string;
}

export interface ServerStats {
  connectionsReceived: number;
  connectionsRejected: number;
  commandsProcessed: number;
  expiredKeys: number;
  keyspaceHits: number;
  keyspaceMisses: number;
  errorReplies: number;
  protocolErrors: number;
  outputBufferDisconnects: number;
  idleDisconnects: number;
  lastCommitUnixMs: number;
}

export interface CommandContext {
  readonly engine: Engine;
  readonly server: ServerApi;
  readonly client: ClientSession;
  readonly reply: ReplyWriter;
  /** Wall-clock Unix time in ms for this command (expiry is absolute wall time, as in Redis). */
  readonly nowMs: number;
  /** The latest batch this command's reply depends on (0 = none): the reply waits for it. */
  ticket: number;
  /** Injected randomness (RANDOMKEY). */
  readonly random: () => number;
}

/** Helper to declare commands with defaults for the optional fields. */
export function command(spec: {
  name: string;
  arity: number;
  flags: readonly CommandFlag[];
  firstKey?: number;
  lastKey?: number;
  keyStep?: number;
  group: CommandGroup;
  summary: string;
  since: string;
  complexity?: string;
  handler: CommandHandler;
  subcommands?: CommandSpec[];
}): CommandSpec {
  return {
    name: spec.name,
    arity: spec.arity,
    flags: spec.flags,
    firstKey: spec.firstKey ?? 0,
    lastKey: spec.lastKey ?? 0,
    keyStep: spec.keyStep ?? 0,
    group: spec.group,
    summary: spec.summary,
    since: spec.since,
    ...(spec.complexity === undefined ? {} : { complexity: spec.complexity }),
    handler: spec.handler,
    ...(spec.subcommands === undefined
      ? {}
      : { subcommands: new Map(spec.subcommands.map((sub) => [sub.name.split('|')[1]!, sub])) }),
  };
}

/** Key positions of a command invocation, from its spec (for routing and COMMAND GETKEYS). */
export function keyPositions(spec: CommandSpec, argCount: number): number[] {
  if (spec.firstKey === 0) return [];
  const last = spec.lastKey < 0 ? argCount + spec.lastKey : spec.lastKey;
  const positions: number[] = [];
  for (let position = spec.firstKey; position <= last && position < argCount; position += spec.keyStep) {
    positions.push(position);
  }
  return positions;
}
