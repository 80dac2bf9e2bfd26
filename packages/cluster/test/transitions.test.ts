// Proves the ClusterMap transitions: every success path yields version + 1, a deep copy and a map
// validateMap accepts, inputs are never mutated (they are deep-frozen and compared), no-op calls
// return the input itself, every error code is reachable with a message naming the culprit, and
// validateMap/parseMap reject each broken invariant. A fast-check model drives random transition
// sequences (seeded by fast-check) and checks the invariants after every step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  activate,
  assignAll,
  assignPartition,
  BACKUPS_MAX,
  completeMove,
  createMap,
  expandIsr,
  handOver,
  historyRelation,
  MAP_ERROR_CODES,
  MAP_PARTITIONS_MAX,
  MapTransitionError,
  markFullRestart,
  markLost,
  parseMap,
  promote,
  registerNode,
  resetLost,
  restoreLost,
  setBaseline,
  setRebalanceLimits,
  setState,
  shrinkIsr,
  validateMap,
  verifyChain,
  type ActivateOptions,
  type ClusterMap,
  type ClusterState,
  type MapErrorCode,
  type NodeAddress,
} from '../src/index.js';

// ---------------------------------------------------------------------------------------------
// Helpers

function address(nodeId: string, zone?: string, port = 7000): NodeAddress {
  const result: NodeAddress = { host: `${nodeId}.ballast.local`, port, peerPort: port + 1, adminPort: port + 2 };
  if (zone !== undefined) result.zone = zone;
  return result;
}

