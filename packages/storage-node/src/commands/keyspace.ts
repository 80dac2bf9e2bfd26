/**
 * Typed, expiry-aware access to keys for command handlers. A key whose expiry time has passed reads
 * as absent and is deleted on the spot (lazy expiry); the active cycle removes the rest.
 */
import type { KeyRef } from '../engine/engine.js';
import {
  decodeRecord,
  expireAtOfRecord,
  RecordType,
  RECORD_HEADER_BYTES,
  typeOfRecord,
  type HashFields,
} from '../engine/record.js';
import { errors } from '../errors.js';
import type { CommandContext } from './types.js';

export function resolveKey(ctx: CommandContext, key: Buffer): KeyRef {
  if (key.length > ctx.server.limits.keyBytesMax) throw errors.keyTooLong(ctx.server.limits.keyBytesMax);
  return ctx.engine.ref(key);
}

/** The live record of a key, or null if it is absent or expired. */
export function readRecord(ctx: CommandContext, ref: KeyRef): Buffer | null {
  const record = ctx.engine.lookupRecord(ref);
  const ticket = ctx.engine.lookupTicket;
  if (ticket > ctx.ticket) ctx.ticket = ticket;
  if (record === null) return null;
  const expireAtMs = expireAtOfRecord(record);
  if (expireAtMs !== 0 && expireAtMs <= ctx.nowMs) {
    // Only the partition's primary deletes (and replicates the delete); a backup just hides it.
    if (ctx.engine.mayWrite(ref.partition)) {
      writeRecord(ctx, ref, null);
      ctx.server.stats.expiredKeys++;
    }
    return null;
  }
  return record;
}

/** Reads a key and counts a keyspace hit or miss (for commands that read values, as Redis does). */
export function readRecordCounted(ctx: CommandContext, ref: KeyRef): Buffer | null {
  const record = readRecord(ctx, ref);
  if (record === null) ctx.server.stats.keyspaceMisses++;
  else ctx.server.stats.keyspaceHits++;
  return record;
}

export function writeRecord(ctx: CommandContext, ref: KeyRef, record: Buffer | null): void {
  if (record !== null && record.length > ctx.server.limits.recordBytesMax) {
    throw errors.valueTooLarge(ctx.server.limits.recordBytesMax);
  }
  const ticket = ctx.engine.write(ref, record);
  if (ticket > ctx.ticket) ctx.ticket = ticket;
  if (ctx.engine.clusterMode) ctx.client.lastWrite = { partition: ref.partition, seq: ctx.engine.lastWriteSeq };
  ctx.server.keyTouched(ref.overlayKey);
}

/** A string value's bytes (a view into the record), null if absent; WRONGTYPE for other types. */
export function stringValueOf(record: Buffer | null): Buffer | null {
  if (record === null) return null;
  if (typeOfRecord(record) !== RecordType.String) throw errors.wrongType();
  return record.subarray(RECORD_HEADER_BYTES);
}

export interface HashState {
  fields: HashFields;
  expireAtMs: number;
}

export function hashOf(record: Buffer | null): HashState | null {
  if (record === null) return null;
  if (typeOfRecord(record) !== RecordType.Hash) throw errors.wrongType();
  const decoded = decodeRecord(record);
  return decoded.type === RecordType.Hash ? { fields: decoded.fields, expireAtMs: decoded.expireAtMs } : null;
}

export function typeName(record: Buffer | null): string {
  if (record === null) return 'none';
  return typeOfRecord(record) === RecordType.String ? 'string' : 'hash';
}
