/**
 * The storage node process's core: the Redis-protocol TCP server, the engine, active expiry, the
 * admin HTTP server, and orderly shutdown. It implements ServerApi for the command handlers.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { Logger } from 'pino';
import { Engine } from '../engine/engine.js';
import { buildCommandTable } from '../commands/registry.js';
import { Statistics } from '../commands/statistics.js';
import { globMatches } from '../commands/glob.js';
import { CommandError } from '../errors.js';
import type { ClientSession, CommandSpec, ServerApi, ServerStats } from '../commands/types.js';
import type { Limits } from '../limits.js';
import { createAdminApp } from '../admin/http.js';
import { NodeMetrics } from '../admin/metrics.js';
import { Connection, type CloseReason, type ConnectionHost } from './connection.js';
import { ConfigError, type ClusterConfig, type NodeConfig } from './config.js';
import { ClusterNode } from '../cluster/cluster-node.js';
import { renderInfo } from './info.js';
import type { ClusterView } from '../cluster/cluster-view.js';
import { BALLAST_VERSION } from '../version.js';

/** The Redis version we answer as (HELLO, INFO redis_version): the command set we follow. */
export const REDIS_COMPATIBLE_VERSION = '7.2.0';
export { BALLAST_VERSION };

const SHUTDOWN_DRAIN_MS = 10_000;
/** How long a graceful stop waits for this node's partitions to be handed off (cluster mode). */
const SHUTDOWN_HANDOFF_MS = 10_000;
/** After the drain, how long sockets still sending their last replies get before they are cut. */
const SHUTDOWN_SOCKET_LINGER_MS = 2_000;
/** A refused connection (maxclients) is cut this long after its error line, whatever the peer does. */
const REJECTED_SOCKET_LINGER_MS = 1_000;
const NODE_ID_META = 'node-id';
const CLUSTER_JOINING_ERROR = Buffer.from('-CLUSTERDOWN The node is joining the cluster; retry shortly\r\n');
const MAXCLIENTS_ERROR = Buffer.from('-ERR max number of clients reached\r\n');

/** What a storage node is started with besides its configuration. */
export interface StorageServerOptions {
  /**
   * The cluster this node serves in (the replication layer implements it). Absent or null: a
   * standalone node, whose CLUSTER, READONLY, READWRITE and ASKING answer as a redis-server without
   * cluster support.
   */
  cluster?: ClusterView | null;
}

export class StorageServer implements ServerApi, ConnectionHost {
  readonly api: ServerApi = this;
  readonly engine: Engine;
  readonly limits: Limits;
  readonly startedMs = Date.now();
  readonly version = REDIS_COMPATIBLE_VERSION;
  readonly runId = randomBytes(20).toString('hex');
  readonly statistics = new Statistics();
  readonly stats: ServerStats = {
    connectionsReceived: 0,
    connectionsRejected: 0,
    commandsProcessed: 0,
    expiredKeys: 0,
    keyspaceHits: 0,
    keyspaceMisses: 0,
    errorReplies: 0,
    protocolErrors: 0,
    outputBufferDisconnects: 0,
    idleDisconnects: 0,
    lastCommitUnixMs: 0,
  };
  readonly requirePassword: string | null;
  cluster: ClusterView | null;
  /** Cluster mode: this node's membership (null while joining, and for standalone or fake views). */
  clusterNode: ClusterNode | null = null;
  private readonly clusterMode: boolean;
  readonly metrics: NodeMetrics;
  private readonly commandTable: Map<string, CommandSpec>;
  /** Case-preserving aliases seen on the wire ("GET", "Get") → spec, to skip lower-casing. */
  private readonly commandAliases = new Map<string, CommandSpec>();
  private readonly connections = new Map<number, Connection>();
  /**
   * Every client socket not yet closed, including ones no longer in `connections` (ending after
   * QUIT or a shutdown drain, or refused at maxclients): shutdown waits for them, then cuts them,
   * so a peer that never closes its side cannot hold the process open.
   */
  private readonly sockets = new Set<Socket>();
  private readonly waiting = new Set<Connection>();
  private readonly watchers = new Map<string, Set<ClientSession>>();
  private readonly disconnects = new Map<string, number>();
  private nextClientId = 1;
  private tcpServer: TcpServer | null = null;
  private adminServer: HttpServer | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private shuttingDown = false;
  tcpPort = 0;
  adminPort = 0;

