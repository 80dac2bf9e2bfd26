/**
 * A seeded simulation of correct (linearizable) registers or lists driven by concurrent clients,
 * for checking the checkers: every history it makes must be valid, and the mutations of
 * mutations.ts must make it invalid. A campaign can use it as a self-check of its pipeline.
 *
 * Each client runs one op at a time. An op takes effect at one random instant inside its
 * [invoke, complete] interval, and reads return the state at that instant, so the effect order is a
 * linearization (returned as `effectOrder`). Some ops `fail` (no effect) and some end `info`: such
 * a write takes effect or not (even after the client gave up on it), and the client goes on under
 * a new process id. Final reads of every key start after everything took effect, as in Jepsen.
 */
import type { HistoryOp, OpKind, OpResult } from './types.js';

export type SimulatedWorkload = 'register' | 'append';

export interface SimulationOptions {
  /** A seeded generator in [0, 1), e.g. `seededRandom(seed)` from the testkit. */
  random: () => number;
  workload?: SimulatedWorkload;
  /** Concurrent clients (default 5). */
  clients?: number;
  /** Keys k0..k{keys-1} (default 10). */
  keys?: number;
  /** Ops before the final reads (default 1000). */
  ops?: number;
  /** Share of reads (default 0.5). */
  readFraction?: number;
  /** Share of ops that fail (default 0.02). */
  failFraction?: number;
  /** Share of ops that end `info` (default 0.03). */
  infoFraction?: number;
  /** Op latency range in microseconds (default 100..5000). */
  latencyUs?: { min: number; max: number };
  /** Pause between a client's ops in microseconds (default 1..500). */
  thinkUs?: { min: number; max: number };
  /** One read of every key after the end (default true). */
  finalReads?: boolean;
}

export interface SimulatedHistory {
  workload: SimulatedWorkload;
  /** In id order. */
  ops: HistoryOp[];
  /** Ids of the ops that took effect, in the order they did: a linearization. */
  effectOrder: number[];
}

interface Effect {
  op: HistoryOp;
  atUs: number;
}

interface Client {
  process: number;
  nextInvokeUs: number;
}

function integerBetween(random: () => number, range: { min: number; max: number }): number {
  return range.min + Math.floor(random() * (range.max - range.min + 1));
}

function pickResult(random: () => number, failFraction: number, infoFraction: number): OpResult {
  const draw = random();
  if (draw < failFraction) return 'fail';
  return draw < failFraction + infoFraction ? 'info' : 'ok';
}

/** The client that invokes next: the one free earliest (ids then follow invocation order). */
function nextClient(clients: readonly Client[]): Client {
  let earliest = clients[0];
  for (const client of clients) if (earliest === undefined || client.nextInvokeUs < earliest.nextInvokeUs) earliest = client;
  if (earliest === undefined) throw new RangeError('a simulation needs at least one client');
  return earliest;
}

export function simulateHistory(options: SimulationOptions): SimulatedHistory {
  const random = options.random;
  const workload = options.workload ?? 'register';
  const latencyUs = options.latencyUs ?? { min: 100, max: 5000 };
  const thinkUs = options.thinkUs ?? { min: 1, max: 500 };
  const keyCount = options.keys ?? 10;
  const readFraction = options.readFraction ?? 0.5;
  if (latencyUs.min < 2 || thinkUs.min < 1) throw new RangeError('latency must be at least 2us and think time 1us');
  const [readKind, writeKind]: [OpKind, OpKind] = workload === 'register' ? ['read', 'write'] : ['readAll', 'append'];
  let nextProcess = 0;
  const clients: Client[] = Array.from({ length: options.clients ?? 5 }, () => ({
    process: nextProcess++,
    nextInvokeUs: integerBetween(random, thinkUs),
  }));
  const ops: HistoryOp[] = [];
  const effects: Effect[] = [];
  for (let id = 0; id < (options.ops ?? 1000); id += 1) {
    const client = nextClient(clients);
    const kind: OpKind = random() < readFraction ? readKind : writeKind;
    const durationUs = integerBetween(random, latencyUs);
    const result = pickResult(random, options.failFraction ?? 0.02, options.infoFraction ?? 0.03);
    const invokeUs = client.nextInvokeUs;
    const op: HistoryOp = {
      id,
      process: client.process,
      kind,
      key: `k${String(Math.floor(random() * keyCount))}`,
      value: kind === writeKind ? `${kind === 'write' ? 'v' : 'e'}${String(id)}` : null,
      invokeUs,
      completeUs: result === 'info' ? null : invokeUs + durationUs,
      result,
    };
    if (result !== 'ok') op.error = result === 'fail' ? 'refused' : 'timeout';
    ops.push(op);
    // Strictly inside the interval; an info op may take effect after the client gave up, or never.
    const effectUs = invokeUs + durationUs * (0.001 + 0.998 * random());
    const infoEffectUs = invokeUs + 2 * durationUs * (0.001 + 0.998 * random());
    if (result === 'ok') effects.push({ op, atUs: effectUs });
    // An info read returns nothing, so whether it took effect is not part of the history.
    if (result === 'info' && random() < 0.5 && kind === writeKind) effects.push({ op, atUs: infoEffectUs });
    client.nextInvokeUs = invokeUs + durationUs + integerBetween(random, thinkUs);
    if (result === 'info') client.process = nextProcess++;
  }
  if (options.finalReads ?? true) appendFinalReads(ops, effects, keyCount, readKind, nextProcess);
  return { workload, ops, effectOrder: applyEffects(effects) };
}

/** One read per key by a fresh process, after every op completed and took effect. */
function appendFinalReads(ops: HistoryOp[], effects: Effect[], keyCount: number, kind: OpKind, firstProcess: number): void {
  let endUs = 0;
  for (const op of ops) endUs = Math.max(endUs, op.completeUs ?? 0);
  for (const effect of effects) endUs = Math.max(endUs, effect.atUs);
  const invokeUs = Math.ceil(endUs) + 1;
  for (let index = 0; index < keyCount; index += 1) {
    const op: HistoryOp = {
      id: ops.length,
      process: firstProcess + index,
      kind,
      key: `k${String(index)}`,
      value: null,
      invokeUs,
      completeUs: invokeUs + 10,
      result: 'ok',
    };
    ops.push(op);
    effects.push({ op, atUs: invokeUs + 5 });
  }
}

/** Applies the effects in time order, filling in what reads returned; returns the effect order. */
function applyEffects(effects: Effect[]): number[] {
  effects.sort((a, b) => a.atUs - b.atUs || a.op.id - b.op.id);
  const registers = new Map<string, string | null>();
  const lists = new Map<string, string[]>();
  for (const { op } of effects) {
    const list = lists.get(op.key) ?? [];
    if (op.kind === 'write') registers.set(op.key, op.value);
    if (op.kind === 'append' && op.value !== null) lists.set(op.key, [...list, op.value]);
    if (op.kind === 'read' && op.result === 'ok') op.value = registers.get(op.key) ?? null;
    if (op.kind === 'readAll' && op.result === 'ok') op.values = list;
  }
  return effects.map((effect) => effect.op.id);
}
