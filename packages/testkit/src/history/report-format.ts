/**
 * Readable text for operations and reports: an operation is one line such as
 * `p3 write k7 "v12" [1203.1ms..1210.4ms] ok`, so an anomaly reads as a short story.
 */
import type { CheckReport, HistoryOp } from './types.js';

/** How many elements of a readAll list a line shows before eliding the middle. */
const listElementsShown = 12;

export function formatTimeUs(timeUs: number | null): string {
  if (timeUs === null || !Number.isFinite(timeUs)) return '?';
  return `${(timeUs / 1000).toFixed(1)}ms`;
}

export function formatValue(value: string | null): string {
  return value === null ? 'null' : JSON.stringify(value);
}

function formatList(values: readonly string[]): string {
  if (values.length <= listElementsShown) return `[${values.map(formatValue).join(',')}]`;
  const half = listElementsShown / 2;
  const elided = values.length - listElementsShown;
  const head = values.slice(0, half).map(formatValue);
  const tail = values.slice(-half).map(formatValue);
  return `[${[...head, `…(${String(elided)} more)`, ...tail].join(',')}] (${String(values.length)} elements)`;
}

function formatPayload(op: HistoryOp): string {
  if (op.kind === 'readAll') return op.values === undefined ? '-' : formatList(op.values);
  if (op.kind === 'read' && op.result !== 'ok') return '-';
  return formatValue(op.value);
}

/** One line: process, kind, key, value, [invoke..complete], result and error. */
export function formatOp(op: HistoryOp): string {
  const complete = op.result === 'info' ? null : op.completeUs;
  const error = op.error === undefined ? '' : ` (${op.error})`;
  return (
    `p${String(op.process)} ${op.kind} ${op.key} ${formatPayload(op)} ` +
    `[${formatTimeUs(op.invokeUs)}..${formatTimeUs(complete)}] ${op.result}${error}`
  );
}

function verdict(valid: CheckReport['valid']): string {
  if (valid === true) return 'valid';
  if (valid === false) return 'INVALID';
  return 'UNKNOWN (search bound reached)';
}

/** A short text: verdict, counts, statistics, then each anomaly with its operations. */
export function formatReport(title: string, report: CheckReport): string {
  const omitted = report.anomaliesOmitted ?? 0;
  const lines = [
    `${title}: ${verdict(report.valid)}`,
    `checked ${String(report.checked.keys)} keys, ${String(report.checked.ops)} ops; ` +
      `${String(report.anomalies.length + omitted)} anomalies` +
      (omitted > 0 ? ` (${String(omitted)} not listed)` : ''),
  ];
  if (report.unknownKeys.length > 0) lines.push(`unknown keys: ${report.unknownKeys.join(', ')}`);
  const stats = Object.entries(report.stats ?? {});
  if (stats.length > 0) lines.push(`stats: ${stats.map(([name, count]) => `${name}=${String(count)}`).join(', ')}`);
  for (const anomaly of report.anomalies) {
    lines.push(`- ${anomaly.kind} on ${anomaly.key}: ${anomaly.message}`);
    for (const op of anomaly.ops) lines.push(`    ${formatOp(op)}`);
  }
  return `${lines.join('\n')}\n`;
}
