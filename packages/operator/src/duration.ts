/**
 * Durations as Kubernetes users write them (`90s`, `5m`, `1h30m`, `250ms`), as in Go's
 * time.ParseDuration without fractions or negative values. Returns milliseconds, or null when the
 * text is not a duration.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(text: string): number | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 32) return null;
  const pattern = /(\d+)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    matched = pattern.lastIndex;
  }
  return matched === text.length && Number.isSafeInteger(total) ? total : null;
}
