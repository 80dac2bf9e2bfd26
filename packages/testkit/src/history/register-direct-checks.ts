/**
 * Cheap checks of a register key run before the search, so the common anomalies get a precise name
 * and the fewest ops that show them. Each is sound on its own (what it reports cannot be
 * linearized), and each looks only at reads whose value exactly one write (or the initial state)
 * could have produced, since the reasoning needs to know which write a read saw.
 *
 * - phantom-read: a read returned a value that no write that may have taken effect wrote.
 * - future-read: a read returned a value whose write was invoked after the read completed.
 * - stale-read: a read returned a value overwritten by a write W2 that took effect after it (W2 was
 *   invoked after the value's write completed) and completed before the read began.
 * - lost-write: a stale read where W2's value was never read by anyone: the acknowledged write
 *   looks lost rather than merely not yet visible.
 */
import type { AnomalyCollector } from './anomalies.js';
import { formatTimeUs, formatValue } from './report-format.js';
import type { HistoryOp } from './types.js';
import { completionUs } from './validate.js';

/** The facts about one register key that the direct checks and the search share. */
export interface RegisterKeyHistory {
  key: string;
  okReads: HistoryOp[];
  okWrites: HistoryOp[];
  /** `info` writes: they may take effect at any time after their invocation, or never. */
  indeterminateWrites: HistoryOp[];
  failedWrites: HistoryOp[];
  /** ok and info writes (those that may have taken effect) by the value they wrote. */
  writersByValue: Map<string | null, HistoryOp[]>;
  /** Values returned by ok reads. */
  readValues: Set<string | null>;
}

/** Splits one key's read/write ops (in invocation order) by what they can tell. */
export function registerKeyHistory(key: string, ops: readonly HistoryOp[]): RegisterKeyHistory {
  const history: RegisterKeyHistory = {
    key,
    okReads: [],
    okWrites: [],
    indeterminateWrites: [],
    failedWrites: [],
    writersByValue: new Map(),
    readValues: new Set(),
  };
  for (const op of ops) {
    if (op.kind === 'read') {
      if (op.result === 'ok') {
        history.okReads.push(op);
        history.readValues.add(op.value);
      }
      continue;
    }
    if (op.result === 'fail') {
      history.failedWrites.push(op);
      continue;
    }
    (op.result === 'ok' ? history.okWrites : history.indeterminateWrites).push(op);
    const writers = history.writersByValue.get(op.value);
    if (writers === undefined) history.writersByValue.set(op.value, [op]);
    else writers.push(op);
  }
  return history;
}

/**
 * The ok writes by completion time, with the latest-invoked of each prefix: "which write invoked
 * latest completed before time T" in O(log n).
 */
class CompletedWrites {
  private readonly byCompletion: HistoryOp[];
  private readonly latestInvoked: HistoryOp[];

  constructor(okWrites: readonly HistoryOp[]) {
    this.byCompletion = [...okWrites].sort((a, b) => completionUs(a) - completionUs(b));
    this.latestInvoked = [];
    let latest: HistoryOp | undefined;
    for (const write of this.byCompletion) {
      if (latest === undefined || write.invokeUs > latest.invokeUs) latest = write;
      this.latestInvoked.push(latest);
    }
  }

