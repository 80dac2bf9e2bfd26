/** Per-server counters behind INFO commandstats/errorstats and the Prometheus metrics. */
export interface CommandStats {
  calls: number;
  failedCalls: number;
  rejectedCalls: number;
}

export class Statistics {
  readonly commands = new Map<string, CommandStats>();
  /** Error replies by their first word (ERR, WRONGTYPE, NOAUTH...). */
  readonly errors = new Map<string, number>();

  command(name: string): CommandStats {
    let stats = this.commands.get(name);
    if (stats === undefined) {
      stats = { calls: 0, failedCalls: 0, rejectedCalls: 0 };
      this.commands.set(name, stats);
    }
    return stats;
  }

  countError(message: string): void {
    const space = message.indexOf(' ');
    const prefix = space < 0 ? message : message.slice(0, space);
    this.errors.set(prefix, (this.errors.get(prefix) ?? 0) + 1);
  }

  reset(): void {
    this.commands.clear();
    this.errors.clear();
  }
}
