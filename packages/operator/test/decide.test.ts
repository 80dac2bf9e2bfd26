// Proves the operator's pure reconcile core with a fake clock, one case per decision: activation
// once every member is up; full restart reported, not acted on; a leave or join starts the grace
// timer, a second event restarts it, a return cancels it, the deadline sets the baseline; a pending
// deadline survives an operator restart (status in, same deadline out); manual mode only reports;
// scale-out joins after the grace; scale-in drains before it stops anything; rolling restarts go one
// member at a time and say why they wait; whatever it waits for, it asks to be called again within
// RESYNC_MS. Also the KVCluster defaults, validation and durations.
import { describe, expect, it } from 'vitest';
import {
  applyDefaults,
  decide,
  memberConfigHash,
  parseDurationMs,
  RESYNC_MS,
  validateSpec,
  type Action,
  type Decision,
  type KVClusterSpec,
  type KVClusterStatus,
  type Observed,
  type ObservedCluster,
} from '../src/index.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const GRACE_MS = 10_000;

function spec(overrides: Partial<KVClusterSpec> = {}): KVClusterSpec {
  return { ...applyDefaults({ replicas: 3, partitions: 16, baseline: { autoAdjust: { graceTimeout: '10s' } } }), ...overrides };
}

function members(names: string[], online: string[], config = memberConfigHash(spec())): Observed['members'] {
  return names.map((name) => ({ name, running: true, online: online.includes(name), configHash: config }));
}

function active(baseline: string[], online: string[], extra: Partial<ObservedCluster> = {}): ObservedCluster {
  return {
    state: 'ACTIVE',
    autoActivatePending: false,
    activated: true,
    baseline,
    onlineNodes: online,
    partitions: { total: 16, underReplicated: 0, lost: 0 },
    rebalance: { inProgress: false, partitionsTotal: 0, partitionsDone: 0, bytesMoved: 0, bytesRemaining: 0 },
    ...extra,
  };
}

const ALL = ['kv-0', 'kv-1', 'kv-2'];

/** One reconcile of cluster "kv". */
function run(observed: Partial<Observed> & { cluster: ObservedCluster | null }, nowMs: number, status?: KVClusterStatus, specValue = spec()): Decision {
  const online = observed.cluster?.onlineNodes ?? [];
  return decide({
    name: 'kv',
    spec: specValue,
    status,
    observed: { generation: 1, members: members(ALL, online), ...observed },
    nowMs,
  });
}

function kinds(decision: Decision): string[] {
  return decision.actions.map((action) => action.kind);
}

function baselineAction(decision: Decision): Extract<Action, { kind: 'set-baseline' }> | undefined {
  return decision.actions.find((action): action is Extract<Action, { kind: 'set-baseline' }> => action.kind === 'set-baseline');
}

function condition(decision: Decision, type: string): { status: string; reason: string; message: string; lastTransitionTime: string } {
  const found = decision.status.conditions.find((item) => item.type === type);
  if (found === undefined) throw new Error(`no ${type} condition in ${JSON.stringify(decision.status.conditions)}`);
  return found;
}