  private constructor(
    readonly config: NodeConfig,
    readonly log: Logger,
    options: StorageServerOptions,
  ) {
    this.limits = { ...config.limits };
    this.requirePassword = config.requirePassword;
    this.cluster = options.cluster ?? null;
    this.clusterMode = this.cluster !== null || config.cluster !== null;
    mkdirSync(config.dataDir, { recursive: true });
    this.engine = Engine.open({
      path: config.dataDir,
      durability: config.durability,
      partitionCount: config.partitionCount,
      cacheBytes: config.cacheBytes,
      ...(config.cluster === null ? {} : { replicationLogEntries: config.cluster.replicationLogEntries }),
      onFatal: (error) => this.fatal(error),
    });
    this.commandTable = buildCommandTable();
    this.metrics = new NodeMetrics({
      engine: this.engine,
      stats: this.stats,
      statistics: this.statistics,
      connectedClients: () => this.connections.size,
      clientsMax: () => this.limits.clientsMax,
      disconnects: this.disconnects,
      ...(config.cluster === null
        ? {}
        : {
            historyDiverged: () => this.clusterNode?.diverged != null,
            rebalance: () => this.clusterNode?.rebalanceFigures() ?? null,
            cluster: () => this.clusterNode?.clusterFigures() ?? null,
          }),
    });
    this.engine.onAcknowledged(() => this.releaseWaiting());
    this.engine.onCommit((durationMs, records) => {
      this.stats.lastCommitUnixMs = Date.now();
      this.metrics.observeCommit(durationMs, records);
    });
  }

  /** Opens the data directory and starts listening; resolves when both ports accept connections. */
  static async start(config: NodeConfig, log: Logger, options: StorageServerOptions = {}): Promise<StorageServer> {
    const server = new StorageServer(config, log, options);
    await server.listen();
    return server;
  }

  private async listen(): Promise<void> {
    const tcpServer = createServer((socket) => this.accept(socket));
    this.tcpServer = tcpServer;
    await new Promise<void>((resolve, reject) => {
      tcpServer.once('error', reject);
      tcpServer.listen({ port: this.config.port, host: this.config.bind, backlog: 4096 }, () => resolve());
    });
    this.tcpPort = (tcpServer.address() as AddressInfo).port;
    const app = createAdminApp({
      registry: this.metrics.registry,
      readiness: () => this.readiness(),
      nodeState: () => this.nodeState(),
      log: this.log,
      ...(this.config.cluster === null
        ? {}
        : { cluster: { token: this.config.cluster.token, node: () => this.clusterNode } }),
    });
    await new Promise<void>((resolve, reject) => {
      const adminServer = app.listen(this.config.adminPort, this.config.adminBind, () => resolve());
      adminServer.once('error', reject);
      this.adminServer = adminServer;
    });
    this.adminPort = (this.adminServer!.address() as AddressInfo).port;
    if (this.config.cluster !== null) await this.joinCluster(this.config.cluster);
    this.scheduleActiveExpiry();
    this.log.info(
      {
        port: this.tcpPort,
        adminPort: this.adminPort,
        dataDir: this.config.dataDir,
        durability: this.config.durability,
        partitions: this.engine.partitionCount,
        keys: this.engine.keyCount(),
        startupMs: Date.now() - this.startedMs,
      },
      'ballast-node ready',
    );
  }

