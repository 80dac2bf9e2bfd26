/**
 * WAIT numreplicas timeout (Redis semantics: the number of replicas that acknowledged this
 * connection's last write, blocking until enough do or the timeout passes) and WAITALL timeout
 * (Ballast: waits for every replica in the partition's replica set and replies
 * [acknowledged, required]; a disconnected replica counts as not acknowledged, where Redis's WAIT
 * silently ignores it). On a standalone node there are no replicas: WAIT answers 0, WAITALL [0, 0].
 */
import { CommandError } from '../errors.js';
import { integerArgument } from '../commands/arguments.js';
import { command, type CommandContext, type CommandSpec } from '../commands/types.js';

function timeoutArgument(bytes: Buffer): number {
  const timeoutMs = integerArgument(bytes);
  if (timeoutMs < 0) throw new CommandError('TIMEOUT_NEGATIVE', 'ERR timeout is negative');
  return timeoutMs === 0 ? Infinity : timeoutMs;
}

function progress(ctx: CommandContext): { acknowledged: number; required: number } {
  const cluster = ctx.server.cluster;
  const last = ctx.client.lastWrite;
  if (cluster === null || last === null) return { acknowledged: 0, required: 0 };
  return cluster.acknowledgements(last.partition, last.seq);
}

const wait = command({
  name: 'wait',
  arity: 3,
  flags: ['noscript'],
  group: 'generic',
  summary: 'Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.',
  since: '3.0.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    const wanted = integerArgument(args[1]!);
    const timeoutMs = timeoutArgument(args[2]!);
    const now = progress(ctx);
    if (now.acknowledged >= wanted || ctx.server.cluster === null || ctx.client.lastWrite === null) {
      if (wanted > now.acknowledged && ctx.server.cluster === null && timeoutMs !== Infinity && wanted > 0) {
        // Standalone, as redis-server without replicas: block for the timeout, then answer 0.
        ctx.client.block({ ready: () => false, deadlineMs: performance.now() + timeoutMs, reply: () => ctx.reply.integer(0) });
        return;
      }
      ctx.reply.integer(now.acknowledged);
      return;
    }
    ctx.client.block({
      ready: () => progress(ctx).acknowledged >= wanted,
      deadlineMs: performance.now() + timeoutMs,
      reply: () => ctx.reply.integer(progress(ctx).acknowledged),
    });
  },
});

const waitall = command({
  name: 'waitall',
  arity: 2,
  flags: ['noscript'],
  group: 'generic',
  summary: 'Blocks until every replica of the partition of the connection\'s last write holds it; replies [acknowledged, required].',
  since: '0.1.0 (Ballast)',
  complexity: 'O(1)',
  handler(ctx, args) {
    const timeoutMs = timeoutArgument(args[1]!);
    const replyProgress = (): void => {
      const { acknowledged, required } = progress(ctx);
      ctx.reply.arrayHeader(2);
      ctx.reply.integer(acknowledged);
      ctx.reply.integer(required);
    };
    const now = progress(ctx);
    if (now.acknowledged >= now.required) {
      replyProgress();
      return;
    }
    ctx.client.block({
      ready: () => {
        const { acknowledged, required } = progress(ctx);
        return acknowledged >= required;
      },
      deadlineMs: performance.now() + timeoutMs,
      reply: replyProgress,
    });
  },
});

export const waitCommands: CommandSpec[] = [wait, waitall];
