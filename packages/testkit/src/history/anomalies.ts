/**
 * Collects the anomalies of a check, at most `maxPerKey` listed per key (a broken key can produce
 * thousands of the same finding; the rest are counted), and builds the CheckReport.
 */
import type { Anomaly, CheckReport, HistoryOp } from './types.js';

export const defaultMaxAnomaliesPerKey = 10;

export class AnomalyCollector {
  private readonly listed: Anomaly[] = [];
  private readonly countByKey = new Map<string, number>();
  private omitted = 0;

  constructor(private readonly maxPerKey: number = defaultMaxAnomaliesPerKey) {
    if (!(maxPerKey >= 1)) throw new RangeError(`maxAnomaliesPerKey must be at least 1 (got ${String(maxPerKey)})`);
  }

  add(kind: string, key: string, message: string, ops: readonly HistoryOp[]): void {
    const count = (this.countByKey.get(key) ?? 0) + 1;
    this.countByKey.set(key, count);
    if (count > this.maxPerKey) this.omitted += 1;
    else this.listed.push({ kind, key, message, ops: ops.map((op) => ({ ...op })) });
  }

  /** Whether this key has an anomaly yet. */
  has(key: string): boolean {
    return this.countByKey.has(key);
  }

  report(checked: CheckReport['checked'], unknownKeys: string[], stats: Record<string, number>): CheckReport {
    const found = this.listed.length > 0;
    const valid = found ? false : unknownKeys.length > 0 ? 'unknown' : true;
    return {
      valid,
      checked,
      anomalies: this.listed,
      unknownKeys: [...unknownKeys].sort(),
      anomaliesOmitted: this.omitted,
      stats,
    };
  }
}
