// Proves, on 3 real ballast-node processes, each in its own network namespace (a bridge and veths;
// faults are nftables rules that silently drop packets both ways), with a real etcd (backups=1,
// FULL_SYNC, 16 partitions), that a network partition around one partition's primary loses no
// acknowledged write and serves no stale read. Clients stay in the root namespace and reach every
// node throughout, including the cut-off primary: raw RESP clients keep writing increasing values
// (one writer per key) to the old primary and to whichever node CLUSTER SLOTS / MOVED names, and keep
// reading from the old primary and from the current primary. Every operation goes into a history
// (operation, key, value, node, invoke and complete time, ok / error / timeout), checked after the
// partition heals and the cluster is healthy again:
// - Fault A: the primary is cut off from its backup and the other node, but still reaches etcd. It
//   may drop its backup from the ISR by CAS and keep serving alone (allowed), or lose the partition
//   to its backup. Invariants: (1) every acknowledged write is visible — each key's final value is at
//   least its largest acknowledged value and its largest value ever read; (2) no read returns a value
//   older than a write acknowledged, or a value read, before the read was invoked; and once the map
//   names another primary, the old one serves nothing invoked later.
// - Fault B: the primary is cut off from its peers AND from etcd. Invariants: (1) and (2), and:
//   (3) the old primary acknowledges no write sent after the cut, none at all later than its lease
//   (1 s) plus a margin, serves no read sent after its lease ran out, and refuses writes (TRYAGAIN,
//   no lease) before the cut heals; (4) its backup becomes primary (CAS, term + 1) and acknowledges
//   writes while the old primary is still cut off.
// Times (last acknowledgement, first refusal, takeover, first write on the new primary) are printed;
// apart from the lease bound in (3), which is a safety property, none is asserted.
import { keyHashSlot, partitionOfSlot, REPLICATION_DEFAULTS, type ClusterMap, type PartitionAssignment } from '@ballast/cluster';
import { openStore, type ClusterMapStore } from '@ballast/cluster-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startNetnsCluster, type NetnsCluster, type NetnsMember, type RespValue } from '@ballast/testkit';

const PARTITIONS = 16;
const LEASE_MS = REPLICATION_DEFAULTS.leaseMs;
/** Client-side: an operation without a reply for this long is given up (outcome: timeout). */
const OPERATION_TIMEOUT_MS = 2000;
/**
 * Probes of the old primary give up sooner: a write it accepts but cannot commit would otherwise
 * keep the prober from seeing when it starts refusing.
 */
const PROBE_TIMEOUT_MS = 250;
/** Delivery of a reply to a busy test process: added to the lease in the bound of check (3). */
const ACKNOWLEDGEMENT_MARGIN_MS = 1000;
const WARMUP_MS = 1500;
/** How long the partition lasts after the map changed for the chosen partition. */
const FAULT_TAIL_MS = 2500;
/** Upper bound on waiting for that map change (a takeover that never comes fails check 4). */
const MAP_CHANGE_BOUND_MS = 15_000;
/** Workload kept running on the healed, healthy cluster. */
const AFTER_HEAL_MS = 1500;
const PAUSE_BETWEEN_OPERATIONS_MS = 5;
const KEYS_PER_WRITER_KIND = 3;
const OLD_PRIMARY_READERS = 3;

type Outcome = 'ok' | 'error' | 'timeout';

interface Operation {
  kind: 'write' | 'read';
  client: string;
  key: string;
  /** Write: the value sent. Read: the value returned (0 for a missing key), or null without one. */
  value: number | null;
  node: string;
  invokeMs: number;
  completeMs: number;
  outcome: Outcome;
  /** Error reply or why there was no reply. */
  detail: string;
}

interface MapChange {
  atMs: number;
  version: number;
  assignment: PartitionAssignment;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function errorText(reply: RespValue): string | null {
  return typeof reply === 'object' && reply !== null && 'error' in reply && typeof reply.error === 'string' ? reply.error : null;
}

/** One connection per client loop and node, opened again after a timeout or a lost connection. */
class NodeConnection {
  private client: RawClient | null = null;

