/**
 * Running one command: arity and subcommand resolution, the handler, error conversion, statistics.
 * Shared by the connection's dispatch loop and EXEC.
 */
import { CommandError, errors } from '../errors.js';
import type { CommandContext, CommandSpec } from './types.js';

export function replyError(ctx: CommandContext, message: string): void {
  ctx.server.stats.errorReplies++;
  ctx.server.statistics.countError(message);
  ctx.reply.error(message);
}

/**
 * Resolves a subcommand when the spec has them. Returns null after replying with the error when the
 * subcommand is unknown or its arity is wrong.
 */
export function resolveSpec(ctx: CommandContext, spec: CommandSpec, args: Buffer[]): CommandSpec | null {
  if (!arityMatches(spec.arity, args.length)) {
    if (spec.name === 'exec') {
      // Redis (rejectCommand): a rejected EXEC discards the transaction and says why in an EXECABORT.
      discardTransaction(ctx);
      replyError(ctx, `EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command`);
    } else {
      replyError(ctx, errors.wrongArity(spec.name).message);
    }
    ctx.server.statistics.command(spec.name).rejectedCalls++;
    return null;
  }
  if (spec.subcommands === undefined) return spec;
  const subName = args[1]?.toString('latin1').toLowerCase() ?? '';
  const sub = spec.subcommands.get(subName);
  if (sub === undefined) {
    const shown = args[1]?.toString('utf8').slice(0, 128) ?? '';
    replyError(ctx, `ERR unknown subcommand '${shown}'. Try ${spec.name.toUpperCase()} HELP.`);
    ctx.server.statistics.command(spec.name).rejectedCalls++;
    return null;
  }
  if (!arityMatches(sub.arity, args.length)) {
    replyError(ctx, `ERR wrong number of arguments for '${sub.name}' command`);
    ctx.server.statistics.command(sub.name).rejectedCalls++;
    return null;
  }
  return sub;
}

/** Leaves MULTI and forgets the queued commands and the watched keys. */
export function discardTransaction(ctx: CommandContext): void {
  ctx.client.multiQueue = null;
  ctx.client.multiFailed = false;
  ctx.server.unwatchAll(ctx.client);
}

export function arityMatches(arity: number, argCount: number): boolean {
  return arity >= 0 ? argCount === arity : argCount >= -arity;
}

/** Runs a resolved command; a CommandError becomes an error reply, anything else propagates. */
export function runCommand(ctx: CommandContext, spec: CommandSpec, args: Buffer[]): boolean {
  const stats = ctx.server.statistics.command(spec.name);
  stats.calls++;
  try {
    spec.handler(ctx, args);
    return true;
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    stats.failedCalls++;
    replyError(ctx, error.message);
    return false;
  }
}
