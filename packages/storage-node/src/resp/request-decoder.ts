/**
 * Incremental decoder of client requests: RESP multibulk arrays (`*N\r\n$len\r\n...`) and inline
 * commands (`SET k v\r\n`), exactly as redis-server accepts them. It takes bytes and yields commands
 * (arrays of argument buffers); it never sees a socket.
 *
 * Arguments are zero-copy views into the received chunks whenever a whole argument arrived in one
 * chunk; a large argument split across chunks is assembled in a buffer of its exact size, so a
 * 100 MB value costs one copy, not one per chunk.
 */
import { splitInlineArguments } from './inline-split.js';
import { ProtocolError } from './protocol-error.js';

export interface DecoderLimits {
  bulkBytesMax: number;
  multibulkLengthMax: number;
  inlineBytesMax: number;
  unauthenticatedMultibulkLengthMax: number;
  unauthenticatedBulkBytesMax: number;
}

const CR = 0x0d;
const LF = 0x0a;
const STAR = 0x2a;
const DOLLAR = 0x24;
/** Arguments at least this large, when split across chunks, are assembled in a dedicated buffer. */
const BIG_ARGUMENT_BYTES = 32 * 1024;
const EMPTY = Buffer.alloc(0);

export class RequestDecoder {
  private buffer: Buffer = EMPTY;
  private position = 0;
  /** Arguments still expected in the current multibulk; 0 when between commands. */
  private multibulkRemaining = 0;
  private args: Buffer[] = [];
  /** Length of the bulk argument being read, or -1 while its `$len` header is still unread. */
  private bulkLength = -1;
  /** Dedicated buffer for a big argument arriving over several chunks (length bulkLength + 2). */
  private bigArgument: Buffer | null = null;
  private bigArgumentFilled = 0;

  /** When true, the pre-AUTH limits apply (Redis's defence against unauthenticated memory use). */
  authenticationRequired = false;

  constructor(private readonly limits: DecoderLimits) {}

