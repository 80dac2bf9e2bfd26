/**
 * Wing & Gong's linearizability search with Lowe's improvements (G. Lowe, "Testing for
 * linearizability", 2017), as the porcupine checker does it.
 *
 * The history is a list of call and return events in time order. The search walks it from the head:
 * at a call it tries to linearize that operation now (the model must accept it in the current
 * state); if it can, the operation's call and return leave the list and the walk restarts at the
 * head. Reaching a return means that operation was not linearized before it returned: undo the last
 * choice and try the next candidate. Operations are linearized only when the walk needs them (just
 * in time), and each (set of linearized operations, state) reached is cached, so no configuration is
 * explored twice.
 *
 * The cache key does not hash a bitset of every operation: with operations numbered in call order,
 * the linearized set is {0..max} minus the few operations below `max` still waiting, which are
 * exactly the calls at the head of the list (all of them were invoked before `max` and return after
 * it). So a key costs the number of concurrent operations, not the length of the history.
 *
 * Two additions to porcupine's design keep the search near linear on concurrent histories: an op
 * the model marks `mayForce` is linearized without branching when it leaves the state unchanged (a
 * partial-order reduction: see `forcedCandidate`), and a model may refuse a step knowing which ops
 * are linearized (`onLinearize`/`onUndo`), to prune branches that cannot complete.
 *
 * An operation with `returnUs` = +infinity (an `info` write: it may take effect at any time after
 * its call, or never) has its return after every other event; the search succeeds once every
 * operation with a finite return is linearized, the others counting as never having taken effect.
 */

export interface SearchOp {
  invokeUs: number;
  /** +infinity when the operation may take effect at any time after its call, or never. */
  returnUs: number;
}

export interface SearchProblem {
  /** Sorted by invokeUs: an operation's index is its position in call order. */
  ops: readonly SearchOp[];
  initialState: number;
  /** The state after applying `op` in `state`, or -1 when the model refuses it there. States are >= 0. */
  step(state: number, op: number): number;
  /**
   * Ops that may be linearized at once, with no alternative tried, whenever the model accepts them
   * leaving the state unchanged. Sound for an op when, in any linearization where it comes later,
   * moving it to now changes no other op's outcome: a read; a register write of a value nobody
   * read, when the state is already such a value. Default: none.
   */
  mayForce?(op: number): boolean;
  /**
   * Told when an op is linearized and when that is undone (in LIFO order), for a model whose
   * `step` also depends on which ops are linearized. It must depend on nothing else, or the cache
   * of configurations would be wrong.
   */
  onLinearize?(op: number): void;
  onUndo?(op: number): void;
  /** Stop after this many search steps and answer 'unknown'. */
  maxSteps: number;
  /** How many operations of the deepest attempt to keep for the report (default 5). */
  witnessOps?: number;
}

/** Where the search got furthest before it had to give up on every order. */
export interface DeepestAttempt {
  /** How many operations the longest linearizable prefix found places. */
  linearizedCount: number;
  /** The last operations of that prefix, in linearization order (at most `witnessOps`). */
  lastLinearized: number[];
  /** The model's state after that prefix. */
  state: number;
  /** The operation that returned while it could not be linearized. */
  stuckOp: number;
  /** Other operations invoked before that return and not linearized (at most `witnessOps`). */
  pendingOps: number[];
}

export type SearchResult =
  | { outcome: 'linearizable'; steps: number }
  | { outcome: 'unknown'; steps: number }
  | { outcome: 'not-linearizable'; steps: number; deepest: DeepestAttempt };

const noEntry = -1;

/**
 * The event list as dancing links: entry 2i is the call of op i, 2i+1 its return, `head` a sentinel.
 * Removing an operation (`lift`) and putting it back (`unlift`) in LIFO order keeps the links valid.
 */
class EventList {
  readonly head: number;
  readonly next: Int32Array;
  readonly prev: Int32Array;

