// Proves that unmodified, widely used clients work against ballast-node and read back what they
// wrote: ioredis (commands, a 100-command pipeline, MULTI/EXEC, scanStream, AUTH with the right and
// a wrong password), node-redis v5 over RESP2 and RESP3 (hGetAll as an object, multi().exec(),
// scanIterator, hScanIterator) and the redis-cli binary (plain commands, RESP3 output, --pipe mass
// insertion and --scan). Each client's own handshake (INFO, HELLO, CLIENT SETINFO) has to succeed
// for these to run at all.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { removeDirectory, startNode, type NodeProcess } from '@ballast/testkit';

const PASSWORD = 'correct horse battery staple';

let node: NodeProcess;
let protectedNode: NodeProcess;

beforeAll(async () => {
  [node, protectedNode] = await Promise.all([startNode(), startNode({ args: ['--requirepass', PASSWORD] })]);
});

afterAll(async () => {
  await Promise.all([node?.kill(), protectedNode?.kill()]);
  if (node) removeDirectory(node.dataDir);
  if (protectedNode) removeDirectory(protectedNode.dataDir);
});

/** Runs redis-cli against the node; resolves with its exit code and output. */
function redisCli(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(node.port), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-cli ${args.join(' ')} did not finish:\n${stdout}\n${stderr}`));
    }, 60_000);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

describe('ioredis', () => {
  let client: Redis;

  beforeAll(async () => {
    client = new Redis({ host: '127.0.0.1', port: node.port, lazyConnect: true });
    await client.connect();
  });

  afterAll(() => {
    client?.disconnect();
  });

  it('reads back strings, hashes, counters and expiry', async () => {
    expect(await client.set('io:string', 'hello')).toBe('OK');
    expect(await client.get('io:string')).toBe('hello');
    expect(await client.get('io:missing')).toBeNull();
    expect(await client.hset('io:hash', { name: 'ballast', kind: 'kv', port: String(node.port) })).toBe(3);
    expect(await client.hgetall('io:hash')).toEqual({ name: 'ballast', kind: 'kv', port: String(node.port) });
    expect(await client.hget('io:hash', 'name')).toBe('ballast');
    expect(await client.incr('io:counter')).toBe(1);
    expect(await client.incrby('io:counter', 41)).toBe(42);
    expect(await client.get('io:counter')).toBe('42');
    expect(await client.ttl('io:string')).toBe(-1);
    expect(await client.expire('io:string', 100)).toBe(1);
    const ttl = await client.ttl('io:string');
    expect(ttl).toBeGreaterThanOrEqual(98);
    expect(ttl).toBeLessThanOrEqual(100);
    expect(await client.ttl('io:missing')).toBe(-2);
    await expect(client.hget('io:string', 'field')).rejects.toThrow(/^WRONGTYPE/);
    const binary = Buffer.from([0, 1, 2, 250, 255, 13, 10]);
    await client.set('io:binary', binary);
    expect(await client.getBuffer('io:binary')).toEqual(binary);
  });

  it('runs a pipeline of 100 commands and gets 100 replies in order', async () => {
    const pipeline = client.pipeline();
    for (let i = 0; i < 50; i++) pipeline.set(`io:pipe:${i}`, `value-${i}`);
    for (let i = 0; i < 50; i++) pipeline.get(`io:pipe:${i}`);
    const results = await pipeline.exec();
    expect(results).toHaveLength(100);
    for (let i = 0; i < 50; i++) {
      expect(results![i]).toEqual([null, 'OK']);
      expect(results![50 + i]).toEqual([null, `value-${i}`]);
    }
  });

  it('runs MULTI/EXEC, including a command that fails at run time', async () => {
    const results = await client
      .multi()
      .set('io:tx', '1')
      .incr('io:tx')
      .hset('io:tx', 'f', 'v')
      .get('io:tx')
      .exec();
    expect(results).toHaveLength(4);
    expect(results![0]).toEqual([null, 'OK']);
    expect(results![1]).toEqual([null, 2]);
    expect(results![2]![0]).toBeInstanceOf(Error);
    expect(String(results![2]![0])).toMatch(/WRONGTYPE/);
    expect(results![3]).toEqual([null, '2']);
  });

  it('aborts MULTI/EXEC when a watched key changes', async () => {
    const other = new Redis({ host: '127.0.0.1', port: node.port, lazyConnect: true });
    await other.connect();
    try {
      await client.set('io:watched', 'before');
      await client.watch('io:watched');
      await other.set('io:watched', 'changed');
      expect(await client.multi().set('io:watched', 'mine').exec()).toBeNull();
      expect(await client.get('io:watched')).toBe('changed');
    } finally {
      other.disconnect();
    }
  });

  it('collects every key with scanStream', async () => {
    const keys = Array.from({ length: 250 }, (_, i) => `io:scan:${i}`);
    await client.mset(Object.fromEntries(keys.map((key) => [key, 'x'])));
    const seen = new Set<string>();
    await new Promise<void>((resolve, reject) => {
      const stream = client.scanStream({ match: 'io:scan:*', count: 7 });
      stream.on('data', (batch: string[]) => batch.forEach((key) => seen.add(key)));
      stream.on('end', () => resolve());
      stream.on('error', reject);
    });
    expect([...seen].sort()).toEqual([...keys].sort());
  });

  it('authenticates with the right password and fails with WRONGPASS on a wrong one', async () => {
    const authorised = new Redis({ host: '127.0.0.1', port: protectedNode.port, password: PASSWORD, lazyConnect: true });
    try {
      await authorised.connect();
      expect(await authorised.set('io:auth', 'yes')).toBe('OK');
      expect(await authorised.get('io:auth')).toBe('yes');
    } finally {
      authorised.disconnect();
    }

    const errors: string[] = [];
    const refused = new Redis({
      host: '127.0.0.1',
      port: protectedNode.port,
      password: 'wrong password',
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    refused.on('error', (error: Error) => errors.push(error.message));
    try {
      await expect(refused.connect()).rejects.toThrow();
    } finally {
      refused.disconnect();
    }
    expect(errors).toContain('WRONGPASS invalid username-password pair or user is disabled.');

    // Without a password every data command is refused.
    const anonymous = new Redis({ host: '127.0.0.1', port: protectedNode.port, lazyConnect: true, enableReadyCheck: false });
    try {
      await anonymous.connect();
      await expect(anonymous.get('io:auth')).rejects.toThrow('NOAUTH Authentication required.');
    } finally {
      anonymous.disconnect();
    }
  });
});

async function connectNodeRedis(protocol: 2 | 3) {
  const client = createClient({ url: `redis://127.0.0.1:${node.port}`, RESP: protocol });
  // Errors surface as rejected commands in the tests; the event only needs a listener.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

describe('node-redis v5', () => {
  for (const protocol of [2, 3] as const) {
    describe(`RESP${protocol}`, () => {
      const prefix = `nr${protocol}`;
      let client: Awaited<ReturnType<typeof connectNodeRedis>>;

      beforeAll(async () => {
        client = await connectNodeRedis(protocol);
      });

      afterAll(() => {
        client?.destroy();
      });

      it('negotiates the protocol it asked for', async () => {
        const info = String(await client.sendCommand(['CLIENT', 'INFO']));
        expect(info).toMatch(new RegExp(` resp=${protocol}( |$)`));
        expect(info).toMatch(/ lib-name=node-redis /);
      });

      it('reads back strings, counters and hashes (hGetAll as an object)', async () => {
        expect(await client.set(`${prefix}:s`, 'value')).toBe('OK');
        expect(await client.get(`${prefix}:s`)).toBe('value');
        expect(await client.get(`${prefix}:missing`)).toBeNull();
        expect(await client.incrBy(`${prefix}:n`, 5)).toBe(5);
        expect(await client.hSet(`${prefix}:h`, { a: '1', b: '2', c: '3' })).toBe(3);
        expect({ ...(await client.hGetAll(`${prefix}:h`)) }).toEqual({ a: '1', b: '2', c: '3' });
        expect({ ...(await client.hGetAll(`${prefix}:nohash`)) }).toEqual({});
        expect(await client.hIncrByFloat(`${prefix}:h`, 'a', 0.5)).toBe('1.5');
        expect(await client.exists([`${prefix}:s`, `${prefix}:h`, `${prefix}:missing`])).toBe(2);
        expect(await client.pExpire(`${prefix}:s`, 60_000)).toBe(1);
        const pttl = await client.pTTL(`${prefix}:s`);
        expect(pttl).toBeGreaterThan(50_000);
        expect(pttl).toBeLessThanOrEqual(60_000);
      });

      it('runs multi().exec() and returns every reply', async () => {
        const replies = await client
          .multi()
          .set(`${prefix}:tx`, '10')
          .incrBy(`${prefix}:tx`, 5)
          .get(`${prefix}:tx`)
          .hSet(`${prefix}:txh`, 'f', 'v')
          .hGetAll(`${prefix}:txh`)
          .exec();
        expect(replies.slice(0, 4)).toEqual(['OK', 15, '15', 1]);
        expect({ ...(replies[4] as unknown as Record<string, string>) }).toEqual({ f: 'v' });
      });

      it('iterates every key with scanIterator and every field with hScanIterator', async () => {
        const keys = Array.from({ length: 120 }, (_, i) => `${prefix}:scan:${i}`);
        await client.mSet(keys.map((key) => [key, 'x'] as [string, string]));
        const seen = new Set<string>();
        for await (const batch of client.scanIterator({ MATCH: `${prefix}:scan:*`, COUNT: 9 })) {
          for (const key of [batch].flat()) seen.add(String(key));
        }
        expect([...seen].sort()).toEqual([...keys].sort());

        const fields = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`f${i}`, `v${i}`]));
        await client.hSet(`${prefix}:bighash`, fields);
        const seenFields = new Map<string, string>();
        for await (const batch of client.hScanIterator(`${prefix}:bighash`, { COUNT: 50 })) {
          for (const { field, value } of [batch].flat()) seenFields.set(String(field), String(value));
        }
        expect(Object.fromEntries(seenFields)).toEqual(fields);
      });

      it('surfaces server errors as rejected promises with the Redis text', async () => {
        await expect(client.incr(`${prefix}:h`)).rejects.toThrow(
          'WRONGTYPE Operation against a key holding the wrong kind of value',
        );
        await expect(client.sendCommand(['NOSUCHCOMMAND'])).rejects.toThrow(/^ERR unknown command 'NOSUCHCOMMAND'/);
      });
    });
  }

  it('authenticates from the URL and refuses a wrong password with WRONGPASS', async () => {
    const client = createClient({ url: `redis://default:${encodeURIComponent(PASSWORD)}@127.0.0.1:${protectedNode.port}` });
    client.on('error', () => undefined);
    await client.connect();
    try {
      expect(await client.set('nr:auth', 'ok')).toBe('OK');
      expect(await client.get('nr:auth')).toBe('ok');
    } finally {
      client.destroy();
    }
    const refused = createClient({
      url: `redis://default:wrong@127.0.0.1:${protectedNode.port}`,
      socket: { reconnectStrategy: false },
    });
    refused.on('error', () => undefined);
    await expect(refused.connect()).rejects.toThrow(/WRONGPASS/);
    if (refused.isOpen) refused.destroy();
  });
});