  /** Cluster mode: resolves this node's persisted id and joins through the ClusterMap store. */
  private async joinCluster(cluster: ClusterConfig): Promise<void> {
    const stored = this.engine.getMeta(NODE_ID_META)?.toString('utf8');
    if (stored !== undefined && cluster.nodeId !== null && stored !== cluster.nodeId) {
      throw new ConfigError(
        `data directory ${this.config.dataDir} belongs to node '${stored}', not '${cluster.nodeId}': start it with --node-id ${stored}, or use an empty data directory`,
      );
    }
    const nodeId = stored ?? cluster.nodeId ?? `node-${randomBytes(4).toString('hex')}`;
    if (stored === undefined) this.engine.putMeta(NODE_ID_META, Buffer.from(nodeId, 'utf8'));
    const node = await ClusterNode.start({
      nodeId,
      storeUrl: cluster.storeUrl,
      token: cluster.token,
      clusterId: cluster.clusterId,
      address: {
        host: cluster.advertiseHost,
        port: this.tcpPort,
        peerPort: cluster.peerPort,
        adminPort: this.adminPort,
        ...(cluster.zone === null ? {} : { zone: cluster.zone }),
      },
      peerBind: cluster.peerBind,
      engine: this.engine,
      log: this.log.child({ component: 'cluster' }),
      rebalanceLimits: { bytesPerSecond: cluster.rebalanceBytesPerSecond, concurrentMoves: cluster.rebalanceConcurrency },
    });
    node.onMoveStreamed((_stream, seconds) => this.metrics.observeMove(seconds));
    node.onCommit(() => this.releaseWaiting());
    node.onLeadershipLost((partition) => {
      // Replies owed for writes of a partition this node no longer leads will never be confirmed:
      // close those connections so their clients see an error, not a hang or a false +OK.
      for (const connection of [...this.connections.values()]) {
        if (connection.waitsOnPartition(partition)) connection.close('error');
      }
    });
    this.clusterNode = node;
    this.cluster = node;
  }

  private accept(socket: Socket): void {
    if (this.shuttingDown) {
      socket.destroy();
      return;
    }
    if (this.clusterMode && this.cluster === null) {
      refuse(socket, CLUSTER_JOINING_ERROR);
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.connections.size >= this.limits.clientsMax) {
      this.stats.connectionsRejected++;
      refuse(socket, MAXCLIENTS_ERROR);
      return;
    }
    this.stats.connectionsReceived++;
    const id = this.nextClientId++;
    this.connections.set(id, new Connection(id, socket, this, Date.now()));
  }

  lookupCommand(name: Buffer): CommandSpec | undefined {
    if (name.length > 32) return undefined;
    const raw = name.toString('latin1', 0, name.length);
    const alias = this.commandAliases.get(raw);
    if (alias !== undefined) return alias;
    const spec = this.commandTable.get(raw.toLowerCase());
    if (spec !== undefined && this.commandAliases.size < 4096) this.commandAliases.set(raw, spec);
    return spec;
  }

  random(): number {
    return Math.random();
  }

  setWaiting(connection: Connection, waiting: boolean): void {
    if (waiting) this.waiting.add(connection);
    else this.waiting.delete(connection);
  }

  private releaseWaiting(): void {
    for (const connection of [...this.waiting]) connection.flushReplies();
  }

  closed(connection: Connection, reason: CloseReason): void {
    this.connections.delete(connection.id);
    this.unwatchAll(connection);
    this.waiting.delete(connection);
    if (reason === 'idle') this.stats.idleDisconnects++;
    this.disconnects.set(reason, (this.disconnects.get(reason) ?? 0) + 1);
  }

  observeLatency(spec: CommandSpec, seconds: number): void {
    this.metrics.observeCommand(spec, seconds);
  }

  // --- ServerApi ---------------------------------------------------------------------------

  commands(): Iterable<CommandSpec> {
    return this.commandTable.values();
  }

  findCommand(name: string): CommandSpec | undefined {
    return this.commandTable.get(name.toLowerCase());
  }

  clients(): Iterable<ClientSession> {
    return this.connections.values();
  }

  killClient(client: ClientSession): void {
    this.connections.get(client.id)?.kill();
  }

  keyTouched(overlayKey: string): void {
    if (this.watchers.size === 0) return;
    const clients = this.watchers.get(overlayKey);
    if (clients === undefined) return;
    for (const client of clients) client.watchDirty = true;
  }

  allKeysTouched(): void {
    for (const clients of this.watchers.values()) for (const client of clients) client.watchDirty = true;
  }

  watch(client: ClientSession, overlayKey: string): void {
    let clients = this.watchers.get(overlayKey);
    if (clients === undefined) {
      clients = new Set();
      this.watchers.set(overlayKey, clients);
    }
    clients.add(client);
    client.watchedKeys.add(overlayKey);
  }

