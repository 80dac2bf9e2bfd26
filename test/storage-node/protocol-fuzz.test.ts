// Proves a real ballast-node survives hostile bytes on its RESP port. Fault: 12,000 random and
// mutated requests (valid commands with flipped, inserted or deleted bytes, truncations, huge
// declared lengths, oversized lines, garbage), generated from a printed seed and sent over fresh
// and reused connections. Invariants: after every batch a separate canary client still answers
// PING and reads back the data it wrote at the start; every connection the fuzzer closes is closed
// by the server too (none hangs); at the end the process is alive, /livez answers 200, and the
// canary data is intact. Rerun a failing case with BALLAST_FUZZ_SEED=<seed>.
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeCommand,
  type NodeProcess,
  RawClient,
  removeDirectory,
  seededRandom,
  startNode,
} from '@ballast/testkit';

/** At least 10,000; BALLAST_FUZZ_INPUTS raises it for a longer run by hand. */
const INPUTS_TOTAL = Math.max(10_000, Number(process.env.BALLAST_FUZZ_INPUTS ?? 12_000));
const BATCH_SIZE = 500;
/** Connections carrying many inputs back to back, and lanes opening one connection per input. */
const REUSED_LANES = 6;
const FRESH_LANES = 4;
const FRESH_SHARE = 0.3;
/** Generous: the machine is a slow shared VM; a connection not closed by then counts as hung. */
const CLOSE_TIMEOUT_MS = 30_000;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const SEED = Number(process.env.BALLAST_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));


class InputGenerator {
  constructor(private readonly random: () => number) {}

  integer(below: number): number {
    return Math.floor(this.random() * below);
  }

  chance(probability: number): boolean {
    return this.random() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.integer(items.length)]!;
  }

  bytes(length: number): Buffer {
    const result = Buffer.alloc(length);
    for (let i = 0; i < length; i++) result[i] = this.integer(256);
    return result;
  }

  argument(): Buffer {
    if (this.chance(0.02)) return Buffer.alloc(30_000 + this.integer(40_000), 0x61 + this.integer(26));
    if (this.chance(0.5)) return Buffer.from(this.pick(WORDS));
    return this.bytes(this.integer(40));
  }

  key(): string {
    return `fuzz:${this.integer(50)}`;
  }

  command(): Array<string | Buffer> {
    const key = this.key();
    switch (this.integer(22)) {
      case 0: return ['PING'];
      case 1: return ['PING', this.argument()];
      case 2: return ['ECHO', this.argument()];
      case 3: return ['SET', key, this.argument()];
      case 4: return ['GET', key];
      case 5: return ['DEL', key, this.key()];
      case 6: return ['EXISTS', key, this.key()];
      case 7: return ['INCR', key];
      case 8: return ['INCRBYFLOAT', key, this.pick(['1.5', '-0', '1e21', '1e-7', 'inf', 'x'])];
      case 9: return ['HSET', key, this.argument(), this.argument()];
      case 10: return ['HGETALL', key];
      case 11: return ['MGET', key, this.key(), this.key()];
      case 12: return ['MSET', key, this.argument(), this.key(), this.argument()];
      case 13: return ['APPEND', key, this.argument()];
      case 14: return ['GETRANGE', key, '0', String(this.integer(100) - 50)];
      case 15: return ['HELLO', this.pick(['2', '3', '4', 'x'])];
      case 16: return [this.pick(['MULTI', 'EXEC', 'DISCARD', 'UNWATCH', 'DBSIZE', 'TIME', 'RESET'])];
      case 17: return ['WATCH', key];
      case 18: return ['SCAN', '0', 'COUNT', String(this.integer(20))];
      case 19: return ['TYPE', key];
      case 20: return [this.bytes(1 + this.integer(12)), this.argument()];
      default: return Array.from({ length: 1 + this.integer(30) }, () => this.argument());
    }
  }

  /** A command as an inline line, quoting like redis-cli (double quotes, \xHH escapes). */
  inline(args: Array<string | Buffer>): Buffer {
    const words = args.map((arg) => {
      const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(arg);
      if (bytes.length > 0 && bytes.every((byte) => byte > 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x27 && byte !== 0x5c)) {
        return bytes.toString('latin1');
      }
      return `"${[...bytes].map((byte) => `\\x${byte.toString(16).padStart(2, '0')}`).join('')}"`;
    });
    return Buffer.from(`${words.join(' ')}${this.chance(0.8) ? '\r\n' : '\n'}`, 'latin1');
  }

  valid(): Buffer {
    const count = 1 + this.integer(4);
    const parts: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const args = this.command();
      parts.push(this.chance(0.8) ? encodeCommand(args) : this.inline(args));
    }
    return Buffer.concat(parts);
  }

  mutated(): Buffer {
    let bytes = this.valid();
    const mutations = 1 + this.integer(4);
    for (let m = 0; m < mutations; m++) {
      const at = bytes.length === 0 ? 0 : this.integer(bytes.length);
      switch (this.integer(7)) {
        case 0:
          if (bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << this.integer(8));
          break;
        case 1:
          if (bytes.length > 0) bytes[at] = this.integer(256);
          break;
        case 2:
          bytes = Buffer.concat([bytes.subarray(0, at), this.bytes(1 + this.integer(3)), bytes.subarray(at)]);
          break;
        case 3:
          bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + this.integer(3))]);
          break;
        case 4:
          bytes = bytes.subarray(0, at);
          break;
        case 5: {
          const end = Math.min(bytes.length, at + this.integer(40));
          bytes = Buffer.concat([bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end)]);
          break;
        }
        default: {
          // Replace one declared length with a hostile number.
          const text = bytes.toString('latin1');
          const headers = [...text.matchAll(/[*$]-?\d+\r\n/g)];
          if (headers.length === 0) break;
          const header = this.pick(headers);
          const replacement = `${header[0][0]}${this.pick(HOSTILE_NUMBERS)}\r\n`;
          bytes = Buffer.from(text.slice(0, header.index) + replacement + text.slice(header.index + header[0].length), 'latin1');
        }
      }
    }
    return bytes;
  }

  garbage(): Buffer {
    if (this.chance(0.5)) return this.bytes(1 + this.integer(300));
    const length = 1 + this.integer(200);
    let text = '';
    for (let i = 0; i < length; i++) text += this.pick(SOUP);
    return Buffer.from(text, 'latin1');
  }

  special(): Buffer {
    switch (this.integer(6)) {
      case 0: return Buffer.from(`PING ${'A'.repeat(64 * 1024 + this.integer(4000))}\r\n`);
      case 1: return Buffer.concat([Buffer.from(`*2\r\n$4\r\nECHO\r\n$${this.pick(['536870912', '536870911', '100000000'])}\r\n`), this.bytes(this.integer(2000))]);
      case 2: return Buffer.concat([Buffer.from(`*${this.pick(['1048576', '1000000', '65536'])}\r\n`), encodeCommand(['a', 'b', 'c']).subarray(4)]);
      case 3: return Buffer.from(`*1\r\n$${'9'.repeat(64 * 1024 + 10)}`);
      case 4: return Buffer.from('\r\n'.repeat(1 + this.integer(5000)));
      default: return Buffer.from(`*${this.integer(3)}\r\n`.repeat(1 + this.integer(2000)));
    }
  }

  next(): Buffer {
    const roll = this.random();
    if (roll < 0.4) return this.valid();
    if (roll < 0.75) return this.mutated();
    if (roll < 0.85) return this.garbage();
    if (roll < 0.97) return this.inline(Array.from({ length: 1 + this.integer(4) }, () => this.pick(QUOTING_WORDS)));
    return this.special();
  }
}

