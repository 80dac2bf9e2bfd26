/**
 * Linearizability of single-key read/write registers (initial value null: key missing). Keys are
 * independent (linearizability is compositional), so each key is checked on its own: direct checks
 * first (precise names for common anomalies), then the bounded search of linearizability-search.ts.
 *
 * What the search sees of a key: `fail` ops are dropped (they did not happen); `info` reads are
 * dropped (they constrain nothing); an `info` write may take effect at any time after its invocation
 * or never, so it has no return. An `info` write whose value no read returned is dropped too: in any
 * linearization that contains it, removing it leaves a linearization (only reads of its value could
 * have been placed between it and the next write), so it cannot change the verdict.
 */
import { AnomalyCollector } from './anomalies.js';
import { searchLinearization, type DeepestAttempt, type SearchResult } from './linearizability-search.js';
import { findDirectAnomalies, registerKeyHistory, type RegisterKeyHistory } from './register-direct-checks.js';
import { formatTimeUs, formatValue } from './report-format.js';
import type { CheckReport, HistoryOp } from './types.js';
import { byInvocation, completionUs, splitByKey } from './validate.js';

export interface RegisterCheckOptions {
  /** A key whose search takes more steps is reported in `unknownKeys` (default 2,000,000). */
  maxStepsPerKey?: number;
  /** Anomalies listed per key; the rest are counted in `anomaliesOmitted` (default 10). */
  maxAnomaliesPerKey?: number;
  /** Run the direct checks before the search (default true; false tests the search alone). */
  directChecks?: boolean;
}

export const defaultMaxStepsPerKey = 2_000_000;

const unreadState = 0;
/** How a report names the state of values no read returned. */
const unreadValue = '(a value no read returned)';

/** How many ops of the longest linearizable prefix, and pending ops, an anomaly shows. */
const witnessOps = 5;

/** Checks the `read` and `write` ops of `ops` (other kinds are ignored). */
export function checkLinearizableRegisters(ops: HistoryOp[], options: RegisterCheckOptions = {}): CheckReport {
  const maxSteps = options.maxStepsPerKey ?? defaultMaxStepsPerKey;
  if (!(maxSteps >= 1)) throw new RangeError(`maxStepsPerKey must be at least 1 (got ${String(maxSteps)})`);
  const collector = new AnomalyCollector(options.maxAnomaliesPerKey);
  const keyed = splitByKey(ops, ['read', 'write']);
  const unknownKeys: string[] = [];
  const stats = { ...keyed.counts, searchSteps: 0, indeterminateWritesObserved: 0, indeterminateWritesUnobserved: 0 };
  for (const [key, keyOps] of keyed.byKey) {
    const history = registerKeyHistory(key, keyOps);
    const observed = history.indeterminateWrites.filter((write) => history.readValues.has(write.value)).length;
    stats.indeterminateWritesObserved += observed;
    stats.indeterminateWritesUnobserved += history.indeterminateWrites.length - observed;
    if (options.directChecks !== false && findDirectAnomalies(history, collector)) continue;
    const search = searchKey(history, maxSteps);
    stats.searchSteps += search.result.steps;
    if (search.result.outcome === 'unknown') unknownKeys.push(key);
    if (search.result.outcome === 'not-linearizable') reportNotLinearizable(key, search, search.result.deepest, collector);
  }
  return collector.report(keyed.checked, unknownKeys, stats);
}

interface KeySearch {
  result: SearchResult;
  /** The ops searched, in call order (the search's op indices). */
  searchOps: HistoryOp[];
  /** The register value of each search state. */
  valueOfState: (string | null)[];
  /** When each search op must take effect by (the search's return times). */
  deadlinesUs: number[];
}

function searchKey(history: RegisterKeyHistory, maxSteps: number): KeySearch {
  const observedIndeterminate = history.indeterminateWrites.filter((write) => history.readValues.has(write.value));
  const searchOps = [...history.okWrites, ...observedIndeterminate, ...history.okReads].sort(byInvocation);
  // Register states are small integers: 0 stands for every value no read returned (they are
  // interchangeable: no read accepts them), then one per value some read returned.
  const stateOf = new Map<string | null, number>();
  const valueOfState: (string | null)[] = [null];
  for (const value of history.readValues) {
    stateOf.set(value, valueOfState.length);
    valueOfState.push(value);
  }
  const opState = searchOps.map((op) => stateOf.get(op.value) ?? unreadState);
  const isWrite = searchOps.map((op) => op.kind === 'write');
  const deadlines = writeDeadlines(history);
  const deadlinesUs = searchOps.map((op) => deadlines.get(op) ?? completionUs(op));
  const readsLeft = readsLeftByState(history, stateOf, valueOfState.length);
  const countRead = (index: number, delta: number): void => {
    const state = opState[index] ?? unreadState;
    if (isWrite[index] !== true) readsLeft[state] = (readsLeft[state] ?? 0) + delta;
  };
  const result = searchLinearization({
    ops: searchOps.map((op, index) => ({ invokeUs: op.invokeUs, returnUs: deadlinesUs[index] ?? completionUs(op) })),
    initialState: stateOf.get(null) ?? unreadState,
    step: (state, index) => {
      const value = opState[index] ?? unreadState;
      if (isWrite[index] !== true) return state === value ? state : -1;
      // Overwriting a value that only one write wrote while reads of it remain strands them.
      return (readsLeft[state] ?? 0) > 0 ? -1 : value;
    },
    onLinearize: (index) => countRead(index, -1),
    onUndo: (index) => countRead(index, 1),
    // Reads, and writes nobody read (when the state is already unread): see SearchProblem.
    mayForce: (index) => isWrite[index] !== true || opState[index] === unreadState,
    maxSteps,
    witnessOps,
  });
  return { result, searchOps, valueOfState, deadlinesUs };
}

