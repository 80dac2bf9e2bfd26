// Proves ReplyWriter emits the exact RESP2 and RESP3 bytes redis-server sends for every reply type,
// keeps large bulk payloads zero-copy, and that takeUpTo hands out bytes in order, at any split
// point, in views that later writes never overwrite. Proves formatDouble prints doubles as Redis's
// INCRBYFLOAT does: shortest round-trip decimal, never an exponent, inf/-inf/nan, "0" for -0.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDouble, ReplyWriter, type ProtocolVersion } from '../src/resp/reply-writer.js';

function writer(protocol: ProtocolVersion): ReplyWriter {
  const result = new ReplyWriter();
  result.protocol = protocol;
  return result;
}

/** Takes every written byte and returns it as a latin1 string (one char per byte). */
function takeAll(reply: ReplyWriter): string {
  return Buffer.concat(reply.takeUpTo(reply.length)).toString('latin1');
}

function bytesOf(protocol: ProtocolVersion, write: (reply: ReplyWriter) => void): string {
  const reply = writer(protocol);
  write(reply);
  const length = reply.length;
  const text = takeAll(reply);
  expect(text.length).toBe(length);
  expect(reply.length).toBe(0);
  return text;
}

const utf8AsLatin1 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

describe('exact bytes per reply type', () => {
  it.each<[string, (reply: ReplyWriter) => void, string, string]>([
    ['simple', (r) => r.simple('OK'), '+OK\r\n', '+OK\r\n'],
    ['error', (r) => r.error('ERR no such key'), '-ERR no such key\r\n', '-ERR no such key\r\n'],
    ['error with CR LF', (r) => r.error("ERR unknown command 'a\r\nb'"), "-ERR unknown command 'a  b'\r\n", "-ERR unknown command 'a  b'\r\n"],
    ['integer', (r) => r.integer(42), ':42\r\n', ':42\r\n'],
    ['negative integer', (r) => r.integer(-7), ':-7\r\n', ':-7\r\n'],
    ['bigint', (r) => r.integer(-9223372036854775808n), ':-9223372036854775808\r\n', ':-9223372036854775808\r\n'],
    ['bulk', (r) => r.bulk(Buffer.from('hello')), '$5\r\nhello\r\n', '$5\r\nhello\r\n'],
    ['empty bulk', (r) => r.bulk(Buffer.alloc(0)), '$0\r\n\r\n', '$0\r\n\r\n'],
    ['binary bulk', (r) => r.bulk(Buffer.from([0, 13, 10, 255])), '$4\r\n\x00\r\n\xff\r\n', '$4\r\n\x00\r\n\xff\r\n'],
    ['bulkString', (r) => r.bulkString('héllo'), `$6\r\n${utf8AsLatin1('héllo')}\r\n`, `$6\r\n${utf8AsLatin1('héllo')}\r\n`],
    ['null', (r) => r.null(), '$-1\r\n', '_\r\n'],
    ['nullArray', (r) => r.nullArray(), '*-1\r\n', '_\r\n'],
    ['arrayHeader', (r) => r.arrayHeader(3), '*3\r\n', '*3\r\n'],
    ['empty array', (r) => r.arrayHeader(0), '*0\r\n', '*0\r\n'],
    ['mapHeader', (r) => r.mapHeader(2), '*4\r\n', '%2\r\n'],
    ['setHeader', (r) => r.setHeader(2), '*2\r\n', '~2\r\n'],
    ['pushHeader', (r) => r.pushHeader(3), '*3\r\n', '>3\r\n'],
    ['double', (r) => r.double(1.5), '$3\r\n1.5\r\n', ',1.5\r\n'],
    ['double 0.1', (r) => r.double(0.1), '$3\r\n0.1\r\n', ',0.1\r\n'],
    ['double integer', (r) => r.double(3), '$1\r\n3\r\n', ',3\r\n'],
    ['double inf', (r) => r.double(Infinity), '$3\r\ninf\r\n', ',inf\r\n'],
    ['double -inf', (r) => r.double(-Infinity), '$4\r\n-inf\r\n', ',-inf\r\n'],
    ['double nan', (r) => r.double(Number.NaN), '$3\r\nnan\r\n', ',nan\r\n'],
    ['boolean true', (r) => r.boolean(true), ':1\r\n', '#t\r\n'],
    ['boolean false', (r) => r.boolean(false), ':0\r\n', '#f\r\n'],
    ['verbatim', (r) => r.verbatim('a:1\r\nb\n'), '$7\r\na:1\r\nb\n\r\n', '=11\r\ntxt:a:1\r\nb\n\r\n'],
    ['verbatim utf8', (r) => r.verbatim('é'), `$2\r\n${utf8AsLatin1('é')}\r\n`, `=6\r\ntxt:${utf8AsLatin1('é')}\r\n`],
    ['raw', (r) => r.raw(Buffer.from('+QUEUED\r\n')), '+QUEUED\r\n', '+QUEUED\r\n'],
  ])('%s', (_name, write, resp2, resp3) => {
    expect(bytesOf(2, write)).toBe(resp2);
    expect(bytesOf(3, write)).toBe(resp3);
  });

  it('encodes a whole HGETALL-shaped reply as a RESP2 flat array and a RESP3 map', () => {
    const write = (r: ReplyWriter): void => {
      r.mapHeader(2);
      r.bulkString('f1');
      r.bulkString('v1');
      r.bulkString('f2');
      r.bulkString('v2');
    };
    const body = '$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n';
    expect(bytesOf(2, write)).toBe(`*4\r\n${body}`);
    expect(bytesOf(3, write)).toBe(`%2\r\n${body}`);
  });

  it('follows a protocol change between replies', () => {
    const reply = writer(2);
    reply.null();
    reply.protocol = 3;
    reply.null();
    reply.protocol = 2;
    reply.mapHeader(1);
    expect(takeAll(reply)).toBe('$-1\r\n_\r\n*2\r\n');
  });
});

