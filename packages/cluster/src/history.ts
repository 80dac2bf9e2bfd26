/**
 * The activation history: a sha256 hash chain with one link per activation (DESIGN.md, Baseline
 * topology). Each link commits to the previous link, the sorted baseline and the map version, so two
 * histories that share a hash share everything before it. A node whose history is neither a prefix
 * nor an extension of the cluster's was activated elsewhere and is refused, never merged.
 *
 * Hash input: `${previousHash}\n${sortedBaseline.join(',')}\n${version}`; the genesis link's
 * previous hash is ''. Node ids contain neither ',' nor '\n' (see isValidNodeId in transitions.ts),
 * so the encoding is unambiguous.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ActivationRecord } from './cluster-map.js';

/** How a node's history relates to the cluster's. */
export type HistoryRelation = 'equal' | 'behind' | 'ahead' | 'diverged';

/** sha256 (hex) of the previous link's hash, the sorted baseline ids and the map version. */
export function activationHash(previousHash: string, baseline: readonly string[], version: number): string {
  const sortedBaseline = [...baseline].sort().join(',');
  return createHash('sha256').update(`${previousHash}\n${sortedBaseline}\n${version}`, 'utf8').digest('hex');
}

/**
 * A new history: `history` plus the link for an activation of `baseline` at map `version`. The
 * stored baseline is a sorted copy. Versions must increase along the chain (a map version is
 * activated at most once).
 */
export function appendActivation(
  history: readonly ActivationRecord[],
  baseline: readonly string[],
  version: number,
): ActivationRecord[] {
  const last = history.at(-1);
  assert.ok(
    Number.isSafeInteger(version) && version >= 0,
    `activation version must be a non-negative integer, got ${version}`,
  );
  assert.ok(
    last === undefined || version > last.version,
    `activation version ${version} must be greater than the last recorded one (${last?.version})`,
  );
  const record: ActivationRecord = {
    hash: activationHash(last?.hash ?? '', baseline, version),
    baseline: [...baseline].sort(),
    version,
  };
  return [...history.map(copyRecord), record];
}

/**
 * The index of the first record that does not chain from the one before it (wrong hash, or a
 * version not greater than the previous one), or -1 when the whole chain holds.
 */
export function firstBrokenLink(history: readonly ActivationRecord[]): number {
  let previousHash = '';
  let previousVersion = -1;
  for (let i = 0; i < history.length; i++) {
    const record = history[i]!;
    if (!Number.isSafeInteger(record.version) || record.version <= previousVersion) return i;
    if (record.hash !== activationHash(previousHash, record.baseline, record.version)) return i;
    previousHash = record.hash;
    previousVersion = record.version;
  }
  return -1;
}

/** Whether every link chains from the one before it, starting from the genesis hash ''. */
export function verifyChain(history: readonly ActivationRecord[]): boolean {
  return firstBrokenLink(history) === -1;
}

/**
 * How `local` (a node's persisted history) relates to `cluster` (the map's):
 * - 'equal': the same links;
 * - 'behind': local is a strict prefix of cluster (an empty local history is behind any non-empty one);
 * - 'ahead': cluster is a strict prefix of local;
 * - 'diverged': neither is a prefix of the other — the node was activated in another cluster.
 * Links are compared by hash, which commits to everything before them; verify both chains first
 * (verifyChain) when they come from outside.
 */
export function historyRelation(
  local: readonly ActivationRecord[],
  cluster: readonly ActivationRecord[],
): HistoryRelation {
  const common = Math.min(local.length, cluster.length);
  for (let i = 0; i < common; i++) {
    if (local[i]!.hash !== cluster[i]!.hash) return 'diverged';
  }
  if (local.length === cluster.length) return 'equal';
  return local.length < cluster.length ? 'behind' : 'ahead';
}

function copyRecord(record: ActivationRecord): ActivationRecord {
  return { hash: record.hash, baseline: [...record.baseline], version: record.version };
}
