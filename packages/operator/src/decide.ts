/**
 * The operator's pure reconcile core (DESIGN.md, Operator; STYLE.md, logic in the middle):
 *
 *   decide(input) → { actions, status, wakeAtMs }
 *
 * No I/O, clock or randomness inside: a runtime (local processes, Kubernetes) observes the world,
 * calls decide with the time, carries out the actions and stores the status. Every timer lives in
 * the status (the pending baseline change and its deadline), so an operator restart neither loses
 * nor restarts it: the same status in gives the same deadline out.
 *
 * Level-based: each call looks at the whole observed state, never at "what changed".
 *
 * Decisions, in order:
 * 1. Members to run: the desired ones (`<name>-0` … `<name>-(replicas-1)`), plus any member still in
 *    the baseline, plus every running member while a rebalance is in progress — so a member is never
 *    stopped before its data moved (scale-in drains first).
 * 2. The cluster unreachable → report only. Never activated → activate once every desired member is
 *    online. INACTIVE after a full restart → the nodes activate themselves once every baseline
 *    member is back; report only.
 * 3. Scale-in: baseline members beyond `replicas` leave the baseline at once, draining (they stay up
 *    and serve as sources until their partitions moved).
 * 4. Baseline auto-adjust: baseline members offline have left, desired members online outside the
 *    baseline have joined. The first such event starts the grace timer; every new event (a different
 *    target baseline) restarts it, as Ignite does; a member returning so that nothing differs cancels
 *    it. At the deadline the new baseline is set. With autoAdjust disabled the difference is only
 *    reported. The baseline is never set while every baseline member is offline (a full restart).
 * 5. Rolling changes (the member configuration changed): one member at a time, highest ordinal
 *    first, only while every member is up, nothing is under-replicated, lost or moving and no
 *    baseline change is pending; a roll that cannot proceed says why in the Progressing condition.
 */
import type { WriteSynchronization } from '@ballast/cluster';
import {
  graceTimeoutMs,
  memberIndex,
  memberName,
  type Condition,
  type ConditionType,
  type KVClusterSpec,
  type KVClusterStatus,
  type PendingBaselineChange,
} from './api.js';

/** A member (pod / local process) as the runtime sees it. */
export interface ObservedMember {
  name: string;
  /** The process or pod exists and is not being stopped. */
  running: boolean;
  /** The node is registered in the cluster store (it is a live cluster member). */
  online: boolean;
  /** The member configuration it runs with (see memberConfigHash). */
  configHash: string;
  /**
   * Just (re)started by the runtime and not online yet: on its way back, not a member that left
   * (e.g. every member after a restart of `ballast dev`).
   */
  starting?: boolean;
}

/** What a node's admin API says of the cluster (GET /v1/cluster and /v1/cluster/rebalance). */
export interface ObservedCluster {
  state: 'INACTIVE' | 'ACTIVE' | 'ACTIVE_READ_ONLY';
  autoActivatePending: boolean;
  /** Partitions exist (the cluster was activated once). */
  activated: boolean;
  baseline: string[];
  onlineNodes: string[];
  partitions: { total: number; underReplicated: number; lost: number };
  rebalance: { inProgress: boolean; partitionsTotal: number; partitionsDone: number; bytesMoved: number; bytesRemaining: number } | null;
}

export interface Observed {
  /** metadata.generation of the KVCluster. */
  generation: number;
  members: ObservedMember[];
  /** null: no node's admin API answered. */
  cluster: ObservedCluster | null;
  /** The last action that failed (e.g. a baseline change refused with 409), to report. */
  lastActionError?: { action: string; message: string } | null;
  /**
   * The configuration members should run (compared with ObservedMember.configHash); default
   * memberConfigHash(spec). The Kubernetes runtime passes a hash of the whole pod template.
   */
  desiredConfigHash?: string;
}

export type Action =
  /** Run exactly these members (start missing ones; stop others that run). */
  | { kind: 'run-members'; names: string[] }
  | { kind: 'activate'; partitions: number; backups: number; writeSynchronization: WriteSynchronization }
  | { kind: 'set-baseline'; nodes: string[]; drain: boolean; reason: string }
  /** Restart one member with the new configuration (rolling change). */
  | { kind: 'restart-member'; name: string; reason: string };

export interface DecideInput {
  /** metadata.name of the KVCluster (member names derive from it). */
  name: string;
  /** A defaulted, valid spec. */
  spec: KVClusterSpec;
  /** The status stored by the last reconcile (undefined for a new object). */
  status: KVClusterStatus | undefined;
  observed: Observed;
  nowMs: number;
}

