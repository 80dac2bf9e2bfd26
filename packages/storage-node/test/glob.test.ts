// Proves globMatches is Redis's stringmatchlen, corner cases included: every row below was checked
// against redis-server 7.0.15 (KEYS with the pattern over a database holding only the subject), so
// KEYS, SCAN MATCH and HSCAN MATCH select the same keys as Redis. Patterns and subjects are bytes
// (latin1 here, so '\xe9' is the single byte 0xE9).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { globMatches, matchesScanPattern } from '../src/commands/glob.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

/** [pattern, subject, does Redis match it]. */
const REDIS_CASES: Array<[string, string, boolean]> = [
  ['**', '', false],
  ['', '', true],
  ['', 'a', false],
  ['a', '', false],
  ['?', '', false],
  ['a*', 'a', true],
  ['a*', 'abc', true],
  ['a*', 'ba', false],
  ['*a', 'bba', true],
  ['*a', 'ab', false],
  ['a*b', 'ab', true],
  ['a*b', 'axxb', true],
  ['a*b', 'axxbc', false],
  ['a*b*c', 'abc', true],
  ['a*b*c', 'aXbYc', true],
  ['a*b*c', 'acb', false],
  ['*?', '', false],
  ['*?', 'a', true],
  ['?*', 'a', true],
  ['a?*', 'a', false],
  ['h?llo', 'hello', true],
  ['h?llo', 'hllo', false],
  ['h?llo', 'heello', false],
  ['???', 'abc', true],
  ['???', 'ab', false],
  ['h[ae]llo', 'hello', true],
  ['h[ae]llo', 'hallo', true],
  ['h[ae]llo', 'hillo', false],
  ['h[^e]llo', 'hallo', true],
  ['h[^e]llo', 'hello', false],
  ['h[^e]llo', 'hllo', false],
  ['h[a-b]llo', 'hbllo', true],
  ['h[a-b]llo', 'hcllo', false],
  ['h[b-a]llo', 'hallo', true],
  ['h[b-a]llo', 'hcllo', false],
  ['[a-c]', 'b', true],
  ['[a-c]', '-', false],
  ['[a-]', '-', false],
  ['[a-]', 'a', true],
  ['[a-]', ']', true],
  ['[a-]', '^', true],
  ['[a-]', 'b', false],
  ['[-a]', '-', true],
  ['[-a]', 'a', true],
  ['[-a]', 'b', false],
  ['[]]', ']', false],
  ['[]]', '', false],
  ['[]a]', 'a', false],
  ['[]a]', ']', false],
  ['[]a]', ']a]', false],
  ['[^]]', 'a', false],
  ['[^]]', ']', false],
  ['[^]a]', ']a]', true],
  ['[', '[', false],
  ['[', 'a', false],
  ['[a', 'a', true],
  ['[a', 'b', false],
  ['[^', 'x', true],
  ['[^', '', false],
  ['a[', 'a', false],
  ['a[', 'ab', false],
  ['[abc', 'c', true],
  ['[a-c', 'b', true],
  ['[a-c', 'd', false],
  ['h\\[llo', 'h[llo', true],
  ['h\\[llo', 'hallo', false],
  ['h\\*llo', 'h*llo', true],
  ['h\\*llo', 'hxllo', false],
  ['h\\?llo', 'h?llo', true],
  ['h\\?llo', 'hallo', false],
  ['\\', '\\', true],
  ['a\\', 'a\\', true],
  ['a\\', 'a', false],
  ['\\a', 'a', true],
  ['\\\\', '\\', true],
  ['[\\]]', ']', true],
  ['[\\-]', '-', true],
  ['[\\-]', '\\', false],
  ['[\\', '\\', true],
  ['[\\', 'a', false],
  ['[\\\\]', '\\', true],
  ['[a\\]', ']', true],
  ['[a\\]', 'a', true],
  ['[*]', '*', true],
  ['[*]', 'a', false],
  ['[?]', '?', true],
  ['[?]', 'a', false],
  ['[!a]', '!', true],
  ['[!a]', 'b', false],
  ['*[', 'a[', false],
  ['*[', 'ab', false],
  ['*[ab', 'xb', true],
  ['key:*', 'key:1', true],
  ['key:??*', 'key:1', false],
  ['key:??*', 'key:12', true],
  ['*:1*', 'user:10', true],
  ['*.*', 'foo.bar', true],
  ['*o', 'foo', true],
  ['*llo*', 'hello world', true],
  ['*ll*o', 'hello', true],
  ['a**c', 'abc', true],
  ['a**c', 'ac', true],
  ['[a-z]*[0-9]', 'abc1', true],
  ['[a-z]*[0-9]', '1abc', false],
  ['*a*a*a*a*a*a*a*a*a*a*b', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', false],
  ['*a*a*a*a*a*a*a*a*a*a*a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', true],
  ['[a-\xe9]', 'b', false],
  ['[\xe9-z]', 'b', true],
];

describe('globMatches', () => {
  it.each(REDIS_CASES)('%j against %j is %s, as in Redis', (pattern, subject, expected) => {
    expect(globMatches(bytes(pattern), bytes(subject))).toBe(expected);
  });

  it('* matches every non-empty subject but not the empty one (stringmatchlen consumes the subject first)', () => {
    expect(globMatches(bytes('*'), bytes('anything'))).toBe(true);
    expect(globMatches(bytes('*'), bytes('x'))).toBe(true);
    expect(globMatches(bytes('*'), bytes(''))).toBe(false);
    expect(globMatches(bytes('**'), bytes(''))).toBe(false);
  });

  it('KEYS/SCAN treat a pattern of exactly * as "everything", the empty key included', () => {
    expect(matchesScanPattern(bytes('*'), bytes(''))).toBe(true);
    expect(matchesScanPattern(bytes('*'), bytes('k'))).toBe(true);
    expect(matchesScanPattern(bytes('**'), bytes(''))).toBe(false);
    expect(matchesScanPattern(bytes('k?'), bytes('k1'))).toBe(true);
    expect(matchesScanPattern(bytes('k?'), bytes('k'))).toBe(false);
  });

  it('matches bytes, including NUL and bytes above 0x7f', () => {
    expect(globMatches(Buffer.from([0x61, 0x00, 0x62]), Buffer.from([0x61, 0x00, 0x62]))).toBe(true);
    expect(globMatches(Buffer.from([0x61, 0x3f, 0x62]), Buffer.from([0x61, 0x00, 0x62]))).toBe(true);
    expect(globMatches(Buffer.from([0x2a, 0xff]), Buffer.from([0x01, 0x02, 0xff]))).toBe(true);
    expect(globMatches(Buffer.from([0x5b, 0xfe, 0xff, 0x5d]), Buffer.from([0xff]))).toBe(true);
    expect(globMatches(Buffer.from([0x5b, 0x5e, 0xff, 0x5d]), Buffer.from([0xff]))).toBe(false);
  });

  it('a pattern without special characters matches exactly itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', 'c', ':', '-', ']') }), fc.string({ unit: fc.constantFrom('a', 'b', 'c') }), (text, other) => {
        expect(globMatches(bytes(text), bytes(text))).toBe(true);
        expect(globMatches(bytes(text), bytes(other))).toBe(text === other);
      }),
    );
  });

  it('escaping every byte of a subject gives a pattern that matches exactly that subject', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 20 }), (subject) => {
        const pattern = Buffer.from([...subject].flatMap((byte) => [0x5c, byte]));
        expect(globMatches(pattern, Buffer.from(subject))).toBe(true);
        expect(globMatches(pattern, Buffer.concat([Buffer.from(subject), Buffer.from('x')]))).toBe(false);
      }),
    );
  });

  it('prefix* and *suffix agree with startsWith and endsWith on non-empty subjects', () => {
    const letters = fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 6 });
    fc.assert(
      fc.property(letters, letters, (affix, subject) => {
        fc.pre(subject.length > 0);
        expect(globMatches(bytes(`${affix}*`), bytes(subject))).toBe(subject.startsWith(affix));
        expect(globMatches(bytes(`*${affix}`), bytes(subject))).toBe(subject.endsWith(affix));
      }),
    );
  });

  it('answers a pathological pattern (many stars that cannot match) instead of backtracking forever', () => {
    const pattern = bytes(`${'*a'.repeat(40)}*b`);
    const subject = bytes('a'.repeat(5000));
    expect(globMatches(pattern, subject)).toBe(false);
    expect(globMatches(bytes(`${'*a'.repeat(40)}*`), subject)).toBe(true);
  });
});
