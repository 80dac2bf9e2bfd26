/**
 * Fault schedules for the verification campaign: which fault starts when, for how long, against
 * which members — derived from a seed alone (plus the options printed with it), so `--seed S`
 * replays the same schedule. Pure: no clock, no I/O; the injector carries a schedule out.
 *
 * Every fault is bounded (a few seconds; `stop-member` lasts the baseline grace plus a little,
 * since its point is the baseline change), the last one ends before the faulty phase does, and
 * the runner heals everything after it. Kinds are dealt from a shuffled deck, so a run with k
 * enabled kinds meets each of them once per k faults; some faults get a companion that starts
 * while they are active (always for `stop-member`, so the baseline changes under another fault).
 */
import { seededRandom } from '../random.js';
import { shuffled } from '../shuffle.js';

export const FAULT_KINDS = ['kill', 'pause', 'restart-member', 'partition', 'netem', 'restart-operator', 'stop-member'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type PartitionShape = 'halves' | 'one-way' | 'bridge';

export type Fault =
  /** SIGKILL of the member's process; the runtime restarts it (a crash). */
  | { kind: 'kill'; member: string }
  /** SIGSTOP for the fault's duration, then SIGCONT (a GC pause, a frozen VM). */
  | { kind: 'pause'; member: string }
  /** SIGTERM: the member steps down gracefully and exits; the runtime starts it again. */
  | { kind: 'restart-member'; member: string }
  /**
   * Packets dropped between members (nftables in their namespaces; clients in the root namespace
   * still reach everyone). `cuts`: packets from `from` never reach `to`. `storeCut`: members that
   * cannot reach the ClusterMap store either.
   */
  | { kind: 'partition'; shape: PartitionShape; description: string; cuts: Array<{ from: string; to: string }>; storeCut: string[] }
  /** `tc netem` on the member's interface: every packet it sends is delayed (and some lost). */
  | { kind: 'netem'; member: string; delayMs: number; jitterMs: number; lossPercent: number }
  /** SIGKILL of `ballast dev` (the operator and the embedded store); started again at the end. */
  | { kind: 'restart-operator' }
  /** The member's machine is gone past the grace: the operator changes the baseline; back at the end. */
  | { kind: 'stop-member'; member: string };

export interface ScheduledFault {
  id: number;
  /** Since the start of the workload. */
  atMs: number;
  /** How long the fault is active before it is healed (0: an instant action, nothing to heal). */
  durationMs: number;
  fault: Fault;
}

export interface ScheduleOptions {
  seed: number;
  /** Length of the faulty phase; every fault ends before it. */
  durationMs: number;
  /** Member names, e.g. ['t-0', 't-1', 't-2']. */
  members: readonly string[];
  /** The cluster's baseline grace timeout (stop-member lasts longer than it). */
  graceMs: number;
  /** Kinds to draw from (default: all). */
  kinds?: readonly FaultKind[];
  /** Workload alone before the first fault (default 2000). */
  warmupMs?: number;
}

export interface Schedule {
  seed: number;
  durationMs: number;
  members: string[];
  graceMs: number;
  kinds: FaultKind[];
  warmupMs: number;
  faults: ScheduledFault[];
}

/** Bounds (ms) of each kind's active time; the others are instant. */
const PAUSE_MS = [800, 4000] as const;
const PARTITION_MS = [1500, 5000] as const;
const NETEM_MS = [1500, 5000] as const;
const OPERATOR_DOWN_MS = [300, 3000] as const;
/** stop-member lasts graceMs plus this: long enough for the operator to change the baseline. */
const STOP_PAST_GRACE_MS = [1500, 3000] as const;
/** Quiet time after a fault before the next one (instant faults: time for the member to come back). */
const GAP_MS = [500, 2000] as const;
const INSTANT_RECOVERY_MS = 1500;
const COMPANION_PROBABILITY = 0.3;
/** A bound on the loop, whatever the options. */
const FAULTS_MAX = 500;

type Random = () => number;

function between(random: Random, [low, high]: readonly [number, number]): number {
  return Math.round(low + random() * (high - low));
}

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function bothWays(a: readonly string[], b: readonly string[]): Array<{ from: string; to: string }> {
  return a.flatMap((x) => b.flatMap((y) => [{ from: x, to: y }, { from: y, to: x }]));
}

/** Members that a fault acts on (a companion avoids them), and whether it touches the network. */
export function faultMembers(fault: Fault): string[] {
  switch (fault.kind) {
    case 'partition':
      return [...new Set([...fault.cuts.flatMap((cut) => [cut.from, cut.to]), ...fault.storeCut])];
    case 'restart-operator':
      return [];
    default:
      return [fault.member];
  }
}

function isNetworkFault(fault: Fault): boolean {
  return fault.kind === 'partition' || fault.kind === 'netem';
}

/** `members` cut in two non-empty groups, in order. */
function splitInTwo(random: Random, members: readonly string[]): [string[], string[]] {
  const split = 1 + Math.floor(random() * (members.length - 1));
  return [members.slice(0, split), members.slice(split)];
}

function partitionFault(random: Random, members: readonly string[]): Fault {
  const order = shuffled(members, random);
  const shape: PartitionShape = members.length >= 3 ? pick(random, ['halves', 'halves', 'one-way', 'bridge'] as const) : pick(random, ['halves', 'one-way'] as const);
  if (shape === 'one-way') {
    const [receivers, senders] = splitInTwo(random, order);
    const cuts = receivers.flatMap((to) => senders.map((from) => ({ from, to })));
    return { kind: 'partition', shape, description: `${receivers.join(',')} drop packets from ${senders.join(',')}`, cuts, storeCut: [] };
  }
  // halves: two groups; bridge: two groups that both still reach one middle member.
  const middle = shape === 'bridge' ? order[0]! : null;
  const [first, second] = splitInTwo(random, middle === null ? order : order.slice(1));
  const storeCut = pick(random, [[], first, second]);
  const seen = middle === null ? '' : `, both see ${middle}`;
  return {
    kind: 'partition',
    shape,
    description: `${first.join(',')} | ${second.join(',')}${seen}; store cut from ${storeCut.length === 0 ? 'none' : storeCut.join(',')}`,
    cuts: bothWays(first, second),
    storeCut,
  };
}

/** A fault of `kind` and how long it stays active. */
function makeFault(random: Random, kind: FaultKind, members: readonly string[], graceMs: number): { fault: Fault; durationMs: number } {
  const member = pick(random, members);
  switch (kind) {
    case 'kill':
      return { fault: { kind, member }, durationMs: 0 };
    case 'restart-member':
      return { fault: { kind, member }, durationMs: 0 };
    case 'pause':
      return { fault: { kind, member }, durationMs: between(random, PAUSE_MS) };
    case 'partition':
      return { fault: partitionFault(random, members), durationMs: between(random, PARTITION_MS) };
    case 'netem': {
      const delayMs = between(random, [20, 200]);
      return {
        fault: { kind, member, delayMs, jitterMs: Math.round(delayMs * random() * 0.5), lossPercent: Math.round(random() * 20) },
        durationMs: between(random, NETEM_MS),
      };
    }
    case 'restart-operator':
      return { fault: { kind }, durationMs: between(random, OPERATOR_DOWN_MS) };
    case 'stop-member':
      return { fault: { kind, member }, durationMs: graceMs + between(random, STOP_PAST_GRACE_MS) };
  }
}

/** Deals kinds from a deck reshuffled whenever it runs out. */
class Deck {
  private cards: FaultKind[] = [];

  constructor(
    private readonly random: Random,
    private readonly kinds: readonly FaultKind[],
  ) {}

  next(accept: (kind: FaultKind) => boolean = () => true): FaultKind | null {
    if (this.cards.length === 0) this.cards = shuffled(this.kinds, this.random);
    const index = this.cards.findIndex(accept);
    if (index < 0) return null;
    return this.cards.splice(index, 1)[0]!;
  }
}

export function generateSchedule(options: ScheduleOptions): Schedule {
  const kinds = [...(options.kinds ?? FAULT_KINDS)];
  if (kinds.length === 0) throw new Error('no fault kinds to draw from');
  for (const kind of kinds) if (!FAULT_KINDS.includes(kind)) throw new Error(`unknown fault kind ${kind} (known: ${FAULT_KINDS.join(', ')})`);
  if (options.members.length < 2) throw new Error('a schedule needs at least two members');
  const warmupMs = options.warmupMs ?? 2000;
  const random = seededRandom(options.seed);
  const deck = new Deck(random, kinds);
  const faults: ScheduledFault[] = [];
  const fits = (atMs: number, durationMs: number): boolean => atMs + Math.max(durationMs, INSTANT_RECOVERY_MS) <= options.durationMs;
  let atMs = warmupMs;
  while (atMs < options.durationMs && faults.length < FAULTS_MAX) {
    const kind = deck.next();
    if (kind === null) break;
    const { fault, durationMs } = makeFault(random, kind, options.members, options.graceMs);
    const advanceMs = Math.max(durationMs, INSTANT_RECOVERY_MS) + between(random, GAP_MS);
    if (!fits(atMs, durationMs)) {
      // Too long for what is left: stop once not even an instant fault fits, else draw again.
      if (!fits(atMs, 0)) break;
      atMs += between(random, GAP_MS);
      continue;
    }
    faults.push({ id: faults.length, atMs, durationMs, fault });
    // A companion: starts while this fault is active (stop-member: around the baseline change).
    if (durationMs > 0 && (fault.kind === 'stop-member' || random() < COMPANION_PROBABILITY)) {
      const busy = new Set(faultMembers(fault));
      const others = options.members.filter((member) => !busy.has(member));
      const companionKind = deck.next(
        (candidate) =>
          candidate !== 'stop-member' &&
          !(candidate === 'restart-operator' && fault.kind === 'stop-member') &&
          !(isNetworkFault(fault) && (candidate === 'partition' || candidate === 'netem')) &&
          (candidate === 'partition' || candidate === 'restart-operator' || others.length > 0),
      );
      if (companionKind !== null) {
        const companion = makeFault(random, companionKind, companionKind === 'partition' ? options.members : others, options.graceMs);
        const offsetMs =
          fault.kind === 'stop-member'
            ? Math.max(0, options.graceMs - between(random, [0, 1500]))
            : Math.round(random() * durationMs * 0.7);
        const companionAtMs = atMs + offsetMs;
        // Ends no later than the fault it accompanies.
        const companionMs = Math.min(companion.durationMs, Math.max(0, durationMs - offsetMs));
        if ((companionMs > 0 || companion.durationMs === 0) && fits(companionAtMs, companionMs)) {
          faults.push({ id: faults.length, atMs: companionAtMs, durationMs: companionMs, fault: companion.fault });
        }
      }
    }
    atMs += advanceMs;
  }
  faults.sort((a, b) => a.atMs - b.atMs || a.id - b.id);
  return {
    seed: options.seed,
    durationMs: options.durationMs,
    members: [...options.members],
    graceMs: options.graceMs,
    kinds,
    warmupMs,
    faults: faults.map((fault, id) => ({ ...fault, id })),
  };
}

/** The schedule as JSON lines: a header with everything needed to replay it, then one line per fault. */
export function scheduleToJsonl(schedule: Schedule): string {
  const { faults, ...header } = schedule;
  return [JSON.stringify({ schedule: header }), ...faults.map((fault) => JSON.stringify(fault))].join('\n') + '\n';
}

/** The faults of a schedule written by scheduleToJsonl (its header line skipped). */
export function faultsFromJsonl(text: string): ScheduledFault[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ScheduledFault | { schedule: unknown })
    .filter((line): line is ScheduledFault => 'fault' in line);
}

/** One short line per fault, for the summary. */
export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'partition':
      return `partition(${fault.shape}: ${fault.description})`;
    case 'netem':
      return `netem(${fault.member}: ${fault.delayMs}±${fault.jitterMs} ms, ${fault.lossPercent}% loss)`;
    case 'restart-operator':
      return 'restart-operator';
    default:
      return `${fault.kind}(${fault.member})`;
  }
}
