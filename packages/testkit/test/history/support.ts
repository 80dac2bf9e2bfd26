// Helpers for the history tests: a builder for small hand-written histories, and an exhaustive
// linearizability check of register histories (every order allowed by real time, memoized on the
// set placed and the register value) that the fast checker is compared against.
import type { HistoryOp, OpKind, OpResult } from '../../src/history/index.js';

/** Builds a history op by op; ids follow the calls; times are microseconds. */
export class HistoryBuilder {
  private readonly built: HistoryOp[] = [];

  constructor(private readonly key = 'k') {}

  write(process: number, value: string, invokeUs: number, completeUs: number | null, result: OpResult = 'ok'): this {
    return this.add(process, 'write', value, invokeUs, completeUs, result);
  }

  read(process: number, value: string | null, invokeUs: number, completeUs: number | null, result: OpResult = 'ok'): this {
    return this.add(process, 'read', value, invokeUs, completeUs, result);
  }

  append(process: number, value: string, invokeUs: number, completeUs: number | null, result: OpResult = 'ok'): this {
    return this.add(process, 'append', value, invokeUs, completeUs, result);
  }

  readAll(process: number, values: string[], invokeUs: number, completeUs: number | null, result: OpResult = 'ok'): this {
    this.add(process, 'readAll', null, invokeUs, completeUs, result);
    const op = this.built[this.built.length - 1];
    if (op !== undefined && result === 'ok') op.values = values;
    return this;
  }

  /** Continues on another key. */
  onKey(key: string): HistoryBuilder {
    const builder = new HistoryBuilder(key);
    builder.built.push(...this.built);
    return builder;
  }

  ops(): HistoryOp[] {
    return this.built.map((op) => ({ ...op }));
  }

  private add(
    process: number,
    kind: OpKind,
    value: string | null,
    invokeUs: number,
    completeUs: number | null,
    result: OpResult,
  ): this {
    const op: HistoryOp = {
      id: this.built.length,
      process,
      kind,
      key: this.key,
      value,
      invokeUs,
      completeUs: result === 'info' ? null : completeUs,
      result,
    };
    if (result !== 'ok') op.error = result === 'fail' ? 'refused' : 'timeout';
    this.built.push(op);
    return this;
  }
}

/**
 * Whether a register history is linearizable, by trying every order real time allows: `fail` ops
 * and `info` reads left out, `info` writes placed anywhere after their call or not at all. Keys
 * independently. Exponential: for histories of a dozen ops per key.
 */
export function bruteForceLinearizable(ops: readonly HistoryOp[]): boolean {
  const keys = new Set(ops.map((op) => op.key));
  const counts = (op: HistoryOp): boolean => op.result !== 'fail' && !(op.kind === 'read' && op.result === 'info');
  return [...keys].every((key) => bruteForceKey(ops.filter((op) => op.key === key && counts(op))));
}

function bruteForceKey(ops: readonly HistoryOp[]): boolean {
  if (ops.length > 20) throw new RangeError('too many ops for an exhaustive check');
  const completes = ops.map((op) => (op.result === 'info' ? Number.POSITIVE_INFINITY : (op.completeUs ?? 0)));
  const mandatory = ops.reduce((mask, op, index) => (op.result === 'info' ? mask : mask | (1 << index)), 0);
  const dead = new Set<string>();
  const search = (placed: number, value: string | null): boolean => {
    if ((placed & mandatory) === mandatory) return true;
    const memo = `${String(placed)}:${String(value)}`;
    if (dead.has(memo)) return false;
    for (let index = 0; index < ops.length; index += 1) {
      const op = ops[index];
      if (op === undefined || (placed & (1 << index)) !== 0 || !mayComeNext(index, placed)) continue;
      if (op.kind === 'read' && op.value !== value) continue;
      if (search(placed | (1 << index), op.kind === 'write' ? op.value : value)) return true;
    }
    dead.add(memo);
    return false;
  };
  // An op may come next when every op that completed before its call is placed.
  const mayComeNext = (index: number, placed: number): boolean =>
    ops.every((other, otherIndex) => (placed & (1 << otherIndex)) !== 0 || !(completes[otherIndex]! < ops[index]!.invokeUs));
  return search(0, null);
}
