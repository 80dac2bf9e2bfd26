/**
 * The stored form of one key's value. Every key is exactly one LMDB record, whatever its type, so a
 * write is one put, replication ships record images, and a partition snapshot is a range scan.
 *
 *   byte 0      type (1 = string, 2 = hash)
 *   bytes 1..8  absolute expiry time in Unix ms as a float64 LE; 0 = no expiry
 *   bytes 9..   payload: the string's bytes, or for a hash: u32 field count, then per field
 *               u32 name length, name, u32 value length, value (insertion order)
 *
 * Hashes are stored whole (like Redis's listpack encoding for small hashes): a field update rewrites
 * the record, which suits the object-shaped hashes this store is for. docs/storage.md says so.
 */

export const RECORD_HEADER_BYTES = 9;

export const enum RecordType {
  String = 1,
  Hash = 2,
}

export type HashFields = Map<string, Buffer>;

export type StoredValue =
  | { readonly type: RecordType.String; readonly value: Buffer; readonly expireAtMs: number }
  | { readonly type: RecordType.Hash; readonly fields: HashFields; readonly expireAtMs: number };

export function typeOfRecord(record: Buffer): RecordType {
  return record[0] as RecordType;
}

export function expireAtOfRecord(record: Buffer): number {
  return record.readDoubleLE(1);
}

export function encodeString(value: Buffer, expireAtMs: number): Buffer {
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + value.length);
  record[0] = RecordType.String;
  record.writeDoubleLE(expireAtMs, 1);
  value.copy(record, RECORD_HEADER_BYTES);
  return record;
}

/** Hash field names are kept as latin1 strings so any byte sequence round-trips as a Map key. */
export function fieldName(field: Buffer): string {
  return field.toString('latin1', 0, field.length);
}

export function fieldBytes(name: string): Buffer {
  return Buffer.from(name, 'latin1');
}

export function encodeHash(fields: HashFields, expireAtMs: number): Buffer {
  let size = RECORD_HEADER_BYTES + 4;
  for (const [name, value] of fields) size += 8 + name.length + value.length;
  const record = Buffer.allocUnsafe(size);
  record[0] = RecordType.Hash;
  record.writeDoubleLE(expireAtMs, 1);
  record.writeUInt32LE(fields.size, RECORD_HEADER_BYTES);
  let offset = RECORD_HEADER_BYTES + 4;
  for (const [name, value] of fields) {
    record.writeUInt32LE(name.length, offset);
    offset += 4;
    offset += record.write(name, offset, 'latin1');
    record.writeUInt32LE(value.length, offset);
    offset += 4;
    value.copy(record, offset);
    offset += value.length;
  }
  return record;
}

export function encodeValue(value: StoredValue): Buffer {
  return value.type === RecordType.String
    ? encodeString(value.value, value.expireAtMs)
    : encodeHash(value.fields, value.expireAtMs);
}

/** Decodes a record. The returned buffers are copies, safe to keep after the LMDB read ends. */
export function decodeRecord(record: Buffer): StoredValue {
  const type = record[0];
  const expireAtMs = record.readDoubleLE(1);
  if (type === RecordType.String) {
    return { type: RecordType.String, value: Buffer.from(record.subarray(RECORD_HEADER_BYTES)), expireAtMs };
  }
  if (type === RecordType.Hash) {
    const fields: HashFields = new Map();
    const count = record.readUInt32LE(RECORD_HEADER_BYTES);
    let offset = RECORD_HEADER_BYTES + 4;
    for (let i = 0; i < count; i++) {
      const nameLength = record.readUInt32LE(offset);
      offset += 4;
      const name = record.toString('latin1', offset, offset + nameLength);
      offset += nameLength;
      const valueLength = record.readUInt32LE(offset);
      offset += 4;
      fields.set(name, Buffer.from(record.subarray(offset, offset + valueLength)));
      offset += valueLength;
    }
    return { type: RecordType.Hash, fields, expireAtMs };
  }
  throw new Error(`corrupt record: unknown type byte ${String(type)}`);
}

/** A copy of a record with a different expiry time (EXPIRE and PERSIST rewrite only the header). */
export function withExpireAt(record: Buffer, expireAtMs: number): Buffer {
  const copy = Buffer.from(record);
  copy.writeDoubleLE(expireAtMs, 1);
  return copy;
}
