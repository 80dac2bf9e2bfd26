/** Parsing of numeric and option arguments with Redis's exact acceptance rules and error texts. */
import { errors } from '../errors.js';

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/**
 * Redis string2ll: optional '-', digits, no '+', no spaces, no leading zeros; within int64.
 * Returns a bigint only when the value does not fit a safe JS integer.
 */
export function parseInteger(bytes: Buffer): number | bigint | null {
  const length = bytes.length;
  if (length === 0 || length > 20) return null;
  let index = 0;
  const negative = bytes[0] === 0x2d;
  if (negative) {
    index = 1;
    if (length === 1) return null;
  }
  if (bytes[index] === 0x30) return length === 1 ? 0 : null;
  for (let i = index; i < length; i++) {
    const byte = bytes[i]!;
    if (byte < 0x30 || byte > 0x39) return null;
  }
  if (length - index <= 15) {
    let value = 0;
    for (let i = index; i < length; i++) value = value * 10 + (bytes[i]! - 0x30);
    return negative ? -value : value;
  }
  const big = BigInt(bytes.toString('latin1', 0, length));
  if (big > INT64_MAX || big < INT64_MIN) return null;
  return Number.isSafeInteger(Number(big)) ? Number(big) : big;
}

/** An integer argument that must fit a safe JS integer (counts, times, indexes). */
export function integerArgument(bytes: Buffer): number {
  const value = parseInteger(bytes);
  if (value === null || typeof value === 'bigint') throw errors.notInteger();
  return value;
}

/** An int64 argument as bigint-or-number (INCRBY and friends). */
export function int64Argument(bytes: Buffer): number | bigint {
  const value = parseInteger(bytes);
  if (value === null) throw errors.notInteger();
  return value;
}

/**
 * Redis string2ld / strtold acceptance for floats: no leading or trailing space, not empty, and
 * "inf"/"-inf" allowed where Redis allows them; NaN never.
 */
export function parseFloatStrict(bytes: Buffer): number | null {
  const text = bytes.toString('latin1', 0, bytes.length);
  if (text.length === 0 || text.length > 5000) return null;
  if (/^\s|\s$/.test(text)) return null;
  const lower = text.toLowerCase();
  if (lower === 'inf' || lower === '+inf' || lower === 'infinity' || lower === '+infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) {
    if (/^[+-]?0x[0-9a-f]+$/i.test(text)) return Number.parseInt(text, 16);
    return null;
  }
  const value = Number(text);
  return Number.isNaN(value) ? null : value;
}

export function floatArgument(bytes: Buffer): number {
  const value = parseFloatStrict(bytes);
  if (value === null) throw errors.notFloat();
  return value;
}

/** Case-insensitive comparison of an argument with an ASCII keyword given in upper case. */
export function isKeyword(bytes: Buffer, upperKeyword: string): boolean {
  if (bytes.length !== upperKeyword.length) return false;
  for (let i = 0; i < bytes.length; i++) {
    let byte = bytes[i]!;
    if (byte >= 0x61 && byte <= 0x7a) byte -= 0x20;
    if (byte !== upperKeyword.charCodeAt(i)) return false;
  }
  return true;
}

export function keywordOf(bytes: Buffer): string {
  return bytes.toString('latin1', 0, Math.min(bytes.length, 64)).toUpperCase();
}

export function toBigInt(value: number | bigint): bigint {
  return typeof value === 'bigint' ? value : BigInt(value);
}

/** Adds two int64 values; throws the Redis overflow error outside int64. */
export function addInt64(a: number | bigint, b: number | bigint): number | bigint {
  if (typeof a === 'number' && typeof b === 'number') {
    const sum = a + b;
    if (Number.isSafeInteger(sum)) return sum;
  }
  const sum = toBigInt(a) + toBigInt(b);
  if (sum > INT64_MAX || sum < INT64_MIN) throw errors.overflow();
  return Number.isSafeInteger(Number(sum)) ? Number(sum) : sum;
}

export const INT64 = { max: INT64_MAX, min: INT64_MIN };