  constructor(ops: readonly SearchOp[]) {
    const entryCount = ops.length * 2;
    this.head = entryCount;
    this.next = new Int32Array(entryCount + 1).fill(noEntry);
    this.prev = new Int32Array(entryCount + 1).fill(noEntry);
    const timeOf = (entry: number): number => {
      const op = ops[entry >> 1];
      if (op === undefined) throw new Error(`no op for entry ${String(entry)}`);
      return (entry & 1) === 0 ? op.invokeUs : op.returnUs;
    };
    // Time order; at equal times calls first (the operations overlap), then by operation index.
    const order = Array.from({ length: entryCount }, (_, entry) => entry).sort(
      (a, b) => timeOf(a) - timeOf(b) || (a & 1) - (b & 1) || a - b,
    );
    let previous = this.head;
    for (const entry of order) {
      this.next[previous] = entry;
      this.prev[entry] = previous;
      previous = entry;
    }
  }

  lift(call: number): void {
    this.unlink(call);
    this.unlink(call + 1);
  }

  unlift(call: number): void {
    this.relink(call + 1);
    this.relink(call);
  }

  private unlink(entry: number): void {
    const before = this.at(this.prev, entry);
    const after = this.at(this.next, entry);
    this.next[before] = after;
    if (after !== noEntry) this.prev[after] = before;
  }

  private relink(entry: number): void {
    const before = this.at(this.prev, entry);
    const after = this.at(this.next, entry);
    this.next[before] = entry;
    if (after !== noEntry) this.prev[after] = entry;
  }

  at(links: Int32Array, entry: number): number {
    const linked = links[entry];
    if (linked === undefined) throw new Error(`entry ${String(entry)} out of range`);
    return linked;
  }
}

/** The cache key of (linearized set, state): see the module comment for why it is exact. */
function configurationKey(list: EventList, state: number, maxLinearized: number): string {
  let key = `${String(state)}:${String(maxLinearized)}`;
  for (let entry = list.at(list.next, list.head); entry !== noEntry; entry = list.at(list.next, entry)) {
    if ((entry & 1) === 1) continue;
    const op = entry >> 1;
    if (op > maxLinearized) break;
    key += `,${String(op)}`;
  }
  return key;
}

function assertSortedByCall(ops: readonly SearchOp[]): void {
  for (let index = 1; index < ops.length; index += 1) {
    const previous = ops[index - 1];
    const current = ops[index];
    if (previous !== undefined && current !== undefined && previous.invokeUs > current.invokeUs) {
      throw new Error(`search ops must be sorted by invokeUs (op ${String(index)})`);
    }
  }
}

interface Frame {
  call: number;
  state: number;
  maxLinearized: number;
  /** Linearized with no alternative tried (see `forcedCandidate`). */
  forced: boolean;
}

/**
 * Lowe-style search state: the event list, the stack of choices and the cache of configurations
 * (linearized set, state) already explored.
 */
class Search {
  readonly list: EventList;
  readonly cache = new Set<string>();
  readonly stack: Frame[] = [];
  state: number;
  maxLinearized = -1;
  finiteRemaining: number;
  deepest: DeepestAttempt | null = null;

  constructor(private readonly problem: SearchProblem) {
    assertSortedByCall(problem.ops);
    this.list = new EventList(problem.ops);
    this.state = problem.initialState;
    this.finiteRemaining = problem.ops.filter((op) => Number.isFinite(op.returnUs)).length;
  }

  first(): number {
    return this.list.at(this.list.next, this.list.head);
  }

  following(entry: number): number {
    return this.list.at(this.list.next, entry);
  }

  /**
   * A call among those before the first return that `mayForce` allows and the model accepts now
   * without changing the state. Linearizing it at once loses nothing: in any completion where it
   * comes later it can be moved here (every op that had to precede it is already linearized, and
   * moving it earlier breaks no real-time order), so no alternative needs a try.
   */
  forcedCandidate(): number {
    const { mayForce, step } = this.problem;
    if (mayForce === undefined) return noEntry;
    for (let entry = this.first(); entry !== noEntry && (entry & 1) === 0; entry = this.following(entry)) {
      const op = entry >> 1;
      if (mayForce(op) && step(this.state, op) === this.state) return entry;
    }
    return noEntry;
  }

