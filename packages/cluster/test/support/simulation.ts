/**
 * A deterministic simulation of a Ballast cluster in one process: seeded clock, network, store and
 * faults, real ReplicationCore instances, a model of the node edge (log, fsync, proposals by CAS,
 * client requests). Everything derives from the seed, so a failing seed replays exactly.
 *
 * Invariants checked while it runs (a violation throws with the seed and the event log tail):
 * - LEASE: at any instant at most one node can serve a partition.
 * - TERM: one node (and one process incarnation) leads a partition at a given term.
 * - ISR (FULL_SYNC): every acknowledged write is durable on every member of the stored ISR.
 * - READ: a read returns a value at least as new as every write acknowledged before it started
 *   (single writer per key, increasing values), and only values that were written.
 * - FINAL: after faults stop and everything heals, every partition serves again and every key
 *   reads back its last acknowledged value or a later one.
 */
import {
  activate,
  applyProposals,
  MapTransitionError,
  setBaseline,
  createMap,
  keyHashSlot,
  partitionOfSlot,
  ReplicationCore,
  type ClusterMap,
  type Epoch,
  type LocalLog,
  type LogEntry,
  type NodeAddress,
  type PeerMessage,
  type Proposal,
  type ReplicationConfig,
  type WriteSynchronization,
} from '../../src/index.js';
import { seededRandom } from '@ballast/testkit';

export interface SimulationOptions {
  seed: number;
  nodes: number;
  partitions: number;
  backups: number;
  writeSynchronization: WriteSynchronization;
  /** Simulated time with faults, then a heal-and-settle phase. */
  faultPhaseMs: number;
  settleMs: number;
  clients: number;
  keysPerClient: number;
  /** Fault intensities: events per simulated second, and the drop rate of single messages. */
  faultsPerSecond: number;
  messageLossRate: number;
  /** Entries a node keeps in its log window before folding them into its base (forces snapshots). */
  logWindow: number;
  /** Nodes in the first activation's baseline (the rest start as spares); default: all. */
  initialBaseline?: number;
  /** Baseline changes (random subsets of the nodes) during the fault phase; they move partitions. */
  baselineChanges: number;
  /**
   * A rolling restart during the fault phase: every node in turn steps down (hands its partitions
   * off), stops once it leads nothing, and comes back; the next one goes once every partition has
   * its full ISR again (as the operator gates a roll).
   */
  rollingRestart?: boolean;
  /** Share of random faults that are graceful restarts (step down, then stop) instead of crashes. */
  gracefulRestartShare?: number;
  /** Simulated time at which clients stop (default: 3 s before the end); later moves find idle partitions. */
  clientsStopAtMs?: number;
  replication?: Partial<ReplicationConfig>;
}

export const SIMULATION_DEFAULTS: Omit<SimulationOptions, 'seed'> = {
  nodes: 3,
  partitions: 4,
  backups: 1,
  writeSynchronization: 'FULL_SYNC',
  faultPhaseMs: 15_000,
  settleMs: 12_000,
  clients: 3,
  keysPerClient: 4,
  faultsPerSecond: 1,
  messageLossRate: 0.002,
  logWindow: 200,
  baselineChanges: 0,
};

export interface SimulationReport {
  seed: number;
  acknowledgedWrites: number;
  reads: number;
  failovers: number;
  snapshots: number;
  /** Baseline changes stored, moves completed (partitions whose move finished), graceful handoffs. */
  baselineChanges: number;
  movesCompleted: number;
  handoffs: number;
  /** Nodes that stopped after stepping down, and how many of them still led a partition then. */
  gracefulStops: number;
  gracefulStopsLeading: number;
  faults: string[];
  /** Acknowledged writes lost (PRIMARY_SYNC only; FULL_SYNC throws instead). */
  lostWrites: number;
}

/** After the settle phase, how long the simulation may run on until every partition is served. */
const FINAL_GRACE_MS = 2000;

/** BALLAST_SIM_TRACE=<regex>: print matching events as they happen (debugging one seed). */
const TRACE_FILTER = process.env.BALLAST_SIM_TRACE === undefined ? null : new RegExp(process.env.BALLAST_SIM_TRACE);

export class InvariantViolation extends Error {
  constructor(message: string, readonly seed: number, readonly trace: string[]) {
    super(`${message}\n(seed ${seed}; last events:\n  ${trace.slice(-(process.env.BALLAST_SIM_VERBOSE === '1' ? 400 : 40)).join('\n  ')})`);
    this.name = 'InvariantViolation';
  }
}

// -----------------------------------------------------------------------------------------------
// Event queue: a binary heap ordered by time, then insertion order.

class EventQueue {
  private heap: Array<{ time: number; order: number; run: () => void }> = [];
  private order = 0;
  push(time: number, run: () => void): void {
    const item = { time, order: this.order++, run };
    const heap = this.heap;
    heap.push(item);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (less(heap[parent]!, heap[index]!)) break;
      [heap[parent], heap[index]] = [heap[index]!, heap[parent]!];
      index = parent;
    }
  }
  pop(): { time: number; run: () => void } | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let index = 0;
      while (true) {
        const left = index * 2 + 1;
        const right = left + 1;
        let smallest = index;
        if (left < heap.length && less(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && less(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === index) break;
        [heap[smallest], heap[index]] = [heap[index]!, heap[smallest]!];
        index = smallest;
      }
    }
    return top;
  }
  peekTime(): number {
    return this.heap[0]?.time ?? Infinity;
  }
}

function less(a: { time: number; order: number }, b: { time: number; order: number }): boolean {
  return a.time < b.time || (a.time === b.time && a.order < b.order);
}

// -----------------------------------------------------------------------------------------------
// A node's storage: a base state (folded entries) plus a window of entries, durable up to a point.

