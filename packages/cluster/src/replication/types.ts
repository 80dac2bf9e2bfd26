/**
 * Types of the replication core: its configuration, the messages nodes exchange over peer links,
 * what it asks of local storage, and what it asks the edge to do.
 */

export interface ReplicationConfig {
  /** A primary serves only while every other ISR member granted it a lease within this long. */
  leaseMs: number;
  /** How often a primary sends lease beacons (and empty appends) to each peer. */
  beaconIntervalMs: number;
  /**
   * A backup asks to become primary only after it has heard nothing from the primary for this long.
   * Must exceed leaseMs × (1 + clock drift) plus a margin, so an old primary's lease has always
   * lapsed before a new primary exists.
   */
  failoverDelayMs: number;
  /** Extra delay per rank in the replica list, so backups do not all ask at once. */
  failoverStaggerMs: number;
  /** An ISR backup silent, or leaving a sent entry unacknowledged, this long is dropped from the ISR. */
  isrTimeoutMs: number;
  /** Entries per append message, and bytes of unacknowledged entries per peer and partition. */
  appendEntriesMax: number;
  appendBytesMax: number;
  inflightBytesMax: number;
  /** Unacknowledged appends or probes are sent again (from a fresh probe) after this long. */
  retransmitMs: number;
  /** A snapshot that has not completed after this long is started again. */
  snapshotTimeoutMs: number;
  /**
   * A snapshot the edge finished sending that the backup has not confirmed after this long (it was
   * lost, or refused by a backup whose map did not list it yet) is followed by a probe.
   */
  snapshotAckTimeoutMs: number;
  /**
   * A replica with an empty copy (a new learner) gets a snapshot rather than the log when the log
   * holds more entries than this: the snapshot carries each key once and skips the replica's log
   * writes, replaying the log carries every write ever made.
   */
  snapshotEmptyPeerEntries: number;
  /**
   * A learner (a replica outside the ISR) that is busy installing snapshots withholds its first lease
   * grant at a term for up to this long after it became a learner: it enters the ISR once the burst
   * of copies is over, so FULL_SYNC writes do not wait on a node that is busy catching up.
   */
  learnerHoldMs: number;
  /** A map change the core proposed is proposed again if it has not shown up after this long. */
  proposalRetryMs: number;
  /**
   * A primary that handed a partition off and saw no new primary within this long takes a new term
   * itself (by CAS, racing the handoff's promote) and serves again.
   */
  handoffTimeoutMs: number;
  /**
   * A primary hands a partition back to its preferred primary (the first replica) once that node has
   * been in the ISR this long, so primaries spread out again after restarts. Infinity: never.
   */
  preferredLeaderDelayMs: number;
}

export const REPLICATION_DEFAULTS: Readonly<ReplicationConfig> = Object.freeze({
  leaseMs: 1000,
  beaconIntervalMs: 200,
  failoverDelayMs: 1500,
  failoverStaggerMs: 150,
  isrTimeoutMs: 1000,
  appendEntriesMax: 2000,
  appendBytesMax: 1024 * 1024,
  inflightBytesMax: 8 * 1024 * 1024,
  retransmitMs: 400,
  snapshotTimeoutMs: 120_000,
  snapshotAckTimeoutMs: 10_000,
  snapshotEmptyPeerEntries: 64,
  learnerHoldMs: 5000,
  proposalRetryMs: 500,
  handoffTimeoutMs: 2000,
  preferredLeaderDelayMs: 3000,
});

/** The start of a term in a partition's log: entries from startSeq on were written in `term`. */
export interface Epoch {
  term: number;
  startSeq: number;
}

/** One replicated mutation. The payload is opaque to the core (a record image at the edge). */
export interface LogEntry {
  seq: number;
  term: number;
  bytes: number;
  payload: unknown;
}

/** What the core reads from local storage (synchronously; the edge keeps it consistent). */
export interface LocalLog {
  /** Highest seq applied locally (durable or not), and its term; {0, 0} for an empty partition. */
  lastSeq(partition: number): number;
  lastTerm(partition: number): number;
  /** Highest seq that is locally durable. */
  durableSeq(partition: number): number;
  /** Term history of the partition, oldest first. */
  epochs(partition: number): readonly Epoch[];
  /**
   * Entries from `fromSeq` on (at most `maxEntries` / about `maxBytes`), or null when the log no
   * longer holds `fromSeq` (the peer needs a snapshot).
   */
  read(partition: number, fromSeq: number, maxEntries: number, maxBytes: number): LogEntry[] | null;
}