  /** How many writes completed strictly before `timeUs`. */
  private countBefore(timeUs: number): number {
    let low = 0;
    let high = this.byCompletion.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      const write = this.byCompletion[middle];
      if (write !== undefined && completionUs(write) < timeUs) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  latestInvokedCompletedBefore(timeUs: number): HistoryOp | undefined {
    return this.latestInvoked[this.countBefore(timeUs) - 1];
  }

  /** Writes invoked after `afterUs` that completed before `beforeUs`, latest completion first. */
  between(afterUs: number, beforeUs: number): HistoryOp[] {
    return this.byCompletion
      .slice(0, this.countBefore(beforeUs))
      .filter((write) => write.invokeUs > afterUs)
      .reverse();
  }
}

/** Which write a read saw: `null` for the initial (missing) state; undefined when not unique. */
function uniqueSource(history: RegisterKeyHistory, read: HistoryOp): HistoryOp | null | undefined {
  const writers = history.writersByValue.get(read.value) ?? [];
  if (read.value === null) return writers.length === 0 ? null : undefined;
  return writers.length === 1 ? writers[0] : undefined;
}

function describeSource(source: HistoryOp | null): string {
  if (source === null) return 'null (the initial state: key missing)';
  return `${formatValue(source.value)}, written by p${String(source.process)}`;
}

interface LostWrite {
  write: HistoryOp;
  firstRead: HistoryOp;
  source: HistoryOp | null;
  reads: number;
}

/** Runs the direct checks on one key; returns whether any anomaly was found. */
export function findDirectAnomalies(history: RegisterKeyHistory, collector: AnomalyCollector): boolean {
  const completed = new CompletedWrites(history.okWrites);
  const lostWrites = new Map<number, LostWrite>();
  let found = false;
  for (const read of history.okReads) {
    if (read.value !== null && !history.writersByValue.has(read.value)) {
      reportPhantom(history, read, collector);
      found = true;
      continue;
    }
    const source = uniqueSource(history, read);
    if (source === undefined) continue;
    if (source !== null && read.completeUs !== null && source.invokeUs > read.completeUs) {
      collector.add(
        'future-read',
        history.key,
        `read returned ${formatValue(read.value)} and completed at ${formatTimeUs(read.completeUs)}, ` +
          `before the write of that value was invoked at ${formatTimeUs(source.invokeUs)}`,
        [read, source],
      );
      found = true;
      continue;
    }
    const sourceCompleteUs = source === null ? Number.NEGATIVE_INFINITY : completionUs(source);
    const overwrite = completed.latestInvokedCompletedBefore(read.invokeUs);
    if (overwrite === undefined || !(overwrite.invokeUs > sourceCompleteUs)) continue;
    found = true;
    const overwrites = completed.between(sourceCompleteUs, read.invokeUs);
    const neverRead = overwrites.find((write) => !history.readValues.has(write.value));
    if (neverRead === undefined) {
      reportStale(history.key, read, source, overwrite, collector);
      continue;
    }
    const lost = lostWrites.get(neverRead.id);
    if (lost === undefined) lostWrites.set(neverRead.id, { write: neverRead, firstRead: read, source, reads: 1 });
    else lost.reads += 1;
  }
  for (const lost of lostWrites.values()) reportLostWrite(history.key, lost, collector);
  return found;
}

function reportPhantom(history: RegisterKeyHistory, read: HistoryOp, collector: AnomalyCollector): void {
  const failed = history.failedWrites.filter((write) => write.value === read.value);
  const why =
    failed.length > 0
      ? 'which only a failed write tried to write (fail: it certainly did not take effect)'
      : 'which no write of this key wrote';
  collector.add('phantom-read', history.key, `read returned ${formatValue(read.value)}, ${why}`, [read, ...failed]);
}

function reportStale(
  key: string,
  read: HistoryOp,
  source: HistoryOp | null,
  overwrite: HistoryOp,
  collector: AnomalyCollector,
): void {
  const sourceTiming =
    source === null ? '' : ` (completed at ${formatTimeUs(source.completeUs)}, before the overwrite was invoked)`;
  collector.add(
    'stale-read',
    key,
    `read began at ${formatTimeUs(read.invokeUs)} and returned ${describeSource(source)}${sourceTiming}, ` +
      `but p${String(overwrite.process)} overwrote it with ${formatValue(overwrite.value)}, ` +
      `acknowledged at ${formatTimeUs(overwrite.completeUs)}, before the read began`,
    source === null ? [overwrite, read] : [source, overwrite, read],
  );
}

function reportLostWrite(key: string, lost: LostWrite, collector: AnomalyCollector): void {
  const { write, firstRead, source } = lost;
  const others = lost.reads > 1 ? ` (and ${String(lost.reads - 1)} more reads like it)` : '';
  collector.add(
    'lost-write',
    key,
    `acknowledged write of ${formatValue(write.value)} (p${String(write.process)}, ok at ` +
      `${formatTimeUs(write.completeUs)}) was never read; a read that began after it, at ` +
      `${formatTimeUs(firstRead.invokeUs)}, returned the older ${describeSource(source)}${others}`,
    source === null ? [write, firstRead] : [source, write, firstRead],
  );
}
