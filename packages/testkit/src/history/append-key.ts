/**
 * One key of the append workload, indexed for the checks of append-checker.ts: each element that
 * an append (ok or info) added gets a small integer id, and each ok readAll becomes an array of ids
 * with repeats and phantoms left out (those are reported on their own). Reads of long lists make
 * histories large (the sum of read lengths grows with the square of appends per key), so the hot
 * loops work on typed arrays, not strings and sets.
 */
import type { HistoryOp } from './types.js';
import { completionUs } from './validate.js';

/** One ok readAll as element ids. */
export interface IndexedRead {
  op: HistoryOp;
  elements: Int32Array;
  /** Whether `elements` is a prefix of the key's reference order (set by the order check). */
  isPrefix: boolean;
}

/** What one read held besides appended elements, once each. */
export interface ReadIrregularities {
  repeated: string[];
  phantoms: string[];
  /** Ids of elements whose append was invoked after the read completed. */
  fromTheFuture: number[];
}

export class AppendKey {
  /** ok and info appends, by element id. */
  readonly appenders: HistoryOp[][] = [];
  readonly elementNames: string[] = [];
  readonly failedAppenders = new Map<string, HistoryOp[]>();
  readonly okReads: HistoryOp[] = [];
  private readonly idOf = new Map<string, number>();
  /** Earliest invocation among each element's appenders. */
  private firstInvokeUs = new Float64Array(0);
  /** Per element id: the index of the last read that held it (finds repeats without a set). */
  private lastSeenIn = new Int32Array(0);

  constructor(
    readonly key: string,
    ops: readonly HistoryOp[],
  ) {
    for (const op of ops) {
      if (op.kind === 'readAll' && op.result === 'ok') this.okReads.push(op);
      if (op.kind === 'append' && op.value !== null) this.addAppend(op.value, op);
    }
    this.firstInvokeUs = Float64Array.from(this.appenders, (list) => Math.min(...list.map((op) => op.invokeUs)));
    this.lastSeenIn = new Int32Array(this.appenders.length).fill(-1);
  }

  private addAppend(element: string, op: HistoryOp): void {
    if (op.result === 'fail') {
      const failed = this.failedAppenders.get(element);
      if (failed === undefined) this.failedAppenders.set(element, [op]);
      else failed.push(op);
      return;
    }
    const id = this.idOf.get(element);
    if (id !== undefined) {
      this.appenders[id]?.push(op);
      return;
    }
    this.idOf.set(element, this.appenders.length);
    this.appenders.push([op]);
    this.elementNames.push(element);
  }

  get elementCount(): number {
    return this.appenders.length;
  }

  name(id: number): string {
    return this.elementNames[id] ?? `#${String(id)}`;
  }

  /** The first ok append of an element, else its first info append. */
  primaryAppend(id: number): HistoryOp | undefined {
    const appenders = this.appenders[id] ?? [];
    return appenders.find((append) => append.result === 'ok') ?? appenders[0];
  }

  /** The read `readIndex` of `okReads` as element ids, and what else it held. */
  indexRead(readIndex: number): { read: IndexedRead; irregular: ReadIrregularities } {
    const op = this.okReads[readIndex];
    if (op === undefined) throw new RangeError(`no read ${String(readIndex)}`);
    const values = op.values ?? [];
    const elements = new Int32Array(values.length);
    const irregular: ReadIrregularities = { repeated: [], phantoms: [], fromTheFuture: [] };
    const completeUs = completionUs(op);
    let count = 0;
    for (const element of values) {
      const id = this.idOf.get(element);
      if (id === undefined) {
        (irregular.phantoms.includes(element) ? irregular.repeated : irregular.phantoms).push(element);
        continue;
      }
      if (this.lastSeenIn[id] === readIndex) {
        irregular.repeated.push(element);
        continue;
      }
      this.lastSeenIn[id] = readIndex;
      elements[count] = id;
      count += 1;
      if ((this.firstInvokeUs[id] ?? 0) > completeUs) irregular.fromTheFuture.push(id);
    }
    return { read: { op, elements: elements.subarray(0, count), isPrefix: true }, irregular };
  }
}
