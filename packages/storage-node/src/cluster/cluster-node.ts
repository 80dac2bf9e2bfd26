/**
 * A storage node's cluster membership: the edge around the pure ReplicationCore. It reads and
 * watches the ClusterMap and node presence in the store, proposes map changes by compare-and-swap,
 * runs peer links, applies replicated entries and snapshots to the engine, detects diverged
 * history, full restarts and auto-activation, and implements the ClusterView the Redis-protocol
 * layer routes by.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  activate,
  applyProposals,
  createMap,
  historyRelation,
  MapTransitionError,
  markFullRestart,
  registerNode,
  ReplicationCore,
  resetLost,
  setBaseline,
  setRebalanceLimits,
  setState,
  slotRangeOfPartition,
  type ActivationRecord,
  type ClusterMap,
  type ClusterState,
  type LocalLog,
  type LogEntry,
  type NodeAddress,
  type PeerMessage,
  type Proposal,
  type RebalanceLimits,
  type ReplicationConfig,
  type ServeDecision,
  type WriteSynchronization,
} from '@ballast/cluster';
import { openStore, type ClusterMapStore, type NodeRegistration, type PresenceHandle } from '@ballast/cluster-store';
import type { Logger } from 'pino';
import type { ClusterFigures, ClusterPartitionState, PartitionRole, PrimaryState } from '../admin/cluster-metrics.js';
import type { RebalanceFigures } from '../admin/metrics.js';
import { entryBytes, type Engine, type PartitionSnapshot, type ReplicatedEntry } from '../engine/engine.js';
import type { Access, ClusterView, Route } from './cluster-view.js';
import { PeerLinks } from './peer-links.js';
import { routeByMap } from './routing.js';
import { SnapshotSender, type ActiveStream, type RebalanceLimitsInEffect } from './snapshot-sender.js';

export interface ClusterNodeOptions {
  nodeId: string;
  storeUrl: string;
  token: string;
  /** Cluster id used when this node creates the map (first node of a new cluster). */
  clusterId: string;
  address: NodeAddress;
  peerBind: string;
  engine: Engine;
  log: Logger;
  replication?: Partial<ReplicationConfig>;
  presenceTtlMs?: number;
  /** This node's rebalance limits while the map sets none (flags). */
  rebalanceLimits?: RebalanceLimitsInEffect;
}

export const REBALANCE_LIMITS_DEFAULT: Readonly<RebalanceLimitsInEffect> = Object.freeze({
  bytesPerSecond: 32 * 1024 * 1024,
  concurrentMoves: 1,
});

/** How long after start a node waits for another baseline node before it declares a full restart. */
const FULL_RESTART_DETECT_MS = 5000;
const TICK_MS = 50;
const CAS_ATTEMPTS_MAX = 8;
const HISTORY_META = 'activation-history';

/**
 * ballast_primary_partitions: the state of a led partition, by why canServe refuses a write. Every
 * reason has a state, so each led partition is counted once. The core leads only a partition its
 * map assigns to this node and does not mark lost, so the last three do not occur for a led
 * partition; if they did, it could not serve for lack of a map (`inactive`) or of leadership
 * (`no_lease`).
 */
const PRIMARY_STATE_OF_REFUSAL: Record<Extract<ServeDecision, { ok: false }>['reason'], PrimaryState> = {
  'read-only': 'read_only',
  'no-lease': 'no_lease',
  'catching-up': 'catching_up',
  'handing-off': 'handing_off',
  inactive: 'inactive',
  'no-map': 'inactive',
  lost: 'no_lease',
  'not-primary': 'no_lease',
};

/** Wire messages between nodes (besides the core's own messages). */
type WireMessage =
  | { k: 'c'; m: PeerMessage }
  | { k: 'sb'; p: number; term: number; seq: number; lastTerm: number; epochs: Array<{ term: number; startSeq: number }> }
  | { k: 'sc'; p: number; term: number; records: Array<[Buffer, Buffer]> }
  | { k: 'se'; p: number; term: number };

export class ClusterError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus = 409,
  ) {
    super(message);
    this.name = 'ClusterError';
  }
}

export class ClusterNode implements ClusterView {
  readonly nodeId: string;
  readonly redisNodeId: string;
  readonly address: NodeAddress;
  readonly core: ReplicationCore;
  private readonly store: ClusterMapStore;
  private readonly links: PeerLinks;
  private readonly engine: Engine;
  private readonly log: Logger;
  private mapValue: ClusterMap | null = null;
  private readonly online = new Map<string, NodeRegistration>();
  private presence: PresenceHandle | null = null;
  private stopWatch: (() => void) | null = null;
  private stopOnlineWatch: (() => void) | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private readonly startedMs = performance.now();
  /** True until this node decided, at start, between a normal join and a full restart. */
  private startupHeld = true;
  /** Set when this node's activation history conflicts with the cluster's: it then serves nothing. */
  diverged: string | null = null;
  private readonly proposalQueue: Proposal[] = [];
  private casRunning = false;
  private readonly appendedPartitions = new Set<number>();
  private readonly durablePartitions = new Set<number>();
  private drainScheduled = false;
  private readonly incomingSnapshots = new Map<string, PartitionSnapshot & { term: number }>();
  /** Snapshots handed to the engine and not yet durable. */
  private installsPending = 0;
  /** Partitions this node leads, with the term it leads them at. */
  private readonly leading = new Map<number, number>();
  private readonly commitListeners: Array<() => void> = [];
  private readonly leadershipLostListeners: Array<(partition: number) => void> = [];
  private stopped = false;
  /**
   * Counters since this process started. entriesReceived/bytesReceived: log entries applied from
   * primaries (catch-up and live replication); snapshotBytesReceived: record bytes of snapshot chunks
   * received (what a returning replica moved when its log no longer matched). casApplied: map
   * changes this node stored by CAS; casConflicts: CAS attempts that lost to a concurrent change.
   */
  readonly stats = {
    casConflicts: 0,
    casApplied: 0,
    proposalsRejected: 0,
    snapshotsSent: 0,
    snapshotsReceived: 0,
    /** Times this node started leading a partition at a new term, whatever the cause (activation, restart, failover, handoff). */
    failoversWon: 0,
    /** Promotions this node won by CAS while the map named another node primary (a failover). */
    failovers: 0,
    /** Graceful handoffs this node took over by CAS. */
    handoffsReceived: 0,
    entriesReceived: 0,
    bytesReceived: 0,
    snapshotBytesReceived: 0,
    /** Log entry bytes sent to learners of moving partitions (catch-up by log, not snapshot). */
    learnerLogBytesSent: 0,
    partitionsDropped: 0,
  };
  private readonly snapshots: SnapshotSender;
  /** Rebalance progress counters, reset at every new baseline change (map.rebalance.version). */
  private rebalanceSeen = { version: -1, bytesAtStart: 0, learnerBytesAtStart: 0, finishedAtMs: null as number | null };