  constructor(readonly member: NetnsMember) {}

  /** 'unsent': the command never left (it certainly did not run); 'lost': no reply (it may have run). */
  async call(args: string[], timeoutMs: number): Promise<{ reply: RespValue } | { unsent: string } | { lost: string }> {
    if (this.client === null) {
      const connecting = RawClient.connect(this.member.port, this.member.host);
      const timer = sleep(timeoutMs).then(() => null);
      const client = await Promise.race([connecting, timer]).catch((error: unknown) => (error as Error).message);
      if (client === null || typeof client === 'string') {
        void connecting.then((late) => late.close(), () => undefined);
        return { unsent: client ?? 'connect timeout' };
      }
      this.client = client;
    }
    try {
      this.client.send(...args);
      return { reply: await this.client.reply(timeoutMs) };
    } catch (error) {
      this.close();
      return { lost: (error as Error).message === 'no reply in time' ? 'timeout' : (error as Error).message };
    }
  }

  close(): void {
    this.client?.close();
    this.client = null;
  }
}

/** Where a slot's primary is, per CLUSTER SLOTS, asking the nodes in turn (including a cut-off one). */
class SlotRouter {
  private next = 0;
  private readonly connections: NodeConnection[];

  constructor(private readonly members: readonly NetnsMember[]) {
    this.connections = members.map((member) => new NodeConnection(member));
  }

  byAddress(address: string): NetnsMember | null {
    const host = address.slice(0, address.lastIndexOf(':'));
    return this.members.find((member) => member.host === host) ?? null;
  }

  async primaryOf(slot: number): Promise<NetnsMember | null> {
    const connection = this.connections[this.next++ % this.connections.length]!;
    const result = await connection.call(['CLUSTER', 'SLOTS'], 1000);
    if (!('reply' in result) || !Array.isArray(result.reply)) return null;
    for (const entry of result.reply) {
      if (!Array.isArray(entry)) continue;
      const [first, last, primary] = entry;
      if (typeof first !== 'number' || typeof last !== 'number' || slot < first || slot > last || !Array.isArray(primary)) continue;
      const host = Buffer.isBuffer(primary[0]) ? primary[0].toString('utf8') : String(primary[0]);
      return this.members.find((member) => member.host === host) ?? null;
    }
    return null;
  }

  close(): void {
    for (const connection of this.connections) connection.close();
  }
}

/** Writers and readers on the keys of one partition, recording every operation. */
class Workload {
  readonly history: Operation[] = [];
  private readonly sent = new Map<string, number>();
  private readonly loops: Array<Promise<void>> = [];
  private readonly closers: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly members: readonly NetnsMember[],
    private readonly clock: () => number,
  ) {}

  /** A writer that only ever writes `key` on `member`. */
  pinnedWriter(name: string, key: string, member: NetnsMember, timeoutMs = OPERATION_TIMEOUT_MS): void {
    const connection = new NodeConnection(member);
    this.closers.push(() => connection.close());
    this.loops.push(
      this.loop(async () => {
        await this.execute(name, 'write', key, member, connection, timeoutMs);
      }),
    );
  }

  /** A reader that reads `keys` in turn on `member`. */
  pinnedReader(name: string, keys: readonly string[], member: NetnsMember, timeoutMs = OPERATION_TIMEOUT_MS): void {
    const connection = new NodeConnection(member);
    this.closers.push(() => connection.close());
    let index = 0;
    this.loops.push(
      this.loop(async () => {
        await this.execute(name, 'read', keys[index++ % keys.length]!, member, connection, timeoutMs);
      }),
    );
  }

