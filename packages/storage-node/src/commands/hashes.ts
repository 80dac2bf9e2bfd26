/** Hash commands. A hash is stored as one record (see engine/record.ts); semantics follow Redis 7. */
import { encodeHash, fieldBytes, fieldName, type HashFields } from '../engine/record.js';
import { CommandError, errors } from '../errors.js';
import { formatDouble } from '../resp/reply-writer.js';
import {
  addInt64,
  clampedIntegerArgument,
  floatArgument,
  int64Argument,
  isKeyword,
  parseCursor,
  parseFloatStrict,
  parseInteger,
} from './arguments.js';
import { hashOf, readRecord, readRecordCounted, resolveKey, writeRecord, type HashState } from './keyspace.js';
import { matchesScanPattern } from './glob.js';
import { command, type CommandContext, type CommandSpec } from './types.js';
import { fnv1a32 } from '../engine/key-layout.js';

function readHash(ctx: CommandContext, key: Buffer, counted = false): HashState | null {
  const ref = resolveKey(ctx, key);
  return hashOf(counted ? readRecordCounted(ctx, ref) : readRecord(ctx, ref));
}

/** Stores the hash (a new Map, never mutated after), or deletes the key when it has no fields. */
function writeHash(ctx: CommandContext, key: Buffer, fields: HashFields, expireAtMs: number): void {
  const ref = resolveKey(ctx, key);
  writeRecord(ctx, ref, fields.size === 0 ? null : encodeHash(fields, expireAtMs));
}

function hashCommand(spec: {
  name: string;
  arity: number;
  write: boolean;
  /** Writes are "denyoom" (may grow memory) unless they only remove (HDEL). */
  denyOom?: boolean;
  fast?: boolean;
  summary: string;
  since: string;
  complexity: string;
  handler: (ctx: CommandContext, args: Buffer[]) => void;
}): CommandSpec {
  const flags = spec.write ? (spec.denyOom === false ? (['write'] as const) : (['write', 'denyoom'] as const)) : (['readonly'] as const);
  return command({
    name: spec.name,
    arity: spec.arity,
    flags: spec.fast ? [...flags, 'fast'] : flags,
    firstKey: 1,
    lastKey: 1,
    keyStep: 1,
    group: 'hash',
    summary: spec.summary,
    since: spec.since,
    complexity: spec.complexity,
    handler: spec.handler,
  });
}

function setFields(ctx: CommandContext, args: Buffer[], name: string): number {
  if (args.length % 2 !== 0) throw errors.wrongArity(name);
  const current = readHash(ctx, args[1]!);
  const fields: HashFields = new Map(current?.fields);
  let added = 0;
  for (let i = 2; i < args.length; i += 2) {
    const field = fieldName(args[i]!);
    if (!fields.has(field)) added++;
    fields.set(field, Buffer.from(args[i + 1]!));
  }
  writeHash(ctx, args[1]!, fields, current?.expireAtMs ?? 0);
  return added;
}

const hset = hashCommand({
  name: 'hset',
  arity: -4,
  write: true,
  fast: true,
  summary: 'Creates or modifies the value of a field in a hash.',
  since: '2.0.0',
  complexity: 'O(N) where N is the number of fields in the hash (the record is rewritten).',
  handler(ctx, args) {
    ctx.reply.integer(setFields(ctx, args, 'hset'));
  },
});

const hmset = hashCommand({
  name: 'hmset',
  arity: -4,
  write: true,
  fast: true,
  summary: 'Sets the values of multiple fields.',
  since: '2.0.0',
  complexity: 'O(N) where N is the number of fields in the hash.',
  handler(ctx, args) {
    setFields(ctx, args, 'hmset');
    ctx.reply.simple('OK');
  },
});

const hsetnx = hashCommand({
  name: 'hsetnx',
  arity: 4,
  write: true,
  fast: true,
  summary: 'Sets the value of a field in a hash only when the field doesn\'t exist.',
  since: '2.0.0',
  complexity: 'O(N) where N is the number of fields in the hash.',
  handler(ctx, args) {
    const current = readHash(ctx, args[1]!);
    const field = fieldName(args[2]!);
    if (current?.fields.has(field)) {
      ctx.reply.integer(0);
      return;
    }
    const fields: HashFields = new Map(current?.fields);
    fields.set(field, Buffer.from(args[3]!));
    writeHash(ctx, args[1]!, fields, current?.expireAtMs ?? 0);
    ctx.reply.integer(1);
  },
});

const hget = hashCommand({
  name: 'hget',
  arity: 3,
  write: false,
  fast: true,
  summary: 'Returns the value of a field in a hash.',
  since: '2.0.0',
  complexity: 'O(1) after the record is read',
  handler(ctx, args) {
    const value = readHash(ctx, args[1]!, true)?.fields.get(fieldName(args[2]!));
    if (value === undefined) ctx.reply.null();
    else ctx.reply.bulk(value);
  },
});