interface Write {
  key: string;
  value: number;
}

interface PartitionLog {
  base: Map<string, number>;
  baseSeq: number;
  baseTerm: number;
  entries: LogEntry[];
  durableSeq: number;
  epochs: Epoch[];
  /** Term of every seq this copy holds (base included), for the ISR invariant. */
  terms: Map<number, number>;
}

class SimLog implements LocalLog {
  private readonly partitions = new Map<number, PartitionLog>();
  constructor(private readonly window: number) {}

  private part(partition: number): PartitionLog {
    let log = this.partitions.get(partition);
    if (log === undefined) {
      log = { base: new Map(), baseSeq: 0, baseTerm: 0, entries: [], durableSeq: 0, epochs: [], terms: new Map() };
      this.partitions.set(partition, log);
    }
    return log;
  }

  lastSeq(partition: number): number {
    const log = this.part(partition);
    return log.entries.at(-1)?.seq ?? log.baseSeq;
  }
  lastTerm(partition: number): number {
    const log = this.part(partition);
    return log.entries.at(-1)?.term ?? log.baseTerm;
  }
  durableSeq(partition: number): number {
    return this.part(partition).durableSeq;
  }
  epochs(partition: number): readonly Epoch[] {
    return this.part(partition).epochs;
  }
  read(partition: number, fromSeq: number, maxEntries: number): LogEntry[] | null {
    const log = this.part(partition);
    if (fromSeq <= log.baseSeq) return null;
    const start = log.entries.findIndex((entry) => entry.seq >= fromSeq);
    if (start < 0) return [];
    return log.entries.slice(start, start + maxEntries);
  }

  termAt(partition: number, seq: number): number | undefined {
    return this.part(partition).terms.get(seq);
  }

  append(partition: number, entries: readonly LogEntry[]): void {
    const log = this.part(partition);
    for (const entry of entries) {
      const expected = this.lastSeq(partition) + 1;
      if (entry.seq !== expected) throw new Error(`append of seq ${entry.seq} to partition ${partition} at ${expected - 1}`);
      if (entry.term !== this.lastTerm(partition) || log.epochs.length === 0) {
        if (log.epochs.at(-1)?.term !== entry.term) log.epochs.push({ term: entry.term, startSeq: entry.seq });
      }
      log.entries.push(entry);
      log.terms.set(entry.seq, entry.term);
    }
  }

  makeDurable(partition: number, seq: number): boolean {
    const log = this.part(partition);
    const target = Math.min(seq, this.lastSeq(partition));
    if (target <= log.durableSeq) return false;
    log.durableSeq = target;
    // Fold durable entries beyond the window into the base.
    while (log.entries.length > this.window && log.entries[0]!.seq <= log.durableSeq) {
      const entry = log.entries.shift()!;
      const write = entry.payload as Write;
      log.base.set(write.key, write.value);
      log.baseSeq = entry.seq;
      log.baseTerm = entry.term;
    }
    return true;
  }

  /** Process crash: everything not durable is gone. */
  crash(): void {
    for (const log of this.partitions.values()) {
      log.entries = log.entries.filter((entry) => entry.seq <= log.durableSeq);
      for (const seq of [...log.terms.keys()]) if (seq > log.durableSeq) log.terms.delete(seq);
      log.epochs = log.epochs.filter((epoch) => epoch.startSeq <= log.durableSeq);
    }
  }

  /** The newest value of a key, with the seq of the entry that wrote it. */
  valueOf(partition: number, key: string): { value: number; seq: number } {
    const log = this.part(partition);
    for (let i = log.entries.length - 1; i >= 0; i--) {
      const write = log.entries[i]!.payload as Write;
      if (write.key === key) return { value: write.value, seq: log.entries[i]!.seq };
    }
    return { value: log.base.get(key) ?? 0, seq: log.baseSeq };
  }

  /** A snapshot of the durable state, as LMDB's committed state would give. */
  snapshot(partition: number): PartitionLog {
    const log = this.part(partition);
    const base = new Map(log.base);
    let baseSeq = log.baseSeq;
    let baseTerm = log.baseTerm;
    for (const entry of log.entries) {
      if (entry.seq > log.durableSeq) break;
      const write = entry.payload as Write;
      base.set(write.key, write.value);
      baseSeq = entry.seq;
      baseTerm = entry.term;
    }
    const terms = new Map([...log.terms].filter(([seq]) => seq <= baseSeq));
    const epochs = log.epochs.filter((epoch) => epoch.startSeq <= baseSeq).map((epoch) => ({ ...epoch }));
    return { base, baseSeq, baseTerm, entries: [], durableSeq: baseSeq, epochs, terms };
  }

  clear(partition: number): void {
    this.partitions.delete(partition);
  }

  install(partition: number, snapshot: PartitionLog): void {
    this.partitions.set(partition, {
      ...snapshot,
      base: new Map(snapshot.base),
      terms: new Map(snapshot.terms),
      epochs: snapshot.epochs.map((epoch) => ({ ...epoch })),
      entries: [],
    });
  }
}

// -----------------------------------------------------------------------------------------------

interface PendingReply {
  partition: number;
  term: number;
  seq: number;
  incarnation: number;
  done: (result: 'ok' | 'failed') => void;
}

class SimNode {
  up = true;
  incarnation = 0;
  pausedUntil = 0;
  storeReachable = true;
  core: ReplicationCore | null = null;
  mapVersionSeen = 0;
  pending: PendingReply[] = [];
  /** Snapshot streams on their way to this node (it is busy catching up while any is). */
  incomingSnapshots = 0;
  proposalQueue: Proposal[] = [];
  casBusy = false;
  readonly log: SimLog;
  constructor(
    readonly id: string,
    readonly clockRate: number,
    readonly clockOffset: number,
    window: number,
  ) {
    this.log = new SimLog(window);
  }
  localNow(now: number): number {
    return Math.floor(now * this.clockRate + this.clockOffset);
  }
}