  private constructor(private readonly options: ClusterNodeOptions) {
    this.nodeId = options.nodeId;
    this.redisNodeId = redisIdOf(options.nodeId);
    this.address = { ...options.address };
    this.engine = options.engine;
    this.log = options.log;
    // The cluster token authenticates peers and the embedded store; etcd has its own access control.
    // Only the embedded store takes the token; etcd and Kubernetes have their own credentials.
    this.store = openStore(options.storeUrl, /^https?:\/\//.test(options.storeUrl) ? { token: options.token } : {});
    const engine = this.engine;
    const localLog: LocalLog = {
      lastSeq: (partition) => engine.lastSeq(partition),
      lastTerm: (partition) => engine.lastTerm(partition),
      durableSeq: (partition) => engine.durableSeq(partition),
      epochs: (partition) => engine.epochs(partition),
      read: (partition, fromSeq, maxEntries, maxBytes) => {
        const entries = engine.readLog(partition, fromSeq, maxEntries, maxBytes);
        return entries === null ? null : entries.map(toLogEntry);
      },
    };
    this.core = new ReplicationCore(options.nodeId, localLog, options.replication);
    this.links = new PeerLinks({
      nodeId: options.nodeId,
      clusterId: options.clusterId,
      token: options.token,
      bind: options.peerBind,
      port: options.address.peerPort,
      resolve: (peer) => {
        const address = this.online.get(peer)?.address ?? this.mapValue?.nodes[peer];
        return address === undefined ? null : { host: address.host, peerPort: address.peerPort };
      },
      onMessage: (from, message) => this.onWire(from, message as WireMessage),
      onConnected: (peer) => {
        this.core.onPeerConnected(peer, performance.now());
        this.drain();
      },
      onDisconnected: (peer) => {
        this.core.onPeerDisconnected(peer, performance.now());
        for (const key of [...this.incomingSnapshots.keys()]) if (key.startsWith(`${peer}/`)) this.incomingSnapshots.delete(key);
        this.updateCatchUpBusy();
        this.drain();
      },
      log: options.log,
    });
    this.snapshots = new SnapshotSender({
      read: (partition) => {
        const snapshot = engine.readSnapshot(partition);
        this.recordBytesSeen.records += snapshot.records.length;
        for (const [key, record] of snapshot.records) this.recordBytesSeen.bytes += key.length + record.length;
        return snapshot;
      },
      connected: (peer) => this.links.isConnected(peer),
      buffered: (peer) => this.links.bufferedBytes(peer),
      sendBegin: (job, snapshot) =>
        this.links.send(job.to, { k: 'sb', p: job.partition, term: job.term, seq: snapshot.seq, lastTerm: snapshot.lastTerm, epochs: snapshot.epochs } satisfies WireMessage),
      sendChunk: (job, records) => {
        this.links.send(job.to, { k: 'sc', p: job.partition, term: job.term, records } satisfies WireMessage);
        this.links.flushAll();
      },
      sendEnd: (job) => {
        this.links.send(job.to, { k: 'se', p: job.partition, term: job.term } satisfies WireMessage);
        this.core.onSnapshotSent(job.partition, job.to, performance.now());
      },
      wanted: (job) => !this.stopped && this.core.isPrimary(job.partition) && this.core.writeTerm(job.partition) === job.term,
      failed: (job) => {
        this.core.onSnapshotFailed(job.partition, job.to, performance.now());
        this.drain();
      },
      limits: () => this.rebalanceLimits(),
      log: options.log,
    });
    engine.setReplication({
      leads: (partition) => this.core.isPrimary(partition),
      termFor: (partition) => this.core.writeTerm(partition),
      committedSeq: (partition) => (this.core.isPrimary(partition) ? this.core.committedSeq(partition) : Infinity),
      ticketCommitted: (partition, seq) =>
        this.core.isPrimary(partition) && this.leading.get(partition) === this.core.writeTerm(partition) && seq <= this.core.committedSeq(partition),
      onAppend: (partition) => {
        this.appendedPartitions.add(partition);
        this.scheduleDrain();
      },
      onDurable: (partition) => {
        this.durablePartitions.add(partition);
        this.scheduleDrain();
      },
    });
  }

  /** Joins the cluster: reads the map (creating it for a new cluster), registers, connects. */
  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const node = new ClusterNode(options);
    await node.join();
    return node;
  }

