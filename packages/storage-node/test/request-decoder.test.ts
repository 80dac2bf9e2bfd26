// Proves RequestDecoder turns bytes into commands exactly as redis-server does: RESP multibulk and
// inline requests (with sdssplitargs quoting), skipped blank lines and empty multibulks, big
// arguments split across chunks, and every limit with Redis's own error message. Property tests
// prove the result never depends on how the bytes were split into chunks (whole, byte by byte,
// random cuts, several pushes before a read), for valid and for random or mutated input, and that
// the decoder only ever throws ProtocolError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LIMITS_DEFAULT } from '../src/limits.js';
import { ProtocolError } from '../src/resp/protocol-error.js';
import { parseCanonicalInteger, RequestDecoder, type DecoderLimits } from '../src/resp/request-decoder.js';

/** Small limits so the bounds are reachable in property tests. */
const SMALL_LIMITS: DecoderLimits = {
  bulkBytesMax: 100_000,
  multibulkLengthMax: 100,
  inlineBytesMax: 64,
  unauthenticatedMultibulkLengthMax: 10,
  unauthenticatedBulkBytesMax: 16_384,
};

interface Outcome {
  /** Arguments as latin1 strings (one char per byte, so binary-exact). */
  commands: string[][];
  /** The ProtocolError message that ended decoding, or null. */
  error: string | null;
}

interface DecodeOptions {
  limits?: DecoderLimits;
  authenticationRequired?: boolean;
  /** drainAfter[i] false: push chunk i+1 before asking for commands (default: drain after each). */
  drainAfter?: boolean[];
}

/** Feeds `chunks` to a fresh decoder and collects every command until the input or an error ends. */
function decode(chunks: Buffer[], options: DecodeOptions = {}): Outcome {
  const decoder = new RequestDecoder(options.limits ?? LIMITS_DEFAULT);
  decoder.authenticationRequired = options.authenticationRequired ?? false;
  const commands: string[][] = [];
  const drain = (): void => {
    let command: Buffer[] | null;
    while ((command = decoder.next()) !== null) {
      expect(command.length).toBeGreaterThan(0);
      commands.push(command.map((arg) => arg.toString('latin1')));
    }
  };
  try {
    chunks.forEach((chunk, index) => {
      decoder.push(chunk);
      if (options.drainAfter?.[index] ?? true) drain();
    });
    drain();
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return { commands, error: error.message };
  }
  return { commands, error: null };
}

const whole = (input: Buffer | string): Buffer[] => [Buffer.from(input as string, 'latin1')];

function byteByByte(input: Buffer | string): Buffer[] {
  const bytes = Buffer.from(input as string, 'latin1');
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
  return chunks;
}

function cutAt(input: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (input.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(input.subarray(start, point));
    start = point;
  }
  chunks.push(input.subarray(start));
  return chunks;
}

/** Decodes whole and byte by byte, asserts both agree, and returns the outcome. */
function decodeBothWays(input: Buffer | string, options: DecodeOptions = {}): Outcome {
  const wholeOutcome = decode(whole(input), options);
  expect(decode(byteByByte(input), options)).toEqual(wholeOutcome);
  return wholeOutcome;
}