function online(...nodeIds: string[]): Record<string, NodeAddress> {
  return Object.fromEntries(nodeIds.map((nodeId) => [nodeId, address(nodeId)]));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** A fresh map: active, 4 partitions, 3 nodes, 2 backups (every node holds every partition). */
function activeMap(options: Partial<ActivateOptions> = {}): ClusterMap {
  return activate(createMap('c1'), {
    onlineNodes: online('a', 'b', 'c'),
    partitionCount: 4,
    backups: 2,
    writeSynchronization: 'FULL_SYNC',
    ...options,
  });
}

/**
 * Runs a transition on a deep-frozen input and checks what every successful change must satisfy:
 * a new object at version + 1 that validates and survives a JSON round trip, the input unchanged.
 */
function step(map: ClusterMap, transition: (map: ClusterMap) => ClusterMap): ClusterMap {
  const snapshot = structuredClone(map);
  deepFreeze(map);
  const next = transition(map);
  expect(map).toEqual(snapshot);
  expect(next).not.toBe(map);
  expect(next.version).toBe(map.version + 1);
  expect(validateMap(next)).toEqual([]);
  expect(parseMap(JSON.parse(JSON.stringify(next)))).toEqual(next);
  return next;
}

/** Asserts that a call returns its input object unchanged (no CAS needed). */
function unchanged(map: ClusterMap, transition: (map: ClusterMap) => ClusterMap): void {
  const snapshot = structuredClone(map);
  deepFreeze(map);
  expect(transition(map)).toBe(map);
  expect(map).toEqual(snapshot);
}

const codesSeen = new Set<string>();

/** Asserts that a call throws MapTransitionError with `code` and a message matching `message`. */
function refuses(map: ClusterMap, transition: (map: ClusterMap) => unknown, code: MapErrorCode, message?: RegExp): void {
  const snapshot = structuredClone(map);
  deepFreeze(map);
  let thrown: unknown;
  try {
    transition(map);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(MapTransitionError);
  expect((thrown as MapTransitionError).code).toBe(code);
  if (message !== undefined) expect((thrown as MapTransitionError).message).toMatch(message);
  expect(map).toEqual(snapshot);
  codesSeen.add(code);
}

// ---------------------------------------------------------------------------------------------
// createMap and registerNode

describe('createMap', () => {
  it('starts at version 0, INACTIVE and empty', () => {
    const map = createMap('c1');
    expect(map).toEqual({
      formatVersion: 1,
      clusterId: 'c1',
      version: 0,
      state: 'INACTIVE',
      autoActivatePending: false,
      partitionCount: 0,
      backups: 0,
      writeSynchronization: 'FULL_SYNC',
      baseline: [],
      nodes: {},
      history: [],
      partitions: [],
    });
    expect(validateMap(map)).toEqual([]);
  });

  it.each([{ clusterId: '' }, { clusterId: 'x'.repeat(254) }])('refuses cluster id of length $clusterId.length', ({ clusterId }) => {
    refuses(createMap('c1'), () => createMap(clusterId), 'INVALID_CLUSTER_ID');
  });
});

describe('registerNode', () => {
  it.each([
    { name: 'a new node', before: {}, nodeId: 'a', next: address('a') },
    { name: 'a changed port', before: online('a'), nodeId: 'a', next: address('a', undefined, 8000) },
    { name: 'a zone added', before: online('a'), nodeId: 'a', next: address('a', 'z1') },
  ])('records $name', ({ before, nodeId, next }) => {
    const map = { ...createMap('c1'), nodes: before };
    const result = step(map, (m) => registerNode(m, nodeId, next));
    expect(result.nodes[nodeId]).toEqual(next);
    expect(result.nodes[nodeId]).not.toBe(next);
  });

  it('returns the same map when the address is unchanged', () => {
    const map = step(createMap('c1'), (m) => registerNode(m, 'a', address('a', 'z1')));
    unchanged(map, (m) => registerNode(m, 'a', address('a', 'z1')));
  });

  it.each([
    { nodeId: '' },
    { nodeId: 'a,b' },
    { nodeId: 'a\nb' },
    { nodeId: '__proto__' },
    { nodeId: '-a' },
    { nodeId: 'n'.repeat(64) },
  ])('refuses node id $nodeId', ({ nodeId }) => {
    refuses(createMap('c1'), (m) => registerNode(m, nodeId, address('x')), 'INVALID_NODE_ID');
  });

  it.each([
    { name: 'empty host', change: { host: '' }, message: /host/ },
    { name: 'port 0', change: { port: 0 }, message: /port/ },
    { name: 'peer port 70000', change: { peerPort: 70000 }, message: /peerPort/ },
    { name: 'fractional admin port', change: { adminPort: 80.5 }, message: /adminPort/ },
    { name: 'long zone', change: { zone: 'z'.repeat(64) }, message: /zone/ },
  ])('refuses an address with $name', ({ change, message }) => {
    refuses(createMap('c1'), (m) => registerNode(m, 'a', { ...address('a'), ...change }), 'INVALID_ADDRESS', message);
  });
});

// ---------------------------------------------------------------------------------------------
// activate

describe('activate: first activation', () => {
  it('makes the online nodes the baseline and places every partition', () => {
    const registered = step(createMap('c1'), (m) => registerNode(m, 'gone', address('gone')));
    const map = step(registered, (m) =>
      activate(m, {
        onlineNodes: { c: address('c', 'z2'), a: address('a', 'z1'), b: address('b', 'z1'), d: address('d', 'z3') },
        partitionCount: 8,
        backups: 1,
        writeSynchronization: 'PRIMARY_SYNC',
      }),
    );
    expect(map.state).toBe('ACTIVE');
    expect(map.autoActivatePending).toBe(false);
    expect(map.baseline).toEqual(['a', 'b', 'c', 'd']);
    expect(Object.keys(map.nodes).sort()).toEqual(['a', 'b', 'c', 'd']); // "gone" was not online
    expect(map.partitionCount).toBe(8);
    expect(map.backups).toBe(1);
    expect(map.writeSynchronization).toBe('PRIMARY_SYNC');
    const expected = assignAll(
      8,
      [
        { id: 'a', zone: 'z1' },
        { id: 'b', zone: 'z1' },
        { id: 'c', zone: 'z2' },
        { id: 'd', zone: 'z3' },
      ],
      1,
    );
    expect(map.partitions).toEqual(
      expected.map((replicas) => ({ replicas, isr: replicas, primary: replicas[0], term: 1, lost: false })),
    );
    expect(map.history).toHaveLength(1);
    expect(map.history[0]!.version).toBe(map.version);
    expect(map.history[0]!.baseline).toEqual(['a', 'b', 'c', 'd']);
    expect(verifyChain(map.history)).toBe(true);
  });

  it.each([
    { nodes: ['a'], backups: 2, replicas: 1 },
    { nodes: ['a', 'b'], backups: 2, replicas: 2 },
    { nodes: ['a', 'b', 'c', 'd'], backups: 0, replicas: 1 },
    { nodes: ['a', 'b', 'c', 'd'], backups: BACKUPS_MAX, replicas: 4 },
  ])('places min(backups + 1, nodes) replicas: $nodes.length nodes, $backups backups', ({ nodes, backups, replicas }) => {
    const map = step(createMap('c1'), (m) =>
      activate(m, { onlineNodes: online(...nodes), partitionCount: 16, backups, writeSynchronization: 'FULL_SYNC' }),
    );
    for (const assignment of map.partitions) expect(assignment.replicas).toHaveLength(replicas);
  });

  it.each([1, 2, 256, MAP_PARTITIONS_MAX])('accepts partitionCount %i', (partitionCount) => {
    const map = step(createMap('c1'), (m) =>
      activate(m, { onlineNodes: online('a', 'b'), partitionCount, backups: 1, writeSynchronization: 'FULL_SYNC' }),
    );
    expect(map.partitions).toHaveLength(partitionCount);
  });

  const base: ActivateOptions = {
    onlineNodes: online('a', 'b'),
    partitionCount: 4,
    backups: 1,
    writeSynchronization: 'FULL_SYNC',
  };
  it.each<{ name: string; options: ActivateOptions; code: MapErrorCode; message: RegExp }>([
    { name: 'no partitionCount', options: { ...base, partitionCount: undefined }, code: 'INVALID_PARTITION_COUNT', message: /partitionCount/ },
    { name: 'partitionCount 3', options: { ...base, partitionCount: 3 }, code: 'INVALID_PARTITION_COUNT', message: /got 3/ },
    { name: 'partitionCount 0', options: { ...base, partitionCount: 0 }, code: 'INVALID_PARTITION_COUNT', message: /got 0/ },
    { name: 'partitionCount above the map bound', options: { ...base, partitionCount: MAP_PARTITIONS_MAX * 2 }, code: 'INVALID_PARTITION_COUNT', message: /4096/ },
    { name: 'no backups', options: { ...base, backups: undefined }, code: 'INVALID_BACKUPS', message: /backups/ },
    { name: 'backups -1', options: { ...base, backups: -1 }, code: 'INVALID_BACKUPS', message: /got -1/ },
    { name: 'too many backups', options: { ...base, backups: BACKUPS_MAX + 1 }, code: 'INVALID_BACKUPS', message: /got 6/ },
    { name: 'fractional backups', options: { ...base, backups: 1.5 }, code: 'INVALID_BACKUPS', message: /got 1.5/ },
    { name: 'no writeSynchronization', options: { ...base, writeSynchronization: undefined }, code: 'INVALID_WRITE_SYNCHRONIZATION', message: /writeSynchronization/ },
    { name: 'unknown writeSynchronization', options: { ...base, writeSynchronization: 'QUORUM' as never }, code: 'INVALID_WRITE_SYNCHRONIZATION', message: /QUORUM/ },
    { name: 'no online node', options: { ...base, onlineNodes: {} }, code: 'NO_ONLINE_NODES', message: /c1/ },
    { name: 'a bad node id', options: { ...base, onlineNodes: { 'a,b': address('a') } }, code: 'INVALID_NODE_ID', message: /a,b/ },
    { name: 'a bad address', options: { ...base, onlineNodes: { a: { ...address('a'), port: -1 } } }, code: 'INVALID_ADDRESS', message: /node a/ },
  ])('refuses $name', ({ options, code, message }) => {
    refuses(createMap('c1'), (m) => activate(m, options), code, message);
  });

  it.each<ClusterState>(['ACTIVE', 'ACTIVE_READ_ONLY'])('refuses a map that is already %s', (state) => {
    const map = state === 'ACTIVE' ? activeMap() : setState(activeMap(), state);
    refuses(map, (m) => activate(m, { onlineNodes: online('a', 'b', 'c') }), 'ALREADY_ACTIVE', new RegExp(state));
  });
});

describe('activate: re-activation', () => {
  const deactivated = (): ClusterMap => setState(activeMap(), 'INACTIVE');

  it.each<{ name: string; options: Omit<ActivateOptions, 'onlineNodes'> }>([
    { name: 'no options', options: {} },
    { name: 'the same options', options: { partitionCount: 4, backups: 2, writeSynchronization: 'FULL_SYNC' } },
  ])('keeps partitions and appends history with $name', ({ options }) => {
    const before = deactivated();
    const nodes = { ...online('a', 'b', 'extra'), c: address('c', 'z9', 9000) };
    const map = step(before, (m) => activate(m, { onlineNodes: nodes, ...options }));
    expect(map.state).toBe('ACTIVE');
    expect(map.partitions).toEqual(before.partitions);
    expect(map.baseline).toEqual(before.baseline);
    expect(map.nodes['c']).toEqual(address('c', 'z9', 9000)); // baseline addresses are refreshed
    expect(Object.hasOwn(map.nodes, 'extra')).toBe(false); // a non-baseline node is not added
    expect(map.history).toHaveLength(2);
    expect(map.history[1]!.version).toBe(map.version);
    expect(historyRelation(before.history, map.history)).toBe('behind');
  });

  it('activates after a full restart and clears autoActivatePending', () => {
    const restarted = markFullRestart(activeMap());
    const map = step(restarted, (m) => activate(m, { onlineNodes: online('a', 'b', 'c') }));
    expect(map.autoActivatePending).toBe(false);
    expect(map.state).toBe('ACTIVE');
  });

  it.each<{ name: string; options: ActivateOptions; code: MapErrorCode; message: RegExp }>([
    { name: 'another partitionCount', options: { onlineNodes: online('a', 'b', 'c'), partitionCount: 8 }, code: 'PARTITIONS_IMMUTABLE', message: /4 partitions.*8/ },
    { name: 'other backups', options: { onlineNodes: online('a', 'b', 'c'), backups: 1 }, code: 'OPTIONS_CONFLICT', message: /backups/ },
    { name: 'another writeSynchronization', options: { onlineNodes: online('a', 'b', 'c'), writeSynchronization: 'PRIMARY_SYNC' }, code: 'OPTIONS_CONFLICT', message: /PRIMARY_SYNC/ },
    { name: 'baseline nodes offline', options: { onlineNodes: online('a', 'x') }, code: 'BASELINE_INCOMPLETE', message: /offline: b, c$/ },
  ])('refuses $name', ({ options, code, message }) => {
    refuses(deactivated(), (m) => activate(m, options), code, message);
  });
});

// ---------------------------------------------------------------------------------------------
// setState and markFullRestart

describe('setState', () => {
  it.each<{ from: ClusterState; pending: boolean; to: ClusterState }>([
    { from: 'ACTIVE', pending: false, to: 'ACTIVE_READ_ONLY' },
    { from: 'ACTIVE_READ_ONLY', pending: false, to: 'ACTIVE' },
    { from: 'ACTIVE', pending: false, to: 'INACTIVE' },
    { from: 'ACTIVE_READ_ONLY', pending: false, to: 'INACTIVE' },
    // An explicit deactivation cancels a pending auto-activation.
    { from: 'INACTIVE', pending: true, to: 'INACTIVE' },
  ])('$from (pending $pending) → $to', ({ from, pending, to }) => {
    let map = activeMap();
    if (from === 'ACTIVE_READ_ONLY') map = setState(map, from);
    if (pending) map = markFullRestart(map);
    const next = step(map, (m) => setState(m, to));
    expect(next.state).toBe(to);
    expect(next.autoActivatePending).toBe(false);
    expect(next.partitions).toEqual(map.partitions);
    expect(next.history).toEqual(map.history);
  });

  it.each<{ name: string; map: () => ClusterMap; state: ClusterState }>([
    { name: 'ACTIVE', map: activeMap, state: 'ACTIVE' },
    { name: 'ACTIVE_READ_ONLY', map: () => setState(activeMap(), 'ACTIVE_READ_ONLY'), state: 'ACTIVE_READ_ONLY' },
    { name: 'INACTIVE (never activated)', map: () => createMap('c1'), state: 'INACTIVE' },
    { name: 'INACTIVE (deactivated)', map: () => setState(activeMap(), 'INACTIVE'), state: 'INACTIVE' },
  ])('returns the same map for $name → itself', ({ map, state }) => {
    unchanged(map(), (m) => setState(m, state));
  });

  it.each<{ name: string; map: () => ClusterMap; state: ClusterState; message: RegExp }>([
    { name: 'never activated → ACTIVE', map: () => createMap('c1'), state: 'ACTIVE', message: /never activated/ },
    { name: 'never activated → ACTIVE_READ_ONLY', map: () => createMap('c1'), state: 'ACTIVE_READ_ONLY', message: /never activated/ },
    { name: 'deactivated → ACTIVE', map: () => setState(activeMap(), 'INACTIVE'), state: 'ACTIVE', message: /baseline/ },
    { name: 'pending → ACTIVE_READ_ONLY', map: () => markFullRestart(activeMap()), state: 'ACTIVE_READ_ONLY', message: /activate/ },
  ])('refuses $name (USE_ACTIVATE)', ({ map, state, message }) => {
    refuses(map(), (m) => setState(m, state), 'USE_ACTIVATE', message);
  });

  it('refuses an unknown state', () => {
    refuses(activeMap(), (m) => setState(m, 'ON' as ClusterState), 'INVALID_STATE', /"ON"/);
  });
});

describe('markFullRestart', () => {
  it.each<ClusterState>(['ACTIVE', 'ACTIVE_READ_ONLY'])('%s → INACTIVE with autoActivatePending', (state) => {
    const map = state === 'ACTIVE' ? activeMap() : setState(activeMap(), state);
    const next = step(map, markFullRestart);
    expect(next.state).toBe('INACTIVE');
    expect(next.autoActivatePending).toBe(true);
    expect(next.partitions).toEqual(map.partitions);
  });

  it('returns the same map when already pending', () => {
    unchanged(markFullRestart(activeMap()), markFullRestart);
  });

  it.each([
    { name: 'never activated', map: () => createMap('c1') },
    { name: 'deactivated by an admin', map: () => setState(activeMap(), 'INACTIVE') },
  ])('refuses a map that is $name', ({ map }) => {
    refuses(map(), markFullRestart, 'NOT_ACTIVE', /c1/);
  });
});

// ---------------------------------------------------------------------------------------------
// Partitions: promote, ISR, loss

interface Roles {
  primary: string;
  backup: string;
  other: string;
}

/** The roles in partition 0 of activeMap(): ISR in rendezvous order, primary first, term 1. */
function partition0(map: ClusterMap): Roles {
  const [primary, backup, other] = map.partitions[0]!.isr as [string, string, string];
  return { primary, backup, other };
}

describe('promote', () => {
  it('makes an ISR backup primary, drops the old primary from the ISR, term + 1', () => {
    const map = activeMap();
    const { primary, backup, other } = partition0(map);
    const next = step(map, (m) => promote(m, 0, backup, 1));
    expect(next.partitions[0]).toEqual({
      replicas: map.partitions[0]!.replicas,
      isr: [backup, other],
      primary: backup,
      term: 2,
      lost: false,
    });
    expect(next.partitions[0]!.isr).not.toContain(primary);
    expect(next.partitions.slice(1)).toEqual(map.partitions.slice(1));
  });

  it('re-elects the current primary with a new term and the same ISR', () => {
    const map = activeMap();
    const { primary } = partition0(map);
    const next = step(map, (m) => promote(m, 0, primary, 1));
    expect(next.partitions[0]).toEqual({ ...map.partitions[0], term: 2 });
  });

  it.each<{ name: string; run: (map: ClusterMap, roles: Roles) => unknown; code: MapErrorCode; message: RegExp }>([
    { name: 'a negative partition', run: (m) => promote(m, -1, 'a', 1), code: 'UNKNOWN_PARTITION', message: /partition -1/ },
    { name: 'a partition past the end', run: (m) => promote(m, 4, 'a', 1), code: 'UNKNOWN_PARTITION', message: /0\.\.3/ },
    { name: 'a fractional partition', run: (m) => promote(m, 0.5, 'a', 1), code: 'UNKNOWN_PARTITION', message: /0\.5/ },
    { name: 'a stale term', run: (m, r) => promote(m, 0, r.backup, 0), code: 'STALE_TERM', message: /partition 0 is at term 1, not 0/ },
    { name: 'a future term', run: (m, r) => promote(m, 0, r.backup, 2), code: 'STALE_TERM', message: /not 2/ },
    { name: 'a node outside the ISR', run: (m) => promote(m, 0, 'zz', 1), code: 'NOT_IN_SYNC', message: /node zz.*partition 0/ },
    { name: 'a lost partition', run: (m, r) => promote(markLost(m, 0), 0, r.primary, 1), code: 'PARTITION_LOST', message: /restoreLost/ },
  ])('refuses $name', ({ run, code, message }) => {
    refuses(activeMap(), (m) => run(m, partition0(m)), code, message);
  });

  it('refuses a removed ISR member', () => {
    const map = activeMap();
    const { primary, other } = partition0(map);
    refuses(shrinkIsr(map, 0, primary, 1, [other]), (m) => promote(m, 0, other, 1), 'NOT_IN_SYNC', new RegExp(`node ${other}`));
  });

  it('refuses any partition of a never-activated map', () => {
    refuses(createMap('c1'), (m) => promote(m, 0, 'a', 1), 'UNKNOWN_PARTITION', /no partitions yet/);
  });
});

describe('shrinkIsr and expandIsr', () => {
  it.each([
    { name: 'one backup', removed: (p: ReturnType<typeof partition0>) => [p.backup], kept: (p: ReturnType<typeof partition0>) => [p.primary, p.other] },
    { name: 'both backups', removed: (p: ReturnType<typeof partition0>) => [p.backup, p.other], kept: (p: ReturnType<typeof partition0>) => [p.primary] },
    { name: 'a repeated id', removed: (p: ReturnType<typeof partition0>) => [p.other, p.other], kept: (p: ReturnType<typeof partition0>) => [p.primary, p.backup] },
  ])('shrinks: $name', ({ removed, kept }) => {
    const map = activeMap();
    const roles = partition0(map);
    const next = step(map, (m) => shrinkIsr(m, 0, roles.primary, 1, removed(roles)));
    expect(next.partitions[0]!.isr).toEqual(kept(roles));
    expect(next.partitions[0]!.term).toBe(1);
    expect(next.partitions[0]!.replicas).toEqual(map.partitions[0]!.replicas);
  });

  it('returns the same map for an empty removal', () => {
    const map = activeMap();
    unchanged(map, (m) => shrinkIsr(m, 0, partition0(map).primary, 1, []));
  });

  it('expands back in replica order', () => {
    const map = activeMap();
    const { primary, backup, other } = partition0(map);
    const shrunk = shrinkIsr(map, 0, primary, 1, [backup, other]);
    const withOther = step(shrunk, (m) => expandIsr(m, 0, primary, 1, other));
    expect(withOther.partitions[0]!.isr).toEqual([primary, other]);
    const full = step(withOther, (m) => expandIsr(m, 0, primary, 1, backup));
    expect(full.partitions[0]!.isr).toEqual([primary, backup, other]);
  });

  it('lets a new primary re-admit its old primary after it caught up', () => {
    const map = activeMap();
    const { primary, backup } = partition0(map);
    const promoted = promote(map, 0, backup, 1);
    const next = step(promoted, (m) => expandIsr(m, 0, backup, 2, primary));
    expect(next.partitions[0]!.isr).toEqual(map.partitions[0]!.replicas);
  });

  it.each<{ name: string; run: (map: ClusterMap, roles: Roles) => unknown; code: MapErrorCode; message: RegExp }>([
    { name: 'shrink by a backup', run: (m, r) => shrinkIsr(m, 0, r.backup, 1, [r.other]), code: 'NOT_PRIMARY', message: /is not the primary of partition 0/ },
    { name: 'shrink at a stale term', run: (m, r) => shrinkIsr(m, 0, r.primary, 0, [r.other]), code: 'STALE_TERM', message: /term 1, not 0/ },
    { name: 'shrink by a deposed primary', run: (m, r) => shrinkIsr(promote(m, 0, r.backup, 1), 0, r.primary, 1, [r.other]), code: 'NOT_PRIMARY', message: /partition 0/ },
    { name: 'shrink a lost partition', run: (m, r) => shrinkIsr(markLost(m, 0), 0, r.primary, 1, [r.other]), code: 'NOT_PRIMARY', message: /none \(lost\)/ },
    { name: 'shrink removing the primary', run: (m, r) => shrinkIsr(m, 0, r.primary, 1, [r.primary]), code: 'CANNOT_REMOVE_PRIMARY', message: /partition 0/ },
    { name: 'shrink removing a non-member', run: (m, r) => shrinkIsr(m, 0, r.primary, 1, ['zz']), code: 'NOT_IN_ISR', message: /node zz/ },
    { name: 'shrink an unknown partition', run: (m) => shrinkIsr(m, 9, 'a', 1, ['b']), code: 'UNKNOWN_PARTITION', message: /partition 9/ },
    { name: 'expand by a backup', run: (m, r) => expandIsr(m, 0, r.backup, 1, 'a'), code: 'NOT_PRIMARY', message: /partition 0/ },
    { name: 'expand at a stale term', run: (m, r) => expandIsr(m, 0, r.primary, 3, 'a'), code: 'STALE_TERM', message: /not 3/ },
    { name: 'expand with a non-replica', run: (m, r) => expandIsr(m, 0, r.primary, 1, 'zz'), code: 'NOT_A_REPLICA', message: /node zz/ },
    { name: 'expand with a member', run: (m, r) => expandIsr(m, 0, r.primary, 1, r.other), code: 'ALREADY_IN_ISR', message: /already/ },
    { name: 'expand an unknown partition', run: (m) => expandIsr(m, 4, 'a', 1, 'b'), code: 'UNKNOWN_PARTITION', message: /partition 4/ },
  ])('refuses $name', ({ run, code, message }) => {
    refuses(activeMap(), (m) => run(m, partition0(m)), code, message);
  });

  it('refuses to expand with a node that is not a replica of a partition with fewer replicas than nodes', () => {
    const map = activeMap({ onlineNodes: online('a', 'b', 'c', 'd'), backups: 1 });
    const assignment = map.partitions[0]!;
    const outsider = ['a', 'b', 'c', 'd'].find((id) => !assignment.replicas.includes(id))!;
    refuses(map, (m) => expandIsr(m, 0, assignment.primary!, 1, outsider), 'NOT_A_REPLICA', new RegExp(outsider));
  });
});

describe('markLost and restoreLost', () => {
  it('marks a partition lost, keeping its last ISR and term', () => {
    const map = activeMap();
    const next = step(map, (m) => markLost(m, 2));
    expect(next.partitions[2]).toEqual({ ...map.partitions[2], primary: null, lost: true });
    expect(next.partitions.filter((assignment) => assignment.lost)).toHaveLength(1);
  });

  it('returns the same map for a partition that is already lost', () => {
    unchanged(markLost(activeMap(), 2), (m) => markLost(m, 2));
  });

  it.each([0, 1, 2])('restores from the ISR member at index %i alone, term + 1', (index) => {
    const map = markLost(activeMap(), 1);
    const candidate = map.partitions[1]!.isr[index]!;
    const next = step(map, (m) => restoreLost(m, 1, candidate));
    expect(next.partitions[1]).toEqual({
      replicas: map.partitions[1]!.replicas,
      isr: [candidate],
      primary: candidate,
      term: 2,
      lost: false,
    });
  });

  it.each<{ name: string; run: (map: ClusterMap, roles: Roles) => unknown; code: MapErrorCode; message: RegExp }>([
    { name: 'restore of a healthy partition', run: (m) => restoreLost(m, 0, 'a'), code: 'NOT_LOST', message: /partition 0 is not lost/ },
    { name: 'restore from outside the last ISR', run: (m) => restoreLost(markLost(m, 0), 0, 'zz'), code: 'NOT_IN_SYNC', message: /node zz.*lost partition 0/ },
    {
      name: 'restore from a member dropped before the loss',
      run: (m, r) => restoreLost(markLost(shrinkIsr(m, 0, r.primary, 1, [r.other]), 0), 0, r.other),
      code: 'NOT_IN_SYNC',
      message: /acknowledged writes/,
    },
    { name: 'markLost of an unknown partition', run: (m) => markLost(m, 4), code: 'UNKNOWN_PARTITION', message: /partition 4/ },
    { name: 'restore of an unknown partition', run: (m) => restoreLost(m, 4, 'a'), code: 'UNKNOWN_PARTITION', message: /partition 4/ },
  ])('refuses $name', ({ run, code, message }) => {
    refuses(activeMap(), (m) => run(m, partition0(m)), code, message);
  });
});

// ---------------------------------------------------------------------------------------------
// validateMap and parseMap

describe('validateMap', () => {
  const corruptions: Array<{ name: string; corrupt: (map: ClusterMap) => void; message: RegExp }> = [
    { name: 'formatVersion', corrupt: (m) => void ((m as { formatVersion: number }).formatVersion = 2), message: /formatVersion/ },
    { name: 'empty cluster id', corrupt: (m) => void (m.clusterId = ''), message: /clusterId/ },
    { name: 'negative version', corrupt: (m) => void (m.version = -1), message: /version must be/ },
    { name: 'unknown state', corrupt: (m) => void (m.state = 'ON' as ClusterState), message: /state "ON"/ },
    { name: 'unknown write synchronization', corrupt: (m) => void (m.writeSynchronization = 'X' as never), message: /writeSynchronization "X"/ },
    { name: 'too many backups', corrupt: (m) => void (m.backups = 9), message: /backups/ },
    { name: 'bad node id', corrupt: (m) => void (m.nodes['a,b'] = address('x')), message: /node id "a,b"/ },
    { name: 'bad address', corrupt: (m) => void (m.nodes['a'] = { ...address('a'), port: 0 }), message: /node a: address port/ },
    { name: 'unsorted baseline', corrupt: (m) => m.baseline.reverse(), message: /baseline is not sorted/ },
    { name: 'duplicate baseline id', corrupt: (m) => m.baseline.push('c'), message: /baseline is not sorted and duplicate-free at "c"/ },
    { name: 'baseline node without address', corrupt: (m) => void delete m.nodes['b'], message: /baseline node b has no address/ },
    { name: 'tampered history', corrupt: (m) => void (m.history[0]!.baseline = ['a']), message: /history\[0\]/ },
    { name: 'history from the future', corrupt: (m) => void (m.version = 0), message: /after the map's version 0/ },
    { name: 'partition count not a power of two', corrupt: (m) => void (m.partitionCount = 3), message: /partitionCount must be a power of two/ },
    { name: 'partition count mismatch', corrupt: (m) => m.partitions.pop(), message: /partitions has 3 entries but partitionCount is 4/ },
    { name: 'empty baseline when activated', corrupt: (m) => void (m.baseline = []), message: /baseline is empty/ },
    { name: 'pending while active', corrupt: (m) => void (m.autoActivatePending = true), message: /autoActivatePending is set but the state is ACTIVE/ },
    { name: 'empty replicas', corrupt: (m) => void (m.partitions[1]!.replicas = []), message: /partition 1: replicas is empty/ },
    { name: 'duplicate replica', corrupt: (m) => m.partitions[1]!.replicas.push('a'), message: /partition 1: replica a is listed twice/ },
    { name: 'unknown replica', corrupt: (m) => m.partitions[2]!.replicas.push('zz'), message: /partition 2: replica zz is not a known node/ },
    { name: 'empty ISR', corrupt: (m) => void Object.assign(m.partitions[3]!, { isr: [], primary: null, lost: true }), message: /partition 3: isr is empty/ },
    { name: 'duplicate ISR member', corrupt: (m) => m.partitions[0]!.isr.push(m.partitions[0]!.isr[0]!), message: /partition 0: ISR member \w+ is listed twice/ },
    { name: 'ISR member not a replica', corrupt: (m) => void (m.partitions[0]!.replicas = m.partitions[0]!.replicas.slice(0, 2)), message: /partition 0: ISR member \w+ is not a replica/ },
    { name: 'primary outside the ISR', corrupt: (m) => void (m.partitions[0]!.isr = m.partitions[0]!.isr.slice(1)), message: /partition 0: primary \w+ is not in the ISR/ },
    { name: 'lost with a primary', corrupt: (m) => void (m.partitions[0]!.lost = true), message: /partition 0: is lost but has primary/ },
    { name: 'no primary, not lost', corrupt: (m) => void (m.partitions[0]!.primary = null), message: /partition 0: has no primary but is not marked lost/ },
    { name: 'term 0', corrupt: (m) => void (m.partitions[0]!.term = 0), message: /partition 0: term must be an integer ≥ 1, got 0/ },
  ];
  it.each(corruptions)('reports $name', ({ corrupt, message }) => {
    const map = structuredClone(activeMap());
    corrupt(map);
    const errors = validateMap(map);
    expect(errors.some((error) => message.test(error)), errors.join('\n')).toBe(true);
  });

  it.each<{ name: string; corrupt: (map: ClusterMap) => void; message: RegExp }>([
    { name: 'ACTIVE', corrupt: (m) => void (m.state = 'ACTIVE'), message: /never activated/ },
    { name: 'partitions', corrupt: (m) => void (m.partitionCount = 4), message: /partitionCount must be 0/ },
    { name: 'partition entries', corrupt: (m) => m.partitions.push({ replicas: ['a'], isr: ['a'], primary: 'a', term: 1, lost: false }), message: /partitions must be empty/ },
    { name: 'a baseline', corrupt: (m) => void (m.baseline = ['a']), message: /baseline must be empty/ },
    { name: 'autoActivatePending', corrupt: (m) => void (m.autoActivatePending = true), message: /never activated/ },
  ])('reports a never-activated map with $name', ({ corrupt, message }) => {
    const map = structuredClone(registerNode(createMap('c1'), 'a', address('a')));
    corrupt(map);
    expect(validateMap(map).some((error) => message.test(error))).toBe(true);
  });
});

describe('parseMap', () => {
  it('round-trips a valid map and drops unknown fields', () => {
    const map = markLost(promote(activeMap(), 0, partition0(activeMap()).backup, 1), 1);
    const json = JSON.parse(JSON.stringify(map)) as Record<string, unknown>;
    json['extra'] = true;
    (json['partitions'] as Array<Record<string, unknown>>)[0]!['note'] = 'x';
    expect(parseMap(json)).toEqual(map);
  });

  const valid = (): Record<string, unknown> => JSON.parse(JSON.stringify(activeMap())) as Record<string, unknown>;
  const edit = (change: (json: Record<string, unknown>) => void): Record<string, unknown> => {
    const json = valid();
    change(json);
    return json;
  };
  it.each<{ name: string; json: unknown; message: RegExp }>([
    { name: 'null', json: null, message: /must be a JSON object/ },
    { name: 'an array', json: [], message: /must be a JSON object/ },
    { name: 'a string', json: '{}', message: /must be a JSON object/ },
    { name: 'an empty object', json: {}, message: /formatVersion must be 1.*clusterId must be a string/ },
    { name: 'a string version', json: edit((j) => void (j['version'] = '3')), message: /version must be a number/ },
    { name: 'an unknown state', json: edit((j) => void (j['state'] = 'UP')), message: /state must be one of/ },
    { name: 'a non-boolean flag', json: edit((j) => void (j['autoActivatePending'] = 0)), message: /autoActivatePending must be a boolean/ },
    { name: 'a baseline of numbers', json: edit((j) => void (j['baseline'] = [1])), message: /baseline must be an array of strings/ },
    { name: 'nodes as an array', json: edit((j) => void (j['nodes'] = [])), message: /nodes must be an object/ },
    { name: 'a __proto__ node', json: edit((j) => void (j['nodes'] = JSON.parse('{"__proto__": {"host": "h", "port": 1, "peerPort": 2, "adminPort": 3}}'))), message: /node id "__proto__" is invalid/ },
    { name: 'an address without host', json: edit((j) => void ((j['nodes'] as Record<string, unknown>)['a'] = { port: 1 })), message: /nodes\["a"\]: host/ },
    { name: 'a malformed history record', json: edit((j) => void (j['history'] = [{ hash: 1 }])), message: /history\[0\] must be/ },
    { name: 'a malformed partition', json: edit((j) => void ((j['partitions'] as unknown[])[2] = { replicas: 'a' })), message: /partitions\[2\] must be/ },
    { name: 'too many partitions', json: edit((j) => void (j['partitions'] = new Array(MAP_PARTITIONS_MAX + 1).fill(0))), message: /more than 4096/ },
    { name: 'a broken invariant', json: edit((j) => void (((j['partitions'] as Array<Record<string, unknown>>)[3]!)['term'] = 0)), message: /partition 3: term must be/ },
  ])('refuses $name', ({ json, message }) => {
    let thrown: unknown;
    try {
      parseMap(json);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MapTransitionError);
    expect((thrown as MapTransitionError).code).toBe('INVALID_MAP');
    expect((thrown as MapTransitionError).message).toMatch(message);
    codesSeen.add('INVALID_MAP');
  });

  it('lists at most 10 violations and counts the rest', () => {
    const json = edit((j) => {
      for (const assignment of j['partitions'] as Array<Record<string, unknown>>) assignment['term'] = 0;
      j['backups'] = 99;
      j['clusterId'] = '';
      j['version'] = -1;
      j['partitionCount'] = 5;
      j['baseline'] = ['z', 'y'];
      j['formatVersion'] = 1;
    });
    expect(() => parseMap(json)).toThrow(/\(and \d+ more\)$/);
  });
});

// ---------------------------------------------------------------------------------------------
// Random sequences

const POOL = ['a', 'b', 'c', 'd', 'e'] as const;

type Operation =
  | { kind: 'register'; node: number; zone: number; port: number }
  | { kind: 'activate'; mask: number; partitionCount: number | undefined; backups: number | undefined; sync: 'FULL_SYNC' | 'PRIMARY_SYNC' | undefined }
  | { kind: 'setState'; state: ClusterState }
  | { kind: 'markFullRestart' }
  | { kind: 'promote'; partition: number; pick: number; termOffset: number }
  | { kind: 'shrinkIsr'; partition: number; callerIsPrimary: boolean; termOffset: number; picks: number[] }
  | { kind: 'expandIsr'; partition: number; callerIsPrimary: boolean; termOffset: number; pick: number }
  | { kind: 'markLost'; partition: number }
  | { kind: 'restoreLost'; partition: number; pick: number };

const partitionArbitrary = fc.nat({ max: 8 }); // maps have 1..8 partitions: some indexes are out of range
const termOffsetArbitrary = fc.constantFrom(0, 0, 0, 0, 0, 0, -1, 1);
// Half the picks are 0 or 1, the preferred candidates; the rest range over everything.
const pickArbitrary = fc.oneof(fc.nat({ max: 1 }), fc.nat({ max: 9 }));
// Partition operations weigh more: they need an activated map and matching roles to succeed.
const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('register' as const),
      node: fc.nat({ max: POOL.length - 1 }),
      zone: fc.nat({ max: 3 }),
      port: fc.constantFrom(7000, 8000),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('activate' as const),
      mask: fc.nat({ max: 31 }),
      partitionCount: fc.option(fc.constantFrom(1, 2, 4, 8, 3), { nil: undefined }),
      backups: fc.option(fc.constantFrom(0, 1, 2, 3, 7), { nil: undefined }),
      sync: fc.option(fc.constantFrom('FULL_SYNC' as const, 'PRIMARY_SYNC' as const), { nil: undefined }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('setState' as const),
      state: fc.constantFrom<ClusterState>('INACTIVE', 'ACTIVE', 'ACTIVE_READ_ONLY'),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant('markFullRestart' as const) }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('promote' as const),
      partition: partitionArbitrary,
      pick: pickArbitrary,
      termOffset: termOffsetArbitrary,
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('shrinkIsr' as const),
      partition: partitionArbitrary,
      callerIsPrimary: fc.constantFrom(true, true, true, false),
      termOffset: termOffsetArbitrary,
      picks: fc.array(pickArbitrary, { maxLength: 2 }),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('expandIsr' as const),
      partition: partitionArbitrary,
      callerIsPrimary: fc.constantFrom(true, true, true, false),
      termOffset: termOffsetArbitrary,
      pick: pickArbitrary,
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('markLost' as const), partition: partitionArbitrary }), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant('restoreLost' as const), partition: partitionArbitrary, pick: pickArbitrary }),
    weight: 2,
  },
);

