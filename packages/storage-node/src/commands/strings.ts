/** String commands: GET/SET and friends, counters, ranges. Semantics and error texts follow Redis 7. */
import { encodeString, expireAtOfRecord } from '../engine/record.js';
import { CommandError, errors } from '../errors.js';
import { formatDouble } from '../resp/reply-writer.js';
import {
  addInt64,
  floatArgument,
  int64Argument,
  clampedIntegerArgument,
  isKeyword,
  parseFloatStrict,
  parseInteger,
} from './arguments.js';
import { readRecord, readRecordCounted, resolveKey, stringValueOf, writeRecord } from './keyspace.js';
import { command, type CommandContext, type CommandSpec } from './types.js';

const OK = Buffer.from('+OK\r\n');

/**
 * The options of SET and GETEX, parsed as Redis's parseExtendedStringArgumentsOrReply does: NX and
 * XX exclude each other, KEEPTTL (SET) and PERSIST (GETEX) exclude every expiry unit, the four
 * units exclude each other but one may repeat (the last wins). The expiry amount is only checked
 * later (absoluteExpiry), so a syntax error is reported first.
 */
interface StringOptions {
  nx: boolean;
  xx: boolean;
  get: boolean;
  keepTtl: boolean;
  persist: boolean;
  unit: 'EX' | 'PX' | 'EXAT' | 'PXAT' | null;
  amount: Buffer | null;
}

const EXPIRY_UNITS = ['EX', 'PX', 'EXAT', 'PXAT'] as const;

function parseStringOptions(args: Buffer[], from: number, command: 'set' | 'getex'): StringOptions {
  const options: StringOptions = { nx: false, xx: false, get: false, keepTtl: false, persist: false, unit: null, amount: null };
  const isSet = command === 'set';
  for (let i = from; i < args.length; i++) {
    const option = args[i]!;
    const hasNext = i + 1 < args.length;
    const unit = EXPIRY_UNITS.find((name) => isKeyword(option, name));
    if (isSet && isKeyword(option, 'NX') && !options.xx) {
      options.nx = true;
    } else if (isSet && isKeyword(option, 'XX') && !options.nx) {
      options.xx = true;
    } else if (isSet && isKeyword(option, 'GET')) {
      options.get = true;
    } else if (isSet && isKeyword(option, 'KEEPTTL') && options.unit === null) {
      options.keepTtl = true;
    } else if (!isSet && isKeyword(option, 'PERSIST') && options.unit === null) {
      options.persist = true;
    } else if (
      unit !== undefined &&
      !options.keepTtl &&
      !options.persist &&
      (options.unit === null || options.unit === unit) &&
      hasNext
    ) {
      options.unit = unit;
      options.amount = args[++i]!;
    } else {
      throw errors.syntax();
    }
  }
  return options;
}

const INT64_MAX = 9223372036854775807n;
const INT64_MAX_BY_1000 = INT64_MAX / 1000n;

/**
 * The absolute Unix ms time of an EX/PX/EXAT/PXAT option, with Redis's checks and error texts
 * (getExpireMillisecondsOrReply): an int64, positive, and no overflow when converted to ms and
 * when the current time is added. Times beyond 2^53 ms are kept as the nearest double.
 */
function absoluteExpiry(ctx: CommandContext, unit: string, argument: Buffer, commandName: string): number {
  const parsed = parseInteger(argument);
  if (parsed === null) throw errors.notInteger();
  let milliseconds = BigInt(parsed);
  const seconds = unit === 'EX' || unit === 'EXAT';
  if (milliseconds <= 0n || (seconds && milliseconds > INT64_MAX_BY_1000)) throw errors.invalidExpire(commandName);
  if (seconds) milliseconds *= 1000n;
  if (unit === 'EX' || unit === 'PX') milliseconds += BigInt(ctx.nowMs);
  if (milliseconds > INT64_MAX) throw errors.invalidExpire(commandName);
  return Number(milliseconds);
}

