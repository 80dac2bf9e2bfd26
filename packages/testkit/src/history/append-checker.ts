/**
 * The append workload: each key is a list, `append` adds a unique element, `readAll` returns the
 * list. In a linearizable history every read returns a prefix of one order of the appends, and that
 * order agrees with real time. Per key, this finds:
 *
 * - duplicated: an element appears twice in one read;
 * - phantom: a read holds an element no append (that may have taken effect) added;
 * - future-read: a read holds an element whose append was invoked after the read completed;
 * - order-inconsistent: two reads neither of which is a prefix of the other, or an order that puts
 *   an append before one that completed before it was invoked;
 * - lost: an element that must be visible (its append was acknowledged, or a read returned it)
 *   before a read began is missing from every read that began after that, final reads included;
 * - stale-read: such an element is missing from some of those reads but present in others.
 *
 * `info` appends may or may not show up; the stats count those observed and not.
 */
import { AnomalyCollector } from './anomalies.js';
import { AppendKey, type IndexedRead, type ReadIrregularities } from './append-key.js';
import { formatTimeUs, formatValue } from './report-format.js';
import type { CheckReport, HistoryOp } from './types.js';
import { completionUs, splitByKey } from './validate.js';

export interface AppendCheckOptions {
  /** Anomalies listed per key; the rest are counted in `anomaliesOmitted` (default 10). */
  maxAnomaliesPerKey?: number;
}

interface AppendStats {
  okReads: number;
  indeterminateAppendsObserved: number;
  indeterminateAppendsUnobserved: number;
}

/** Checks the `append` and `readAll` ops of `ops` (other kinds are ignored). */
export function checkAppends(ops: HistoryOp[], options: AppendCheckOptions = {}): CheckReport {
  const collector = new AnomalyCollector(options.maxAnomaliesPerKey);
  const keyed = splitByKey(ops, ['append', 'readAll']);
  const stats = { ...keyed.counts, okReads: 0, indeterminateAppendsObserved: 0, indeterminateAppendsUnobserved: 0 };
  for (const [key, keyOps] of keyed.byKey) checkKey(new AppendKey(key, keyOps), collector, stats);
  return collector.report(keyed.checked, [], stats);
}

function checkKey(appendKey: AppendKey, collector: AnomalyCollector, stats: AppendStats): void {
  stats.okReads += appendKey.okReads.length;
  const reporter = new AppendReporter(appendKey, collector);
  const reads = appendKey.okReads.map((_, index) => {
    const { read, irregular } = appendKey.indexRead(index);
    reporter.irregularities(read.op, irregular);
    return read;
  });
  const visibility = visibilities(appendKey, reads);
  countIndeterminate(appendKey, visibility, stats);
  const reference = checkOrder(appendKey, reporter, reads);
  if (reference !== undefined) checkRealTimeOrder(appendKey, reporter, reference);
  checkVisibility(appendKey, reporter, reads, reference, visibility);
}

/** Builds the anomalies of one key; phantoms and future reads once per element. */
class AppendReporter {
  private readonly reported = new Set<string>();

  constructor(
    private readonly appendKey: AppendKey,
    private readonly collector: AnomalyCollector,
  ) {}

  add(kind: string, message: string, ops: readonly HistoryOp[]): void {
    this.collector.add(kind, this.appendKey.key, message, ops);
  }

  private firstTime(kind: string, element: string): boolean {
    const tag = `${kind}\u0000${element}`;
    if (this.reported.has(tag)) return false;
    this.reported.add(tag);
    return true;
  }

  irregularities(read: HistoryOp, irregular: ReadIrregularities): void {
    for (const element of irregular.phantoms) if (this.firstTime('phantom', element)) this.phantom(read, element);
    for (const id of irregular.fromTheFuture) {
      const element = this.appendKey.name(id);
      if (!this.firstTime('future-read', element)) continue;
      this.add(
        'future-read',
        `read completed at ${formatTimeUs(read.completeUs)} with ${formatValue(element)}, ` +
          `before the append of that element was invoked`,
        [read, ...(this.appendKey.appenders[id] ?? [])],
      );
    }
    if (irregular.repeated.length > 0) this.repeats(read, irregular.repeated);
  }

