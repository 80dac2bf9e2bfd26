// Proves that Ballast answers like Redis 7: one redis-server and one ballast-node get the same raw
// command sequences (one scenario per command family, seeded random sequences, and a byte-level
// RESP2/RESP3 pipeline) and every reply must be deep-equal, error texts included. Any divergence
// fails the scenario and is listed with both replies.
//
// The only normalisation is for what must differ: TTL/PTTL/EXPIRETIME of relative expiries (±1 s /
// ±1500 ms, the two servers are asked a moment apart), CLIENT ID numbers, TIME, HELLO's version and
// id, the text of INFO and CLIENT LIST/INFO (compared field by field), COMMAND COUNT, LASTSAVE's
// value, and the order of KEYS and of SCAN/HSCAN iterations (compared as sets).
//
// Intended differences, asserted explicitly in the last scenario rather than hidden:
// - only database 0 exists: SELECT 1 → 'ERR DB index is out of range' (Redis has 16 databases);
// - keys longer than 1900 bytes are refused with 'ERR key is too long (at most 1900 bytes)';
// - INCRBYFLOAT/HINCRBYFLOAT use IEEE doubles (Redis: long double), so the last digits can differ
//   (0.1 + 0.2 prints 0.30000000000000004), which is why float scenarios use exact binary values;
// - SCAN/HSCAN cursors are different numbers: full iterations are compared as sets;
// - CONFIG GET answers from Ballast's own table (databases is 1), INFO has ballast_* fields;
// - OBJECT, DEBUG, lists, sets, sorted sets, pub/sub and scripting answer 'ERR unknown command'.
// The installed redis-server is 7.0; Ballast follows 7.2 where the two differ, so these are not
// compared: HELLO's version and its NOAUTH hint, HELLO with a syntax error after SETNAME (7.0
// renames the connection, 7.2 does not), CLIENT SETINFO / NO-TOUCH and the lib-name/lib-ver fields
// of CLIENT LIST, COMMAND DOCS summaries and argument specifications, HSCAN NOVALUES (7.4).
// Also not compared: DBSIZE right after SET with an EXAT/PXAT in the past (Redis 7.0 stores the
// already-expired key and counts it until evicted, Ballast never stores it); expiry times beyond
// 2^53 ms (year 287,000), which Ballast's record format keeps as doubles, so their PEXPIRETIME is
// rounded; client names longer than 1024 bytes, which Ballast truncates (limits.ts).
import { Socket } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeCommand,
  type NodeProcess,
  plain,
  RawClient,
  type RedisProcess,
  removeDirectory,
  type RespValue,
  seededRandom,
  startNode,
  startRedis,
} from '@ballast/testkit';

type Arg = string | number | Buffer;

interface Divergence {
  command: string;
  redis: unknown;
  ballast: unknown;
  /** For two arrays (EXEC, MGET...): the first element that differs. */
  firstDifference?: { index: number; redis: unknown; ballast: unknown };
}

function firstDifference(redis: unknown, ballast: unknown): Divergence['firstDifference'] {
  if (!Array.isArray(redis) || !Array.isArray(ballast)) return undefined;
  for (let index = 0; index < Math.max(redis.length, ballast.length); index++) {
    if (!isDeepStrictEqual(redis[index], ballast[index])) return { index, redis: redis[index], ballast: ballast[index] };
  }
  return undefined;
}

function describeCommand(args: Arg[]): string {
  return args
    .map((arg) => {
      const text = Buffer.isBuffer(arg) ? arg.toString('latin1') : String(arg);
      return text.length > 60 ? `${text.slice(0, 60)}…(${text.length})` : text;
    })
    .join(' ');
}

/** One connection to each server; every command goes to both and the replies are compared. */
class Twin {
  compared = 0;

  constructor(
    readonly redis: RawClient,
    readonly ballast: RawClient,
    private readonly divergences: Divergence[],
  ) {}

  static async open(redisPort: number, ballastPort: number, divergences: Divergence[]): Promise<Twin> {
    const [redis, ballast] = await Promise.all([RawClient.connect(redisPort), RawClient.connect(ballastPort)]);
    return new Twin(redis, ballast, divergences);
  }

  private async both(args: Arg[]): Promise<[unknown, unknown]> {
    const [redisReply, ballastReply] = await Promise.all([this.redis.call(...args), this.ballast.call(...args)]);
    this.compared++;
    return [plain(redisReply), plain(ballastReply)];
  }

  private record(args: Arg[], redis: unknown, ballast: unknown, note = ''): void {
    const difference = firstDifference(redis, ballast);
    this.divergences.push({
      command: describeCommand(args) + note,
      redis,
      ballast,
      ...(difference === undefined ? {} : { firstDifference: difference }),
    });
  }

  /** Both replies must be deep-equal after `normalise`. Returns Redis's reply. */
  async same(args: Arg[], normalise: (reply: unknown) => unknown = (reply) => reply): Promise<unknown> {
    const [redis, ballast] = await this.both(args);
    if (!isDeepStrictEqual(normalise(redis), normalise(ballast))) this.record(args, redis, ballast);
    return redis;
  }

  /** Integer replies within `tolerance` of each other (TTL, PTTL); negative codes must be equal. */
  async near(args: Arg[], tolerance: number): Promise<void> {
    const [redis, ballast] = await this.both(args);
    // Integers beyond 2^53 arrive as decimal strings (plain() of a bigint).
    const integer = (value: unknown): bigint | null =>
      typeof value === 'number' && Number.isInteger(value)
        ? BigInt(value)
        : typeof value === 'string' && /^-?\d+$/.test(value)
          ? BigInt(value)
          : null;
    const [r, b] = [integer(redis), integer(ballast)];
    const close =
      r !== null && b !== null && (r < 0n || b < 0n ? r === b : (r > b ? r - b : b - r) <= BigInt(tolerance));
    if (!close) this.record(args, redis, ballast, ` (±${tolerance})`);
  }

  /** Both replies are arrays with the same members in any order (KEYS, HKEYS of big hashes). */
  async sameSet(args: Arg[]): Promise<void> {
    const [redis, ballast] = await this.both(args);
    const sort = (value: unknown): unknown => (Array.isArray(value) ? [...value].map(String).sort() : value);
    if (!isDeepStrictEqual(sort(redis), sort(ballast))) this.record(args, redis, ballast, ' (as sets)');
  }

  /** Sends to both without comparing (scenario setup whose replies are checked elsewhere). */
  async send(args: Arg[]): Promise<[RespValue, RespValue]> {
    return Promise.all([this.redis.call(...args), this.ballast.call(...args)]);
  }

  close(): void {
    this.redis.close();
    this.ballast.close();
  }
}

let redisServer: RedisProcess;
let ballastNode: NodeProcess;

beforeAll(async () => {
  [redisServer, ballastNode] = await Promise.all([startRedis(), startNode()]);
});

afterAll(async () => {
  await Promise.all([redisServer?.stop(), ballastNode?.kill()]);
  if (ballastNode) removeDirectory(ballastNode.dataDir);
});

/**
 * Runs one scenario on a fresh keyspace (FLUSHALL on both) with a main twin connection and a way
 * to open more (for WATCH and CLIENT KILL), then asserts that nothing diverged.
 */