describe('large replies', () => {
  const payload = Buffer.alloc(100_000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 13 + 5) & 0xff;

  it('references a large bulk payload instead of copying it', () => {
    const reply = writer(2);
    reply.simple('OK');
    reply.bulk(payload);
    reply.integer(1);
    expect(reply.length).toBe(5 + 9 + payload.length + 2 + 4);
    const chunks = reply.takeUpTo(reply.length);
    expect(chunks.some((chunk) => chunk.buffer === payload.buffer && chunk.length === payload.length)).toBe(true);
    expect(Buffer.concat(chunks).toString('latin1')).toBe(`+OK\r\n$100000\r\n${payload.toString('latin1')}\r\n:1\r\n`);
  });

  it('keeps many small replies in order past the buffer growth and sealing thresholds', () => {
    const reply = writer(3);
    let expected = '';
    for (let i = 0; i < 5000; i++) {
      reply.integer(i);
      reply.bulkString(`v${i}`);
      expected += `:${i}\r\n$${String(i).length + 1}\r\nv${i}\r\n`;
      if (i % 1000 === 0) {
        reply.bulk(payload.subarray(0, 20_000 + i));
        expected += `$${20_000 + i}\r\n${payload.toString('latin1', 0, 20_000 + i)}\r\n`;
      }
    }
    expect(reply.length).toBe(expected.length);
    expect(takeAll(reply)).toBe(expected);
  });

  it('writes a raw constant of any size', () => {
    expect(bytesOf(2, (r) => r.raw(payload))).toBe(payload.toString('latin1'));
  });
});