  private async join(): Promise<void> {
    await this.links.start();
    if (this.address.peerPort === 0) this.address.peerPort = this.links.port;
    let map = await this.store.read();
    if (map === null) {
      const created: ClusterMap = { ...createMap(this.options.clusterId), version: 1 };
      const result = await this.store.compareAndSwap(0, created);
      map = result.ok ? created : result.current;
      if (map === null) throw new ClusterError('STORE', 'the cluster store lost the map it just reported');
      if (result.ok) this.log.info({ clusterId: created.clusterId }, 'created the cluster map');
    }
    this.presence = await this.store.register(
      { nodeId: this.nodeId, address: this.address, startedAtMs: Date.now(), incarnation: randomBytes(8).toString('hex') },
      this.options.presenceTtlMs ?? 3000,
    );
    this.onOnline(await this.store.onlineNodes());
    this.onMap(map);
    this.stopWatch = this.store.watch(
      (next) => this.onMap(next),
      (error) => this.log.warn({ err: error.message }, 'cluster map watch error'),
    );
    this.stopOnlineWatch = this.store.watchOnline(
      (nodes) => this.onOnline(nodes),
      (error) => this.log.warn({ err: error.message }, 'presence watch error'),
    );
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    this.tickTimer.unref();
    this.log.info({ nodeId: this.nodeId, redisNodeId: this.redisNodeId, peerPort: this.links.port, mapVersion: map.version }, 'joined the cluster');
  }

  // --- ClusterView ------------------------------------------------------------------------------

  map(): ClusterMap | null {
    return this.mapValue;
  }

  isOnline(nodeId: string): boolean {
    return nodeId === this.nodeId || this.online.has(nodeId);
  }

  redisIdOf(nodeId: string): string {
    return redisIdOf(nodeId);
  }

  route(slot: number, access: Access, readonlyConnection: boolean): Route {
    if (this.diverged !== null) return { kind: 'error', code: 'CLUSTERDOWN', message: this.diverged };
    const byMap = routeByMap(this.mapValue, this.nodeId, slot, access, readonlyConnection);
    if (byMap.kind !== 'local') return byMap;
    const assignment = this.mapValue!.partitions[byMap.partition]!;
    if (assignment.primary !== this.nodeId) return byMap; // a READONLY read on a backup (PRIMARY_SYNC only)
    const decision = this.core.canServe(byMap.partition, access, performance.now());
    if (decision.ok) return byMap;
    const { first, last } = slotRangeOfPartition(byMap.partition, this.mapValue!.partitionCount);
    return {
      kind: 'error',
      code: 'TRYAGAIN',
      message: `Partition ${byMap.partition} (slots ${first}-${last}) is not ready on its primary (${decision.reason}); retry`,
    };
  }

  // --- For the server ---------------------------------------------------------------------------

  /** Called after replication commits advance (replies waiting on them may be released). */
  onCommit(listener: () => void): void {
    this.commitListeners.push(listener);
  }

  /** Called when this node stops leading a partition (replies waiting on it will never be released). */
  onLeadershipLost(listener: (partition: number) => void): void {
    this.leadershipLostListeners.push(listener);
  }

  /** WAIT / WAITALL: replicas that hold `seq` of `partition`, and how many replicas there are. */
  acknowledgements(partition: number, seq: number): { acknowledged: number; required: number } {
    return this.core.acknowledgements(partition, seq);
  }

  onlineNodeIds(): string[] {
    return [this.nodeId, ...[...this.online.keys()].filter((id) => id !== this.nodeId)];
  }

  /** Activation (first, or after a deactivation). Any node answers; the map records the result. */
  async activate(options: { partitions?: number; backups?: number; writeSynchronization?: WriteSynchronization }): Promise<ClusterMap> {
    return this.changeMap((map) => {
      const onlineNodes: Record<string, NodeAddress> = { [this.nodeId]: this.address };
      for (const [id, registration] of this.online) onlineNodes[id] = registration.address;
      return activate(map, {
        onlineNodes,
        ...(options.partitions === undefined ? {} : { partitionCount: options.partitions }),
        ...(options.backups === undefined ? {} : { backups: options.backups }),
        ...(options.writeSynchronization === undefined ? {} : { writeSynchronization: options.writeSynchronization }),
      });
    });
  }

  async setState(state: ClusterState): Promise<ClusterMap> {
    return this.changeMap((map) => setState(map, state));
  }

  /** A summary for GET /v1/cluster. */
  summary(): Record<string, unknown> {
    const map = this.mapValue;
    const partitions = map?.partitions ?? [];
    const lost = partitions.flatMap((assignment, partition) => (assignment.lost ? [partition] : []));
    const counts = this.partitionCounts();
    return {
      clusterId: map?.clusterId ?? null,
      state: map?.state ?? null,
      mapVersion: map?.version ?? 0,
      autoActivatePending: map?.autoActivatePending ?? false,
      writeSynchronization: map?.writeSynchronization ?? null,
      partitionCount: map?.partitionCount ?? 0,
      backups: map?.backups ?? 0,
      baseline: map?.baseline ?? [],
      onlineNodes: this.onlineNodeIds().sort(),
      thisNode: {
        nodeId: this.nodeId,
        redisNodeId: this.redisNodeId,
        diverged: this.diverged,
        leading: [...this.leading.keys()].sort((a, b) => a - b),
        stats: { ...this.stats, ...prefixed('snapshotSender', this.snapshots.stats) },
        peerTraffic: { ...this.links.traffic },
      },
      rebalance: this.rebalanceSummary(),
      partitions: {
        total: counts.total,
        underReplicated: counts.under_replicated,
        lost: counts.lost,
        lostPartitions: lost,
        withoutOnlinePrimary: counts.without_online_primary,
      },
      history: map?.history ?? [],
    };
  }

  /** The cluster's partitions as this node's map shows them (GET /v1/cluster, ballast_cluster_partitions). */
  partitionCounts(): Record<ClusterPartitionState, number> {
    const counts = { total: 0, under_replicated: 0, lost: 0, moving: 0, without_online_primary: 0 };
    for (const assignment of this.mapValue?.partitions ?? []) {
      counts.total++;
      if (assignment.lost) counts.lost++;
      else if (assignment.isr.length < assignment.replicas.length) counts.under_replicated++;
      if (assignment.target !== undefined) counts.moving++;
      if (assignment.primary !== null && !this.isOnline(assignment.primary)) counts.without_online_primary++;
    }
    return counts;
  }