describe('KVCluster spec', () => {
  it('fills defaults and parses durations', () => {
    const filled = applyDefaults({});
    expect(filled).toMatchObject({ replicas: 3, partitions: 256, backups: 1, writeSynchronization: 'FULL_SYNC', durability: 'sync', baseline: { autoAdjust: { enabled: true, graceTimeout: '5m' } } });
    expect(validateSpec(filled)).toEqual([]);
    expect(parseDurationMs('5m')).toBe(300_000);
    expect(parseDurationMs('1h30m')).toBe(5_400_000);
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('10')).toBeNull();
    expect(parseDurationMs('-5m')).toBeNull();
    expect(parseDurationMs('5 m')).toBeNull();
  });

  it('rejects bad specs with messages naming the field', () => {
    const errors = validateSpec({ ...applyDefaults({}), replicas: -1, partitions: 100, writeSynchronization: 'SOMETIMES' as never, durability: 'maybe' as never, baseline: { autoAdjust: { enabled: true, graceTimeout: 'soon' } } });
    expect(errors).toEqual([
      'spec.replicas: must be an integer from 1 to 128, got -1',
      'spec.partitions: must be a power of two from 1 to 4096 (e.g. 256), got 100',
      'spec.writeSynchronization: must be one of FULL_SYNC, PRIMARY_SYNC, got "SOMETIMES"',
      'spec.durability: must be one of sync, async, got "maybe"',
      'spec.baseline.autoAdjust.graceTimeout: must be a duration such as 30s, 5m or 1h30m, got "soon"',
    ]);
    expect(validateSpec(applyDefaults({ partitions: 512 }), applyDefaults({ partitions: 256 }))).toEqual([
      'spec.partitions: is immutable (it is 256); create a new cluster to change it',
    ]);
  });
});

describe('decide: activation and full restart', () => {
  it('waits for every member, then activates once with the spec', () => {
    const waiting = run({ cluster: { ...active([], ['kv-0', 'kv-1']), activated: false, state: 'INACTIVE' } }, T0);
    expect(kinds(waiting)).toEqual(['run-members']);
    expect(condition(waiting, 'Progressing')).toMatchObject({ status: 'True', reason: 'WaitingForMembers' });
    expect(condition(waiting, 'Progressing').message).toMatch(/kv-2/);
    const ready = run({ cluster: { ...active([], ALL), activated: false, state: 'INACTIVE' } }, T0);
    expect(ready.actions).toContainEqual({ kind: 'activate', partitions: 16, backups: 1, writeSynchronization: 'FULL_SYNC' });
    expect((ready.actions[0] as { names: string[] }).names).toEqual(ALL);
  });

  it('reports a full restart and leaves activation to the nodes', () => {
    const decision = run({ cluster: { ...active(ALL, ['kv-0']), state: 'INACTIVE', autoActivatePending: true } }, T0);
    expect(kinds(decision)).toEqual(['run-members']);
    expect(condition(decision, 'Available')).toMatchObject({ status: 'False', reason: 'FullRestart' });
    expect(condition(decision, 'Progressing').message).toMatch(/waiting for kv-1, kv-2/);
  });

  it('reports an unreachable cluster without acting on the baseline', () => {
    const decision = run({ cluster: null }, T0);
    expect(kinds(decision)).toEqual(['run-members']);
    expect(condition(decision, 'Available')).toMatchObject({ status: 'False', reason: 'ClusterUnreachable' });
  });
});

