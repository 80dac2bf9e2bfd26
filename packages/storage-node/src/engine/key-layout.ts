/**
 * How keys are laid out in LMDB. A data key is
 *
 *   [slot u16 BE][FNV-1a32(key) u32 BE][key bytes]
 *
 * so every slot, and therefore every partition (a contiguous slot range), is one contiguous key
 * range: a partition snapshot is a range scan in one read transaction, and SCAN can resume from a
 * numeric cursor (slot << 32 | hash) that stays valid while keys come and go.
 *
 * The expiry index key is [expireAtMs u64 BE][data key], ordered by time for the active cycle.
 */
import { keyHashSlot, SLOT_COUNT } from '@ballast/cluster';

export const DATA_KEY_PREFIX_BYTES = 6;
const TWO_POW_32 = 0x1_0000_0000;

export function fnv1a32(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i]!;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function dataKey(key: Buffer, slot: number = keyHashSlot(key)): Buffer {
  const dbKey = Buffer.allocUnsafe(DATA_KEY_PREFIX_BYTES + key.length);
  dbKey.writeUInt16BE(slot, 0);
  dbKey.writeUInt32BE(fnv1a32(key), 2);
  key.copy(dbKey, DATA_KEY_PREFIX_BYTES);
  return dbKey;
}

export function userKeyOf(dbKey: Buffer): Buffer {
  return dbKey.subarray(DATA_KEY_PREFIX_BYTES);
}

export function slotOfDataKey(dbKey: Buffer): number {
  return dbKey.readUInt16BE(0);
}

/** The scan position of a data key: slot * 2^32 + hash (fits a JS number: 46 bits). */
export function scanPositionOf(dbKey: Buffer): number {
  return dbKey.readUInt16BE(0) * TWO_POW_32 + dbKey.readUInt32BE(2);
}

/** The smallest data key at a scan position. */
export function dataKeyAtPosition(position: number): Buffer {
  const start = Buffer.allocUnsafe(DATA_KEY_PREFIX_BYTES);
  start.writeUInt16BE(Math.floor(position / TWO_POW_32), 0);
  start.writeUInt32BE(position % TWO_POW_32, 2);
  return start;
}

export const SCAN_POSITION_END = SLOT_COUNT * TWO_POW_32;

/** The first data key of a slot, and the first key past a slot range's end. */
export function slotStartKey(slot: number): Buffer {
  const start = Buffer.alloc(2);
  start.writeUInt16BE(slot, 0);
  return start;
}

export function slotRangeEndKey(lastSlot: number): Buffer {
  return lastSlot + 1 >= SLOT_COUNT ? Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) : slotStartKey(lastSlot + 1);
}

export function expiryIndexKey(expireAtMs: number, dbKey: Buffer): Buffer {
  const indexKey = Buffer.allocUnsafe(8 + dbKey.length);
  indexKey.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(expireAtMs))), 0);
  dbKey.copy(indexKey, 8);
  return indexKey;
}

export function expiryIndexUpperBound(nowMs: number): Buffer {
  const bound = Buffer.allocUnsafe(8);
  bound.writeBigUInt64BE(BigInt(Math.floor(nowMs) + 1), 0);
  return bound;
}

export function parseExpiryIndexKey(indexKey: Buffer): { expireAtMs: number; dbKey: Buffer } {
  return { expireAtMs: Number(indexKey.readBigUInt64BE(0)), dbKey: indexKey.subarray(8) };
}