  /** A snapshot for the cluster metrics (admin/cluster-metrics.ts), taken at scrape time. */
  clusterFigures(): ClusterFigures {
    const map = this.mapValue;
    const nowMs = performance.now();
    const partitionsByRole: Record<PartitionRole, number> = { primary: 0, backup: 0, learner: 0 };
    const primariesByState: Record<PrimaryState, number> = { serving: 0, read_only: 0, no_lease: 0, catching_up: 0, handing_off: 0, inactive: 0 };
    const primariesByIsrSize = new Map<number, number>();
    const assignments = map?.partitions ?? [];
    for (let partition = 0; partition < assignments.length; partition++) {
      const assignment = assignments[partition]!;
      if (assignment.primary === this.nodeId) partitionsByRole.primary++;
      else if (assignment.isr.includes(this.nodeId)) partitionsByRole.backup++;
      else if (assignment.replicas.includes(this.nodeId) || assignment.target?.includes(this.nodeId) === true) partitionsByRole.learner++;
      if (!this.core.isPrimary(partition)) continue;
      const decision = this.core.canServe(partition, 'write', nowMs);
      primariesByState[decision.ok ? 'serving' : PRIMARY_STATE_OF_REFUSAL[decision.reason]]++;
      primariesByIsrSize.set(assignment.isr.length, (primariesByIsrSize.get(assignment.isr.length) ?? 0) + 1);
    }
    const lag = new Map(this.core.replicationLag().map((figures) => [figures.peer, figures]));
    const peers = [...new Set([...Object.keys(map?.nodes ?? {}), ...lag.keys()])].filter((peer) => peer !== this.nodeId).sort();
    return {
      mapVersion: map?.version ?? 0,
      backups: map?.backups ?? 0,
      partitionsByRole,
      primariesByState,
      primariesByIsrSize,
      peers: peers.map((peer) => ({
        peer,
        connected: this.links.isConnected(peer),
        lagEntries: lag.get(peer)?.entries ?? 0,
        lagBytes: lag.get(peer)?.bytesInFlight ?? 0,
      })),
      partitions: this.partitionCounts(),
      nodes: { baseline: map?.baseline.length ?? 0, online: this.onlineNodeIds().length },
      failovers: this.stats.failovers,
      handoffsReceived: this.stats.handoffsReceived,
      mapUpdates: { applied: this.stats.casApplied, conflict: this.stats.casConflicts, rejected: this.stats.proposalsRejected },
      peerBytes: { sent: this.links.traffic.bytesSent, received: this.links.traffic.bytesReceived },
    };
  }

  // --- Baseline and rebalancing ------------------------------------------------------------------

  /**
   * Sets the baseline. Nodes leaving it must be offline (Ignite's rule) unless `drain` is set: then
   * online leaving nodes keep serving as sources until their partitions moved, and can be stopped
   * once the rebalance is done. Nodes entering it must be online (their address is taken from
   * their presence registration) or known to the map.
   */
  async setBaseline(nodes: readonly string[], options: { drain?: boolean } = {}): Promise<ClusterMap> {
    return this.changeMap((map) => {
      const wanted = new Set(nodes);
      const leaving = map.baseline.filter((id) => !wanted.has(id));
      const onlineLeaving = leaving.filter((id) => this.isOnline(id));
      if (onlineLeaving.length > 0 && options.drain !== true) {
        throw new ClusterError(
          'NODE_ONLINE',
          `node${onlineLeaving.length > 1 ? 's' : ''} ${onlineLeaving.join(', ')} ${onlineLeaving.length > 1 ? 'are' : 'is'} online: stop ${onlineLeaving.length > 1 ? 'them' : 'it'} before removing ${onlineLeaving.length > 1 ? 'them' : 'it'} from the baseline, or pass "drain": true to move ${onlineLeaving.length > 1 ? 'their' : 'its'} data off first`,
          409,
        );
      }
      const addresses: Record<string, NodeAddress> = {};
      for (const id of nodes) {
        if (map.baseline.includes(id)) continue;
        const address = id === this.nodeId ? this.address : this.online.get(id)?.address;
        if (address !== undefined) addresses[id] = address;
        else if (map.nodes[id] === undefined) {
          throw new ClusterError('NODE_OFFLINE', `node ${id} is not online and has never registered: start it before adding it to the baseline`, 409);
        }
      }
      return setBaseline(map, { baseline: [...nodes], addresses, draining: onlineLeaving, nowMs: Date.now() });
    });
  }

  async addToBaseline(nodes: readonly string[]): Promise<ClusterMap> {
    const offline = nodes.filter((id) => !this.isOnline(id));
    if (offline.length > 0) {
      throw new ClusterError('NODE_OFFLINE', `node${offline.length > 1 ? 's' : ''} ${offline.join(', ')} ${offline.length > 1 ? 'are' : 'is'} not online: start ${offline.length > 1 ? 'them' : 'it'} before adding ${offline.length > 1 ? 'them' : 'it'} to the baseline`, 409);
    }
    const map = this.requireMap();
    return this.setBaseline([...new Set([...map.baseline, ...nodes])]);
  }

  async removeFromBaseline(nodes: readonly string[], options: { drain?: boolean } = {}): Promise<ClusterMap> {
    const map = this.requireMap();
    const unknown = nodes.filter((id) => !map.baseline.includes(id));
    if (unknown.length > 0) throw new ClusterError('NOT_IN_BASELINE', `not in the baseline (${map.baseline.join(', ')}): ${unknown.join(', ')}`, 409);
    return this.setBaseline(map.baseline.filter((id) => !nodes.includes(id)), options);
  }

