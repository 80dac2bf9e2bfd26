/**
 * A minimal raw RESP client for protocol-level tests: it sends exact bytes and parses replies (RESP2
 * and RESP3) without any of a real client's conveniences, so tests see what the server sent.
 */
import { Socket } from 'node:net';

export type RespValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Buffer
  | RespValue[]
  | Map<RespValue, RespValue>
  | { error: string }
  | { double: number }
  | { verbatim: string; format: string }
  | { push: RespValue[] };

/** Incremental RESP2/RESP3 reply parser. `next()` returns undefined until a whole reply arrived. */
export class ReplyParser {
  private buffer: Buffer = Buffer.alloc(0);
  private offset = 0;

  push(chunk: Buffer): void {
    this.buffer = this.offset < this.buffer.length ? Buffer.concat([this.buffer.subarray(this.offset), chunk]) : chunk;
    this.offset = 0;
  }

  next(): RespValue | undefined {
    const start = this.offset;
    const value = this.parse();
    if (value === INCOMPLETE) {
      this.offset = start;
      return undefined;
    }
    return value;
  }

  private line(): string | typeof INCOMPLETE {
    const end = this.buffer.indexOf('\r\n', this.offset);
    if (end < 0) return INCOMPLETE;
    const text = this.buffer.toString('utf8', this.offset, end);
    this.offset = end + 2;
    return text;
  }

  private parse(): RespValue | typeof INCOMPLETE {
    if (this.offset >= this.buffer.length) return INCOMPLETE;
    const type = String.fromCharCode(this.buffer[this.offset]!);
    this.offset++;
    const line = this.line();
    if (line === INCOMPLETE) return INCOMPLETE;
    switch (type) {
      case '+':
        return line;
      case '-':
        return { error: line };
      case ':':
        return Number.isSafeInteger(Number(line)) ? Number(line) : BigInt(line);
      case '(':
        return BigInt(line);
      case ',':
        return { double: line === 'inf' ? Infinity : line === '-inf' ? -Infinity : Number(line) };
      case '#':
        return line === 't';
      case '_':
        return null;
      case '$':
      case '=':
      case '!': {
        const length = Number(line);
        if (length < 0) return null;
        if (this.buffer.length - this.offset < length + 2) return INCOMPLETE;
        const body = this.buffer.subarray(this.offset, this.offset + length);
        this.offset += length + 2;
        if (type === '=') return { verbatim: body.toString('utf8', 4), format: body.toString('utf8', 0, 3) };
        if (type === '!') return { error: body.toString('utf8') };
        return Buffer.from(body);
      }
      case '*':
      case '~':
      case '>': {
        const count = Number(line);
        if (count < 0) return null;
        const items: RespValue[] = [];
        for (let i = 0; i < count; i++) {
          const item = this.parse();
          if (item === INCOMPLETE) return INCOMPLETE;
          items.push(item);
        }
        return type === '>' ? { push: items } : items;
      }
      case '%': {
        const count = Number(line);
        const map = new Map<RespValue, RespValue>();
        for (let i = 0; i < count; i++) {
          const key = this.parse();
          if (key === INCOMPLETE) return INCOMPLETE;
          const value = this.parse();
          if (value === INCOMPLETE) return INCOMPLETE;
          map.set(Buffer.isBuffer(key) ? key.toString('utf8') : key, value);
        }
        return map;
      }
      default:
        throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
    }
  }
}

const INCOMPLETE = Symbol('incomplete');

export class RawClient {
  private readonly parser = new ReplyParser();
  private readonly waiters: Array<{ resolve: (value: RespValue) => void; reject: (error: Error) => void }> = [];
  private readonly replies: RespValue[] = [];
  private closedError: Error | null = null;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.parser.push(chunk);
      let reply: RespValue | undefined;
      while ((reply = this.parser.next()) !== undefined) {
        const waiter = this.waiters.shift();
        if (waiter) waiter.resolve(reply);
        else this.replies.push(reply);
      }
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.closedError = new Error('connection closed');
        for (const waiter of this.waiters.splice(0)) waiter.reject(this.closedError);
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      socket.once('error', reject);
      socket.connect(port, host, () => {
        socket.removeListener('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }

  /** Sends raw bytes. */
  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** Encodes a command as a RESP multibulk and sends it. */
  send(...args: Array<string | Buffer | number>): void {
    this.socket.write(encodeCommand(args));
  }

  /** The next reply (in order). Rejects if the connection closes first. */
  reply(timeoutMs = 10_000): Promise<RespValue> {
    const queued = this.replies.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply in time')), timeoutMs);
      this.waiters.push({
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  /**
   * The next `count` replies (in order) under one timeout: for a pipeline of many commands, one
   * promise and one timer instead of one each per reply. Rejects if the connection closes first.
   */
  nextReplies(count: number, timeoutMs = 10_000): Promise<RespValue[]> {
    const received = this.replies.splice(0, count);
    if (received.length === count) return Promise.resolve(received);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${count - received.length} of ${count} replies not in time`)), timeoutMs);
      // The same waiter stands in the queue once per reply still to come.
      const waiter = {
        resolve: (value: RespValue) => {
          received.push(value);
          if (received.length < count) return;
          clearTimeout(timer);
          resolve(received);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      for (let i = received.length; i < count; i++) this.waiters.push(waiter);
    });
  }

  /** Sends a command and waits for its reply. */
  async call(...args: Array<string | Buffer | number>): Promise<RespValue> {
    this.send(...args);
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }
}

export function encodeCommand(args: Array<string | Buffer | number>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Converts a reply to plain JSON-friendly data (buffers become utf8 strings) for comparisons. */
export function plain(value: RespValue): unknown {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(plain(k)), plain(v)]));
  if (typeof value === 'bigint') return value.toString();
  return value;
}
