/** Generic key commands: deletion, existence, types, expiry, renames, iteration, database-wide. */
import {
  dataKeyAtPosition,
  DATA_KEY_PREFIX_BYTES,
  SCAN_POSITION_END,
  scanPositionOf,
  userKeyOf,
} from '../engine/key-layout.js';
import { expireAtOfRecord, withExpireAt } from '../engine/record.js';
import { CommandError, errors } from '../errors.js';
import { clampedIntegerArgument, isKeyword, parseCursor, parseInteger } from './arguments.js';
import { matchesScanPattern } from './glob.js';
import { readRecord, resolveKey, typeName, writeRecord } from './keyspace.js';
import { command, type CommandContext, type CommandSpec } from './types.js';

const END_KEY = Buffer.alloc(8, 0xff);

function keyCommand(spec: {
  name: string;
  arity: number;
  flags: CommandSpec['flags'];
  lastKey?: number;
  summary: string;
  since: string;
  complexity: string;
  handler: CommandSpec['handler'];
}): CommandSpec {
  return command({
    ...spec,
    firstKey: 1,
    lastKey: spec.lastKey ?? 1,
    keyStep: 1,
    group: 'generic',
  });
}

function deleteCommand(name: 'del' | 'unlink', summary: string, since: string): CommandSpec {
  return keyCommand({
    name,
    arity: -2,
    flags: name === 'unlink' ? ['write', 'fast'] : ['write'],
    lastKey: -1,
    summary,
    since,
    complexity: 'O(N) where N is the number of keys that will be removed.',
    handler(ctx, args) {
      let removed = 0;
      for (let i = 1; i < args.length; i++) {
        const ref = resolveKey(ctx, args[i]!);
        if (readRecord(ctx, ref) !== null) {
          writeRecord(ctx, ref, null);
          removed++;
        }
      }
      ctx.reply.integer(removed);
    },
  });
}

function countExisting(ctx: CommandContext, args: Buffer[]): number {
  let count = 0;
  for (let i = 1; i < args.length; i++) if (readRecord(ctx, resolveKey(ctx, args[i]!)) !== null) count++;
  return count;
}

const exists = keyCommand({
  name: 'exists',
  arity: -2,
  flags: ['readonly', 'fast'],
  lastKey: -1,
  summary: 'Determines whether one or more keys exist.',
  since: '1.0.0',
  complexity: 'O(N) where N is the number of keys to check.',
  handler(ctx, args) {
    ctx.reply.integer(countExisting(ctx, args));
  },
});

const touch = keyCommand({
  name: 'touch',
  arity: -2,
  flags: ['readonly', 'fast'],
  lastKey: -1,
  summary: 'Returns the number of existing keys out of those specified after updating the time they were last accessed.',
  since: '3.2.1',
  complexity: 'O(N) where N is the number of keys that will be touched.',
  handler(ctx, args) {
    ctx.reply.integer(countExisting(ctx, args));
  },
});

const type = keyCommand({
  name: 'type',
  arity: 2,
  flags: ['readonly', 'fast'],
  summary: 'Determines the type of value stored at a key.',
  since: '1.0.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    ctx.reply.simple(typeName(readRecord(ctx, resolveKey(ctx, args[1]!))));
  },
});

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/**
 * EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with the NX/XX/GT/LT conditions of Redis 7, in Redis's order
 * (expireGenericCommand): options first, then the amount (any int64; overflow of the unit
 * conversion or of adding the current time is "invalid expire time"), then the key. A time at or
 * before now deletes the key and answers 1.
 */
