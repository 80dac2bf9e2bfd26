// Proves, against a real ballast-node over TCP, the RESP layer as clients see it: 1000 pipelined
// commands in one write get 1000 replies in order; inline commands with quoting work; HELLO 3
// switches replies to RESP3 frames (map, null, set, verbatim) and HELLO 2 switches back, byte for
// byte; a malformed request gets `-ERR Protocol error: ...` and only that connection is closed; the
// --proto-max-bulk-len and pre-AUTH limits reject with Redis's messages; and for a set of malformed
// requests ballast-node sends exactly the bytes redis-server sends.
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeCommand,
  RawClient,
  removeDirectory,
  startNode,
  startRedis,
  type NodeProcess,
  type RedisProcess,
} from '@ballast/testkit';

const REPLY_TIMEOUT_MS = 20_000;

/** A socket that records every byte received, for assertions on exact reply bytes. */
class ByteClient {
  private received = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private isClosed = false;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.waiter?.();
    });
    // The server may reset the connection after a protocol error; 'close' below is what we await.
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        this.waiter?.();
        resolve();
      });
    });
  }

  static connect(port: number): Promise<ByteClient> {
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      socket.once('error', reject);
      socket.connect(port, '127.0.0.1', () => {
        socket.removeListener('error', reject);
        resolve(new ByteClient(socket));
      });
    });
  }

  send(bytes: Buffer | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Waits until `condition(received)` holds, the connection closes, or the timeout passes. */
  private async waitFor(condition: (received: Buffer) => boolean): Promise<void> {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    while (!condition(this.received) && !this.isClosed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }
  }

  /** Removes and returns (latin1) the next `byteCount` bytes, or fewer if the connection closed. */
  async take(byteCount: number): Promise<string> {
    await this.waitFor((received) => received.length >= byteCount);
    const taken = this.received.subarray(0, byteCount);
    this.received = this.received.subarray(taken.length);
    return taken.toString('latin1');
  }

  /** Asserts the next bytes received are exactly `expected`. */
  async expectBytes(expected: string): Promise<void> {
    expect(await this.take(expected.length)).toBe(expected);
  }

  /** Removes and returns (latin1) everything up to and including the first match of `end`. */
  async takeThrough(end: string): Promise<string> {
    await this.waitFor((received) => received.includes(end, 0, 'latin1'));
    const index = this.received.indexOf(end, 0, 'latin1');
    expect(index).toBeGreaterThanOrEqual(0);
    return this.take(index + end.length);
  }

  /** Everything received until the server closes the connection. */
  async untilClosed(): Promise<string> {
    await Promise.race([this.closed, new Promise((resolve) => setTimeout(resolve, REPLY_TIMEOUT_MS))]);
    expect(this.isClosed).toBe(true);
    return this.take(this.received.length);
  }

  close(): void {
    this.socket.destroy();
  }
}

const bulk = (text: string): string => `$${Buffer.byteLength(text, 'latin1')}\r\n${text}\r\n`;