  /** Bytes received but not yet returned as part of a command. */
  get bufferedBytes(): number {
    return this.buffer.length - this.position + this.bigArgumentFilled;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.bigArgument !== null && this.bigArgumentFilled < this.bigArgument.length) {
      // While a big argument is incomplete, `buffer` is empty: every byte received goes into it
      // first, and only what follows the argument is kept in `buffer`.
      const needed = this.bigArgument.length - this.bigArgumentFilled;
      const taken = Math.min(needed, chunk.length);
      chunk.copy(this.bigArgument, this.bigArgumentFilled, 0, taken);
      this.bigArgumentFilled += taken;
      this.buffer = taken < chunk.length ? chunk.subarray(taken) : EMPTY;
      this.position = 0;
      return;
    }
    // A complete big argument not yet taken by next() stays put; later bytes append to `buffer`.
    if (this.position >= this.buffer.length) {
      this.buffer = chunk;
    } else {
      this.buffer = Buffer.concat([this.buffer.subarray(this.position), chunk]);
    }
    this.position = 0;
  }

  /**
   * The next complete command, or null when more bytes are needed. An empty array never comes out:
   * empty multibulks and blank inline lines are skipped, as Redis does. Throws ProtocolError.
   */
  next(): Buffer[] | null {
    while (true) {
      if (this.multibulkRemaining === 0) {
        if (this.position >= this.buffer.length) return null;
        if (this.buffer[this.position] !== STAR) {
          const inline = this.readInline();
          if (inline === null) return null;
          if (inline.length === 0) continue;
          return inline;
        }
        const count = this.readHeaderNumber('too big mbulk count string');
        if (count === null) return null;
        if (Number.isNaN(count) || count > this.limits.multibulkLengthMax) {
          throw new ProtocolError('invalid multibulk length');
        }
        if (this.authenticationRequired && count > this.limits.unauthenticatedMultibulkLengthMax) {
          throw new ProtocolError('unauthenticated multibulk length');
        }
        if (count <= 0) continue;
        this.multibulkRemaining = count;
        this.args = [];
      }
      if (!this.readArguments()) return null;
      const command = this.args;
      this.args = [];
      return command;
    }
  }

  /** Reads bulk arguments of the current multibulk; true when all have arrived. */
  private readArguments(): boolean {
    while (this.multibulkRemaining > 0) {
      if (this.bigArgument !== null) {
        if (this.bigArgumentFilled < this.bigArgument.length) return false;
        this.args.push(this.bigArgument.subarray(0, this.bulkLength));
        this.bigArgument = null;
        this.bigArgumentFilled = 0;
        this.bulkLength = -1;
        this.multibulkRemaining--;
        continue;
      }
      if (this.bulkLength < 0) {
        if (this.position >= this.buffer.length) return false;
        const first = this.buffer[this.position]!;
        const length = this.readHeaderNumber('too big bulk count string');
        if (length === null) return false;
        if (first !== DOLLAR) {
          throw new ProtocolError(`expected '$', got '${String.fromCharCode(first)}'`);
        }
        if (Number.isNaN(length) || length < 0 || length > this.limits.bulkBytesMax) {
          throw new ProtocolError('invalid bulk length');
        }
        if (this.authenticationRequired && length > this.limits.unauthenticatedBulkBytesMax) {
          throw new ProtocolError('unauthenticated bulk length');
        }
        this.bulkLength = length;
      }
      const available = this.buffer.length - this.position;
      const needed = this.bulkLength + 2;
      if (available >= needed) {
        // Like Redis, the two bytes after the payload are skipped without inspection.
        this.args.push(this.buffer.subarray(this.position, this.position + this.bulkLength));
        this.position += needed;
        this.bulkLength = -1;
        this.multibulkRemaining--;
        continue;
      }
      if (needed >= BIG_ARGUMENT_BYTES) {
        const big = Buffer.allocUnsafe(needed);
        this.buffer.copy(big, 0, this.position);
        this.bigArgument = big;
        this.bigArgumentFilled = available;
        this.buffer = EMPTY;
        this.position = 0;
      }
      return false;
    }
    return true;
  }

  /**
   * Parses `<sigil><integer>\r\n` at the current position. Returns null when the line is incomplete,
   * NaN when the digits are not a canonical integer, else the integer. The sigil itself is checked
   * by the caller. A line longer than the inline limit throws `tooLongMessage` whether or not its
   * end has arrived, so the outcome does not depend on how the bytes were split into chunks.
   */
  private readHeaderNumber(tooLongMessage: string): number | null {
    const buffer = this.buffer;
    const start = this.position;
    const carriageReturn = buffer.indexOf(CR, start);
    const lineLength = (carriageReturn < 0 ? buffer.length : carriageReturn) - start;
    if (lineLength > this.limits.inlineBytesMax) throw new ProtocolError(tooLongMessage);
    if (carriageReturn < 0 || carriageReturn + 1 >= buffer.length) return null;
    this.position = carriageReturn + 2;
    return parseCanonicalInteger(buffer, start + 1, carriageReturn);
  }

  private readInline(): Buffer[] | null {
    const buffer = this.buffer;
    const start = this.position;
    const lineFeed = buffer.indexOf(LF, start);
    if (lineFeed < 0) {
      // A final CR may be the start of the line's CRLF, which does not count towards its length;
      // counting it would make the limit depend on where the bytes were split.
      const pendingLength = buffer.length - start - (buffer[buffer.length - 1] === CR ? 1 : 0);
      if (pendingLength > this.limits.inlineBytesMax) throw new ProtocolError('too big inline request');
      return null;
    }
    let end = lineFeed;
    if (end > start && buffer[end - 1] === CR) end--;
    this.position = lineFeed + 1;
    if (end - start > this.limits.inlineBytesMax) throw new ProtocolError('too big inline request');
    const args = splitInlineArguments(buffer.subarray(start, end));
    if (args === null) throw new ProtocolError('unbalanced quotes in request');
    return args;
  }
}

/** Redis's string2ll: at most 19 digits and within the signed 64-bit range. */
const INT64_MAX_DIGITS = '9223372036854775807';
const INT64_MIN_DIGITS = '9223372036854775808';

/**
 * Redis's string2ll for header lines: optional '-', no '+', no leading zeros, no spaces, within the
 * signed 64-bit range. Returns NaN when the text is not such an integer. Magnitudes above 2^53 come
 * back rounded; every limit is far below that, so only their sign and size matter.
 */
export function parseCanonicalInteger(buffer: Buffer, start: number, end: number): number {
  let index = start;
  let negative = false;
  if (index < end && buffer[index] === 0x2d) {
    negative = true;
    index++;
  }
  const digits = end - index;
  if (digits <= 0 || digits > INT64_MAX_DIGITS.length) return Number.NaN;
  if (buffer[index] === 0x30) return digits === 1 && !negative ? 0 : Number.NaN;
  let value = 0;
  for (let i = index; i < end; i++) {
    const digit = buffer[i]! - 0x30;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  if (digits === INT64_MAX_DIGITS.length) {
    // Same length, so comparing the digit strings compares the numbers.
    const text = buffer.toString('latin1', index, end);
    if (text > (negative ? INT64_MIN_DIGITS : INT64_MAX_DIGITS)) return Number.NaN;
  }
  return negative ? -value : value;
}