describe('takeUpTo', () => {
  it('splits inside a small reply and inside a large payload, then continues exactly', () => {
    const reply = writer(2);
    const big = Buffer.alloc(20_000, 0x61);
    reply.simple('OK');
    reply.bulk(big);
    reply.simple('DONE');
    const first = reply.takeUpTo(3);
    const second = reply.takeUpTo(10_000);
    reply.integer(7);
    const rest = reply.takeUpTo(reply.length);
    expect(Buffer.concat(first).toString('latin1')).toBe('+OK');
    expect(Buffer.concat([...first, ...second, ...rest]).toString('latin1')).toBe(
      `+OK\r\n$20000\r\n${'a'.repeat(20_000)}\r\n+DONE\r\n:7\r\n`,
    );
    expect(reply.length).toBe(0);
  });

  it('returns nothing for zero and refuses to take more than was written', () => {
    const reply = writer(2);
    reply.simple('OK');
    expect(reply.takeUpTo(0)).toEqual([]);
    expect(() => reply.takeUpTo(6)).toThrow('takeUpTo beyond the written length');
  });

  it('discards untaken bytes and keeps working', () => {
    const reply = writer(2);
    reply.simple('LOST');
    reply.bulk(Buffer.alloc(30_000));
    reply.discard();
    expect(reply.length).toBe(0);
    reply.simple('OK');
    expect(takeAll(reply)).toBe('+OK\r\n');
  });

  const operation = fc.oneof(
    fc.record({ write: fc.constantFrom('simple', 'integer', 'bulk', 'big', 'null', 'map', 'error', 'verbatim') , size: fc.nat(40_000) }),
    fc.record({ take: fc.nat(50_000) }),
  );

  function apply(reply: ReplyWriter, kind: string, size: number): string {
    switch (kind) {
      case 'simple':
        reply.simple(`S${size}`);
        return `+S${size}\r\n`;
      case 'integer':
        reply.integer(size);
        return `:${size}\r\n`;
      case 'bulk': {
        const text = String.fromCharCode(97 + (size % 26)).repeat(size % 300);
        reply.bulkString(text);
        return `$${text.length}\r\n${text}\r\n`;
      }
      case 'big': {
        const bytes = Buffer.alloc(size, 97 + (size % 26));
        reply.bulk(bytes);
        return `$${size}\r\n${bytes.toString('latin1')}\r\n`;
      }
      case 'null':
        reply.null();
        return '_\r\n';
      case 'map':
        reply.mapHeader(size);
        return `%${size}\r\n`;
      case 'error':
        reply.error(`ERR e${size}`);
        return `-ERR e${size}\r\n`;
      default:
        reply.verbatim(`v${size}`);
        return `=${String(size).length + 5}\r\ntxt:v${size}\r\n`;
    }
  }

  it('property: any interleaving of writes and takes yields the written bytes, and taken views stay intact', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 60 }), (operations) => {
        const reply = writer(3);
        let expected = '';
        const taken: Buffer[] = [];
        let takenBytes = 0;
        for (const step of operations) {
          if ('write' in step) {
            expected += apply(reply, step.write, step.size);
          } else {
            const count = Math.min(step.take, reply.length);
            const chunks = reply.takeUpTo(count);
            expect(chunks.reduce((sum, chunk) => sum + chunk.length, 0)).toBe(count);
            taken.push(...chunks);
            takenBytes += count;
          }
          expect(takenBytes + reply.length).toBe(expected.length);
        }
        taken.push(...reply.takeUpTo(reply.length));
        // Views taken early are checked only now, after every later write: none was overwritten.
        expect(Buffer.concat(taken).toString('latin1')).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe('formatDouble', () => {
  it.each([
    [0, '0'],
    [-0, '0'],
    [3, '3'],
    [-3, '-3'],
    [10.5, '10.5'],
    [0.1, '0.1'],
    [0.1 + 0.2, '0.30000000000000004'],
    [-1.5, '-1.5'],
    [5e15, '5000000000000000'],
    [1e21, '1000000000000000000000'],
    [-1.5e21, '-1500000000000000000000'],
    [1.5e25, '15000000000000000000000000'],
    [1e-7, '0.0000001'],
    [-1.5e-7, '-0.00000015'],
    [1.234e-10, '0.0000000001234'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    [Number.NaN, 'nan'],
  ])('%d → %s', (value, text) => {
    expect(formatDouble(value)).toBe(text);
  });

  it('prints the extremes without an exponent', () => {
    expect(formatDouble(Number.MAX_VALUE)).toBe(`17976931348623157${'0'.repeat(292)}`);
    expect(formatDouble(Number.MIN_VALUE)).toBe(`0.${'0'.repeat(323)}5`);
  });

  it('property: every finite double round-trips and never uses an exponent', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        const text = formatDouble(value);
        expect(text).toMatch(/^-?\d+(\.\d+)?$/);
        expect(Number(text)).toBe(value === 0 ? 0 : value);
      }),
      { numRuns: 2000 },
    );
  });
});