  /** Linearizes the op of `call` (the model gave `nextState`); false when that configuration was explored. */
  tryLinearize(call: number, nextState: number, forced: boolean): boolean {
    const op = call >> 1;
    this.list.lift(call);
    const nextMax = Math.max(this.maxLinearized, op);
    const key = configurationKey(this.list, nextState, nextMax);
    if (this.cache.has(key)) {
      this.list.unlift(call);
      return false;
    }
    this.cache.add(key);
    this.stack.push({ call, state: this.state, maxLinearized: this.maxLinearized, forced });
    this.state = nextState;
    this.maxLinearized = nextMax;
    if (this.isFinite(op)) this.finiteRemaining -= 1;
    this.problem.onLinearize?.(op);
    return true;
  }

  /**
   * Undoes choices up to and including the last one that had alternatives; returns the entry to
   * try next, or noEntry when no choice is left (not linearizable).
   */
  backtrack(): number {
    for (let frame = this.stack.pop(); frame !== undefined; frame = this.stack.pop()) {
      this.list.unlift(frame.call);
      this.problem.onUndo?.(frame.call >> 1);
      if (this.isFinite(frame.call >> 1)) this.finiteRemaining += 1;
      this.state = frame.state;
      this.maxLinearized = frame.maxLinearized;
      if (!frame.forced) return this.following(frame.call);
    }
    return noEntry;
  }

  noteDeepest(stuckOp: number): void {
    if (this.deepest !== null && this.deepest.linearizedCount >= this.stack.length) return;
    const witnessOps = this.problem.witnessOps ?? 5;
    const pendingOps: number[] = [];
    for (let at = this.first(); at !== noEntry && pendingOps.length < witnessOps; at = this.following(at)) {
      if (at === stuckOp * 2 + 1) break;
      if ((at & 1) === 0 && at >> 1 !== stuckOp) pendingOps.push(at >> 1);
    }
    this.deepest = {
      linearizedCount: this.stack.length,
      lastLinearized: this.stack.slice(-witnessOps).map((frame) => frame.call >> 1),
      state: this.state,
      stuckOp,
      pendingOps,
    };
  }

  private isFinite(op: number): boolean {
    return Number.isFinite(this.problem.ops[op]?.returnUs);
  }
}

/** Searches for a linearization of `problem.ops`; see the module comment. */
export function searchLinearization(problem: SearchProblem): SearchResult {
  const search = new Search(problem);
  let entry = search.first();
  let atNewConfiguration = true;
  let steps = 0;
  const notLinearizable = (): SearchResult => {
    if (search.deepest === null) throw new Error('search failed before reaching any return');
    return { outcome: 'not-linearizable', steps, deepest: search.deepest };
  };
  while (search.finiteRemaining > 0) {
    if (steps >= problem.maxSteps) return { outcome: 'unknown', steps };
    steps += 1;
    if (atNewConfiguration) {
      atNewConfiguration = false;
      const forced = search.forcedCandidate();
      if (forced !== noEntry) {
        if (search.tryLinearize(forced, search.state, true)) {
          atNewConfiguration = true;
          entry = search.first();
          continue;
        }
        // The forced move leads to an explored configuration: this one is dead too.
        entry = search.backtrack();
        if (entry === noEntry) return notLinearizable();
        continue;
      }
    }
    // An op with a finite return is still in the list and the walk stops at its return: never -1.
    if ((entry & 1) === 0) {
      const nextState = problem.step(search.state, entry >> 1);
      if (nextState >= 0 && search.tryLinearize(entry, nextState, false)) {
        entry = search.first();
        atNewConfiguration = true;
      } else {
        entry = search.following(entry);
      }
      continue;
    }
    search.noteDeepest(entry >> 1);
    entry = search.backtrack();
    if (entry === noEntry) return notLinearizable();
  }
  return { outcome: 'linearizable', steps };
}