/**
 * Resolves an operation's picks against the current map, so that most operations are valid and
 * some are not: a partition index may be one past the end; a node pick lists the preferred kind
 * first (for example non-ISR replicas for expandIsr), then the partition's other members, then
 * every pool node.
 */
function resolvePartition(map: ClusterMap, partition: number): number {
  return partition % (map.partitions.length + 1);
}

function choose(preferred: readonly string[], others: readonly string[], pick: number): string {
  const choices = [...preferred, ...others, ...POOL];
  return choices[pick % choices.length]!;
}

function apply(map: ClusterMap, operation: Operation): ClusterMap {
  switch (operation.kind) {
    case 'register': {
      const nodeId = POOL[operation.node]!;
      return registerNode(map, nodeId, address(nodeId, ['z1', 'z2', 'z3', ''][operation.zone], operation.port));
    }
    case 'activate': {
      const nodes = POOL.filter((_, i) => (operation.mask >> i) & 1);
      return activate(map, {
        onlineNodes: Object.fromEntries(nodes.map((id) => [id, map.nodes[id] ?? address(id)])),
        partitionCount: operation.partitionCount,
        backups: operation.backups,
        writeSynchronization: operation.sync,
      });
    }
    case 'setState':
      return setState(map, operation.state);
    case 'markFullRestart':
      return markFullRestart(map);
    case 'markLost':
      return markLost(map, resolvePartition(map, operation.partition));
    default:
      break;
  }
  const partition = resolvePartition(map, operation.partition);
  const assignment = map.partitions[partition] ?? { replicas: [], isr: [], primary: null, term: 1, lost: false };
  const term = assignment.term + ('termOffset' in operation ? operation.termOffset : 0);
  const backups = assignment.isr.filter((id) => id !== assignment.primary);
  const outOfSync = assignment.replicas.filter((id) => !assignment.isr.includes(id));
  switch (operation.kind) {
    case 'promote':
      return promote(map, partition, choose(backups, assignment.replicas, operation.pick), term);
    case 'shrinkIsr': {
      const caller = operation.callerIsPrimary ? (assignment.primary ?? 'a') : choose(backups, [], 0);
      const removed = operation.picks.map((pick) => choose(backups, assignment.replicas, pick));
      return shrinkIsr(map, partition, caller, term, removed);
    }
    case 'expandIsr': {
      const caller = operation.callerIsPrimary ? (assignment.primary ?? 'a') : choose(backups, [], 0);
      return expandIsr(map, partition, caller, term, choose(outOfSync, assignment.isr, operation.pick));
    }
    case 'restoreLost':
      return restoreLost(map, partition, choose(assignment.isr, assignment.replicas, operation.pick));
  }
}