const WORDS = ['', 'a', 'value', '0', '-1', '1.5', 'fuzz:1', 'OK', 'EX', '10', 'PX', 'NX', 'XX', 'KEEPTTL', 'GET', 'COUNT'];
const HOSTILE_NUMBERS = [
  '-1', '0', '-0', '00', '+1', '', 'x', '536870912', '536870913', '1048577', '2147483648',
  '9223372036854775807', '9223372036854775808', '-9223372036854775808', '99999999999999999999',
];
const SOUP = ['*', '$', '\r\n', '\r', '\n', '-', '0', '1', '3', '9', '"', "'", '\\', 'x', ' ', '\t', '\0', 'PING', 'A'];
const QUOTING_WORDS = ['SET', 'ECHO', 'PING', 'fuzz:2', '"a b"', "'it\\'s'", '"\\x41\\x4g"', '"\\n\\r\\t"', '"', "'", '"a"b', 'a"b c"', '""', '\\', '\t'];

interface FuzzStats {
  inputs: number;
  bytesSent: number;
  bytesReceived: number;
  connections: number;
  /** Reused connections the server closed (a protocol error), replaced by a new one. */
  replaced: number;
  hung: number;
}

/** A client connection that discards replies and records whether the server closed it first. */
class FuzzConnection {
  private readonly socket = new Socket();
  isClosed = false;
  readonly closed: Promise<void>;
  readonly connected: Promise<void>;

  constructor(port: number, private readonly stats: FuzzStats) {
    stats.connections++;
    this.socket.on('data', (chunk: Buffer) => {
      stats.bytesReceived += chunk.length;
    });
    // The server resets connections it closed while we were still writing; 'close' reports the end.
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      this.socket.once('close', () => {
        this.isClosed = true;
        resolve();
      });
    });
    this.connected = new Promise((resolve) => {
      this.socket.once('connect', () => resolve());
      void this.closed.then(() => resolve());
    });
    this.socket.connect(port, '127.0.0.1');
  }

  /** Writes and waits until the bytes were handed to the kernel (or the connection closed). */
  async write(bytes: Buffer): Promise<void> {
    await this.connected;
    if (this.isClosed) return;
    this.stats.bytesSent += bytes.length;
    await new Promise<void>((resolve) => {
      this.socket.write(bytes, () => resolve());
    });
  }

  /** Half-closes our side; the server must then close the connection. */
  async end(): Promise<void> {
    if (!this.isClosed) this.socket.end();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.closed.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), CLOSE_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.stats.hung++;
      this.socket.destroy();
    }
  }
}

