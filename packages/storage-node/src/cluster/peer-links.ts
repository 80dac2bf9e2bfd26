/**
 * Peer links: one WebSocket (`ws`) connection per node pair, authenticated by the cluster token,
 * carrying batches of messages encoded with msgpackr. The node whose id sorts first dials; the
 * other accepts. Messages queued during one event-loop turn leave as one frame. A link that stops
 * answering pings is closed and dialled again with back-off.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Packr } from 'msgpackr';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

export interface PeerAddress {
  host: string;
  peerPort: number;
}

export interface PeerLinksOptions {
  nodeId: string;
  clusterId: string;
  token: string;
  bind: string;
  port: number;
  /** Where a peer can be reached now (from the ClusterMap or presence). */
  resolve(nodeId: string): PeerAddress | null;
  onMessage(from: string, message: unknown): void;
  onConnected(peer: string): void;
  onDisconnected(peer: string): void;
  log: { info(object: object, message: string): void; warn(object: object, message: string): void };
}

const PING_INTERVAL_MS = 1000;
/** A link with no pong for this long is considered dead. */
const PONG_TIMEOUT_MS = 3000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2000;
/** Largest frame accepted from a peer (a snapshot chunk or a batch of entries). */
const FRAME_BYTES_MAX = 256 * 1024 * 1024;

interface Link {
  socket: WebSocket;
  queue: unknown[];
  flushScheduled: boolean;
  lastPongMs: number;
}

export class PeerLinks {
  private readonly packr = new Packr({ useRecords: false, moreTypes: false });
  private server: WebSocketServer | null = null;
  private readonly links = new Map<string, Link>();
  /** Peers this node dials (its id sorts first), with their back-off state. */
  private readonly dialing = new Map<string, { timer: NodeJS.Timeout | null; delayMs: number; socket: WebSocket | null }>();
  private pingTimer: NodeJS.Timeout | null = null;
  private closed = false;
  port = 0;
  /** Traffic counters (metrics). */
  readonly traffic = { framesSent: 0, messagesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0 };

  constructor(private readonly options: PeerLinksOptions) {}

