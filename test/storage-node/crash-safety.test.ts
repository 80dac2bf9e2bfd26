// Fault: SIGKILL (kill -9) of ballast-node during a pipelined write storm (SET, HSET, INCR, DEL from
// several connections), repeated on the same data directory, at a random moment after acks arrive.
// Invariants, checked after every restart (--durability sync):
// 1. No acknowledged write is lost: every key holds the value of its last acknowledged write, or of a
//    write sent after it (sent but unacknowledged writes may or may not have survived).
// 2. Each connection's writes survive as a prefix of what it sent: if a later write survived, so
//    did every earlier one (LMDB recovers a prefix of the batch sequence).
// 3. The INCR counter is ≥ its last acknowledged (and last observed) value and ≤ the INCRs sent.
// 4. Counters agree with data: DBSIZE (persisted per-partition key counts) equals the number of keys
//    a full SCAN finds, and SCAN finds no key nobody wrote.
import { afterAll, describe, expect, it } from 'vitest';
import {
  encodeCommand,
  type NodeProcess,
  RawClient,
  removeDirectory,
  type RespValue,
  seededRandom,
  startNode,
  temporaryDirectory,
} from '@ballast/testkit';

const CYCLES = 20;
const CONNECTIONS = 4;
const STRING_KEYS_PER_CONNECTION = 40;
const HASH_KEYS_PER_CONNECTION = 20;
const HASH_FIELDS = 6;
const COUNTER_KEY = 'crash:counter';
/** Replies a connection may owe before it sends more (pipeline depth). */
const OUTSTANDING_MAX = 400;
/** Give up waiting for the kill trigger after this long in one cycle (slow machine). */
const STORM_MAX_MS = 15_000;
const SEED = Number(process.env.BALLAST_TEST_SEED ?? 20_240_601);


/** A key's state in canonical form: '-' absent, 'S:<value>' string, 'H:<json of sorted fields>'. */
type KeyState = string;
const ABSENT: KeyState = '-';