async function scenario(body: (twin: Twin, openTwin: () => Promise<Twin>) => Promise<void>): Promise<void> {
  const divergences: Divergence[] = [];
  const twins: Twin[] = [];
  const openTwin = async (): Promise<Twin> => {
    const twin = await Twin.open(redisServer.port, ballastNode.port, divergences);
    twins.push(twin);
    return twin;
  };
  try {
    const main = await openTwin();
    await main.same(['FLUSHALL']);
    await body(main, openTwin);
  } finally {
    for (const twin of twins) twin.close();
  }
  expect(divergences).toEqual([]);
  expect(twins.reduce((sum, twin) => sum + twin.compared, 0)).toBeGreaterThan(1);
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const keyNames = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

/** Runs SCAN/HSCAN to the end (cursor 0) on one client; returns the elements seen and the call count. */
async function scanAll(client: RawClient, args: (cursor: string) => Arg[]): Promise<{ items: string[]; calls: number }> {
  let cursor = '0';
  const items: string[] = [];
  let calls = 0;
  do {
    const reply = plain(await client.call(...args(cursor))) as [string, string[]];
    cursor = reply[0];
    items.push(...reply[1]);
    calls++;
    if (calls > 100_000) throw new Error('scan did not terminate');
  } while (cursor !== '0');
  return { items, calls };
}

/**
 * Sends the commands as one pipeline on a fresh connection and returns every reply byte (latin1),
 * read up to an ECHO marker sent last.
 */
async function rawExchange(port: number, commands: Arg[][]): Promise<string> {
  const marker = 'end-of-raw-exchange';
  const socket = new Socket();
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, '127.0.0.1', () => resolve());
  });
  const ending = `$${marker.length}\r\n${marker}\r\n`;
  let received = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no complete reply from port ${port}:\n${received}`)), 30_000);
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (received.endsWith(ending)) {
          clearTimeout(timer);
          resolve();
        }
      });
      socket.write(Buffer.concat([...commands.map((args) => encodeCommand(args)), encodeCommand(['ECHO', marker])]));
    });
  } finally {
    socket.destroy();
  }
  return received.slice(0, -ending.length);
}


const TIME_DEPENDENT = new Set(['TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME']);

/** A stored number that IEEE doubles and long doubles hold exactly (a short binary fraction). */
function exactInBothPrecisions(text: string): boolean {
  const value = Number(text);
  return !Number.isFinite(value) || (Number.isInteger(value * 1024) && Math.abs(value) < 2 ** 40);
}
const sortedIfArray = (reply: unknown): unknown => (Array.isArray(reply) ? [...reply].map(String).sort() : reply);

/**
 * One random command. Expiry amounts are either far in the future or in the past, never within a
 * few milliseconds of now, so both servers see the same keys; float increments are exact in binary
 * so IEEE doubles and long doubles agree (docs/commands.md: Ballast computes in doubles).
 */
function randomCommand(random: () => number): Arg[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const keys = ['a', 'b', 'c', 'h', 'g', ''];
  const fields = ['f', 'g', 'h', ''];
  // Magnitudes stay far below 2^53 so that INCRBYFLOAT's sums are exact in both precisions; the
  // int64 limits have their own scenario.
  const values = ['', '0', '1', '-1', '10', '007', '1.5', '-2.25', 'abc', ' 1', '1e3', 'inf', '0x10', 'hello world'];
  const integers = ['0', '1', '-1', '5', '-5', '100', '-100000', 'x', '1.5', '', '9223372036854775808'];
  const floats = ['1', '-2', '0.5', '2.25', '-0.125', '1e3', 'abc', 'inf', '-inf', ''];
  const futureSeconds = String(Math.floor(Date.now() / 1000) + 3600 + Math.floor(random() * 1000));
  const expiries = [['EX', '1000'], ['PX', '500000'], ['EXAT', futureSeconds], ['PXAT', `${futureSeconds}123`], ['EXAT', '1'],
    ['PXAT', '100'], ['EX', '0'], ['PX', '-1'], ['EX', 'x'], ['KEEPTTL'], []];
  const conditions = [['NX'], ['XX'], ['GT'], ['LT'], [], [], ['NX', 'XX'], ['FOO']];
  const key = pick(keys);
  const field = pick(fields);
  const value = pick(values);
  const generators: Array<() => Arg[]> = [
    () => ['SET', key, value, ...pick(expiries), ...pick([[], ['NX'], ['XX'], ['GET'], ['NX', 'GET'], ['XX', 'GET']])],
    () => ['GET', key],
    () => ['GETSET', key, value],
    () => ['GETDEL', key],
    () => ['GETEX', key, ...pick([...expiries, ['PERSIST']])],
    () => ['SETNX', key, value],
    () => ['SETEX', key, pick(['100', '0', '-1', 'x']), value],
    () => ['PSETEX', key, pick(['100000', '0', 'x']), value],
    () => ['MSET', key, value, pick(keys), pick(values)],
    () => ['MSETNX', key, value, pick(keys), pick(values)],
    () => ['MGET', key, pick(keys), pick(keys)],
    () => ['INCR', key],
    () => ['DECR', key],
    () => ['INCRBY', key, pick(integers)],
    () => ['DECRBY', key, pick(integers)],
    () => ['INCRBYFLOAT', key, pick(floats)],
    () => ['APPEND', key, value],
    () => ['STRLEN', key],
    () => ['GETRANGE', key, pick(integers), pick(integers)],
    () => ['SETRANGE', key, pick(['0', '1', '3', '-1', '20']), pick(['', 'x', 'xyz'])],
    () => ['HSET', key, field, value, ...pick([[], [pick(fields), pick(values)], [pick(fields)]])],
    () => ['HSETNX', key, field, value],
    () => ['HGET', key, field],
    () => ['HMGET', key, field, pick(fields)],
    () => ['HDEL', key, field, pick(fields)],
    () => ['HGETALL', key],
    () => ['HKEYS', key],
    () => ['HVALS', key],
    () => ['HLEN', key],
    () => ['HEXISTS', key, field],
    () => ['HSTRLEN', key, field],
    () => ['HINCRBY', key, field, pick(integers)],
    () => ['HINCRBYFLOAT', key, field, pick(floats)],
    () => ['HSCAN', key, pick(['0', 'x']), ...pick([[], ['MATCH', 'f*'], ['COUNT', '1'], ['COUNT', '0']])],
    () => ['DEL', key, pick(keys)],
    () => ['UNLINK', key],
    () => ['EXISTS', key, pick(keys), key],
    () => ['TOUCH', key],
    () => ['TYPE', key],
    () => [pick(['EXPIRE', 'PEXPIRE']), key, pick(['1000', '100000', '0', '-5', 'x']), ...pick(conditions)],
    () => [pick(['EXPIREAT', 'PEXPIREAT']), key, pick([futureSeconds, `${futureSeconds}000`, '1', '-1']), ...pick(conditions)],
    () => [pick(['TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME']), key],
    () => ['PERSIST', key],
    () => [pick(['RENAME', 'RENAMENX']), key, pick(keys)],
    () => ['KEYS', pick(['*', '?', '[ab]', 'h*', '*\\*', ''])],
    // Not DBSIZE: Redis 7.0 counts a key stored with a past EXAT/PXAT until it is evicted, Ballast
    // never stores it. EXISTS on every key is the same question without that artefact.
    () => ['EXISTS', ...keys],
    () => [pick(['MULTI', 'MULTI', 'EXEC', 'EXEC', 'DISCARD'])],
    () => ['WATCH', key],
    () => ['UNWATCH'],
  ];
  return pick(generators)();
}

describe('differential: AUTH with a password on both servers', () => {
  let redisWithPassword: RedisProcess;
  let ballastWithPassword: NodeProcess;

  beforeAll(async () => {
    [redisWithPassword, ballastWithPassword] = await Promise.all([
      startRedis(['--requirepass', 'secret']),
      startNode({ args: ['--requirepass', 'secret'] }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([redisWithPassword?.stop(), ballastWithPassword?.kill()]);
    if (ballastWithPassword) removeDirectory(ballastWithPassword.dataDir);
  });

  it('refuses commands before AUTH and accepts the right password', async () => {
    const divergences: Divergence[] = [];
    const t = await Twin.open(redisWithPassword.port, ballastWithPassword.port, divergences);
    try {
      // Redis 7.2 reworded the HELLO NOAUTH hint; compare up to it.
      const helloNoAuth = (reply: unknown): unknown =>
        reply !== null && typeof reply === 'object' && 'error' in reply
          ? { error: String(reply.error).split(', otherwise')[0] }
          : reply;
      const helloNormalise = (reply: unknown): unknown =>
        Array.isArray(reply)
          ? reply.map((item, index) => (reply[index - 1] === 'version' || reply[index - 1] === 'id' ? typeof item : item))
          : reply;
      await t.same(['PING']);
      await t.same(['GET', 'k']);
      await t.same(['SET', 'k', 'v']);
      await t.same(['CLIENT', 'SETNAME', 'x']);
      await t.same(['MULTI']);
      await t.same(['EXEC']);
      await t.same(['NOSUCHCOMMAND']);
      await t.same(['GET']);
      await t.same(['EXEC', 'x']);
      await t.same(['CLIENT', 'NOSUCH']);
      await t.same(['CLIENT', 'SETNAME']);
      await t.same(['AUTH']);
      await t.same(['AUTH', 'wrong']);
      await t.same(['AUTH', 'default', 'wrong']);
      await t.same(['AUTH', 'someone', 'secret']);
      await t.same(['AUTH', 'a', 'b', 'c']);
      await t.same(['HELLO', '3'], helloNoAuth);
      await t.same(['HELLO'], helloNoAuth);
      await t.same(['HELLO', '2', 'AUTH', 'default', 'wrong']);
      await t.same(['HELLO', '2', 'AUTH', 'default', 'secret'], helloNormalise);
      await t.same(['SET', 'k', 'v']);
      await t.same(['GET', 'k']);
      // RESET forgets the authentication.
      await t.same(['RESET']);
      await t.same(['GET', 'k']);
      await t.same(['AUTH', 'secret']);
      await t.same(['GET', 'k']);
      await t.same(['RESET']);
      await t.same(['AUTH', 'default', 'secret']);
      await t.same(['DEL', 'k']);
      await t.same(['RESET']);
      await t.same(['QUIT']);
    } finally {
      t.close();
    }
    expect(divergences).toEqual([]);
    expect(t.compared).toBeGreaterThan(20);
  });
});

describe('differential: ballast-node against redis-server', () => {
  it('SET with NX, XX, GET and KEEPTTL', async () => {
    await scenario(async (t) => {
      await t.same(['SET', 'k', 'v1']);
      await t.same(['GET', 'k']);
      await t.same(['SET', 'k', 'v2', 'NX']);
      await t.same(['GET', 'k']);
      await t.same(['SET', 'k', 'v3', 'XX']);
      await t.same(['GET', 'k']);
      await t.same(['SET', 'absent', 'v', 'XX']);
      await t.same(['EXISTS', 'absent']);
      await t.same(['SET', 'absent', 'v', 'NX']);
      await t.same(['SET', 'absent', 'v', 'nx', 'NX']);
      await t.same(['SET', 'k', 'v', 'NX', 'XX']);
      await t.same(['SET', 'k', 'v', 'XX', 'NX']);
      await t.same(['SET', 'k', 'v4', 'GET']);
      await t.same(['SET', 'k', 'v5', 'NX', 'GET']);
      await t.same(['GET', 'k']);
      await t.same(['SET', 'k', 'v6', 'XX', 'GET']);
      await t.same(['SET', 'new1', 'v', 'NX', 'GET']);
      await t.same(['GET', 'new1']);
      await t.same(['SET', 'new2', 'v', 'XX', 'GET']);
      await t.same(['EXISTS', 'new2']);
      await t.same(['SET', 'new3', 'v', 'get', 'get']);
      await t.same(['SET', 'k', 'v', 'FOO']);
      await t.same(['SET', 'k', 'v', 'NXX']);
      await t.same(['SET', 'k']);
      await t.same(['SET']);
      // KEEPTTL keeps the expiry; a plain SET drops it.
      await t.same(['SET', 'ttl', 'a', 'EX', '1000']);
      await t.same(['SET', 'ttl', 'b', 'KEEPTTL']);
      await t.near(['TTL', 'ttl'], 1);
      await t.same(['SET', 'ttl', 'c', 'KEEPTTL', 'KEEPTTL']);
      await t.near(['TTL', 'ttl'], 1);
      await t.same(['SET', 'ttl', 'd']);
      await t.same(['TTL', 'ttl']);
      await t.same(['SET', 'fresh', 'v', 'KEEPTTL']);
      await t.same(['TTL', 'fresh']);
      await t.same(['SET', 'k', 'v', 'KEEPTTL', 'EX', '10']);
      await t.same(['SET', 'k', 'v', 'EX', '10', 'KEEPTTL']);
      await t.same(['SET', 'k', 'v', 'PX', '10', 'KEEPTTL']);
      // SET ... GET against another type fails before anything is written; plain SET overwrites it.
      await t.same(['HSET', 'h', 'f', 'v']);
      await t.same(['SET', 'h', 'v', 'GET']);
      await t.same(['SET', 'h', 'v', 'NX', 'GET']);
      await t.same(['SET', 'h', 'v', 'XX', 'GET']);
      await t.same(['TYPE', 'h']);
      await t.same(['SET', 'h', 'v']);
      await t.same(['TYPE', 'h']);
      await t.same(['GET', 'h']);
      // An expired key counts as absent for NX, XX and GET.
      await t.same(['SET', 'short', 'old', 'PX', '1']);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await t.same(['SET', 'short', 'v', 'XX', 'GET']);
      await t.same(['SET', 'short', 'v', 'NX', 'GET']);
      await t.same(['SET', 'short', 'w', 'KEEPTTL', 'GET']);
      await t.same(['TTL', 'short']);
      // Binary-safe values and an empty value.
      await t.same(['SET', 'bin', Buffer.from([0, 1, 2, 0xff, 13, 10])]);
      await t.same(['GET', 'bin']);
      await t.same(['STRLEN', 'bin']);
      await t.same(['SET', 'empty', '']);
      await t.same(['GET', 'empty']);
      await t.same(['EXISTS', 'empty']);
    });
  });

  it('SET expiry options and their errors', async () => {
    await scenario(async (t) => {
      const future = nowSeconds() + 5000;
      await t.same(['SET', 'k', 'v', 'EX', '100']);
      await t.near(['TTL', 'k'], 1);
      await t.same(['SET', 'k', 'v', 'PX', '100000']);
      await t.near(['PTTL', 'k'], 1500);
      await t.same(['SET', 'k', 'v', 'EXAT', String(future)]);
      await t.same(['EXPIRETIME', 'k']);
      await t.same(['PEXPIRETIME', 'k']);
      await t.same(['SET', 'k', 'v', 'PXAT', String(future * 1000 + 123)]);
      await t.same(['PEXPIRETIME', 'k']);
      await t.same(['EXPIRETIME', 'k']);
      await t.same(['SET', 'k', 'v', 'ex', '100', 'nx']);
      await t.same(['SET', 'k2', 'v', 'px', '100000', 'xx', 'get']);
      // The last of two expiry options of the same unit wins (Redis accepts EX twice).
      await t.same(['SET', 'k', 'v', 'EX', '100', 'EX', '200']);
      await t.near(['TTL', 'k'], 1);
      await t.same(['SET', 'k', 'v', 'PX', '100', 'PX', '200000']);
      await t.near(['PTTL', 'k'], 1500);
      // Expiry times in the past: the key is gone.
      await t.same(['SET', 'past', 'v', 'EXAT', '1']);
      await t.same(['GET', 'past']);
      await t.same(['EXISTS', 'past']);
      await t.same(['SET', 'past', 'v']);
      await t.same(['SET', 'past', 'v', 'PXAT', String(Date.now() - 10_000)]);
      await t.same(['GET', 'past']);
      await t.same(['TTL', 'past']);
      await t.same(['SET', 'past', 'w', 'PXAT', '1', 'GET']);
      // Invalid expire times.
      for (const option of ['EX', 'PX', 'EXAT', 'PXAT']) {
        await t.same(['SET', 'bad', 'v', option, '0']);
        await t.same(['SET', 'bad', 'v', option, '-1']);
        await t.same(['SET', 'bad', 'v', option, '-9223372036854775808']);
        await t.same(['SET', 'bad', 'v', option, 'abc']);
        await t.same(['SET', 'bad', 'v', option, '1.5']);
        await t.same(['SET', 'bad', 'v', option, ' 1']);
        await t.same(['SET', 'bad', 'v', option, '9223372036854775808']);
        await t.same(['SET', 'bad', 'v', option]);
      }
      await t.same(['SET', 'bad', 'v', 'EX', '9223372036854775807']);
      await t.same(['SET', 'bad', 'v', 'EX', '9223372036854776']);
      await t.same(['SET', 'bad', 'v', 'EXAT', '9223372036854776']);
      await t.same(['SET', 'bad', 'v', 'PX', '9223372036854775807']);
      await t.same(['SET', 'bad', 'v', 'PX', '9223372036854770000']);
      await t.same(['EXISTS', 'bad']);
      // Very large but valid expiry times are accepted like Redis.
      await t.same(['SET', 'far', 'v', 'PXAT', '9223372036854775807']);
      await t.near(['TTL', 'far'], 1);
      await t.same(['SET', 'far', 'v', 'EXAT', '9223372036854775']);
      await t.same(['EXPIRETIME', 'far']);
      await t.same(['SET', 'far', 'v', 'EX', '9223372036854']);
      await t.near(['TTL', 'far'], 1);
      // Option syntax is checked before the expire value.
      await t.same(['SET', 'bad', 'v', 'EX', '0', 'FOO']);
      await t.same(['SET', 'bad', 'v', 'EX', 'abc', 'PX', '10']);
      await t.same(['SET', 'bad', 'v', 'EX', '10', 'PX', '10']);
      await t.same(['SET', 'bad', 'v', 'EXAT', '10', 'PXAT', '10']);
      await t.same(['SET', 'bad', 'v', 'EX', '10', 'EXAT', '10']);
      await t.same(['SET', 'bad', 'v', 'EX', '-5', 'GET']);
      await t.same(['HSET', 'h', 'f', 'v']);
      await t.same(['SET', 'h', 'v', 'EX', '0', 'GET']);
      await t.same(['SET', 'h', 'v', 'EX', '10', 'GET']);
      await t.same(['EXISTS', 'bad']);
    });
  });

  it('SETNX SETEX PSETEX GETSET GETDEL', async () => {
    await scenario(async (t) => {
      await t.same(['SETNX', 'k', 'a']);
      await t.same(['SETNX', 'k', 'b']);
      await t.same(['GET', 'k']);
      await t.same(['SETNX', 'k']);
      await t.same(['SETEX', 'e', '100', 'v']);
      await t.near(['TTL', 'e'], 1);
      await t.same(['GET', 'e']);
      await t.same(['SETEX', 'e', '0', 'v']);
      await t.same(['SETEX', 'e', '-10', 'v']);
      await t.same(['SETEX', 'e', 'ten', 'v']);
      await t.same(['SETEX', 'e', '9223372036854775807', 'v']);
      await t.same(['SETEX', 'e', '100']);
      await t.same(['PSETEX', 'p', '100000', 'v']);
      await t.near(['PTTL', 'p'], 1500);
      await t.same(['PSETEX', 'p', '0', 'v']);
      await t.same(['PSETEX', 'p', '-1', 'v']);
      await t.same(['PSETEX', 'p', '9223372036854775807', 'v']);
      await t.same(['GETSET', 'p', 'new']);
      await t.same(['TTL', 'p']);
      await t.same(['GETSET', 'missing', 'x']);
      await t.same(['GET', 'missing']);
      await t.same(['GETDEL', 'missing']);
      await t.same(['EXISTS', 'missing']);
      await t.same(['GETDEL', 'missing']);
      await t.same(['HSET', 'h', 'f', 'v']);
      await t.same(['GETSET', 'h', 'x']);
      await t.same(['GETDEL', 'h']);
      await t.same(['SETNX', 'h', 'x']);
      await t.same(['SETEX', 'h', '10', 'x']);
      await t.same(['TYPE', 'h']);
    });
  });

  it('GETEX options', async () => {
    await scenario(async (t) => {
      const future = nowSeconds() + 5000;
      await t.same(['SET', 'k', 'v']);
      await t.same(['GETEX', 'k']);
      await t.same(['TTL', 'k']);
      await t.same(['GETEX', 'k', 'EX', '100']);
      await t.near(['TTL', 'k'], 1);
      await t.same(['GETEX', 'k', 'PX', '200000']);
      await t.near(['PTTL', 'k'], 1500);
      await t.same(['GETEX', 'k', 'EXAT', String(future)]);
      await t.same(['EXPIRETIME', 'k']);
      await t.same(['GETEX', 'k', 'PXAT', String(future * 1000 + 7)]);
      await t.same(['PEXPIRETIME', 'k']);
      await t.same(['GETEX', 'k', 'PERSIST']);
      await t.same(['TTL', 'k']);
      await t.same(['GETEX', 'k', 'PERSIST', 'PERSIST']);
      await t.same(['GETEX', 'k', 'EX', '10', 'EX', '20']);
      await t.near(['TTL', 'k'], 1);
      await t.same(['GETEX', 'k', 'EX', '10', 'PERSIST']);
      await t.same(['GETEX', 'k', 'PERSIST', 'EX', '10']);
      await t.same(['GETEX', 'k', 'EX', '10', 'PX', '10']);
      await t.same(['GETEX', 'k', 'KEEPTTL']);
      await t.same(['GETEX', 'k', 'NX']);
      await t.same(['GETEX', 'k', 'GET']);
      await t.same(['GETEX', 'k', 'EX']);
      await t.same(['GETEX', 'k', 'EX', '0']);
      await t.same(['GETEX', 'k', 'EX', '-1']);
      await t.same(['GETEX', 'k', 'EX', 'abc']);
      await t.same(['GETEX', 'k', 'PX', '9223372036854775807']);
      // On a missing key the expire value is never looked at.
      await t.same(['GETEX', 'missing', 'EX', '0']);
      await t.same(['GETEX', 'missing', 'EX', 'abc']);
      await t.same(['GETEX', 'missing', 'FOO']);
      await t.same(['HSET', 'h', 'f', 'v']);
      await t.same(['GETEX', 'h', 'EX', '0']);
      await t.same(['GETEX', 'h']);
      // An absolute time in the past deletes the key after returning it.
      await t.same(['GETEX', 'k', 'EXAT', '1']);
      await t.same(['EXISTS', 'k']);
      await t.same(['SET', 'k', 'v']);
      await t.same(['GETEX', 'k', 'PXAT', String(Date.now() - 1000)]);
      await t.same(['GET', 'k']);
    });
  });

  it('MGET MSET MSETNX', async () => {
    await scenario(async (t) => {
      await t.same(['MSET', 'a', '1', 'b', '2', 'c', '3']);
      await t.same(['MGET', 'a', 'b', 'c', 'd']);
      await t.same(['MSET', 'a', '1', 'b']);
      await t.same(['MSET', 'a']);
      await t.same(['MSET']);
      await t.same(['MSET', 'a', 'x', 'a', 'y']);
      await t.same(['GET', 'a']);
      await t.same(['SET', 'ttl', 'v', 'EX', '100']);
      await t.same(['MSET', 'ttl', 'w']);
      await t.same(['TTL', 'ttl']);
      await t.same(['HSET', 'h', 'f', 'v']);
      await t.same(['MGET', 'a', 'h', 'missing', 'a']);
      await t.same(['MGET']);
      await t.same(['MSETNX', 'x', '1', 'y', '2']);
      await t.same(['MSETNX', 'y', '3', 'z', '4']);
      await t.same(['MGET', 'x', 'y', 'z']);
      await t.same(['MSETNX', 'h', '1']);
      await t.same(['MSETNX', 'p', '1', 'q']);
      await t.same(['MSETNX', 'n1', '1', 'n1', '2']);
      await t.same(['GET', 'n1']);
      await t.same(['MSET', 'h', 'now-a-string']);
      await t.same(['TYPE', 'h']);
    });
  });

  it('INCR DECR INCRBY DECRBY and int64 overflow', async () => {
    await scenario(async (t) => {
      await t.same(['INCR', 'n']);
      await t.same(['INCR', 'n']);
      await t.same(['DECR', 'n']);
      await t.same(['INCRBY', 'n', '10']);
      await t.same(['INCRBY', 'n', '-20']);
      await t.same(['DECRBY', 'n', '5']);
      await t.same(['DECRBY', 'n', '-5']);
      await t.same(['GET', 'n']);
      await t.same(['DECR', 'new']);
      await t.same(['SET', 'n', '9223372036854775806']);
      await t.same(['INCR', 'n']);
      await t.same(['INCR', 'n']);
      await t.same(['GET', 'n']);
      await t.same(['INCRBY', 'n', '-9223372036854775807']);
      await t.same(['SET', 'n', '-9223372036854775807']);
      await t.same(['DECR', 'n']);
      await t.same(['DECR', 'n']);
      await t.same(['DECRBY', 'n', '1']);
      await t.same(['SET', 'n', '0']);
      await t.same(['DECRBY', 'n', '-9223372036854775808']);
      await t.same(['DECRBY', 'n', '9223372036854775807']);
      await t.same(['DECRBY', 'n', '1']);
      await t.same(['DECRBY', 'n', '1']);
      await t.same(['INCRBY', 'n', '9223372036854775807']);
      await t.same(['INCRBY', 'n', '9223372036854775807']);
      await t.same(['INCRBY', 'n', '9223372036854775808']);
      await t.same(['INCRBY', 'n', '-9223372036854775809']);
      await t.same(['INCRBY', 'n', 'abc']);
      await t.same(['INCRBY', 'n', '1.0']);
      await t.same(['INCRBY', 'n', '+1']);
      await t.same(['INCRBY', 'n', '01']);
      await t.same(['INCRBY', 'n', '-0']);
      await t.same(['INCRBY', 'n', '']);
      await t.same(['INCRBY', 'n', ' 1']);
      for (const value of ['abc', '1.5', ' 1', '1 ', '+1', '01', '-0', '', '1e3', '99999999999999999999', '0x10']) {
        await t.same(['SET', 's', value]);
        await t.same(['INCR', 's']);
        await t.same(['DECRBY', 's', '2']);
      }
      for (const value of ['0', '-1', '-9223372036854775808', '123456789012345678', '10']) {
        await t.same(['SET', 's', value]);
        await t.same(['INCRBY', 's', '1']);
      }
      await t.same(['SET', 'ttl', '5', 'EX', '1000']);
      await t.same(['INCR', 'ttl']);
      await t.near(['TTL', 'ttl'], 1);
      await t.same(['HSET', 'h', 'f', '1']);
      await t.same(['INCR', 'h']);
      await t.same(['INCRBY', 'h', 'abc']);
      await t.same(['DECRBY', 'h', '-9223372036854775808']);
      await t.same(['INCR']);
      await t.same(['INCRBY', 'n']);
      await t.same(['INCR', 'n', '1']);
    });
  });

  it('INCRBYFLOAT', async () => {
    await scenario(async (t) => {
      await t.same(['SET', 'f', '10.50']);
      await t.same(['INCRBYFLOAT', 'f', '0.25']);
      await t.same(['INCRBYFLOAT', 'f', '-5']);
      await t.same(['SET', 'f', '5.0e3']);
      await t.same(['INCRBYFLOAT', 'f', '2.0e2']);
      await t.same(['INCRBYFLOAT', 'new', '1.5']);
      await t.same(['INCRBYFLOAT', 'new', '-1.5']);
      await t.same(['INCRBYFLOAT', 'new', '-0']);
      await t.same(['SET', 'z', '-0.0']);
      await t.same(['INCRBYFLOAT', 'z', '-0']);
      await t.same(['INCRBYFLOAT', 'i', '3']);
      await t.same(['INCRBYFLOAT', 'i', '1e20']);
      await t.same(['INCRBYFLOAT', 'i', '-1e20']);
      await t.same(['INCRBYFLOAT', 'small', '0.0000152587890625']);
      await t.same(['INCRBYFLOAT', 'small', '.5']);
      await t.same(['INCRBYFLOAT', 'small', '5.']);
      await t.same(['INCRBYFLOAT', 'small', '+2']);
      // Decimal fractions whose double sum rounds back to the short decimal agree too (1.1 + 0.1
      // does not: see the intended differences).
      await t.same(['INCRBYFLOAT', 'dec', '1.1']);
      await t.same(['INCRBYFLOAT', 'binary', '1.25']);
      await t.same(['INCRBYFLOAT', 'binary', '2.5']);
      await t.same(['INCRBYFLOAT', 'binary', '-3.875']);
      await t.same(['INCRBYFLOAT', 'dec2', '0.1']);
      await t.same(['INCRBYFLOAT', 'dec2', '0.1']);
      await t.same(['INCRBYFLOAT', 'hex', '0x10']);
      await t.same(['INCRBYFLOAT', 'hex', '0x1p-2']);
      await t.same(['INCRBYFLOAT', 'hex', '0x.8']);
      for (const bad of ['abc', '', ' 1', '1 ', '1e', 'nan', 'NaN', '0x', '1.2.3', '--1', 'e5', 'x'.repeat(6000)]) {
        await t.same(['INCRBYFLOAT', 'f', bad]);
      }
      for (const special of ['inf', '-inf', '+inf', 'Infinity', '-INFINITY', 'INF']) {
        await t.same(['INCRBYFLOAT', 'f', special]);
      }
      await t.same(['GET', 'f']);
      await t.same(['SET', 's', 'abc']);
      await t.same(['INCRBYFLOAT', 's', '1']);
      await t.same(['INCRBYFLOAT', 's', 'xyz']);
      await t.same(['SET', 's', ' 1.5']);
      await t.same(['INCRBYFLOAT', 's', '1']);
      await t.same(['SET', 's', 'inf']);
      await t.same(['INCRBYFLOAT', 's', '1']);
      await t.same(['SET', 's', '1.5', 'EX', '1000']);
      await t.same(['INCRBYFLOAT', 's', '1']);
      await t.near(['TTL', 's'], 1);
      await t.same(['HSET', 'h', 'f', '1']);
      await t.same(['INCRBYFLOAT', 'h', '1']);
      await t.same(['INCRBYFLOAT', 'h', 'abc']);
      await t.same(['INCRBYFLOAT', 'f']);
    });
  });

  it('APPEND STRLEN GETRANGE SETRANGE', async () => {
    await scenario(async (t) => {
      await t.same(['APPEND', 's', 'Hello']);
      await t.same(['APPEND', 's', ' World']);
      await t.same(['GET', 's']);
      await t.same(['STRLEN', 's']);
      await t.same(['STRLEN', 'missing']);
      await t.same(['APPEND', 'e', '']);
      await t.same(['EXISTS', 'e']);
      await t.same(['STRLEN', 'e']);
      await t.same(['SET', 'ttl', 'a', 'EX', '1000']);
      await t.same(['APPEND', 'ttl', 'b']);
      await t.near(['TTL', 'ttl'], 1);
      await t.same(['SET', 'n', '42']);
      await t.same(['APPEND', 'n', '0']);
      await t.same(['INCR', 'n']);
      const ranges: Array<[string, string]> = [
        ['0', '3'], ['0', '-1'], ['-3', '-1'], ['5', '3'], ['-1', '-5'], ['-100', '100'], ['0', '0'],
        ['10', '10'], ['11', '20'], ['100', '200'], ['-1', '0'], ['3', '-3'], ['-5', '-1'], ['0', '-100'],
        ['-100', '-100'], ['0', '9223372036854775807'], ['-9223372036854775808', '-1'],
        ['9223372036854775807', '9223372036854775807'],
      ];
      for (const [start, end] of ranges) await t.same(['GETRANGE', 's', start, end]);
      await t.same(['GETRANGE', 'missing', '0', '-1']);
      await t.same(['GETRANGE', 'e', '0', '-1']);
      await t.same(['GETRANGE', 'e', '-1', '-1']);
      await t.same(['GETRANGE', 's', 'a', '1']);
      await t.same(['GETRANGE', 's', '0', '9223372036854775808']);
      await t.same(['GETRANGE', 's', '0']);
      await t.same(['SETRANGE', 's', '6', 'Redis']);
      await t.same(['GET', 's']);
      await t.same(['SETRANGE', 'pad', '5', 'x']);
      await t.same(['GET', 'pad']);
      await t.same(['SETRANGE', 'pad', '0', '']);
      await t.same(['SETRANGE', 'none', '0', '']);
      await t.same(['SETRANGE', 'none', '100', '']);
      await t.same(['EXISTS', 'none']);
      await t.same(['SETRANGE', 's', '-1', 'x']);
      await t.same(['SETRANGE', 's', 'abc', 'x']);
      await t.same(['SETRANGE', 's', '536870911', 'xy']);
      await t.same(['SETRANGE', 's', '536870912', '']);
      await t.same(['SETRANGE', 's', '9223372036854775807', 'x']);
      await t.same(['SETRANGE', 's', '9223372036854775808', 'x']);
      await t.same(['SETRANGE', 'ttl', '0', 'z']);
      await t.near(['TTL', 'ttl'], 1);
      await t.same(['SETRANGE', 'n', '1', '9']);
      await t.same(['GET', 'n']);
      await t.same(['HSET', 'h', 'f', 'v']);
      await t.same(['APPEND', 'h', 'x']);
      await t.same(['STRLEN', 'h']);
      await t.same(['GETRANGE', 'h', '0', '-1']);
      await t.same(['GETRANGE', 'h', 'x', '-1']);
      await t.same(['SETRANGE', 'h', '0', 'x']);
      await t.same(['SETRANGE', 'h', '0', '']);
      await t.same(['SETRANGE', 'h', '-1', 'x']);
    });
  });

  it('string size limit follows proto-max-bulk-len', async () => {
    await scenario(async (t) => {
      const limit = 1024 * 1024;
      try {
        await t.same(['CONFIG', 'SET', 'proto-max-bulk-len', String(limit)]);
        const chunk = Buffer.alloc(600 * 1024, 0x61);
        await t.same(['APPEND', 'big', chunk]);
        await t.same(['APPEND', 'big', chunk]);
        await t.same(['STRLEN', 'big']);
        await t.same(['SETRANGE', 'big', String(limit - 1), 'x']);
        await t.same(['SETRANGE', 'big', String(limit), 'x']);
        await t.same(['SETRANGE', 'new', String(limit), 'x']);
        await t.same(['SETRANGE', 'new', String(limit - 2), 'xy']);
        await t.same(['STRLEN', 'new']);
        await t.same(['EXISTS', 'big']);
      } finally {
        await t.same(['CONFIG', 'SET', 'proto-max-bulk-len', String(512 * 1024 * 1024)]);
      }
    });
  });

  it('hash commands; deleting the last field removes the key', async () => {
    await scenario(async (t) => {
      await t.same(['HSET', 'h', 'a', '1', 'b', '2']);
      await t.same(['HSET', 'h', 'b', '3', 'c', '4']);
      await t.same(['HGETALL', 'h']);
      await t.same(['HSET', 'h', 'a']);
      await t.same(['HSET', 'h', 'a', '1', 'b']);
      await t.same(['HSET', 'h']);
      await t.same(['HMSET', 'h', 'd', '5', 'e', '6']);
      await t.same(['HMSET', 'h', 'd']);
      await t.same(['HMSET', 'h', 'd', '5', 'e']);
      await t.same(['HGET', 'h', 'a']);
      await t.same(['HGET', 'h', 'zz']);
      await t.same(['HGET', 'missing', 'a']);
      await t.same(['HMGET', 'h', 'a', 'zz', 'c', 'a']);
      await t.same(['HMGET', 'missing', 'a', 'b']);
      await t.same(['HMGET', 'h']);
      await t.same(['HKEYS', 'h']);
      await t.same(['HVALS', 'h']);
      await t.same(['HLEN', 'h']);
      await t.same(['HLEN', 'missing']);
      await t.same(['HEXISTS', 'h', 'a']);
      await t.same(['HEXISTS', 'h', 'zz']);
      await t.same(['HEXISTS', 'missing', 'a']);
      await t.same(['HSTRLEN', 'h', 'a']);
      await t.same(['HSTRLEN', 'h', 'zz']);
      await t.same(['HSTRLEN', 'missing', 'a']);
      await t.same(['HSETNX', 'h', 'a', 'new']);
      await t.same(['HSETNX', 'h', 'f', 'new']);
      await t.same(['HSETNX', 'fresh', 'f', 'v']);
      await t.same(['HGETALL', 'fresh']);
      await t.same(['HSETNX', 'h', 'f']);
      await t.same(['HDEL', 'h', 'a', 'a', 'zz']);
      await t.same(['HDEL', 'h', 'b', 'c']);
      await t.same(['HGETALL', 'h']);
      await t.same(['HDEL', 'missing', 'a']);
      await t.same(['HDEL', 'h']);
      // Re-adding a deleted field puts it last; updating keeps its place.
      await t.same(['HSET', 'h', 'b', 'again']);
      await t.same(['HSET', 'h', 'd', 'updated']);
      await t.same(['HKEYS', 'h']);
      await t.same(['HVALS', 'h']);
      await t.same(['HDEL', 'h', 'd', 'e', 'f', 'b']);
      await t.same(['EXISTS', 'h']);
      await t.same(['TYPE', 'h']);
      await t.same(['HGETALL', 'h']);
      await t.same(['HKEYS', 'h']);
      await t.same(['HVALS', 'h']);
      await t.same(['HSET', 'ttl', 'a', '1', 'b', '2']);
      await t.same(['EXPIRE', 'ttl', '1000']);
      await t.same(['HSET', 'ttl', 'c', '3']);
      await t.same(['HDEL', 'ttl', 'a']);
      await t.near(['TTL', 'ttl'], 1);
      await t.same(['HDEL', 'ttl', 'b', 'c']);
      await t.same(['TTL', 'ttl']);
      // Binary-safe and empty fields and values.
      await t.same(['HSET', 'bin', '', 'empty-name', 'empty-value', '', Buffer.from([0, 255]), Buffer.from([1, 0])]);
      await t.same(['HGETALL', 'bin']);
      await t.same(['HSTRLEN', 'bin', 'empty-value']);
      await t.same(['HGET', 'bin', '']);
    });
  });

  it('hashes with more fields than the compact encoding', async () => {
    await scenario(async (t) => {
      const pairs = keyNames('field', 300).flatMap((field, i) => [field, String(i)]);
      await t.same(['HSET', 'big', ...pairs]);
      await t.same(['HLEN', 'big']);
      await t.sameSet(['HKEYS', 'big']);
      await t.sameSet(['HVALS', 'big']);
      await t.same(['HGET', 'big', 'field299']);
      await t.same(['HMGET', 'big', 'field0', 'field150', 'nope']);
      await t.same(['HDEL', 'big', ...keyNames('field', 299)]);
      await t.same(['HGETALL', 'big']);
    });
  });

  it('HINCRBY HINCRBYFLOAT', async () => {
    await scenario(async (t) => {
      await t.same(['HINCRBY', 'h', 'n', '5']);
      await t.same(['HINCRBY', 'h', 'n', '-7']);
      await t.same(['HINCRBY', 'h', 'n', 'abc']);
      await t.same(['HINCRBY', 'h', 'n', '1.5']);
      await t.same(['HINCRBY', 'h', 'n', '9223372036854775808']);
      await t.same(['HSET', 'h', 'max', '9223372036854775807', 'min', '-9223372036854775808']);
      await t.same(['HINCRBY', 'h', 'max', '1']);
      await t.same(['HINCRBY', 'h', 'max', '0']);
      await t.same(['HINCRBY', 'h', 'min', '-1']);
      await t.same(['HINCRBY', 'h', 'min', '9223372036854775807']);
      for (const value of ['abc', '1.5', ' 1', '+1', '01', '', '99999999999999999999']) {
        await t.same(['HSET', 'h', 'bad', value]);
        await t.same(['HINCRBY', 'h', 'bad', '1']);
        await t.same(['HINCRBYFLOAT', 'h', 'bad', '1']);
      }
      await t.same(['HINCRBYFLOAT', 'h', 'f', '1.5']);
      await t.same(['HINCRBYFLOAT', 'h', 'f', '0.25']);
      await t.same(['HINCRBYFLOAT', 'h', 'f', '-3']);
      await t.same(['HINCRBYFLOAT', 'h', 'f', '1e20']);
      await t.same(['HINCRBYFLOAT', 'h', 'f', 'abc']);
      await t.same(['HINCRBYFLOAT', 'h', 'f', 'inf']);
      await t.same(['HINCRBYFLOAT', 'h', 'f', '-inf']);
      await t.same(['HINCRBYFLOAT', 'h', 'n', '0.5']);
      await t.same(['HSET', 'h', 'inf', 'inf']);
      await t.same(['HINCRBYFLOAT', 'h', 'inf', '1']);
      await t.same(['HINCRBYFLOAT', 'new', 'f', '-0']);
      await t.same(['HGETALL', 'h']);
      await t.same(['SET', 's', '1']);
      await t.same(['HINCRBY', 's', 'f', '1']);
      await t.same(['HINCRBYFLOAT', 's', 'f', '1']);
      await t.same(['HINCRBY', 's', 'f', 'abc']);
      await t.same(['HINCRBYFLOAT', 's', 'f', 'abc']);
      await t.same(['HINCRBY', 'h', 'n']);
      await t.same(['HINCRBYFLOAT', 'h', 'n']);
    });
  });

  it('WRONGTYPE errors for every command that reads a typed value', async () => {
    await scenario(async (t) => {
      await t.same(['SET', 's', 'v']);
      await t.same(['HSET', 'h', 'f', 'v']);
      for (const args of [
        ['GET', 'h'], ['GETDEL', 'h'], ['GETEX', 'h'], ['GETSET', 'h', 'x'], ['APPEND', 'h', 'x'], ['STRLEN', 'h'],
        ['GETRANGE', 'h', '0', '1'], ['SETRANGE', 'h', '0', 'x'], ['INCR', 'h'], ['DECR', 'h'], ['INCRBY', 'h', '1'],
        ['DECRBY', 'h', '1'], ['INCRBYFLOAT', 'h', '1'], ['SET', 'h', 'x', 'GET'],
        ['HSET', 's', 'f', 'v'], ['HMSET', 's', 'f', 'v'], ['HSETNX', 's', 'f', 'v'], ['HGET', 's', 'f'],
        ['HMGET', 's', 'f'], ['HDEL', 's', 'f'], ['HGETALL', 's'], ['HKEYS', 's'], ['HVALS', 's'], ['HLEN', 's'],
        ['HEXISTS', 's', 'f'], ['HSTRLEN', 's', 'f'], ['HINCRBY', 's', 'f', '1'], ['HINCRBYFLOAT', 's', 'f', '1'],
        ['HSCAN', 's', '0'],
      ]) {
        await t.same(args);
      }
      // Commands that do not care about the type.
      await t.same(['MGET', 's', 'h']);
      await t.same(['TYPE', 's']);
      await t.same(['TYPE', 'h']);
      await t.same(['EXISTS', 's', 'h']);
      await t.same(['SETNX', 'h', 'x']);
      await t.same(['MSETNX', 'h', 'x']);
      await t.same(['RENAME', 'h', 'h2']);
      await t.same(['HGETALL', 'h2']);
      await t.same(['GET', 's']);
    });
  });

  it('DEL UNLINK EXISTS TOUCH TYPE', async () => {
    await scenario(async (t) => {
      await t.same(['MSET', 'a', '1', 'b', '2', 'c', '3']);
      await t.same(['HSET', 'h', 'f', 'v']);
      await t.same(['EXISTS', 'a']);
      await t.same(['EXISTS', 'a', 'a', 'a', 'missing', 'h']);
      await t.same(['EXISTS']);
      await t.same(['TOUCH', 'a', 'b', 'missing', 'a']);
      await t.same(['TYPE', 'a']);
      await t.same(['TYPE', 'h']);
      await t.same(['TYPE', 'missing']);
      await t.same(['TYPE']);
      await t.same(['TYPE', 'a', 'b']);
      await t.same(['DEL', 'a', 'a', 'missing']);
      await t.same(['DEL', 'a']);
      await t.same(['UNLINK', 'b', 'h', 'b']);
      await t.same(['DEL']);
      await t.same(['UNLINK']);
      await t.same(['EXISTS', 'a', 'b', 'c', 'h']);
      await t.same(['DBSIZE']);
      await t.same(['SET', 'gone', 'v', 'PX', '1']);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await t.same(['EXISTS', 'gone']);
      await t.same(['TYPE', 'gone']);
      await t.same(['DEL', 'gone']);
    });
  });

  it('EXPIRE PEXPIRE EXPIREAT PEXPIREAT with NX XX GT LT', async () => {
    await scenario(async (t) => {
      const future = nowSeconds() + 10_000;
      await t.same(['SET', 'k', 'v']);
      await t.same(['EXPIRE', 'missing', '100']);
      await t.same(['EXPIRE', 'k', '100', 'XX']);
      await t.same(['EXPIRE', 'k', '100', 'GT']);
      await t.same(['EXPIRE', 'k', '100', 'LT']);
      await t.near(['TTL', 'k'], 1);
      await t.same(['PERSIST', 'k']);
      await t.same(['EXPIRE', 'k', '100', 'NX']);
      await t.same(['EXPIRE', 'k', '200', 'NX']);
      await t.near(['TTL', 'k'], 1);
      await t.same(['EXPIRE', 'k', '300', 'XX']);
      await t.near(['TTL', 'k'], 1);
      await t.same(['EXPIRE', 'k', '200', 'GT']);
      await t.same(['EXPIRE', 'k', '400', 'GT']);
      await t.near(['TTL', 'k'], 1);
      await t.same(['EXPIRE', 'k', '500', 'LT']);
      await t.same(['EXPIRE', 'k', '50', 'LT']);
      await t.near(['TTL', 'k'], 1);
      await t.same(['EXPIRE', 'k', '60', 'XX', 'GT']);
      await t.same(['EXPIRE', 'k', '40', 'xx', 'lt']);
      await t.near(['TTL', 'k'], 1);
      await t.same(['EXPIRE', 'k', '45', 'GT', 'GT']);
      await t.near(['TTL', 'k'], 1);
      for (const options of [
        ['NX', 'XX'], ['NX', 'GT'], ['NX', 'LT'], ['GT', 'LT'], ['LT', 'GT'], ['XX', 'NX'], ['NX', 'XX', 'GT', 'LT'],
        ['XX', 'GT', 'LT'],
      ]) {
        await t.same(['EXPIRE', 'k', '100', ...options]);
        await t.same(['PEXPIREAT', 'k', '100', ...options]);
      }
      await t.same(['EXPIRE', 'k', '100', 'FOO']);
      await t.same(['EXPIRE', 'k', '100', 'NX', 'FOO']);
      await t.same(['EXPIRE', 'k', 'abc', 'FOO']);
      await t.same(['EXPIRE', 'k', 'abc', 'NX', 'XX']);
      await t.same(['EXPIRE', 'k', 'abc']);
      await t.same(['EXPIRE', 'k', '1.5']);
      await t.same(['EXPIRE', 'k']);
      // Overflow of the unit conversion or of adding the base time.
      for (const amount of ['9223370399119966', '9223372036854776', '10000000000000000', '18446744073709561',
        '-9223372036854776', '-9999999999999999', '9223372036854775807', '9223372036854775808']) {
        await t.same(['EXPIRE', 'k', amount]);
        await t.same(['EXPIREAT', 'k', amount]);
      }
      await t.same(['PEXPIRE', 'k', '9223372036854770000']);
      await t.near(['TTL', 'k'], 1);
      await t.same(['PEXPIREAT', 'k', '9223372036854770000']);
      await t.near(['TTL', 'k'], 1);
      await t.same(['PEXPIREAT', 'k', '9223372036854775807']);
      await t.same(['PERSIST', 'k']);
      await t.same(['EXPIREAT', 'k', String(future)]);
      await t.same(['EXPIRETIME', 'k']);
      await t.same(['PEXPIREAT', 'k', String(future * 1000 + 499)]);
      await t.same(['EXPIRETIME', 'k']);
      await t.same(['PEXPIREAT', 'k', String(future * 1000 + 500)]);
      await t.same(['EXPIRETIME', 'k']);
      await t.same(['PEXPIRETIME', 'k']);
      await t.same(['PEXPIRE', 'k', '100000']);
      await t.near(['PTTL', 'k'], 1500);
      await t.same(['PEXPIREAT', 'k', String(future * 1000), 'GT']);
      await t.same(['PEXPIREAT', 'k', String(future * 1000), 'LT']);
      await t.same(['PEXPIRETIME', 'k']);
      // GT never succeeds on a key without expiry; LT always does (no expiry = infinite).
      await t.same(['SET', 'p', 'v']);
      await t.same(['EXPIRE', 'p', '100', 'GT']);
      await t.same(['TTL', 'p']);
      await t.same(['EXPIRE', 'p', '100', 'LT']);
      await t.near(['TTL', 'p'], 1);
      // Zero, negative and past times delete the key and answer 1.
      await t.same(['EXPIRE', 'p', '0']);
      await t.same(['EXISTS', 'p']);
      await t.same(['SET', 'p', 'v']);
      await t.same(['EXPIRE', 'p', '-10']);
      await t.same(['EXISTS', 'p']);
      await t.same(['SET', 'p', 'v']);
      await t.same(['PEXPIREAT', 'p', '1']);
      await t.same(['GET', 'p']);
      await t.same(['SET', 'p', 'v']);
      await t.same(['EXPIREAT', 'p', String(nowSeconds() - 100)]);
      await t.same(['EXISTS', 'p']);
      await t.same(['SET', 'p', 'v']);
      await t.same(['PEXPIREAT', 'p', '-9223372036854770000']);
      await t.same(['TTL', 'p']);
      await t.same(['SET', 'p', 'v', 'EX', '100']);
      await t.same(['EXPIRE', 'p', '-1', 'GT']);
      await t.same(['EXPIRE', 'p', '-1', 'LT']);
      await t.same(['EXISTS', 'p']);
      await t.same(['HSET', 'h', 'f', 'v']);
      await t.same(['PEXPIRE', 'h', '100000', 'NX']);
      await t.near(['PTTL', 'h'], 1500);
      await t.same(['HGET', 'h', 'f']);
    });
  });

  it('TTL PTTL EXPIRETIME PEXPIRETIME PERSIST', async () => {
    await scenario(async (t) => {
      const future = nowSeconds() + 3600;
      await t.same(['SET', 'k', 'v']);
      for (const command of ['TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME']) {
        await t.same([command, 'k']);
        await t.same([command, 'missing']);
        await t.same([command]);
      }
      await t.same(['EXPIREAT', 'k', String(future)]);
      await t.near(['TTL', 'k'], 1);
      await t.near(['PTTL', 'k'], 1500);
      await t.same(['EXPIRETIME', 'k']);
      await t.same(['PEXPIRETIME', 'k']);
      await t.same(['PERSIST', 'k']);
      await t.same(['PERSIST', 'k']);
      await t.same(['PERSIST', 'missing']);
      await t.same(['PERSIST']);
      await t.same(['TTL', 'k']);
      await t.same(['PEXPIRETIME', 'k']);
      await t.same(['SET', 'short', 'v', 'PX', '1']);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await t.same(['TTL', 'short']);
      await t.same(['PERSIST', 'short']);
      await t.same(['PEXPIRETIME', 'short']);
    });
  });

  it('RENAME RENAMENX', async () => {
    await scenario(async (t) => {
      await t.same(['RENAME', 'missing', 'x']);
      await t.same(['RENAMENX', 'missing', 'x']);
      await t.same(['RENAME', 'missing', 'missing']);
      await t.same(['SET', 'a', '1', 'EX', '1000']);
      await t.same(['RENAME', 'a', 'b']);
      await t.same(['EXISTS', 'a']);
      await t.same(['GET', 'b']);
      await t.near(['TTL', 'b'], 1);
      await t.same(['RENAME', 'b', 'b']);
      await t.same(['RENAMENX', 'b', 'b']);
      await t.same(['SET', 'c', '3']);
      await t.same(['RENAMENX', 'b', 'c']);
      await t.same(['GET', 'b']);
      await t.same(['RENAME', 'b', 'c']);
      await t.same(['GET', 'c']);
      await t.near(['TTL', 'c'], 1);
      await t.same(['RENAMENX', 'c', 'd']);
      await t.same(['MGET', 'b', 'c', 'd']);
      await t.same(['HSET', 'h', 'f', 'v']);
      await t.same(['RENAME', 'h', 'd']);
      await t.same(['TYPE', 'd']);
      await t.same(['HGETALL', 'd']);
      await t.same(['RENAME', 'a']);
      await t.same(['RENAME', 'a', 'b', 'c']);
      // The target takes the source's expiry (or lack of one).
      await t.same(['SET', 'src', '1']);
      await t.same(['SET', 'dst', '2', 'EX', '100']);
      await t.same(['RENAME', 'src', 'dst']);
      await t.same(['TTL', 'dst']);
      await t.same(['SET', 'gone', 'v', 'PX', '1']);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await t.same(['RENAME', 'gone', 'x']);
      await t.same(['RENAMENX', 'gone', 'x']);
    });
  });

  it('KEYS DBSIZE RANDOMKEY FLUSHALL FLUSHDB', async () => {
    await scenario(async (t) => {
      await t.same(['DBSIZE']);
      await t.same(['RANDOMKEY']);
      await t.same(['KEYS', '*']);
      await t.same(['SET', 'only', 'v']);
      await t.same(['RANDOMKEY']);
      await t.same(['MSET', 'user:1', 'a', 'user:2', 'b', 'user:10', 'c', 'order:1', 'd', 'x', 'e']);
      await t.same(['HSET', 'user:h', 'f', 'v']);
      await t.same(['DBSIZE']);
      await t.sameSet(['KEYS', '*']);
      await t.sameSet(['KEYS', 'user:*']);
      await t.sameSet(['KEYS', 'user:?']);
      await t.sameSet(['KEYS', '*1*']);
      await t.same(['KEYS', 'nothing*']);
      await t.same(['KEYS']);
      await t.same(['DBSIZE', 'x']);
      await t.same(['RANDOMKEY', 'x']);
      await t.same(['FLUSHDB', 'FOO']);
      await t.same(['FLUSHALL', 'ASYNC', 'SYNC']);
      await t.same(['FLUSHDB']);
      await t.same(['DBSIZE']);
      await t.same(['SET', 'a', '1']);
      await t.same(['FLUSHALL', 'SYNC']);
      await t.same(['SET', 'a', '1']);
      await t.same(['FLUSHALL', 'async']);
      await t.same(['SET', 'a', '1']);
      await t.same(['FLUSHDB', 'ASYNC']);
      await t.same(['KEYS', '*']);
      await t.same(['GET', 'a']);
    });
  });

  it('glob patterns select the same keys in KEYS and SCAN MATCH', async () => {
    await scenario(async (t) => {
      const keys = [
        'hello', 'hallo', 'hxllo', 'hllo', 'heeeello', 'hbllo', 'h[llo', 'h]llo', 'h-llo', 'h^llo', 'h\\llo',
        'h*llo', 'h?llo', 'abc', 'a', 'b', 'c', 'd', 'e', 'z', '-', ']', '[', '^', '\\', '*', '?', 'ab', 'ac',
        'aXc', 'a]c', 'a-c', 'foo.bar', 'key:1', 'key:12', 'key:123', '',
      ];
      await t.same(['MSET', ...keys.flatMap((key) => [key, 'v'])]);
      const patterns = [
        '*', '**', '***', 'h?llo', 'h*llo', 'h[ae]llo', 'h[^e]llo', 'h[a-b]llo', 'h[b-a]llo', 'h\\[llo', 'h\\*llo',
        'h\\?llo', 'h[\\]]llo', 'h[\\-]llo', '[a-c]', '[^a-c]', '[a-]', '[-a]', '[]]', '[]a]', '[^]]', '[', '[a',
        '[^', 'a[', 'h[', '\\', 'a\\', '[\\', '[a-c', '*[', '?', '??', '???', '*?*', 'a*c', 'a?c', 'a[^b]c',
        'a[b-]c', 'a[-b]c', 'key:*', 'key:?', 'key:??*', '*:1*', '*.*', '\\h*', 'h\\', 'h[\\', '[\\\\]', '[*]',
        '[?]', 'a**c', '*o', '*llo*', '*ll*o', 'x*', '', '[^a]', '[!a]', '[a-z]*[0-9]',
      ];
      for (const pattern of patterns) {
        await t.sameSet(['KEYS', pattern]);
        const [redisScan, ballastScan] = await Promise.all([
          scanAll(t.redis, (cursor) => ['SCAN', cursor, 'MATCH', pattern, 'COUNT', '7']),
          scanAll(t.ballast, (cursor) => ['SCAN', cursor, 'MATCH', pattern, 'COUNT', '7']),
        ]);
        expect({ pattern, keys: [...new Set(ballastScan.items)].sort() }).toEqual({
          pattern,
          keys: [...new Set(redisScan.items)].sort(),
        });
      }
    });
  });

  it('SCAN full iteration with COUNT, MATCH and TYPE returns every key', async () => {
    await scenario(async (t) => {
      const strings = keyNames('str:', 150);
      const hashes = keyNames('hash:', 50);
      await t.same(['MSET', ...strings.flatMap((key) => [key, 'v'])]);
      for (const key of hashes) await t.send(['HSET', key, 'f', 'v']);
      await t.same(['DBSIZE']);
      const variants: Array<{ options: Arg[]; expected: string[] }> = [
        { options: ['COUNT', '3'], expected: [...strings, ...hashes] },
        { options: ['COUNT', '3', 'MATCH', 'str:1*'], expected: strings.filter((key) => key.startsWith('str:1')) },
        { options: ['COUNT', '3', 'TYPE', 'hash'], expected: hashes },
        { options: ['COUNT', '3', 'TYPE', 'string', 'MATCH', '*:4?'], expected: strings.filter((key) => /^str:4\d$/.test(key)) },
        { options: ['MATCH', 'hash:*', 'TYPE', 'HASH'], expected: hashes },
        { options: ['COUNT', '1000'], expected: [...strings, ...hashes] },
        { options: ['COUNT', '3', 'TYPE', 'list'], expected: [] },
      ];
      for (const { options, expected } of variants) {
        const [redisScan, ballastScan] = await Promise.all([
          scanAll(t.redis, (cursor) => ['SCAN', cursor, ...options]),
          scanAll(t.ballast, (cursor) => ['SCAN', cursor, ...options]),
        ]);
        const label = options.join(' ');
        expect({ label, keys: [...new Set(redisScan.items)].sort() }).toEqual({ label, keys: [...expected].sort() });
        expect({ label, keys: [...new Set(ballastScan.items)].sort() }).toEqual({ label, keys: [...expected].sort() });
      }
      // Argument errors.
      for (const args of [
        ['SCAN', '0', 'COUNT', '0'], ['SCAN', '0', 'COUNT', '-1'], ['SCAN', '0', 'COUNT', 'abc'], ['SCAN', '0', 'COUNT'],
        ['SCAN', '0', 'MATCH'], ['SCAN', '0', 'TYPE'], ['SCAN', '0', 'FOO', 'bar'], ['SCAN', 'abc'], ['SCAN', '-1x'],
        ['SCAN', ' 0'], ['SCAN', '1.5'], ['SCAN', '99999999999999999999999'], ['SCAN'],
      ]) {
        await t.same(args);
      }
      await t.same(['FLUSHALL']);
      await t.same(['SCAN', '0']);
      await t.same(['SCAN', '0', 'COUNT', '5', 'MATCH', '*', 'TYPE', 'string']);
      // Cursors are read as C strtoul reads them; on an empty database every valid one ends at once.
      for (const cursor of ['', '+0', '007', '-1', '18446744073709551615', '18446744073709551616', '+', '0x10', '1 ']) {
        await t.same(['SCAN', cursor]);
      }
      await t.same(['SCAN', '0', 'COUNT', '9223372036854775807']);
      await t.same(['SCAN', '0', 'COUNT', '9223372036854775808']);
    });
  });

  it('HSCAN full iteration with COUNT and MATCH returns every field', async () => {
    await scenario(async (t) => {
      const fields = keyNames('f', 200);
      await t.same(['HSET', 'big', ...fields.flatMap((field, i) => [field, `v${i}`])]);
      await t.same(['HSET', 'small', 'a', '1', 'b', '2', 'ab', '3']);
      const pairsOf = (items: string[]): string[] => {
        const pairs: string[] = [];
        for (let i = 0; i < items.length; i += 2) pairs.push(`${items[i]}=${items[i + 1]}`);
        return [...new Set(pairs)].sort();
      };
      const variants: Array<{ key: string; options: Arg[]; expected: string[] }> = [
        { key: 'big', options: ['COUNT', '3'], expected: fields.map((field, i) => `${field}=v${i}`) },
        {
          key: 'big',
          options: ['COUNT', '3', 'MATCH', 'f1?'],
          expected: fields.map((field, i) => `${field}=v${i}`).filter((pair) => /^f1\d=/.test(pair)),
        },
        { key: 'small', options: ['COUNT', '1'], expected: ['a=1', 'ab=3', 'b=2'] },
        { key: 'small', options: ['MATCH', 'a*'], expected: ['a=1', 'ab=3'] },
        { key: 'missing', options: [], expected: [] },
      ];
      for (const { key, options, expected } of variants) {
        const [redisScan, ballastScan] = await Promise.all([
          scanAll(t.redis, (cursor) => ['HSCAN', key, cursor, ...options]),
          scanAll(t.ballast, (cursor) => ['HSCAN', key, cursor, ...options]),
        ]);
        const label = [key, ...options].join(' ');
        expect({ label, pairs: pairsOf(redisScan.items) }).toEqual({ label, pairs: [...expected].sort() });
        expect({ label, pairs: pairsOf(ballastScan.items) }).toEqual({ label, pairs: [...expected].sort() });
      }
      // Small hashes come back whole with cursor 0 on both servers.
      await t.same(['HSCAN', 'small', '0']);
      await t.same(['HSCAN', 'small', '0', 'MATCH', 'b*']);
      await t.same(['HSCAN', 'missing', '0']);
      for (const args of [
        ['HSCAN', 'small', '0', 'COUNT', '0'], ['HSCAN', 'small', '0', 'COUNT', 'x'], ['HSCAN', 'small', '0', 'MATCH'],
        ['HSCAN', 'small', '0', 'TYPE', 'hash'], ['HSCAN', 'small', '0', 'FOO'], ['HSCAN', 'small', 'abc'],
        ['HSCAN', 'small'], ['HSCAN', 'missing', '0', 'COUNT', '0'], ['HSCAN', 'missing', '0', 'FOO'],
        ['HSCAN', 'missing', 'abc'],
      ]) {
        await t.same(args);
      }
    });
  });

  it('MULTI EXEC DISCARD: queued errors abort, runtime errors do not', async () => {
    await scenario(async (t) => {
      await t.same(['MULTI']);
      await t.same(['SET', 'a', '1']);
      await t.same(['INCR', 'a']);
      await t.same(['GET', 'a']);
      await t.same(['HSET', 'h', 'f', 'v']);
      await t.same(['EXEC']);
      await t.same(['MULTI']);
      await t.same(['EXEC']);
      // A command rejected while queueing (unknown or wrong arity) aborts the whole transaction.
      await t.same(['MULTI']);
      await t.same(['SET', 'b', '1']);
      await t.same(['NOSUCHCOMMAND', 'x']);
      await t.same(['SET', 'c', '1']);
      await t.same(['EXEC']);
      await t.same(['EXISTS', 'b', 'c']);
      await t.same(['MULTI']);
      await t.same(['SET', 'b', '1']);
      await t.same(['GET']);
      await t.same(['EXEC']);
      await t.same(['EXISTS', 'b']);
      // Errors at run time leave the other commands applied.
      await t.same(['MULTI']);
      await t.same(['SET', 's', 'text']);
      await t.same(['INCR', 's']);
      await t.same(['HGET', 's', 'f']);
      await t.same(['MSET', 'x', '1', 'y']);
      await t.same(['SET', 'after', '1']);
      await t.same(['EXEC']);
      await t.same(['MGET', 's', 'after', 'x']);
      // MULTI cannot nest; the error does not abort the transaction.
      await t.same(['MULTI']);
      await t.same(['MULTI']);
      await t.same(['SET', 'n', '1']);
      await t.same(['EXEC']);
      await t.same(['GET', 'n']);
      await t.same(['EXEC']);
      await t.same(['DISCARD']);
      await t.same(['MULTI']);
      await t.same(['SET', 'd', '1']);
      await t.same(['DISCARD']);
      await t.same(['GET', 'd']);
      await t.same(['EXEC']);
      // WATCH inside MULTI is refused but does not abort either.
      await t.same(['MULTI']);
      await t.same(['WATCH', 'a']);
      await t.same(['SET', 'w', '1']);
      await t.same(['EXEC']);
      await t.same(['MULTI', 'extra']);
      await t.same(['EXEC', 'extra']);
      await t.same(['DISCARD', 'extra']);
      await t.same(['WATCH']);
      await t.same(['UNWATCH', 'extra']);
      // Everything but EXEC, DISCARD, MULTI, WATCH, QUIT and RESET is queued, UNWATCH and PING too.
      await t.same(['MULTI']);
      await t.same(['PING']);
      await t.same(['UNWATCH']);
      await t.same(['EXEC']);
      // A rejected EXEC (wrong arity) discards the transaction.
      await t.same(['MULTI']);
      await t.same(['SET', 'never', '1']);
      await t.same(['EXEC', 'now']);
      await t.same(['EXEC']);
      await t.same(['EXISTS', 'never']);
    });
  });

  it('WATCH makes EXEC fail when another client changes a watched key', async (): Promise<void> => {
    await scenario(async (t, openTwin) => {
      const other = await openTwin();
      await t.same(['SET', 'w', '1']);
      await t.same(['WATCH', 'w']);
      await other.same(['SET', 'w', '2']);
      await t.same(['MULTI']);
      await t.same(['SET', 'w', 'mine']);
      await t.same(['EXEC']);
      await t.same(['GET', 'w']);
      // After EXEC nothing is watched any more.
      await other.same(['SET', 'w', '3']);
      await t.same(['MULTI']);
      await t.same(['SET', 'w', 'mine']);
      await t.same(['EXEC']);
      // Unchanged watched keys let EXEC run; reads of them by others do not count.
      await t.same(['WATCH', 'w', 'missing']);
      await other.same(['GET', 'w']);
      await other.same(['EXISTS', 'missing']);
      await t.same(['MULTI']);
      await t.same(['INCR', 'counter']);
      await t.same(['EXEC']);
      // Creating a watched key that did not exist counts as a change.
      await t.same(['WATCH', 'missing']);
      await other.same(['SET', 'missing', 'now']);
      await t.same(['MULTI']);
      await t.same(['GET', 'missing']);
      await t.same(['EXEC']);
      // Deleting, expiring and renaming count too.
      for (const change of [['DEL', 'w'], ['EXPIRE', 'w', '100'], ['RENAME', 'w', 'w2'], ['HSET', 'w', 'f', 'v']]) {
        await t.same(['SET', 'w', 'v']);
        await t.same(['WATCH', 'w']);
        await other.same(change);
        await t.same(['MULTI']);
        await t.same(['GET', 'w']);
        await t.same(['EXEC']);
        await t.same(['DEL', 'w2']);
      }
      // A change by the watching client itself before MULTI also counts.
      await t.same(['SET', 'w', 'v']);
      await t.same(['WATCH', 'w']);
      await t.same(['SET', 'w', 'self']);
      await t.same(['MULTI']);
      await t.same(['GET', 'w']);
      await t.same(['EXEC']);
      // UNWATCH and DISCARD forget the watched keys.
      await t.same(['WATCH', 'w']);
      await t.same(['UNWATCH']);
      await other.same(['SET', 'w', 'x']);
      await t.same(['MULTI']);
      await t.same(['GET', 'w']);
      await t.same(['EXEC']);
      await t.same(['WATCH', 'w']);
      await t.same(['MULTI']);
      await t.same(['DISCARD']);
      await other.same(['SET', 'w', 'y']);
      await t.same(['MULTI']);
      await t.same(['GET', 'w']);
      await t.same(['EXEC']);
      // A transaction that failed WATCH leaves the database untouched.
      await t.same(['WATCH', 'w']);
      await other.same(['SET', 'w', 'z']);
      await t.same(['MULTI']);
      await t.same(['SET', 'untouched', '1']);
      await t.same(['EXEC']);
      await t.same(['EXISTS', 'untouched']);
      // A watched key that expires before EXEC counts as changed (whether or not it was evicted
      // yet); one that had already expired when watched does not.
      await t.same(['SET', 'w', 'v', 'PX', '150']);
      await t.same(['WATCH', 'w']);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await t.same(['MULTI']);
      await t.same(['GET', 'w']);
      await t.same(['EXEC']);
      await t.same(['SET', 'w', 'v', 'PX', '1']);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await t.same(['WATCH', 'w']);
      await t.same(['MULTI']);
      await t.same(['GET', 'w']);
      await t.same(['EXEC']);
      // FLUSHALL touches watched keys that existed, and only those.
      await t.same(['SET', 'w', 'v']);
      await t.same(['WATCH', 'w']);
      await other.same(['FLUSHALL']);
      await t.same(['MULTI']);
      await t.same(['GET', 'w']);
      await t.same(['EXEC']);
      await t.same(['WATCH', 'never-existed']);
      await other.same(['SET', 'unrelated', '1']);
      await other.same(['FLUSHDB']);
      await t.same(['MULTI']);
      await t.same(['GET', 'never-existed']);
      await t.same(['EXEC']);
    });
  });

  it('PING ECHO SELECT AUTH HELLO QUIT RESET', async () => {
    await scenario(async (t, openTwin) => {
      // HELLO: the version (7.0 here, 7.2 for Ballast) and the client id are expected to differ.
      const helloNormalise = (reply: unknown): unknown => {
        if (Array.isArray(reply)) {
          return reply.map((item, index) => (reply[index - 1] === 'version' || reply[index - 1] === 'id' ? typeof item : item));
        }
        if (reply !== null && typeof reply === 'object' && 'version' in reply) {
          return { ...reply, version: typeof reply.version, id: typeof (reply as { id?: unknown }).id };
        }
        return reply;
      };
      await t.same(['PING']);
      await t.same(['PING', 'hello']);
      await t.same(['PING', 'a', 'b']);
      await t.same(['ECHO', 'hi']);
      await t.same(['ECHO', '']);
      await t.same(['ECHO']);
      await t.same(['ECHO', 'a', 'b']);
      await t.same(['SELECT', '0']);
      await t.same(['SELECT', '16']);
      await t.same(['SELECT', '-1']);
      await t.same(['SELECT', 'abc']);
      await t.same(['SELECT', '99999999999']);
      await t.same(['SELECT']);
      await t.same(['AUTH', 'secret']);
      await t.same(['AUTH', 'default', 'whatever']);
      await t.same(['AUTH', 'someone', 'whatever']);
      await t.same(['AUTH', 'a', 'b', 'c']);
      await t.same(['AUTH']);
      await t.same(['HELLO'], helloNormalise);
      await t.same(['HELLO', '2'], helloNormalise);
      await t.same(['HELLO', '1']);
      await t.same(['HELLO', '4']);
      await t.same(['HELLO', 'abc']);
      await t.same(['HELLO', '2', 'FOO']);
      await t.same(['HELLO', '2', 'AUTH', 'default']);
      await t.same(['HELLO', '2', 'SETNAME']);
      await t.same(['HELLO', '2', 'SETNAME', 'bad name']);
      await t.same(['HELLO', '2', 'AUTH', 'nobody', 'pw']);
      await t.same(['HELLO', '2', 'AUTH', 'default', 'pw', 'SETNAME', 'conn1'], helloNormalise);
      await t.same(['CLIENT', 'GETNAME']);
      // Not compared: HELLO with a syntax error after SETNAME renames the connection in Redis 7.0 but
      // not in 7.2, which Ballast follows (options are all parsed before any is applied).
      // RESP3 replies.
      await t.same(['HELLO', '3'], helloNormalise);
      await t.same(['HSET', 'h', 'a', '1', 'b', '2']);
      await t.same(['HGETALL', 'h']);
      await t.same(['HGETALL', 'missing']);
      await t.same(['GET', 'missing']);
      await t.same(['MGET', 'h', 'missing']);
      await t.same(['INCRBYFLOAT', 'f', '1.5']);
      await t.same(['HINCRBYFLOAT', 'h', 'a', '0.5']);
      await t.same(['HSCAN', 'h', '0']);
      await t.same(['PING']);
      await t.same(['EXISTS', 'h']);
      await t.same(['MULTI']);
      await t.same(['HGETALL', 'h']);
      await t.same(['EXEC']);
      await t.same(['WATCH', 'h']);
      await t.same(['HSET', 'h', 'a', '9']);
      await t.same(['MULTI']);
      await t.same(['HGETALL', 'h']);
      await t.same(['EXEC']);
      await t.same(['HELLO'], helloNormalise);
      await t.same(['COMMAND', 'INFO', 'get', 'hset', 'set', 'rename', 'nosuch']);
      await t.same(['CONFIG', 'GET', 'maxmemory']);
      // RESET returns the connection to RESP2, no name, no transaction.
      await t.same(['CLIENT', 'SETNAME', 'before-reset']);
      await t.same(['MULTI']);
      await t.same(['RESET']);
      await t.same(['CLIENT', 'GETNAME']);
      await t.same(['EXEC']);
      await t.same(['HGETALL', 'h']);
      await t.same(['RESET', 'x']);
      // QUIT answers OK and closes the connection.
      const leaving = await openTwin();
      await leaving.same(['QUIT']);
      await Promise.all([leaving.redis.closed, leaving.ballast.closed]);
      expect(leaving.compared).toBe(1);
    });
  });

  it('CLIENT subcommands', async () => {
    await scenario(async (t, openTwin) => {
      const victim = await openTwin();
      const isId = (reply: unknown): unknown => (typeof reply === 'number' && reply > 0 ? 'id' : reply);
      await t.same(['CLIENT', 'ID'], isId);
      await t.same(['CLIENT', 'GETNAME']);
      await t.same(['CLIENT', 'SETNAME', 'main']);
      await t.same(['CLIENT', 'GETNAME']);
      await t.same(['CLIENT', 'SETNAME', 'has space']);
      await t.same(['CLIENT', 'SETNAME', 'new\nline']);
      await t.same(['CLIENT', 'SETNAME', 'é']);
      await t.same(['CLIENT', 'GETNAME']);
      await t.same(['CLIENT', 'SETNAME', '']);
      await t.same(['CLIENT', 'GETNAME']);
      await t.same(['CLIENT', 'SETNAME', 'main']);
      await t.same(['CLIENT', 'SETNAME']);
      await t.same(['CLIENT', 'SETNAME', 'a', 'b']);
      await t.same(['CLIENT', 'GETNAME', 'x']);
      await t.same(['CLIENT', 'ID', 'x']);
      await t.same(['CLIENT', 'NOSUCH']);
      await t.same(['CLIENT']);
      await t.same(['CLIENT', 'GETREDIR']);
      await t.same(['CLIENT', 'NO-EVICT', 'on']);
      await t.same(['CLIENT', 'NO-EVICT', 'maybe']);
      await t.same(['CLIENT', 'LIST', 'TYPE', 'pubsub']);
      await t.same(['CLIENT', 'LIST', 'TYPE', 'bogus']);
      await t.same(['CLIENT', 'LIST', 'FOO']);
      await t.same(['CLIENT', 'LIST', 'ID', 'abc']);
      await t.same(['CLIENT', 'LIST', 'ID', '999999']);
      await t.same(['CLIENT', 'KILL', '127.0.0.1:1']);
      await t.same(['CLIENT', 'KILL', 'ID', '999999']);
      await t.same(['CLIENT', 'KILL', 'ID', '0']);
      await t.same(['CLIENT', 'KILL', 'ID', 'abc']);
      await t.same(['CLIENT', 'KILL', 'TYPE', 'bogus']);
      await t.same(['CLIENT', 'KILL', 'FOO', 'bar']);
      await t.same(['CLIENT', 'KILL', 'ID']);
      await t.same(['CLIENT', 'KILL', 'SKIPME', 'maybe']);
      // CLIENT INFO and CLIENT LIST: same fields, same values where they are not addresses or times.
      const fieldsOf = (line: string): Map<string, string> =>
        new Map(
          line
            .trim()
            .split(' ')
            .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
        );
      const [redisInfo, ballastInfo] = (await t.send(['CLIENT', 'INFO'])).map((reply) => fieldsOf(String(plain(reply))));
      const compared = ['name', 'db', 'sub', 'psub', 'multi', 'flags', 'user', 'redir', 'resp', 'cmd'];
      const pick = (fields: Map<string, string>): Record<string, string | undefined> =>
        Object.fromEntries(compared.map((name) => [name, fields.get(name)]));
      expect(pick(ballastInfo!)).toEqual(pick(redisInfo!));
      // Ballast has Redis 7.2's fields, a superset of 7.0's.
      for (const name of redisInfo!.keys()) expect({ name, present: ballastInfo!.has(name) }).toEqual({ name, present: true });
      expect(ballastInfo!.get('addr')).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(ballastInfo!.get('id')).toMatch(/^\d+$/);
      // CLIENT LIST ID <mine> lists exactly this connection; CLIENT LIST lists both of the scenario's.
      const [redisId, ballastId] = (await t.send(['CLIENT', 'ID'])) as [number, number];
      const [redisOwn, ballastOwn] = await Promise.all([
        t.redis.call('CLIENT', 'LIST', 'ID', redisId),
        t.ballast.call('CLIENT', 'LIST', 'ID', ballastId),
      ]);
      expect(pick(fieldsOf(String(plain(ballastOwn))))).toEqual(pick(fieldsOf(String(plain(redisOwn)))));
      const [redisList, ballastList] = await t.send(['CLIENT', 'LIST']);
      const names = (text: unknown): string[] =>
        String(plain(text as RespValue))
          .trim()
          .split('\n')
          .map((line) => fieldsOf(line).get('name') ?? '')
          .sort();
      expect(names(ballastList)).toEqual(names(redisList));
      // CLIENT KILL ID closes the other connection and counts it.
      const [redisVictimId, ballastVictimId] = (await victim.send(['CLIENT', 'ID'])) as [number, number];
      const [redisKilled, ballastKilled] = await Promise.all([
        t.redis.call('CLIENT', 'KILL', 'ID', redisVictimId),
        t.ballast.call('CLIENT', 'KILL', 'ID', ballastVictimId),
      ]);
      expect(ballastKilled).toEqual(redisKilled);
      expect(redisKilled).toBe(1);
      await Promise.all([victim.redis.closed, victim.ballast.closed]);
      // The old form, CLIENT KILL <addr>, answers OK and closes that client.
      const addressVictim = await openTwin();
      const [redisVictimInfo, ballastVictimInfo] = (await addressVictim.send(['CLIENT', 'INFO'])).map((reply) =>
        fieldsOf(String(plain(reply))),
      );
      const [redisByAddress, ballastByAddress] = await Promise.all([
        t.redis.call('CLIENT', 'KILL', redisVictimInfo!.get('addr')!),
        t.ballast.call('CLIENT', 'KILL', ballastVictimInfo!.get('addr')!),
      ]);
      expect(plain(ballastByAddress)).toEqual(plain(redisByAddress));
      expect(plain(redisByAddress)).toBe('OK');
      await Promise.all([addressVictim.redis.closed, addressVictim.ballast.closed]);
      await t.same(['CLIENT', 'KILL', 'ADDR', '10.1.2.3:4567']);
      await t.same(['CLIENT', 'KILL', 'ADDR', '10.1.2.3:4567', 'TYPE', 'normal']);
      // No client has that id any more; my own id with SKIPME yes is skipped.
      await t.same(['CLIENT', 'KILL', 'ID', '999999', 'SKIPME', 'no']);
      const [redisSelf, ballastSelf] = await Promise.all([
        t.redis.call('CLIENT', 'KILL', 'ID', redisId, 'SKIPME', 'yes'),
        t.ballast.call('CLIENT', 'KILL', 'ID', ballastId, 'SKIPME', 'yes'),
      ]);
      expect(ballastSelf).toEqual(redisSelf);
      expect(redisSelf).toBe(0);
    });
  });

  it('COMMAND subcommands', async () => {
    await scenario(async (t) => {
      // COMMAND INFO of every command Ballast has agrees in full with Redis's: flags, key positions,
      // ACL categories, tips and key specifications. Containers (CLIENT, CONFIG, COMMAND) are
      // compared on the subcommands both servers have.
      const names = plain(await t.ballast.call('COMMAND', 'LIST')) as string[];
      expect(names.length).toBeGreaterThan(60);
      // WAITALL is Ballast's own command (docs/commands.md); Redis does not have it.
      for (const name of names.filter((command) => command !== 'waitall')) {
        const [redisInfo, ballastInfo] = (await t.send(['COMMAND', 'INFO', name])).map((reply) => (plain(reply) as unknown[][])[0]!);
        const common = (mine: unknown[], theirs: unknown[]): unknown[] =>
          (mine as unknown[][])
            .filter((sub) => (theirs as unknown[][]).some((other) => other[0] === sub[0]))
            .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
        if (Array.isArray(redisInfo) && Array.isArray(ballastInfo) && Array.isArray(redisInfo[9]) && Array.isArray(ballastInfo[9])) {
          const [redisSubs, ballastSubs] = [redisInfo[9], ballastInfo[9]];
          redisInfo[9] = common(redisSubs, ballastSubs);
          ballastInfo[9] = common(ballastSubs, redisSubs);
        }
        expect({ name, info: ballastInfo }).toEqual({ name, info: redisInfo });
      }
      // Different command sets: only the shape of COMMAND COUNT is compared.
      await t.same(['COMMAND', 'COUNT'], (reply) => typeof reply === 'number' && reply > 30);
      await t.same(['COMMAND', 'COUNT', 'x']);
      await t.same(['COMMAND', 'NOSUCH']);
      for (const args of [
        ['GET', 'k'], ['SET', 'k', 'v', 'EX', '10'], ['MSET', 'a', '1', 'b', '2'], ['MGET', 'a', 'b', 'c'],
        ['DEL', 'a', 'b'], ['RENAME', 'a', 'b'], ['HSET', 'h', 'f', 'v'], ['EXPIRE', 'k', '10'], ['WATCH', 'a', 'b'],
        ['MSETNX', 'a', '1'], ['EXISTS', 'x', 'y', 'z'],
        ['PING'], ['SCAN', '0'], ['GET'], ['NOSUCH', 'k'], ['MSET', 'a'], ['SET', 'k'],
      ]) {
        await t.same(['COMMAND', 'GETKEYS', ...args]);
      }
      await t.same(['COMMAND', 'GETKEYS']);
      await t.same(['COMMAND', 'INFO', 'get', 'set', 'mset', 'mget', 'hset', 'hgetall', 'del', 'expire', 'incr', 'nosuch', 'GET']);
      await t.same(['COMMAND', 'INFO', 'nosuch']);
      await t.same(['COMMAND', 'INFO', 'client|list', 'config|get', 'command|getkeys', 'client|nosuch']);
      // COMMAND DOCS: the same commands, groups and a summary (Ballast has Redis 7.2's summaries and
      // no argument specifications, so the rest is not compared).
      const docsNormalise = (reply: unknown): unknown => {
        if (!Array.isArray(reply)) return reply;
        const names: unknown[] = [];
        for (let i = 0; i < reply.length; i += 2) {
          const body = reply[i + 1] as unknown[];
          names.push(reply[i], body[body.indexOf('group') + 1], body.includes('summary'));
        }
        return names;
      };
      await t.same(['COMMAND', 'DOCS', 'get', 'hset', 'nosuch', 'expire', 'ping', 'multi'], docsNormalise);
      await t.same(['COMMAND', 'DOCS', 'nosuch']);
    });
  });

  it('INFO CONFIG TIME LASTSAVE', async () => {
    await scenario(async (t) => {
      const [redisInfo, ballastInfo] = (await t.send(['INFO'])).map((reply) => String(plain(reply)));
      const sections = (text: string): string[] => text.split('\r\n').filter((line) => line.startsWith('# '));
      for (const section of ['# Server', '# Clients', '# Memory', '# Persistence', '# Stats', '# Replication', '# Keyspace']) {
        expect({ section, redis: sections(redisInfo!).includes(section) }).toEqual({ section, redis: true });
        expect({ section, ballast: sections(ballastInfo!).includes(section) }).toEqual({ section, ballast: true });
      }
      const field = (text: string, name: string): string | undefined =>
        text.split('\r\n').find((line) => line.startsWith(`${name}:`))?.slice(name.length + 1);
      for (const name of ['redis_mode', 'role']) {
        expect({ name, value: field(ballastInfo!, name) }).toEqual({ name, value: field(redisInfo!, name) });
      }
      const [redisServerInfo, ballastServerInfo] = (await t.send(['INFO', 'server'])).map((reply) => String(plain(reply)));
      expect(sections(ballastServerInfo!)).toEqual(sections(redisServerInfo!));
      const [redisTwo, ballastTwo] = (await t.send(['INFO', 'server', 'clients'])).map((reply) => String(plain(reply)));
      expect(sections(ballastTwo!)).toEqual(sections(redisTwo!));
      await t.same(['INFO', 'nosuchsection']);
      await t.same(['SET', 'k', 'v']);
      const [redisKeyspace, ballastKeyspace] = (await t.send(['INFO', 'keyspace'])).map((reply) => String(plain(reply)));
      expect(field(ballastKeyspace!, 'db0')?.split(',')[0]).toBe(field(redisKeyspace!, 'db0')?.split(',')[0]);
      for (const name of ['maxmemory', 'maxmemory-policy', 'appendonly', 'save', 'hz', 'cluster-enabled', 'notify-keyspace-events']) {
        await t.same(['CONFIG', 'GET', name]);
      }
      await t.same(['CONFIG', 'GET', 'no-such-parameter']);
      await t.same(['CONFIG', 'GET']);
      await t.same(['CONFIG', 'GET', 'maxmemory', 'maxmemory']);
      await t.same(['CONFIG', 'NOSUCH']);
      await t.same(['CONFIG']);
      await t.same(['CONFIG', 'SET', 'no-such-parameter', '1']);
      await t.same(['CONFIG', 'SET', 'maxclients']);
      await t.same(['CONFIG', 'RESETSTAT']);
      await t.same(['CONFIG', 'RESETSTAT', 'x']);
      const [redisTime, ballastTime] = (await t.send(['TIME'])).map((reply) => plain(reply) as string[]);
      for (const time of [redisTime!, ballastTime!]) {
        expect(time).toHaveLength(2);
        expect(time[0]).toMatch(/^\d+$/);
        expect(time[1]).toMatch(/^\d{1,6}$/);
      }
      expect(Math.abs(Number(ballastTime![0]) - Number(redisTime![0]))).toBeLessThanOrEqual(5);
      await t.same(['TIME', 'x']);
      await t.same(['LASTSAVE'], (reply) => typeof reply === 'number' && reply > 1_600_000_000);
      await t.same(['LASTSAVE', 'x']);
    });
  });

  it('unknown commands and wrong arity errors', async () => {
    await scenario(async (t) => {
      await t.same(['NOSUCHCOMMAND']);
      await t.same(['NOSUCHCOMMAND', 'a', 'b']);
      await t.same(['nosuchcommand', 'x'.repeat(200)]);
      await t.same(['FOO', ...Array.from({ length: 50 }, (_, i) => `a${i}`)]);
      await t.same(['FOO', 'line\r\nbreak']);
      await t.same(['x'.repeat(200)]);
      for (const name of ['OBJECT', 'DEBUG', 'LPUSH', 'SADD', 'ZADD', 'XADD', 'PUBLISH', 'EVAL']) {
        const [redisReply, ballastReply] = await t.send([name, 'a', 'b']);
        // Redis implements these; Ballast answers the unknown-command error for each of them.
        expect(plain(redisReply)).not.toEqual({ error: `ERR unknown command '${name}', with args beginning with: 'a' 'b' ` });
        expect(plain(ballastReply)).toEqual({ error: `ERR unknown command '${name}', with args beginning with: 'a' 'b' ` });
      }
      for (const args of [
        ['GET'], ['GET', 'a', 'b'], ['SET', 'a'], ['SETNX', 'a'], ['SETEX', 'a', '1'], ['PSETEX', 'a'], ['GETSET', 'a'],
        ['GETDEL'], ['GETEX'], ['MGET'], ['MSETNX', 'a'], ['INCR'], ['DECR', 'a', 'b'], ['INCRBY', 'a'], ['DECRBY'],
        ['INCRBYFLOAT', 'a'], ['APPEND', 'a'], ['STRLEN'], ['GETRANGE', 'a', '0'], ['SETRANGE', 'a', '0'],
        ['HSET', 'h', 'f'], ['HGET', 'h'], ['HMGET', 'h'], ['HMSET', 'h', 'f'], ['HDEL', 'h'], ['HGETALL'], ['HKEYS'],
        ['HVALS', 'h', 'x'], ['HLEN'], ['HEXISTS', 'h'], ['HINCRBY', 'h', 'f'], ['HINCRBYFLOAT', 'h'], ['HSETNX', 'h', 'f'],
        ['HSTRLEN', 'h'], ['HSCAN', 'h'], ['DEL'], ['UNLINK'], ['EXISTS'], ['TYPE'], ['EXPIRE', 'k'], ['PEXPIRE', 'k'],
        ['EXPIREAT', 'k'], ['PEXPIREAT'], ['TTL'], ['PTTL', 'a', 'b'], ['PERSIST'], ['EXPIRETIME'], ['RENAME', 'a'],
        ['RENAMENX', 'a'], ['SCAN'], ['KEYS'], ['DBSIZE', 'x'], ['RANDOMKEY', 'x'], ['TOUCH'], ['ECHO'], ['SELECT'],
        ['TIME', 'x'], ['LASTSAVE', 'x'], ['MULTI', 'x'], ['WATCH'],
      ]) {
        await t.same(args);
      }
      // Command names are case-insensitive.
      await t.same(['sEt', 'case', 'v']);
      await t.same(['get', 'case']);
      await t.same(['GeT', 'case']);
    });
  });

  // Seeded random command sequences over a small keyspace, so commands meet each other's results
  // (types, expiries, odd values). Reproduce a failure with its seed.
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`random command sequences agree (seed ${seed})`, async () => {
      await scenario(async (t, openTwin) => {
        const peek = (await openTwin()).redis;
        const random = seededRandom(seed);
        let inTransaction = false;
        for (let step = 0; step < 500; step++) {
          let command = randomCommand(random);
          let name = String(command[0]);
          // Inside MULTI the reply is QUEUED now and part of EXEC's array later, where TTLs cannot be
          // compared with a tolerance nor KEYS in any order: ask for the key's type instead.
          // Float increments of a value that is not a short binary fraction (APPEND and SETRANGE
          // make "0.5007" and the like) differ in the last digits by design: skipped the same way.
          const isFloatIncrement = name === 'INCRBYFLOAT' || name === 'HINCRBYFLOAT';
          let replace = inTransaction && (TIME_DEPENDENT.has(name) || name === 'KEYS' || isFloatIncrement);
          if (!replace && isFloatIncrement) {
            const current = plain(await peek.call(...(name === 'INCRBYFLOAT' ? ['GET', command[1]!] : ['HGET', command[1]!, command[2]!])));
            replace = typeof current === 'string' && !exactInBothPrecisions(current);
          }
          if (replace) {
            command = ['TYPE', command[1] ?? 'a'];
            name = 'TYPE';
          }
          if (TIME_DEPENDENT.has(name)) {
            await t.near(command, name === 'PTTL' || name === 'PEXPIRETIME' ? 1500 : 1);
            continue;
          }
          const reply = await t.same(command, name === 'KEYS' ? sortedIfArray : (value) => value);
          if (name === 'MULTI' && reply === 'OK') inTransaction = true;
          if (name === 'EXEC' || name === 'DISCARD') inTransaction = false;
        }
      });
    });
  }

  it('replies are byte-identical in RESP2 and RESP3: null kinds, empty maps, sets, nested arrays', async () => {
    // plain() cannot tell a null bulk string ($-1) from a null array (*-1), nor an array from a set
    // or a map in RESP3; the raw bytes can. One pipeline per server, HELLO's version and id masked.
    const script: Arg[][] = [
      ['FLUSHALL'], ['RANDOMKEY'], ['KEYS', '*'], ['SCAN', '0'], ['GET', 'missing'], ['MGET', 'missing', 'k'],
      ['SET', 'k', 'v'], ['SET', 'k', 'w', 'NX'], ['SET', 'k', 'w', 'NX', 'GET'], ['SET', 'new', 'w', 'XX', 'GET'],
      ['GETDEL', 'missing'], ['GETEX', 'missing'], ['HGET', 'missing', 'f'], ['HGETALL', 'missing'], ['HKEYS', 'missing'],
      ['HSET', 'h', 'a', '1', 'b', '2'], ['HGETALL', 'h'], ['HKEYS', 'h'], ['HVALS', 'h'], ['HMGET', 'h', 'a', 'zz'],
      ['HSCAN', 'h', '0'], ['HSCAN', 'missing', '0'], ['HINCRBYFLOAT', 'h', 'a', '0.5'], ['INCRBYFLOAT', 'f', '1.5'],
      ['TTL', 'k'], ['TYPE', 'k'], ['EXISTS', 'k', 'h'], ['CLIENT', 'GETNAME'], ['COMMAND', 'INFO', 'nosuch'],
      ['COMMAND', 'INFO', 'get', 'mset'], ['COMMAND', 'GETKEYS', 'SET', 'k', 'v'], ['CONFIG', 'GET', 'maxmemory'],
      ['CONFIG', 'GET', 'nosuch'], ['ECHO', 'x'], ['PING'], ['PING', 'x'], ['MULTI'], ['GET', 'k'], ['HGETALL', 'h'],
      ['GET', 'missing'], ['EXEC'], ['WATCH', 'k'], ['SET', 'k', 'changed'], ['MULTI'], ['GET', 'k'], ['EXEC'],
      ['GET'], ['HGET', 'k', 'f'], ['EXPIRE', 'k', '100', 'XX', 'NX'], ['NOSUCH', 'a'], ['DEL', 'k', 'h', 'f'],
    ];
    const pipeline = [...script, ['HELLO', '3'], ...script, ['HELLO', '2'], ['GET', 'missing']];
    const [redisBytes, ballastBytes] = await Promise.all([
      rawExchange(redisServer.port, pipeline),
      rawExchange(ballastNode.port, pipeline),
    ]);
    const mask = (text: string): string =>
      text
        .replace(/\$7\r\nversion\r\n\$\d+\r\n[^\r]*\r\n/g, '$7\r\nversion\r\n<version>\r\n')
        .replace(/\$2\r\nid\r\n:\d+\r\n/g, '$2\r\nid\r\n<id>\r\n');
    expect(mask(ballastBytes)).toBe(mask(redisBytes));
    expect(redisBytes).toContain('*-1\r\n');
    expect(redisBytes).toContain('%0\r\n');
    // Text for humans (INFO, CLIENT INFO/LIST) differs in content but not in kind: a bulk string in
    // RESP2, a verbatim string ("txt") in RESP3.
    const textCommands: Arg[][] = [['INFO', 'server'], ['CLIENT', 'INFO'], ['CLIENT', 'LIST']];
    for (const protocol of ['2', '3']) {
      const [redisText, ballastText] = await Promise.all(
        [redisServer.port, ballastNode.port].map((port) => rawExchange(port, [['HELLO', protocol], ...textCommands])),
      );
      const kinds = (text: string): string[] =>
        text
          .split('\r\n')
          .filter((line) => /^[$=]\d+$/.test(line))
          .slice(-textCommands.length)
          .map((line) => line[0]!);
      expect({ protocol, kinds: kinds(ballastText!) }).toEqual({ protocol, kinds: kinds(redisText!) });
      expect(kinds(redisText!)).toEqual(protocol === '2' ? ['$', '$', '$'] : ['=', '=', '=']);
    }
  });

  it('intended differences are what the documentation says', async () => {
    await scenario(async (t) => {
      // One database: SELECT 1 works on Redis and is refused by Ballast.
      const [redisSelect, ballastSelect] = await t.send(['SELECT', '1']);
      expect(plain(redisSelect)).toBe('OK');
      expect(plain(ballastSelect)).toEqual({ error: 'ERR DB index is out of range' });
      await t.redis.call('SELECT', '0');
      // Keys longer than 1900 bytes are refused by every command that takes a key.
      const longKey = 'k'.repeat(1901);
      const okKey = 'k'.repeat(1900);
      const longHashKey = 'h'.repeat(5000);
      for (const args of [
        ['SET', longKey, 'v'], ['GET', longKey], ['EXISTS', longKey], ['DEL', longKey], ['HSET', longHashKey, 'f', 'v'],
        ['HGETALL', longHashKey], ['EXPIRE', longHashKey, '100'],
      ]) {
        const [redisReply, ballastReply] = await t.send(args);
        expect(plain(redisReply)).not.toHaveProperty('error');
        expect(plain(ballastReply)).toEqual({ error: 'ERR key is too long (at most 1900 bytes)' });
      }
      await t.same(['SET', okKey, 'v']);
      await t.same(['GET', okKey]);
      // INCRBYFLOAT in IEEE doubles: Redis's long double rounds 0.1 + 0.2 to 0.3.
      await t.send(['SET', 'f', '0.1']);
      const [redisFloat, ballastFloat] = await t.send(['INCRBYFLOAT', 'f', '0.2']);
      expect(plain(redisFloat)).toBe('0.3');
      expect(plain(ballastFloat)).toBe('0.30000000000000004');
      await t.send(['SET', 'f', '1.1']);
      const [redisFloat2, ballastFloat2] = await t.send(['INCRBYFLOAT', 'f', '0.1']);
      expect(plain(redisFloat2)).toBe('1.2');
      expect(plain(ballastFloat2)).toBe('1.2000000000000002');
      // CONFIG GET answers from Ballast's own table.
      const [redisDatabases, ballastDatabases] = await t.send(['CONFIG', 'GET', 'databases']);
      expect(plain(redisDatabases)).toEqual(['databases', '16']);
      expect(plain(ballastDatabases)).toEqual(['databases', '1']);
    });
  });
});