describe('RESP over TCP', () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(async () => {
    await node.kill();
    removeDirectory(node.dataDir);
  });

  it('answers 1000 pipelined commands sent in one write with 1000 replies in order', async () => {
    const client = await ByteClient.connect(node.port);
    const commands: Buffer[] = [];
    let expected = '';
    for (let i = 0; i < 1000; i++) {
      if (i % 3 === 0) {
        commands.push(encodeCommand(['INCR', 'pipeline:counter']));
        expected += `:${i / 3 + 1}\r\n`;
      } else if (i % 3 === 1) {
        commands.push(encodeCommand(['SET', `pipeline:${i}`, `value-${i}`]));
        expected += '+OK\r\n';
      } else {
        commands.push(encodeCommand(['GET', `pipeline:${i - 1}`]));
        expected += bulk(`value-${i - 1}`);
      }
    }
    client.send(Buffer.concat(commands));
    await client.expectBytes(expected);
    client.send('*1\r\n$4\r\nPING\r\n');
    await client.expectBytes('+PONG\r\n');
    client.close();
  });

  it('runs inline commands, with quoting, and skips blank lines', async () => {
    const client = await ByteClient.connect(node.port);
    client.send('PING\r\n');
    await client.expectBytes('+PONG\r\n');
    client.send('SET inline:a "b c"\r\n');
    await client.expectBytes('+OK\r\n');
    client.send('GET inline:a\r\n');
    await client.expectBytes(bulk('b c'));
    client.send("\r\n\n  \r\nECHO 'it\\'s' \r\nECHO \"\\x41\\x42\\n\"\nPING\r\n");
    await client.expectBytes(`${bulk("it's")}${bulk('AB\n')}+PONG\r\n`);
    client.send('ECHO "unbalanced\r\n');
    expect(await client.untilClosed()).toBe('-ERR Protocol error: unbalanced quotes in request\r\n');
  });

  it('switches to RESP3 frames after HELLO 3 and back after HELLO 2', async () => {
    const client = await ByteClient.connect(node.port);
    client.send(encodeCommand(['HSET', 'resp3:hash', 'a', '1', 'b', '2']));
    await client.expectBytes(':2\r\n');
    client.send(encodeCommand(['HELLO', '3']));
    const hello3 = await client.takeThrough('$7\r\nmodules\r\n*0\r\n');
    expect(hello3).toMatch(
      /^%7\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n\$7\r\nversion\r\n\$\d+\r\n[\d.]+\r\n\$5\r\nproto\r\n:3\r\n\$2\r\nid\r\n:\d+\r\n\$4\r\nmode\r\n\$10\r\nstandalone\r\n\$4\r\nrole\r\n\$6\r\nmaster\r\n\$7\r\nmodules\r\n\*0\r\n$/,
    );
    client.send(encodeCommand(['HGETALL', 'resp3:hash']));
    await client.expectBytes(`%2\r\n${bulk('a')}${bulk('1')}${bulk('b')}${bulk('2')}`);
    client.send(encodeCommand(['HGETALL', 'resp3:missing']));
    await client.expectBytes('%0\r\n');
    client.send(encodeCommand(['GET', 'resp3:missing']));
    await client.expectBytes('_\r\n');
    client.send(encodeCommand(['HGET', 'resp3:hash', 'missing']));
    await client.expectBytes('_\r\n');
    client.send(encodeCommand(['MGET', 'resp3:missing', 'inline:a']));
    await client.expectBytes(`*2\r\n_\r\n${bulk('b c')}`);
    // INCRBYFLOAT replies a bulk string in RESP3 too, as redis-server does.
    client.send(encodeCommand(['INCRBYFLOAT', 'resp3:float', '1.5']));
    await client.expectBytes(bulk('1.5'));
    client.send(encodeCommand(['INCRBYFLOAT', 'resp3:float', '1e21']));
    await client.expectBytes(bulk('1000000000000000000000'));
    // COMMAND INFO's flags and ACL categories are RESP3 sets.
    client.send(Buffer.concat([encodeCommand(['COMMAND', 'INFO', 'get']), encodeCommand(['PING'])]));
    expect(await client.takeThrough('+PONG\r\n')).toMatch(/^\*1\r\n\*10\r\n\$3\r\nget\r\n:2\r\n~2\r\n\+readonly\r\n\+fast\r\n:1\r\n:1\r\n:1\r\n~\d+\r\n\+@/);
    client.send(encodeCommand(['CLIENT', 'INFO']));
    const info = await client.takeThrough('\n\r\n');
    const verbatim = /^=(\d+)\r\ntxt:(id=\d+ [^\r]*resp=3[^\r]*\n)\r\n$/.exec(info);
    expect(verbatim).not.toBeNull();
    expect(Number(verbatim![1])).toBe(Buffer.byteLength(`txt:${verbatim![2]}`, 'latin1'));

    client.send(encodeCommand(['HELLO', '2']));
    const hello2 = await client.takeThrough('$7\r\nmodules\r\n*0\r\n');
    expect(hello2).toMatch(/^\*14\r\n\$6\r\nserver\r\n[\s\S]*\$5\r\nproto\r\n:2\r\n[\s\S]*\*0\r\n$/);
    client.send(encodeCommand(['HGETALL', 'resp3:hash']));
    await client.expectBytes(`*4\r\n${bulk('a')}${bulk('1')}${bulk('b')}${bulk('2')}`);
    client.send(encodeCommand(['HGETALL', 'resp3:missing']));
    await client.expectBytes('*0\r\n');
    client.send(encodeCommand(['GET', 'resp3:missing']));
    await client.expectBytes('$-1\r\n');
    client.send(Buffer.concat([encodeCommand(['COMMAND', 'INFO', 'get']), encodeCommand(['PING'])]));
    expect(await client.takeThrough('+PONG\r\n')).toMatch(/^\*1\r\n\*10\r\n\$3\r\nget\r\n:2\r\n\*2\r\n\+readonly\r\n\+fast\r\n/);
    client.send(encodeCommand(['CLIENT', 'INFO']));
    expect(await client.takeThrough('\n\r\n')).toMatch(/^\$\d+\r\nid=\d+ [^\r]*resp=2[^\r]*\n\r\n$/);
    client.close();
  });

  it('replies to a malformed request with a protocol error and closes only that connection', async () => {
    const other = await RawClient.connect(node.port);
    expect(await other.call('SET', 'survivor', 'still here')).toBe('OK');
    const client = await ByteClient.connect(node.port);
    client.send('*1\r\n$4\r\nPING\r\n*x\r\n*1\r\n$4\r\nPING\r\n');
    expect(await client.untilClosed()).toBe('+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n');
    expect(await other.call('PING')).toBe('PONG');
    expect((await other.call('GET', 'survivor'))?.toString()).toBe('still here');
    other.close();
  });

  it.each([
    ["a bulk header without '$'", '*2\r\n$4\r\nECHO\r\nx1\r\n', "expected '$', got 'x'"],
    ['a negative bulk length', '*1\r\n$-5\r\n', 'invalid bulk length'],
    ['more arguments than multibulkLengthMax', `*${1024 * 1024 + 1}\r\n`, 'invalid multibulk length'],
    ['a bulk over 512 MB', `*1\r\n$${512 * 1024 * 1024 + 1}\r\n`, 'invalid bulk length'],
    ['a 70 KB inline line', `PING ${'x'.repeat(70_000)}`, 'too big inline request'],
    ['a 70 KB multibulk header', `*${'1'.repeat(70_000)}`, 'too big mbulk count string'],
    ['a 70 KB bulk header', `*1\r\n$${'1'.repeat(70_000)}`, 'too big bulk count string'],
  ])('rejects %s: %s', async (_name, input, message) => {
    const client = await ByteClient.connect(node.port);
    client.send(input);
    expect(await client.untilClosed()).toBe(`-ERR Protocol error: ${message}\r\n`);
  });
});

