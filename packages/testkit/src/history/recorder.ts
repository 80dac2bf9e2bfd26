/**
 * Records a history as concurrent clients run: `invoke` before sending a request, then exactly one
 * of `ok`, `fail` (certainly did not take effect) or `info` (outcome unknown) when it ends.
 *
 * Invariants (a broken one is a bug in the caller and throws, leaving the history as it was): a
 * process has at most one op outstanding; a process whose op ended `info` is retired (the caller
 * continues with a new process id, since the old op may still take effect at any time); each op
 * completes once; the clock never goes backwards.
 */
import { performance } from 'node:perf_hooks';
import { historyFromJsonl, historyToJsonl } from './jsonl.js';
import type { HistoryOp, OpKind } from './types.js';

/** Microseconds from the monotonic clock. */
export function monotonicMicroseconds(): number {
  return performance.now() * 1000;
}

/** What a read returned: `value` for `read`, `values` for `readAll`. */
export interface ReadOutcome {
  value?: string | null;
  values?: string[];
}

export class HistoryRecorder {
  private readonly recorded: HistoryOp[] = [];
  /** Ops invoked and not yet completed, by id. */
  private readonly pending = new Map<number, HistoryOp>();
  private readonly busyProcesses = new Set<number>();
  private readonly retiredProcesses = new Set<number>();
  private lastUs = Number.NEGATIVE_INFINITY;

  constructor(private readonly clock: () => number = monotonicMicroseconds) {}

  /** Records the invocation of an op and returns its id. `value`: what a write or append writes. */
  invoke(process: number, kind: OpKind, key: string, value: string | null = null): number {
    if (this.busyProcesses.has(process)) throw new Error(`process ${String(process)} already has an op outstanding`);
    if (this.retiredProcesses.has(process)) {
      throw new Error(`process ${String(process)} ended an op with info: continue with a new process id`);
    }
    if ((kind === 'write' || kind === 'append') && value === null) throw new Error(`${kind} needs a value`);
    const op: HistoryOp = {
      id: this.recorded.length,
      process,
      kind,
      key,
      value: kind === 'write' || kind === 'append' ? value : null,
      invokeUs: this.now(),
      completeUs: null,
      result: 'info',
    };
    this.recorded.push(op);
    this.pending.set(op.id, op);
    this.busyProcesses.add(process);
    return op.id;
  }

  /** The op took effect; a read passes what it returned. */
  ok(id: number, read: ReadOutcome = {}): void {
    const op = this.pendingOp(id);
    if (op.kind === 'readAll' && read.values === undefined) {
      throw new Error(`readAll op ${String(id)} completed ok without values`);
    }
    const completeUs = this.now();
    this.finish(op, 'ok');
    op.completeUs = completeUs;
    if (op.kind === 'read') op.value = read.value ?? null;
    if (op.kind === 'readAll') op.values = [...(read.values ?? [])];
  }

  /** The op certainly did not take effect. */
  fail(id: number, error: string): void {
    const op = this.pendingOp(id);
    const completeUs = this.now();
    this.finish(op, 'fail');
    op.completeUs = completeUs;
    op.error = error;
  }

  /** The outcome is unknown (timeout, connection lost): the op may take effect at any later time. */
  info(id: number, error: string): void {
    const op = this.pendingOp(id);
    this.finish(op, 'info');
    op.error = error;
    this.retiredProcesses.add(op.process);
  }

  /** Copies of the ops in id order; ops still pending count as `info`. */
  ops(): HistoryOp[] {
    return this.recorded.map((op) => {
      const copy: HistoryOp = { ...op };
      if (op.values !== undefined) copy.values = [...op.values];
      if (this.pending.has(op.id)) copy.error = 'still pending when the history was taken';
      return copy;
    });
  }

  toJsonl(): string {
    return historyToJsonl(this.ops());
  }

  static fromJsonl(text: string): HistoryOp[] {
    return historyFromJsonl(text);
  }

  private pendingOp(id: number): HistoryOp {
    const op = this.pending.get(id);
    if (op !== undefined) return op;
    throw new Error(id >= 0 && id < this.recorded.length ? `op ${String(id)} already completed` : `no op ${String(id)}`);
  }

  private finish(op: HistoryOp, result: HistoryOp['result']): void {
    this.pending.delete(op.id);
    this.busyProcesses.delete(op.process);
    op.result = result;
  }

  private now(): number {
    const timeUs = this.clock();
    const last = this.lastUs;
    if (!Number.isFinite(timeUs) || timeUs < last) {
      throw new Error(`clock went backwards or is not finite (${String(timeUs)} after ${String(last)})`);
    }
    this.lastUs = timeUs;
    return timeUs;
  }
}