  unwatchAll(client: ClientSession): void {
    for (const key of client.watchedKeys) {
      const clients = this.watchers.get(key);
      clients?.delete(client);
      if (clients?.size === 0) this.watchers.delete(key);
    }
    client.watchedKeys.clear();
    client.watchDirty = false;
  }

  private configTable(): Array<[string, string]> {
    const limits = this.limits;
    return [
      ['port', String(this.tcpPort)],
      ['bind', this.config.bind],
      ['dir', this.config.dataDir],
      ['databases', '1'],
      ['maxclients', String(limits.clientsMax)],
      ['timeout', String(Math.floor(limits.idleTimeoutMs / 1000))],
      ['requirepass', this.requirePassword === null ? '' : '********'],
      ['save', ''],
      ['appendonly', 'no'],
      ['appendfsync', this.config.durability === 'sync' ? 'always' : 'everysec'],
      ['maxmemory', '0'],
      ['maxmemory-policy', 'noeviction'],
      ['proto-max-bulk-len', String(limits.bulkBytesMax)],
      ['client-query-buffer-limit', String(limits.queryBufferBytesMax)],
      ['client-output-buffer-limit', `normal ${limits.outputBufferBytesMax} 0 0 slave 0 0 0 pubsub 0 0 0`],
      ['cluster-enabled', this.cluster === null ? 'no' : 'yes'],
      ['hz', '10'],
      ['notify-keyspace-events', ''],
      ['slowlog-log-slower-than', '-1'],
      ['slowlog-max-len', '0'],
      ['ballast-durability', this.config.durability],
      ['ballast-partitions', String(this.engine.partitionCount)],
    ];
  }

  configGet(pattern: Buffer): Array<[string, string]> {
    const lowered = Buffer.from(pattern.toString('latin1').toLowerCase(), 'latin1');
    return this.configTable().filter(([name]) => globMatches(lowered, Buffer.from(name)));
  }