  /** Accepts the loss of lost partitions (all, or those listed): they serve again, maybe empty. */
  async resetLostPartitions(partitions?: readonly number[]): Promise<{ reset: number[]; map: ClusterMap }> {
    const before = this.requireMap();
    const lost = before.partitions.flatMap((assignment, partition) => (assignment.lost ? [partition] : []));
    const map = await this.changeMap((current) => resetLost(current, this.onlineNodeIds(), partitions));
    return { reset: lost.filter((partition) => (partitions === undefined || partitions.includes(partition)) && !map.partitions[partition]!.lost), map };
  }

  async setRebalanceLimits(limits: RebalanceLimits): Promise<ClusterMap> {
    const map = await this.changeMap((current) => setRebalanceLimits(current, limits));
    this.snapshots.pump();
    return map;
  }

  /** The limits in effect: the map's (cluster-wide, set at runtime), else this node's flags. */
  rebalanceLimits(): RebalanceLimitsInEffect {
    return this.mapValue?.rebalanceLimits ?? this.options.rebalanceLimits ?? REBALANCE_LIMITS_DEFAULT;
  }

  onMoveStreamed(listener: (stream: ActiveStream, seconds: number) => void): void {
    this.snapshots.onFinished(listener);
  }

  /** This node's share of the rebalance: what it sent and still has to send (GET /v1/cluster/rebalance/local). */
  localRebalance(): {
    nodeId: string;
    bytesSent: number;
    bytesRemainingEstimate: number;
    streams: ActiveStream[];
    queued: number;
    movesLed: number;
    throttleWaitSeconds: number;
  } {
    this.noteRebalance();
    const { active, queued } = this.snapshots.streams();
    let remaining = 0;
    const streaming = new Set(active.map((stream) => `${stream.to}/${stream.partition}`));
    for (const stream of active) remaining += Math.max(0, stream.bytesTotal - stream.bytesSent);
    const moves = this.core.movesLed();
    for (const move of moves) {
      for (const learner of move.learners) {
        if (streaming.has(`${learner.node}/${move.partition}`)) continue;
        remaining += this.estimatedPartitionBytes(move.partition);
      }
    }
    return {
      nodeId: this.nodeId,
      bytesSent: this.snapshots.stats.bytesSent + this.stats.learnerLogBytesSent - this.rebalanceSeen.bytesAtStart - this.rebalanceSeen.learnerBytesAtStart,
      bytesRemainingEstimate: remaining,
      streams: active,
      queued: queued.length,
      movesLed: moves.length,
      throttleWaitSeconds: this.snapshots.stats.throttleWaitMs / 1000,
    };
  }

  /** Figures for the rebalance metrics. */
  rebalanceFigures(): RebalanceFigures {
    const { active, queued } = this.snapshots.streams();
    return {
      partitionsMoving: this.mapValue?.partitions.filter((assignment) => assignment.target !== undefined).length ?? 0,
      streamsActive: active.length,
      streamsQueued: queued.length,
      snapshotBytesSent: this.snapshots.stats.bytesSent,
      learnerLogBytesSent: this.stats.learnerLogBytesSent,
      throttleWaitSeconds: this.snapshots.stats.throttleWaitMs / 1000,
      partitionsDropped: this.stats.partitionsDropped,
      limitBytesPerSecond: this.rebalanceLimits().bytesPerSecond,
    };
  }

  /** Admin addresses of the online nodes (for the cluster-wide rebalance report). */
  onlineAdminAddresses(): Array<{ nodeId: string; host: string; adminPort: number }> {
    const addresses = [{ nodeId: this.nodeId, host: this.address.host, adminPort: this.address.adminPort }];
    for (const [nodeId, registration] of this.online) {
      if (nodeId !== this.nodeId) addresses.push({ nodeId, host: registration.address.host, adminPort: registration.address.adminPort });
    }
    return addresses;
  }

  /** Rebalance progress as the map shows it (every node answers the same). */
  rebalanceSummary(): Record<string, unknown> {
    this.noteRebalance();
    const map = this.mapValue;
    const partitions = map?.partitions ?? [];
    const moving = partitions.flatMap((assignment, partition) => (assignment.target === undefined ? [] : [partition]));
    const record = map?.rebalance;
    const total = Math.max(record?.partitionsTotal ?? 0, moving.length);
    return {
      inProgress: moving.length > 0,
      partitionsTotal: total,
      partitionsMoving: moving.length,
      partitionsDone: total - moving.length,
      movingPartitions: moving.slice(0, 64),
      startedAt: record === undefined ? null : new Date(record.startedAtMs).toISOString(),
      finishedAt: moving.length === 0 && this.rebalanceSeen.finishedAtMs !== null ? new Date(this.rebalanceSeen.finishedAtMs).toISOString() : null,
      baselineVersion: record?.version ?? null,
      limits: { ...this.rebalanceLimits(), source: map?.rebalanceLimits === undefined ? 'node flags' : 'cluster map' },
    };
  }

  /** Resets progress counters at a new baseline change; notes when the moves finished. */
  private noteRebalance(): void {
    const map = this.mapValue;
    const version = map?.rebalance?.version ?? -1;
    if (version !== this.rebalanceSeen.version) {
      this.rebalanceSeen = { version, bytesAtStart: this.snapshots.stats.bytesSent, learnerBytesAtStart: this.stats.learnerLogBytesSent, finishedAtMs: null };
    }
    const moving = map?.partitions.some((assignment) => assignment.target !== undefined) ?? false;
    if (!moving && this.rebalanceSeen.finishedAtMs === null && version !== -1) this.rebalanceSeen.finishedAtMs = Date.now();
    if (moving) this.rebalanceSeen.finishedAtMs = null;
  }

  private readonly recordBytesSeen = { records: 0, bytes: 0 };