  async start(): Promise<void> {
    const server = new WebSocketServer({
      host: this.options.bind,
      port: this.options.port,
      maxPayload: FRAME_BYTES_MAX,
      verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, code?: number, message?: string) => void) => {
        const problem = this.checkHandshake(info.req);
        if (problem === null) done(true);
        else done(false, 401, problem);
      },
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('listening', () => resolve());
      server.once('error', reject);
    });
    const address = server.address();
    this.port = typeof address === 'object' && address !== null ? address.port : this.options.port;
    server.on('connection', (socket, request) => {
      const peer = String(request.headers['x-ballast-node']);
      this.adopt(peer, socket);
    });
    this.pingTimer = setInterval(() => this.pingAll(), PING_INTERVAL_MS);
    this.pingTimer.unref();
  }

  /** Keeps outbound links to these peers (those this node dials) and drops the others. */
  setPeers(peers: Iterable<string>): void {
    const wanted = new Set([...peers].filter((peer) => peer !== this.options.nodeId && this.options.nodeId < peer));
    for (const peer of wanted) if (!this.dialing.has(peer)) {
      this.dialing.set(peer, { timer: null, delayMs: RECONNECT_MIN_MS, socket: null });
      this.dial(peer);
    }
    for (const [peer, state] of this.dialing) {
      if (wanted.has(peer)) continue;
      if (state.timer !== null) clearTimeout(state.timer);
      state.socket?.terminate();
      this.dialing.delete(peer);
    }
  }

  isConnected(peer: string): boolean {
    return this.links.has(peer);
  }

  connectedPeers(): string[] {
    return [...this.links.keys()];
  }

  /** Queues a message for a peer; it leaves with the others queued this turn. Dropped if no link. */
  send(peer: string, message: unknown): void {
    const link = this.links.get(peer);
    if (link === undefined) return;
    link.queue.push(message);
    if (!link.flushScheduled) {
      link.flushScheduled = true;
      setImmediate(() => this.flush(peer, link));
    }
  }

  /** Sends every queued message now (the caller finished a burst of sends). */
  flushAll(): void {
    for (const [peer, link] of this.links) if (link.queue.length > 0) this.flush(peer, link);
  }

  /** Bytes queued in the kernel/ws for a peer (for back-pressure of snapshot streams). */
  bufferedBytes(peer: string): number {
    return this.links.get(peer)?.socket.bufferedAmount ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    for (const state of this.dialing.values()) {
      if (state.timer !== null) clearTimeout(state.timer);
      state.socket?.terminate();
    }
    this.dialing.clear();
    for (const link of this.links.values()) link.socket.terminate();
    this.links.clear();
    await new Promise<void>((resolve) => (this.server === null ? resolve() : this.server.close(() => resolve())));
  }

  private checkHandshake(request: IncomingMessage): string | null {
    const peer = request.headers['x-ballast-node'];
    if (typeof peer !== 'string' || peer === '' || peer === this.options.nodeId) return 'missing or invalid x-ballast-node';
    if (request.headers['x-ballast-cluster'] !== this.options.clusterId) return 'wrong cluster';
    const given = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!tokensMatch(this.options.token, given)) return 'bad token';
    return null;
  }

  private dial(peer: string): void {
    const state = this.dialing.get(peer);
    if (state === undefined || this.closed) return;
    const address = this.options.resolve(peer);
    if (address === null) {
      state.timer = setTimeout(() => this.dial(peer), RECONNECT_MAX_MS);
      return;
    }
    const socket = new WebSocket(`ws://${address.host}:${address.peerPort}/peer`, {
      headers: {
        authorization: `Bearer ${this.options.token}`,
        'x-ballast-node': this.options.nodeId,
        'x-ballast-cluster': this.options.clusterId,
      },
      maxPayload: FRAME_BYTES_MAX,
      handshakeTimeout: 3000,
      // A zero masking key: ws then skips XOR-ing every byte on both ends (it has no native
      // bufferutil here). Masking protects HTTP intermediaries from payloads crafted by browser
      // scripts; a peer link is node-to-node, authenticated, and never carries browser traffic.
      generateMask: (mask: Buffer) => mask.fill(0),
    });
    state.socket = socket;
    socket.once('open', () => {
      state.delayMs = RECONNECT_MIN_MS;
      this.adopt(peer, socket);
    });
    const retry = (): void => {
      if (state.socket !== socket) return;
      state.socket = null;
      if (this.closed || !this.dialing.has(peer)) return;
      state.timer = setTimeout(() => this.dial(peer), state.delayMs);
      state.delayMs = Math.min(RECONNECT_MAX_MS, state.delayMs * 2);
    };
    socket.once('close', retry);
    socket.once('error', () => socket.terminate());
  }

  private adopt(peer: string, socket: WebSocket): void {
    const previous = this.links.get(peer);
    if (previous !== undefined && previous.socket !== socket) {
      this.links.delete(peer);
      previous.socket.terminate();
      this.options.onDisconnected(peer);
    }
    const link: Link = { socket, queue: [], flushScheduled: false, lastPongMs: Date.now() };
    this.links.set(peer, link);
    socket.on('pong', () => (link.lastPongMs = Date.now()));
    socket.on('message', (data: RawData) => this.receive(peer, link, data));
    socket.once('close', () => {
      if (this.links.get(peer) === link) {
        this.links.delete(peer);
        this.options.onDisconnected(peer);
      }
    });
    socket.on('error', (error: Error) => {
      this.options.log.warn({ peer, err: error.message }, 'peer link error');
      socket.terminate();
    });
    this.options.log.info({ peer }, 'peer link up');
    this.options.onConnected(peer);
  }

  private receive(peer: string, link: Link, data: RawData): void {
    if (this.links.get(peer) !== link) return;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    this.traffic.framesReceived++;
    this.traffic.bytesReceived += bytes.length;
    let messages: unknown;
    try {
      messages = this.packr.unpack(bytes);
    } catch (error) {
      this.options.log.warn({ peer, err: (error as Error).message }, 'undecodable peer frame; closing the link');
      link.socket.terminate();
      return;
    }
    if (!Array.isArray(messages)) {
      link.socket.terminate();
      return;
    }
    for (const message of messages) this.options.onMessage(peer, message);
  }

  private flush(peer: string, link: Link): void {
    link.flushScheduled = false;
    if (this.links.get(peer) !== link || link.queue.length === 0) return;
    const batch = link.queue;
    link.queue = [];
    const frame = this.packr.pack(batch);
    this.traffic.framesSent++;
    this.traffic.messagesSent += batch.length;
    this.traffic.bytesSent += frame.length;
    link.socket.send(frame);
  }

  private pingAll(): void {
    const now = Date.now();
    for (const [peer, link] of this.links) {
      if (now - link.lastPongMs > PONG_TIMEOUT_MS) {
        this.options.log.warn({ peer }, 'peer link silent; closing it');
        link.socket.terminate();
        continue;
      }
      link.socket.ping();
    }
  }
}

function tokensMatch(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}