  private phantom(read: HistoryOp, element: string): void {
    const failed = this.appendKey.failedAppenders.get(element) ?? [];
    const why =
      failed.length > 0
        ? 'which only a failed append tried to add (fail: it certainly did not take effect)'
        : 'which no append of this key added';
    const message = `read at ${formatTimeUs(read.invokeUs)} returned ${formatValue(element)}, ${why}`;
    this.add('phantom', message, [read, ...failed]);
  }

  private repeats(read: HistoryOp, repeated: readonly string[]): void {
    const distinct = [...new Set(repeated)];
    this.add(
      'duplicated',
      `read at ${formatTimeUs(read.invokeUs)} holds ${String(repeated.length)} repeated element(s): ` +
        distinct.slice(0, 5).map(formatValue).join(', '),
      [read],
    );
  }
}

/** Where each element must be visible from: its ok append's completion or the end of a read of it. */
interface Visibility {
  fromUs: Float64Array;
  /** The read (index) that set `fromUs`, or -1 when an ok append did, or none has. */
  byRead: Int32Array;
  /** Whether any read held the element. */
  observed: Uint8Array;
}

function visibilities(appendKey: AppendKey, reads: readonly IndexedRead[]): Visibility {
  const count = appendKey.elementCount;
  const visibility: Visibility = {
    fromUs: new Float64Array(count).fill(Number.POSITIVE_INFINITY),
    byRead: new Int32Array(count).fill(-1),
    observed: new Uint8Array(count),
  };
  for (let id = 0; id < count; id += 1) {
    for (const append of appendKey.appenders[id] ?? []) {
      if (append.result === 'ok') visibility.fromUs[id] = Math.min(visibility.fromUs[id] ?? 0, completionUs(append));
    }
  }
  reads.forEach((read, readIndex) => {
    const completeUs = completionUs(read.op);
    for (const id of read.elements) {
      visibility.observed[id] = 1;
      if (completeUs < (visibility.fromUs[id] ?? 0)) {
        visibility.fromUs[id] = completeUs;
        visibility.byRead[id] = readIndex;
      }
    }
  });
  return visibility;
}

function countIndeterminate(appendKey: AppendKey, visibility: Visibility, stats: AppendStats): void {
  appendKey.appenders.forEach((appenders, id) => {
    if (!appenders.every((append) => append.result === 'info')) return;
    if (visibility.observed[id] === 1) stats.indeterminateAppendsObserved += appenders.length;
    else stats.indeterminateAppendsUnobserved += appenders.length;
  });
}

function firstDifference(read: Int32Array, reference: Int32Array): number {
  for (let index = 0; index < read.length; index += 1) if (read[index] !== reference[index]) return index;
  return -1;
}

function elementAt(appendKey: AppendKey, read: IndexedRead, position: number): string {
  const id = read.elements[position];
  return id === undefined ? 'nothing' : formatValue(appendKey.name(id));
}

/**
 * Every read must be a prefix of the longest (the latest invoked among equals): marks and reports
 * the others, and returns the reference order.
 */
function checkOrder(appendKey: AppendKey, reporter: AppendReporter, reads: IndexedRead[]): IndexedRead | undefined {
  let reference: IndexedRead | undefined;
  for (const read of reads) {
    if (reference === undefined || read.elements.length >= reference.elements.length) reference = read;
  }
  if (reference === undefined) return undefined;
  for (const read of reads) {
    const position = firstDifference(read.elements, reference.elements);
    if (position < 0) continue;
    read.isPrefix = false;
    reporter.add(
      'order-inconsistent',
      `reads disagree at position ${String(position)}: the read at ${formatTimeUs(read.op.invokeUs)} has ` +
        `${elementAt(appendKey, read, position)} where the longest read (at ` +
        `${formatTimeUs(reference.op.invokeUs)}) has ${elementAt(appendKey, reference, position)}; ` +
        `neither list is a prefix of the other`,
      [read.op, reference.op],
    );
  }
  return reference;
}