export interface PartitionPosition {
  partition: number;
  lastSeq: number;
  lastTerm: number;
}

export type PeerMessage =
  /**
   * Primary → backup: entries after prevSeq (prevSeq/prevTerm must match the backup's log), the
   * primary's commit point, and its epochs when the backup must check for divergence.
   */
  | {
      type: 'append';
      partition: number;
      term: number;
      prevSeq: number;
      prevTerm: number;
      entries: LogEntry[];
      commitSeq: number;
    }
  /** Backup → primary: durable position, or a refusal with the backup's last position. */
  | {
      type: 'ack';
      partition: number;
      term: number;
      durableSeq: number;
      ok: boolean;
      lastSeq: number;
      lastTerm: number;
      /** The sender's map version: a position reported before a move reached it may predate a drop of its copy. */
      mapVersion: number;
    }
  /** Primary → backup: where are you? (sent when a peer's position is unknown). */
  | { type: 'probe'; partition: number; term: number }
  /** Lease beacon for every partition the sender leads and the receiver is in the ISR of. */
  | { type: 'beacon'; id: number; partitions: Array<{ partition: number; term: number }> }
  | { type: 'grant'; id: number; partitions: Array<{ partition: number; term: number; granted: boolean }> }
  /** Backup → primary: a snapshot streamed by the edge is installed; the backup is now at seq/lastTerm (durable). */
  | { type: 'snapshot-done'; partition: number; term: number; seq: number; lastTerm: number; mapVersion: number }
  /**
   * Primary → ISR member: the primary stopped serving at `term` with everything up to `seq`
   * committed (and durable on the receiver): take over now, without waiting for the failover delay.
   */
  | { type: 'handoff'; partition: number; term: number; seq: number }
  /**
   * A node stepping down before it stops (SIGTERM, a rolling restart): hand it nothing, drop it
   * from the ISRs you lead now (rather than after the ISR timeout), until it connects again.
   */
  | { type: 'leaving' };

/** A map change the core asks the edge to make by compare-and-swap. */
export type Proposal =
  | { kind: 'promote'; partition: number; candidate: string; expectedTerm: number }
  | { kind: 'shrink-isr'; partition: number; primary: string; term: number; removed: string[] }
  /**
   * rebalanceVersion: the baseline change (map.rebalance.version) of the map the primary judged the
   * member caught up by; a map with a newer baseline change refuses it (the member may have
   * deleted its copy since, and the proposal may have waited in a queue or a retry).
   */
  | { kind: 'expand-isr'; partition: number; primary: string; term: number; added: string; rebalanceVersion: number }
  | { kind: 'mark-lost'; partition: number }
  | { kind: 'restore-lost'; partition: number; candidate: string }
  | { kind: 'complete-move'; partition: number; primary: string; term: number }
  | { kind: 'hand-over'; partition: number; from: string; candidate: string; expectedTerm: number };

/** What the edge must do after a call into the core. */
export interface Outputs {
  messages: Array<{ to: string; message: PeerMessage }>;
  /** Entries accepted from a primary, to apply locally in order (then report onLocalDurable). */
  apply: Array<{ partition: number; entries: LogEntry[] }>;
  proposals: Proposal[];
  /** Start streaming a snapshot of `partition` to `to` (primary side; the edge replaces the peer's copy). */
  snapshots: Array<{ partition: number; to: string; term: number }>;
  /** Commit points that advanced: replies waiting on seq ≤ committedSeq may be released. */
  committed: Array<{ partition: number; committedSeq: number }>;
}

export function emptyOutputs(): Outputs {
  return { messages: [], apply: [], proposals: [], snapshots: [], committed: [] };
}

/** Why this node cannot serve a partition now. */
export type ServeDecision =
  | { ok: true }
  | { ok: false; reason: 'not-primary'; primary: string | null }
  | { ok: false; reason: 'no-lease' | 'catching-up' | 'handing-off' | 'inactive' | 'read-only' | 'lost' | 'no-map' };