  /** A partition's size from its key count and the mean record size of snapshots read so far. */
  private estimatedPartitionBytes(partition: number): number {
    const mean = this.recordBytesSeen.records === 0 ? 128 : this.recordBytesSeen.bytes / this.recordBytesSeen.records;
    return Math.round(this.engine.partitionState(partition).keys * mean);
  }

  private requireMap(): ClusterMap {
    const map = this.mapValue;
    if (map === null || map.partitions.length === 0) throw new ClusterError('NOT_ACTIVE', 'the cluster was never activated', 409);
    return map;
  }

  /** Partitions whose local copy waits to be deleted (one per tick: a burst of deletions would stall commits). */
  private readonly dropQueue = new Set<number>();

  /** Queues the local copies of partitions the map no longer places here (a move completed). */
  private dropPartitionsMovedAway(map: ClusterMap): void {
    if (map.state === 'INACTIVE' || map.partitions.length === 0 || this.diverged !== null) return;
    for (let partition = 0; partition < map.partitions.length; partition++) {
      if (!this.engine.holdsPartition(partition)) continue;
      if (!map.partitions[partition]!.replicas.includes(this.nodeId)) {
        this.dropQueue.add(partition);
      } else if (this.dropQueue.delete(partition)) {
        // Placed here again before its old copy was deleted: delete it now, before this node reports
        // a position, so it joins from nothing and gets a full copy.
        this.dropPartition(partition, map);
      }
    }
  }

  private dropPartition(partition: number, map: ClusterMap): void {
    this.log.info({ partition, mapVersion: map.version }, 'partition moved away: deleting the local copy');
    for (const key of [...this.incomingSnapshots.keys()]) if (key.endsWith(`/${partition}`)) this.incomingSnapshots.delete(key);
    this.engine.dropPartition(partition);
    this.core.onLocalReset(partition);
    this.stats.partitionsDropped++;
  }

  /**
   * Deletes one queued copy, if the map still places the partition elsewhere. Until then the copy is
   * inert: this node refuses entries and snapshots for it and serves nothing of it; if it becomes a
   * replica again first, the copy is an older state its primary brings up to date (log or snapshot).
   */
  private dropOneQueuedPartition(): void {
    const map = this.mapValue;
    for (const partition of this.dropQueue) {
      this.dropQueue.delete(partition);
      if (map === null || map.state === 'INACTIVE' || this.diverged !== null) return;
      if (map.partitions[partition]?.replicas.includes(this.nodeId) !== false || !this.engine.holdsPartition(partition)) continue;
      this.dropPartition(partition, map);
      return;
    }
  }

  /**
   * The first half of a graceful stop (SIGTERM): hand every partition this node leads to a caught-up
   * ISR member and wait until the map shows none led here, so clients are redirected (MOVED) rather
   * than waiting out a failover. Stops waiting when no partition left here has a possible successor
   * (backups = 0, every peer stopping too) or after `limitMs`.
   */
  async stepDown(limitMs: number): Promise<{ led: number; stillLeading: number; ms: number }> {
    const started = performance.now();
    const led = this.core.partitionsLed();
    if (this.stopped || this.diverged !== null || led === 0) return { led, stillLeading: led, ms: 0 };
    this.core.stepDown(started);
    this.drain();
    while (this.core.partitionsLedWithSuccessor() > 0 && performance.now() - started < limitMs) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { led, stillLeading: this.core.partitionsLed(), ms: Math.round(performance.now() - started) };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.snapshots.stop();
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.stopWatch?.();
    this.stopOnlineWatch?.();
    await this.presence?.close().catch(() => undefined);
    await this.links.close();
    await this.store.close();
  }

  // --- Map and presence ---------------------------------------------------------------------------

  private onMap(map: ClusterMap): void {
    if (this.stopped || (this.mapValue !== null && map.version <= this.mapValue.version)) return;
    const relation = historyRelation(this.localHistory(), map.history);
    if (relation === 'diverged' || relation === 'ahead') {
      if (this.diverged === null) {
        this.diverged =
          `This node's activation history ${relation === 'ahead' ? 'is ahead of' : 'diverged from'} cluster ${map.clusterId}'s: ` +
          `it was activated in another cluster. It serves nothing; wipe its data directory to join this cluster.`;
        this.log.error({ relation, local: this.localHistory().length, cluster: map.history.length }, 'activation history mismatch: refusing to join');
      }
      this.mapValue = map;
      return;
    }
    if (relation === 'behind') this.engine.putMeta(HISTORY_META, Buffer.from(JSON.stringify(map.history)));
    this.mapValue = map;
    this.links.setPeers(Object.keys(map.nodes));
    // At start, a baseline node that sees no other baseline node online does not act on the map
    // (no failover, no marking partitions lost) until it has decided whether this is a full restart.
    if (!this.startupHeld) {
      // Copies are deleted before the core sees the map: a learner reports its position on it.
      this.dropPartitionsMovedAway(map);
      this.core.onMap(map, performance.now());
    }
    this.noteRebalance();
    this.snapshots.pump();
    if (map.nodes[this.nodeId] !== undefined && !sameAddress(map.nodes[this.nodeId]!, this.address)) {
      void this.changeMap((current) => registerNode(current, this.nodeId, this.address)).catch((error: unknown) =>
        this.log.warn({ err: (error as Error).message }, 'could not update this node\'s address in the map'),
      );
    }
    this.drain();
  }

  private onOnline(registrations: NodeRegistration[]): void {
    this.online.clear();
    for (const registration of registrations) this.online.set(registration.nodeId, registration);
    this.core.onOnlineNodes(this.onlineNodeIds(), performance.now());
    const map = this.mapValue;
    if (map !== null) {
      this.links.setPeers(new Set([...Object.keys(map.nodes), ...this.online.keys()]));

    }
    this.drain();
  }

  private localHistory(): ActivationRecord[] {
    const stored = this.engine.getMeta(HISTORY_META);
    return stored === undefined ? [] : (JSON.parse(stored.toString('utf8')) as ActivationRecord[]);
  }

