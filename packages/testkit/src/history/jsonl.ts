/**
 * Histories as JSON Lines: one HistoryOp per line, so a campaign can stream a history to disk and a
 * checker can read it back later (or a person can grep it).
 */
import { InvalidHistoryError, type HistoryOp } from './types.js';
import { assertWellFormedHistory } from './validate.js';

export function historyToJsonl(ops: readonly HistoryOp[]): string {
  return ops.map((op) => `${JSON.stringify(canonicalOp(op))}\n`).join('');
}

/** Fixed field order, and no undefined optional fields, so equal histories give equal text. */
function canonicalOp(op: HistoryOp): HistoryOp {
  const { id, process, kind, key, invokeUs, result } = op;
  const value = op.value ?? null;
  const canonical: HistoryOp = { id, process, kind, key, value, invokeUs, completeUs: op.completeUs ?? null, result };
  // Copied when an array; anything else is kept for validation to reject.
  if (op.values !== undefined) canonical.values = Array.isArray(op.values) ? [...op.values] : op.values;
  if (op.error !== undefined) canonical.error = op.error;
  return canonical;
}

/** Parses JSONL text (blank lines skipped); throws InvalidHistoryError naming the bad line. */
export function historyFromJsonl(text: string): HistoryOp[] {
  const ops: HistoryOp[] = [];
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new InvalidHistoryError(`line ${String(index + 1)}: not JSON`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new InvalidHistoryError(`line ${String(index + 1)}: not a JSON object`);
    }
    ops.push(canonicalOp(parsed as HistoryOp));
  }
  try {
    assertWellFormedHistory(ops);
  } catch (error) {
    if (!(error instanceof InvalidHistoryError)) throw error;
    throw new InvalidHistoryError(`JSONL history: ${error.message}`, { cause: error });
  }
  return ops;
}