/** In the reference order, no append may come before one that completed before it was invoked. */
function checkRealTimeOrder(appendKey: AppendKey, reporter: AppendReporter, reference: IndexedRead): void {
  let latestInvoked: HistoryOp | undefined;
  for (const id of reference.elements) {
    const append = appendKey.primaryAppend(id);
    if (append === undefined) continue;
    if (latestInvoked !== undefined && latestInvoked.invokeUs > completionUs(append)) {
      reporter.add(
        'order-inconsistent',
        `the read at ${formatTimeUs(reference.op.invokeUs)} orders ${formatValue(latestInvoked.value)} before ` +
          `${formatValue(append.value)}, but the append of ${formatValue(append.value)} completed at ` +
          `${formatTimeUs(append.completeUs)}, before the other was invoked at ${formatTimeUs(latestInvoked.invokeUs)}`,
        [append, latestInvoked, reference.op],
      );
      return;
    }
    if (latestInvoked === undefined || append.invokeUs > latestInvoked.invokeUs) latestInvoked = append;
  }
}

interface Missing {
  id: number;
  firstRead: HistoryOp;
  reads: number;
}

/** Reports elements missing from reads that began after they had to be visible. */
function checkVisibility(
  appendKey: AppendKey,
  reporter: AppendReporter,
  reads: readonly IndexedRead[],
  reference: IndexedRead | undefined,
  visibility: Visibility,
): void {
  const byVisibility = Array.from({ length: appendKey.elementCount }, (_, id) => id)
    .filter((id) => Number.isFinite(visibility.fromUs[id]))
    .sort((a, b) => (visibility.fromUs[a] ?? 0) - (visibility.fromUs[b] ?? 0));
  const position = new Float64Array(appendKey.elementCount).fill(Number.POSITIVE_INFINITY);
  reference?.elements.forEach((id, index) => (position[id] = index));
  const readsByInvocation = [...reads].sort((a, b) => a.op.invokeUs - b.op.invokeUs);
  const held = new Int32Array(appendKey.elementCount).fill(-1);
  const missing = new Map<number, Missing>();
  let required = 0;
  let maxPosition = -1;
  readsByInvocation.forEach((read, readIndex) => {
    for (; required < byVisibility.length; required += 1) {
      const id = byVisibility[required] ?? 0;
      if (!((visibility.fromUs[id] ?? 0) < read.op.invokeUs)) break;
      maxPosition = Math.max(maxPosition, position[id] ?? Number.POSITIVE_INFINITY);
    }
    // A prefix of the reference holds exactly the elements placed before its length.
    if (read.isPrefix && maxPosition < read.elements.length) return;
    for (const id of read.elements) held[id] = readIndex;
    for (const id of byVisibility.slice(0, required)) {
      if (held[id] === readIndex) continue;
      const entry = missing.get(id);
      if (entry === undefined) missing.set(id, { id, firstRead: read.op, reads: 1 });
      else entry.reads += 1;
    }
  });
  for (const entry of missing.values()) reportMissing(appendKey, reporter, entry, reads, visibility);
}

function reportMissing(
  appendKey: AppendKey,
  reporter: AppendReporter,
  { id, firstRead, reads: missingFrom }: Missing,
  reads: readonly IndexedRead[],
  visibility: Visibility,
): void {
  const element = appendKey.name(id);
  const fromUs = visibility.fromUs[id] ?? 0;
  const byRead = reads[visibility.byRead[id] ?? -1]?.op;
  const appenders = appendKey.appenders[id] ?? [];
  const after = reads.filter((read) => read.op.invokeUs > fromUs).length;
  const lost = missingFrom >= after;
  const since =
    byRead === undefined
      ? `acknowledged append of ${formatValue(element)} (ok at ${formatTimeUs(fromUs)})`
      : `${formatValue(element)}, returned by a read that completed at ${formatTimeUs(fromUs)},`;
  const extent = lost ? `every one of the ${String(after)}` : `${String(missingFrom)} of the ${String(after)}`;
  reporter.add(
    lost ? 'lost' : 'stale-read',
    `${since} is missing from ${extent} reads that began after that${lost ? '' : ', though others hold it'}; ` +
      `the first began at ${formatTimeUs(firstRead.invokeUs)}`,
    [...appenders, ...(byRead === undefined ? [] : [byRead]), firstRead],
  );
}
