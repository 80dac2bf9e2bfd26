/**
 * Every bound the storage node enforces, in one place, with why. Defaults follow redis-server where
 * Redis has one, so clients and operators meet familiar numbers; each is overridable by config.
 */
export interface Limits {
  /** Largest bulk string a client may send (Redis `proto-max-bulk-len`, 512 MB). */
  bulkBytesMax: number;
  /** Most arguments in one command (Redis 6's multibulk cap; bounds per-command allocation). */
  multibulkLengthMax: number;
  /** Longest inline command line, and longest `*N`/`$N` header line (Redis PROTO_INLINE_MAX_SIZE). */
  inlineBytesMax: number;
  /** Before AUTH succeeds a client may send only small commands (Redis: 10 args, 16 KB bulks). */
  unauthenticatedMultibulkLengthMax: number;
  unauthenticatedBulkBytesMax: number;
  /** Most client connections at once (Redis `maxclients`, 10000). */
  clientsMax: number;
  /**
   * Unsent reply bytes a client may hold before it is disconnected (Redis `client-output-buffer-limit`
   * hard limit). Redis leaves normal clients unlimited; we do not, so a client that stops reading
   * cannot make the server grow without end.
   */
  outputBufferBytesMax: number;
  /**
   * Unsent reply bytes above which the server stops reading a client's further commands until the
   * client drains its replies. This is TCP back-pressure, not an error: a slow reader is slowed.
   */
  outputBufferPauseBytes: number;
  /**
   * A paused client (unsent replies above `outputBufferPauseBytes`) whose socket accepts none of
   * them for this long is disconnected: it stopped reading, and would otherwise hold its connection
   * and buffers forever (Redis's soft output limit with soft-seconds plays the same role). Progress,
   * however slow, keeps the client. 0 disables.
   */
  outputBufferStallMs: number;
  /** Close a client idle for this long; 0 disables (Redis `timeout`, default 0). */
  idleTimeoutMs: number;
  /** Unparsed request bytes buffered per client (Redis `client-query-buffer-limit`, 1 GB). */
  queryBufferBytesMax: number;
  /** Commands queued inside one MULTI before EXEC (bounds memory of an unterminated transaction). */
  multiQueuedCommandsMax: number;
  /**
   * Longest key. LMDB keys are at most 1978 bytes; a stored key adds a 6-byte slot/hash prefix and
   * the expiry index 8 more, so 1900 leaves room. Longer keys get a clear error, never a crash.
   */
  keyBytesMax: number;
  /** Largest stored record (value plus header); writes that would exceed it fail without effect. */
  recordBytesMax: number;
  /** Keys the active expiry cycle removes per tick (bounds the work one tick can do). */
  activeExpireKeysPerTick: number;
  /** How often the active expiry cycle runs (Redis `hz` 10 → every 100 ms). */
  activeExpireIntervalMs: number;
  /** Hashes with at most this many fields are returned whole by one HSCAN call (cursor 0). */
  hashScanWholeFieldsMax: number;
  /** Characters kept of a client name, and of any value echoed in an error message. */
  clientNameBytesMax: number;
}

export const LIMITS_DEFAULT: Readonly<Limits> = Object.freeze({
  bulkBytesMax: 512 * 1024 * 1024,
  multibulkLengthMax: 1024 * 1024,
  inlineBytesMax: 64 * 1024,
  unauthenticatedMultibulkLengthMax: 10,
  unauthenticatedBulkBytesMax: 16 * 1024,
  clientsMax: 10_000,
  outputBufferBytesMax: 64 * 1024 * 1024,
  outputBufferPauseBytes: 1024 * 1024,
  outputBufferStallMs: 60_000,
  idleTimeoutMs: 0,
  queryBufferBytesMax: 1024 * 1024 * 1024,
  multiQueuedCommandsMax: 100_000,
  keyBytesMax: 1900,
  recordBytesMax: 512 * 1024 * 1024 + 4096,
  activeExpireKeysPerTick: 200,
  activeExpireIntervalMs: 100,
  hashScanWholeFieldsMax: 512,
  clientNameBytesMax: 1024,
});