describe('random transition sequences', () => {
  it('keep every invariant after every step', () => {
    const succeeded = new Map<Operation['kind'], number>();
    fc.assert(
      fc.property(fc.array(operationArbitrary, { minLength: 1, maxLength: 80, size: 'max' }), (operations) => {
        let map = createMap('sim');
        for (const operation of operations) {
          const snapshot = structuredClone(map);
          deepFreeze(map);
          let next: ClusterMap;
          try {
            next = apply(map, operation);
          } catch (error) {
            // Refusals are typed and stable; anything else (a TypeError from touching a frozen
            // input, an assertion) is a bug.
            if (!(error instanceof MapTransitionError)) throw error;
            expect(MAP_ERROR_CODES).toContain(error.code);
            expect(map).toEqual(snapshot);
            continue;
          }
          expect(map).toEqual(snapshot);
          if (next === map) continue;
          succeeded.set(operation.kind, (succeeded.get(operation.kind) ?? 0) + 1);
          expect(next.version).toBe(map.version + 1);
          expect(validateMap(next)).toEqual([]);
          // What only moves forward: history (append-only), terms, and the partition count once set.
          expect(['equal', 'behind']).toContain(historyRelation(map.history, next.history));
          if (map.partitions.length > 0) {
            expect(next.partitionCount).toBe(map.partitionCount);
            next.partitions.forEach((assignment, i) => {
              expect(assignment.term).toBeGreaterThanOrEqual(map.partitions[i]!.term);
              expect(assignment.replicas).toEqual(map.partitions[i]!.replicas);
            });
          }
          map = next;
        }
        expect(parseMap(JSON.parse(JSON.stringify(map)))).toEqual(map);
      }),
      { numRuns: 300 },
    );
    // The generator must reach every transition, or the property proves little.
    for (const kind of ['register', 'activate', 'setState', 'markFullRestart', 'promote', 'shrinkIsr', 'expandIsr', 'markLost', 'restoreLost'] as const) {
      expect(succeeded.get(kind) ?? 0, kind).toBeGreaterThan(0);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Baseline changes, moves, handoffs, lost-partition reset, rebalance limits

/** Three nodes, backups=1, 16 partitions: each partition on two of a, b, c. */
function movableMap(): ClusterMap {
  return activate(createMap('c1'), { onlineNodes: online('a', 'b', 'c'), partitionCount: 16, backups: 1, writeSynchronization: 'FULL_SYNC' });
}

/** Completes every move of `map` as the primaries would (hand off first when outside the target). */
function finishMoves(map: ClusterMap): ClusterMap {
  let current = map;
  current.partitions.forEach((assignment, partition) => {
    if (assignment.target === undefined) return;
    for (const node of assignment.target) {
      const now = current.partitions[partition]!;
      if (!now.isr.includes(node)) current = step(current, (m) => expandIsr(m, partition, now.primary!, now.term, node));
    }
    const now = current.partitions[partition]!;
    if (!now.target!.includes(now.primary!)) current = step(current, (m) => handOver(m, partition, now.primary!, now.target![0]!, now.term));
    const ready = current.partitions[partition]!;
    current = step(current, (m) => completeMove(m, partition, ready.primary!, ready.term));
  });
  return current;
}

describe('setBaseline and moves', () => {
  it('adding a node moves only the partitions it wins, and no copy between old nodes', () => {
    const map = movableMap();
    const next = step(map, (m) => setBaseline(m, { baseline: ['a', 'b', 'c', 'd'], addresses: online('d'), nowMs: 1000 }));
    expect(next.baseline).toEqual(['a', 'b', 'c', 'd']);
    expect(next.nodes['d']).toEqual(address('d'));
    expect(next.history).toHaveLength(map.history.length + 1);
    let moving = 0;
    next.partitions.forEach((assignment, partition) => {
      const target = assignPartition(partition, ['a', 'b', 'c', 'd'].map((id) => ({ id })), 2);
      const before = map.partitions[partition]!;
      if (assignment.target === undefined) {
        expect(new Set(assignment.replicas)).toEqual(new Set(before.replicas));
        return;
      }
      moving++;
      expect(assignment.target).toEqual(target);
      // The only new replica is d; the one it replaces stays (in the ISR) until the move completes.
      expect(assignment.target.filter((node) => !before.replicas.includes(node))).toEqual(['d']);
      expect(assignment.isr).toEqual(assignment.replicas.filter((node) => before.isr.includes(node)));
      expect(assignment.primary).toBe(before.primary);
    });
    expect(moving).toBeGreaterThan(0);
    expect(next.rebalance).toEqual({ startedAtMs: 1000, version: next.version, partitionsTotal: moving });
    const done = finishMoves(next);
    done.partitions.forEach((assignment, partition) => {
      expect(assignment.target).toBeUndefined();
      expect(assignment.replicas).toEqual(assignPartition(partition, ['a', 'b', 'c', 'd'].map((id) => ({ id })), 2));
      expect(assignment.isr).toEqual(assignment.replicas);
    });
  });

  it('removing an offline node keeps the surviving in-sync copy as the source', () => {
    let map = movableMap();
    // c went offline: every primary dropped it from the ISR (or it failed over away from c).
    map.partitions.forEach((assignment, partition) => {
      if (!assignment.replicas.includes('c')) return;
      if (assignment.primary === 'c') {
        const other = assignment.isr.find((node) => node !== 'c')!;
        map = step(map, (m) => promote(m, partition, other, m.partitions[partition]!.term));
      } else {
        map = step(map, (m) => shrinkIsr(m, partition, assignment.primary!, assignment.term, ['c']));
      }
    });
    const next = step(map, (m) => setBaseline(m, { baseline: ['a', 'b'], nowMs: 5 }));
    next.partitions.forEach((assignment) => {
      expect(assignment.replicas).not.toContain('c');
      if (assignment.target !== undefined) expect(assignment.target.sort()).toEqual(['a', 'b']);
    });
    const done = finishMoves(next);
    for (const assignment of done.partitions) expect([...assignment.isr].sort()).toEqual(['a', 'b']);
  });

  it('refuses a baseline that leaves a partition with no in-sync copy, unless the node drains', () => {
    let map = movableMap();
    // Partition 0 keeps only its primary in the ISR; removing that node (offline) would lose it.
    const p0 = map.partitions[0]!;
    const backup = p0.isr.find((node) => node !== p0.primary)!;
    map = step(map, (m) => shrinkIsr(m, 0, p0.primary!, p0.term, [backup]));
    const rest = ['a', 'b', 'c'].filter((node) => node !== p0.primary);
    refuses(map, (m) => setBaseline(m, { baseline: rest, nowMs: 0 }), 'NO_SURVIVING_COPY', /partitions 0\b/);
    const drained = step(map, (m) => setBaseline(m, { baseline: rest, draining: [p0.primary!], nowMs: 0 }));
    expect(drained.partitions[0]!.replicas).toContain(p0.primary);
    expect(drained.partitions[0]!.target).not.toContain(p0.primary);
    // The draining primary must hand off before the move can complete.
    refuses(drained, (m) => completeMove(m, 0, p0.primary!, p0.term), 'NOT_IN_TARGET', /hand off first/);
  });

  it('retargets a moving partition to the newest baseline', () => {
    const map = movableMap();
    const withD = step(map, (m) => setBaseline(m, { baseline: ['a', 'b', 'c', 'd'], addresses: online('d'), nowMs: 1 }));
    const withE = step(withD, (m) => setBaseline(m, { baseline: ['a', 'b', 'c', 'e'], addresses: online('e'), nowMs: 2 }));
    withE.partitions.forEach((assignment, partition) => {
      const target = assignPartition(partition, ['a', 'b', 'c', 'e'].map((id) => ({ id })), 2);
      expect(assignment.target ?? assignment.replicas).toEqual(target);
      // d never entered an ISR, so it holds nothing that must survive: it is dropped at once.
      expect(assignment.replicas).not.toContain('d');
    });
  });

  it('returns the map itself when nothing changes, and refuses bad baselines', () => {
    const map = movableMap();
    unchanged(map, (m) => setBaseline(m, { baseline: ['c', 'b', 'a'], nowMs: 0 }));
    refuses(map, (m) => setBaseline(m, { baseline: [], nowMs: 0 }), 'INVALID_BASELINE', /empty/);
    refuses(map, (m) => setBaseline(m, { baseline: ['a', 'a', 'b'], nowMs: 0 }), 'INVALID_BASELINE', /twice/);
    refuses(map, (m) => setBaseline(m, { baseline: ['a', 'b', 'zz'], nowMs: 0 }), 'INVALID_BASELINE', /zz has never registered/);
    refuses(createMap('c2'), (m) => setBaseline(m, { baseline: ['a'], nowMs: 0 }), 'NOT_ACTIVE');
  });

  it('completeMove and handOver check their caller, the target and the ISR', () => {
    const map = movableMap();
    const next = setBaseline(map, { baseline: ['a', 'b', 'c', 'd'], addresses: online('d'), nowMs: 0 });
    const partition = next.partitions.findIndex((assignment) => assignment.target !== undefined);
    const assignment = next.partitions[partition]!;
    refuses(next, (m) => completeMove(m, partition, assignment.primary!, assignment.term), assignment.target!.includes(assignment.primary!) ? 'NOT_IN_SYNC' : 'NOT_IN_TARGET');
    const settled = next.partitions.findIndex((item) => item.target === undefined);
    refuses(next, (m) => completeMove(m, settled, next.partitions[settled]!.primary!, next.partitions[settled]!.term), 'NO_MOVE');
    refuses(next, (m) => handOver(m, partition, assignment.primary!, 'd', assignment.term), 'NOT_IN_SYNC', /d is not in the ISR/);
    refuses(next, (m) => handOver(m, partition, assignment.primary!, assignment.primary!, assignment.term), 'NOT_IN_SYNC');
    const backup = assignment.isr.find((node) => node !== assignment.primary)!;
    const handed = step(next, (m) => handOver(m, partition, assignment.primary!, backup, assignment.term));
    expect(handed.partitions[partition]!.primary).toBe(backup);
    expect(handed.partitions[partition]!.term).toBe(assignment.term + 1);
    expect(handed.partitions[partition]!.isr).toEqual(assignment.isr);
  });
});

describe('resetLost and rebalance limits', () => {
  it('gives lost partitions a primary among online nodes, preferring their last ISR', () => {
    let map = movableMap();
    map = step(map, (m) => markLost(m, 0));
    map = step(map, (m) => markLost(m, 1));
    const lastIsr0 = map.partitions[0]!.isr;
    const outsider = ['a', 'b', 'c'].find((node) => !map.partitions[1]!.isr.includes(node))!;
    const first = step(map, (m) => resetLost(m, [outsider, lastIsr0[1]!], [0]));
    const expected0 = lastIsr0.includes(outsider) ? lastIsr0.find((node) => node === outsider || node === lastIsr0[1]) : lastIsr0[1];
    expect(first.partitions[0]).toMatchObject({ primary: expected0, isr: [expected0], lost: false, term: map.partitions[0]!.term + 1 });
    expect(first.partitions[1]!.lost).toBe(true);
    const next = step(first, (m) => resetLost(m, [outsider]));
    expect(next.partitions[1]).toMatchObject({ primary: outsider, isr: [outsider], lost: false });
    expect(next.partitions[1]!.replicas).toContain(outsider);
    unchanged(next, (m) => resetLost(m, ['a']));
    refuses(map, (m) => resetLost(m, []), 'NO_ONLINE_NODES', /partition 0/);
  });

  it('sets limits and refuses bad ones', () => {
    const map = movableMap();
    const next = step(map, (m) => setRebalanceLimits(m, { bytesPerSecond: 1_000_000, concurrentMoves: 4 }));
    expect(next.rebalanceLimits).toEqual({ bytesPerSecond: 1_000_000, concurrentMoves: 4 });
    unchanged(next, (m) => setRebalanceLimits(m, { bytesPerSecond: 1_000_000, concurrentMoves: 4 }));
    refuses(map, (m) => setRebalanceLimits(m, { bytesPerSecond: -1, concurrentMoves: 1 }), 'INVALID_LIMITS', /bytesPerSecond/);
    refuses(map, (m) => setRebalanceLimits(m, { bytesPerSecond: 0, concurrentMoves: 0 }), 'INVALID_LIMITS', /concurrentMoves/);
  });

  it('validateMap rejects a target outside the replicas', () => {
    const map = structuredClone(movableMap());
    map.partitions[0]!.target = ['zz'];
    expect(validateMap(map).join()).toMatch(/target member zz is not a replica/);
  });
});

// Runs last (tests in a file run in order): every declared code was produced by some test above.
describe('error codes', () => {
  it('every code in MAP_ERROR_CODES is exercised by a test', () => {
    expect([...codesSeen].sort()).toEqual([...MAP_ERROR_CODES].sort());
  });
});