describe('decide: baseline auto-adjust with the grace timeout', () => {
  it('a member leaving starts the timer; at the deadline the baseline shrinks', () => {
    const first = run({ cluster: active(ALL, ['kv-0', 'kv-1']) }, T0);
    expect(baselineAction(first)).toBeUndefined();
    expect(first.status.baseline.pending).toEqual({ reason: 'MembersLeft', since: new Date(T0).toISOString(), deadline: new Date(T0 + GRACE_MS).toISOString(), nodes: ['kv-0', 'kv-1'] });
    expect(first.wakeAtMs).toBe(T0 + GRACE_MS);
    expect(condition(first, 'BaselinePending')).toMatchObject({ status: 'True', reason: 'MembersLeft' });
    // Still offline, before the deadline: nothing; at the deadline: set the baseline (not a drain).
    const later = run({ cluster: active(ALL, ['kv-0', 'kv-1']) }, T0 + GRACE_MS - 1, first.status);
    expect(baselineAction(later)).toBeUndefined();
    expect(later.status.baseline.pending!.deadline).toBe(first.status.baseline.pending!.deadline);
    const due = run({ cluster: active(ALL, ['kv-0', 'kv-1']) }, T0 + GRACE_MS, later.status);
    expect(baselineAction(due)).toMatchObject({ nodes: ['kv-0', 'kv-1'], drain: false });
    // Once the map shows the new baseline the pending change is gone.
    const after = run({ cluster: active(['kv-0', 'kv-1'], ['kv-0', 'kv-1']) }, T0 + GRACE_MS + 500, due.status);
    expect(after.status.baseline.pending).toBeNull();
    expect(baselineAction(after)).toBeUndefined();
  });

  it('a second event restarts the timer (Ignite semantics)', () => {
    const first = run({ cluster: active(ALL, ['kv-0', 'kv-1']) }, T0);
    const second = run({ cluster: active(ALL, ['kv-0']) }, T0 + 6000, first.status);
    expect(second.status.baseline.pending).toMatchObject({ nodes: ['kv-0'], since: new Date(T0 + 6000).toISOString(), deadline: new Date(T0 + 6000 + GRACE_MS).toISOString() });
    expect(baselineAction(run({ cluster: active(ALL, ['kv-0']) }, T0 + GRACE_MS + 1, second.status))).toBeUndefined();
    expect(baselineAction(run({ cluster: active(ALL, ['kv-0']) }, T0 + 6000 + GRACE_MS, second.status))).toMatchObject({ nodes: ['kv-0'] });
  });

  it('a member returning before the deadline cancels the change', () => {
    const first = run({ cluster: active(ALL, ['kv-0', 'kv-1']) }, T0);
    const back = run({ cluster: active(ALL, ALL) }, T0 + 4000, first.status);
    expect(back.status.baseline.pending).toBeNull();
    expect(condition(back, 'BaselinePending')).toMatchObject({ status: 'False', reason: 'MembersReturned' });
    expect(baselineAction(run({ cluster: active(ALL, ALL) }, T0 + 60_000, back.status))).toBeUndefined();
  });

  it('a pending deadline survives an operator restart: the same status in gives the same deadline out', () => {
    const first = run({ cluster: active(ALL, ['kv-0', 'kv-1']) }, T0);
    const stored: KVClusterStatus = JSON.parse(JSON.stringify(first.status));
    const restarted = run({ cluster: active(ALL, ['kv-0', 'kv-1']) }, T0 + 7000, stored);
    expect(restarted.status.baseline.pending).toEqual(first.status.baseline.pending);
    expect(restarted.wakeAtMs).toBe(T0 + GRACE_MS);
  });

  it('with autoAdjust disabled it only reports', () => {
    const manual = spec({ baseline: { autoAdjust: { enabled: false, graceTimeout: '10s' } } });
    const decision = run({ cluster: active(ALL, ['kv-0', 'kv-1']) }, T0 + 3_600_000, undefined, manual);
    expect(baselineAction(decision)).toBeUndefined();
    expect(condition(decision, 'BaselinePending')).toMatchObject({ status: 'True', reason: 'ManualMode' });
  });

  it('never sets a baseline while every baseline member is offline, and keeps a pending change\'s timer then', () => {
    const decision = run({ cluster: active(ALL, []) }, T0 + 3_600_000);
    expect(baselineAction(decision)).toBeUndefined();
    expect(decision.status.baseline.pending).toBeNull();
    // kv-2 left: a change is pending; then every member looks offline (a blind observation).
    const pending = run({ cluster: active(ALL, ['kv-0', 'kv-1']) }, T0);
    const blind = run({ cluster: active(ALL, []) }, T0 + 2000, pending.status);
    expect(blind.status.baseline.pending).toEqual(pending.status.baseline.pending);
    const seeing = run({ cluster: active(ALL, ['kv-0', 'kv-1']) }, T0 + 4000, blind.status);
    expect(seeing.status.baseline.pending?.deadline).toBe(pending.status.baseline.pending?.deadline);
  });
});

