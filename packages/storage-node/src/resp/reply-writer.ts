/**
 * Encodes replies in RESP2 or RESP3 into a per-connection output buffer. The writer never sees a
 * socket: the connection takes finished bytes with `takeUpTo` and hands them to the network.
 *
 * Small replies are appended to one growing buffer so a pipeline of replies leaves in one write;
 * large bulk payloads are kept as separate chunks (zero-copy) instead of being copied in.
 */

export type ProtocolVersion = 2 | 3;

const CRLF = '\r\n';
const INITIAL_BYTES = 2048;
/** Bulk payloads at least this large are referenced, not copied. */
const ZERO_COPY_BYTES = 16 * 1024;

export class ReplyWriter {
  protocol: ProtocolVersion = 2;
  /** Finished chunks, oldest first, followed by `current[0, currentLength)`. */
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  private current: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  private currentLength = 0;

  /** Total bytes written and not yet taken. */
  get length(): number {
    return this.chunkBytes + this.currentLength;
  }

  simple(text: string): void {
    this.ascii(`+${text}${CRLF}`);
  }

  /** An error reply; `message` must start with the error code (e.g. "ERR ...", "WRONGTYPE ..."). */
  error(message: string): void {
    // Errors are one line: newlines in a message would break the framing. Like Redis
    // (sdsmapchars), each CR or LF becomes one space.
    this.utf8(`-${message.replace(/[\r\n]/g, ' ')}${CRLF}`);
  }

  integer(value: number | bigint): void {
    this.ascii(`:${value}${CRLF}`);
  }

  bulk(value: Buffer): void {
    const length = value.length;
    if (length >= ZERO_COPY_BYTES) {
      this.ascii(`$${length}${CRLF}`);
      this.appendChunk(value);
      this.ascii(CRLF);
      return;
    }
    this.reserve(length + 16);
    this.currentLength += this.current.write(`$${length}${CRLF}`, this.currentLength, 'latin1');
    value.copy(this.current, this.currentLength);
    this.currentLength += length;
    this.current[this.currentLength++] = 0x0d;
    this.current[this.currentLength++] = 0x0a;
  }

  bulkString(value: string): void {
    this.bulk(Buffer.from(value, 'utf8'));
  }

  /** A nil reply: RESP2 null bulk string, RESP3 null. */
  null(): void {
    this.ascii(this.protocol === 3 ? `_${CRLF}` : `$-1${CRLF}`);
  }

  /** A nil where Redis replies a null array in RESP2 (EXEC aborted by WATCH, for example). */
  nullArray(): void {
    this.ascii(this.protocol === 3 ? `_${CRLF}` : `*-1${CRLF}`);
  }

  arrayHeader(length: number): void {
    this.ascii(`*${length}${CRLF}`);
  }

  /** A map of `pairs` entries: RESP3 map, RESP2 flat array of 2×pairs elements. */
  mapHeader(pairs: number): void {
    this.ascii(this.protocol === 3 ? `%${pairs}${CRLF}` : `*${pairs * 2}${CRLF}`);
  }

  setHeader(length: number): void {
    this.ascii(this.protocol === 3 ? `~${length}${CRLF}` : `*${length}${CRLF}`);
  }

  pushHeader(length: number): void {
    this.ascii(this.protocol === 3 ? `>${length}${CRLF}` : `*${length}${CRLF}`);
  }

  /** A floating point reply: RESP3 double, RESP2 bulk string in Redis's human-friendly format. */
  double(value: number): void {
    const text = formatDouble(value);
    if (this.protocol === 3) this.ascii(`,${text}${CRLF}`);
    else this.bulkString(text);
  }

  boolean(value: boolean): void {
    if (this.protocol === 3) this.ascii(value ? `#t${CRLF}` : `#f${CRLF}`);
    else this.ascii(value ? `:1${CRLF}` : `:0${CRLF}`);
  }

  /** Text meant for humans (INFO, CLIENT LIST): RESP3 verbatim string, RESP2 bulk string. */
  verbatim(text: string): void {
    if (this.protocol === 3) {
      const body = Buffer.from(`txt:${text}`, 'utf8');
      this.ascii(`=${body.length}${CRLF}`);
      this.raw(body);
      this.ascii(CRLF);
    } else {
      this.bulkString(text);
    }
  }

