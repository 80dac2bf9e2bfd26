/**
 * Lost acknowledged writes, counted from the final reads, and the window each was lost in: the time
 * from its acknowledgement to the failover that dropped it (the first change of its partition's
 * primary seen after the acknowledgement) and the fault that set that failover off. Expected under
 * PRIMARY_SYNC (a write acknowledged by the primary alone dies with it); under FULL_SYNC every
 * count here must be 0 (the checkers also report these as anomalies). Pure.
 *
 * What counts as lost:
 * - an acknowledged APPEND whose token is missing from the key's final read (a read made after the
 *   heal, once the cluster settled);
 * - an acknowledged SET W when a read invoked after W's acknowledgement returned an older state (a
 *   value written by a write that completed before W was invoked, or the missing key) and no read
 *   invoked after that one returned W's value again (else it was a stale read, not a loss). A
 *   lower bound: a write overwritten by a concurrent one before anyone read it is not counted.
 *
 * Why not the checkers' `lost` / `lost-write` anomalies: they answer another question. A checker
 * names the fewest operations that show a key is not linearizable, so one failover that drops many
 * writes is one `lost-write` (the latest overwrite never read, "and N more reads like it"), and
 * dropped appends mostly show up as `order-inconsistent` and `stale-read` (a read from before the
 * failover still holds them). Counted from those anomalies, the PRIMARY_SYNC runs of seeds 10-17 in
 * docs/verification.md would have lost 13 acknowledged writes, not 218 (seed 13: 1, not 93).
 */
import type { HistoryOp } from '../history/index.js';
import type { FaultEvent } from '../faults/injector.js';
import { partitionOfKey } from '../partitions.js';
import { median } from '../statistics.js';
import type { PrimaryChange } from './map-monitor.js';

/** A kill or restart this long before an acknowledgement may still be what lost it (failover ~2 s). */
const INSTANT_FAULT_REACH_US = 3_000_000;

export interface LostWrite {
  key: string;
  kind: 'write' | 'append';
  value: string;
  partition: number;
  acknowledgedUs: number;
  /** The first primary change of the partition seen after the acknowledgement (null: none seen). */
  failover: { seenUs: number; primary: string | null; term: number } | null;
  /** Acknowledgement → failover seen, ms (null without a failover). */
  windowMs: number | null;
  /**
   * The faults that may have caused it: active at the acknowledgement, or started between it and
   * the failover (or the read that noticed the loss, without a failover).
   */
  faults: Array<{ faultId: number; kind: string; detail: string; startedUs: number }>;
}

export interface LossSummary {
  lost: LostWrite[];
  count: number;
  /** Over the losses with a failover: min, median and max of windowMs. */
  windowMs: { min: number; median: number; max: number } | null;
}

export function findLostWrites(
  ops: readonly HistoryOp[],
  keys: { registers: readonly string[]; appends: readonly string[] },
  partitionCount: number,
  events: readonly FaultEvent[],
  changes: readonly PrimaryChange[],
  /** When the final reads began: only reads invoked from then on count as final. */
  finalReadsFromUs: number,
): LossSummary {
  const lost: LostWrite[] = [];
  const describe = (op: HistoryOp, kind: 'write' | 'append', noticedUs: number): LostWrite => {
    const partition = partitionOfKey(op.key, partitionCount);
    const acknowledgedUs = op.completeUs!;
    const change = changes.find((candidate) => candidate.partition === partition && candidate.seenUs > acknowledgedUs) ?? null;
    const untilUs = change?.seenUs ?? noticedUs;
    const healedBefore = new Set(events.filter((event) => event.phase === 'heal' && event.atUs <= acknowledgedUs).map((event) => event.faultId));
    const faults = events
      .filter((event) => event.phase === 'start' && event.atUs <= untilUs && !healedBefore.has(event.faultId))
      // Instant faults (kill, restart-member) count only when they came after the acknowledgement, or just before it.
      .filter((event) => event.atUs >= acknowledgedUs - INSTANT_FAULT_REACH_US || !['kill', 'restart-member'].includes(event.kind))
      .map((event) => ({ faultId: event.faultId, kind: event.kind, detail: event.detail, startedUs: event.atUs }));
    return {
      key: op.key,
      kind,
      value: op.value!,
      partition,
      acknowledgedUs,
      failover: change === null ? null : { seenUs: change.seenUs, primary: change.primary, term: change.term },
      windowMs: change === null ? null : (change.seenUs - acknowledgedUs) / 1000,
      faults,
    };
  };
  const okOf = (key: string, kind: HistoryOp['kind']): HistoryOp[] => ops.filter((op) => op.key === key && op.kind === kind && op.result === 'ok');
  for (const key of keys.appends) {
    const finals = okOf(key, 'readAll').filter((op) => op.invokeUs >= finalReadsFromUs);
    const final = finals[finals.length - 1];
    if (final === undefined) continue;
    const present = new Set(final.values ?? []);
    for (const op of okOf(key, 'append')) if (!present.has(op.value!)) lost.push(describe(op, 'append', final.invokeUs));
  }
  for (const key of keys.registers) {
    const writes = ops.filter((op) => op.key === key && op.kind === 'write');
    const writerOf = new Map(writes.map((op) => [op.value!, op]));
    const reads = okOf(key, 'read');
    for (const write of writes) {
      if (write.result !== 'ok') continue;
      const acknowledgedUs = write.completeUs!;
      // A read after the acknowledgement that saw a state from before the write was invoked...
      const older = reads.find((read) => {
        if (read.invokeUs <= acknowledgedUs) return false;
        if (read.value === null) return true;
        const writer = writerOf.get(read.value);
        return writer !== undefined && writer.result === 'ok' && writer.completeUs! < write.invokeUs;
      });
      if (older === undefined) continue;
      // ...and nothing read the write's value after that: gone, not merely read stale.
      if (reads.some((read) => read.invokeUs > older.invokeUs && read.value === write.value)) continue;
      lost.push(describe(write, 'write', older.invokeUs));
    }
  }
  const windows = lost.map((write) => write.windowMs).filter((value): value is number => value !== null).sort((a, b) => a - b);
  return {
    lost,
    count: lost.length,
    windowMs: windows.length === 0 ? null : { min: windows[0]!, median: median(windows), max: windows[windows.length - 1]! },
  };
}