describe('decide: scaling', () => {
  it('scale-out: new members run at once and enter the baseline after the grace', () => {
    const five = spec({ replicas: 5 });
    const names = [...ALL, 'kv-3', 'kv-4'];
    const observed = { cluster: active(ALL, names), members: members(names, names, memberConfigHash(five)) };
    const first = run(observed, T0, undefined, five);
    expect((first.actions[0] as { names: string[] }).names).toEqual(names);
    expect(first.status.baseline.pending).toMatchObject({ reason: 'MembersJoined', nodes: names });
    expect(baselineAction(first)).toBeUndefined();
    expect(baselineAction(run(observed, T0 + GRACE_MS, first.status, five))).toMatchObject({ nodes: names, drain: false });
  });

  it('scale-in: the highest members leave the baseline first (draining) and stop only after the rebalance', () => {
    const names = [...ALL, 'kv-3', 'kv-4'];
    const three = spec();
    // 1. Still in the baseline: drain them, keep them running.
    const drain = run({ cluster: active(names, names), members: members(names, names) }, T0, undefined, three);
    expect(baselineAction(drain)).toEqual({ kind: 'set-baseline', nodes: ALL, drain: true, reason: expect.stringMatching(/kv-3, kv-4/) });
    expect((drain.actions[0] as { names: string[] }).names).toEqual(names);
    // 2. Out of the baseline, data still moving: they keep running.
    const moving = active(ALL, names, { rebalance: { inProgress: true, partitionsTotal: 8, partitionsDone: 3, bytesMoved: 100, bytesRemaining: 200 } });
    const wait = run({ cluster: moving, members: members(names, names) }, T0 + 1000, drain.status, three);
    expect((wait.actions[0] as { names: string[] }).names).toEqual(names);
    expect(condition(wait, 'Rebalancing')).toMatchObject({ status: 'True', reason: 'PartitionsMoving' });
    // 3. Rebalance done: only the desired members run (the runtime stops kv-3 and kv-4).
    const done = run({ cluster: active(ALL, names), members: members(names, names) }, T0 + 5000, wait.status, three);
    expect((done.actions[0] as { names: string[] }).names).toEqual(ALL);
    expect(baselineAction(done)).toBeUndefined();
  });
});

