// Proves the argument parsers accept exactly what Redis accepts: parseInteger is string2ll (int64,
// no sign but '-', no leading zeros or spaces), parseFloatStrict is string2ld (strtold without
// surrounding space, hex floats and inf, never NaN), parseCursor is strtoul as SCAN uses it, and
// isKeyword compares ASCII case-insensitively. The cases marked "Redis" were checked against
// redis-server 7.0.15 (test/storage-node/differential.test.ts sends the same inputs to both).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  addInt64,
  clampedIntegerArgument,
  floatArgument,
  integerArgument,
  isKeyword,
  parseCursor,
  parseFloatStrict,
  parseInteger,
} from '../src/commands/arguments.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('parseInteger (Redis string2ll)', () => {
  it.each([
    ['0', 0],
    ['1', 1],
    ['-1', -1],
    ['42', 42],
    ['9007199254740991', 9007199254740991],
    ['-9007199254740991', -9007199254740991],
    ['9007199254740992', 9007199254740992n],
    ['9223372036854775807', 9223372036854775807n],
    ['-9223372036854775808', -9223372036854775808n],
  ])('accepts %j as %s', (text, expected) => {
    expect(parseInteger(bytes(text))).toBe(expected);
  });

  it('returns numbers for safe integers and bigints only beyond them', () => {
    expect(typeof parseInteger(bytes('9007199254740991'))).toBe('number');
    expect(typeof parseInteger(bytes('9007199254740992'))).toBe('bigint');
    expect(typeof parseInteger(bytes('-9007199254740992'))).toBe('bigint');
  });

  it.each([
    '', '-', '+1', '01', '-0', '00', ' 1', '1 ', '1.0', '1e3', '0x10', 'abc', '1a', '--1', '9223372036854775808',
    '-9223372036854775809', '99999999999999999999', '000000000000000000001', '١',
  ])('refuses %j', (text) => {
    expect(parseInteger(bytes(text))).toBeNull();
  });

  it('round-trips every int64 written in decimal', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (value) => {
        const parsed = parseInteger(bytes(value.toString()));
        expect(parsed === null ? null : BigInt(parsed)).toBe(value);
      }),
    );
  });

  it('refuses any int64 with a leading zero or a plus sign', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 62n }), (value) => {
        expect(parseInteger(bytes(`0${value}`))).toBeNull();
        expect(parseInteger(bytes(`+${value}`))).toBeNull();
        expect(parseInteger(bytes(`-0${value}`))).toBeNull();
      }),
    );
  });
});

describe('integer arguments', () => {
  it('integerArgument refuses values beyond safe integers with the Redis error', () => {
    expect(integerArgument(bytes('123'))).toBe(123);
    expect(() => integerArgument(bytes('9223372036854775807'))).toThrow('ERR value is not an integer or out of range');
    expect(() => integerArgument(bytes('x'))).toThrow('ERR value is not an integer or out of range');
  });

  it('clampedIntegerArgument accepts every int64 and clamps beyond ±2^53', () => {
    expect(clampedIntegerArgument(bytes('-5'))).toBe(-5);
    expect(clampedIntegerArgument(bytes('9223372036854775807'))).toBe(Number.MAX_SAFE_INTEGER);
    expect(clampedIntegerArgument(bytes('-9223372036854775808'))).toBe(-Number.MAX_SAFE_INTEGER);
    expect(() => clampedIntegerArgument(bytes('9223372036854775808'))).toThrow('ERR value is not an integer or out of range');
  });

  it('addInt64 adds exactly and refuses to leave int64 (Redis INCRBY overflow error)', () => {
    expect(addInt64(1, 2)).toBe(3);
    expect(addInt64(9007199254740991, 1)).toBe(9007199254740992n);
    expect(addInt64(9223372036854775806n, 1)).toBe(9223372036854775807n);
    expect(() => addInt64(9223372036854775807n, 1)).toThrow('ERR increment or decrement would overflow');
    expect(() => addInt64(-9223372036854775808n, -1)).toThrow('ERR increment or decrement would overflow');
    expect(addInt64(-9223372036854775808n, 9223372036854775807n)).toBe(-1);
  });
});