/** Redis checkStringLength: APPEND and SETRANGE may not grow a string past proto-max-bulk-len. */
function stringTooLong(): CommandError {
  return new CommandError('VALUE_TOO_LARGE', 'ERR string exceeds maximum allowed size (proto-max-bulk-len)');
}

function readStringCounted(ctx: CommandContext, key: Buffer): Buffer | null {
  return stringValueOf(readRecordCounted(ctx, resolveKey(ctx, key)));
}

function replyBulkOrNull(ctx: CommandContext, value: Buffer | null): void {
  if (value === null) ctx.reply.null();
  else ctx.reply.bulk(value);
}

const get = command({
  name: 'get',
  arity: 2,
  flags: ['readonly', 'fast'],
  firstKey: 1,
  lastKey: 1,
  keyStep: 1,
  group: 'string',
  summary: 'Returns the string value of a key.',
  since: '1.0.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    replyBulkOrNull(ctx, readStringCounted(ctx, args[1]!));
  },
});

const set = command({
  name: 'set',
  arity: -3,
  flags: ['write', 'denyoom'],
  firstKey: 1,
  lastKey: 1,
  keyStep: 1,
  group: 'string',
  summary: 'Sets the string value of a key, ignoring its type. The key is created if it does not exist.',
  since: '1.0.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    const options = parseStringOptions(args, 3, 'set');
    const expireAtMs = options.amount === null ? null : absoluteExpiry(ctx, options.unit!, options.amount, 'set');
    const ref = resolveKey(ctx, args[1]!);
    const existing = readRecord(ctx, ref);
    // SET ... GET answers the old value (WRONGTYPE for another type) whether or not it then sets.
    const oldValue = options.get ? stringValueOf(existing) : null;
    const oldCopy = oldValue === null ? null : Buffer.from(oldValue);
    if ((options.nx && existing !== null) || (options.xx && existing === null)) {
      if (options.get) replyBulkOrNull(ctx, oldCopy);
      else ctx.reply.null();
      return;
    }
    let newExpireAtMs = 0;
    if (expireAtMs !== null) newExpireAtMs = expireAtMs;
    else if (options.keepTtl && existing !== null) newExpireAtMs = expireAtOfRecord(existing);
    if (newExpireAtMs !== 0 && newExpireAtMs <= ctx.nowMs) {
      // Already expired (EXAT/PXAT in the past): the key reads as absent, so it is not stored.
      if (existing !== null) writeRecord(ctx, ref, null);
    } else {
      writeRecord(ctx, ref, encodeString(args[2]!, newExpireAtMs));
    }
    if (options.get) replyBulkOrNull(ctx, oldCopy);
    else ctx.reply.raw(OK);
  },
});

function setWithExpiry(name: string, unit: 'EX' | 'PX', summary: string): CommandSpec {
  return command({
    name,
    arity: 4,
    flags: ['write', 'denyoom'],
    firstKey: 1,
    lastKey: 1,
    keyStep: 1,
    group: 'string',
    summary,
    since: unit === 'EX' ? '2.0.0' : '2.6.0',
    complexity: 'O(1)',
    handler(ctx, args) {
      const expireAtMs = absoluteExpiry(ctx, unit, args[2]!, name);
      writeRecord(ctx, resolveKey(ctx, args[1]!), encodeString(args[3]!, expireAtMs));
      ctx.reply.raw(OK);
    },
  });
}

const setnx = command({
  name: 'setnx',
  arity: 3,
  flags: ['write', 'denyoom', 'fast'],
  firstKey: 1,
  lastKey: 1,
  keyStep: 1,
  group: 'string',
  summary: 'Set the string value of a key only when the key does not exist.',
  since: '1.0.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    const ref = resolveKey(ctx, args[1]!);
    if (readRecord(ctx, ref) !== null) {
      ctx.reply.integer(0);
      return;
    }
    writeRecord(ctx, ref, encodeString(args[2]!, 0));
    ctx.reply.integer(1);
  },
});