function expireCommand(name: string, unitMs: 1 | 1000, absolute: boolean, summary: string, since: string): CommandSpec {
  return keyCommand({
    name,
    arity: -3,
    flags: ['write', 'fast'],
    summary,
    since,
    complexity: 'O(1)',
    handler(ctx, args) {
      let nx = false;
      let xx = false;
      let gt = false;
      let lt = false;
      for (let i = 3; i < args.length; i++) {
        const option = args[i]!;
        if (isKeyword(option, 'NX')) nx = true;
        else if (isKeyword(option, 'XX')) xx = true;
        else if (isKeyword(option, 'GT')) gt = true;
        else if (isKeyword(option, 'LT')) lt = true;
        else {
          // Echoed like Redis, but bounded (limits.ts: values echoed in an error message).
          const shown = option.toString('utf8', 0, Math.min(option.length, ctx.server.limits.clientNameBytesMax));
          throw new CommandError('SYNTAX', `ERR Unsupported option ${shown}`);
        }
      }
      if (nx && (xx || gt || lt)) {
        throw new CommandError('SYNTAX', 'ERR NX and XX, GT or LT options at the same time are not compatible');
      }
      if (gt && lt) throw new CommandError('SYNTAX', 'ERR GT and LT options at the same time are not compatible');
      const amount = parseInteger(args[2]!);
      if (amount === null) throw errors.notInteger();
      let when = BigInt(amount);
      if (unitMs === 1000) {
        if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) throw errors.invalidExpire(name);
        when *= 1000n;
      }
      const basetime = absolute ? 0n : BigInt(ctx.nowMs);
      if (when > INT64_MAX - basetime) throw errors.invalidExpire(name);
      when += basetime;
      const expireAtMs = Number(when);
      const ref = resolveKey(ctx, args[1]!);
      const record = readRecord(ctx, ref);
      if (record === null) {
        ctx.reply.integer(0);
        return;
      }
      const current = expireAtOfRecord(record);
      const hasExpiry = current !== 0;
      if (
        (nx && hasExpiry) ||
        (xx && !hasExpiry) ||
        (gt && (!hasExpiry || expireAtMs <= current)) ||
        (lt && hasExpiry && expireAtMs >= current)
      ) {
        ctx.reply.integer(0);
        return;
      }
      if (expireAtMs <= ctx.nowMs) writeRecord(ctx, ref, null);
      else writeRecord(ctx, ref, withExpireAt(record, expireAtMs));
      ctx.reply.integer(1);
    },
  });
}

/** A stored expiry time as an int64 (times past 2^53 ms are doubles; 2^63 itself reads as INT64_MAX). */
function expiryAsInt64(expireAtMs: number): bigint {
  const value = BigInt(expireAtMs);
  return value > INT64_MAX ? INT64_MAX : value;
}

/** An integer reply as a number when it is a safe integer, else as a bigint. */
function integerReply(value: bigint): number | bigint {
  return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value;
}

/** TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 missing, -1 no expiry; seconds are rounded half up. */
function ttlCommand(name: string, output: 'seconds' | 'ms' | 'unix-seconds' | 'unix-ms', summary: string, since: string): CommandSpec {
  return keyCommand({
    name,
    arity: 2,
    flags: ['readonly', 'fast'],
    summary,
    since,
    complexity: 'O(1)',
    handler(ctx, args) {
      const record = readRecord(ctx, resolveKey(ctx, args[1]!));
      if (record === null) {
        ctx.reply.integer(-2);
        return;
      }
      const expireAtMs = expireAtOfRecord(record);
      if (expireAtMs === 0) {
        ctx.reply.integer(-1);
        return;
      }
      const absoluteMs = expiryAsInt64(expireAtMs);
      let ms = output === 'seconds' || output === 'ms' ? absoluteMs - BigInt(ctx.nowMs) : absoluteMs;
      if (ms < 0n) ms = 0n;
      const seconds = output === 'seconds' || output === 'unix-seconds';
      ctx.reply.integer(integerReply(seconds ? (ms + 500n) / 1000n : ms));
    },
  });
}

const persist = keyCommand({
  name: 'persist',
  arity: 2,
  flags: ['write', 'fast'],
  summary: 'Removes the expiration time of a key.',
  since: '2.2.0',
  complexity: 'O(1)',
  handler(ctx, args) {
    const ref = resolveKey(ctx, args[1]!);
    const record = readRecord(ctx, ref);
    if (record === null || expireAtOfRecord(record) === 0) {
      ctx.reply.integer(0);
      return;
    }
    writeRecord(ctx, ref, withExpireAt(record, 0));
    ctx.reply.integer(1);
  },
});

function renameCommand(name: 'rename' | 'renamenx', summary: string): CommandSpec {
  return keyCommand({
    name,
    arity: 3,
    flags: name === 'rename' ? ['write'] : ['write', 'fast'],
    lastKey: 2,
    summary,
    since: '1.0.0',
    complexity: 'O(1)',
    handler(ctx, args) {
      const source = resolveKey(ctx, args[1]!);
      const target = resolveKey(ctx, args[2]!);
      const record = readRecord(ctx, source);
      if (record === null) throw errors.noSuchKey();
      if (source.overlayKey === target.overlayKey) {
        if (name === 'rename') ctx.reply.simple('OK');
        else ctx.reply.integer(0);
        return;
      }
      if (name === 'renamenx' && readRecord(ctx, target) !== null) {
        ctx.reply.integer(0);
        return;
      }
      writeRecord(ctx, target, record);
      writeRecord(ctx, source, null);
      if (name === 'rename') ctx.reply.simple('OK');
      else ctx.reply.integer(1);
    },
  });
}