  configSet(name: string, value: string): void {
    const whole = (min: number, max: number): number => {
      if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
        throw new CommandError('CONFIG_SET', `ERR CONFIG SET failed (possibly related to argument '${name}') - argument couldn't be parsed into an integer`);
      }
      return Number(value);
    };
    switch (name) {
      case 'timeout':
        this.limits.idleTimeoutMs = whole(0, 365 * 24 * 3600) * 1000;
        for (const connection of this.connections.values()) connection.setIdleTimeout(this.limits.idleTimeoutMs);
        return;
      case 'maxclients':
        this.limits.clientsMax = whole(1, 1_000_000);
        return;
      case 'proto-max-bulk-len':
        this.limits.bulkBytesMax = whole(1024, 2 ** 31);
        return;
      default:
        throw new CommandError('CONFIG_SET', `ERR Unknown option or number of arguments for CONFIG SET - '${name}'`);
    }
  }

  resetStats(): void {
    this.statistics.reset();
    for (const key of Object.keys(this.stats) as Array<keyof ServerStats>) {
      if (key !== 'lastCommitUnixMs') this.stats[key] = 0;
    }
  }

  info(section: string | null, nowMs: number): string {
    return renderInfo(
      {
        version: this.version,
        ballastVersion: BALLAST_VERSION,
        runId: this.runId,
        tcpPort: this.tcpPort,
        startedMs: this.startedMs,
        durability: this.config.durability,
        dataDir: this.config.dataDir,
        partitionCount: this.engine.partitionCount,
        connectedClients: this.connections.size,
        clientsMax: this.limits.clientsMax,
        blockedClients: this.waiting.size,
        engine: this.engine,
        stats: this.stats,
        statistics: this.statistics,
        clusterEnabled: this.cluster !== null,
      },
      section,
      nowMs,
    );
  }

  // --- Active expiry --------------------------------------------------------------------------

  private scheduleActiveExpiry(): void {
    this.expiryTimer = setInterval(() => this.activeExpireCycle(), this.limits.activeExpireIntervalMs);
    this.expiryTimer.unref();
  }

  /** Removes expired keys, at most `activeExpireKeysPerTick` per tick, repeating while behind. */
  private activeExpireCycle(): void {
    if (this.shuttingDown) return;
    const { removed, refs } = this.engine.removeExpired(Date.now(), this.limits.activeExpireKeysPerTick);
    this.stats.expiredKeys += removed;
    for (const ref of refs) this.keyTouched(ref.overlayKey);
    if (removed >= this.limits.activeExpireKeysPerTick) setImmediate(() => this.activeExpireCycle());
  }

  // --- Admin ------------------------------------------------------------------------------------

  private readiness(): { ready: boolean; reason: string } {
    if (this.shuttingDown) return { ready: false, reason: 'shutting down' };
    if (this.tcpServer === null || !this.tcpServer.listening) return { ready: false, reason: 'not listening' };
    if (this.clusterMode && this.cluster === null) return { ready: false, reason: 'joining the cluster' };
    if (this.clusterNode?.diverged != null) return { ready: false, reason: this.clusterNode.diverged };
    return { ready: true, reason: 'ready' };
  }

  nodeState(): Record<string, unknown> {
    const engineStats = this.engine.stats();
    return {
      version: BALLAST_VERSION,
      redisVersion: this.version,
      mode: this.cluster === null ? 'standalone' : 'cluster',
      state: this.shuttingDown ? 'SHUTTING_DOWN' : 'SERVING',
      port: this.tcpPort,
      adminPort: this.adminPort,
      pid: process.pid,
      uptimeSeconds: Math.floor((Date.now() - this.startedMs) / 1000),
      dataDir: this.config.dataDir,
      durability: this.config.durability,
      partitions: this.engine.partitionCount,
      keys: this.engine.keyCount(),
      keysWithExpiry: this.engine.keysWithExpiryCount(),
      clients: { connected: this.connections.size, max: this.limits.clientsMax, waitingForDurability: this.waiting.size },
      engine: { ...engineStats },
      memory: process.memoryUsage(),
    };
  }

  // --- Lifecycle --------------------------------------------------------------------------------

  private fatal(error: Error): void {
    this.log.fatal({ err: error }, 'storage engine failed; exiting so that a restart recovers from disk');
    process.exit(70);
  }

  /**
   * Graceful shutdown: in a cluster, first hand off every partition this node leads (up to 10 s;
   * clients meanwhile get MOVED to the new primaries); then stop accepting, stop reading requests,
   * let replies already owed be released once their writes are durable (up to 10 s), and close
   * clients, the admin port and LMDB.
   */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    if (this.clusterNode !== null) {
      const result = await this.clusterNode.stepDown(SHUTDOWN_HANDOFF_MS);
      if (result.stillLeading > 0) this.log.warn(result, 'stepping down: some partitions were not handed off (no caught-up replica); they fail over');
      else this.log.info(result, 'stepped down: every partition handed off');
    }
    this.log.info({ clients: this.connections.size }, 'shutting down');
    if (this.expiryTimer !== null) clearInterval(this.expiryTimer);
    const tcpClosed = new Promise<void>((resolve) => this.tcpServer?.close(() => resolve()) ?? resolve());
    for (const connection of [...this.connections.values()]) connection.stopReading();
    const deadline = Date.now() + SHUTDOWN_DRAIN_MS;
    while (this.waiting.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (const connection of [...this.connections.values()]) connection.close('shutdown');
    // Connections that closed after their last reply may still be sending it; give them a moment.
    const lingerDeadline = Date.now() + SHUTDOWN_SOCKET_LINGER_MS;
    while (this.sockets.size > 0 && Date.now() < lingerDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const socket of [...this.sockets]) socket.destroy();
    await tcpClosed;
    await new Promise<void>((resolve) => {
      if (this.adminServer === null) resolve();
      else {
        this.adminServer.closeAllConnections();
        this.adminServer.close(() => resolve());
      }
    });
    await this.clusterNode?.stop();
    await this.engine.close();
    this.log.info('shutdown complete');
  }
}

/**
 * Answers a connection that is not served (maxclients, a node still joining) with one error line
 * and closes it. Whatever the client sends is discarded and its side of the connection is not
 * waited for: a refused socket left half-open would hold the listener's close (and so a graceful
 * shutdown) forever, and a flood of them would hold sockets past maxclients.
 */
function refuse(socket: Socket, error: Buffer): void {
  socket.on('error', () => socket.destroy());
  socket.resume();
  socket.end(error);
  setTimeout(() => socket.destroy(), REJECTED_SOCKET_LINGER_MS).unref();
}
