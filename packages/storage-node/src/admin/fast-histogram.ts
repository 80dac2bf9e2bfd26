/**
 * A labelled histogram cheap enough for the per-command hot path: observing is a bucket search
 * over a small array and three increments, no label hashing. It registers in a prom-client
 * Registry as an ordinary histogram (prom-client renders it with the other metrics).
 */
import type { Registry } from 'prom-client';

interface Series {
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly seriesByLabel = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** The series for one label value; keep it and call `observe` on it. */
  series(labelValue: string): { observe(value: number): void } {
    let series = this.seriesByLabel.get(labelValue);
    if (series === undefined) {
      series = { buckets: new Float64Array(this.upperBounds.length), sum: 0, count: 0 };
      this.seriesByLabel.set(labelValue, series);
    }
    const bounds = this.upperBounds;
    const target = series;
    return {
      observe(value: number): void {
        for (let i = 0; i < bounds.length; i++) {
          if (value <= bounds[i]!) {
            target.buckets[i]!++;
            break;
          }
        }
        target.sum += value;
        target.count++;
      },
    };
  }

  reset(): void {
    for (const series of this.seriesByLabel.values()) {
      series.buckets.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }

  /** prom-client's metric interface: cumulative buckets, sum and count per label value. */
  get(): { name: string; help: string; type: string; aggregator: string; values: unknown[] } {
    const values: unknown[] = [];
    for (const [labelValue, series] of this.seriesByLabel) {
      let cumulative = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        cumulative += series.buckets[i]!;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { le: this.upperBounds[i]!, [this.labelName]: labelValue },
          value: cumulative,
        });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', [this.labelName]: labelValue }, value: series.count });
      values.push({ metricName: `${this.name}_sum`, labels: { [this.labelName]: labelValue }, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: { [this.labelName]: labelValue }, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
