/**
 * Operating errors: one class per condition with a stable `code`, converted at the edge into a RESP
 * error line (the message already starts with the Redis error prefix) or an HTTP status.
 */
export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export const WRONGTYPE_MESSAGE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

export const errors = {
  wrongType: () => new CommandError('WRONGTYPE', WRONGTYPE_MESSAGE),
  syntax: () => new CommandError('SYNTAX', 'ERR syntax error'),
  notInteger: () => new CommandError('NOT_INTEGER', 'ERR value is not an integer or out of range'),
  notFloat: () => new CommandError('NOT_FLOAT', 'ERR value is not a valid float'),
  hashNotInteger: () => new CommandError('HASH_NOT_INTEGER', 'ERR hash value is not an integer'),
  hashNotFloat: () => new CommandError('HASH_NOT_FLOAT', 'ERR hash value is not a float'),
  overflow: () => new CommandError('OVERFLOW', 'ERR increment or decrement would overflow'),
  noSuchKey: () => new CommandError('NO_SUCH_KEY', 'ERR no such key'),
  invalidExpire: (command: string) =>
    new CommandError('INVALID_EXPIRE', `ERR invalid expire time in '${command}' command`),
  wrongArity: (command: string) =>
    new CommandError('WRONG_ARITY', `ERR wrong number of arguments for '${command}' command`),
  keyTooLong: (bytesMax: number) =>
    new CommandError('KEY_TOO_LONG', `ERR key is too long (at most ${bytesMax} bytes)`),
  valueTooLarge: (bytesMax: number) =>
    new CommandError('VALUE_TOO_LARGE', `ERR string exceeds maximum allowed size (${bytesMax} bytes)`),
  invalidCursor: () => new CommandError('INVALID_CURSOR', 'ERR invalid cursor'),
  noAuth: () => new CommandError('NOAUTH', 'NOAUTH Authentication required.'),
  generic: (code: string, message: string) => new CommandError(code, `ERR ${message}`),
};