  /** Pre-encoded bytes (a constant reply like "+OK\r\n"). */
  raw(bytes: Buffer): void {
    if (bytes.length >= ZERO_COPY_BYTES) {
      this.appendChunk(bytes);
      return;
    }
    this.reserve(bytes.length);
    bytes.copy(this.current, this.currentLength);
    this.currentLength += bytes.length;
  }

  /**
   * Removes and returns the first `byteCount` bytes as chunks. Bytes handed out are never written
   * again: the rest moves to a fresh buffer, so the network may hold the returned views.
   */
  takeUpTo(byteCount: number): Buffer[] {
    const taken: Buffer[] = [];
    let remaining = byteCount;
    while (remaining > 0 && this.chunks.length > 0) {
      const chunk = this.chunks[0]!;
      if (chunk.length <= remaining) {
        taken.push(chunk);
        this.chunks.shift();
        this.chunkBytes -= chunk.length;
        remaining -= chunk.length;
      } else {
        taken.push(chunk.subarray(0, remaining));
        this.chunks[0] = chunk.subarray(remaining);
        this.chunkBytes -= remaining;
        remaining = 0;
      }
    }
    if (remaining > 0) {
      if (remaining > this.currentLength) throw new Error('takeUpTo beyond the written length');
      taken.push(this.current.subarray(0, remaining));
      const rest = this.currentLength - remaining;
      const next = Buffer.allocUnsafe(Math.max(INITIAL_BYTES, rest));
      this.current.copy(next, 0, remaining, this.currentLength);
      this.current = next;
      this.currentLength = rest;
    }
    return taken;
  }

  /** Drops everything not yet taken (the connection is closing). */
  discard(): void {
    this.chunks = [];
    this.chunkBytes = 0;
    this.currentLength = 0;
  }

  private ascii(text: string): void {
    this.reserve(text.length);
    this.currentLength += this.current.write(text, this.currentLength, 'latin1');
  }

  private utf8(text: string): void {
    const byteLength = Buffer.byteLength(text, 'utf8');
    this.reserve(byteLength);
    this.currentLength += this.current.write(text, this.currentLength, 'utf8');
  }

  private appendChunk(chunk: Buffer): void {
    this.sealCurrent();
    this.chunks.push(chunk);
    this.chunkBytes += chunk.length;
  }

  /** Moves the bytes of `current` into the chunk list and starts a fresh buffer. */
  private sealCurrent(): void {
    if (this.currentLength === 0) return;
    this.chunks.push(this.current.subarray(0, this.currentLength));
    this.chunkBytes += this.currentLength;
    this.current = Buffer.allocUnsafe(INITIAL_BYTES);
    this.currentLength = 0;
  }

  private reserve(byteCount: number): void {
    const needed = this.currentLength + byteCount;
    if (needed <= this.current.length) return;
    if (this.currentLength >= ZERO_COPY_BYTES) {
      this.sealCurrent();
      if (byteCount <= this.current.length) return;
      this.current = Buffer.allocUnsafe(byteCount);
      return;
    }
    let size = this.current.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.current.copy(grown, 0, 0, this.currentLength);
    this.current = grown;
  }
}

/**
 * Formats a double as Redis does for INCRBYFLOAT and RESP2 doubles: shortest round-trip decimal,
 * never an exponent, "inf"/"-inf"/"nan" for the specials, and negative zero as "0" (Redis's
 * ld2string in human mode turns "-0" into "0").
 */
export function formatDouble(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (value === 0) return '0';
  const text = String(value);
  if (!text.includes('e')) return text;
  // Expand exponent notation: Redis prints 1e+21 as "1000000000000000000000" and 1e-7 as "0.0000001".
  return expandExponent(value);
}

function expandExponent(value: number): string {
  const negative = value < 0;
  const [mantissa = '0', exponentText = '0'] = Math.abs(value).toString().split('e');
  const exponent = Number(exponentText);
  const [integerPart = '0', fractionPart = ''] = mantissa.split('.');
  const digits = integerPart + fractionPart;
  const pointIndex = integerPart.length + exponent;
  let text: string;
  if (pointIndex <= 0) text = `0.${'0'.repeat(-pointIndex)}${digits}`;
  else if (pointIndex >= digits.length) text = digits + '0'.repeat(pointIndex - digits.length);
  else text = `${digits.slice(0, pointIndex)}.${digits.slice(pointIndex)}`;
  return negative ? `-${text}` : text;
}