describe('decide: rolling changes', () => {
  const changed = spec({ durability: 'async' });
  const oldConfig = memberConfigHash(spec());

  it('restarts one member at a time, highest ordinal first, when everything is in sync', () => {
    const decision = run({ cluster: active(ALL, ALL), members: members(ALL, ALL, oldConfig) }, T0, undefined, changed);
    expect(decision.actions.filter((action) => action.kind === 'restart-member')).toEqual([{ kind: 'restart-member', name: 'kv-2', reason: 'configuration changed' }]);
    expect(condition(decision, 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingUpdate' });
    // kv-2 restarted with the new configuration and is back: next is kv-1.
    const rolled = members(ALL, ALL, oldConfig).map((member) => (member.name === 'kv-2' ? { ...member, configHash: memberConfigHash(changed) } : member));
    const next = run({ cluster: active(ALL, ALL), members: rolled }, T0 + 5000, decision.status, changed);
    expect(next.actions.filter((action) => action.kind === 'restart-member')).toEqual([{ kind: 'restart-member', name: 'kv-1', reason: 'configuration changed' }]);
  });

  it('waits, and says why, while a member is down, partitions are under-replicated or moving', () => {
    const cases: Array<[ObservedCluster, RegExp]> = [
      [active(ALL, ['kv-0', 'kv-1']), /waiting for kv-2 to be running and online/],
      [active(ALL, ALL, { partitions: { total: 16, underReplicated: 3, lost: 0 } }), /3 partitions under-replicated/],
      [active(ALL, ALL, { rebalance: { inProgress: true, partitionsTotal: 4, partitionsDone: 1, bytesMoved: 1, bytesRemaining: 1 } }), /rebalance is in progress/],
    ];
    for (const [cluster, why] of cases) {
      const decision = run({ cluster, members: members(ALL, cluster.onlineNodes, oldConfig) }, T0, undefined, changed);
      expect(decision.actions.some((action) => action.kind === 'restart-member')).toBe(false);
      expect(condition(decision, 'Progressing')).toMatchObject({ status: 'True', reason: 'RollBlocked' });
      expect(condition(decision, 'Progressing').message).toMatch(why);
    }
  });

  it('waits while the member just restarted is still registered but its pod is gone (stepping down), or back but not yet online', () => {
    // kv-2 was restarted: its pod is gone while its node, stepping down, is still registered.
    const exiting = members(ALL, ALL, oldConfig).filter((member) => member.name !== 'kv-2');
    const first = run({ cluster: active(ALL, ALL), members: exiting }, T0, undefined, changed);
    expect(kinds(first)).not.toContain('restart-member');
    expect(condition(first, 'Progressing').message).toMatch(/waiting for kv-2 to be running and online/);
    // kv-2 runs the new configuration but has not registered yet.
    const back = members(ALL, ['kv-0', 'kv-1'], oldConfig).map((member) => (member.name === 'kv-2' ? { ...member, configHash: memberConfigHash(changed), starting: true } : member));
    const second = run({ cluster: active(ALL, ['kv-0', 'kv-1']), members: back }, T0 + 1000, first.status, changed);
    expect(kinds(second)).not.toContain('restart-member');
  });

  it('uses the runtime\'s desired configuration hash when it gives one (the Kubernetes pod template)', () => {
    const decision = run({ cluster: active(ALL, ALL), members: members(ALL, ALL, 'template-1'), desiredConfigHash: 'template-2' }, T0);
    expect(decision.actions.filter((action) => action.kind === 'restart-member')).toEqual([{ kind: 'restart-member', name: 'kv-2', reason: 'configuration changed' }]);
    expect(kinds(run({ cluster: active(ALL, ALL), members: members(ALL, ALL, 'template-2'), desiredConfigHash: 'template-2' }, T0))).not.toContain('restart-member');
  });

  it('keeps a condition\'s lastTransitionTime while its status does not change', () => {
    const first = run({ cluster: active(ALL, ALL) }, T0);
    const second = run({ cluster: active(ALL, ALL) }, T0 + 60_000, first.status);
    expect(condition(second, 'Available').lastTransitionTime).toBe(new Date(T0).toISOString());
    const degraded = run({ cluster: active(ALL, ALL, { partitions: { total: 16, underReplicated: 0, lost: 2 } }) }, T0 + 120_000, second.status);
    expect(condition(degraded, 'Available')).toMatchObject({ status: 'False', reason: 'PartitionsLost', lastTransitionTime: new Date(T0 + 120_000).toISOString() });
  });
});

describe('decide: wake-up', () => {
  it('asks to be called again within RESYNC_MS (at most 30 s) whatever it waits for, so a quiet cluster is still reconciled', () => {
    const longGrace = spec({ baseline: { autoAdjust: { enabled: true, graceTimeout: '1h' } } });
    const pending = run({ cluster: active(ALL, ['kv-0', 'kv-1']) }, T0, undefined, longGrace);
    const manual = spec({ baseline: { autoAdjust: { enabled: false, graceTimeout: '10s' } } });
    const cases: Array<[string, number, Decision]> = [
      ['stable', T0, run({ cluster: active(ALL, ALL) }, T0)],
      ['unreachable', T0, run({ cluster: null }, T0)],
      ['a pending change due in an hour', T0 + 1000, run({ cluster: active(ALL, ['kv-0', 'kv-1']) }, T0 + 1000, pending.status, longGrace)],
      ['manual mode', T0, run({ cluster: active(ALL, ['kv-0', 'kv-1']) }, T0, undefined, manual)],
      ['deactivated', T0, run({ cluster: { ...active(ALL, ALL), state: 'INACTIVE' } }, T0)],
    ];
    expect(RESYNC_MS).toBeLessThanOrEqual(30_000);
    for (const [what, nowMs, decision] of cases) expect(decision.wakeAtMs - nowMs, what).toBeLessThanOrEqual(RESYNC_MS);
  });
});
