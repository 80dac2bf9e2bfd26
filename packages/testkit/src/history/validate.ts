/**
 * Checks a history against the invariants of `HistoryOp` before any checker trusts it, and splits it
 * by key (keys are checked independently: linearizability is compositional).
 */
import { InvalidHistoryError, type HistoryOp, type OpKind } from './types.js';

const kinds: ReadonlySet<string> = new Set<OpKind>(['read', 'write', 'append', 'readAll']);
const results: ReadonlySet<string> = new Set(['ok', 'fail', 'info']);

/** Throws InvalidHistoryError naming the first operation that breaks an invariant. */
export function assertWellFormedHistory(ops: readonly HistoryOp[]): void {
  const ids = new Set<number>();
  for (const op of ops) {
    const problem = opProblem(op);
    if (problem !== null) throw new InvalidHistoryError(`op ${String(op.id)}: ${problem}`);
    if (ids.has(op.id)) throw new InvalidHistoryError(`op ${String(op.id)}: duplicate id`);
    ids.add(op.id);
  }
}

function opProblem(op: HistoryOp): string | null {
  if (!Number.isSafeInteger(op.id)) return 'id must be an integer';
  if (!Number.isSafeInteger(op.process)) return 'process must be an integer';
  if (!kinds.has(op.kind)) return `unknown kind ${JSON.stringify(op.kind)}`;
  if (!results.has(op.result)) return `unknown result ${JSON.stringify(op.result)}`;
  if (typeof op.key !== 'string') return 'key must be a string';
  if (op.value !== null && typeof op.value !== 'string') return 'value must be a string or null';
  if (!Number.isFinite(op.invokeUs)) return 'invokeUs must be a finite number';
  if (op.result !== 'info' && (op.completeUs === null || !(op.completeUs >= op.invokeUs))) {
    return `an ${op.result} op needs completeUs >= invokeUs (got ${String(op.completeUs)})`;
  }
  if (op.values !== undefined && !isStringArray(op.values)) return 'values must be an array of strings';
  if (op.error !== undefined && typeof op.error !== 'string') return 'error must be a string';
  if ((op.kind === 'write' || op.kind === 'append') && op.value === null) return `${op.kind} without a value`;
  if (op.kind === 'readAll' && op.result === 'ok' && !isStringArray(op.values)) return 'ok readAll without values';
  return null;
}

function isStringArray(values: unknown): values is string[] {
  return Array.isArray(values) && values.every((value) => typeof value === 'string');
}

/** The ops of some kinds split by key, and the counts every checker reports. */
export interface KeyedHistory {
  /** Each key's ops in invocation order (invokeUs, then id); keys in sorted order. */
  byKey: Map<string, HistoryOp[]>;
  checked: { keys: number; ops: number };
  counts: { failedOps: number; indeterminateReads: number };
}

/** Asserts `ops` well formed, then keeps those of `kindsWanted`, by key. */
export function splitByKey(ops: readonly HistoryOp[], kindsWanted: readonly OpKind[]): KeyedHistory {
  assertWellFormedHistory(ops);
  const unsorted = new Map<string, HistoryOp[]>();
  const counts = { failedOps: 0, indeterminateReads: 0 };
  let opCount = 0;
  for (const op of ops) {
    if (!kindsWanted.includes(op.kind)) continue;
    opCount += 1;
    if (op.result === 'fail') counts.failedOps += 1;
    if (op.result === 'info' && (op.kind === 'read' || op.kind === 'readAll')) counts.indeterminateReads += 1;
    const list = unsorted.get(op.key);
    if (list === undefined) unsorted.set(op.key, [op]);
    else list.push(op);
  }
  const byKey = new Map([...unsorted.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  for (const list of byKey.values()) list.sort(byInvocation);
  return { byKey, checked: { keys: byKey.size, ops: opCount }, counts };
}

export function byInvocation(a: HistoryOp, b: HistoryOp): number {
  return a.invokeUs - b.invokeUs || a.id - b.id;
}

/** When an op certainly completed; +infinity for `info` (it may take effect at any later time). */
export function completionUs(op: HistoryOp): number {
  return op.result === 'info' || op.completeUs === null ? Number.POSITIVE_INFINITY : op.completeUs;
}