interface ScanOptions {
  pattern: Buffer | null;
  count: number;
  type: string | null;
}

/** SCAN's options as Redis parses them (scanGenericCommand); a pattern of exactly `*` is no filter. */
function parseScanOptions(args: Buffer[], from: number): ScanOptions {
  const options: ScanOptions = { pattern: null, count: 10, type: null };
  for (let i = from; i < args.length; i++) {
    if (isKeyword(args[i]!, 'MATCH') && i + 1 < args.length) {
      const pattern = args[++i]!;
      options.pattern = pattern.length === 1 && pattern[0] === 0x2a ? null : pattern;
    } else if (isKeyword(args[i]!, 'COUNT') && i + 1 < args.length) {
      options.count = clampedIntegerArgument(args[++i]!);
      if (options.count < 1) throw errors.syntax();
    } else if (isKeyword(args[i]!, 'TYPE') && i + 1 < args.length) {
      options.type = args[++i]!.toString('latin1').toLowerCase();
    } else throw errors.syntax();
  }
  return options;
}

/**
 * Walks live keys from scan position `cursor`: at least `count` stored keys are visited (more when
 * keys share a position), filtered by pattern and type. Returns the keys and the next cursor (0 at
 * the end).
 */
export function scanKeys(ctx: CommandContext, cursor: number, options: ScanOptions): { keys: Buffer[]; next: number } {
  if (cursor >= SCAN_POSITION_END) return { keys: [], next: 0 };
  const samePosition = (last: Buffer, next: Buffer): boolean =>
    last.compare(next, 0, DATA_KEY_PREFIX_BYTES, 0, DATA_KEY_PREFIX_BYTES) === 0;
  const { entries, next, ticket } = ctx.engine.scan(dataKeyAtPosition(cursor), END_KEY, options.count, samePosition);
  if (ticket > ctx.ticket) ctx.ticket = ticket;
  const keys: Buffer[] = [];
  for (const [dbKey] of entries) {
    const key = userKeyOf(dbKey);
    const record = readRecord(ctx, resolveKey(ctx, key));
    if (record === null) continue;
    if (options.type !== null && typeName(record) !== options.type) continue;
    if (options.pattern !== null && !matchesScanPattern(options.pattern, key)) continue;
    keys.push(key);
  }
  return { keys, next: next === null ? 0 : scanPositionOf(next) };
}

const scan = command({
  name: 'scan',
  arity: -2,
  flags: ['readonly'],
  group: 'generic',
  summary: 'Iterates over the key names in the database.',
  since: '2.8.0',
  complexity: 'O(1) for every call. O(N) for a complete iteration.',
  handler(ctx, args) {
    const cursor = parseCursor(args[1]!);
    if (cursor === null) throw errors.invalidCursor();
    const position = cursor >= BigInt(SCAN_POSITION_END) ? SCAN_POSITION_END : Number(cursor);
    const { keys, next } = scanKeys(ctx, position, parseScanOptions(args, 2));
    ctx.reply.arrayHeader(2);
    ctx.reply.bulkString(String(next));
    ctx.reply.arrayHeader(keys.length);
    for (const key of keys) ctx.reply.bulk(key);
  },
});

const keys = command({
  name: 'keys',
  arity: 2,
  flags: ['readonly'],
  group: 'generic',
  summary: 'Returns all key names that match a pattern.',
  since: '1.0.0',
  complexity: 'O(N) with N being the number of keys in the database.',
  handler(ctx, args) {
    const found: Buffer[] = [];
    // As in Redis, KEYS * lists every key (the empty key too, which the glob `*` alone would not match).
    const allKeys = args[1]!.length === 1 && args[1]![0] === 0x2a;
    let cursor = 0;
    do {
      const page = scanKeys(ctx, cursor, { pattern: allKeys ? null : args[1]!, count: 1000, type: null });
      found.push(...page.keys);
      cursor = page.next;
    } while (cursor !== 0);
    ctx.reply.arrayHeader(found.length);
    for (const key of found) ctx.reply.bulk(key);
  },
});

const dbsize = command({
  name: 'dbsize',
  arity: 1,
  flags: ['readonly', 'fast'],
  group: 'server',
  summary: 'Returns the number of keys in the database.',
  since: '1.0.0',
  complexity: 'O(1)',
  handler(ctx) {
    ctx.reply.integer(ctx.engine.keyCount());
  },
});