  /**
   * A writer or reader that follows the primary: CLUSTER SLOTS, MOVED, and asks again after a
   * failure. With `gate`, a writer writes each key once, then waits for the gate to open.
   */
  following(name: string, kind: 'write' | 'read', keys: readonly string[], gate?: () => boolean): void {
    const router = new SlotRouter(this.members);
    const connections = new Map(this.members.map((member) => [member.nodeId, new NodeConnection(member)]));
    this.closers.push(() => {
      router.close();
      for (const connection of connections.values()) connection.close();
    });
    const targets = new Map<string, NetnsMember | null>();
    const written = new Set<string>();
    let index = 0;
    this.loops.push(
      this.loop(async () => {
        let key = keys[index % keys.length]!;
        if (gate !== undefined && !gate()) {
          const unwritten = keys.find((candidate) => !written.has(candidate));
          if (unwritten === undefined) {
            await sleep(20);
            return;
          }
          key = unwritten;
        } else {
          index++;
        }
        let target = targets.get(key) ?? null;
        if (target === null) {
          target = await router.primaryOf(keyHashSlot(Buffer.from(key)));
          if (target === null) {
            await sleep(50);
            return;
          }
        }
        const operation = await this.execute(name, kind, key, target, connections.get(target.nodeId)!, OPERATION_TIMEOUT_MS);
        if (operation.outcome === 'ok') {
          targets.set(key, target);
          written.add(key);
        } else if (operation.detail.startsWith('MOVED ')) {
          targets.set(key, router.byAddress(operation.detail.split(' ')[2] ?? ''));
        } else {
          targets.set(key, null);
        }
      }),
    );
  }

  private async loop(step: () => Promise<void>): Promise<void> {
    while (!this.stopped) {
      await step();
      await sleep(PAUSE_BETWEEN_OPERATIONS_MS);
    }
  }

  private async execute(
    client: string,
    kind: 'write' | 'read',
    key: string,
    member: NetnsMember,
    connection: NodeConnection,
    timeoutMs: number,
  ): Promise<Operation> {
    // One writer per key and one write at a time: values only increase per key.
    const value = kind === 'write' ? (this.sent.get(key) ?? 0) + 1 : null;
    if (value !== null) this.sent.set(key, value);
    const invokeMs = this.clock();
    const result = await connection.call(kind === 'write' ? ['SET', key, String(value)] : ['GET', key], timeoutMs);
    const completeMs = this.clock();
    const operation: Operation = { kind, client, key, value, node: member.nodeId, invokeMs, completeMs, outcome: 'ok', detail: '' };
    if ('unsent' in result) {
      operation.outcome = 'error';
      operation.detail = `not sent: ${result.unsent}`;
    } else if ('lost' in result) {
      operation.outcome = 'timeout';
      operation.detail = result.lost;
    } else {
      const error = errorText(result.reply);
      if (error !== null) {
        operation.outcome = 'error';
        operation.detail = error;
      } else if (kind === 'write') {
        if (result.reply !== 'OK') throw new Error(`SET ${key} replied ${JSON.stringify(result.reply)}`);
      } else {
        const text = Buffer.isBuffer(result.reply) ? result.reply.toString('utf8') : result.reply;
        if (text !== null && (typeof text !== 'string' || !/^\d+$/.test(text))) throw new Error(`GET ${key} replied ${JSON.stringify(result.reply)}`);
        operation.value = text === null ? 0 : Number(text);
      }
    }
    if (kind === 'read' && operation.outcome !== 'ok') operation.value = null;
    this.history.push(operation);
    return operation;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    for (const close of this.closers) close();
  }
}

