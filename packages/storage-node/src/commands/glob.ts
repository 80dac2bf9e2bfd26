/**
 * Glob-style matching exactly as Redis's stringmatchlen (util.c): `*`, `?`, `[abc]`, `[^a]`, `[a-z]`
 * and `\x` escapes, over bytes. Its corner cases are kept on purpose, because KEYS, SCAN MATCH and
 * HSCAN MATCH must select the same keys as Redis:
 * - the subject is consumed first: an empty subject matches only the empty pattern (`*` does not
 *   match ""; KEYS and SCAN special-case a pattern of exactly `*`, see matchesScanPattern);
 * - an unterminated `[` class ends at the end of the pattern;
 * - in a class, `x-y` is a range even when y is `]`, and the ends are compared as signed chars (C
 *   `char` on x86-64), so ranges with bytes ≥ 0x80 behave as they do in Redis.
 * A hostile pattern cannot stall the server: once the rest of the pattern failed to match after a
 * `*` at every position, earlier stars give up too (Redis's skipLongerMatches), and recursion is
 * bounded by nesting depth as in Redis 7.
 */
const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;
const BACKSLASH = 0x5c;
const NESTING_MAX = 1000;

export function globMatches(pattern: Buffer, subject: Buffer): boolean {
  return matchFrom(pattern, 0, subject, 0, { skipLongerMatches: false }, 0);
}

/** KEYS, SCAN and HSCAN match everything, the empty key included, when the pattern is exactly `*`. */
export function matchesScanPattern(pattern: Buffer, subject: Buffer): boolean {
  return (pattern.length === 1 && pattern[0] === STAR) || globMatches(pattern, subject);
}

/** A byte as a C `char` on x86-64 (signed), for range comparisons. */
function signedChar(byte: number): number {
  return (byte << 24) >> 24;
}

function matchFrom(
  pattern: Buffer,
  p: number,
  subject: Buffer,
  s: number,
  state: { skipLongerMatches: boolean },
  nesting: number,
): boolean {
  if (nesting > NESTING_MAX) return false;
  const patternEnd = pattern.length;
  const subjectEnd = subject.length;
  while (p < patternEnd && s < subjectEnd) {
    switch (pattern[p]) {
      case STAR: {
        while (p + 1 < patternEnd && pattern[p + 1] === STAR) p++;
        if (p + 1 === patternEnd) return true;
        while (s < subjectEnd) {
          if (matchFrom(pattern, p + 1, subject, s, state, nesting + 1)) return true;
          if (state.skipLongerMatches) return false;
          s++;
        }
        // The rest of the pattern matches nowhere in the rest of the subject: no earlier star can
        // help by consuming more, so they all stop.
        state.skipLongerMatches = true;
        return false;
      }
      case QUESTION:
        s++;
        break;
      case OPEN: {
        p++;
        const negate = pattern[p] === CARET;
        if (negate) p++;
        let matched = false;
        const byte = subject[s]!;
        while (true) {
          if (pattern[p] === BACKSLASH && patternEnd - p >= 2) {
            p++;
            if (pattern[p] === byte) matched = true;
          } else if (pattern[p] === CLOSE) {
            break;
          } else if (p >= patternEnd) {
            // Unterminated class: step back so the p++ below lands on the pattern's end.
            p--;
            break;
          } else if (patternEnd - p >= 3 && pattern[p + 1] === DASH) {
            let low = signedChar(pattern[p]!);
            let high = signedChar(pattern[p + 2]!);
            if (low > high) [low, high] = [high, low];
            const c = signedChar(byte);
            if (c >= low && c <= high) matched = true;
            p += 2;
          } else if (pattern[p] === byte) {
            matched = true;
          }
          p++;
        }
        if (negate) matched = !matched;
        if (!matched) return false;
        s++;
        break;
      }
      case BACKSLASH:
        if (patternEnd - p >= 2) p++;
        if (pattern[p] !== subject[s]) return false;
        s++;
        break;
      default:
        if (pattern[p] !== subject[s]) return false;
        s++;
    }
    p++;
    if (s === subjectEnd) {
      while (p < patternEnd && pattern[p] === STAR) p++;
      break;
    }
  }
  return p === patternEnd && s === subjectEnd;
}
