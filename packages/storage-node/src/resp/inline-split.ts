/**
 * Splits an inline command line into arguments the way Redis's sdssplitargs does: whitespace
 * separates; "double quotes" allow \n \r \t \b \a \\ \" and \xHH escapes; 'single quotes' allow \'.
 * A closing quote must be followed by whitespace or the end of the line. Returns null for
 * unbalanced quotes.
 */
export function splitInlineArguments(wholeLine: Buffer): Buffer[] | null {
  // Redis reads the line as a C string: a NUL byte ends it.
  const nul = wholeLine.indexOf(0);
  const line = nul < 0 ? wholeLine : wholeLine.subarray(0, nul);
  const args: Buffer[] = [];
  const length = line.length;
  let index = 0;
  while (true) {
    while (index < length && isSpace(line[index]!)) index++;
    if (index >= length) return args;
    const tokenStart = index;
    // Fast path: a token with no quotes is a view of the line.
    while (index < length && !endsUnquotedToken(line[index]!) && line[index] !== 0x22 && line[index] !== 0x27) {
      index++;
    }
    if (index >= length || endsUnquotedToken(line[index]!)) {
      args.push(line.subarray(tokenStart, index));
      continue;
    }
    const current: number[] = [];
    for (let i = tokenStart; i < index; i++) current.push(line[i]!);
    const end = readQuotedToken(line, index, current);
    if (end < 0) return null;
    args.push(Buffer.from(current));
    index = end;
  }
}

/** Continues a token at `index` (a quote or plain byte); returns the index after it, or -1. */
function readQuotedToken(line: Buffer, start: number, current: number[]): number {
  const length = line.length;
  let index = start;
  let inDoubleQuotes = false;
  let inSingleQuotes = false;
  while (true) {
    if (index >= length) return inDoubleQuotes || inSingleQuotes ? -1 : index;
    const byte = line[index]!;
    if (inDoubleQuotes) {
      if (byte === 0x5c && index + 3 < length && line[index + 1] === 0x78 && isHex(line[index + 2]!) && isHex(line[index + 3]!)) {
        current.push(hexValue(line[index + 2]!) * 16 + hexValue(line[index + 3]!));
        index += 4;
      } else if (byte === 0x5c && index + 1 < length) {
        current.push(unescape(line[index + 1]!));
        index += 2;
      } else if (byte === 0x22) {
        if (index + 1 < length && !isSpace(line[index + 1]!)) return -1;
        return index + 1;
      } else {
        current.push(byte);
        index++;
      }
    } else if (inSingleQuotes) {
      if (byte === 0x5c && index + 1 < length && line[index + 1] === 0x27) {
        current.push(0x27);
        index += 2;
      } else if (byte === 0x27) {
        if (index + 1 < length && !isSpace(line[index + 1]!)) return -1;
        return index + 1;
      } else {
        current.push(byte);
        index++;
      }
    } else if (endsUnquotedToken(byte)) {
      return index;
    } else {
      if (byte === 0x22) inDoubleQuotes = true;
      else if (byte === 0x27) inSingleQuotes = true;
      else current.push(byte);
      index++;
    }
  }
}

function isSpace(byte: number): boolean {
  // isspace() in the C locale: space, \t, \n, \v, \f, \r
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

function endsUnquotedToken(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function isHex(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46);
}

function hexValue(byte: number): number {
  if (byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61) return byte - 0x61 + 10;
  return byte - 0x41 + 10;
}

function unescape(byte: number): number {
  switch (byte) {
    case 0x6e: return 0x0a; // \n
    case 0x72: return 0x0d; // \r
    case 0x74: return 0x09; // \t
    case 0x62: return 0x08; // \b
    case 0x61: return 0x07; // \a
    default: return byte;
  }
}