interface AckedWrite {
  key: string;
  value: number;
  partition: number;
  seq: number;
  term: number;
  atMs: number;
}

export class Simulation {
  private readonly random: () => number;
  private readonly queue = new EventQueue();
  private now = 0;
  private readonly nodes: SimNode[] = [];
  private readonly linkUp = new Map<string, boolean>();
  private readonly lastDelivery = new Map<string, number>();
  private storeMap: ClusterMap;
  private readonly trace: string[] = [];
  private readonly acked: AckedWrite[] = [];
  /** Per key: every acknowledged value with its time, and the highest value ever sent. */
  private readonly ackedByKey = new Map<string, Array<{ value: number; atMs: number }>>();
  private readonly writtenMax = new Map<string, number>();
  private readonly leaders = new Map<string, string>();
  private readonly report: SimulationReport;
  private faultsActive = true;
  private readonly options: SimulationOptions;
  private readonly addresses: Record<string, NodeAddress>;
  /** Trace every acknowledgement and read (for debugging one seed: BALLAST_SIM_VERBOSE=1). */
  private readonly verbose = process.env.BALLAST_SIM_VERBOSE === '1';

  constructor(options: Partial<SimulationOptions> & { seed: number }) {
    this.options = { ...SIMULATION_DEFAULTS, ...options };
    this.random = seededRandom(this.options.seed);
    this.report = {
      seed: this.options.seed,
      acknowledgedWrites: 0,
      reads: 0,
      failovers: 0,
      snapshots: 0,
      baselineChanges: 0,
      movesCompleted: 0,
      handoffs: 0,
      gracefulStops: 0,
      gracefulStopsLeading: 0,
      faults: [],
      lostWrites: 0,
    };
    for (let i = 0; i < this.options.nodes; i++) {
      // Clocks run within ±1% of real time with arbitrary offsets.
      const rate = 1 + (this.random() - 0.5) * 0.02;
      this.nodes.push(new SimNode(`n${i}`, rate, Math.floor(this.random() * 1e6), this.options.logWindow));
    }
    const addresses: Record<string, NodeAddress> = {};
    for (const node of this.nodes) {
      addresses[node.id] = { host: `${node.id}.sim`, port: 6379, peerPort: 7379, adminPort: 8080, zone: `z${this.nodes.indexOf(node) % 3}` };
    }
    this.addresses = addresses;
    const initial = this.nodes.slice(0, this.options.initialBaseline ?? this.nodes.length);
    this.storeMap = activate(createMap('sim'), {
      onlineNodes: Object.fromEntries(initial.map((node) => [node.id, addresses[node.id]!])),
      partitionCount: this.options.partitions,
      backups: this.options.backups,
      writeSynchronization: this.options.writeSynchronization,
    });
  }

  run(): SimulationReport {
    for (const node of this.nodes) this.startNode(node);
    for (let client = 0; client < this.options.clients; client++) this.startClient(client);
    this.scheduleFaults();
    this.scheduleBaselineChanges();
    if (this.options.rollingRestart === true) this.scheduleRollingRestart();
    const end = this.options.faultPhaseMs + this.options.settleMs;
    this.at(this.options.faultPhaseMs, () => this.healEverything());
    // Up to FINAL_GRACE_MS more, only while some partition is not served: a handoff to the preferred
    // primary can start just before the end, and the new primary serves once its ISR granted leases.
    while (this.queue.peekTime() <= end || (this.queue.peekTime() <= end + FINAL_GRACE_MS && !this.everyPartitionServed())) {
      const event = this.queue.pop()!;
      this.now = event.time;
      try {
        event.run();
      } catch (error) {
        if (error instanceof InvariantViolation) throw error;
        this.fail(`unexpected error: ${(error as Error).stack ?? String(error)}`);
      }
      this.checkLeases();
    }
    this.finalCheck();
    return this.report;
  }

  // --- plumbing ----------------------------------------------------------------------------------

  private at(time: number, run: () => void): void {
    this.queue.push(Math.max(time, this.now), run);
  }

  private note(text: string): void {
    if (TRACE_FILTER !== null && TRACE_FILTER.test(text)) console.log(`${this.now.toFixed(0)}ms ${text}`);
    this.trace.push(`${this.now.toFixed(0)}ms ${text}`);
    if (this.trace.length > 4000) this.trace.splice(0, 2000);
  }

  private fail(message: string): never {
    throw new InvariantViolation(message, this.options.seed, this.trace);
  }

  private between(low: number, high: number): number {
    return low + this.random() * (high - low);
  }