export interface Decision {
  actions: Action[];
  status: KVClusterStatus;
  /** Call decide again by then at the latest (a deadline, or a resync). */
  wakeAtMs: number;
}

/** How often to reconcile when nothing is due (runtimes also react to events at once). */
export const RESYNC_MS = 10_000;
/** How soon to look again while waiting on the cluster (activation, rebalance, a roll step). */
export const POLL_MS = 1_000;

/** The part of the spec a member runs with: a change means a rolling restart. */
export function memberConfigHash(spec: KVClusterSpec): string {
  return JSON.stringify([spec.durability, spec.image ?? null, spec.resources ?? null, spec.imagePullPolicy ?? null]);
}

export function decide(input: DecideInput): Decision {
  const { name, spec, observed, nowMs } = input;
  const previous = input.status;
  const actions: Action[] = [];
  const conditions = new ConditionSet(previous?.conditions ?? [], nowMs, observed.generation);
  let wakeAtMs = nowMs + RESYNC_MS;
  const wakeBy = (atMs: number): void => {
    wakeAtMs = Math.min(wakeAtMs, atMs);
  };

  const desired = Array.from({ length: spec.replicas }, (_, index) => memberName(name, index));
  const cluster = observed.cluster;
  const baseline = cluster?.baseline ?? previous?.baseline.nodes ?? [];
  const online = new Set(cluster?.onlineNodes ?? observed.members.filter((member) => member.online).map((member) => member.name));
  const rebalancing = cluster?.rebalance?.inProgress === true;

  // 1. Members to run.
  const run = new Set(desired);
  for (const node of baseline) if (memberIndex(name, node) !== null) run.add(node);
  if (rebalancing) for (const member of observed.members) if (member.running) run.add(member.name);
  const runNames = [...run].sort(byOrdinal(name));
  actions.push({ kind: 'run-members', names: runNames });
  const readyReplicas = desired.filter((member) => online.has(member)).length;

  const status: KVClusterStatus = {
    observedGeneration: observed.generation,
    conditions: [],
    baseline: { nodes: [...baseline], pending: previous?.baseline.pending ?? null, summary: '' },
    partitions: cluster?.partitions ?? previous?.partitions ?? { total: 0, underReplicated: 0, lost: 0 },
    rebalance: cluster?.rebalance ?? null,
    rebalanceProgress: rebalancing ? `${cluster!.rebalance!.partitionsDone}/${cluster!.rebalance!.partitionsTotal}` : '-',
    readyReplicas,
    ready: `${readyReplicas}/${desired.length}`,
    clusterState: cluster?.state ?? 'Unknown',
  };
  const finish = (): Decision => {
    status.conditions = conditions.list();
    const pending = status.baseline.pending;
    status.baseline.summary = pending === null ? String(baseline.length) : `${baseline.length}→${pending.nodes.length} at ${pending.deadline.slice(11, 19)}Z`;
    return { actions, status, wakeAtMs };
  };

  if (observed.lastActionError) {
    conditions.set('Degraded', 'True', 'ActionFailed', `${observed.lastActionError.action}: ${observed.lastActionError.message}`);
  }

  // 2. Reachability and activation.
  if (cluster === null) {
    conditions.set('Available', 'False', 'ClusterUnreachable', 'no member answers on its admin port');
    conditions.set('Progressing', readyReplicas < desired.length ? 'True' : 'False', 'StartingMembers', `${readyReplicas} of ${desired.length} members online`);
    if (!observed.lastActionError) conditions.set('Degraded', 'True', 'ClusterUnreachable', 'no member answers on its admin port');
    wakeBy(nowMs + POLL_MS);
    return finish();
  }
  if (!cluster.activated) {
    const missing = desired.filter((member) => !online.has(member));
    conditions.set('Available', 'False', 'NotActivated', 'the cluster has not been activated yet');
    if (missing.length === 0) {
      actions.push({ kind: 'activate', partitions: spec.partitions, backups: spec.backups, writeSynchronization: spec.writeSynchronization });
      conditions.set('Progressing', 'True', 'Activating', `activating with baseline ${desired.join(', ')}`);
    } else {
      conditions.set('Progressing', 'True', 'WaitingForMembers', `waiting for ${missing.join(', ')} to come online before the first activation`);
    }
    wakeBy(nowMs + POLL_MS);
    return finish();
  }
  if (cluster.state === 'INACTIVE') {
    const missing = baseline.filter((member) => !online.has(member));
    const why = cluster.autoActivatePending
      ? `full restart: the cluster activates itself once every baseline member is back${missing.length > 0 ? ` (waiting for ${missing.join(', ')})` : ''}`
      : 'the cluster was deactivated by an administrator (POST /v1/cluster/activate to resume)';
    conditions.set('Available', 'False', cluster.autoActivatePending ? 'FullRestart' : 'Deactivated', why);
    conditions.set('Progressing', cluster.autoActivatePending ? 'True' : 'False', cluster.autoActivatePending ? 'FullRestart' : 'Deactivated', why);
    status.baseline.pending = null;
    wakeBy(nowMs + POLL_MS);
    return finish();
  }

  // Health conditions of an active cluster.
  const { underReplicated, lost, total } = cluster.partitions;
  if (lost > 0) conditions.set('Available', 'False', 'PartitionsLost', `${lost} of ${total} partitions have no in-sync replica online`);
  else conditions.set('Available', 'True', cluster.state === 'ACTIVE' ? 'Active' : 'ReadOnly', `${total} partitions served${cluster.state === 'ACTIVE_READ_ONLY' ? ' (read-only)' : ''}`);
  if (!observed.lastActionError) {
    if (lost > 0 || underReplicated > 0) {
      conditions.set('Degraded', 'True', lost > 0 ? 'PartitionsLost' : 'UnderReplicated', `${underReplicated} partitions under-replicated, ${lost} lost`);
    } else if (readyReplicas < desired.length) {
      conditions.set('Degraded', 'True', 'MembersNotReady', `${readyReplicas} of ${desired.length} members online`);
    } else {
      conditions.set('Degraded', 'False', 'AllReplicated', 'every partition has all its in-sync replicas');
    }
  }
  if (rebalancing) {
    const progress = cluster.rebalance!;
    conditions.set('Rebalancing', 'True', 'PartitionsMoving', `${progress.partitionsDone} of ${progress.partitionsTotal} partitions moved, ${progress.bytesMoved} bytes moved, ~${progress.bytesRemaining} to go`);
    wakeBy(nowMs + POLL_MS);
  } else {
    conditions.set('Rebalancing', 'False', 'NoMoves', 'no partition is moving');
  }

  // 3. Scale-in: members beyond replicas leave the baseline first, draining.
  const leaving = baseline.filter((member) => !desired.includes(member));
  if (leaving.length > 0) {
    const nodes = baseline.filter((member) => desired.includes(member));
    actions.push({ kind: 'set-baseline', nodes, drain: true, reason: `scale-in: ${leaving.join(', ')} leave the baseline; their data moves before they stop` });
    conditions.set('Progressing', 'True', 'ScalingIn', `draining ${leaving.join(', ')} before stopping ${leaving.length > 1 ? 'them' : 'it'}`);
    conditions.set('BaselinePending', 'False', 'ScalingIn', 'the baseline is being reduced to the desired members');
    status.baseline.pending = null;
    wakeBy(nowMs + POLL_MS);
    return finish();
  }

  // 4. Baseline auto-adjust with the grace timeout.
  const starting = new Set(observed.members.filter((member) => member.starting === true).map((member) => member.name));
  const present = (member: string): boolean => online.has(member) || starting.has(member);
  const left = baseline.filter((member) => !present(member));
  const joined = desired.filter((member) => online.has(member) && !baseline.includes(member));
  const target = [...baseline.filter(present), ...joined].sort(byOrdinal(name));
  const changes = left.length > 0 || joined.length > 0;
  const everyBaselineMemberOffline = baseline.length > 0 && baseline.every((member) => !present(member));
  if (!changes || everyBaselineMemberOffline || target.length === 0) {
    // Everyone offline at once is a full restart (or a blind observation: an empty cache, the API
    // unreachable): nothing is decided then, and a pending change keeps its timer.
    status.baseline.pending = everyBaselineMemberOffline ? (previous?.baseline.pending ?? null) : null;
    const reason = previous?.baseline.pending ? 'MembersReturned' : 'NoChange';
    conditions.set('BaselinePending', 'False', reason, reason === 'MembersReturned' ? 'every baseline member is back: the pending change was cancelled' : 'the baseline matches the online members');
  } else {
    const reason = [left.length > 0 ? 'MembersLeft' : '', joined.length > 0 ? 'MembersJoined' : ''].filter((item) => item !== '').join(',');
    const what = [left.length > 0 ? `left: ${left.join(', ')}` : '', joined.length > 0 ? `joined: ${joined.join(', ')}` : ''].filter((item) => item !== '').join('; ');
    const kept = previous?.baseline.pending;
    const sameEvent = kept !== null && kept !== undefined && sameList(kept.nodes, target);
    const graceMs = graceTimeoutMs(spec);
    const pending: PendingBaselineChange = sameEvent
      ? { ...kept, nodes: [...kept.nodes] }
      : { reason, since: iso(nowMs), deadline: iso(nowMs + graceMs), nodes: target };
    status.baseline.pending = pending;
    if (!spec.baseline.autoAdjust.enabled) {
      conditions.set('BaselinePending', 'True', 'ManualMode', `${what}; autoAdjust is disabled: set the baseline to ${target.join(', ')} through the admin API to rebalance`);
    } else {
      const deadlineMs = Date.parse(pending.deadline);
      if (nowMs >= deadlineMs) {
        actions.push({ kind: 'set-baseline', nodes: target, drain: false, reason: `grace timeout ${spec.baseline.autoAdjust.graceTimeout} passed (${what})` });
        conditions.set('BaselinePending', 'True', 'Applying', `setting the baseline to ${target.join(', ')} (${what})`);
        wakeBy(nowMs + POLL_MS);
      } else {
        conditions.set('BaselinePending', 'True', reason, `${what}; the baseline becomes ${target.join(', ')} at ${pending.deadline} unless members return`);
        wakeBy(deadlineMs);
      }
    }
  }

  // 5. Rolling changes, one member at a time.
  const config = observed.desiredConfigHash ?? memberConfigHash(spec);
  const stale = observed.members.filter((member) => run.has(member.name) && member.running && member.configHash !== config).sort(byOrdinal(name, member => member.name)).reverse();
  if (stale.length > 0) {
    const blockers: string[] = [];
    // A member counts as up only with its process (pod) running and its node online: a member just
    // restarted may still be registered while it exits, or running before it registered again.
    const running = new Set(observed.members.filter((member) => member.running).map((member) => member.name));
    const down = runNames.filter((member) => !online.has(member) || !running.has(member));
    if (down.length > 0) blockers.push(`waiting for ${down.join(', ')} to be running and online`);
    if (underReplicated > 0 || lost > 0) blockers.push(`${underReplicated} partitions under-replicated, ${lost} lost (a restart could leave a partition without an in-sync replica)`);
    if (rebalancing) blockers.push('a rebalance is in progress');
    if (status.baseline.pending !== null) blockers.push('a baseline change is pending');
    if (blockers.length === 0) {
      const next = stale[0]!;
      actions.push({ kind: 'restart-member', name: next.name, reason: 'configuration changed' });
      conditions.set('Progressing', 'True', 'RollingUpdate', `restarting ${next.name} with the new configuration (${stale.length} member${stale.length > 1 ? 's' : ''} to go)`);
    } else {
      conditions.set('Progressing', 'True', 'RollBlocked', `${stale.length} member${stale.length > 1 ? 's' : ''} to restart; waiting: ${blockers.join('; ')}`);
    }
    wakeBy(nowMs + POLL_MS);
  } else if (readyReplicas < desired.length) {
    conditions.set('Progressing', 'True', 'StartingMembers', `${readyReplicas} of ${desired.length} members online`);
  } else if (rebalancing) {
    conditions.set('Progressing', 'True', 'Rebalancing', 'partitions are moving to the new baseline');
  } else {
    conditions.set('Progressing', 'False', 'Stable', 'every member runs the desired configuration');
  }
  return finish();
}

