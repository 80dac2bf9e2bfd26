/**
 * Applying the replication core's proposals to a map: each is checked against the map's rules
 * (transitions.ts); those that fail are reported as rejected, the rest become ONE new version
 * (version + 1), ready for a single compare-and-swap.
 */
import { MapTransitionError, type ClusterMap } from '../cluster-map.js';
import { completeMove, expandIsr, handOver, markLost, promote, restoreLost, shrinkIsr } from '../transitions.js';
import type { Proposal } from './types.js';

export interface AppliedProposals {
  /** The map with every applicable proposal, at version + 1; null when none applied. */
  next: ClusterMap | null;
  applied: Proposal[];
  rejected: Array<{ proposal: Proposal; error: MapTransitionError }>;
}

export function applyProposal(map: ClusterMap, proposal: Proposal): ClusterMap {
  switch (proposal.kind) {
    case 'promote':
      return promote(map, proposal.partition, proposal.candidate, proposal.expectedTerm);
    case 'shrink-isr': {
      const removed = proposal.removed.filter((node) => map.partitions[proposal.partition]?.isr.includes(node));
      return shrinkIsr(map, proposal.partition, proposal.primary, proposal.term, removed);
    }
    case 'expand-isr':
      if ((map.rebalance?.version ?? 0) > proposal.rebalanceVersion) {
        throw new MapTransitionError(
          'STALE_EXPANSION',
          `adding ${proposal.added} to the ISR of partition ${proposal.partition} was judged before baseline change v${map.rebalance!.version}`,
        );
      }
      return expandIsr(map, proposal.partition, proposal.primary, proposal.term, proposal.added);
    case 'mark-lost':
      return markLost(map, proposal.partition);
    case 'restore-lost':
      return restoreLost(map, proposal.partition, proposal.candidate);
    case 'hand-over':
      return handOver(map, proposal.partition, proposal.from, proposal.candidate, proposal.expectedTerm);
    case 'complete-move':
      return completeMove(map, proposal.partition, proposal.primary, proposal.term);
  }
}

export function applyProposals(map: ClusterMap, proposals: readonly Proposal[]): AppliedProposals {
  let current = map;
  const applied: Proposal[] = [];
  const rejected: AppliedProposals['rejected'] = [];
  for (const proposal of proposals) {
    try {
      const next = applyProposal(current, proposal);
      if (next !== current) {
        current = next;
        applied.push(proposal);
      } else {
        rejected.push({ proposal, error: new MapTransitionError('NO_CHANGE', 'the map already reflects this change') });
      }
    } catch (error) {
      if (!(error instanceof MapTransitionError)) throw error;
      rejected.push({ proposal, error });
    }
  }
  if (applied.length === 0) return { next: null, applied, rejected };
  return { next: { ...current, version: map.version + 1 }, applied, rejected };
}
