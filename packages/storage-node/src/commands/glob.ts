/**
 * Glob-style matching as Redis's stringmatchlen: `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\x` escapes,
 * over bytes. Recursion on `*` is bounded by collapsing repeated stars and by a step budget, so a
 * hostile pattern cannot stall the server (Redis added the same guard in 7.0).
 */
const STEP_BUDGET = 1_000_000;

export function globMatches(pattern: Buffer, subject: Buffer): boolean {
  const budget = { steps: 0 };
  return matchFrom(pattern, 0, subject, 0, budget) === true;
}

function matchFrom(pattern: Buffer, p: number, subject: Buffer, s: number, budget: { steps: number }): boolean | null {
  while (p < pattern.length) {
    if (++budget.steps > STEP_BUDGET) return null;
    const token = pattern[p]!;
    switch (token) {
      case 0x2a: {
        // '*'
        while (p + 1 < pattern.length && pattern[p + 1] === 0x2a) p++;
        if (p + 1 === pattern.length) return true;
        for (let start = s; start <= subject.length; start++) {
          const result = matchFrom(pattern, p + 1, subject, start, budget);
          if (result !== false) return result;
        }
        return false;
      }
      case 0x3f:
        // '?'
        if (s >= subject.length) return false;
        s++;
        break;
      case 0x5b: {
        // '['
        if (s >= subject.length) return false;
        p++;
        const negate = pattern[p] === 0x5e;
        if (negate) p++;
        let matched = false;
        while (p < pattern.length && pattern[p] !== 0x5d) {
          if (pattern[p] === 0x5c && p + 1 < pattern.length) {
            p++;
            if (pattern[p] === subject[s]) matched = true;
          } else if (p + 2 < pattern.length && pattern[p + 1] === 0x2d && pattern[p + 2] !== 0x5d) {
            let low = pattern[p]!;
            let high = pattern[p + 2]!;
            if (low > high) [low, high] = [high, low];
            const byte = subject[s]!;
            if (byte >= low && byte <= high) matched = true;
            p += 2;
          } else if (pattern[p] === subject[s]) {
            matched = true;
          }
          p++;
        }
        // An unterminated '[' matches like Redis: the class ends at the pattern's end.
        if (negate) matched = !matched;
        if (!matched) return false;
        s++;
        break;
      }
      case 0x5c:
        // '\' escapes the next byte
        if (p + 1 < pattern.length) p++;
        if (s >= subject.length || pattern[p] !== subject[s]) return false;
        s++;
        break;
      default:
        if (s >= subject.length || token !== subject[s]) return false;
        s++;
    }
    p++;
  }
  return s === subject.length;
}
