/**
 * The replication core of one node: PacificA-style primary/backup replication with a Kafka-style
 * ISR and leases (DESIGN.md, Replication). Pure: no sockets, timers, clocks or randomness. The edge
 * feeds it the ClusterMap, peer messages, local durability progress and the time (`nowMs`, a
 * monotonic clock), and carries out what it returns from `take()`: messages to send, entries to
 * apply, map changes to propose, snapshots to stream, commit points to release replies at.
 *
 * Safety argument (each point is an invariant the simulation checks):
 * - Leases. A primary serves only while every member of its effective ISR (the map's ISR plus
 *   members it has proposed to add) granted a beacon sent less than leaseMs ago (its own clock).
 *   A backup that grants promises not to take over for failoverDelayMs (its own clock) and, while
 *   it has a takeover proposal outstanding, grants nothing. A new primary needs a promote by CAS,
 *   only ISR members are promoted, and they propose only after their promise ran out: so an old
 *   primary's lease has always lapsed before a new primary exists.
 * - Terms. A node leads only at a term its own process created by CAS (after a restart it bumps
 *   the term first), so one (seq, term) pair always names one entry, and comparing positions by
 *   epochs finds every divergence. A diverged backup is resynchronised by snapshot.
 * - Commit. FULL_SYNC: an entry is committed when it is durable on the primary and acknowledged
 *   (durably) by every member of the effective ISR; only ISR members can become primary, so every
 *   future primary has every committed entry. A new primary serves only once everything in its log
 *   at takeover is committed (so no reply exposes an entry a later failover could drop).
 */
import type { ClusterMap, PartitionAssignment } from '../cluster-map.js';
import {
  emptyOutputs,
  REPLICATION_DEFAULTS,
  type LocalLog,
  type Outputs,
  type PeerMessage,
  type Proposal,
  type ReplicationConfig,
  type ServeDecision,
} from './types.js';

type Role = 'primary' | 'backup' | 'none';

interface PeerProgress {
  mode: 'probe' | 'log' | 'snapshot';
  /** Next seq to send, and the term of the entry before it. */
  nextSeq: number;
  prevTerm: number;
  /** Highest seq the peer has durably acknowledged, and highest it has accepted (maybe not durable). */
  matchSeq: number;
  acceptedSeq: number;
  /** Sent and not yet acknowledged: seq, bytes, send time. */
  inflight: Array<{ seq: number; bytes: number; sentMs: number }>;
  inflightBytes: number;
  /** When the peer last answered anything for this partition. */
  lastHeardMs: number;
  /** Send time (our clock) of the newest beacon the peer granted for this partition at our term. */
  leaseFromMs: number;
  /** When the last probe or snapshot was started. */
  modeSinceMs: number;
  /** The peer's map version in its latest position report (ack or snapshot-done). */
  peerMapVersion: number;
  /** Snapshot mode: when the edge finished sending it (null: still sending). */
  snapshotSentMs: number | null;
  /** Since when the peer has been in the map's ISR without a pending removal (null: it is not). */
  isrSinceMs: number | null;
}

interface LeaderState {
  term: number;
  /** The partition serves only once committedSeq reaches this (the log at takeover). */
  readyFromSeq: number;
  committedSeq: number;
  peers: Map<string, PeerProgress>;
  /** Members this leader proposed to add to the ISR, not yet seen in the map. */
  pendingExpand: Set<string>;
  /** Members it proposed to remove, not yet seen in the map. */
  pendingShrink: Set<string>;
  /** When this leadership started (this node's clock). */
  sinceMs: number;
  /**
   * A graceful handoff in progress: the primary stopped serving (for good, at this term) and tells
   * `to` to take over once everything is committed and on `to`.
   */
  handoff: { to: string; sinceMs: number; lastSentMs: number } | null;
}

interface PartitionRuntime {
  partition: number;
  assignment: PartitionAssignment | null;
  role: Role;
  leader: LeaderState | null;
  /** Highest term this node has heard of for the partition (map or messages), and its primary. */
  knownTerm: number;
  knownPrimary: string | null;
  /** Backup: when it last heard from the primary (its promise runs failoverDelay from here). */
  lastHeardMs: number;
  /** Backup: position of the last entry accepted (applied or handed to the edge to apply). */
  appliedSeq: number;
  appliedTerm: number;
  positionKnown: boolean;
  /** Backup: last durable seq reported to the primary. */
  reportedDurableSeq: number;
  /** Backup: entries were accepted since the last ack (one is owed to the primary). */
  ackDue: boolean;
  /** A takeover (promote / restore) this node proposed; while set it grants no leases. */
  takeover: { proposal: Proposal; sinceMs: number } | null;
  /** Other proposals outstanding, by key, with the time they were last emitted. */
  proposals: Map<string, number>;
  /** When all ISR members were first seen offline (for mark-lost). */
  isrOfflineSinceMs: number | null;
  /** The last term this node granted a lease at (it keeps granting at that term). */
  grantedTerm: number;
  /** Since when this node has been a replica outside the ISR (a learner); null otherwise. */
  learnerSinceMs: number | null;
  /**
   * Learner of a moving partition: the baseline change, primary and term it last reported its
   * position for (`version/primary/term`), so it reports once per change even with no writes.
   */
  movePositionReported: string | null;
}

export class ReplicationCore {
  private readonly config: ReplicationConfig;
  private map: ClusterMap | null = null;
  private readonly partitions = new Map<number, PartitionRuntime>();
  private online = new Set<string>();
  private readonly connected = new Set<string>();
  /** Peers that said they are stepping down (until they connect again). */
  private readonly leaving = new Set<string>();
  /** This node is stepping down: it hands off every partition it leads and takes none over. */
  private steppingDown = false;
  /** Terms this process created for itself (by promote or restore), per partition. */
  private readonly ownedTerms = new Map<number, number>();
  private out: Outputs = emptyOutputs();
  /** Positive acks in the current outputs, by partition (coalesced until `take`). */
  private readonly queuedAcks = new Map<number, { to: string; message: { term: number; durableSeq: number; lastSeq: number; lastTerm: number } }>();
  /** Some partition of the current map is moving. */
  private rebalancing = false;
  /** The edge is busy installing snapshots (learners hold back their first grants). */
  private catchUpBusy = false;
  /** Incremented whenever this node starts or stops leading a partition (cheap change detection). */
  leadershipVersion = 0;
  private nextBeaconId = 1;
  private readonly beaconsSent = new Map<number, number>();
  private lastBeaconMs = -Infinity;

