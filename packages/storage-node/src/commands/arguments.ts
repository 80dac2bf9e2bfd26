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

/**
 * An int64 argument (Redis getLongLongFromObjectOrReply) used as an index, offset or count, where
 * every value beyond ±2^53 behaves like ±2^53: it is clamped to a safe JS integer. Out-of-int64
 * values are still the usual "not an integer" error.
 */
export function clampedIntegerArgument(bytes: Buffer): number {
  const value = parseInteger(bytes);
  if (value === null) throw errors.notInteger();
  if (typeof value === 'number') return value;
  return value > 0n ? Number.MAX_SAFE_INTEGER : -Number.MAX_SAFE_INTEGER;
}

/** An int64 argument as bigint-or-number (INCRBY and friends). */
export function int64Argument(bytes: Buffer): number | bigint {
  const value = parseInteger(bytes);
  if (value === null) throw errors.notInteger();
  return value;
}

/** Redis's MAX_LONG_DOUBLE_CHARS: string2ld refuses inputs of this length or longer. */
const FLOAT_TEXT_BYTES_MAX = 5 * 1024;
const DECIMAL_FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const HEX_FLOAT = /^([+-]?)0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?$/i;

/**
 * Redis string2ld (strtold) acceptance for floats: no leading or trailing space, not empty, decimal
 * or C99 hexadecimal notation ("0x1p-2"), "inf"/"infinity" in any case with an optional sign; NaN
 * never. The value is computed in IEEE double precision (Redis: long double).
 */
export function parseFloatStrict(bytes: Buffer): number | null {
  if (bytes.length === 0 || bytes.length >= FLOAT_TEXT_BYTES_MAX) return null;
  const text = bytes.toString('latin1', 0, bytes.length);
  const lower = text.toLowerCase();
  if (lower === 'inf' || lower === '+inf' || lower === 'infinity' || lower === '+infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  if (DECIMAL_FLOAT.test(text)) return Number(text);
  const hex = HEX_FLOAT.exec(text);
  if (hex === null) return null;
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = hex;
  if (whole.length === 0 && fraction.length === 0) return null;
  let value = 0;
  for (const digit of whole + fraction) value = value * 16 + Number.parseInt(digit, 16);
  value *= 2 ** (Number(exponent) - 4 * fraction.length);
  return sign === '-' ? -value : value;
}

export function floatArgument(bytes: Buffer): number {
  const value = parseFloatStrict(bytes);
  if (value === null) throw errors.notFloat();
  return value;
}

const UINT64_SPAN = 1n << 64n;

/**
 * A SCAN/HSCAN cursor with Redis's acceptance rules (strtoul in base 10): no leading space, an
 * optional sign, digits, nothing after them, within unsigned 64 bits; a negative number wraps
 * around as in C and the empty string is cursor 0. Null means "ERR invalid cursor".
 */
export function parseCursor(bytes: Buffer): bigint | null {
  if (bytes.length > 64) return null;
  const text = bytes.toString('latin1', 0, bytes.length);
  if (text.length === 0) return 0n;
  const match = /^([+-]?)(\d+)$/.exec(text);
  if (match === null) return null;
  const magnitude = BigInt(match[2]!);
  if (magnitude >= UINT64_SPAN) return null;
  return match[1] === '-' && magnitude !== 0n ? UINT64_SPAN - magnitude : magnitude;
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