  private linkKey(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  private connectedPair(a: SimNode, b: SimNode): boolean {
    return a.up && b.up && this.linkUp.get(this.linkKey(a.id, b.id)) !== false;
  }

  /** Runs `work` on the node when it is up and not paused (deferred past a pause), same incarnation. */
  private onNode(node: SimNode, time: number, work: () => void): void {
    const incarnation = node.incarnation;
    const attempt = (): void => {
      if (!node.up || node.incarnation !== incarnation) return;
      if (node.pausedUntil > this.now) {
        this.at(node.pausedUntil, attempt);
        return;
      }
      work();
      this.drain(node);
    };
    this.at(time, attempt);
  }

  // --- nodes ------------------------------------------------------------------------------------

  private startNode(node: SimNode): void {
    node.up = true;
    node.incarnation++;
    node.pausedUntil = 0;
    node.mapVersionSeen = 0;
    node.pending = [];
    node.proposalQueue = [];
    node.casBusy = false;
    node.incomingSnapshots = 0;
    const core = new ReplicationCore(node.id, node.log, this.options.replication);
    node.core = core;
    this.note(`${node.id} starts (incarnation ${node.incarnation})`);
    // The map can come well after the peer links (a slow store read, or a node holding the map back
    // while it decides whether this is a full restart): meanwhile peers' messages reach a core with no map.
    this.onNode(node, this.now + this.between(1, this.random() < 0.5 ? 20 : 800), () => {
      if (node.storeReachable) this.deliverMap(node);
    });
    this.onNode(node, this.now + this.between(1, 20), () => {
      core.onOnlineNodes(this.onlineNodes(), node.localNow(this.now));
      for (const peer of this.nodes) {
        if (peer !== node && this.connectedPair(node, peer)) {
          core.onPeerConnected(peer.id, node.localNow(this.now));
          this.onNode(peer, this.now + 1, () => peer.core!.onPeerConnected(node.id, peer.localNow(this.now)));
        }
      }
    });
    const tick = (): void => {
      this.onNode(node, this.now + 20, () => {
        node.core!.tick(node.localNow(this.now));
        tick();
      });
    };
    tick();
    const presence = (): void => {
      this.onNode(node, this.now + 250, () => {
        node.core!.onOnlineNodes(this.onlineNodes(), node.localNow(this.now));
        presence();
      });
    };
    presence();
  }

  private crashNode(node: SimNode): void {
    if (!node.up) return;
    this.note(`${node.id} crashes`);
    node.up = false;
    node.core = null;
    for (const reply of node.pending) reply.done('failed');
    node.pending = [];
    node.log.crash();
    for (const peer of this.nodes) {
      if (peer !== node && peer.up) this.onNode(peer, this.now + this.between(1, 30), () => peer.core!.onPeerDisconnected(node.id, peer.localNow(this.now)));
    }
  }

  /**
   * A graceful stop (SIGTERM): the node steps down and stops once it leads nothing, or after 5 s
   * (like the node's shutdown time limit); it is started again `downMs` later.
   */
  private gracefulRestart(node: SimNode, downMs: number, onBack: () => void = () => {}): void {
    if (!node.up) return;
    const since = this.now;
    this.onNode(node, this.now, () => {
      this.note(`${node.id} steps down`);
      node.core!.stepDown(node.localNow(this.now));
    });
    const check = (): void => {
      if (!node.up) return;
      const led = node.core?.partitionsLed() ?? 0;
      if (led > 0 && this.now - since < 5000) {
        this.at(this.now + 50, check);
        return;
      }
      this.report.gracefulStops++;
      if (led > 0) this.report.gracefulStopsLeading++;
      this.note(`${node.id} stops (leading ${led} partitions)`);
      this.crashNode(node);
      this.at(this.now + downMs, () => {
        if (!node.up) this.startNode(node);
        onBack();
      });
    };
    this.at(this.now + 50, check);
  }

  private scheduleRollingRestart(): void {
    let next = 0;
    const step = (): void => {
      if (next >= this.nodes.length || !this.faultsActive) return;
      const settled = this.nodes.every((node) => node.up) && this.storeMap.partitions.every((assignment) => !assignment.lost && assignment.isr.length === assignment.replicas.length);
      if (!settled) {
        this.at(this.now + 100, step);
        return;
      }
      const node = this.nodes[next++]!;
      this.report.faults.push(`${this.now.toFixed(0)}ms rolling restart of ${node.id}`);
      this.gracefulRestart(node, this.between(300, 1500), () => this.at(this.now + 100, step));
    };
    this.at(this.between(1000, 2000), step);
  }

  private onlineNodes(): string[] {
    return this.nodes.filter((node) => node.up && node.storeReachable).map((node) => node.id);
  }

  /** Carries out a core's outputs. */
  private drain(node: SimNode): void {
    const core = node.core;
    if (core === null) return;
    const out = core.take();
    for (const { to, message } of out.messages) this.sendMessage(node, to, message);
    for (const { partition, entries } of out.apply) {
      if (entries[0]!.seq !== node.log.lastSeq(partition) + 1) {
        this.fail(`${node.id} was asked to apply p${partition} seq ${entries[0]!.seq} after seq ${node.log.lastSeq(partition)}`);
      }
      node.log.append(partition, entries);
      this.scheduleFsync(node, partition);
    }
    if (out.proposals.length > 0) {
      node.proposalQueue.push(...out.proposals);
      this.runProposals(node);
    }
    for (const snapshot of out.snapshots) this.streamSnapshot(node, snapshot.partition, snapshot.to, snapshot.term);
    for (const { partition, committedSeq } of out.committed) this.releaseReplies(node, partition, committedSeq);
  }

  private scheduleFsync(node: SimNode, partition: number): void {
    const target = node.log.lastSeq(partition);
    this.onNode(node, this.now + this.between(0.3, 4), () => {
      if (node.log.makeDurable(partition, target)) node.core!.onLocalDurable(partition, node.localNow(this.now));
    });
  }

  private sendMessage(from: SimNode, to: string, message: PeerMessage): void {
    const target = this.nodes.find((node) => node.id === to);
    if (target === undefined || !this.connectedPair(from, target)) return;
    if (this.faultsActive && this.random() < this.options.messageLossRate) return;
    const direction = `${from.id}>${to}`;
    const delay = this.between(0.2, 3) + (this.random() < 0.02 ? this.between(10, 200) : 0);
    const time = Math.max(this.lastDelivery.get(direction) ?? 0, this.now + delay);
    this.lastDelivery.set(direction, time);
    const fromIncarnation = from.incarnation;
    const targetIncarnation = target.incarnation;
    this.onNode(target, time, () => {
      if (target.incarnation !== targetIncarnation || !this.connectedPair(from, target)) return;
      if (from.incarnation !== fromIncarnation && !from.up) return;
      target.core!.onMessage(from.id, message, target.localNow(this.now));
    });
  }

  // --- store ------------------------------------------------------------------------------------

  private deliverMap(node: SimNode): void {
    const map = this.storeMap;
    if (map.version <= node.mapVersionSeen) return;
    node.mapVersionSeen = map.version;
    node.core!.onMap(map, node.localNow(this.now));
    // The edge deletes copies of partitions this node no longer holds (a completed move).
    if (map.state === 'INACTIVE') return;
    map.partitions.forEach((assignment, partition) => {
      if (assignment.replicas.includes(node.id) || node.log.lastSeq(partition) === 0) return;
      this.note(`${node.id} drops its copy of p${partition}`);
      node.log.clear(partition);
      node.core!.onLocalReset(partition);
    });
  }

  private publishMap(next: ClusterMap): void {
    const previous = this.storeMap;
    this.storeMap = next;
    for (let p = 0; p < next.partitions.length; p++) {
      const before = previous.partitions[p]!;
      const after = next.partitions[p]!;
      if (before.primary !== after.primary || before.term !== after.term) {
        this.note(`map v${next.version}: p${p} primary ${after.primary} term ${after.term} isr ${after.isr.join(',')}${after.lost ? ' LOST' : ''}`);
        if (after.primary !== null && before.primary !== after.primary) this.report.failovers++;
      } else if (before.isr.join() !== after.isr.join()) {
        this.note(`map v${next.version}: p${p} isr ${after.isr.join(',')}`);
      }
      if (before.isr.join() !== after.isr.join()) this.checkIsrHoldsAcked(p);
      if (before.target !== undefined && after.target === undefined && before.replicas.join() !== after.replicas.join()) {
        this.report.movesCompleted++;
        this.note(`map v${next.version}: p${p} moved to ${after.replicas.join(',')}`);
      }
      if (before.primary !== null && after.primary !== null && before.primary !== after.primary && after.isr.includes(before.primary)) this.report.handoffs++;
    }
    for (const node of this.nodes) {
      if (!node.up || !node.storeReachable) continue;
      this.onNode(node, this.now + this.between(1, 25), () => {
        if (node.storeReachable) this.deliverMap(node);
      });
    }
  }

  /** One CAS round trip at a time per node, with all queued proposals. */
  private runProposals(node: SimNode): void {
    if (node.casBusy || node.proposalQueue.length === 0 || !node.storeReachable) return;
    node.casBusy = true;
    const proposals = node.proposalQueue.splice(0);
    const incarnation = node.incarnation;
    const readAt = this.now + this.between(1, 15);
    this.at(readAt, () => {
      if (!node.storeReachable || node.incarnation !== incarnation || !node.up) {
        node.casBusy = false;
        return;
      }
      const base = this.storeMap;
      const { next, applied, rejected } = applyProposals(base, proposals);
      const casAt = this.now + this.between(1, 15);
      this.at(casAt, () => {
        let outcome: 'applied' | 'conflict' | 'lost' = 'lost';
        if (node.storeReachable && node.up && node.incarnation === incarnation) {
          if (next === null) outcome = 'applied';
          else if (this.storeMap.version === base.version) {
            if (this.verbose) this.note(`${node.id} stores v${next.version}: ${applied.map((proposal) => JSON.stringify(proposal)).join(' ')}`);
            this.publishMap(next);
            outcome = 'applied';
          } else outcome = 'conflict';
        }
        const replyAt = this.now + this.between(1, 15);
        this.onNode(node, replyAt, () => {
          node.casBusy = false;
          const core = node.core!;
          const nowLocal = node.localNow(this.now);
          if (outcome === 'applied') {
            for (const proposal of applied) core.onProposalResult(proposal, 'applied', nowLocal);
            for (const { proposal } of rejected) core.onProposalResult(proposal, 'rejected', nowLocal);
            this.deliverMap(node);
          } else if (outcome === 'conflict') {
            this.deliverMap(node);
            node.proposalQueue.unshift(...proposals);
          }
          this.runProposals(node);
        });
        if (outcome === 'lost') node.casBusy = false;
      });
    });
  }

  // --- snapshots --------------------------------------------------------------------------------

  private streamSnapshot(primary: SimNode, partition: number, to: string, term: number): void {
    const backup = this.nodes.find((node) => node.id === to)!;
    const primaryIncarnation = primary.incarnation;
    const backupIncarnation = backup.incarnation;
    this.report.snapshots++;
    this.note(`${primary.id} streams a snapshot of p${partition} to ${to}`);
    // The receiving edge is busy while the stream is on the wire (its learners hold back grants).
    const busy = backup.up && backup.incarnation === backupIncarnation;
    if (busy) this.setIncoming(backup, +1);
    const done = this.now + this.between(20, 300);
    this.at(done, () => {
      if (busy && backup.incarnation === backupIncarnation) this.setIncoming(backup, -1);
      const intact =
        primary.up && backup.up && primary.incarnation === primaryIncarnation && backup.incarnation === backupIncarnation && this.connectedPair(primary, backup);
      if (!intact) {
        this.onNode(primary, this.now, () => primary.core!.onSnapshotFailed(partition, to, primary.localNow(this.now)));
        return;
      }
      const snapshot = primary.log.snapshot(partition);
      this.onNode(primary, this.now, () => primary.core!.onSnapshotSent(partition, to, primary.localNow(this.now)));
      this.onNode(backup, this.now, () => {
        if (!backup.core!.acceptsSnapshot(partition, primary.id, term)) {
          this.note(`${to} refuses a snapshot of p${partition} from ${primary.id} at term ${term}`);
          return;
        }
        this.note(`${to} installs a snapshot of p${partition} at seq ${snapshot.baseSeq} from ${primary.id}`);
        backup.log.install(partition, snapshot);
        backup.core!.onSnapshotInstalled(partition, primary.id, term, snapshot.baseSeq, snapshot.baseTerm, backup.localNow(this.now));
      });
    });
  }

  private setIncoming(node: SimNode, delta: number): void {
    node.incomingSnapshots += delta;
    const busy = node.incomingSnapshots > 0;
    this.onNode(node, this.now, () => node.core!.setCatchUpBusy(busy));
  }

  // --- clients ----------------------------------------------------------------------------------

  private partitionOf(key: string): number {
    return partitionOfSlot(keyHashSlot(Buffer.from(key)), this.options.partitions);
  }

  /** A node serves a request if its core says so; the reply waits for the commit of `seq`. */
  private serve(node: SimNode, key: string, write: number | null, done: (result: { ok: boolean; value?: number }) => void): void {
    const core = node.core!;
    const partition = this.partitionOf(key);
    const nowLocal = node.localNow(this.now);
    const decision = core.canServe(partition, write === null ? 'read' : 'write', nowLocal);
    if (!decision.ok) {
      done({ ok: false });
      return;
    }
    const term = core.writeTerm(partition);
    const leaderKey = `${partition}/${term}`;
    const leaderId = `${node.id}#${node.incarnation}`;
    const previous = this.leaders.get(leaderKey);
    if (previous !== undefined && previous !== leaderId) this.fail(`TERM: partition ${partition} term ${term} led by ${previous} and ${leaderId}`);
    this.leaders.set(leaderKey, leaderId);
    let seq: number;
    let value: number;
    if (write === null) {
      const current = node.log.valueOf(partition, key);
      seq = current.seq;
      value = current.value;
    } else {
      seq = node.log.lastSeq(partition) + 1;
      value = write;
      node.log.append(partition, [{ seq, term, bytes: 16, payload: { key, value: write } satisfies Write }]);
      core.onLocalAppend(partition, nowLocal);
      this.scheduleFsync(node, partition);
    }
    const reply: PendingReply = {
      partition,
      term,
      seq,
      incarnation: node.incarnation,
      done: (result) => {
        if (result === 'failed') done({ ok: false });
        else {
          if (write !== null) this.recordAck(key, write, partition, seq, term);
          done({ ok: true, value });
        }
      },
    };
    if (core.committedSeq(partition) >= seq) reply.done('ok');
    else node.pending.push(reply);
  }

  private releaseReplies(node: SimNode, partition: number, committedSeq: number): void {
    const core = node.core!;
    const stillLeading = core.isPrimary(partition) ? core.writeTerm(partition) : -1;
    const keep: PendingReply[] = [];
    for (const reply of node.pending) {
      if (reply.partition !== partition) keep.push(reply);
      else if (reply.term !== stillLeading) reply.done('failed');
      else if (reply.seq <= committedSeq) reply.done('ok');
      else keep.push(reply);
    }
    node.pending = keep;
  }

  private recordAck(key: string, value: number, partition: number, seq: number, term: number): void {
    if (this.verbose) this.note(`ack ${key}=${value} p${partition} seq ${seq} term ${term}`);
    const write: AckedWrite = { key, value, partition, seq, term, atMs: this.now };
    this.acked.push(write);
    this.report.acknowledgedWrites++;
    let list = this.ackedByKey.get(key);
    if (list === undefined) this.ackedByKey.set(key, (list = []));
    list.push({ value, atMs: this.now });
    if (this.options.writeSynchronization === 'FULL_SYNC') {
      const assignment = this.storeMap.partitions[partition]!;
      for (const member of assignment.isr) {
        const node = this.nodes.find((candidate) => candidate.id === member)!;
        if (node.log.termAt(partition, seq) !== term || node.log.durableSeq(partition) < seq) {
          this.fail(`ISR: write ${key}=${value} (p${partition} seq ${seq} term ${term}) acknowledged but not durable on ISR member ${member}`);
        }
      }
    }
  }

  private checkIsrHoldsAcked(partition: number): void {
    if (this.options.writeSynchronization !== 'FULL_SYNC') return;
    const assignment = this.storeMap.partitions[partition]!;
    for (const write of this.acked) {
      if (write.partition !== partition) continue;
      for (const member of assignment.isr) {
        const node = this.nodes.find((candidate) => candidate.id === member)!;
        if (node.log.termAt(partition, write.seq) !== write.term || node.log.durableSeq(partition) < write.seq) {
          this.fail(`ISR: acknowledged ${write.key}=${write.value} (p${partition} seq ${write.seq}) missing on new ISR member ${member} (map v${this.storeMap.version})`);
        }
      }
    }
  }

  private startClient(client: number): void {
    const keys = Array.from({ length: this.options.keysPerClient }, (_, i) => `c${client}:k${i}`);
    const nextValue = new Map(keys.map((key) => [key, 1]));
    const step = (): void => {
      if (this.now >= (this.options.clientsStopAtMs ?? this.options.faultPhaseMs + this.options.settleMs - 3000)) return;
      const key = keys[Math.floor(this.random() * keys.length)]!;
      const isRead = this.random() < 0.3;
      const readKey = isRead ? `c${Math.floor(this.random() * this.options.clients)}:k${Math.floor(this.random() * this.options.keysPerClient)}` : key;
      const value = nextValue.get(key)!;
      if (!isRead) {
        nextValue.set(key, value + 1);
        this.writtenMax.set(key, value);
      }
      this.request(readKey, isRead ? null : value, 0, step);
    };
    this.at(this.between(50, 300), step);
  }

  /** Sends a request to the primary of the key's partition per the store map (retrying elsewhere). */
  private request(key: string, write: number | null, attempt: number, next: () => void): void {
    const partition = this.partitionOf(key);
    const assignment = this.storeMap.partitions[partition]!;
    const candidates = assignment.primary !== null ? [assignment.primary] : assignment.replicas;
    const target = this.nodes.find((node) => node.id === candidates[attempt % candidates.length])!;
    const startedMs = this.now;
    let finished = false;
    const finish = (result: { ok: boolean; value?: number }): void => {
      if (finished) return;
      finished = true;
      if (result.ok) {
        if (write === null) this.checkRead(key, result.value!, startedMs, target.id);
        this.at(this.now + this.between(1, 10), next);
      } else if (attempt < 50) {
        this.at(this.now + this.between(20, 120), () => this.request(key, write, attempt + 1, next));
      } else {
        this.at(this.now + 200, next);
      }
    };
    // Client timeout: an unanswered request is given up. The node ignores a request that reaches it
    // (or that it gets to, after a pause) past that deadline, so a retried write never lands after
    // the client's later writes: each key keeps one writer with increasing values.
    const deadline = this.now + 2000;
    this.at(deadline, () => finish({ ok: false }));
    if (!target.up) return;
    const arrive = this.now + this.between(0.2, 2);
    this.onNode(target, arrive, () => {
      if (this.now >= deadline - 1) return;
      this.serve(target, key, write, (result) => this.at(this.now + this.between(0.2, 2), () => finish(result)));
    });
  }

  private checkRead(key: string, value: number, startedMs: number, server = ''): void {
    this.report.reads++;
    if (this.verbose) this.note(`read ${key}=${value} from ${server} started ${startedMs.toFixed(1)}`);
    const acked = this.ackedByKey.get(key) ?? [];
    let floor = 0;
    for (const write of acked) if (write.atMs < startedMs && write.value > floor) floor = write.value;
    // PRIMARY_SYNC may lose acknowledged writes on failover (documented), so reads may go back.
    if (value < floor && this.options.writeSynchronization === 'FULL_SYNC') {
      this.fail(`READ: ${key} read ${value} but ${floor} was acknowledged before the read started`);
    }
    if (value > (this.writtenMax.get(key) ?? 0)) this.fail(`READ: ${key} read ${value}, a value never written`);
  }

  // --- invariants -------------------------------------------------------------------------------

  private checkLeases(): void {
    for (let partition = 0; partition < this.options.partitions; partition++) {
      let serving: string | null = null;
      for (const node of this.nodes) {
        if (!node.up || node.core === null || node.pausedUntil > this.now) continue;
        if (!node.core.canServe(partition, 'read', node.localNow(this.now)).ok) continue;
        if (serving !== null) this.fail(`LEASE: partition ${partition} served by ${serving} and ${node.id} at the same time`);
        serving = node.id;
      }
    }
  }

  private everyPartitionServed(): boolean {
    for (let partition = 0; partition < this.options.partitions; partition++) {
      if (!this.nodes.some((node) => node.up && node.core?.canServe(partition, 'read', node.localNow(this.now)).ok)) return false;
    }
    return true;
  }

  /** What every running node's core says of `partition` (for a failure message). */
  private describeNodes(partition: number): string {
    return this.nodes
      .filter((node) => node.up && node.core !== null)
      .map((node) => {
        const core = node.core!;
        const decision = JSON.stringify(core.canServe(partition, 'read', node.localNow(this.now)));
        return `${node.id}: ${decision} peers ${JSON.stringify(core.peerStates(partition))} state ${JSON.stringify(core.followerState(partition))} map v${core.currentMap()?.version} log ${node.log.lastSeq(partition)}`;
      })
      .join('; ');
  }

  private finalCheck(): void {
    this.storeMap.partitions.forEach((assignment, partition) => {
      if (assignment.target !== undefined) {
        this.fail(`FINAL: partition ${partition} is still moving after the settle phase (map: ${JSON.stringify(assignment)}; ${this.describeNodes(partition)})`);
      }
      for (const node of this.nodes) {
        if (node.up && !assignment.replicas.includes(node.id) && node.log.lastSeq(partition) !== 0) {
          this.fail(`FINAL: ${node.id} still holds a copy of partition ${partition}, which it no longer replicates`);
        }
      }
    });
    // Every partition serves again, and every key holds its last acknowledged value or a later one.
    for (let partition = 0; partition < this.options.partitions; partition++) {
      const server = this.nodes.find((node) => node.up && node.core?.canServe(partition, 'read', node.localNow(this.now)).ok);
      if (server === undefined) {
        this.fail(`FINAL: partition ${partition} is not served after the settle phase (map: ${JSON.stringify(this.storeMap.partitions[partition])}; ${this.describeNodes(partition)})`);
      }
    }
    for (const [key, writes] of this.ackedByKey) {
      const partition = this.partitionOf(key);
      const server = this.nodes.find((node) => node.up && node.core?.canServe(partition, 'read', node.localNow(this.now)).ok)!;
      const value = server.log.valueOf(partition, key).value;
      const last = Math.max(...writes.map((write) => write.value));
      if (value < last && this.options.writeSynchronization === 'FULL_SYNC') {
        this.fail(`FINAL: ${key} holds ${value} but ${last} was acknowledged`);
      }
    }
    // Every acknowledged entry is in the final primary's log, at its seq and term.
    for (const write of this.acked) {
      const server = this.nodes.find((node) => node.up && node.core?.canServe(write.partition, 'read', node.localNow(this.now)).ok)!;
      if (server.log.termAt(write.partition, write.seq) === write.term) continue;
      if (this.options.writeSynchronization === 'FULL_SYNC') {
        this.fail(`FINAL: acknowledged ${write.key}=${write.value} (p${write.partition} seq ${write.seq} term ${write.term}) is not in the log of primary ${server.id}`);
      }
      this.report.lostWrites++;
    }
  }

  // --- faults -----------------------------------------------------------------------------------

  private scheduleBaselineChanges(): void {
    for (let i = 0; i < this.options.baselineChanges; i++) {
      const at = this.between(1000, this.options.faultPhaseMs - 1000);
      const size = 1 + Math.floor(this.random() * this.nodes.length);
      const shuffled = [...this.nodes];
      for (let j = shuffled.length - 1; j > 0; j--) {
        const k = Math.floor(this.random() * (j + 1));
        [shuffled[j], shuffled[k]] = [shuffled[k]!, shuffled[j]!];
      }
      const chosen = shuffled.slice(0, Math.max(size, Math.min(this.nodes.length, this.options.backups + 1)));
      const baseline = chosen.map((node) => node.id);
      this.report.faults.push(`${at.toFixed(0)}ms baseline → ${[...baseline].sort().join(',')}`);
      this.at(at, () => {
        const draining = this.storeMap.baseline.filter((id) => !baseline.includes(id) && this.nodes.find((node) => node.id === id)!.up);
        try {
          const next = setBaseline(this.storeMap, { baseline, addresses: this.addresses, draining, nowMs: this.now });
          if (next === this.storeMap) return;
          this.report.baselineChanges++;
          this.note(`baseline → ${next.baseline.join(',')} (draining ${draining.join(',') || 'none'})`);
          this.publishMap(next);
        } catch (error) {
          if (!(error instanceof MapTransitionError)) throw error;
          this.note(`baseline change refused: ${error.code}`);
        }
      });
    }
  }

  private scheduleFaults(): void {
    const { faultPhaseMs, faultsPerSecond } = this.options;
    if (faultsPerSecond <= 0) return;
    let time = this.between(500, 1500);
    while (time < faultPhaseMs - 500) {
      const at = time;
      const roll = this.random();
      const node = this.nodes[Math.floor(this.random() * this.nodes.length)]!;
      const other = this.nodes.filter((candidate) => candidate !== node)[Math.floor(this.random() * (this.nodes.length - 1))]!;
      const durationMs = this.between(200, 4000);
      if (roll < 0.3 && (this.options.gracefulRestartShare ?? 0) > 0 && this.random() < this.options.gracefulRestartShare!) {
        this.report.faults.push(`${at.toFixed(0)}ms graceful restart of ${node.id}, down ${durationMs.toFixed(0)}ms`);
        this.at(at, () => {
          if (node.up) this.gracefulRestart(node, durationMs);
        });
      } else if (roll < 0.3) {
        this.report.faults.push(`${at.toFixed(0)}ms crash ${node.id} for ${durationMs.toFixed(0)}ms`);
        this.at(at, () => this.crashNode(node));
        this.at(at + durationMs, () => {
          if (!node.up && this.faultsActive) this.startNode(node);
        });
      } else if (roll < 0.5) {
        this.report.faults.push(`${at.toFixed(0)}ms isolate ${node.id} (peers and store) for ${durationMs.toFixed(0)}ms`);
        this.at(at, () => this.isolate(node, true));
        this.at(at + durationMs, () => this.isolate(node, false));
      } else if (roll < 0.65) {
        this.report.faults.push(`${at.toFixed(0)}ms cut link ${node.id}-${other.id} for ${durationMs.toFixed(0)}ms`);
        this.at(at, () => this.setLink(node, other, false));
        this.at(at + durationMs, () => this.setLink(node, other, true));
      } else if (roll < 0.8) {
        this.report.faults.push(`${at.toFixed(0)}ms cut ${node.id} from the store for ${durationMs.toFixed(0)}ms`);
        this.at(at, () => {
          node.storeReachable = false;
          this.note(`${node.id} loses the store`);
        });
        this.at(at + durationMs, () => this.reconnectStore(node));
      } else {
        const pauseMs = this.between(100, 3000);
        this.report.faults.push(`${at.toFixed(0)}ms pause ${node.id} for ${pauseMs.toFixed(0)}ms`);
        this.at(at, () => {
          if (!node.up) return;
          this.note(`${node.id} pauses`);
          node.pausedUntil = this.now + pauseMs;
        });
      }
      time += this.between(0.2, 2) * (1000 / faultsPerSecond);
    }
  }

  private setLink(a: SimNode, b: SimNode, up: boolean): void {
    const key = this.linkKey(a.id, b.id);
    if ((this.linkUp.get(key) !== false) === up) return;
    this.linkUp.set(key, up);
    this.note(`link ${a.id}-${b.id} ${up ? 'up' : 'down'}`);
    for (const [self, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      if (!self.up) continue;
      this.onNode(self, this.now + this.between(1, 50), () => {
        if (up && this.connectedPair(self, peer)) self.core!.onPeerConnected(peer.id, self.localNow(this.now));
        else if (!up) self.core!.onPeerDisconnected(peer.id, self.localNow(this.now));
      });
    }
  }

  private isolate(node: SimNode, isolated: boolean): void {
    for (const other of this.nodes) if (other !== node) this.setLink(node, other, !isolated);
    if (isolated) {
      node.storeReachable = false;
      this.note(`${node.id} loses the store`);
    } else this.reconnectStore(node);
  }

  private reconnectStore(node: SimNode): void {
    if (node.storeReachable) return;
    node.storeReachable = true;
    this.note(`${node.id} reaches the store again`);
    if (node.up) {
      this.onNode(node, this.now + this.between(1, 30), () => {
        this.deliverMap(node);
        this.runProposals(node);
      });
    }
  }

  private healEverything(): void {
    this.faultsActive = false;
    this.note('heal everything');
    for (const node of this.nodes) {
      for (const other of this.nodes) if (other !== node) this.setLink(node, other, true);
      this.reconnectStore(node);
      node.pausedUntil = Math.min(node.pausedUntil, this.now);
      if (!node.up) this.startNode(node);
    }
  }
}
