/** A malformed request. The server replies `-ERR Protocol error: <message>` and closes the connection. */
export class ProtocolError extends Error {
  readonly code = 'PROTOCOL_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}
