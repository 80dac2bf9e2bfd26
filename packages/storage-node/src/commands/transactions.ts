/**
 * MULTI/EXEC/DISCARD/WATCH/UNWATCH. Queued commands run back to back inside EXEC with nothing else
 * interleaved (the event loop is single-threaded), and all their writes land in the same LMDB
 * batch, so a transaction is atomic on disk too. WATCH is optimistic: any write to a watched key
 * (by anyone, including expiry) makes EXEC return a null array.
 */
import { userKeyOf } from '../engine/key-layout.js';
import { expireAtOfRecord } from '../engine/record.js';
import { CommandError } from '../errors.js';
import { readRecord, resolveKey } from './keyspace.js';
import { discardTransaction, replyError, runCommand } from './run.js';
import { command, type CommandSpec } from './types.js';

const multi = command({
  name: 'multi',
  arity: 1,
  flags: ['noscript', 'loading', 'stale', 'fast', 'allow_busy'],
  group: 'transactions',
  summary: 'Starts a transaction.',
  since: '1.2.0',
  complexity: 'O(1)',
  handler(ctx) {
    if (ctx.client.multiQueue !== null) throw new CommandError('NESTED_MULTI', 'ERR MULTI calls can not be nested');
    ctx.client.multiQueue = [];
    ctx.client.multiFailed = false;
    ctx.reply.simple('OK');
  },
});

const exec = command({
  name: 'exec',
  arity: 1,
  flags: ['noscript', 'loading', 'stale', 'skip_slowlog'],
  group: 'transactions',
  summary: 'Executes all commands in a transaction.',
  since: '1.2.0',
  complexity: 'Depends on commands in the transaction',
  handler(ctx) {
    const client = ctx.client;
    const queue = client.multiQueue;
    if (queue === null) throw new CommandError('EXEC_WITHOUT_MULTI', 'ERR EXEC without MULTI');
    client.multiQueue = null;
    const failed = client.multiFailed;
    const dirty = client.watchDirty || watchedKeyExpired(ctx);
    client.multiFailed = false;
    ctx.server.unwatchAll(client);
    if (failed) {
      throw new CommandError('EXECABORT', 'EXECABORT Transaction discarded because of previous errors.');
    }
    if (dirty) {
      ctx.reply.nullArray();
      return;
    }
    ctx.reply.arrayHeader(queue.length);
    for (const { spec, args } of queue) runCommand(ctx, spec, args);
  },
});

/**
 * Whether a watched key has expired since WATCH but is not deleted yet (Redis isWatchedKeyExpired):
 * that is a change too, whether or not the active expiry cycle got to it. Keys already expired
 * when watched were deleted by WATCH, so they do not count.
 */
function watchedKeyExpired(ctx: Parameters<typeof replyError>[0]): boolean {
  for (const overlayKey of ctx.client.watchedKeys) {
    const { record } = ctx.engine.lookup(ctx.engine.ref(userKeyOf(Buffer.from(overlayKey, 'latin1'))));
    if (record === null) continue;
    const expireAtMs = expireAtOfRecord(record);
    if (expireAtMs !== 0 && expireAtMs <= ctx.nowMs) return true;
  }
  return false;
}

const discard = command({
  name: 'discard',
  arity: 1,
  flags: ['noscript', 'loading', 'stale', 'fast', 'allow_busy'],
  group: 'transactions',
  summary: 'Discards a transaction.',
  since: '2.0.0',
  complexity: 'O(N), when N is the number of queued commands',
  handler(ctx) {
    if (ctx.client.multiQueue === null) {
      throw new CommandError('DISCARD_WITHOUT_MULTI', 'ERR DISCARD without MULTI');
    }
    discardTransaction(ctx);
    ctx.reply.simple('OK');
  },
});

const watch = command({
  name: 'watch',
  arity: -2,
  flags: ['noscript', 'loading', 'stale', 'fast', 'allow_busy'],
  firstKey: 1,
  lastKey: -1,
  keyStep: 1,
  group: 'transactions',
  summary: 'Monitors changes to keys to determine the execution of a transaction.',
  since: '2.2.0',
  complexity: 'O(1) for every key.',
  handler(ctx, args) {
    if (ctx.client.multiQueue !== null) {
      throw new CommandError('WATCH_IN_MULTI', 'ERR WATCH inside MULTI is not allowed');
    }
    for (let i = 1; i < args.length; i++) {
      const ref = resolveKey(ctx, args[i]!);
      // A key that is already expired is deleted now (lazy expiry), before this client watches it:
      // its expiry is no change for this transaction (Redis: watchedKey.expired).
      readRecord(ctx, ref);
      ctx.server.watch(ctx.client, ref.overlayKey);
    }
    ctx.reply.simple('OK');
  },
});

const unwatch = command({
  name: 'unwatch',
  arity: 1,
  flags: ['noscript', 'loading', 'stale', 'fast', 'allow_busy'],
  group: 'transactions',
  summary: 'Forgets about watched keys of a transaction.',
  since: '2.2.0',
  complexity: 'O(1)',
  handler(ctx) {
    ctx.server.unwatchAll(ctx.client);
    ctx.reply.simple('OK');
  },
});

/** Commands that run immediately even inside MULTI (everything else is queued). */
export const RUN_INSIDE_MULTI = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset']);

/**
 * Replies to a command that is refused before it runs (unknown, NOAUTH) and marks the transaction
 * as failed. A refused EXEC discards the transaction and answers EXECABORT with the reason, as
 * Redis's rejectCommand does.
 */
export function rejectQueued(ctx: Parameters<typeof replyError>[0], message: string, spec?: CommandSpec): void {
  if (spec?.name === 'exec') {
    discardTransaction(ctx);
    replyError(ctx, `EXECABORT Transaction discarded because of: ${message}`);
    return;
  }
  if (ctx.client.multiQueue !== null) ctx.client.multiFailed = true;
  replyError(ctx, message);
}

/**
 * Replies to a command this node does not run in cluster mode (MOVED, CROSSSLOT, CLUSTERDOWN...), as
 * Redis's processCommand does: a refused EXEC discards the transaction and answers the routing error
 * itself (not EXECABORT); any other command refused inside MULTI marks the transaction failed.
 */
export function rejectRouted(ctx: Parameters<typeof replyError>[0], message: string, spec: CommandSpec): void {
  if (spec.name === 'exec') discardTransaction(ctx);
  else if (ctx.client.multiQueue !== null) ctx.client.multiFailed = true;
  ctx.server.statistics.command(spec.name).rejectedCalls++;
  replyError(ctx, message);
}

export const transactionCommands: CommandSpec[] = [multi, exec, discard, watch, unwatch];