function hashState(fields: Map<string, string>): KeyState {
  return `H:${JSON.stringify([...fields].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
}

function parseHashState(state: KeyState): Map<string, string> {
  return state.startsWith('H:') ? new Map(JSON.parse(state.slice(2)) as Array<[string, string]>) : new Map();
}

interface KeyWrite {
  /** Position of the write in its connection's stream this cycle (0-based). */
  position: number;
  /** The key's state once this write is applied. */
  after: KeyState;
}

interface Operation {
  args: string[];
  /** Key written (null for INCR on the shared counter). */
  key: string | null;
  after: KeyState | null;
  expectedReply: 'OK' | 'integer';
}

interface ConnectionStream {
  index: number;
  operations: Operation[];
  acknowledged: number;
  /** Writes per key this cycle, in order. */
  writes: Map<string, KeyWrite[]>;
}

describe('crash safety: kill -9 during a pipelined write storm (durability sync)', () => {
  const dataDir = temporaryDirectory('ballast-crash-');
  let node: NodeProcess | null = null;

  afterAll(async () => {
    await node?.kill();
    removeDirectory(dataDir);
  });

  it(`loses no acknowledged write over ${CYCLES} kill/restart cycles (seed ${SEED})`, async () => {
    const random = seededRandom(SEED);
    const pick = (count: number): number => Math.floor(random() * count);
    const startedMs = Date.now();
    /** Each key's state as last read back from the node (after a restart): the baseline. */
    const observed = new Map<string, KeyState>();
    const universe: string[] = [];
    for (let c = 0; c < CONNECTIONS; c++) {
      for (let i = 0; i < STRING_KEYS_PER_CONNECTION; i++) universe.push(`crash:s:{c${c}}:${i}`);
      for (let i = 0; i < HASH_KEYS_PER_CONNECTION; i++) universe.push(`crash:h:{c${c}}:${i}`);
    }
    for (const key of universe) observed.set(key, ABSENT);
    let counterObserved = 0;
    let counterAcknowledgedMax = 0;
    let incrSent = 0;
    let acknowledgedTotal = 0;
    let sentTotal = 0;
    let previousStreams: ConnectionStream[] = [];

    for (let cycle = 0; cycle <= CYCLES; cycle++) {
      node = await startNode({ dataDir, durability: 'sync' });
      const reader = await RawClient.connect(node.port);

      // --- Verify everything acknowledged so far (and adopt what survived as the new baseline).
      const observedNow = await readAll(reader, universe);
      checkPrefixes(previousStreams, observed, observedNow, cycle);
      for (const [key, state] of observedNow) observed.set(key, state);

      const counterValue = Number(((await reader.call('GET', COUNTER_KEY)) as Buffer | null)?.toString() ?? '0');
      expect(counterValue, `cycle ${cycle}: counter ≥ last acknowledged INCR`).toBeGreaterThanOrEqual(counterAcknowledgedMax);
      expect(counterValue, `cycle ${cycle}: counter ≥ value read after the previous restart`).toBeGreaterThanOrEqual(counterObserved);
      expect(counterValue, `cycle ${cycle}: counter ≤ INCRs sent`).toBeLessThanOrEqual(incrSent);
      counterObserved = counterValue;

      const dbsize = (await reader.call('DBSIZE')) as number;
      const scanned = await scanAll(reader);
      expect(new Set(scanned).size, `cycle ${cycle}: SCAN returns each key once`).toBe(scanned.length);
      expect(dbsize, `cycle ${cycle}: DBSIZE equals keys found by SCAN`).toBe(scanned.length);
      const expectedPresent = universe.filter((key) => observed.get(key) !== ABSENT).length + (counterValue > 0 ? 1 : 0);
      expect(scanned.length, `cycle ${cycle}: SCAN finds exactly the keys written`).toBe(expectedPresent);
      for (const key of scanned) expect(key === COUNTER_KEY || observed.has(key), `unexpected key ${key}`).toBe(true);

      if (cycle === CYCLES) {
        reader.close();
        expect(await node.stop()).toBe(0);
        node = null;
        break;
      }

      // --- Storm: several connections pipelining writes; kill at a random point after some acks.
      const killAfterAcks = 20 + pick(1500);
      const killDelayMs = pick(25);
      const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => RawClient.connect(node!.port)));
      reader.close();
      const streams: ConnectionStream[] = clients.map((_, index) => ({
        index,
        operations: [],
        acknowledged: 0,
        writes: new Map(),
      }));
      let cycleAcks = 0;
      let killed = false;
      let triggerKill: () => void = () => undefined;
      const killTrigger = new Promise<void>((resolve) => (triggerKill = resolve));

      const nextOperation = (stream: ConnectionStream): Operation => {
        const c = stream.index;
        const roll = random();
        const current = (key: string): KeyState => {
          const writes = stream.writes.get(key);
          return writes !== undefined && writes.length > 0 ? writes[writes.length - 1]!.after : observed.get(key)!;
        };
        if (roll < 0.15) {
          incrSent++;
          return { args: ['INCR', COUNTER_KEY], key: null, after: null, expectedReply: 'integer' };
        }
        if (roll < 0.55) {
          const key = `crash:s:{c${c}}:${pick(STRING_KEYS_PER_CONNECTION)}`;
          // Mostly small values, sometimes large ones (LMDB overflow pages, bigger batches).
          const size = random() < 0.05 ? 8_000 + pick(40_000) : 1 + pick(64);
          const tag = `${cycle}.${stream.operations.length}.`;
          const value = tag + 'x'.repeat(Math.max(0, size - tag.length));
          return { args: ['SET', key, value], key, after: `S:${value}`, expectedReply: 'OK' };
        }
        if (roll < 0.85) {
          const key = `crash:h:{c${c}}:${pick(HASH_KEYS_PER_CONNECTION)}`;
          const fields = parseHashState(current(key));
          const args = ['HSET', key];
          for (let n = 1 + pick(3); n > 0; n--) {
            const field = `f${pick(HASH_FIELDS)}`;
            const value = `${cycle}.${stream.operations.length}.${n}`;
            fields.set(field, value);
            args.push(field, value);
          }
          return { args, key, after: hashState(fields), expectedReply: 'integer' };
        }
        const key =
          random() < 0.5
            ? `crash:s:{c${c}}:${pick(STRING_KEYS_PER_CONNECTION)}`
            : `crash:h:{c${c}}:${pick(HASH_KEYS_PER_CONNECTION)}`;
        return { args: ['DEL', key], key, after: ABSENT, expectedReply: 'integer' };
      };

      const sendChunk = (client: RawClient, stream: ConnectionStream): void => {
        const encoded: Buffer[] = [];
        for (let n = 1 + pick(100); n > 0; n--) {
          const operation = nextOperation(stream);
          if (operation.key !== null) {
            const writes = stream.writes.get(operation.key) ?? [];
            writes.push({ position: stream.operations.length, after: operation.after! });
            stream.writes.set(operation.key, writes);
          }
          stream.operations.push(operation);
          encoded.push(encodeCommand(operation.args));
        }
        sentTotal += encoded.length;
        client.write(Buffer.concat(encoded));
      };

      const storm = async (client: RawClient, stream: ConnectionStream): Promise<void> => {
        sendChunk(client, stream);
        sendChunk(client, stream);
        let lastIncrReply = 0;
        while (!killed) {
          let reply: RespValue;
          try {
            reply = await client.reply(30_000);
          } catch {
            return; // the node was killed: the connection closed
          }
          const operation = stream.operations[stream.acknowledged]!;
          if (operation.expectedReply === 'OK') expect(reply, operation.args.join(' ')).toBe('OK');
          else expect(typeof reply, `${operation.args[0]} reply ${JSON.stringify(reply)}`).toBe('number');
          if (operation.key === null) {
            const value = reply as number;
            expect(value).toBeGreaterThan(lastIncrReply);
            lastIncrReply = value;
            counterAcknowledgedMax = Math.max(counterAcknowledgedMax, value);
          }
          stream.acknowledged++;
          acknowledgedTotal++;
          cycleAcks++;
          if (cycleAcks === killAfterAcks) triggerKill();
          if (!killed && stream.operations.length - stream.acknowledged < OUTSTANDING_MAX) sendChunk(client, stream);
        }
      };

      const storms = clients.map((client, index) => storm(client, streams[index]!));
      await Promise.race([killTrigger, new Promise((resolve) => setTimeout(resolve, STORM_MAX_MS))]);
      if (killDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, killDelayMs));
      await node.kill();
      killed = true;
      await Promise.all(storms);
      for (const client of clients) client.close();
      node = null;
      expect(cycleAcks, `cycle ${cycle}: some writes were acknowledged before the kill`).toBeGreaterThan(0);
      previousStreams = streams;
    }

    const elapsedSeconds = (Date.now() - startedMs) / 1000;
    console.log(
      `crash-safety: ${CYCLES} kill -9 cycles, ${acknowledgedTotal} writes acknowledged of ${sentTotal} sent, ` +
        `counter ${counterObserved} (acknowledged ≥ ${counterAcknowledgedMax}, INCRs sent ${incrSent}), ` +
        `${elapsedSeconds.toFixed(1)} s, seed ${SEED}`,
    );
    expect(acknowledgedTotal).toBeGreaterThan(CYCLES * 20);
  }, 240_000);
});

/** Reads every key's state with one pipelined round of TYPE + GET/HGETALL. */
async function readAll(client: RawClient, keys: string[]): Promise<Map<string, KeyState>> {
  const types: string[] = [];
  client.write(Buffer.concat(keys.map((key) => encodeCommand(['TYPE', key]))));
  for (let i = 0; i < keys.length; i++) types.push((await client.reply()) as string);
  const reads: Buffer[] = [];
  keys.forEach((key, i) => {
    if (types[i] === 'string') reads.push(encodeCommand(['GET', key]));
    else if (types[i] === 'hash') reads.push(encodeCommand(['HGETALL', key]));
  });
  client.write(Buffer.concat(reads));
  const states = new Map<string, KeyState>();
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (types[i] === 'none') states.set(key, ABSENT);
    else if (types[i] === 'string') states.set(key, `S:${((await client.reply()) as Buffer).toString('utf8')}`);
    else if (types[i] === 'hash') {
      const flat = (await client.reply()) as Buffer[];
      const fields = new Map<string, string>();
      for (let f = 0; f < flat.length; f += 2) fields.set(flat[f]!.toString('utf8'), flat[f + 1]!.toString('utf8'));
      states.set(key, hashState(fields));
    } else throw new Error(`key ${key} has unexpected type ${String(types[i])}`);
  }
  return states;
}

async function scanAll(client: RawClient): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  for (let round = 0; round < 100_000; round++) {
    const [next, page] = (await client.call('SCAN', cursor, 'COUNT', 50)) as [Buffer, Buffer[]];
    for (const key of page) keys.push(key.toString('utf8'));
    cursor = next.toString('utf8');
    if (cursor === '0') return keys;
  }
  throw new Error('SCAN did not finish');
}

/**
 * Checks invariants 1 and 2 for the storm before the last kill: for each connection, some prefix
 * length P with acknowledged ≤ P ≤ sent explains every one of its keys' states.
 */
function checkPrefixes(
  streams: ConnectionStream[],
  baseline: Map<string, KeyState>,
  now: Map<string, KeyState>,
  cycle: number,
): void {
  for (const stream of streams) {
    let low = stream.acknowledged;
    let high = stream.operations.length;
    for (const [key, writes] of stream.writes) {
      const state = now.get(key)!;
      // States the key passes through, and for each the prefix lengths that leave it there.
      const candidates: Array<{ state: KeyState; from: number; to: number }> = [
        { state: baseline.get(key)!, from: 0, to: writes[0]!.position },
      ];
      writes.forEach((write, i) => {
        const to = i + 1 < writes.length ? writes[i + 1]!.position : stream.operations.length;
        candidates.push({ state: write.after, from: write.position + 1, to });
      });
      const matching = candidates.filter((candidate) => candidate.state === state && candidate.to >= low && candidate.from <= high);
      const lastAcknowledged = [...writes].reverse().find((write) => write.position < stream.acknowledged);
      expect(
        matching.length,
        `cycle ${cycle}, connection ${stream.index}, key ${key}: state ${state.slice(0, 80)} ` +
          `is not its last acknowledged write (${lastAcknowledged?.after.slice(0, 80) ?? 'baseline'}) nor a later one`,
      ).toBeGreaterThan(0);
      low = Math.max(low, Math.min(...matching.map((candidate) => candidate.from)));
      high = Math.min(high, Math.max(...matching.map((candidate) => candidate.to)));
    }
    expect(low, `cycle ${cycle}, connection ${stream.index}: surviving writes are a prefix of those sent`).toBeLessThanOrEqual(high);
  }
}