describe('redis-cli', () => {
  it('sets and gets a value', async () => {
    expect(await redisCli(['set', 'cli:k', 'v'])).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect(await redisCli(['get', 'cli:k'])).toMatchObject({ code: 0, stdout: 'v\n' });
    expect(await redisCli(['get', 'cli:absent'])).toMatchObject({ code: 0, stdout: '\n' });
  });

  it('prints typed replies with --no-raw', async () => {
    expect((await redisCli(['--no-raw', 'incr', 'cli:n'])).stdout).toBe('(integer) 1\n');
    expect((await redisCli(['--no-raw', 'incr', 'cli:n'])).stdout).toBe('(integer) 2\n');
    expect((await redisCli(['--no-raw', 'get', 'cli:absent'])).stdout).toBe('(nil)\n');
    expect((await redisCli(['--no-raw', 'hget', 'cli:n', 'f'])).stdout).toBe(
      '(error) WRONGTYPE Operation against a key holding the wrong kind of value\n',
    );
  });

  it('speaks RESP3 with -3 and shows hashes as maps', async () => {
    expect((await redisCli(['hset', 'cli:h', 'f1', 'v1', 'f2', 'v2'])).stdout).toBe('2\n');
    expect((await redisCli(['-3', '--no-raw', 'hgetall', 'cli:h'])).stdout).toBe('1# "f1" => "v1"\n2# "f2" => "v2"\n');
    expect((await redisCli(['-3', 'hgetall', 'cli:h'])).stdout).toBe('f1 v1\nf2 v2\n');
    expect((await redisCli(['-3', '--no-raw', 'get', 'cli:absent'])).stdout).toBe('(nil)\n');
    expect((await redisCli(['-3', '--no-raw', 'hello', '3'])).stdout).toMatch(/^1# "server" => "redis"\n/);
  });

  it('mass-inserts 1000 keys with --pipe and DBSIZE counts them', async () => {
    expect((await redisCli(['flushall'])).stdout).toBe('OK\n');
    let protocol = '';
    for (let i = 0; i < 1000; i++) {
      const key = `mass:${i}`;
      const value = `value-${i}`;
      protocol += `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n`;
    }
    const result = await redisCli(['--pipe'], protocol);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('errors: 0, replies: 1000');
    expect((await redisCli(['dbsize'])).stdout).toBe('1000\n');
    expect((await redisCli(['get', 'mass:999'])).stdout).toBe('value-999\n');
  });

  it('lists matching keys with --scan --pattern', async () => {
    await redisCli(['mset', 'k1', 'a', 'k2', 'b', 'key:x', 'c', 'other', 'd']);
    const result = await redisCli(['--scan', '--pattern', 'k*']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n').sort()).toEqual(['k1', 'k2', 'key:x']);
    const keyCount = Number((await redisCli(['dbsize'])).stdout);
    expect(keyCount).toBeGreaterThan(3);
    const everything = await redisCli(['--scan']);
    expect(new Set(everything.stdout.trim().split('\n')).size).toBe(keyCount);
  });
});