describe('--proto-max-bulk-len', () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await startNode({ args: ['--proto-max-bulk-len', '1024'] });
  });
  afterAll(async () => {
    await node.kill();
    removeDirectory(node.dataDir);
  });

  it('accepts a 1024-byte bulk and rejects a 2000-byte bulk with invalid bulk length', async () => {
    const client = await ByteClient.connect(node.port);
    client.send(encodeCommand(['ECHO', 'y'.repeat(1024)]));
    await client.expectBytes(bulk('y'.repeat(1024)));
    client.send(encodeCommand(['ECHO', 'z'.repeat(2000)]));
    expect(await client.untilClosed()).toBe('-ERR Protocol error: invalid bulk length\r\n');
    const other = await RawClient.connect(node.port);
    expect(await other.call('PING')).toBe('PONG');
    other.close();
  });
});

describe('--requirepass', () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await startNode({ args: ['--requirepass', 'secret'] });
  });
  afterAll(async () => {
    await node.kill();
    removeDirectory(node.dataDir);
  });

  const twentyArguments = ['HSET', 'auth:hash', ...Array.from({ length: 18 }, (_, i) => `f${i}`)];

  it('answers NOAUTH before AUTH and closes on an unauthenticated 20-argument multibulk', async () => {
    expect(twentyArguments).toHaveLength(20);
    const client = await ByteClient.connect(node.port);
    client.send(encodeCommand(['GET', 'auth:key']));
    await client.expectBytes('-NOAUTH Authentication required.\r\n');
    client.send(encodeCommand(['SET', 'auth:key', 'v']));
    await client.expectBytes('-NOAUTH Authentication required.\r\n');
    client.send(encodeCommand(twentyArguments));
    expect(await client.untilClosed()).toBe('-ERR Protocol error: unauthenticated multibulk length\r\n');
  });

  it('rejects an unauthenticated bulk over 16 KB with unauthenticated bulk length', async () => {
    const client = await ByteClient.connect(node.port);
    client.send(encodeCommand(['AUTH', 'x'.repeat(16_385)]));
    expect(await client.untilClosed()).toBe('-ERR Protocol error: unauthenticated bulk length\r\n');
  });

  it('lifts both limits once AUTH succeeds', async () => {
    const client = await ByteClient.connect(node.port);
    client.send(encodeCommand(['AUTH', 'wrong']));
    await client.expectBytes('-WRONGPASS invalid username-password pair or user is disabled.\r\n');
    client.send(encodeCommand(['AUTH', 'secret']));
    await client.expectBytes('+OK\r\n');
    const pairs = ['HSET', 'auth:hash', ...Array.from({ length: 9 }, (_, i) => [`f${i}`, `v${i}`]).flat()];
    expect(pairs).toHaveLength(20);
    client.send(encodeCommand(pairs));
    await client.expectBytes(':9\r\n');
    client.send(encodeCommand([...pairs, 'f9', 'v9', 'f10', 'v10']));
    await client.expectBytes(':2\r\n');
    client.send(encodeCommand(['SET', 'auth:big', 'b'.repeat(20_000)]));
    await client.expectBytes('+OK\r\n');
    client.send(encodeCommand(['STRLEN', 'auth:big']));
    await client.expectBytes(':20000\r\n');
    client.close();
  });
});