function flushLedPartitions(ctx: CommandContext): void {
  for (let partition = 0; partition < ctx.engine.partitionCount; partition++) {
    if (!ctx.engine.mayWrite(partition)) continue;
    const { start, end } = ctx.engine.partitionKeyRange(partition);
    const { entries } = ctx.engine.scan(start, end, Number.MAX_SAFE_INTEGER);
    for (const [dbKey] of entries) writeRecord(ctx, ctx.engine.refOfDataKey(dbKey), null);
  }
}

function flushCommand(name: 'flushall' | 'flushdb', summary: string): CommandSpec {
  return command({
    name,
    arity: -1,
    flags: ['write'],
    group: 'server',
    summary,
    since: '1.0.0',
    complexity: 'O(N) where N is the total number of keys in all databases',
    handler(ctx, args) {
      if (args.length > 2 || (args.length === 2 && !isKeyword(args[1]!, 'ASYNC') && !isKeyword(args[1]!, 'SYNC'))) {
        throw errors.syntax();
      }
      // As Redis (touchAllWatchedKeysInDb), only watched keys that exist when the database is
      // emptied make their watchers' EXEC fail; watching a key that was never there is unaffected.
      const existingWatched = new Set<string>();
      for (const client of ctx.server.clients()) {
        for (const overlayKey of client.watchedKeys) {
          if (existingWatched.has(overlayKey)) continue;
          const ref = ctx.engine.ref(userKeyOf(Buffer.from(overlayKey, 'latin1')));
          if (ctx.engine.lookup(ref).record !== null) existingWatched.add(overlayKey);
        }
      }
      if (ctx.engine.clusterMode) {
        // Cluster mode: as in Redis Cluster, a node empties what it serves (the partitions it
        // leads), and the deletes replicate like any write.
        flushLedPartitions(ctx);
      } else {
        const ticket = ctx.engine.clearAll();
        if (ticket > ctx.ticket) ctx.ticket = ticket;
      }
      for (const overlayKey of existingWatched) ctx.server.keyTouched(overlayKey);
      ctx.reply.simple('OK');
    },
  });
}

const randomkey = command({
  name: 'randomkey',
  arity: 1,
  flags: ['readonly'],
  group: 'generic',
  summary: 'Returns a random key name from the database.',
  since: '1.0.0',
  complexity: 'O(1)',
  handler(ctx) {
    for (let attempt = 0; attempt < 16 && ctx.engine.keyCount() > 0; attempt++) {
      const start = Math.floor(ctx.random() * SCAN_POSITION_END);
      let page = scanKeys(ctx, start, { pattern: null, count: 1, type: null });
      if (page.keys.length === 0 && page.next === 0) page = scanKeys(ctx, 0, { pattern: null, count: 1, type: null });
      const key = page.keys[0];
      if (key !== undefined) {
        ctx.reply.bulk(key);
        return;
      }
    }
    ctx.reply.null();
  },
});

export const keyCommands: CommandSpec[] = [
  deleteCommand('del', 'Deletes one or more keys.', '1.0.0'),
  deleteCommand('unlink', 'Asynchronously deletes one or more keys.', '4.0.0'),
  exists,
  touch,
  type,
  expireCommand('expire', 1000, false, 'Sets the expiration time of a key in seconds.', '1.0.0'),
  expireCommand('pexpire', 1, false, 'Sets the expiration time of a key in milliseconds.', '2.6.0'),
  expireCommand('expireat', 1000, true, 'Sets the expiration time of a key to a Unix timestamp.', '1.2.0'),
  expireCommand('pexpireat', 1, true, 'Sets the expiration time of a key to a Unix milliseconds timestamp.', '2.6.0'),
  ttlCommand('ttl', 'seconds', 'Returns the expiration time in seconds of a key.', '1.0.0'),
  ttlCommand('pttl', 'ms', 'Returns the expiration time in milliseconds of a key.', '2.6.0'),
  ttlCommand('expiretime', 'unix-seconds', 'Returns the expiration time of a key as a Unix timestamp.', '7.0.0'),
  ttlCommand('pexpiretime', 'unix-ms', 'Returns the expiration time of a key as a Unix milliseconds timestamp.', '7.0.0'),
  persist,
  renameCommand('rename', 'Renames a key and overwrites the destination.'),
  renameCommand('renamenx', 'Renames a key only when the target key name doesn\'t exist.'),
  scan,
  keys,
  dbsize,
  flushCommand('flushall', 'Removes all keys from all databases.'),
  flushCommand('flushdb', 'Remove all keys from the current database.'),
  randomkey,
];