const hmget = hashCommand({
  name: 'hmget',
  arity: -3,
  write: false,
  fast: true,
  summary: 'Returns the values of all fields in a hash.',
  since: '2.0.0',
  complexity: 'O(N) where N is the number of fields being requested.',
  handler(ctx, args) {
    const hash = readHash(ctx, args[1]!, true);
    ctx.reply.arrayHeader(args.length - 2);
    for (let i = 2; i < args.length; i++) {
      const value = hash?.fields.get(fieldName(args[i]!));
      if (value === undefined) ctx.reply.null();
      else ctx.reply.bulk(value);
    }
  },
});

const hdel = hashCommand({
  name: 'hdel',
  arity: -3,
  write: true,
  denyOom: false,
  fast: true,
  summary: 'Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.',
  since: '2.0.0',
  complexity: 'O(N) where N is the number of fields in the hash.',
  handler(ctx, args) {
    const current = readHash(ctx, args[1]!);
    if (current === null) {
      ctx.reply.integer(0);
      return;
    }
    const fields: HashFields = new Map(current.fields);
    let removed = 0;
    for (let i = 2; i < args.length; i++) if (fields.delete(fieldName(args[i]!))) removed++;
    if (removed > 0) writeHash(ctx, args[1]!, fields, current.expireAtMs);
    ctx.reply.integer(removed);
  },
});

function replyFields(ctx: CommandContext, hash: HashState | null, what: 'all' | 'keys' | 'values'): void {
  const fields = hash?.fields ?? new Map<string, Buffer>();
  if (what === 'all') ctx.reply.mapHeader(fields.size);
  else ctx.reply.arrayHeader(fields.size);
  for (const [name, value] of fields) {
    if (what !== 'values') ctx.reply.bulk(fieldBytes(name));
    if (what !== 'keys') ctx.reply.bulk(value);
  }
}

const hgetall = hashCommand({
  name: 'hgetall',
  arity: 2,
  write: false,
  summary: 'Returns all fields and values in a hash.',
  since: '2.0.0',
  complexity: 'O(N) where N is the size of the hash.',
  handler(ctx, args) {
    replyFields(ctx, readHash(ctx, args[1]!, true), 'all');
  },
});

const hkeys = hashCommand({
  name: 'hkeys',
  arity: 2,
  write: false,
  summary: 'Returns all fields in a hash.',
  since: '2.0.0',
  complexity: 'O(N) where N is the size of the hash.',
  handler(ctx, args) {
    replyFields(ctx, readHash(ctx, args[1]!, true), 'keys');
  },
});

const hvals = hashCommand({
  name: 'hvals',
  arity: 2,
  write: false,
  summary: 'Returns all values in a hash.',
  since: '2.0.0',
  complexity: 'O(N) where N is the size of the hash.',
  handler(ctx, args) {
    replyFields(ctx, readHash(ctx, args[1]!, true), 'values');
  },
});

const hlen = hashCommand({
  name: 'hlen',
  arity: 2,
  write: false,
  fast: true,
  summary: 'Returns the number of fields in a hash.',
  since: '2.0.0',
  complexity: 'O(1) after the record is read',
  handler(ctx, args) {
    ctx.reply.integer(readHash(ctx, args[1]!)?.fields.size ?? 0);
  },
});

const hexists = hashCommand({
  name: 'hexists',
  arity: 3,
  write: false,
  fast: true,
  summary: 'Determines whether a field exists in a hash.',
  since: '2.0.0',
  complexity: 'O(1) after the record is read',
  handler(ctx, args) {
    ctx.reply.integer(readHash(ctx, args[1]!)?.fields.has(fieldName(args[2]!)) ? 1 : 0);
  },
});

const hstrlen = hashCommand({
  name: 'hstrlen',
  arity: 3,
  write: false,
  fast: true,
  summary: 'Returns the length of the value of a field.',
  since: '3.2.0',
  complexity: 'O(1) after the record is read',
  handler(ctx, args) {
    ctx.reply.integer(readHash(ctx, args[1]!)?.fields.get(fieldName(args[2]!))?.length ?? 0);
  },
});

const hincrby = hashCommand({
  name: 'hincrby',
  arity: 4,
  write: true,
  fast: true,
  summary: 'Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn\'t exist.',
  since: '2.0.0',
  complexity: 'O(N) where N is the number of fields in the hash.',
  handler(ctx, args) {
    const increment = int64Argument(args[3]!);
    const current = readHash(ctx, args[1]!);
    const field = fieldName(args[2]!);
    const existing = current?.fields.get(field);
    let value: number | bigint = 0;
    if (existing !== undefined) {
      const parsed = parseInteger(existing);
      if (parsed === null) throw errors.hashNotInteger();
      value = parsed;
    }
    const next = addInt64(value, increment);
    const fields: HashFields = new Map(current?.fields);
    fields.set(field, Buffer.from(String(next), 'latin1'));
    writeHash(ctx, args[1]!, fields, current?.expireAtMs ?? 0);
    ctx.reply.integer(next);
  },
});

