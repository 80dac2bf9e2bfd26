/**
 * Breaks a simulated (valid) history in one known way, each chosen so that the result is certainly
 * not linearizable, which a checker must then report:
 *
 * - stale-read: a read returns a value that a write completed before the read began had
 *   overwritten (that write itself invoked after the value's write completed);
 * - lost-write: an acknowledged write never takes effect: the reads that saw it see the previous
 *   value, and one of them began after the write completed (the previous value's write completed
 *   before this write was invoked);
 * - phantom-read: a read returns a value never written;
 * - duplicated-append: a read holds an element twice;
 * - lost-append: an acknowledged append vanishes from every read (a read, at least the final one,
 *   began after it completed);
 * - phantom-append: a read holds an element never appended;
 * - reordered-append: a read swaps two adjacent elements that a later read holds in order.
 */
import { shuffled } from '../shuffle.js';
import type { SimulatedHistory } from './simulation.js';
import type { HistoryOp } from './types.js';

export type HistoryMutation =
  | 'stale-read'
  | 'lost-write'
  | 'phantom-read'
  | 'duplicated-append'
  | 'lost-append'
  | 'phantom-append'
  | 'reordered-append';

export interface MutatedHistory {
  mutation: HistoryMutation;
  ops: HistoryOp[];
  /** The ops the mutation changed or hinges on. */
  targetOpIds: number[];
  description: string;
}

interface Change {
  targetOpIds: number[];
  description: string;
}

function copyOps(ops: readonly HistoryOp[]): HistoryOp[] {
  return ops.map((op) => (op.values === undefined ? { ...op } : { ...op, values: [...op.values] }));
}

function okOps(ops: readonly HistoryOp[], kind: HistoryOp['kind']): HistoryOp[] {
  return ops.filter((op) => op.kind === kind && op.result === 'ok');
}

function completed(op: HistoryOp): number {
  return op.completeUs ?? Number.POSITIVE_INFINITY;
}

/**
 * A copy of `history` with one mutation applied at a place chosen by `random`, or null when the
 * history has no place for it (too short, or the wrong workload).
 */
export function mutateHistory(
  history: SimulatedHistory,
  mutation: HistoryMutation,
  random: () => number,
): MutatedHistory | null {
  const ops = copyOps(history.ops);
  const change = mutators[mutation](ops, history.effectOrder, random);
  return change === null ? null : { mutation, ops, ...change };
}

type Mutator = (ops: HistoryOp[], effectOrder: readonly number[], random: () => number) => Change | null;

const mutators: Record<HistoryMutation, Mutator> = {
  'stale-read': staleRead,
  'lost-write': lostWrite,
  'phantom-read': (ops, _order, random) => {
    const read = shuffled(okOps(ops, 'read'), random)[0];
    if (read === undefined) return null;
    read.value = `phantom-${String(read.id)}`;
    return { targetOpIds: [read.id], description: `read ${String(read.id)} returns a value never written` };
  },
  'duplicated-append': (ops, _order, random) => {
    const read = shuffled(okOps(ops, 'readAll'), random).find((op) => (op.values ?? []).length > 0);
    if (read?.values === undefined) return null;
    const index = Math.floor(random() * read.values.length);
    read.values.splice(index, 0, read.values[index] ?? '');
    return { targetOpIds: [read.id], description: `read ${String(read.id)} holds element ${String(index)} twice` };
  },
  'lost-append': lostAppend,
  'phantom-append': (ops, _order, random) => {
    const read = shuffled(okOps(ops, 'readAll'), random)[0];
    if (read?.values === undefined) return null;
    read.values.push(`phantom-${String(read.id)}`);
    return { targetOpIds: [read.id], description: `read ${String(read.id)} holds an element never appended` };
  },
  'reordered-append': reorderedAppend,
};

