/**
 * A keyed, coalescing work queue, as controllers use (client-go's workqueue): adding a key that is
 * already waiting does nothing; a key being processed is processed again once after it finishes if
 * it was added meanwhile (never twice at once); a failure retries with exponential back-off per
 * key, reset by a success; `addAt` schedules a key for later (a deadline, a poll), keeping the
 * earliest time asked for.
 */
export interface WorkQueueOptions {
  /** Back-off after the first failure of a key; doubles up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Keys processed at once (different keys only). */
  concurrency?: number;
}

export class WorkQueue {
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { atMs: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private running = 0;
  private stopped = false;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly concurrency: number;

  constructor(
    private readonly process: (key: string) => Promise<void>,
    private readonly onError: (key: string, error: unknown, retryInMs: number) => void,
    options: WorkQueueOptions = {},
  ) {
    this.baseBackoffMs = options.baseBackoffMs ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.concurrency = options.concurrency ?? 2;
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.ready.push(key);
    this.pump();
  }

  /** Processes `key` at `atMs` (ms since the epoch) at the latest; an earlier request wins. */
  addAt(key: string, atMs: number): void {
    if (this.stopped) return;
    const delayMs = atMs - Date.now();
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const existing = this.timers.get(key);
    if (existing !== undefined && existing.atMs <= atMs) return;
    if (existing !== undefined) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { atMs, timer });
  }

  /** Keys waiting or being processed (for tests and metrics). */
  get depth(): number {
    return this.queued.size + this.active.size;
  }

  /** Resolves once no key is being processed (after stop(): once the last reconcile finished). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  stop(): void {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.ready.length = 0;
    this.queued.clear();
  }

  private pump(): void {
    while (!this.stopped && this.running < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      this.running++;
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    try {
      await this.process(key);
      this.failures.delete(key);
    } catch (error) {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      const retryInMs = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** (failures - 1));
      this.onError(key, error, retryInMs);
      this.addAt(key, Date.now() + retryInMs);
    } finally {
      this.active.delete(key);
      this.running--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