const hincrbyfloat = hashCommand({
  name: 'hincrbyfloat',
  arity: 4,
  write: true,
  fast: true,
  summary: 'Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn\'t exist.',
  since: '2.6.0',
  complexity: 'O(N) where N is the number of fields in the hash.',
  handler(ctx, args) {
    const increment = floatArgument(args[3]!);
    if (!Number.isFinite(increment)) throw new CommandError('NAN_OR_INFINITY', 'ERR value is NaN or Infinity');
    const current = readHash(ctx, args[1]!);
    const field = fieldName(args[2]!);
    const existing = current?.fields.get(field);
    let value = 0;
    if (existing !== undefined) {
      const parsed = parseFloatStrict(existing);
      if (parsed === null) throw errors.hashNotFloat();
      value = parsed;
    }
    const next = value + increment;
    if (!Number.isFinite(next)) {
      throw new CommandError('NAN_OR_INFINITY', 'ERR increment would produce NaN or Infinity');
    }
    const text = Buffer.from(formatDouble(next), 'latin1');
    const fields: HashFields = new Map(current?.fields);
    fields.set(field, text);
    writeHash(ctx, args[1]!, fields, current?.expireAtMs ?? 0);
    ctx.reply.bulk(text);
  },
});

/**
 * HSCAN. Small hashes are returned whole with cursor 0 (as Redis does for listpack hashes). Larger
 * ones are walked in order of the field-name hash; the cursor is the next hash value to visit, so a
 * field present for the whole scan is returned even if others come and go.
 */
const hscan = hashCommand({
  name: 'hscan',
  arity: -3,
  write: false,
  summary: 'Iterates over fields and values of a hash.',
  since: '2.8.0',
  complexity: 'O(1) for every call. O(N) for a complete iteration.',
  handler(ctx, args) {
    // Redis's order: the cursor, then the key (missing: an empty scan, whatever the options), then
    // the options.
    const cursorValue = parseCursor(args[2]!);
    if (cursorValue === null) throw errors.invalidCursor();
    const hash = readHash(ctx, args[1]!);
    if (hash === null) {
      ctx.reply.arrayHeader(2);
      ctx.reply.bulkString('0');
      ctx.reply.arrayHeader(0);
      return;
    }
    const cursor = cursorValue > 0xffffffffn ? 0x1_0000_0000 : Number(cursorValue);
    let pattern: Buffer | null = null;
    let count = 10;
    let noValues = false;
    for (let i = 3; i < args.length; i++) {
      if (isKeyword(args[i]!, 'MATCH') && i + 1 < args.length) pattern = args[++i]!;
      else if (isKeyword(args[i]!, 'COUNT') && i + 1 < args.length) {
        count = clampedIntegerArgument(args[++i]!);
        if (count < 1) throw errors.syntax();
      } else if (isKeyword(args[i]!, 'NOVALUES')) noValues = true;
      else throw errors.syntax();
    }
    const fields = [...hash.fields];
    let selected: Array<[string, Buffer]>;
    let nextCursor = 0;
    if (fields.length <= ctx.server.limits.hashScanWholeFieldsMax) {
      selected = fields;
    } else {
      const ordered = fields
        .map(([name, value]) => ({ name, value, position: fnv1a32(fieldBytes(name)) }))
        .filter((entry) => entry.position >= cursor)
        .sort((a, b) => a.position - b.position || (a.name < b.name ? -1 : 1));
      selected = [];
      let index = 0;
      while (index < ordered.length) {
        const position = ordered[index]!.position;
        if (selected.length >= count) {
          nextCursor = position;
          break;
        }
        // Fields with the same hash value are returned together, never split across calls.
        while (index < ordered.length && ordered[index]!.position === position) {
          selected.push([ordered[index]!.name, ordered[index]!.value]);
          index++;
        }
      }
    }
    if (pattern !== null) {
      const glob = pattern;
      selected = selected.filter(([name]) => matchesScanPattern(glob, fieldBytes(name)));
    }
    ctx.reply.arrayHeader(2);
    ctx.reply.bulkString(String(nextCursor));
    ctx.reply.arrayHeader(noValues ? selected.length : selected.length * 2);
    for (const [name, value] of selected) {
      ctx.reply.bulk(fieldBytes(name));
      if (!noValues) ctx.reply.bulk(value);
    }
  },
});

export const hashCommands: CommandSpec[] = [
  hset,
  hmset,
  hsetnx,
  hget,
  hmget,
  hdel,
  hgetall,
  hkeys,
  hvals,
  hlen,
  hexists,
  hstrlen,
  hincrby,
  hincrbyfloat,
  hscan,
];