/**
 * For each state, the ok reads of its value not yet linearized, counted only for values written
 * once (or never: the initial null): once such a value is overwritten it never comes back, so a
 * write may not overwrite it while reads of it remain. Other values count 0 (no constraint).
 */
function readsLeftByState(history: RegisterKeyHistory, stateOf: Map<string | null, number>, states: number): Int32Array {
  const readsLeft = new Int32Array(states);
  for (const read of history.okReads) {
    const writers = history.writersByValue.get(read.value)?.length ?? 0;
    const state = stateOf.get(read.value);
    if (state !== undefined && writers <= 1) readsLeft[state] = (readsLeft[state] ?? 0) + 1;
  }
  return readsLeft;
}

/**
 * When each write must have taken effect by: its completion, or earlier the completion of the first
 * read that returned its value (a read returns a value only after its write), when that write is
 * the value's only writer. Every linearization meets these deadlines, so the search may assume
 * them; they give `info` writes that were read a finite deadline and make a wrong order of
 * concurrent writes fail early instead of at the end of a long branch.
 */
function writeDeadlines(history: RegisterKeyHistory): Map<HistoryOp, number> {
  const deadlines = new Map<HistoryOp, number>();
  for (const [value, writers] of history.writersByValue) {
    const writer = writers[0];
    if (writers.length !== 1 || writer === undefined || value === null) continue;
    deadlines.set(writer, completionUs(writer));
  }
  for (const read of history.okReads) {
    const writers = history.writersByValue.get(read.value);
    const writer = writers?.[0];
    if (writers?.length !== 1 || writer === undefined) continue;
    const deadline = deadlines.get(writer);
    if (deadline !== undefined) deadlines.set(writer, Math.min(deadline, completionUs(read)));
  }
  return deadlines;
}

function opAt(ops: readonly HistoryOp[], index: number): HistoryOp {
  const op = ops[index];
  if (op === undefined) throw new Error(`search reported op ${String(index)} of ${String(ops.length)}`);
  return op;
}

function plural(count: number, noun: string): string {
  return `${String(count)} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * Why a write could not be placed, when it would overwrite the held value while reads of it that
 * begin after the write's deadline (so certainly still to come) return it.
 */
function strandedReads(
  searchOps: readonly HistoryOp[],
  stuck: HistoryOp,
  held: string | null,
  deadlineUs: number,
): { why: string; ops: HistoryOp[] } {
  const laterReads = searchOps.filter((op) => op.kind === 'read' && op.value === held && op.invokeUs > deadlineUs);
  const first = laterReads[0];
  if (stuck.kind !== 'write' || first === undefined) return { why: '', ops: [] };
  const why =
    `; placing it would overwrite ${formatValue(held)}, which ${plural(laterReads.length, 'read')} beginning ` +
    `later still ${laterReads.length === 1 ? 'returns' : 'return'} (the first: p${String(first.process)} at ` +
    `${formatTimeUs(first.invokeUs)})`;
  return { why, ops: [first] };
}

function reportNotLinearizable(
  key: string,
  { searchOps, valueOfState, deadlinesUs }: KeySearch,
  deepest: DeepestAttempt,
  collector: AnomalyCollector,
): void {
  const prefix = deepest.lastLinearized.map((index) => opAt(searchOps, index));
  const stuck = opAt(searchOps, deepest.stuckOp);
  const deadlineUs = deadlinesUs[deepest.stuckOp] ?? completionUs(stuck);
  const pending = deepest.pendingOps.map((index) => opAt(searchOps, index));
  const isUnread = deepest.state === unreadState;
  const held = valueOfState[deepest.state] ?? null;
  const stranded = isUnread ? { why: '', ops: [] } : strandedReads(searchOps, stuck, held, deadlineUs);
  const byWhen = deadlineUs < completionUs(stuck) ? ' (when the first read of its value ended)' : '';
  collector.add(
    'not-linearizable',
    key,
    `no order of the ops fits their times and values. The longest linearizable prefix places ` +
      `${String(deepest.linearizedCount)} of ${String(searchOps.length)} ops and leaves the register holding ` +
      `${isUnread ? unreadValue : formatValue(held)}; after it, p${String(stuck.process)}'s ${stuck.kind} of ` +
      `${formatValue(stuck.value)}, which must take effect by ${formatTimeUs(deadlineUs)}${byWhen}, cannot be ` +
      `placed, alone or after any of the ${plural(pending.length, 'other pending op')}${stranded.why}. Ops: the ` +
      `last ${String(prefix.length)} of that prefix in linearization order, the op that could not be placed, ` +
      `the other pending ops${stranded.ops.length > 0 ? ', the first later read' : ''}`,
    [...prefix, stuck, ...pending, ...stranded.ops],
  );
}