/** A read returns the value of a write that a later write, completed before the read, overwrote. */
function staleRead(ops: HistoryOp[], _order: readonly number[], random: () => number): Change | null {
  const writes = okOps(ops, 'write');
  for (const read of shuffled(okOps(ops, 'read'), random)) {
    const before = writes.filter((write) => write.key === read.key && completed(write) < read.invokeUs);
    const overwrite = before.reduce<HistoryOp | undefined>(
      (latest, write) => (latest === undefined || write.invokeUs > latest.invokeUs ? write : latest),
      undefined,
    );
    const old = overwrite === undefined ? undefined : before.find((write) => completed(write) < overwrite.invokeUs);
    if (overwrite === undefined || old === undefined) continue;
    read.value = old.value;
    return {
      targetOpIds: [read.id, old.id, overwrite.id],
      description:
        `read ${String(read.id)} returns ${String(old.value)}, ` +
        `overwritten by write ${String(overwrite.id)} before it began`,
    };
  }
  return null;
}

/** An applied write with the write applied before it, and the reads that saw it. */
interface WriteSpan {
  previous: HistoryOp | null;
  write: HistoryOp;
  reads: HistoryOp[];
}

function byId(ops: readonly HistoryOp[]): Map<number, HistoryOp> {
  return new Map(ops.map((op) => [op.id, op]));
}

function writeSpans(ops: readonly HistoryOp[], effectOrder: readonly number[]): WriteSpan[] {
  const spans: WriteSpan[] = [];
  const current = new Map<string, WriteSpan>();
  const opsById = byId(ops);
  for (const id of effectOrder) {
    const op = opsById.get(id);
    if (op?.kind === 'write') {
      const span: WriteSpan = { previous: current.get(op.key)?.write ?? null, write: op, reads: [] };
      current.set(op.key, span);
      spans.push(span);
    }
    if (op?.kind === 'read' && op.result === 'ok') current.get(op.key)?.reads.push(op);
  }
  return spans;
}

function lostWrite(ops: HistoryOp[], effectOrder: readonly number[], random: () => number): Change | null {
  const candidates = writeSpans(ops, effectOrder).filter(
    ({ previous, write, reads }) =>
      write.result === 'ok' &&
      (previous === null || (previous.result === 'ok' && completed(previous) < write.invokeUs)) &&
      reads.some((read) => read.invokeUs > completed(write)),
  );
  const span = shuffled(candidates, random)[0];
  if (span === undefined) return null;
  const previousValue = span.previous?.value ?? null;
  for (const read of span.reads) read.value = previousValue;
  return {
    targetOpIds: [span.write.id, ...span.reads.map((read) => read.id)],
    description: `write ${String(span.write.id)} is acknowledged but never takes effect`,
  };
}

function lostAppend(ops: HistoryOp[], _order: readonly number[], random: () => number): Change | null {
  const reads = okOps(ops, 'readAll');
  const append = shuffled(okOps(ops, 'append'), random).find((candidate) =>
    reads.some((read) => read.key === candidate.key && read.invokeUs > completed(candidate)),
  );
  if (append === undefined) return null;
  for (const read of reads) {
    if (read.key !== append.key || read.values === undefined) continue;
    read.values = read.values.filter((element) => element !== append.value);
  }
  return { targetOpIds: [append.id], description: `append ${String(append.id)} is acknowledged but vanishes` };
}

function reorderedAppend(ops: HistoryOp[], effectOrder: readonly number[], random: () => number): Change | null {
  const lastRead = new Map<string, number>();
  const opsById = byId(ops);
  for (const id of effectOrder) {
    const op = opsById.get(id);
    if (op?.kind === 'readAll' && op.result === 'ok') lastRead.set(op.key, id);
  }
  const read = shuffled(okOps(ops, 'readAll'), random).find(
    (candidate) => (candidate.values ?? []).length >= 2 && lastRead.get(candidate.key) !== candidate.id,
  );
  if (read?.values === undefined) return null;
  const index = Math.floor(random() * (read.values.length - 1));
  const [first, second] = [read.values[index] ?? '', read.values[index + 1] ?? ''];
  read.values[index] = second;
  read.values[index + 1] = first;
  const description = `read ${String(read.id)} swaps elements ${String(index)} and ${String(index + 1)}`;
  return { targetOpIds: [read.id], description };
}
