/**
 * One client connection: bytes in → commands → replies out, in order.
 *
 * Replies are written into a ReplyWriter as commands run. A reply that depends on a write batch
 * not yet acknowledged (see engine.ts) opens a *held segment*: it and everything after it wait until
 * that batch is acknowledged, so replies leave in command order and never announce a write that a
 * crash could lose. Tickets of held segments only grow, so releasing is a walk from the front.
 *
 * Back-pressure: when unsent replies pass `outputBufferPauseBytes` the connection stops running
 * further commands and stops reading the socket until they drain; past `outputBufferBytesMax` the
 * client is disconnected (it asked for more than it reads). A paused client whose socket accepts no
 * reply bytes at all for `outputBufferStallMs` is disconnected too: it stopped reading, and pausing
 * alone would keep its connection and buffers forever.
 */
import type { Socket } from 'node:net';
import { errors } from '../errors.js';
import { ticketPartition, type Engine } from '../engine/engine.js';
import { ProtocolError } from '../resp/protocol-error.js';
import { RequestDecoder } from '../resp/request-decoder.js';
import { ReplyWriter } from '../resp/reply-writer.js';
import { replyError, resolveSpec, runCommand } from '../commands/run.js';
import { rejectQueued, rejectRouted, RUN_INSIDE_MULTI } from '../commands/transactions.js';
import type { BlockRequest, ClientSession, CommandContext, CommandSpec, ServerApi } from '../commands/types.js';
import { commandRefusal, transactionRefusal } from '../cluster/routing.js';

export interface ConnectionHost {
  readonly api: ServerApi;
  readonly engine: Engine;
  lookupCommand(name: Buffer): CommandSpec | undefined;
  random(): number;
  /** Called when the connection holds replies waiting for a batch, and when it no longer does. */
  setWaiting(connection: Connection, waiting: boolean): void;
  closed(connection: Connection, reason: CloseReason): void;
  observeLatency(spec: CommandSpec, seconds: number): void;
}

export type CloseReason = 'client' | 'quit' | 'killed' | 'protocol' | 'output-buffer' | 'idle' | 'query-buffer' | 'shutdown' | 'error';

const QUEUED = Buffer.from('+QUEUED\r\n');

export class Connection implements ClientSession {
  readonly createdMs: number;
  name = '';
  libraryName = '';
  libraryVersion = '';
  protocol: 2 | 3 = 2;
  authenticated: boolean;
  multiQueue: Array<{ spec: CommandSpec; args: Buffer[] }> | null = null;
  multiFailed = false;
  readonly watchedKeys = new Set<string>();
  watchDirty = false;
  closeAfterReply = false;
  readonlyMode = false;
  lastWrite: { partition: number; seq: number } | null = null;
  private blocked: BlockRequest | null = null;
  private blockTimer: NodeJS.Timeout | null = null;
  asking = false;
  noEvict = false;
  noTouch = false;
  lastCommandName = 'NULL';
  lastActivityMs: number;