  constructor(
    readonly nodeId: string,
    private readonly log: LocalLog,
    config: Partial<ReplicationConfig> = {},
  ) {
    this.config = { ...REPLICATION_DEFAULTS, ...config };
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  /** A new map version (never an older one). */
  onMap(map: ClusterMap, nowMs: number): void {
    if (this.map !== null && map.version <= this.map.version) return;
    this.map = map;
    this.rebalancing = map.partitions.some((assignment) => assignment.target !== undefined);
    for (let partition = 0; partition < map.partitions.length; partition++) {
      this.applyAssignment(this.runtime(partition, nowMs), map.partitions[partition]!, nowMs);
    }
    this.tick(nowMs);
  }

  /** The edge started or finished receiving and installing snapshots. */
  setCatchUpBusy(busy: boolean): void {
    this.catchUpBusy = busy;
  }

  /** The set of nodes with a live presence registration. */
  onOnlineNodes(nodes: Iterable<string>, nowMs: number): void {
    this.online = new Set(nodes);
    this.online.add(this.nodeId);
    this.tick(nowMs);
  }

  onPeerConnected(peer: string, nowMs: number): void {
    this.connected.add(peer);
    this.leaving.delete(peer);
    if (this.steppingDown) this.send(peer, { type: 'leaving' });
    for (const runtime of this.partitions.values()) {
      const progress = runtime.leader?.peers.get(peer);
      if (progress !== undefined) this.startProbe(runtime, peer, progress, nowMs);
    }
  }

  onPeerDisconnected(peer: string, nowMs: number): void {
    this.connected.delete(peer);
    for (const runtime of this.partitions.values()) {
      const progress = runtime.leader?.peers.get(peer);
      if (progress !== undefined) {
        progress.mode = 'probe';
        progress.inflight = [];
        progress.inflightBytes = 0;
        progress.modeSinceMs = nowMs;
      }
    }
  }

  /** Local storage made more of `partition` durable. */
  onLocalDurable(partition: number, nowMs: number): void {
    const runtime = this.partitions.get(partition);
    if (runtime === undefined) return;
    if (runtime.leader !== null) {
      this.advanceCommit(runtime);
      return;
    }
    this.reportDurable(runtime, nowMs);
  }

  /**
   * The edge deleted this node's copy of a partition it no longer holds (the map moved it away): its
   * position is read again from the (now empty) log when a primary next asks.
   */
  onLocalReset(partition: number): void {
    const runtime = this.partitions.get(partition);
    if (runtime === undefined || runtime.leader !== null) return;
    runtime.positionKnown = false;
    runtime.reportedDurableSeq = 0;
    runtime.ackDue = false;
  }

  /** The edge applied a local write (primary) to `partition`: replicate it. */
  onLocalAppend(partition: number, nowMs: number): void {
    const runtime = this.partitions.get(partition);
    if (runtime?.leader === undefined || runtime.leader === null) return;
    for (const [peer, progress] of runtime.leader.peers) this.sendEntries(runtime, peer, progress, nowMs);
  }

  /** Backup side: a snapshot from `from` was installed; the local copy is now at seq/lastTerm, durable. */
  onSnapshotInstalled(partition: number, from: string, term: number, seq: number, lastTerm: number, nowMs: number): void {
    if (!this.holdsReplica(partition)) return;
    const runtime = this.runtime(partition, nowMs);
    if (term < runtime.knownTerm || runtime.leader !== null) return;
    runtime.appliedSeq = seq;
    runtime.appliedTerm = lastTerm;
    runtime.positionKnown = true;
    runtime.reportedDurableSeq = seq;
    runtime.lastHeardMs = nowMs;
    this.send(from, { type: 'snapshot-done', partition, term, seq, lastTerm, mapVersion: this.map?.version ?? 0 });
  }

  /** The edge sent the whole snapshot to `to`; the backup confirms with snapshot-done once installed. */
  onSnapshotSent(partition: number, to: string, nowMs: number): void {
    const progress = this.partitions.get(partition)?.leader?.peers.get(to);
    if (progress !== undefined && progress.mode === 'snapshot') progress.snapshotSentMs = nowMs;
  }

  /** The edge could not stream a snapshot to `to`: start again later. */
  onSnapshotFailed(partition: number, to: string, nowMs: number): void {
    const progress = this.partitions.get(partition)?.leader?.peers.get(to);
    if (progress !== undefined && progress.mode === 'snapshot') {
      progress.mode = 'probe';
      progress.modeSinceMs = nowMs - this.config.retransmitMs;
    }
  }

  /** What became of a proposal: applied (seen in the map soon) or rejected by the map's rules. */
  onProposalResult(proposal: Proposal, result: 'applied' | 'rejected', nowMs: number): void {
    const runtime = this.partitions.get(proposal.partition);
    if (runtime === undefined) return;
    runtime.proposals.delete(proposalKey(proposal));
    if (result === 'rejected') {
      if (runtime.takeover !== null && proposalKey(runtime.takeover.proposal) === proposalKey(proposal)) {
        runtime.takeover = null;
      }
      const leader = runtime.leader;
      if (leader !== null && proposal.kind === 'expand-isr') leader.pendingExpand.delete(proposal.added);
      if (leader !== null && proposal.kind === 'shrink-isr') for (const node of proposal.removed) leader.pendingShrink.delete(node);
    }
    void nowMs;
  }

  onMessage(from: string, message: PeerMessage, nowMs: number): void {
    switch (message.type) {
      case 'beacon':
        this.onBeacon(from, message, nowMs);
        return;
      case 'grant':
        this.onGrant(from, message, nowMs);
        return;
      case 'append':
        this.onAppend(from, message, nowMs);
        return;
      case 'probe':
        this.onProbe(from, message, nowMs);
        return;
      case 'ack':
        this.onAck(from, message, nowMs);
        return;
      case 'snapshot-done':
        this.onSnapshotDone(from, message, nowMs);
        return;
      case 'handoff':
        this.onHandoff(from, message, nowMs);
        return;
      case 'leaving':
        this.leaving.add(from);
        this.tick(nowMs);
        return;
    }
  }

  /**
   * Graceful stop (SIGTERM, a rolling restart): hand every partition this node leads to a caught-up
   * ISR member, take none over, and tell the peers so that they drop this node from their ISRs at
   * once instead of waiting for writes to time out. The edge stops the process once
   * `partitionsLed()` is 0 (or after its own time limit).
   */
  stepDown(nowMs: number): void {
    if (this.steppingDown) return;
    this.steppingDown = true;
    for (const peer of this.connected) this.send(peer, { type: 'leaving' });
    this.tick(nowMs);
  }

  /** How many partitions this node leads (handing-off ones included). */
  partitionsLed(): number {
    let count = 0;
    for (const runtime of this.partitions.values()) if (runtime.leader !== null) count++;
    return count;
  }

  /**
   * Partitions this node leads that another ISR member could take over (connected, not leaving):
   * a node stepping down waits for these only (when every peer is stopping too, for none).
   */
  partitionsLedWithSuccessor(): number {
    let count = 0;
    for (const runtime of this.partitions.values()) {
      const isr = runtime.assignment?.isr ?? [];
      if (runtime.leader !== null && isr.some((node) => node !== this.nodeId && this.connected.has(node) && !this.leaving.has(node))) count++;
    }
    return count;
  }

  /** Timers: beacons, retransmissions, ISR changes, failover. Call often (every ~50 ms). */
  tick(nowMs: number): void {
    if (nowMs - this.lastBeaconMs >= this.config.beaconIntervalMs) this.sendBeacons(nowMs);
    for (const runtime of this.partitions.values()) {
      if (runtime.leader !== null) this.tickLeader(runtime, nowMs);
      else this.tickFollower(runtime, nowMs);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Queries

  /** Whether this node may serve `access` on `partition` now. */
  canServe(partition: number, access: 'read' | 'write', nowMs: number): ServeDecision {
    const map = this.map;
    if (map === null || map.partitions.length === 0) return { ok: false, reason: 'no-map' };
    if (map.state === 'INACTIVE') return { ok: false, reason: 'inactive' };
    const runtime = this.partitions.get(partition);
    const assignment = map.partitions[partition];
    if (runtime === undefined || assignment === undefined) return { ok: false, reason: 'no-map' };
    if (assignment.lost) return { ok: false, reason: 'lost' };
    const leader = runtime.leader;
    if (leader === null) return { ok: false, reason: 'not-primary', primary: assignment.primary };
    if (access === 'write' && map.state === 'ACTIVE_READ_ONLY') return { ok: false, reason: 'read-only' };
    // A primary handing off serves nothing more at its term, reads included: the receiver takes
    // over without waiting for the leases this primary holds to lapse.
    if (leader.handoff !== null) return { ok: false, reason: 'handing-off' };
    if (this.leaseExpiryMs(runtime) <= nowMs) return { ok: false, reason: 'no-lease' };
    if (leader.committedSeq < leader.readyFromSeq) return { ok: false, reason: 'catching-up' };
    return { ok: true };
  }

  /** The term a primary writes new entries with (call after canServe said ok). */
  writeTerm(partition: number): number {
    const leader = this.partitions.get(partition)?.leader;
    if (leader === undefined || leader === null) throw new Error(`not the primary of partition ${partition}`);
    return leader.term;
  }

  /** Entries up to this seq are committed (primary); 0 when unknown. */
  committedSeq(partition: number): number {
    return this.partitions.get(partition)?.leader?.committedSeq ?? 0;
  }

  isPrimary(partition: number): boolean {
    return (this.partitions.get(partition)?.leader ?? null) !== null;
  }

  /** Lease end on this node's clock (−∞ when not primary, +∞ with no other ISR member). */
  leaseExpiryMs(runtimeOrPartition: PartitionRuntime | number): number {
    const runtime =
      typeof runtimeOrPartition === 'number' ? this.partitions.get(runtimeOrPartition) : runtimeOrPartition;
    const leader = runtime?.leader;
    if (runtime === undefined || leader === undefined || leader === null) return -Infinity;
    let expiry = Infinity;
    for (const member of this.effectiveIsr(runtime)) {
      if (member === this.nodeId) continue;
      const progress = leader.peers.get(member);
      const from = progress?.leaseFromMs ?? -Infinity;
      expiry = Math.min(expiry, from + this.config.leaseMs);
    }
    return expiry;
  }

  /**
   * Replicas (other than the primary) whose durable position reached `seq`, and how many replicas
   * there are (for WAIT / WAITALL). Disconnected replicas count as not acknowledged.
   */
  acknowledgements(partition: number, seq: number): { acknowledged: number; required: number } {
    const runtime = this.partitions.get(partition);
    const leader = runtime?.leader;
    const replicas = runtime?.assignment?.replicas.filter((node) => node !== this.nodeId) ?? [];
    if (leader === undefined || leader === null) return { acknowledged: 0, required: replicas.length };
    let acknowledged = 0;
    for (const replica of replicas) {
      const progress = leader.peers.get(replica);
      if (progress !== undefined && this.connected.has(replica) && progress.matchSeq >= seq) acknowledged++;
    }
    return { acknowledged, required: replicas.length };
  }

  /** Positions and modes of the peers of a partition this node leads (for metrics and tests). */
  peerStates(partition: number): Array<{ node: string; mode: string; matchSeq: number }> {
    const leader = this.partitions.get(partition)?.leader;
    if (leader === undefined || leader === null) return [];
    return [...leader.peers].map(([node, progress]) => ({ node, mode: progress.mode, matchSeq: progress.matchSeq }));
  }

  /**
   * How far behind the peers of the partitions this node leads are, summed per peer over those
   * partitions (metrics): `entries` = local lastSeq − the peer's durably acknowledged matchSeq (a
   * peer still probing or receiving a snapshot counts from its last acknowledged position), and
   * `bytesInFlight` = bytes of log entries sent to it and not yet acknowledged (at most
   * inflightBytesMax per partition). Peers sorted by id; every peer of a led partition is listed,
   * caught up or not.
   */
  replicationLag(): Array<{ peer: string; entries: number; bytesInFlight: number }> {
    const byPeer = new Map<string, { peer: string; entries: number; bytesInFlight: number }>();
    for (const runtime of this.partitions.values()) {
      const leader = runtime.leader;
      if (leader === null) continue;
      const lastSeq = this.log.lastSeq(runtime.partition);
      for (const [peer, progress] of leader.peers) {
        let lag = byPeer.get(peer);
        if (lag === undefined) byPeer.set(peer, (lag = { peer, entries: 0, bytesInFlight: 0 }));
        lag.entries += Math.max(0, lastSeq - progress.matchSeq);
        lag.bytesInFlight += progress.inflightBytes;
      }
    }
    return [...byPeer.values()].sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0));
  }

  /** Peers this node has a link to, as the edge reported (diagnostics). */
  connectedPeers(): string[] {
    return [...this.connected].sort();
  }

  /** What this node knows of a partition's primary, and its own takeover in flight (diagnostics). */
  followerState(partition: number): { knownTerm: number; knownPrimary: string | null; takeover: Proposal | null; role: string } | null {
    const runtime = this.partitions.get(partition);
    if (runtime === undefined) return null;
    return { knownTerm: runtime.knownTerm, knownPrimary: runtime.knownPrimary, takeover: runtime.takeover?.proposal ?? null, role: runtime.role };
  }

  /** Partitions this node leads that are moving, with each learner's mode and position (progress). */
  movesLed(): Array<{ partition: number; lastSeq: number; handingOff: boolean; learners: Array<{ node: string; mode: string; matchSeq: number }> }> {
    const moves = [];
    for (const runtime of this.partitions.values()) {
      const leader = runtime.leader;
      const assignment = runtime.assignment;
      if (leader === null || assignment?.target === undefined) continue;
      const learners = assignment.target
        .filter((node) => node !== this.nodeId && !assignment.isr.includes(node))
        .map((node) => {
          const progress = leader.peers.get(node);
          return { node, mode: progress?.mode ?? 'probe', matchSeq: progress?.matchSeq ?? 0 };
        });
      moves.push({ partition: runtime.partition, lastSeq: this.log.lastSeq(runtime.partition), handingOff: leader.handoff !== null, learners });
    }
    return moves;
  }

  currentMap(): ClusterMap | null {
    return this.map;
  }

  /** Everything the edge must do since the last call. */
  take(): Outputs {
    const out = this.out;
    this.out = emptyOutputs();
    this.queuedAcks.clear();
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Map changes

  private runtime(partition: number, nowMs: number): PartitionRuntime {
    let runtime = this.partitions.get(partition);
    if (runtime === undefined) {
      runtime = {
        partition,
        assignment: null,
        role: 'none',
        leader: null,
        // A restarted node knows at least the terms in its own log: it never accepts an older primary.
        knownTerm: this.log.lastTerm(partition),
        knownPrimary: null,
        lastHeardMs: nowMs,
        appliedSeq: 0,
        appliedTerm: 0,
        positionKnown: false,
        reportedDurableSeq: 0,
        ackDue: false,
        takeover: null,
        proposals: new Map(),
        isrOfflineSinceMs: null,
        grantedTerm: 0,
        learnerSinceMs: null,
        movePositionReported: null,
      };
      this.partitions.set(partition, runtime);
    }
    return runtime;
  }

  private applyAssignment(runtime: PartitionRuntime, assignment: PartitionAssignment, nowMs: number): void {
    const previous = runtime.assignment;
    runtime.assignment = assignment;
    const primaryChanged = previous === null || previous.primary !== assignment.primary || previous.term !== assignment.term;
    if (assignment.term > runtime.knownTerm || (assignment.term === runtime.knownTerm && runtime.knownPrimary === null)) {
      runtime.knownTerm = assignment.term;
      runtime.knownPrimary = assignment.primary;
    }
    if (primaryChanged) {
      // A new primary (or none): the promise window starts again from now.
      runtime.lastHeardMs = nowMs;
      if (runtime.takeover !== null) {
        const takeover = runtime.takeover.proposal;
        const expected = 'expectedTerm' in takeover ? takeover.expectedTerm : previous?.term ?? 0;
        if (assignment.primary === this.nodeId && assignment.term === expected + 1) {
          this.ownedTerms.set(runtime.partition, assignment.term);
        }
        if (assignment.term > expected) runtime.takeover = null;
      }
    }
    // A map version older than a term already heard of (from a peer, before the watch caught up)
    // names a primary that is no longer one: leading at its term again would serve without the
    // ISR members that a later version added, and propose a takeover doomed to fail.
    const learner = assignment.replicas.includes(this.nodeId) && !assignment.isr.includes(this.nodeId);
    if (!learner) runtime.learnerSinceMs = null;
    else runtime.learnerSinceMs ??= nowMs;
    const superseded = assignment.term < runtime.knownTerm;
    const leads = assignment.primary === this.nodeId && !assignment.lost && !superseded;
    if (leads && this.ownedTerms.get(runtime.partition) === assignment.term) {
      if (runtime.leader === null || runtime.leader.term !== assignment.term) this.becomeLeader(runtime, nowMs);
      else this.refreshLeaderPeers(runtime, nowMs);
      runtime.role = 'primary';
    } else {
      if (runtime.leader !== null) this.dropLeadership(runtime);
      runtime.role = assignment.replicas.includes(this.nodeId) ? 'backup' : 'none';
      if (leads) {
        // Primary in the map at a term this process did not create (e.g. after a restart): take a
        // fresh term first, so no (seq, term) pair is ever written twice.
        this.propose(runtime, { kind: 'promote', partition: runtime.partition, candidate: this.nodeId, expectedTerm: assignment.term }, nowMs, true);
      }
    }
    if (runtime.leader !== null) {
      // A proposed expansion is settled once the map shows it, or once the node is no longer a
      // replica (no later version can hold it in the ISR without a new expansion).
      for (const node of [...runtime.leader.pendingExpand]) {
        if (assignment.isr.includes(node) || !assignment.replicas.includes(node)) runtime.leader.pendingExpand.delete(node);
      }
      for (const node of [...runtime.leader.pendingShrink]) if (!assignment.isr.includes(node)) runtime.leader.pendingShrink.delete(node);
      this.advanceCommit(runtime);
    }
  }

  private becomeLeader(runtime: PartitionRuntime, nowMs: number): void {
    this.leadershipVersion++;
    const assignment = runtime.assignment!;
    const lastSeq = this.log.lastSeq(runtime.partition);
    runtime.leader = {
      term: assignment.term,
      readyFromSeq: lastSeq,
      committedSeq: 0,
      peers: new Map(),
      pendingExpand: new Set(),
      pendingShrink: new Set(),
      sinceMs: nowMs,
      handoff: null,
    };
    // Leases for the new term are asked for at once (the next tick), not at the next beacon round:
    // after a handoff, the new primary serves as soon as its ISR granted.
    this.lastBeaconMs = -Infinity;
    runtime.takeover = null;
    runtime.knownTerm = assignment.term;
    runtime.knownPrimary = this.nodeId;
    runtime.positionKnown = false;
    this.refreshLeaderPeers(runtime, nowMs);
    this.advanceCommit(runtime);
  }

  private refreshLeaderPeers(runtime: PartitionRuntime, nowMs: number): void {
    const leader = runtime.leader!;
    const replicas = runtime.assignment!.replicas.filter((node) => node !== this.nodeId);
    for (const node of [...leader.peers.keys()]) if (!replicas.includes(node)) leader.peers.delete(node);
    for (const node of replicas) {
      if (leader.peers.has(node)) continue;
      const progress: PeerProgress = {
        mode: 'probe',
        nextSeq: 0,
        prevTerm: 0,
        matchSeq: 0,
        acceptedSeq: 0,
        inflight: [],
        inflightBytes: 0,
        lastHeardMs: nowMs,
        leaseFromMs: -Infinity,
        modeSinceMs: nowMs,
        snapshotSentMs: null,
        peerMapVersion: 0,
        isrSinceMs: null,
      };
      leader.peers.set(node, progress);
      this.startProbe(runtime, node, progress, nowMs);
    }
  }

  private effectiveIsr(runtime: PartitionRuntime): string[] {
    const isr = runtime.assignment?.isr ?? [];
    const leader = runtime.leader;
    if (leader === null || leader.pendingExpand.size === 0) return isr;
    return [...new Set([...isr, ...leader.pendingExpand])];
  }

  // ---------------------------------------------------------------------------------------------
  // Primary

  private startProbe(runtime: PartitionRuntime, peer: string, progress: PeerProgress, nowMs: number): void {
    progress.mode = 'probe';
    progress.inflight = [];
    progress.inflightBytes = 0;
    progress.modeSinceMs = nowMs;
    this.send(peer, { type: 'probe', partition: runtime.partition, term: runtime.leader!.term });
  }

  private tickLeader(runtime: PartitionRuntime, nowMs: number): void {
    const leader = runtime.leader!;
    const assignment = runtime.assignment!;
    const config = this.config;
    const silent: string[] = [];
    for (const [peer, progress] of leader.peers) {
      if (progress.mode === 'probe' && nowMs - progress.modeSinceMs >= config.retransmitMs) {
        this.startProbe(runtime, peer, progress, nowMs);
      } else if (
        progress.mode === 'snapshot' &&
        (nowMs - progress.modeSinceMs >= config.snapshotTimeoutMs || (progress.snapshotSentMs !== null && nowMs - progress.snapshotSentMs >= config.snapshotAckTimeoutMs))
      ) {
        this.startProbe(runtime, peer, progress, nowMs);
      } else if (progress.mode === 'log') {
        // Entries not answered, or answered but never reported durable (a lost durability ack: an
        // idle partition would send nothing that brings another), make the primary ask again.
        const unanswered = progress.inflight.find((item) => item.seq > progress.acceptedSeq);
        const oldest = progress.inflight[0];
        if (
          (unanswered !== undefined && nowMs - unanswered.sentMs >= config.retransmitMs) ||
          (oldest !== undefined && nowMs - oldest.sentMs >= 2 * config.retransmitMs)
        ) {
          this.startProbe(runtime, peer, progress, nowMs);
        } else {
          this.sendEntries(runtime, peer, progress, nowMs);
        }
      }
      if (!assignment.isr.includes(peer) || leader.pendingShrink.has(peer)) continue;
      const oldestUnacked = progress.inflight[0]?.sentMs ?? Infinity;
      const behindSinceMs = progress.mode === 'log' ? oldestUnacked : progress.modeSinceMs;
      if (this.leaving.has(peer) || nowMs - progress.lastHeardMs >= config.isrTimeoutMs || nowMs - behindSinceMs >= config.isrTimeoutMs) {
        silent.push(peer);
      }
    }
    if (silent.length > 0) {
      for (const peer of silent) leader.pendingShrink.add(peer);
      this.propose(runtime, { kind: 'shrink-isr', partition: runtime.partition, primary: this.nodeId, term: leader.term, removed: silent }, nowMs);
    } else if (leader.pendingShrink.size > 0) {
      const removed = [...leader.pendingShrink].filter((peer) => assignment.isr.includes(peer));
      if (removed.length > 0) this.propose(runtime, { kind: 'shrink-isr', partition: runtime.partition, primary: this.nodeId, term: leader.term, removed }, nowMs);
    }
    for (const [peer, progress] of leader.peers) {
      const inIsr = assignment.isr.includes(peer) && !leader.pendingShrink.has(peer);
      if (!inIsr) progress.isrSinceMs = null;
      else progress.isrSinceMs ??= nowMs;
    }
    // An expansion whose result never came back (a lost CAS reply) is proposed again until the map
    // shows it or refuses it: meanwhile the member counts for commits and leases.
    // A baseline change since (a map this primary had not seen when it proposed) voids the proposal
    // until the peer reports its position from that map (the same fence as below).
    const rebalanceVersion = this.map?.rebalance?.version ?? 0;
    for (const peer of [...leader.pendingExpand]) {
      if (assignment.isr.includes(peer)) continue;
      const progress = leader.peers.get(peer);
      if (assignment.target !== undefined && progress !== undefined && progress.peerMapVersion < rebalanceVersion) {
        leader.pendingExpand.delete(peer);
        continue;
      }
      this.propose(runtime, { kind: 'expand-isr', partition: runtime.partition, primary: this.nodeId, term: leader.term, added: peer, rebalanceVersion }, nowMs);
    }
    // Caught-up replicas outside the ISR join it.
    const lastSeq = this.log.lastSeq(runtime.partition);
    for (const [peer, progress] of leader.peers) {
      if (assignment.isr.includes(peer) || leader.pendingShrink.has(peer)) continue;
      if (progress.mode !== 'log' || !this.connected.has(peer) || this.leaving.has(peer)) continue;
      // A node joining a moving partition may have held a copy it deleted when an earlier move
      // completed: its position counts only once reported from a map at least as new as the last
      // baseline change (it had seen, and acted on, every older version by then).
      if (assignment.target !== undefined && progress.peerMapVersion < rebalanceVersion) continue;
      // Only with a fresh lease from the peer: once in the ISR, the primary serves only with one.
      const leased = progress.leaseFromMs + config.leaseMs > nowMs;
      if (leased && progress.matchSeq >= lastSeq && progress.matchSeq >= leader.committedSeq && nowMs - progress.lastHeardMs < config.isrTimeoutMs) {
        leader.pendingExpand.add(peer);
        this.propose(runtime, { kind: 'expand-isr', partition: runtime.partition, primary: this.nodeId, term: leader.term, added: peer, rebalanceVersion }, nowMs);
      }
    }
    this.advanceCommit(runtime);
    this.tickPlacement(runtime, nowMs);
  }

  /**
   * Moves and primary placement: a moving partition whose target is all in the ISR completes its
   * move (its primary hands off first when it is not in the target), and a primary that is not the
   * preferred one hands off to it once it has been in the ISR for a while. A handoff in progress is
   * pushed on (the message is sent again until a new primary appears) or, after handoffTimeoutMs,
   * abandoned: this node then takes a new term itself.
   */
  private tickPlacement(runtime: PartitionRuntime, nowMs: number): void {
    const leader = runtime.leader!;
    const assignment = runtime.assignment!;
    const lastSeq = this.log.lastSeq(runtime.partition);
    const handoff = leader.handoff;
    if (handoff !== null) {
      if (nowMs - handoff.sinceMs >= this.config.handoffTimeoutMs) {
        if (runtime.takeover === null) {
          this.propose(runtime, { kind: 'promote', partition: runtime.partition, candidate: this.nodeId, expectedTerm: leader.term }, nowMs, true);
        } else {
          this.retryTakeover(runtime, nowMs);
        }
        return;
      }
      const progress = leader.peers.get(handoff.to);
      const ready = progress !== undefined && progress.mode === 'log' && progress.matchSeq >= lastSeq && leader.committedSeq >= lastSeq;
      if (ready && this.connected.has(handoff.to) && nowMs - handoff.lastSentMs >= this.config.beaconIntervalMs / 2) {
        handoff.lastSentMs = nowMs;
        this.send(handoff.to, { type: 'handoff', partition: runtime.partition, term: leader.term, seq: lastSeq });
      }
      return;
    }
    if (this.map?.state === 'INACTIVE' || leader.committedSeq < leader.readyFromSeq) return;
    const target = assignment.target;
    if (this.steppingDown) {
      // Target members first (a moving partition), then the ISR in replica order.
      const candidates = [...(target ?? []), ...assignment.replicas].filter((node) => node !== this.nodeId);
      const successor = candidates.find((node) => this.caughtUp(leader, node, lastSeq));
      if (successor !== undefined) this.startHandoff(leader, successor, nowMs);
      return;
    }
    if (target !== undefined) {
      if (!target.every((node) => assignment.isr.includes(node) && !leader.pendingShrink.has(node))) return;
      if (target.includes(this.nodeId)) {
        this.propose(runtime, { kind: 'complete-move', partition: runtime.partition, primary: this.nodeId, term: leader.term }, nowMs);
        return;
      }
      const successor = target.find((node) => this.caughtUp(leader, node, lastSeq));
      if (successor !== undefined) this.startHandoff(leader, successor, nowMs);
      return;
    }
    // Primaries are rebalanced only once no partition moves: during a rebalance the preferred nodes
    // are often the ones busy receiving copies, and a handoff to a busy node stalls the partition.
    if (this.rebalancing) return;
    const preferred = assignment.replicas[0];
    if (preferred === undefined || preferred === this.nodeId || !Number.isFinite(this.config.preferredLeaderDelayMs)) return;
    const since = leader.peers.get(preferred)?.isrSinceMs ?? null;
    const settled = since !== null && nowMs - since >= this.config.preferredLeaderDelayMs && nowMs - leader.sinceMs >= this.config.preferredLeaderDelayMs;
    if (settled && this.caughtUp(leader, preferred, lastSeq)) this.startHandoff(leader, preferred, nowMs);
  }

  private caughtUp(leader: LeaderState, node: string, lastSeq: number): boolean {
    const progress = leader.peers.get(node);
    return progress !== undefined && progress.mode === 'log' && progress.matchSeq >= lastSeq && this.connected.has(node) && !this.leaving.has(node) && progress.isrSinceMs !== null;
  }

  private startHandoff(leader: LeaderState, to: string, nowMs: number): void {
    leader.handoff = { to, sinceMs: nowMs, lastSentMs: -Infinity };
  }

  /** ISR member: the primary handed the partition to this node; take over now (by CAS). */
  private onHandoff(from: string, message: Extract<PeerMessage, { type: 'handoff' }>, nowMs: number): void {
    const runtime = this.partitions.get(message.partition);
    const assignment = runtime?.assignment;
    if (runtime === undefined || assignment === undefined || assignment === null || runtime.leader !== null || this.steppingDown) return;
    if (assignment.term !== message.term || assignment.primary !== from || !assignment.isr.includes(this.nodeId)) return;
    if (runtime.knownTerm !== message.term || runtime.knownPrimary !== from) return;
    this.ensurePosition(runtime);
    if (runtime.appliedSeq < message.seq || this.log.durableSeq(message.partition) < message.seq) return;
    this.propose(runtime, { kind: 'hand-over', partition: runtime.partition, from, candidate: this.nodeId, expectedTerm: message.term }, nowMs, true);
  }

  private sendEntries(runtime: PartitionRuntime, peer: string, progress: PeerProgress, nowMs: number): void {
    if (progress.mode !== 'log' || !this.connected.has(peer)) return;
    const leader = runtime.leader!;
    const config = this.config;
    const lastSeq = this.log.lastSeq(runtime.partition);
    while (progress.nextSeq <= lastSeq && progress.inflightBytes < config.inflightBytesMax) {
      const entries = this.log.read(runtime.partition, progress.nextSeq, config.appendEntriesMax, config.appendBytesMax);
      if (entries === null) {
        this.startSnapshot(runtime, peer, progress, nowMs);
        return;
      }
      if (entries.length === 0) return;
      this.send(peer, {
        type: 'append',
        partition: runtime.partition,
        term: leader.term,
        prevSeq: progress.nextSeq - 1,
        prevTerm: progress.prevTerm,
        entries,
        commitSeq: leader.committedSeq,
      });
      for (const entry of entries) {
        progress.inflight.push({ seq: entry.seq, bytes: entry.bytes, sentMs: nowMs });
        progress.inflightBytes += entry.bytes;
      }
      const last = entries[entries.length - 1]!;
      progress.nextSeq = last.seq + 1;
      progress.prevTerm = last.term;
    }
  }

  private startSnapshot(runtime: PartitionRuntime, peer: string, progress: PeerProgress, nowMs: number): void {
    progress.mode = 'snapshot';
    progress.snapshotSentMs = null;
    progress.inflight = [];
    progress.inflightBytes = 0;
    progress.modeSinceMs = nowMs;
    this.out.snapshots.push({ partition: runtime.partition, to: peer, term: runtime.leader!.term });
  }

  /** A backup's position (answer to a probe, or a refused append): continue by log or snapshot. */
  private alignPeer(runtime: PartitionRuntime, peer: string, progress: PeerProgress, lastSeq: number, lastTerm: number, durableSeq: number, nowMs: number): void {
    const partition = runtime.partition;
    // A peer outside the ISR whose copy went back (deleted when a map this primary missed moved the
    // partition away) no longer backs the expansion proposed when it was caught up: not proposed again.
    if (Math.min(durableSeq, lastSeq) < progress.matchSeq && runtime.assignment?.isr.includes(peer) !== true) runtime.leader?.pendingExpand.delete(peer);
    const ownLast = this.log.lastSeq(partition);
    const end = endOfTerm(this.log.epochs(partition), lastTerm, ownLast, this.log.lastTerm(partition));
    if (end === null || lastSeq > end) {
      // The peer holds entries this primary's log does not: it diverged; replace its copy.
      this.startSnapshot(runtime, peer, progress, nowMs);
      return;
    }
    progress.mode = 'log';
    progress.modeSinceMs = nowMs;
    progress.nextSeq = lastSeq + 1;
    progress.prevTerm = lastTerm;
    progress.matchSeq = Math.min(durableSeq, lastSeq);
    progress.acceptedSeq = lastSeq;
    progress.inflight = [];
    progress.inflightBytes = 0;
    const emptyPeer = lastSeq === 0 && ownLast > this.config.snapshotEmptyPeerEntries;
    if (emptyPeer || (lastSeq < ownLast && this.log.read(partition, lastSeq + 1, 1, 1) === null)) {
      this.startSnapshot(runtime, peer, progress, nowMs);
      return;
    }
    this.sendEntries(runtime, peer, progress, nowMs);
    this.advanceCommit(runtime);
  }

  private onAck(from: string, message: Extract<PeerMessage, { type: 'ack' }>, nowMs: number): void {
    const runtime = this.partitions.get(message.partition);
    if (runtime === undefined) return;
    if (this.noteTerm(runtime, message.term, null)) return;
    const leader = runtime.leader;
    if (leader === null || message.term !== leader.term) return;
    const progress = leader.peers.get(from);
    if (progress === undefined) return;
    progress.lastHeardMs = nowMs;
    progress.peerMapVersion = Math.max(progress.peerMapVersion, message.mapVersion);
    if (!message.ok) {
      if (progress.mode !== 'snapshot') {
        this.alignPeer(runtime, from, progress, message.lastSeq, message.lastTerm, message.durableSeq, nowMs);
      }
      return;
    }
    if (progress.mode !== 'log') return;
    const ceiling = progress.nextSeq - 1;
    if (message.lastSeq > progress.acceptedSeq) progress.acceptedSeq = Math.min(message.lastSeq, ceiling);
    if (message.durableSeq > progress.matchSeq) progress.matchSeq = Math.min(message.durableSeq, ceiling);
    while (progress.inflight.length > 0 && progress.inflight[0]!.seq <= progress.matchSeq) {
      progress.inflightBytes -= progress.inflight.shift()!.bytes;
    }
    this.advanceCommit(runtime);
    this.sendEntries(runtime, from, progress, nowMs);
  }

  private onSnapshotDone(from: string, message: Extract<PeerMessage, { type: 'snapshot-done' }>, nowMs: number): void {
    const runtime = this.partitions.get(message.partition);
    const leader = runtime?.leader;
    if (runtime === undefined || leader === undefined || leader === null || message.term !== leader.term) return;
    const progress = leader.peers.get(from);
    if (progress === undefined) return;
    progress.lastHeardMs = nowMs;
    progress.peerMapVersion = Math.max(progress.peerMapVersion, message.mapVersion);
    this.alignPeer(runtime, from, progress, message.seq, message.lastTerm, message.seq, nowMs);
  }

  private advanceCommit(runtime: PartitionRuntime): void {
    const leader = runtime.leader;
    const map = this.map;
    if (leader === null || map === null) return;
    let committed = this.log.durableSeq(runtime.partition);
    if (map.writeSynchronization === 'FULL_SYNC') {
      for (const member of this.effectiveIsr(runtime)) {
        if (member === this.nodeId) continue;
        const progress = leader.peers.get(member);
        committed = Math.min(committed, progress === undefined || progress.mode !== 'log' ? 0 : progress.matchSeq);
      }
    }
    if (committed > leader.committedSeq) {
      leader.committedSeq = committed;
      this.out.committed.push({ partition: runtime.partition, committedSeq: committed });
    }
  }

  private sendBeacons(nowMs: number): void {
    this.lastBeaconMs = nowMs;
    const byPeer = new Map<string, Array<{ partition: number; term: number }>>();
    for (const runtime of this.partitions.values()) {
      const leader = runtime.leader;
      if (leader === null) continue;
      // Replicas outside the ISR get beacons too: a lease they granted is already in place when
      // they join the ISR, so the expansion does not leave the primary without a lease.
      for (const member of new Set([...this.effectiveIsr(runtime), ...leader.peers.keys()])) {
        if (member === this.nodeId) continue;
        let list = byPeer.get(member);
        if (list === undefined) byPeer.set(member, (list = []));
        list.push({ partition: runtime.partition, term: leader.term });
      }
    }
    if (byPeer.size === 0) return;
    const id = this.nextBeaconId++;
    this.beaconsSent.set(id, nowMs);
    for (const [beaconId, sentMs] of this.beaconsSent) {
      if (nowMs - sentMs > this.config.leaseMs * 4) this.beaconsSent.delete(beaconId);
    }
    for (const [peer, partitions] of byPeer) {
      if (this.connected.has(peer)) this.send(peer, { type: 'beacon', id, partitions });
    }
  }

  private onGrant(from: string, message: Extract<PeerMessage, { type: 'grant' }>, nowMs: number): void {
    const sentMs = this.beaconsSent.get(message.id);
    for (const item of message.partitions) {
      const runtime = this.partitions.get(item.partition);
      if (runtime === undefined) continue;
      if (this.noteTerm(runtime, item.term, null)) continue;
      const progress = runtime.leader?.peers.get(from);
      if (progress === undefined || runtime.leader!.term !== item.term) continue;
      progress.lastHeardMs = nowMs;
      if (item.granted && sentMs !== undefined && sentMs > progress.leaseFromMs) progress.leaseFromMs = sentMs;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Backup

  /** Records a term heard in a message; true when it shows this node's leadership is over. */
  private noteTerm(runtime: PartitionRuntime, term: number, primary: string | null): boolean {
    if (term <= runtime.knownTerm) return false;
    runtime.knownTerm = term;
    runtime.knownPrimary = primary;
    if (runtime.leader !== null) {
      this.dropLeadership(runtime);
      runtime.role = 'backup';
      return true;
    }
    return false;
  }

  /** Leadership ends: the local log moved while leading, so the backup position is re-read. */
  private dropLeadership(runtime: PartitionRuntime): void {
    this.leadershipVersion++;
    runtime.leader = null;
    runtime.positionKnown = false;
    runtime.reportedDurableSeq = 0;
  }

  /**
   * Whether `from` is the primary of the partition at `term` as far as this node knows. Never before
   * this process has a map: a restarted node has forgotten the terms it heard of and the leases it
   * granted, and a deposed primary (cut off, still at its old term) would otherwise get a lease
   * from it, or overwrite a newer copy with an older one (found by the fault campaign, seed 219).
   */
  private acceptsPrimary(runtime: PartitionRuntime, from: string, term: number): boolean {
    if (this.map === null) return false;
    if (runtime.leader !== null && term <= runtime.leader.term) return false;
    if (term > runtime.knownTerm) {
      this.noteTerm(runtime, term, from);
      runtime.knownPrimary = from;
      return true;
    }
    return term === runtime.knownTerm && runtime.knownPrimary === from;
  }

  private onBeacon(from: string, message: Extract<PeerMessage, { type: 'beacon' }>, nowMs: number): void {
    const partitions = message.partitions.map(({ partition, term }) => {
      const runtime = this.runtime(partition, nowMs);
      // While this node asks to take over, it must not extend anyone's lease.
      const granted = runtime.takeover === null && this.acceptsPrimary(runtime, from, term) && !this.holdsBackGrant(runtime, term, nowMs);
      if (granted) {
        runtime.lastHeardMs = nowMs;
        runtime.grantedTerm = term;
      }
      return { partition, term: Math.max(term, runtime.knownTerm), granted };
    });
    this.send(from, { type: 'grant', id: message.id, partitions });
  }

  /**
   * A busy learner withholds its first grant at a term (so the primary does not admit it to the ISR
   * yet), for at most learnerHoldMs. Refusing a grant is always safe; once it granted at a term it
   * keeps granting, so a primary that already counts it (a pending expansion) keeps its lease.
   */
  private holdsBackGrant(runtime: PartitionRuntime, term: number, nowMs: number): boolean {
    if (!this.catchUpBusy || runtime.grantedTerm === term || runtime.learnerSinceMs === null) return false;
    return nowMs - runtime.learnerSinceMs < this.config.learnerHoldMs;
  }

  private ensurePosition(runtime: PartitionRuntime): void {
    if (runtime.positionKnown) return;
    runtime.appliedSeq = this.log.lastSeq(runtime.partition);
    runtime.appliedTerm = this.log.lastTerm(runtime.partition);
    runtime.positionKnown = true;
  }

  /**
   * Whether this node's map lists it as a replica of the partition (true before it has a map). A
   * node that is not one takes no entries or snapshots: after a move completed it deleted its copy,
   * and a primary that has not seen that map version yet must not fill it again.
   */
  holdsReplica(partition: number): boolean {
    const assignment = this.partitions.get(partition)?.assignment ?? null;
    return assignment === null || assignment.replicas.includes(this.nodeId);
  }

  /**
   * Whether the edge may install a snapshot of `partition` streamed by `from` at `term`: this node
   * holds a replica of it, does not lead it, and `from` is its primary at a term not older than any
   * it heard of. A stale stream (its sender lost the partition while it was on the wire) must not
   * replace a newer copy.
   */
  acceptsSnapshot(partition: number, from: string, term: number): boolean {
    if (this.map === null || !this.holdsReplica(partition)) return false;
    const runtime = this.partitions.get(partition);
    if (runtime === undefined) return true;
    if (runtime.leader !== null) return false;
    return term > runtime.knownTerm || (term === runtime.knownTerm && (runtime.knownPrimary === from || runtime.knownPrimary === null));
  }

  private onProbe(from: string, message: Extract<PeerMessage, { type: 'probe' }>, nowMs: number): void {
    if (!this.holdsReplica(message.partition)) return;
    const runtime = this.runtime(message.partition, nowMs);
    if (!this.acceptsPrimary(runtime, from, message.term)) {
      this.send(from, this.refusal(runtime, runtime.knownTerm));
      return;
    }
    if (runtime.takeover === null) runtime.lastHeardMs = nowMs;
    this.ensurePosition(runtime);
    this.send(from, this.refusal(runtime, message.term));
  }

  private refusal(runtime: PartitionRuntime, term: number): PeerMessage {
    this.ensurePosition(runtime);
    return {
      type: 'ack',
      mapVersion: this.map?.version ?? 0,
      partition: runtime.partition,
      term,
      durableSeq: Math.min(this.log.durableSeq(runtime.partition), runtime.appliedSeq),
      ok: false,
      lastSeq: runtime.appliedSeq,
      lastTerm: runtime.appliedTerm,
    };
  }

  private onAppend(from: string, message: Extract<PeerMessage, { type: 'append' }>, nowMs: number): void {
    if (!this.holdsReplica(message.partition)) return;
    const runtime = this.runtime(message.partition, nowMs);
    if (!this.acceptsPrimary(runtime, from, message.term)) {
      this.send(from, this.refusal(runtime, runtime.knownTerm));
      return;
    }
    if (runtime.takeover === null) runtime.lastHeardMs = nowMs;
    this.ensurePosition(runtime);
    if (message.prevSeq !== runtime.appliedSeq || message.prevTerm !== runtime.appliedTerm) {
      this.send(from, this.refusal(runtime, message.term));
      return;
    }
    if (message.entries.length > 0) {
      const last = message.entries[message.entries.length - 1]!;
      runtime.appliedSeq = last.seq;
      runtime.appliedTerm = last.term;
      this.out.apply.push({ partition: message.partition, entries: message.entries });
    }
    // The ack leaves once the entries are durable here (onLocalDurable), or at the next tick as a
    // sign of life when durability takes longer.
    runtime.ackDue = true;
    this.reportDurable(runtime, nowMs);
  }

  private reportDurable(runtime: PartitionRuntime, nowMs: number, always = false): void {
    const primary = runtime.knownPrimary;
    if (primary === null || primary === this.nodeId || runtime.leader !== null) return;
    this.ensurePosition(runtime);
    const durable = Math.min(this.log.durableSeq(runtime.partition), runtime.appliedSeq);
    if (!always && durable <= runtime.reportedDurableSeq) return;
    runtime.reportedDurableSeq = durable;
    runtime.ackDue = false;
    // One ack per partition per batch of outputs: a newer ack replaces one not yet sent.
    const queued = this.queuedAcks.get(runtime.partition);
    if (queued !== undefined && queued.to === primary && queued.message.term === runtime.knownTerm) {
      queued.message.durableSeq = durable;
      queued.message.lastSeq = runtime.appliedSeq;
      queued.message.lastTerm = runtime.appliedTerm;
      return;
    }
    const message = {
      type: 'ack' as const,
      mapVersion: this.map?.version ?? 0,
      partition: runtime.partition,
      term: runtime.knownTerm,
      durableSeq: durable,
      ok: true,
      lastSeq: runtime.appliedSeq,
      lastTerm: runtime.appliedTerm,
    };
    this.queuedAcks.set(runtime.partition, { to: primary, message });
    this.send(primary, message);
    void nowMs;
  }

  private tickFollower(runtime: PartitionRuntime, nowMs: number): void {
    if (runtime.ackDue) this.reportDurable(runtime, nowMs, true);
    const map = this.map;
    const assignment = runtime.assignment;
    if (map === null || assignment === null || map.state === 'INACTIVE') return;
    if (runtime.takeover !== null) {
      this.retryTakeover(runtime, nowMs);
      return;
    }
    if (!assignment.isr.includes(this.nodeId)) {
      this.reportMovePosition(runtime, map, assignment);
      this.tickLostDetection(runtime, assignment, nowMs);
      return;
    }
    // A node on its way out takes nothing over (its peers do; it would only hand it off again).
    if (this.steppingDown) return;
    const rank = Math.max(0, assignment.isr.filter((node) => node !== assignment.primary).indexOf(this.nodeId));
    const delay = this.config.failoverDelayMs + rank * this.config.failoverStaggerMs;
    if (nowMs - runtime.lastHeardMs < delay) return;
    if (assignment.lost) {
      this.propose(runtime, { kind: 'restore-lost', partition: runtime.partition, candidate: this.nodeId }, nowMs, true);
    } else if (assignment.primary !== this.nodeId) {
      this.propose(runtime, { kind: 'promote', partition: runtime.partition, candidate: this.nodeId, expectedTerm: assignment.term }, nowMs, true);
    }
  }

  /**
   * A node outside the ISR marks the partition lost once no ISR member has been online for the
   * failover delay (ISR members take over themselves instead). Presence comes from the store.
   */
  private tickLostDetection(runtime: PartitionRuntime, assignment: PartitionAssignment, nowMs: number): void {
    if (assignment.lost || this.online.size === 0) {
      runtime.isrOfflineSinceMs = null;
      return;
    }
    if (assignment.isr.some((node) => this.online.has(node))) {
      runtime.isrOfflineSinceMs = null;
      return;
    }
    runtime.isrOfflineSinceMs ??= nowMs;
    if (nowMs - runtime.isrOfflineSinceMs >= this.config.failoverDelayMs) {
      this.propose(runtime, { kind: 'mark-lost', partition: runtime.partition }, nowMs);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Plumbing

  private propose(runtime: PartitionRuntime, proposal: Proposal, nowMs: number, takeover = false): void {
    if (takeover) {
      if (runtime.takeover !== null) return;
      runtime.takeover = { proposal, sinceMs: nowMs };
      this.out.proposals.push(proposal);
      return;
    }
    const key = proposalKey(proposal);
    const last = runtime.proposals.get(key);
    if (last !== undefined && nowMs - last < this.config.proposalRetryMs) return;
    runtime.proposals.set(key, nowMs);
    this.out.proposals.push(proposal);
  }

  /** A takeover whose result never came (the store was unreachable) is proposed again. */
  private retryTakeover(runtime: PartitionRuntime, nowMs: number): void {
    if (runtime.takeover !== null && nowMs - runtime.takeover.sinceMs >= this.config.proposalRetryMs) this.reemit(runtime, runtime.takeover.proposal, nowMs);
  }

  /**
   * A learner of a moving partition reports its position to the primary once per baseline change
   * (and primary and term), from a map at least that new: the primary counts a learner's position
   * only when so reported (tickLeader), and an idle partition sends it no entries, so no ack would
   * carry it. The report is a refusal (ok: false): the primary realigns from it, so a copy this
   * node deleted after an earlier report is never counted at its old position. (The edge deletes a
   * copy before it hands the core the map that placed the partition here again.)
   */
  private reportMovePosition(runtime: PartitionRuntime, map: ClusterMap, assignment: PartitionAssignment): void {
    const primary = runtime.knownPrimary;
    if (assignment.target === undefined || runtime.leader !== null || primary === null || primary === this.nodeId) return;
    if (!assignment.replicas.includes(this.nodeId)) return;
    const key = `${map.rebalance?.version ?? 0}/${primary}/${runtime.knownTerm}`;
    if (runtime.movePositionReported === key) return;
    runtime.movePositionReported = key;
    this.send(primary, this.refusal(runtime, runtime.knownTerm));
  }

  private reemit(runtime: PartitionRuntime, proposal: Proposal, nowMs: number): void {
    if (runtime.takeover !== null) runtime.takeover.sinceMs = nowMs;
    this.out.proposals.push(proposal);
  }

  private send(to: string, message: PeerMessage): void {
    if (to === this.nodeId) return;
    this.out.messages.push({ to, message });
  }
}

function proposalKey(proposal: Proposal): string {
  switch (proposal.kind) {
    case 'promote':
      return `promote/${proposal.partition}/${proposal.candidate}/${proposal.expectedTerm}`;
    case 'restore-lost':
      return `restore/${proposal.partition}/${proposal.candidate}`;
    case 'mark-lost':
      return `lost/${proposal.partition}`;
    case 'shrink-isr':
      return `shrink/${proposal.partition}/${proposal.term}/${[...proposal.removed].sort().join(',')}`;
    case 'expand-isr':
      return `expand/${proposal.partition}/${proposal.term}/${proposal.added}`;
    case 'complete-move':
      return `move/${proposal.partition}/${proposal.term}`;
    case 'hand-over':
      return `handover/${proposal.partition}/${proposal.candidate}/${proposal.expectedTerm}`;
  }
}

/**
 * The last seq this node's log holds in `term` (from its epochs), or null when the term does not
 * appear in its log at all. Term 0 is the empty log: it ends at seq 0.
 */
export function endOfTerm(
  epochs: ReadonlyArray<{ term: number; startSeq: number }>,
  term: number,
  lastSeq: number,
  lastTerm: number,
): number | null {
  if (term === 0) return 0;
  if (term === lastTerm) return lastSeq;
  for (let i = 0; i < epochs.length; i++) {
    if (epochs[i]!.term !== term) continue;
    const next = epochs[i + 1];
    return next === undefined ? lastSeq : next.startSeq - 1;
  }
  return null;
}