/** Conditions with lastTransitionTime kept while the status does not change. */
class ConditionSet {
  private readonly next = new Map<ConditionType, Condition>();
  constructor(
    private readonly previous: readonly Condition[],
    private readonly nowMs: number,
    private readonly generation: number,
  ) {}

  set(type: ConditionType, status: Condition['status'], reason: string, message: string): void {
    if (this.next.has(type)) return; // the first (most important) statement of a condition wins
    const before = this.previous.find((condition) => condition.type === type);
    const lastTransitionTime = before !== undefined && before.status === status ? before.lastTransitionTime : iso(this.nowMs);
    this.next.set(type, { type, status, reason, message, lastTransitionTime, observedGeneration: this.generation });
  }

  list(): Condition[] {
    return [...this.next.values()];
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

/** Sorts member names by ordinal (node ids of other shapes last, by name). */
function byOrdinal<T = string>(cluster: string, nameOf: (item: T) => string = (item) => item as unknown as string): (a: T, b: T) => number {
  return (a, b) => {
    const ia = memberIndex(cluster, nameOf(a)) ?? Number.MAX_SAFE_INTEGER;
    const ib = memberIndex(cluster, nameOf(b)) ?? Number.MAX_SAFE_INTEGER;
    return ia - ib || (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0);
  };
}
