/**
 * The shapes shared by the history recorder, the checkers and the fault-injection campaign that
 * feeds them (Jepsen's vocabulary: an operation is invoked, then completes `ok`, `fail` or `info`).
 */

export type OpKind = 'read' | 'write' | 'append' | 'readAll';

/**
 * `ok`: took effect (a read returned). `fail`: certainly did not take effect. `info`: unknown (a
 * timeout, a lost connection): a write may take effect at any time after its invocation, or never.
 */
export type OpResult = 'ok' | 'fail' | 'info';

/**
 * One operation of a history. Invariants the checkers assert: ids are unique; a write or append
 * carries the value it wrote (unique per key); `completeUs` is a number not before `invokeUs` unless
 * the result is `info` (then it is ignored: the operation counts as completing at +infinity); an `ok`
 * readAll carries `values`.
 */
export interface HistoryOp {
  /** Unique, in invocation order. */
  id: number;
  /** Client id: at most one operation outstanding; after an `info` the client takes a new id. */
  process: number;
  kind: OpKind;
  key: string;
  /** write/append: the value written or appended; read: the value returned (null = key missing). */
  value: string | null;
  /** readAll of an append key: the elements read, in order. */
  values?: string[];
  /** Monotonic microseconds. */
  invokeUs: number;
  /** Null when the result is `info`. */
  completeUs: number | null;
  result: OpResult;
  error?: string;
}

/** One thing that is wrong with a key's history, with the fewest operations that show it. */
export interface Anomaly {
  /** e.g. 'stale-read', 'phantom-read', 'lost-write', 'not-linearizable', 'lost', 'duplicated'. */
  kind: string;
  key: string;
  message: string;
  ops: HistoryOp[];
}

/**
 * A checker's verdict. `valid` is true only when every key was fully checked and no anomaly found;
 * false when any anomaly was found; otherwise 'unknown' (a key's search hit its bound: `unknownKeys`).
 */
export interface CheckReport {
  valid: boolean | 'unknown';
  checked: { keys: number; ops: number };
  anomalies: Anomaly[];
  unknownKeys: string[];
  /** Anomalies found but not listed (each key lists at most `maxAnomaliesPerKey`). */
  anomaliesOmitted?: number;
  /** Counters for the campaign's statistics (e.g. indeterminate appends observed). */
  stats?: Record<string, number>;
}

/** A history that breaks the invariants of `HistoryOp`, or a JSONL line that is not one. */
export class InvalidHistoryError extends Error {
  readonly code = 'INVALID_HISTORY';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidHistoryError';
  }
}