const getset = command({
  name: 'getset',
  arity: 3,
  flags: ['write', 'denyoom', 'fast'],
  firstKey: 1,
  lastKey: 1,
  keyStep: 1,
  group: 'string',
  summary: 'Returns the previous string value of a key after setting it to a new value.',
  since: '1.0.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    const ref = resolveKey(ctx, args[1]!);
    const old = stringValueOf(readRecord(ctx, ref));
    const oldCopy = old === null ? null : Buffer.from(old);
    writeRecord(ctx, ref, encodeString(args[2]!, 0));
    replyBulkOrNull(ctx, oldCopy);
  },
});

const getdel = command({
  name: 'getdel',
  arity: 2,
  flags: ['write', 'fast'],
  firstKey: 1,
  lastKey: 1,
  keyStep: 1,
  group: 'string',
  summary: 'Returns the string value of a key after deleting the key.',
  since: '6.2.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    const ref = resolveKey(ctx, args[1]!);
    const value = stringValueOf(readRecordCounted(ctx, ref));
    if (value !== null) writeRecord(ctx, ref, null);
    replyBulkOrNull(ctx, value);
  },
});

const getex = command({
  name: 'getex',
  arity: -2,
  flags: ['write', 'fast'],
  firstKey: 1,
  lastKey: 1,
  keyStep: 1,
  group: 'string',
  summary: 'Returns the string value of a key after setting its expiration time.',
  since: '6.2.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    const options = parseStringOptions(args, 2, 'getex');
    const ref = resolveKey(ctx, args[1]!);
    const record = readRecordCounted(ctx, ref);
    const value = stringValueOf(record);
    if (value === null || record === null) {
      // As in Redis, a missing key answers nil before the expiry amount is looked at.
      ctx.reply.null();
      return;
    }
    const expireAtMs = options.amount === null ? null : absoluteExpiry(ctx, options.unit!, options.amount, 'getex');
    const valueCopy = Buffer.from(value);
    if (expireAtMs !== null) {
      if (expireAtMs <= ctx.nowMs) writeRecord(ctx, ref, null);
      else writeRecord(ctx, ref, encodeString(valueCopy, expireAtMs));
    } else if (options.persist && expireAtOfRecord(record) !== 0) {
      writeRecord(ctx, ref, encodeString(valueCopy, 0));
    }
    ctx.reply.bulk(valueCopy);
  },
});

const mget = command({
  name: 'mget',
  arity: -2,
  flags: ['readonly', 'fast'],
  firstKey: 1,
  lastKey: -1,
  keyStep: 1,
  group: 'string',
  summary: 'Atomically returns the string values of one or more keys.',
  since: '1.0.0',
  complexity: 'O(N) where N is the number of keys to retrieve.',
  handler(ctx, args) {
    ctx.reply.arrayHeader(args.length - 1);
    for (let i = 1; i < args.length; i++) {
      const record = readRecordCounted(ctx, resolveKey(ctx, args[i]!));
      let value: Buffer | null = null;
      try {
        value = stringValueOf(record);
      } catch (error) {
        // MGET answers nil for keys of other types instead of failing.
        if (!(error instanceof CommandError)) throw error;
      }
      replyBulkOrNull(ctx, value);
    }
  },
});

function msetCommand(name: 'mset' | 'msetnx'): CommandSpec {
  return command({
    name,
    arity: -3,
    flags: ['write', 'denyoom'],
    firstKey: 1,
    lastKey: -1,
    keyStep: 2,
    group: 'string',
    summary:
      name === 'mset'
        ? 'Atomically creates or modifies the string values of one or more keys.'
        : 'Atomically modifies the string values of one or more keys only when all keys don\'t exist.',
    since: '1.0.1',
    complexity: 'O(N) where N is the number of keys to set.',
    handler(ctx, args) {
      if (args.length % 2 !== 1) throw errors.wrongArity(name);
      const refs = [];
      for (let i = 1; i < args.length; i += 2) refs.push(resolveKey(ctx, args[i]!));
      if (name === 'msetnx') {
        for (const ref of refs) {
          if (readRecord(ctx, ref) !== null) {
            ctx.reply.integer(0);
            return;
          }
        }
      }
      for (let i = 0; i < refs.length; i++) writeRecord(ctx, refs[i]!, encodeString(args[2 + i * 2]!, 0));
      if (name === 'msetnx') ctx.reply.integer(1);
      else ctx.reply.raw(OK);
    },
  });
}