  private readonly decoder: RequestDecoder;
  private readonly writer = new ReplyWriter();
  private readonly context: { -readonly [K in keyof CommandContext]: CommandContext[K] };
  /** Bytes already handed to the socket since the connection opened (base of absolute offsets). */
  private releasedBytes = 0;
  /** Held segments: absolute start offset and the batch id that must be acknowledged first. */
  private readonly heldStarts: number[] = [];
  private readonly heldTickets: number[] = [];
  /** Commands whose replies are not yet released, for latency: spec, absolute end offset, start time. */
  private readonly latencySpecs: CommandSpec[] = [];
  private readonly latencyEnds: number[] = [];
  private readonly latencyStartsMs: number[] = [];
  private paused = false;
  /** While paused: checks that the client still drains replies (see outputBufferStallMs). */
  private stallTimer: NodeJS.Timeout | null = null;
  /** Reply bytes the socket had handed to the kernel when the stall timer was armed. */
  private stallMarkBytes = 0;
  private closing = false;
  private protocolErrorPending = false;
  private killPending = false;
  /** A command of this connection is running now (commands run one at a time, synchronously). */
  private executing = false;

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
    nowMs: number,
  ) {
    this.createdMs = nowMs;
    this.lastActivityMs = nowMs;
    const api = host.api;
    this.authenticated = api.requirePassword === null;
    this.decoder = new RequestDecoder(api.limits);
    this.decoder.authenticationRequired = !this.authenticated;
    this.context = {
      engine: host.engine,
      server: api,
      client: this,
      reply: this.writer,
      nowMs,
      ticket: 0,
      random: () => host.random(),
    };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', () => this.close('error'));
    socket.on('close', () => this.close('client'));
    // Listen even when the timeout is 0 (off): CONFIG SET timeout may turn it on later.
    socket.on('timeout', () => this.close('idle'));
    if (api.limits.idleTimeoutMs > 0) socket.setTimeout(api.limits.idleTimeoutMs);
  }

  get remoteAddress(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? 0}`;
  }

  get localAddress(): string {
    return `${this.socket.localAddress ?? '?'}:${this.socket.localPort ?? 0}`;
  }

  outputBytes(): number {
    return this.writer.length + this.socket.writableLength;
  }

  queryBufferBytes(): number {
    return this.decoder.bufferedBytes;
  }

  /** Stops reading and running further requests (shutdown); owed replies are still released. */
  stopReading(): void {
    this.closeAfterReply = true;
    this.socket.pause();
    this.flushReplies();
  }

  /**
   * CLIENT KILL. Another client's connection closes at once. A client killing itself is running
   * this very command: it still gets its reply and is closed once that reply is written (as Redis).
   */
  kill(): void {
    if (this.executing) {
      this.killPending = true;
      this.closeAfterReply = true;
    } else {
      this.close('killed');
    }
  }

  block(request: BlockRequest): void {
    this.blocked = request;
    this.pollBlocked();
  }

  private pollBlocked(): void {
    const request = this.blocked;
    if (request === null || this.closing) return;
    const timedOut = performance.now() >= request.deadlineMs;
    if (!request.ready() && !timedOut) {
      this.blockTimer = setTimeout(() => this.pollBlocked(), 5);
      return;
    }
    this.blockTimer = null;
    this.blocked = null;
    request.reply(timedOut && !request.ready());
    this.flushReplies();
    if (!this.paused) this.processCommands();
  }

  /** Whether a reply waits on a write of `partition` (cluster tickets). */
  waitsOnPartition(partition: number): boolean {
    return this.heldTickets.some((ticket) => ticketPartition(ticket) === partition);
  }

  /** Applies a new idle timeout (CONFIG SET timeout). */
  setIdleTimeout(idleTimeoutMs: number): void {
    this.socket.setTimeout(idleTimeoutMs);
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    this.decoder.push(chunk);
    this.lastActivityMs = Date.now();
    if (this.decoder.bufferedBytes > this.host.api.limits.queryBufferBytesMax) {
      this.close('query-buffer');
      return;
    }
    this.processCommands();
  }

  /** Runs complete commands until the input is exhausted, the output backs up, or we close. */
  private processCommands(): void {
    const limits = this.host.api.limits;
    const startedMs = performance.now();
    this.context.nowMs = Date.now();
    while (!this.closing && !this.closeAfterReply && this.blocked === null) {
      if (this.outputBytes() > limits.outputBufferPauseBytes) {
        this.pause();
        break;
      }
      let args: Buffer[] | null;
      try {
        args = this.decoder.next();
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        this.host.api.stats.protocolErrors++;
        replyError(this.context, `ERR Protocol error: ${error.message}`);
        this.protocolErrorPending = true;
        this.closeAfterReply = true;
        break;
      }
      if (args === null) break;
      this.executing = true;
      try {
        this.execute(args, startedMs);
      } finally {
        this.executing = false;
      }
      // As Redis's resetClient: ASKING holds for the next command only (inside MULTI, until EXEC).
      if (this.asking && this.multiQueue === null && args[0]!.toString('latin1').toLowerCase() !== 'asking') {
        this.asking = false;
      }
      if (this.outputBytes() > limits.outputBufferBytesMax) {
        this.host.api.stats.outputBufferDisconnects++;
        this.close('output-buffer');
        return;
      }
    }
    this.flushReplies();
  }

  private execute(args: Buffer[], startedMs: number): void {
    const ctx = this.context;
    const spec = this.host.lookupCommand(args[0]!);
    const stats = this.host.api.stats;
    stats.commandsProcessed++;
    if (spec === undefined) {
      rejectQueued(ctx, unknownCommandMessage(args));
      return;
    }
    this.lastCommandName = spec.name;
    if (!this.authenticated && !spec.flags.includes('no_auth')) {
      // As Redis: an unknown subcommand or a wrong arity is reported before NOAUTH.
      if (resolveSpec(ctx, spec, args) === null) this.multiFailed ||= this.multiQueue !== null;
      else rejectQueued(ctx, errors.noAuth().message, spec);
      return;
    }
    ctx.ticket = 0;
    const replyStart = this.releasedBytes + this.writer.length;
    if (this.multiQueue !== null && !RUN_INSIDE_MULTI.has(spec.name)) {
      const resolved = resolveSpec(ctx, spec, args);
      const refusal = resolved === null ? null : this.clusterRefusal(resolved, args);
      if (resolved === null) {
        this.multiFailed = true;
      } else if (refusal !== null) {
        rejectRouted(ctx, refusal, resolved);
      } else if (this.multiQueue.length >= this.host.api.limits.multiQueuedCommandsMax) {
        rejectQueued(ctx, 'ERR too many commands queued in MULTI');
      } else {
        this.multiQueue.push({ spec: resolved, args });
        this.writer.raw(QUEUED);
      }
    } else {
      const resolved = resolveSpec(ctx, spec, args);
      if (resolved !== null) {
        // Set before running, so CLIENT INFO/LIST show "client|info" for themselves as Redis does.
        this.lastCommandName = resolved.name;
        const refusal = this.clusterRefusal(resolved, args);
        if (refusal === null) runCommand(ctx, resolved, args);
        else rejectRouted(ctx, refusal, resolved);
      }
      this.decoder.authenticationRequired = !this.authenticated;
      if (this.writer.protocol !== this.protocol) this.writer.protocol = this.protocol;
    }
    this.hold(replyStart, ctx.ticket);
    this.latencySpecs.push(spec);
    this.latencyEnds.push(this.releasedBytes + this.writer.length);
    this.latencyStartsMs.push(startedMs);
  }

  /**
   * Cluster mode: why this node does not run the command here (MOVED, CROSSSLOT, CLUSTERDOWN... as
   * an error line), or null to run it. Commands without keys run on any node. EXEC is checked over
   * its whole queue: one slot, routed with write access if any queued command writes.
   */
  private clusterRefusal(spec: CommandSpec, args: Buffer[]): string | null {
    const cluster = this.host.api.cluster;
    if (cluster === null) return null;
    if (spec.name === 'exec') {
      return this.multiQueue === null ? null : transactionRefusal(cluster, this.multiQueue, this.readonlyMode);
    }
    return commandRefusal(cluster, spec, args, this.readonlyMode);
  }

  /** Opens a held segment at `start` when the reply depends on an unacknowledged batch. */
  private hold(start: number, ticket: number): void {
    const engine = this.host.engine;
    if (engine.ticketSatisfied(ticket)) return;
    const count = this.heldTickets.length;
    const last = this.heldTickets[count - 1];
    // A later ticket of the same partition covers an earlier one (seqs and batch ids only grow).
    if (last !== undefined && last >= ticket && ticketPartition(last) === ticketPartition(ticket)) return;
    this.heldStarts.push(start);
    this.heldTickets.push(ticket);
    if (count === 0) this.host.setWaiting(this, true);
  }

  /** Writes every reply not held back by an unacknowledged batch. */
  flushReplies(): void {
    if (this.closing) return;
    const engine = this.host.engine;
    let drop = 0;
    while (drop < this.heldTickets.length && engine.ticketSatisfied(this.heldTickets[drop]!)) drop++;
    if (drop > 0) {
      this.heldTickets.splice(0, drop);
      this.heldStarts.splice(0, drop);
      if (this.heldTickets.length === 0) this.host.setWaiting(this, false);
    }
    const releasableEnd = this.heldStarts.length > 0 ? this.heldStarts[0]! : this.releasedBytes + this.writer.length;
    const byteCount = releasableEnd - this.releasedBytes;
    if (byteCount > 0) {
      const chunks = this.writer.takeUpTo(byteCount);
      this.releasedBytes = releasableEnd;
      if (chunks.length === 1) {
        this.socket.write(chunks[0]!);
      } else {
        this.socket.cork();
        for (const chunk of chunks) this.socket.write(chunk);
        this.socket.uncork();
      }
      this.recordLatencies(releasableEnd);
    }
    if (this.closeAfterReply && this.heldTickets.length === 0 && this.writer.length === 0) {
      this.close(this.protocolErrorPending ? 'protocol' : this.killPending ? 'killed' : 'quit');
      return;
    }
    if (this.paused && this.outputBytes() <= this.host.api.limits.outputBufferPauseBytes) this.resume();
  }

  private recordLatencies(releasedEnd: number): void {
    const nowMs = performance.now();
    let count = 0;
    while (count < this.latencyEnds.length && this.latencyEnds[count]! <= releasedEnd) {
      this.host.observeLatency(this.latencySpecs[count]!, (nowMs - this.latencyStartsMs[count]!) / 1000);
      count++;
    }
    if (count > 0) {
      this.latencySpecs.splice(0, count);
      this.latencyEnds.splice(0, count);
      this.latencyStartsMs.splice(0, count);
    }
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
    this.armStallTimer();
  }

  private resume(): void {
    this.paused = false;
    this.clearStallTimer();
    this.socket.resume();
    // Commands already received but not run while paused.
    this.processCommands();
  }

  /** Bytes the socket has handed to the kernel so far (monotonic; grows only as the client reads). */
  private bytesAcceptedBySocket(): number {
    return this.socket.bytesWritten - this.socket.writableLength;
  }

  private armStallTimer(): void {
    const stallMs = this.host.api.limits.outputBufferStallMs;
    if (stallMs <= 0 || this.stallTimer !== null) return;
    this.stallMarkBytes = this.bytesAcceptedBySocket();
    this.stallTimer = setTimeout(() => this.checkStall(), stallMs);
    this.stallTimer.unref();
  }

  private clearStallTimer(): void {
    if (this.stallTimer === null) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }

  /**
   * Still paused after outputBufferStallMs: disconnect if the socket has replies queued and took
   * none of them since the timer was armed. Replies held only for durability are not the client's
   * doing (the socket has nothing queued then), so they never count as a stall.
   */
  private checkStall(): void {
    this.stallTimer = null;
    if (!this.paused || this.closing) return;
    if (this.socket.writableLength > 0 && this.bytesAcceptedBySocket() === this.stallMarkBytes) {
      this.host.api.stats.outputBufferDisconnects++;
      this.close('output-buffer');
      return;
    }
    this.armStallTimer();
  }

  private onDrain(): void {
    if (this.paused && this.outputBytes() <= this.host.api.limits.outputBufferPauseBytes) this.resume();
  }

  /** Closes the connection. Replies not yet written are dropped. */
  close(reason: CloseReason): void {
    if (this.closing) return;
    this.closing = true;
    if (this.blockTimer !== null) clearTimeout(this.blockTimer);
    this.clearStallTimer();
    this.writer.discard();
    if (this.heldTickets.length > 0) {
      this.heldTickets.length = 0;
      this.heldStarts.length = 0;
      this.host.setWaiting(this, false);
    }
    if (reason === 'quit' || reason === 'protocol' || (reason === 'killed' && this.killPending)) this.socket.end();
    else this.socket.destroy();
    this.host.closed(this, reason);
  }
}

function unknownCommandMessage(args: Buffer[]): string {
  const name = args[0]!.toString('utf8').slice(0, 128);
  // As Redis: arguments are shown until the list reaches 128 characters, each cut to what is left.
  let shown = '';
  for (let i = 1; i < args.length && shown.length < 128; i++) {
    shown += `'${args[i]!.toString('utf8').slice(0, 128 - shown.length)}' `;
  }
  return `ERR unknown command '${name}', with args beginning with: ${shown}`;
}