describe('protocol errors, byte for byte against redis-server', () => {
  let node: NodeProcess;
  let redis: RedisProcess;
  beforeAll(async () => {
    node = await startNode({ args: ['--requirepass', 'secret'] });
    redis = await startRedis(['--requirepass', 'secret']);
  });
  afterAll(async () => {
    await node.kill();
    removeDirectory(node.dataDir);
    await redis.stop();
  });

  const auth = '*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n';
  const inputs: Array<[string, string]> = [
    ['multibulk count not a number', `${auth}*1x\r\n`],
    ['negative zero count', `${auth}*-0\r\n`],
    ['count with a plus sign', `${auth}*+2\r\n`],
    ['count beyond int64', `${auth}*-9223372036854775809\r\n`],
    ['bulk header without $', `${auth}*2\r\n$4\r\nECHO\r\n:1\r\n`],
    ['CR where $ belongs', `${auth}*1\r\n\r\n`],
    ['negative bulk length', `${auth}*1\r\n$-1\r\n`],
    ['bulk length with leading zero', `${auth}*1\r\n$04\r\nPING\r\n`],
    ['empty and negative multibulks skipped', `${auth}*0\r\n*-1\r\n*-1000000000000000000\r\n\r\n \r\n*1\r\n$4\r\nPING\r\n*z\r\n`],
    ['unbalanced double quote', `${auth}ECHO "abc\r\n`],
    ['closing quote followed by a letter', `${auth}ECHO 'a'b\r\n`],
    ['inline quoting', `${auth}ECHO "\\x41\\x4g\\n"\r\nECHO 'it\\'s'\r\nECHO x"a b"\r\nPING\r\n*x\r\n`],
    ['unauthenticated multibulk length', '*11\r\n'],
    ['unauthenticated bulk length', '*1\r\n$16385\r\n'],
    ['NOAUTH then protocol error', `*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\nx\r\n`],
    ['unknown command with CR LF in its arguments', `${auth}*3\r\n$5\r\nfo\r\no\r\n$4\r\na\r\nb\r\n$1\r\nc\r\n*x\r\n`],
    ['payload trailer not inspected', `${auth}*2\r\n$4\r\nECHO\r\n$1\r\naXY*x\r\n`],
  ];

  async function exchange(port: number, input: string): Promise<string> {
    const client = await ByteClient.connect(port);
    client.send(input);
    return client.untilClosed();
  }

  it.each(inputs)('%s', async (_name, input) => {
    const fromRedis = await exchange(redis.port, input);
    expect(fromRedis).toMatch(/-ERR Protocol error: [^\r]*\r\n$/);
    expect(await exchange(node.port, input)).toBe(fromRedis);
  });
});