  /** Full-restart detection and auto-activation (Ignite semantics). */
  private checkActivation(): void {
    const map = this.mapValue;
    if (map === null || this.diverged !== null) return;
    if (this.startupHeld) this.decideStartup(map);
    if (map.partitions.length === 0) return;
    if (map.state === 'INACTIVE' && map.autoActivatePending && map.baseline.every((id) => this.isOnline(id))) {
      this.log.info({ baseline: map.baseline }, 'every baseline node is back: activating');
      void this.activate({}).catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'auto-activation failed'));
    }
  }

  /**
   * Normal join, or full restart? A baseline node of an active cluster that sees another baseline
   * node online joins at once. One that sees none within FULL_RESTART_DETECT_MS marks the cluster
   * INACTIVE (auto-activation pending) before acting on the map, so a full restart moves no
   * partition: the cluster activates itself once every baseline node is back.
   */
  private decideStartup(map: ClusterMap): void {
    const others = map.baseline.filter((id) => id !== this.nodeId);
    const active = map.state !== 'INACTIVE' && map.partitions.length > 0 && map.baseline.includes(this.nodeId);
    const someoneBack = others.some((id) => this.online.has(id));
    if (active && others.length > 0 && !someoneBack && performance.now() - this.startedMs < FULL_RESTART_DETECT_MS) return;
    this.startupHeld = false;
    if (active && others.length > 0 && !someoneBack) {
      this.log.warn({ baseline: map.baseline }, 'no other baseline node is online: full restart; waiting for all of them');
      void this.changeMap((current) => (current.state === 'INACTIVE' ? current : markFullRestart(current)))
        .catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'could not mark the full restart'))
        .finally(() => this.releaseMap());
      return;
    }
    this.releaseMap();
  }

  /** Hands the newest map to the core once the start-up decision is made. */
  private releaseMap(): void {
    const map = this.mapValue;
    if (map === null || this.stopped) return;
    this.dropPartitionsMovedAway(map);
    this.core.onMap(map, performance.now());
    this.drain();
  }

  /** Applies `change` to the newest map and stores it by CAS, retrying on conflicts. */
  private async changeMap(change: (map: ClusterMap) => ClusterMap): Promise<ClusterMap> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS_MAX; attempt++) {
      const current = (await this.store.read()) ?? this.mapValue;
      if (current === null) throw new ClusterError('NO_MAP', 'the cluster store holds no map yet', 503);
      let next: ClusterMap;
      try {
        next = change(current);
      } catch (error) {
        if (error instanceof MapTransitionError) throw new ClusterError(error.code, error.message, 409);
        throw error;
      }
      if (next === current) return current;
      const stored = { ...next, version: current.version + 1 };
      const result = await this.store.compareAndSwap(current.version, stored);
      if (result.ok) {
        this.stats.casApplied++;
        this.onMap(stored);
        return stored;
      }
      this.stats.casConflicts++;
    }
    throw new ClusterError('CAS_CONFLICT', `the map kept changing; gave up after ${CAS_ATTEMPTS_MAX} attempts`, 503);
  }

  // --- Core plumbing ----------------------------------------------------------------------------

  private tick(): void {
    if (this.stopped) return;
    this.core.tick(performance.now());
    this.drain();
    this.checkActivation();
    this.dropOneQueuedPartition();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      const now = performance.now();
      for (const partition of this.appendedPartitions) this.core.onLocalAppend(partition, now);
      this.appendedPartitions.clear();
      for (const partition of this.durablePartitions) this.core.onLocalDurable(partition, now);
      this.durablePartitions.clear();
      this.drain();
    });
  }

  /** Carries out what the core asked for. */
  private drain(): void {
    if (this.stopped || this.diverged !== null) return;
    const out = this.core.take();
    const map = this.mapValue;
    for (const { to, message } of out.messages) {
      if (message.type === 'append' && message.entries.length > 0) {
        const assignment = map?.partitions[message.partition];
        if (assignment?.target !== undefined && !assignment.isr.includes(to)) {
          for (const entry of message.entries) this.stats.learnerLogBytesSent += entry.bytes;
        }
      }
      this.links.send(to, { k: 'c', m: message } satisfies WireMessage);
    }
    for (const { partition, entries } of out.apply) {
      this.stats.entriesReceived += entries.length;
      for (const entry of entries) this.stats.bytesReceived += entry.bytes;
      this.engine.applyReplicated(partition, entries);
    }
    if (out.proposals.length > 0) {
      this.proposalQueue.push(...out.proposals);
      void this.runProposals();
    }
    for (const snapshot of out.snapshots) {
      this.stats.snapshotsSent++;
      this.snapshots.request(snapshot);
    }
    this.updateLeadership();
    if (out.committed.length > 0) {
      for (const { partition, committedSeq } of out.committed) this.engine.onCommitted(partition, committedSeq);
      for (const listener of this.commitListeners) listener();
    }
    // Messages of one burst leave now, in one frame per peer, not one event-loop turn later.
    if (out.messages.length > 0) this.links.flushAll();
  }

  private seenLeadershipVersion = -1;

  private updateLeadership(): void {
    if (this.core.leadershipVersion === this.seenLeadershipVersion) return;
    this.seenLeadershipVersion = this.core.leadershipVersion;
    const partitionCount = this.mapValue?.partitions.length ?? 0;
    for (let partition = 0; partition < partitionCount; partition++) {
      const term = this.core.isPrimary(partition) ? this.core.writeTerm(partition) : null;
      const previous = this.leading.get(partition);
      if (previous === term) continue;
      if (previous !== undefined) {
        this.leading.delete(partition);
        this.engine.releaseHeld(partition);
        this.log.info({ partition, term: previous }, 'no longer leading partition');
        for (const listener of this.leadershipLostListeners) listener(partition);
      }
      if (term !== null) {
        this.leading.set(partition, term);
        this.stats.failoversWon++;
        this.log.info({ partition, term }, 'leading partition');
      }
    }
  }

  /** One CAS at a time carries every queued proposal. */
  private async runProposals(): Promise<void> {
    if (this.casRunning || this.proposalQueue.length === 0) return;
    this.casRunning = true;
    try {
      while (this.proposalQueue.length > 0 && !this.stopped) {
        const proposals = this.proposalQueue.splice(0);
        const current = (await this.store.read()) ?? this.mapValue;
        if (current === null) break;
        const { next, applied, rejected } = applyProposals(current, proposals);
        let ok = next === null;
        if (next !== null) {
          const result = await this.store.compareAndSwap(current.version, next);
          ok = result.ok;
          if (ok) {
            this.stats.casApplied++;
            this.onMap(next);
          } else {
            this.stats.casConflicts++;
            if (!result.ok && result.current !== null) this.onMap(result.current);
            this.proposalQueue.unshift(...proposals);
            continue;
          }
        }
        const now = performance.now();
        for (const proposal of applied) {
          this.countTakeover(current, proposal);
          this.core.onProposalResult(proposal, 'applied', now);
        }
        for (const { proposal, error } of rejected) {
          this.stats.proposalsRejected++;
          this.log.debug({ proposal, reason: error.message }, 'proposal rejected');
          this.core.onProposalResult(proposal, 'rejected', now);
        }
        this.drain();
      }
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'map change failed; the core proposes again');
    } finally {
      this.casRunning = false;
    }
  }

  /** Counts a takeover of this node that `before` (the map it changed) shows as a failover or a handoff. */
  private countTakeover(before: ClusterMap, proposal: Proposal): void {
    if (proposal.kind === 'hand-over' && proposal.candidate === this.nodeId) this.stats.handoffsReceived++;
    if (proposal.kind !== 'promote' || proposal.candidate !== this.nodeId) return;
    // Promoting itself (a fresh term at activation or after a restart) is not a failover.
    const previous = before.partitions[proposal.partition]?.primary ?? null;
    if (previous !== null && previous !== this.nodeId) this.stats.failovers++;
  }

  // --- Snapshots --------------------------------------------------------------------------------

  private onWire(from: string, message: WireMessage): void {
    if (this.stopped || this.diverged !== null || typeof message !== 'object' || message === null) return;
    switch (message.k) {
      case 'c':
        this.core.onMessage(from, message.m, performance.now());
        break;
      case 'sb':
        if (!this.core.acceptsSnapshot(message.p, from, message.term)) break;
        this.incomingSnapshots.set(`${from}/${message.p}`, {
          partition: message.p,
          term: message.term,
          seq: message.seq,
          lastTerm: message.lastTerm,
          epochs: message.epochs,
          records: [],
        });
        break;
      case 'sc': {
        const snapshot = this.incomingSnapshots.get(`${from}/${message.p}`);
        if (snapshot !== undefined) {
          for (const [key, value] of message.records) {
            this.stats.snapshotBytesReceived += key.length + value.length;
            // msgpackr hands out views into the received frame (no copy); wrap without copying.
            snapshot.records.push([asBuffer(key), asBuffer(value)]);
          }
        }
        break;
      }
      case 'se': {
        const key = `${from}/${message.p}`;
        const snapshot = this.incomingSnapshots.get(key);
        this.incomingSnapshots.delete(key);
        if (snapshot !== undefined) this.installSnapshot(from, snapshot);
        break;
      }
    }
    if (message.k !== 'c') this.updateCatchUpBusy();
    this.drain();
  }

  /** Tells the core whether this node is busy receiving or installing snapshots. */
  private updateCatchUpBusy(): void {
    this.core.setCatchUpBusy(this.incomingSnapshots.size > 0 || this.installsPending > 0);
  }

  private installSnapshot(from: string, snapshot: PartitionSnapshot & { term: number }): void {
    if (!this.core.acceptsSnapshot(snapshot.partition, from, snapshot.term)) {
      this.log.info({ partition: snapshot.partition, from, term: snapshot.term }, 'ignoring a stale partition snapshot');
      return;
    }
    this.stats.snapshotsReceived++;
    this.log.info({ partition: snapshot.partition, from, seq: snapshot.seq, records: snapshot.records.length }, 'installing a partition snapshot');
    const batchId = this.engine.replacePartition(snapshot);
    this.installsPending++;
    const done = (): void => {
      this.installsPending--;
      this.updateCatchUpBusy();
      this.core.onSnapshotInstalled(snapshot.partition, from, snapshot.term, snapshot.seq, snapshot.lastTerm, performance.now());
      this.drain();
    };
    if (this.engine.acknowledgedBatchId >= batchId) done();
    else this.waitForBatch(batchId, done);
  }

  private waitForBatch(batchId: number, done: () => void): void {
    const check = (): void => {
      if (this.stopped) return;
      if (this.engine.acknowledgedBatchId >= batchId) done();
      else setTimeout(check, 2);
    };
    check();
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function prefixed(prefix: string, values: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(values)) out[`${prefix}${name[0]!.toUpperCase()}${name.slice(1)}`] = value;
  return out;
}

function toLogEntry(entry: ReplicatedEntry): LogEntry {
  return { seq: entry.seq, term: entry.term, bytes: entryBytes(entry), payload: entry.payload };
}

/** The 40-hex-character node id Redis clients see: sha1 of the Ballast node id. */
export function redisIdOf(nodeId: string): string {
  return createHash('sha1').update(nodeId).digest('hex');
}

function sameAddress(a: NodeAddress, b: NodeAddress): boolean {
  return a.host === b.host && a.port === b.port && a.peerPort === b.peerPort && a.adminPort === b.adminPort && (a.zone ?? '') === (b.zone ?? '');
}
