/**
 * Partition → replica placement by rendezvous (highest-random-weight) hashing.
 *
 * Every (partition, node) pair gets a pseudo-random score; a partition's replicas are the nodes with
 * the highest scores, spread over zones. Because a node's score for a partition does not depend on
 * which other nodes exist, adding a node changes only the partitions it now wins, and removing one
 * changes only the partitions it held: data moves no more than it must.
 *
 * Zones: a node without a zone belongs to the shared zone "" (the same as `zone: ""`), not to a zone
 * of its own. A cluster that sets no zones then gets plain top-k rendezvous placement, and a
 * half-labelled cluster does not treat each unlabelled node as a separate failure domain, which
 * would overstate its spread.
 *
 * Ties (two nodes with the same 48-bit score for a partition, about one chance in 2^48 per pair) are
 * broken by node id, smaller first, so the result never depends on input order.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

/** A node as the placement sees it. */
export interface PlacementNode {
  id: string;
  /** Failure domain; missing means the shared zone "". */
  zone?: string;
}

/** The rendezvous score of a node for a partition: the first 6 bytes of sha256(`partition/nodeId`). */
export function rendezvousScore(partition: number, nodeId: string): number {
  // 48 bits fit a double exactly; the partition number is digits, so the first "/" separates.
  return createHash('sha256').update(`${partition}/${nodeId}`, 'utf8').digest().readUIntBE(0, 6);
}

/**
 * The replicas of one partition: min(replicaCount, nodes.length) distinct node ids, the preferred
 * primary first. The first pick is the highest-scoring node; each next pick is the highest-scoring
 * remaining node whose zone no pick uses yet, or, when every remaining node's zone is used, the
 * highest-scoring remaining node.
 */
export function assignPartition(
  partition: number,
  nodes: readonly PlacementNode[],
  replicaCount: number,
): string[] {
  assert.ok(
    Number.isInteger(partition) && partition >= 0,
    `partition must be a non-negative integer, got ${partition}`,
  );
  assert.ok(
    Number.isInteger(replicaCount) && replicaCount >= 0,
    `replicaCount must be a non-negative integer, got ${replicaCount}`,
  );
  assertDistinctIds(nodes);
  const ranked = nodes
    .map((node) => ({ id: node.id, zone: node.zone ?? '', score: rendezvousScore(partition, node.id) }))
    .sort((a, b) => b.score - a.score || compareIds(a.id, b.id));

  const count = Math.min(replicaCount, ranked.length);
  const picks: string[] = [];
  const usedZones = new Set<string>();
  const taken = new Array<boolean>(ranked.length).fill(false);
  while (picks.length < count) {
    let chosen = -1;
    let fallback = -1;
    for (let i = 0; i < ranked.length; i++) {
      if (taken[i]) continue;
      if (fallback < 0) fallback = i;
      if (!usedZones.has(ranked[i]!.zone)) {
        chosen = i;
        break;
      }
    }
    if (chosen < 0) chosen = fallback;
    taken[chosen] = true;
    picks.push(ranked[chosen]!.id);
    usedZones.add(ranked[chosen]!.zone);
  }
  return picks;
}

/** The replicas of every partition 0..partitionCount-1, each with backups + 1 copies where nodes allow. */
export function assignAll(partitionCount: number, nodes: readonly PlacementNode[], backups: number): string[][] {
  assert.ok(
    Number.isInteger(partitionCount) && partitionCount >= 0,
    `partitionCount must be a non-negative integer, got ${partitionCount}`,
  );
  assert.ok(Number.isInteger(backups) && backups >= 0, `backups must be a non-negative integer, got ${backups}`);
  const result: string[][] = [];
  for (let partition = 0; partition < partitionCount; partition++) {
    result.push(assignPartition(partition, nodes, backups + 1));
  }
  return result;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function assertDistinctIds(nodes: readonly PlacementNode[]): void {
  const seen = new Set<string>();
  for (const node of nodes) {
    assert.ok(!seen.has(node.id), `duplicate node id ${JSON.stringify(node.id)} in placement input`);
    seen.add(node.id);
  }
}