/** Adds `delta` to the integer stored at the key (0 if absent), keeping its expiry. */
function incrementBy(ctx: CommandContext, key: Buffer, delta: number | bigint): void {
  const ref = resolveKey(ctx, key);
  const record = readRecord(ctx, ref);
  const current = stringValueOf(record);
  let value: number | bigint = 0;
  if (current !== null) {
    const parsed = parseInteger(current);
    if (parsed === null) throw errors.notInteger();
    value = parsed;
  }
  const next = addInt64(value, delta);
  const expireAtMs = record === null ? 0 : expireAtOfRecord(record);
  writeRecord(ctx, ref, encodeString(Buffer.from(String(next), 'latin1'), expireAtMs));
  ctx.reply.integer(next);
}

function counterCommand(name: string, summary: string, arity: number, sign: 1 | -1 | 0): CommandSpec {
  return command({
    name,
    arity,
    flags: ['write', 'denyoom', 'fast'],
    firstKey: 1,
    lastKey: 1,
    keyStep: 1,
    group: 'string',
    summary,
    since: '1.0.0',
    complexity: 'O(1)',
    handler(ctx, args) {
      if (arity === 2) {
        incrementBy(ctx, args[1]!, sign);
        return;
      }
      const amount = int64Argument(args[2]!);
      if (name === 'decrby') {
        if (amount === -9223372036854775808n) throw new CommandError('OVERFLOW', 'ERR decrement would overflow');
        incrementBy(ctx, args[1]!, typeof amount === 'bigint' ? -amount : -amount);
      } else {
        incrementBy(ctx, args[1]!, amount);
      }
    },
  });
}

const incrbyfloat = command({
  name: 'incrbyfloat',
  arity: 3,
  flags: ['write', 'denyoom', 'fast'],
  firstKey: 1,
  lastKey: 1,
  keyStep: 1,
  group: 'string',
  summary: 'Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn\'t exist.',
  since: '2.6.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    // Redis checks the type and the stored value before the increment argument.
    const ref = resolveKey(ctx, args[1]!);
    const record = readRecord(ctx, ref);
    const current = stringValueOf(record);
    let value = 0;
    if (current !== null) {
      const parsed = parseFloatStrict(current);
      if (parsed === null) throw errors.notFloat();
      value = parsed;
    }
    const increment = floatArgument(args[2]!);
    const next = value + increment;
    if (!Number.isFinite(next)) {
      throw new CommandError('NAN_OR_INFINITY', 'ERR increment would produce NaN or Infinity');
    }
    const text = Buffer.from(formatDouble(next), 'latin1');
    writeRecord(ctx, ref, encodeString(text, record === null ? 0 : expireAtOfRecord(record)));
    ctx.reply.bulk(text);
  },
});

const append = command({
  name: 'append',
  arity: 3,
  flags: ['write', 'denyoom', 'fast'],
  firstKey: 1,
  lastKey: 1,
  keyStep: 1,
  group: 'string',
  summary: 'Appends a string to the value of a key. Creates the key if it doesn\'t exist.',
  since: '2.0.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    const ref = resolveKey(ctx, args[1]!);
    const record = readRecord(ctx, ref);
    const current = stringValueOf(record);
    const addition = args[2]!;
    const length = (current?.length ?? 0) + addition.length;
    if (length > ctx.server.limits.bulkBytesMax) throw stringTooLong();
    const value = current === null ? addition : Buffer.concat([current, addition], length);
    writeRecord(ctx, ref, encodeString(value, record === null ? 0 : expireAtOfRecord(record)));
    ctx.reply.integer(length);
  },
});