function encode(args: Array<Buffer | string>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(arg, 'latin1');
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

const commandsOnly = (commands: string[][]): Outcome => ({ commands, error: null });

describe('multibulk requests', () => {
  it('decodes a command, with binary arguments and an empty one', () => {
    const input = Buffer.concat([encode(['SET', 'k\r\n\0', '']), encode(['GET', 'k\r\n\0'])]);
    expect(decodeBothWays(input)).toEqual(commandsOnly([['SET', 'k\r\n\0', ''], ['GET', 'k\r\n\0']]));
  });

  it('decodes a pipeline mixing multibulk and inline requests', () => {
    const input = `*1\r\n$4\r\nPING\r\nECHO hi\r\n*2\r\n$4\r\nECHO\r\n$2\r\nyo\r\nPING\n`;
    expect(decodeBothWays(input)).toEqual(commandsOnly([['PING'], ['ECHO', 'hi'], ['ECHO', 'yo'], ['PING']]));
  });

  it('skips *0, *-1 and any other non-positive count, as Redis does', () => {
    const input = `*0\r\n*-1\r\n*-5\r\n*-1000000000000000000\r\n*-9223372036854775808\r\n*1\r\n$4\r\nPING\r\n`;
    expect(decodeBothWays(input)).toEqual(commandsOnly([['PING']]));
  });

  it('does not inspect the two bytes after a bulk payload (Redis skips them too)', () => {
    expect(decodeBothWays('*2\r\n$4\r\nECHO\r\n$1\r\naXY*1\r\n$4\r\nPING\r\n')).toEqual(
      commandsOnly([['ECHO', 'a'], ['PING']]),
    );
  });

  it('returns null until a command is complete, keeping partial input', () => {
    const decoder = new RequestDecoder(LIMITS_DEFAULT);
    decoder.push(Buffer.from('*2\r\n$4\r\nECHO\r\n$5\r\nhel'));
    expect(decoder.next()).toBeNull();
    expect(decoder.next()).toBeNull();
    decoder.push(Buffer.from('lo\r'));
    expect(decoder.next()).toBeNull();
    decoder.push(Buffer.from('\n'));
    expect(decoder.next()?.map(String)).toEqual(['ECHO', 'hello']);
    expect(decoder.next()).toBeNull();
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('hands out arguments that arrived in one chunk as views of that chunk (zero copy)', () => {
    const chunk = encode(['SET', 'key', 'value']);
    const decoder = new RequestDecoder(LIMITS_DEFAULT);
    decoder.push(chunk);
    const command = decoder.next()!;
    expect(command.map(String)).toEqual(['SET', 'key', 'value']);
    for (const arg of command) expect(arg.buffer).toBe(chunk.buffer);
  });
});

describe('big arguments split across chunks', () => {
  const big = Buffer.alloc(100_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;
  const input = Buffer.concat([encode(['SET', 'k', big]), encode(['PING'])]);
  const expected = commandsOnly([['SET', 'k', big.toString('latin1')], ['PING']]);

  it('assembles the argument exactly, with the next command in the same last chunk', () => {
    const cuts = [10, 30, 5000, 40_000, 99_000, input.length - 10];
    expect(decode(cutAt(input, cuts))).toEqual(expected);
    expect(decode(whole(input))).toEqual(expected);
  });

  it('keeps bytes that arrive after the argument when push is called again before next', () => {
    // Regression: a second push after the big argument completed replaced the bytes that followed it.
    const chunks = cutAt(input, [20, 60_000, 100_030, 100_034]);
    expect(chunks).toHaveLength(5);
    expect(decode(chunks, { drainAfter: [true, true, false, false, false] })).toEqual(expected);
    expect(decode(chunks, { drainAfter: [false, false, false, false, false] })).toEqual(expected);
  });

  it('counts buffered bytes while the argument is incomplete and releases them after', () => {
    const decoder = new RequestDecoder(LIMITS_DEFAULT);
    const header = input.indexOf('$100000\r\n') + '$100000\r\n'.length;
    decoder.push(input.subarray(0, header + 50_000));
    expect(decoder.next()).toBeNull();
    expect(decoder.bufferedBytes).toBe(50_000);
    decoder.push(input.subarray(header + 50_000));
    expect(decoder.next()![2]!.equals(big)).toBe(true);
    expect(decoder.next()!.map(String)).toEqual(['PING']);
    expect(decoder.bufferedBytes).toBe(0);
  });
});

describe('inline requests (sdssplitargs)', () => {
  it.each([
    ['PING\r\n', [['PING']]],
    ['PING\n', [['PING']]],
    ['  SET   a \t b  \r\n', [['SET', 'a', 'b']]],
    ['SET a "b c"\r\n', [['SET', 'a', 'b c']]],
    ['ECHO "a\\x41"\r\n', [['ECHO', 'aA']]],
    ["ECHO 'it\\'s'\r\n", [['ECHO', "it's"]]],
    ['ECHO "\\n\\r\\t\\b\\a\\\\\\"\\q"\r\n', [['ECHO', '\n\r\t\b\x07\\"q']]],
    ['ECHO "\\x4g"\r\n', [['ECHO', 'x4g']]],
    ['ECHO "\\xfF\\x00"\r\n', [['ECHO', '\xff\x00']]],
    ["ECHO 'a\\b\"c'\r\n", [['ECHO', 'a\\b"c']]],
    ['ECHO x"a b"\r\n', [['ECHO', 'xa b']]],
    ['ECHO "" \'\'\r\n', [['ECHO', '', '']]],
    ['ECHO a\x0bb\r\n', [['ECHO', 'a\x0bb']]],
    ['\x0b\x0cECHO x\r\n', [['ECHO', 'x']]],
    ['ECHO a\rb\r\n', [['ECHO', 'a', 'b']]],
  ])('%j decodes to %j', (input, commands) => {
    expect(decodeBothWays(input)).toEqual(commandsOnly(commands));
  });

  it('ends the line at a NUL byte, as sdssplitargs reads a C string', () => {
    // (redis-server itself stalls on such a line: its strchr() search for the newline stops at NUL.)
    expect(decodeBothWays('ECHO ab\0cd ef\r\nPING\r\n')).toEqual(commandsOnly([['ECHO', 'ab'], ['PING']]));
  });

  it('skips empty and blank lines', () => {
    expect(decodeBothWays('\r\n\n   \r\n\t\n*0\r\nPING\r\n\r\n')).toEqual(commandsOnly([['PING']]));
  });

  it.each([
    ['ECHO "a\r\n'],
    ["ECHO 'a\r\n"],
    ['ECHO "a"b\r\n'],
    ["ECHO 'a'b\r\n"],
    ['ECHO "a\\"\r\n'],
    ['ECHO a"b c"d\r\n'],
  ])('%j is unbalanced quotes in request', (input) => {
    expect(decodeBothWays(`PING\r\n${input}PING\r\n`)).toEqual({
      commands: [['PING']],
      error: 'unbalanced quotes in request',
    });
  });
});

describe('malformed requests get Redis messages', () => {
  it.each([
    ['*abc\r\n', 'invalid multibulk length'],
    ['*\r\n', 'invalid multibulk length'],
    ['*-\r\n', 'invalid multibulk length'],
    ['*-0\r\n', 'invalid multibulk length'],
    ['*01\r\n', 'invalid multibulk length'],
    ['*+1\r\n', 'invalid multibulk length'],
    ['* 1\r\n', 'invalid multibulk length'],
    ['*1 \r\n', 'invalid multibulk length'],
    ['*-9223372036854775809\r\n', 'invalid multibulk length'],
    ['*9223372036854775808\r\n', 'invalid multibulk length'],
    [`*${LIMITS_DEFAULT.multibulkLengthMax + 1}\r\n`, 'invalid multibulk length'],
    ['*1\r\n$-1\r\n', 'invalid bulk length'],
    ['*1\r\n$\r\n', 'invalid bulk length'],
    ['*1\r\n$x\r\n', 'invalid bulk length'],
    ['*1\r\n$03\r\n', 'invalid bulk length'],
    ['*1\r\n$9223372036854775808\r\n', 'invalid bulk length'],
    [`*1\r\n$${LIMITS_DEFAULT.bulkBytesMax + 1}\r\n`, 'invalid bulk length'],
    ['*1\r\nx3\r\n', "expected '$', got 'x'"],
    ['*2\r\n$4\r\nECHO\r\n:1\r\n', "expected '$', got ':'"],
    ['*1\r\n\r\n', "expected '$', got '\r'"],
  ])('%j → %s', (input, message) => {
    expect(decodeBothWays(`*1\r\n$4\r\nPING\r\n${input}*1\r\n$4\r\nPING\r\n`)).toEqual({
      commands: [['PING']],
      error: message,
    });
  });

  it('waits for the whole header line before judging it', () => {
    expect(decode(whole('*1\r\nx3'))).toEqual(commandsOnly([]));
    expect(decode(whole('*1x'))).toEqual(commandsOnly([]));
    expect(decode(whole('*1\r\n$-1\r'))).toEqual(commandsOnly([]));
  });

  it('bounds the bulk length by bulkBytesMax (proto-max-bulk-len)', () => {
    const limits = { ...SMALL_LIMITS, bulkBytesMax: 1024 };
    expect(decodeBothWays(encode(['ECHO', 'x'.repeat(1024)]), { limits })).toEqual(
      commandsOnly([['ECHO', 'x'.repeat(1024)]]),
    );
    expect(decodeBothWays(encode(['ECHO', 'x'.repeat(1025)]), { limits })).toEqual({
      commands: [],
      error: 'invalid bulk length',
    });
  });

  it('bounds inline lines: too big inline request, at the same byte whole or in pieces', () => {
    const max = LIMITS_DEFAULT.inlineBytesMax;
    const atLimit = `ECHO ${'a'.repeat(max - 5)}`;
    expect(decode(whole(`${atLimit}\r\n`))).toEqual(commandsOnly([['ECHO', 'a'.repeat(max - 5)]]));
    expect(decode(cutAt(Buffer.from(`${atLimit}\r\n`), [max, max + 1]))).toEqual(
      commandsOnly([['ECHO', 'a'.repeat(max - 5)]]),
    );
    const tooBig = { commands: [], error: 'too big inline request' };
    expect(decode(whole(`${atLimit}a\r\n`))).toEqual(tooBig);
    expect(decode(whole(`${atLimit}a`))).toEqual(tooBig);
    expect(decode(whole(atLimit))).toEqual(commandsOnly([]));
    const small = { ...SMALL_LIMITS, inlineBytesMax: 8 };
    expect(decodeBothWays('12345678\r\n', { limits: small })).toEqual(commandsOnly([['12345678']]));
    expect(decodeBothWays('123456789\r\n', { limits: small })).toEqual(tooBig);
    expect(decodeBothWays('1234567\r\r\n', { limits: small })).toEqual(commandsOnly([['1234567']]));
  });

  it('bounds header lines: too big mbulk count string and too big bulk count string', () => {
    const max = LIMITS_DEFAULT.inlineBytesMax;
    const digits = '1'.repeat(max);
    expect(decode(whole(`*${digits}`))).toEqual({ commands: [], error: 'too big mbulk count string' });
    expect(decode(whole(`*${digits}\r\n`))).toEqual({ commands: [], error: 'too big mbulk count string' });
    expect(decode(whole(`*1\r\n$${digits}`))).toEqual({ commands: [], error: 'too big bulk count string' });
    expect(decode(whole(`*1\r\n${'x'.repeat(max + 1)}`))).toEqual({
      commands: [],
      error: 'too big bulk count string',
    });
    // One byte shorter is not too big: the line is judged as a number instead.
    expect(decode(whole(`*${'1'.repeat(max - 1)}\r\n`))).toEqual({ commands: [], error: 'invalid multibulk length' });
    const small = { ...SMALL_LIMITS, inlineBytesMax: 8 };
    expect(decodeBothWays('*1234567\r\n', { limits: small })).toEqual({ commands: [], error: 'invalid multibulk length' });
    expect(decodeBothWays('*12345678\r\n', { limits: small })).toEqual({
      commands: [],
      error: 'too big mbulk count string',
    });
  });
});

describe('limits before AUTH (authenticationRequired)', () => {
  const ten = encode(['ECHO', ...Array.from({ length: 9 }, (_, i) => `a${i}`)]);
  const eleven = encode(['ECHO', ...Array.from({ length: 10 }, (_, i) => `a${i}`)]);

  it('rejects more than 10 arguments with unauthenticated multibulk length', () => {
    expect(decodeBothWays(ten, { authenticationRequired: true }).commands).toHaveLength(1);
    expect(decodeBothWays(eleven, { authenticationRequired: true })).toEqual({
      commands: [],
      error: 'unauthenticated multibulk length',
    });
    expect(decodeBothWays('*20\r\n', { authenticationRequired: true })).toEqual({
      commands: [],
      error: 'unauthenticated multibulk length',
    });
    expect(decodeBothWays(eleven, { authenticationRequired: false }).commands).toHaveLength(1);
  });

  it('rejects bulks over 16 KB with unauthenticated bulk length', () => {
    const atLimit = 'x'.repeat(16_384);
    expect(decodeBothWays(encode(['ECHO', atLimit]), { authenticationRequired: true })).toEqual(
      commandsOnly([['ECHO', atLimit]]),
    );
    expect(decodeBothWays(encode(['ECHO', `${atLimit}x`]), { authenticationRequired: true })).toEqual({
      commands: [],
      error: 'unauthenticated bulk length',
    });
    expect(decodeBothWays(encode(['ECHO', `${atLimit}x`])).commands).toHaveLength(1);
  });

  it('applies to the next header once the flag is cleared (after AUTH succeeds)', () => {
    const decoder = new RequestDecoder(LIMITS_DEFAULT);
    decoder.authenticationRequired = true;
    decoder.push(Buffer.concat([encode(['AUTH', 'secret']), eleven]));
    expect(decoder.next()!.map(String)).toEqual(['AUTH', 'secret']);
    decoder.authenticationRequired = false;
    expect(decoder.next()).toHaveLength(11);
  });

  it('checks the invalid length before the unauthenticated one, like Redis', () => {
    expect(decodeBothWays('*abc\r\n', { authenticationRequired: true }).error).toBe('invalid multibulk length');
    expect(decodeBothWays('*1\r\n$-2\r\n', { authenticationRequired: true }).error).toBe('invalid bulk length');
  });
});

describe('parseCanonicalInteger (Redis string2ll)', () => {
  const parse = (text: string): number => {
    const buffer = Buffer.from(`x${text}y`, 'latin1');
    return parseCanonicalInteger(buffer, 1, buffer.length - 1);
  };

  it.each([
    ['0', 0],
    ['7', 7],
    ['-1', -1],
    ['1048576', 1_048_576],
    ['-9007199254740991', -9_007_199_254_740_991],
  ])('%s → %d', (text, value) => {
    expect(parse(text)).toBe(value);
  });

  it('accepts the whole signed 64-bit range (rounded beyond 2^53)', () => {
    expect(parse('9223372036854775807')).toBeGreaterThan(9.2e18);
    expect(parse('-9223372036854775808')).toBeLessThan(-9.2e18);
    expect(parse('1000000000000000000')).toBe(1e18);
  });

  it.each(['', '-', '-0', '00', '01', '+1', ' 1', '1 ', '1a', '9223372036854775808', '-9223372036854775809', '12345678901234567890'])(
    '%j is not an integer',
    (text) => {
      expect(parse(text)).toBeNaN();
    },
  );
});

describe('properties', () => {
  const argument = fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes));
  const command = fc.array(argument, { minLength: 1, maxLength: 6 });
  const commands = fc.array(command, { minLength: 1, maxLength: 8 });
  const asStrings = (list: Buffer[][]): string[][] => list.map((args) => args.map((arg) => arg.toString('latin1')));

  it('valid commands decode identically whole, byte by byte, and in any chunking', () => {
    fc.assert(
      fc.property(commands, fc.array(fc.nat(), { maxLength: 20 }), fc.array(fc.boolean(), { maxLength: 21 }), (list, cuts, drains) => {
        const input = Buffer.concat(list.map(encode));
        const expected = commandsOnly(asStrings(list));
        expect(decode(whole(input))).toEqual(expected);
        expect(decode(byteByByte(input))).toEqual(expected);
        expect(decode(cutAt(input, cuts))).toEqual(expected);
        expect(decode(cutAt(input, cuts), { drainAfter: drains })).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('big arguments decode identically in any chunking', () => {
    const bigArgument = fc
      .record({ length: fc.integer({ min: 30_000, max: 70_000 }), seed: fc.integer({ min: 0, max: 255 }) })
      .map(({ length, seed }) => {
        const bytes = Buffer.alloc(length);
        for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
        return bytes;
      });
    const mixed = fc.array(fc.array(fc.oneof(argument, bigArgument), { minLength: 1, maxLength: 3 }), {
      minLength: 1,
      maxLength: 3,
    });
    fc.assert(
      fc.property(mixed, fc.array(fc.nat(), { maxLength: 30 }), fc.array(fc.boolean(), { maxLength: 31 }), (list, cuts, drains) => {
        const input = Buffer.concat(list.map(encode));
        const expected = commandsOnly(asStrings(list));
        expect(decode(whole(input))).toEqual(expected);
        expect(decode(cutAt(input, cuts), { drainAfter: drains })).toEqual(expected);
      }),
      { numRuns: 40 },
    );
  });

  const fragment = fc.constantFrom(
    '*', '$', '\r\n', '\r', '\n', '-1', '0', '1', '3', '10', '11', '99999', '16385', '"', "'", '\\', ' ', '\t',
    '*1\r\n', '*2\r\n', '$3\r\n', '$4\r\nPING\r\n', '*-1\r\n', '*0\r\n', '$-1\r\n', '\0', '\\x41',
    '9223372036854775807', '-9223372036854775808', 'PING', 'SET a "b c"\r\n', "'it\\'s'",
  );
  const piece = fc.oneof(
    commands.map((list) => Buffer.concat(list.map(encode))),
    fc.array(fragment, { maxLength: 12 }).map((parts) => Buffer.from(parts.join(''), 'latin1')),
    fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes)),
    fc.integer({ min: 0, max: 200 }).map((length) => Buffer.from('a'.repeat(length))),
  );
  const mutation = fc.record({
    kind: fc.constantFrom('flip', 'insert', 'delete', 'truncate', 'set'),
    position: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
  });

  function mutate(input: Buffer, mutations: Array<{ kind: string; position: number; byte: number }>): Buffer {
    let bytes = Buffer.from(input);
    for (const { kind, position, byte } of mutations) {
      const at = bytes.length === 0 ? 0 : position % bytes.length;
      if (kind === 'flip' && bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << (byte % 8));
      else if (kind === 'set' && bytes.length > 0) bytes[at] = byte;
      else if (kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([byte]), bytes.subarray(at)]);
      else if (kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
      else if (kind === 'truncate') bytes = bytes.subarray(0, at);
    }
    return bytes;
  }

  const hostileInput = fc
    .tuple(fc.array(piece, { minLength: 1, maxLength: 5 }), fc.array(mutation, { maxLength: 4 }))
    .map(([pieces, mutations]) => mutate(Buffer.concat(pieces), mutations));

  it('random and mutated input gives the same commands and the same error whole, byte by byte, and chunked', () => {
    fc.assert(
      fc.property(hostileInput, fc.boolean(), fc.array(fc.nat(), { maxLength: 10 }), (input, authenticationRequired, cuts) => {
        const options = { limits: SMALL_LIMITS, authenticationRequired };
        // decode() rethrows anything that is not a ProtocolError, failing the property.
        const expected = decode(whole(input), options);
        expect(decode(byteByByte(input), options)).toEqual(expected);
        expect(decode(cutAt(input, cuts), options)).toEqual(expected);
        if (expected.error !== null) expect(expected.error).toMatch(PROTOCOL_MESSAGE);
      }),
      { numRuns: 3000 },
    );
  });
});

/** Every message the decoder may throw, as redis-server words them. */
const PROTOCOL_MESSAGE = new RegExp(
  '^(invalid multibulk length|invalid bulk length|expected \'\\$\', got \'[\\s\\S]\'|too big inline request|' +
    'too big mbulk count string|too big bulk count string|unauthenticated multibulk length|' +
    'unauthenticated bulk length|unbalanced quotes in request)$',
);