/** Keys hashing into `partition`. */
function keysInPartition(partition: number, prefix: string, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}:${i}`;
    if (partitionOfSlot(keyHashSlot(Buffer.from(key)), PARTITIONS) === partition) keys.push(key);
  }
  return keys;
}

/** The largest `value` of items with `time` strictly before `before` (items sorted by time, with prefix maxima). */
function maxBefore(times: readonly number[], prefixMax: readonly number[], before: number): { value: number; index: number } {
  let low = 0;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (times[middle]! < before) low = middle + 1;
    else high = middle;
  }
  return low === 0 ? { value: 0, index: -1 } : { value: prefixMax[low - 1]!, index: low - 1 };
}

function sortedWithPrefixMax(operations: readonly Operation[]): { operations: Operation[]; times: number[]; prefixMax: number[]; argMax: number[] } {
  const sorted = [...operations].sort((a, b) => a.completeMs - b.completeMs);
  const prefixMax: number[] = [];
  const argMax: number[] = [];
  let best = 0;
  let bestIndex = -1;
  sorted.forEach((operation, index) => {
    if (operation.value! > best) {
      best = operation.value!;
      bestIndex = index;
    }
    prefixMax.push(best);
    argMax.push(bestIndex);
  });
  return { operations: sorted, times: sorted.map((operation) => operation.completeMs), prefixMax, argMax };
}

const describeOperation = (operation: Operation): string =>
  `${operation.kind} ${operation.key}=${String(operation.value)} on ${operation.node} by ${operation.client} ` +
  `[${operation.invokeMs.toFixed(0)}, ${operation.completeMs.toFixed(0)}] ms ${operation.outcome}${operation.detail === '' ? '' : ` (${operation.detail})`}`;

/** Checks (1) and (2) of the header; returns the violations (empty when none). */
function checkHistory(history: readonly Operation[], finals: ReadonlyMap<string, number>): string[] {
  const violations: string[] = [];
  const keys = [...new Set(history.map((operation) => operation.key))];
  for (const key of keys) {
    const writes = history.filter((operation) => operation.key === key && operation.kind === 'write');
    const acknowledged = sortedWithPrefixMax(writes.filter((operation) => operation.outcome === 'ok'));
    const reads = sortedWithPrefixMax(history.filter((operation) => operation.key === key && operation.kind === 'read' && operation.outcome === 'ok'));
    const largestSent = Math.max(0, ...writes.map((operation) => operation.value!));
    const largestAcknowledged = acknowledged.prefixMax[acknowledged.prefixMax.length - 1] ?? 0;
    const largestRead = reads.prefixMax[reads.prefixMax.length - 1] ?? 0;
    const final = finals.get(key);
    // (1) No acknowledged write lost; nothing a read showed is lost either.
    if (final === undefined) violations.push(`(1) ${key}: no final value could be read`);
    else {
      if (final < largestAcknowledged) violations.push(`(1) ${key}: final value ${final} < largest acknowledged ${largestAcknowledged} — an acknowledged write was lost`);
      if (final < largestRead) violations.push(`(1) ${key}: final value ${final} < largest value read ${largestRead} — a value a client saw was lost`);
      if (final > largestSent) violations.push(`(1) ${key}: final value ${final} was never written (largest sent ${largestSent})`);
    }
    // (2) No stale read: nothing older than what was acknowledged, or read, before the read began.
    for (const read of reads.operations) {
      const afterWrite = maxBefore(acknowledged.times, acknowledged.prefixMax, read.invokeMs);
      if (read.value! < afterWrite.value) {
        const write = acknowledged.operations[acknowledged.argMax[afterWrite.index]!]!;
        violations.push(`(2) stale read: ${describeOperation(read)} after ${describeOperation(write)}`);
      }
      const afterRead = maxBefore(reads.times, reads.prefixMax, read.invokeMs);
      if (read.value! < afterRead.value) {
        const earlier = reads.operations[reads.argMax[afterRead.index]!]!;
        violations.push(`(2) read went back in time: ${describeOperation(read)} after ${describeOperation(earlier)}`);
      }
      const sentBefore = Math.max(0, ...writes.filter((write) => write.invokeMs < read.completeMs).map((write) => write.value!));
      if (read.value! > sentBefore) violations.push(`(2) read a value not yet written: ${describeOperation(read)}`);
    }
  }
  return violations;
}

function countsByNode(history: readonly Operation[]): string {
  const rows = new Map<string, Record<string, number>>();
  for (const operation of history) {
    const row = rows.get(operation.node) ?? {};
    const name = `${operation.kind}:${operation.outcome}`;
    row[name] = (row[name] ?? 0) + 1;
    rows.set(operation.node, row);
  }
  return [...rows]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([node, row]) => {
      const cell = (kind: string): string => `${row[`${kind}:ok`] ?? 0}/${row[`${kind}:error`] ?? 0}/${row[`${kind}:timeout`] ?? 0}`;
      return `    ${node}: writes ok/error/timeout ${cell('write')}, reads ok/error/timeout ${cell('read')}`;
    })
    .join('\n');
}

/** Kinds of error replies and timeouts per node, with when they were invoked (relative to `zeroMs`). */
function errorKinds(history: readonly Operation[], zeroMs: number): string {
  const kinds = new Map<string, { count: number; firstMs: number; lastMs: number }>();
  for (const operation of history) {
    if (operation.outcome === 'ok') continue;
    const reason = /\((no-lease|catching-up|not-primary|inactive|lost|no-map|read-only)\)/.exec(operation.detail)?.[1];
    const kind = `${operation.node} ${operation.kind} ${operation.outcome} ${operation.detail.split(' ')[0] ?? ''}${reason === undefined ? '' : ` (${reason})`}`;
    const entry = kinds.get(kind) ?? { count: 0, firstMs: Infinity, lastMs: -Infinity };
    entry.count++;
    entry.firstMs = Math.min(entry.firstMs, operation.invokeMs - zeroMs);
    entry.lastMs = Math.max(entry.lastMs, operation.invokeMs - zeroMs);
    kinds.set(kind, entry);
  }
  if (kinds.size === 0) return '    none';
  return [...kinds]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, { count, firstMs, lastMs }]) => `    ${kind}: ${count}, invoked ${firstMs.toFixed(0)}..${lastMs.toFixed(0)} ms`)
    .join('\n');
}

/** Log lines of a node worth reading after a failure: warnings and leadership changes. */
function interestingLog(member: NetnsMember, sinceWallMs: number): string {
  const lines = (member.process?.output() ?? '').split('\n');
  return lines
    .filter((line) => {
      try {
        const record = JSON.parse(line) as { level?: number; msg?: string; time?: number };
        return (record.time ?? 0) >= sinceWallMs && ((record.level ?? 0) >= 40 || /leading|snapshot|activat/.test(record.msg ?? ''));
      } catch {
        return line.trim() !== '';
      }
    })
    .slice(-60)
    .join('\n');
}

async function finalValues(members: readonly NetnsMember[], keys: readonly string[]): Promise<Map<string, number>> {
  const router = new SlotRouter(members);
  const finals = new Map<string, number>();
  try {
    for (const key of keys) {
      for (let attempt = 0; attempt < 30 && !finals.has(key); attempt++) {
        const target = await router.primaryOf(keyHashSlot(Buffer.from(key)));
        if (target === null) continue;
        const connection = new NodeConnection(target);
        const result = await connection.call(['GET', key], OPERATION_TIMEOUT_MS);
        connection.close();
        if ('reply' in result && errorText(result.reply) === null) {
          const reply = result.reply;
          finals.set(key, reply === null ? 0 : Number(Buffer.isBuffer(reply) ? reply.toString('utf8') : reply));
        } else {
          await sleep(100);
        }
      }
    }
  } finally {
    router.close();
  }
  return finals;
}

interface TrialResult {
  partition: number;
  oldPrimary: NetnsMember;
  backup: string;
  isolationMs: number;
  healMs: number;
  history: Operation[];
  changes: MapChange[];
  finals: Map<string, number>;
  violations: string[];
}

describe('network partition around a primary (3 nodes in network namespaces, etcd, backups=1, FULL_SYNC)', () => {
  let cluster: NetnsCluster | undefined;
  let store: ClusterMapStore | undefined;

  beforeAll(async () => {
    cluster = await startNetnsCluster({ partitions: PARTITIONS, backups: 1, writeSynchronization: 'FULL_SYNC' });
    store = openStore(cluster.localStoreUrl);
  }, 90_000);

  afterAll(async () => {
    await store?.close().catch(() => undefined);
    await cluster?.destroy();
  }, 60_000);

  /**
   * Runs the workload on one partition led by `preferred` (or another node when it leads none),
   * cuts that primary off (from the store too when `cutStore`), heals, and checks (1) and (2).
   */
  async function trial(label: string, preferred: number, cutStore: boolean): Promise<TrialResult> {
    const started = cluster!;
    await started.waitHealthy({ timeoutMs: 45_000 });
    const map = (await store!.read())!;
    const order = [started.members[preferred]!, ...started.members.filter((_, index) => index !== preferred)];
    let oldPrimary: NetnsMember | undefined;
    let partition = -1;
    for (const member of order) {
      partition = map.partitions.findIndex((assignment) => assignment.primary === member.nodeId && assignment.isr.length === assignment.replicas.length);
      if (partition >= 0) {
        oldPrimary = member;
        break;
      }
    }
    if (oldPrimary === undefined) throw new Error(`no partition has a primary and a full ISR: ${JSON.stringify(map.partitions)}`);
    const victim = oldPrimary;
    const initial = map.partitions[partition]!;
    const backup = initial.isr.find((node) => node !== victim.nodeId)!;

    const origin = performance.now();
    const wallOrigin = Date.now();
    const clock = (): number => performance.now() - origin;
    const changes: MapChange[] = [{ atMs: 0, version: map.version, assignment: initial }];
    const stopWatch = store!.watch((next: ClusterMap) => {
      const assignment = next.partitions[partition];
      const previous = changes[changes.length - 1]!.assignment;
      if (assignment !== undefined && JSON.stringify(assignment) !== JSON.stringify(previous)) {
        changes.push({ atMs: clock(), version: next.version, assignment });
      }
    });

    // Keys written all along: on the old primary only, or wherever the primary is.
    const pinnedKeys = keysInPartition(partition, `${label}:pinned`, KEYS_PER_WRITER_KIND);
    const followingKeys = keysInPartition(partition, `${label}:following`, KEYS_PER_WRITER_KIND);
    // Keys written once before the cut, then again (wherever the primary is) only once the map
    // changed: no write of theirs is in flight at the cut, so the old primary's reads of them are
    // never held back waiting for a commit — they show exactly when it stops serving reads, and
    // whether it ever serves the old value after the new primary acknowledged a newer one.
    const lateKeys = keysInPartition(partition, `${label}:late`, 2);
    const probeKey = keysInPartition(partition, `${label}:probe`, 1)[0]!;
    const allKeys = [...pinnedKeys, ...followingKeys, ...lateKeys, probeKey];
    const workload = new Workload(started.members, clock);
    pinnedKeys.forEach((key, index) => workload.pinnedWriter(`pinned-writer-${index}`, key, victim));
    workload.pinnedWriter('write-prober', probeKey, victim, PROBE_TIMEOUT_MS);
    followingKeys.forEach((key, index) => workload.following(`following-writer-${index}`, 'write', [key]));
    let mapChanged = false;
    workload.following('late-writer', 'write', lateKeys, () => mapChanged);
    for (let index = 0; index < OLD_PRIMARY_READERS; index++) workload.pinnedReader(`pinned-reader-${index}`, allKeys, victim);
    workload.pinnedReader('read-prober', lateKeys, victim, PROBE_TIMEOUT_MS);
    workload.following('following-reader', 'read', allKeys);

    let isolationMs = Number.NaN;
    let healMs = Number.NaN;
    let isolated = false;
    try {
      await sleep(WARMUP_MS);
      await started.isolate(victim, { store: cutStore });
      isolated = true;
      // Taken once the rules are in place: anything invoked later was sent into the partition.
      isolationMs = clock();
      const deadline = isolationMs + MAP_CHANGE_BOUND_MS;
      while (changes.length === 1 && clock() < deadline) await sleep(50);
      mapChanged = true;
      await sleep(FAULT_TAIL_MS);
    } finally {
      mapChanged = true;
      if (isolated) {
        await started.heal();
        healMs = clock();
      }
    }
    try {
      await started.waitHealthy({ timeoutMs: 45_000 });
      await sleep(AFTER_HEAL_MS);
    } finally {
      await workload.stop();
      stopWatch();
    }
    const finals = await finalValues(started.members, allKeys);
    const history = workload.history;
    const violations = checkHistory(history, finals);

    // Once the map named another primary, the old one must serve nothing invoked later (until the
    // map makes it primary again, which nothing in this test does).
    const takeover = changes.find((change) => change.assignment.primary !== victim.nodeId);
    if (takeover !== undefined) {
      const back = changes.find((change) => change.atMs > takeover.atMs && change.assignment.primary === victim.nodeId);
      const servedLate = history.filter(
        (operation) => operation.node === victim.nodeId && operation.outcome === 'ok' && operation.invokeMs > takeover.atMs && operation.invokeMs < (back?.atMs ?? Infinity),
      );
      for (const operation of servedLate.slice(0, 10)) {
        violations.push(`deposed primary served after the map named ${String(takeover.assignment.primary)} (at ${takeover.atMs.toFixed(0)} ms): ${describeOperation(operation)}`);
      }
    }

    const relative = (ms: number | undefined): string => (ms === undefined ? 'never' : `${(ms - isolationMs).toFixed(0)} ms`);
    const timeline = changes
      .map((change) => `    ${relative(change.atMs).padStart(9)}  v${change.version} primary=${String(change.assignment.primary)} isr=[${change.assignment.isr.join(',')}] term=${change.assignment.term}`)
      .join('\n');
    console.log(
      [
        `[${label}] partition ${partition}: primary ${victim.nodeId}, backup ${backup}; cut off from peers${cutStore ? ' and etcd' : ''} at t=0; healed at ${relative(healMs)}`,
        `  map of partition ${partition} (times relative to the cut):`,
        timeline,
        `  history: ${history.length} operations on ${allKeys.length} keys; per node:`,
        countsByNode(history),
        '  errors and timeouts:',
        errorKinds(history, isolationMs),
        `  final values: ${allKeys.map((key) => `${key}=${String(finals.get(key))}`).join(' ')}`,
        `  violations: ${violations.length === 0 ? 'none' : `\n    ${violations.slice(0, 30).join('\n    ')}`}`,
      ].join('\n'),
    );
    if (violations.length > 0) {
      for (const member of started.members) console.log(`--- log of ${member.nodeId}\n${interestingLog(member, wallOrigin)}`);
    }
    return { partition, oldPrimary: victim, backup, isolationMs, healMs, history, changes, finals, violations };
  }

  it('fault: a primary is cut off from its backup and the other node but still reaches etcd; invariant: no acknowledged write lost, no stale read', async () => {
    const result = await trial('a', 0, false);
    const last = result.changes[result.changes.length - 1]!;
    const shrunk = result.changes.find((change) => change.assignment.primary === result.oldPrimary.nodeId && !change.assignment.isr.includes(result.backup));
    const takeover = result.changes.find((change) => change.assignment.primary !== result.oldPrimary.nodeId);
    const acknowledgedByOld = result.history.filter((operation) => operation.kind === 'write' && operation.node === result.oldPrimary.nodeId && operation.outcome === 'ok' && operation.invokeMs > result.isolationMs && operation.invokeMs < result.healMs);
    const firstAcknowledged = acknowledgedByOld.reduce((earliest, operation) => Math.min(earliest, operation.completeMs), Infinity);
    console.log(
      `[a] outcome: ${takeover !== undefined ? `backup ${String(takeover.assignment.primary)} took over at ${(takeover.atMs - result.isolationMs).toFixed(0)} ms` : shrunk !== undefined ? `the old primary dropped ${result.backup} from the ISR at ${(shrunk.atMs - result.isolationMs).toFixed(0)} ms and kept serving alone` : 'no map change'}; ` +
        `writes sent into the partition and acknowledged by the old primary: ${acknowledgedByOld.length}` +
        `${acknowledgedByOld.length === 0 ? '' : `, the first at ${(firstAcknowledged - result.isolationMs).toFixed(0)} ms`}; final map: primary=${String(last.assignment.primary)} isr=[${last.assignment.isr.join(',')}]`,
    );
    expect(result.violations).toEqual([]);
    // Something happened to the partition: the ISR shrank or the backup took over.
    expect(shrunk ?? takeover).toBeDefined();
  }, 120_000);

  it('fault: a primary is cut off from its peers and from etcd; invariant: its lease lapses, a backup takes over, no acknowledged write lost, no stale read', async () => {
    const result = await trial('b', 1, true);
    const { history, isolationMs, healMs, oldPrimary } = result;
    const old = oldPrimary.nodeId;
    const onOld = history.filter((operation) => operation.node === old && operation.invokeMs < healMs);
    const acknowledgedWrites = onOld.filter((operation) => operation.kind === 'write' && operation.outcome === 'ok');
    const lastAcknowledged = acknowledgedWrites.reduce<Operation | undefined>((latest, operation) => (latest === undefined || operation.completeMs > latest.completeMs ? operation : latest), undefined);
    const earliest = (operations: Operation[]): Operation | undefined => operations.reduce<Operation | undefined>((first, operation) => (first === undefined || operation.invokeMs < first.invokeMs ? operation : first), undefined);
    const latest = (operations: Operation[]): Operation | undefined => operations.reduce<Operation | undefined>((last, operation) => (last === undefined || operation.invokeMs > last.invokeMs ? operation : last), undefined);
    const refusedForLease = onOld.filter((operation) => operation.invokeMs > isolationMs && operation.detail.includes('(no-lease)'));
    const firstRefusal = earliest(refusedForLease.filter((operation) => operation.kind === 'write'));
    const firstReadRefusal = earliest(refusedForLease.filter((operation) => operation.kind === 'read'));
    const readsAfterLease = onOld.filter((operation) => operation.kind === 'read' && operation.outcome === 'ok' && operation.invokeMs > isolationMs + LEASE_MS);
    const lastRead = latest(onOld.filter((operation) => operation.kind === 'read' && operation.outcome === 'ok'));
    const takeover = result.changes.find((change) => change.assignment.primary !== old);
    const newPrimary = takeover?.assignment.primary ?? null;
    const firstOnNew = history.find((operation) => operation.kind === 'write' && operation.outcome === 'ok' && operation.node === newPrimary && takeover !== undefined && operation.invokeMs >= takeover.atMs - 100);
    const relative = (operation: Operation | undefined, at: 'invokeMs' | 'completeMs'): string => (operation === undefined ? 'never' : `${(operation[at] - isolationMs).toFixed(0)} ms`);
    console.log(
      [
        `[b] old primary ${old}: last acknowledged write invoked ${relative(lastAcknowledged, 'invokeMs')}, completed ${relative(lastAcknowledged, 'completeMs')} after the cut;`,
        `    last read it served: invoked ${relative(lastRead, 'invokeMs')}; first read refused for want of a lease: invoked ${relative(firstReadRefusal, 'invokeMs')};` +
          ` first write refused so: invoked ${relative(firstRefusal, 'invokeMs')}`,
        `    takeover: ${takeover === undefined ? 'none' : `${String(newPrimary)} at term ${takeover.assignment.term}, seen in the map ${(takeover.atMs - isolationMs).toFixed(0)} ms after the cut`};` +
          ` first acknowledged write on the new primary: invoked ${relative(firstOnNew, 'invokeMs')}, completed ${relative(firstOnNew, 'completeMs')}`,
      ].join('\n'),
    );
    expect(result.violations).toEqual([]);
    // (3) Nothing sent into the partition is acknowledged by the old primary (its backup never saw
    // it and the ISR cannot change without etcd), nothing at all later than lease + margin, and no
    // read is served after the lease ran out; it refuses writes before the cut heals.
    expect(acknowledgedWrites.filter((operation) => operation.invokeMs > isolationMs).map(describeOperation)).toEqual([]);
    expect(acknowledgedWrites.filter((operation) => operation.completeMs > isolationMs + LEASE_MS + ACKNOWLEDGEMENT_MARGIN_MS).map(describeOperation)).toEqual([]);
    expect(readsAfterLease.map(describeOperation)).toEqual([]);
    expect(firstRefusal).toBeDefined();
    // (4) The backup took over (term + 1) and acknowledged writes while the old primary was cut off.
    expect(takeover?.assignment.primary).toBe(result.backup);
    expect(takeover?.assignment.term).toBe(result.changes[0]!.assignment.term + 1);
    expect(takeover!.atMs).toBeLessThan(healMs);
    expect(firstOnNew).toBeDefined();
    expect(firstOnNew!.invokeMs).toBeLessThan(healMs);
  }, 120_000);
});