const strlen = command({
  name: 'strlen',
  arity: 2,
  flags: ['readonly', 'fast'],
  firstKey: 1,
  lastKey: 1,
  keyStep: 1,
  group: 'string',
  summary: 'Returns the length of a string value.',
  since: '2.2.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    ctx.reply.integer(stringValueOf(readRecord(ctx, resolveKey(ctx, args[1]!)))?.length ?? 0);
  },
});

const getrange = command({
  name: 'getrange',
  arity: 4,
  flags: ['readonly'],
  firstKey: 1,
  lastKey: 1,
  keyStep: 1,
  group: 'string',
  summary: 'Returns a substring of the string stored at a key.',
  since: '2.4.0',
  complexity: 'O(N) where N is the length of the returned string.',
  handler(ctx, args) {
    let start = clampedIntegerArgument(args[2]!);
    let end = clampedIntegerArgument(args[3]!);
    const value = stringValueOf(readRecordCounted(ctx, resolveKey(ctx, args[1]!)));
    const length = value?.length ?? 0;
    if (value === null || length === 0 || (start < 0 && end < 0 && start > end)) {
      ctx.reply.bulk(Buffer.alloc(0));
      return;
    }
    if (start < 0) start = length + start;
    if (end < 0) end = length + end;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= length) end = length - 1;
    if (start > end) {
      ctx.reply.bulk(Buffer.alloc(0));
      return;
    }
    ctx.reply.bulk(value.subarray(start, end + 1));
  },
});

const setrange = command({
  name: 'setrange',
  arity: 4,
  flags: ['write', 'denyoom'],
  firstKey: 1,
  lastKey: 1,
  keyStep: 1,
  group: 'string',
  summary: 'Overwrites a part of a string value with another by an offset. Creates the key if it doesn\'t exist.',
  since: '2.2.0',
  complexity: 'O(1), not counting the time taken to copy the new string in place.',
  handler(ctx, args) {
    const offset = clampedIntegerArgument(args[2]!);
    if (offset < 0) throw new CommandError('OUT_OF_RANGE', 'ERR offset is out of range');
    const patch = args[3]!;
    const ref = resolveKey(ctx, args[1]!);
    const record = readRecord(ctx, ref);
    const current = stringValueOf(record);
    if (patch.length === 0) {
      ctx.reply.integer(current?.length ?? 0);
      return;
    }
    const length = Math.max(current?.length ?? 0, offset + patch.length);
    if (offset + patch.length > ctx.server.limits.bulkBytesMax) throw stringTooLong();
    const value = Buffer.alloc(length);
    current?.copy(value, 0);
    patch.copy(value, offset);
    writeRecord(ctx, ref, encodeString(value, record === null ? 0 : expireAtOfRecord(record)));
    ctx.reply.integer(length);
  },
});

export const stringCommands: CommandSpec[] = [
  get,
  set,
  setnx,
  setWithExpiry('setex', 'EX', 'Sets the string value and expiration time of a key. Creates the key if it doesn\'t exist.'),
  setWithExpiry('psetex', 'PX', 'Sets both string value and expiration time in milliseconds of a key.'),
  getset,
  getdel,
  getex,
  mget,
  msetCommand('mset'),
  msetCommand('msetnx'),
  counterCommand('incr', 'Increments the integer value of a key by one.', 2, 1),
  counterCommand('decr', 'Decrements the integer value of a key by one.', 2, -1),
  counterCommand('incrby', 'Increments the integer value of a key by a number.', 3, 0),
  counterCommand('decrby', 'Decrements a number from the integer value of a key.', 3, 0),
  incrbyfloat,
  append,
  strlen,
  getrange,
  setrange,
];