describe('parseFloatStrict (Redis string2ld)', () => {
  it.each([
    ['0', 0],
    ['1.5', 1.5],
    ['-1.5', -1.5],
    ['+2', 2],
    ['.5', 0.5],
    ['5.', 5],
    ['1e3', 1000],
    ['1E-3', 0.001],
    ['5.0e3', 5000],
    ['10.50', 10.5],
    ['007', 7],
    ['0x10', 16],
    ['0X1P-2', 0.25],
    ['0x.8', 0.5],
    ['-0x1.8p1', -3],
    ['inf', Infinity],
    ['+inf', Infinity],
    ['-inf', -Infinity],
    ['Infinity', Infinity],
    ['-INFINITY', -Infinity],
  ])('accepts %j as %s', (text, expected) => {
    expect(parseFloatStrict(bytes(text))).toBe(expected);
  });

  it.each([
    '', ' 1', '1 ', '\t1', '1\n', 'abc', '1e', 'e5', '.', '-', '+', '1.2.3', '--1', '0x', '0x.', '0x1p', 'nan', 'NaN',
    '-nan', 'in', 'infinit', '1,5', '1_000',
  ])('refuses %j', (text) => {
    expect(parseFloatStrict(bytes(text))).toBeNull();
  });

  it('refuses texts of 5120 bytes or more (Redis MAX_LONG_DOUBLE_CHARS) and accepts shorter ones', () => {
    expect(parseFloatStrict(bytes(`1${'0'.repeat(5118)}`))).toBe(Number(`1${'0'.repeat(5118)}`));
    expect(parseFloatStrict(bytes(`1${'0'.repeat(5119)}`))).toBeNull();
  });

  it('round-trips every finite double written by JavaScript', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        expect(parseFloatStrict(bytes(String(value)))).toBe(value === 0 ? 0 : value);
      }),
    );
  });

  it('floatArgument throws the Redis error for a non-float', () => {
    expect(floatArgument(bytes('2.5'))).toBe(2.5);
    expect(() => floatArgument(bytes('two'))).toThrow('ERR value is not a valid float');
  });
});

describe('parseCursor (strtoul as SCAN reads it)', () => {
  it.each([
    ['0', 0n],
    ['', 0n],
    ['17', 17n],
    ['+5', 5n],
    ['007', 7n],
    ['-0', 0n],
    ['-1', 18446744073709551615n],
    ['18446744073709551615', 18446744073709551615n],
  ])('accepts %j as %s', (text, expected) => {
    expect(parseCursor(bytes(text))).toBe(expected);
  });

  it.each(['abc', ' 0', '0 ', '1.5', '0x10', '+', '-', '18446744073709551616', '-18446744073709551616', '1'.repeat(65)])(
    'refuses %j',
    (text) => {
      expect(parseCursor(bytes(text))).toBeNull();
    },
  );
});

describe('isKeyword', () => {
  it('compares ASCII letters case-insensitively and everything else exactly', () => {
    expect(isKeyword(bytes('ex'), 'EX')).toBe(true);
    expect(isKeyword(bytes('Ex'), 'EX')).toBe(true);
    expect(isKeyword(bytes('EX'), 'EX')).toBe(true);
    expect(isKeyword(bytes('keepttl'), 'KEEPTTL')).toBe(true);
    expect(isKeyword(bytes('lib-name'), 'LIB-NAME')).toBe(true);
    expect(isKeyword(bytes('EXX'), 'EX')).toBe(false);
    expect(isKeyword(bytes('E'), 'EX')).toBe(false);
    expect(isKeyword(bytes(''), 'EX')).toBe(false);
    expect(isKeyword(bytes('lib_name'), 'LIB-NAME')).toBe(false);
    // Bytes that are not ASCII letters are not folded: 0xE5 is not 'E' + 0x80, '{' is not '['.
    expect(isKeyword(Buffer.from([0xe5, 0x58]), 'EX')).toBe(false);
    expect(isKeyword(bytes('{'), '[')).toBe(false);
  });

  it('agrees with upper-casing for any ASCII spelling of a keyword', () => {
    const keywords = ['NX', 'XX', 'GET', 'KEEPTTL', 'PERSIST', 'MATCH', 'COUNT', 'TYPE'];
    fc.assert(
      fc.property(fc.constantFrom(...keywords), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), (keyword, lower) => {
        const spelled = [...keyword].map((letter, i) => (lower[i] ? letter.toLowerCase() : letter)).join('');
        expect(isKeyword(bytes(spelled), keyword)).toBe(true);
        expect(isKeyword(bytes(`${spelled}X`), keyword)).toBe(false);
      }),
    );
  });
});