describe('RESP fuzzing against a live node', () => {
  let node: NodeProcess;
  let canary: RawClient;
  const canaryValue = Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 37 + 11) & 0xff));
  const canaryFields = new Map([
    ['field-a', 'alpha'],
    ['field-b', 'beta'],
  ]);

  beforeAll(async () => {
    node = await startNode();
    canary = await RawClient.connect(node.port);
    expect(await canary.call('SET', 'canary:string', canaryValue)).toBe('OK');
    expect(await canary.call('HSET', 'canary:hash', ...[...canaryFields].flat())).toBe(2);
  });
  afterAll(async () => {
    canary?.close();
    await node?.kill();
    if (node) removeDirectory(node.dataDir);
  });

  async function serverStats(): Promise<{ protocolErrors: number; commands: number }> {
    const info = await canary.call('INFO', 'stats');
    const text = Buffer.isBuffer(info) ? info.toString('latin1') : '';
    const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1]);
    const result = { protocolErrors: field('ballast_protocol_errors'), commands: field('total_commands_processed') };
    expect(result.protocolErrors).toBeGreaterThanOrEqual(0);
    expect(result.commands).toBeGreaterThan(0);
    return result;
  }

  async function expectCanaryIntact(): Promise<void> {
    expect(node.child.exitCode).toBeNull();
    expect(node.child.signalCode).toBeNull();
    expect(await canary.call('PING')).toBe('PONG');
    const value = await canary.call('GET', 'canary:string');
    expect(Buffer.isBuffer(value) && value.equals(canaryValue)).toBe(true);
  }

  async function runBatch(inputs: Buffer[], generator: InputGenerator, stats: FuzzStats): Promise<void> {
    const reusedLanes: Buffer[][] = Array.from({ length: REUSED_LANES }, () => []);
    const freshLanes: Buffer[][] = Array.from({ length: FRESH_LANES }, () => []);
    for (const input of inputs) {
      if (generator.chance(FRESH_SHARE)) freshLanes[generator.integer(FRESH_LANES)]!.push(input);
      else reusedLanes[generator.integer(REUSED_LANES)]!.push(input);
    }
    const reused = async (lane: Buffer[]): Promise<void> => {
      let connection = new FuzzConnection(node.port, stats);
      for (const input of lane) {
        // After a protocol error the server closed this one; carry on over a new connection.
        if (connection.isClosed) {
          stats.replaced++;
          connection = new FuzzConnection(node.port, stats);
        }
        await connection.write(input);
        stats.inputs++;
        // Give the server a moment to act on the input, so that a protocol error it causes closes
        // the connection before the next input is written into it (and lost).
        await Promise.race([connection.closed, delay(1)]);
      }
      await connection.end();
    };
    const fresh = async (lane: Buffer[]): Promise<void> => {
      for (const input of lane) {
        const connection = new FuzzConnection(node.port, stats);
        await connection.write(input);
        stats.inputs++;
        await connection.end();
      }
    };
    await Promise.all([...reusedLanes.map(reused), ...freshLanes.map(fresh)]);
  }

  it(`survives ${INPUTS_TOTAL} hostile inputs (seed ${SEED})`, async () => {
    console.log(`protocol fuzz seed ${SEED}; rerun with BALLAST_FUZZ_SEED=${SEED}`);
    const generator = new InputGenerator(seededRandom(SEED));
    const stats: FuzzStats = { inputs: 0, bytesSent: 0, bytesReceived: 0, connections: 0, replaced: 0, hung: 0 };
    const before = await serverStats();
    for (let batch = 0; stats.inputs < INPUTS_TOTAL; batch++) {
      const inputs = Array.from({ length: Math.min(BATCH_SIZE, INPUTS_TOTAL - stats.inputs) }, () => generator.next());
      await runBatch(inputs, generator, stats);
      expect(stats.hung, `batch ${batch}: connections the server never closed`).toBe(0);
      await expectCanaryIntact();
    }
    const after = await serverStats();
    const protocolErrors = after.protocolErrors - before.protocolErrors;
    const commands = after.commands - before.commands;
    console.log(`protocol fuzz seed ${SEED}: ${JSON.stringify({ ...stats, protocolErrors, commands })}`);
    expect(stats.inputs).toBe(INPUTS_TOTAL);
    // The inputs reached the server: it ran thousands of commands and rejected hundreds of requests.
    expect(protocolErrors).toBeGreaterThan(500);
    expect(commands).toBeGreaterThan(3000);
    expect(stats.bytesReceived).toBeGreaterThan(0);

    await expectCanaryIntact();
    const hash = await canary.call('HGETALL', 'canary:hash');
    expect(Array.isArray(hash) ? hash.map(String) : hash).toEqual([...canaryFields].flat());
    const livez = await fetch(`http://127.0.0.1:${node.adminPort}/livez`);
    expect(livez.status).toBe(200);
    const late = await RawClient.connect(node.port);
    expect(await late.call('PING')).toBe('PONG');
    late.close();
  });
});
