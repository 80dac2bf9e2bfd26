/**
 * Prometheus metrics (prom-client), one registry per node. Hot-path counters live in plain objects
 * (ServerStats, Statistics) and are copied into prom-client at scrape time; only histograms are
 * observed directly, through per-label children bound once.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine } from '../engine/engine.js';
import type { Statistics } from '../commands/statistics.js';
import type { CommandSpec, ServerStats } from '../commands/types.js';
import { BALLAST_VERSION } from '../version.js';
import { registerClusterMetrics, type ClusterFigures } from './cluster-metrics.js';
import { FastHistogram } from './fast-histogram.js';

export interface MetricsSources {
  engine: Engine;
  stats: ServerStats;
  statistics: Statistics;
  connectedClients(): number;
  clientsMax(): number;
  disconnects: Map<string, number>;
  /** Cluster mode: whether this node's activation history diverged from the cluster's (it is refused). */
  historyDiverged?: () => boolean;
  /** Cluster mode: rebalance figures of this node (null while it is joining). */
  rebalance?: () => RebalanceFigures | null;
  /** Cluster mode: this node's membership figures (null while it is joining). */
  cluster?: () => ClusterFigures | null;
}

export interface RebalanceFigures {
  /** Partitions of the cluster moving now (from the map), and snapshot streams queued on this node. */
  partitionsMoving: number;
  streamsActive: number;
  streamsQueued: number;
  /** Totals since this process started. */
  snapshotBytesSent: number;
  learnerLogBytesSent: number;
  throttleWaitSeconds: number;
  partitionsDropped: number;
  limitBytesPerSecond: number;
}

/**
 * Error prefixes (lower-cased) of requests refused for routing, availability or authentication,
 * exported by ballast_rejected_requests_total. ASK and NOREPLICAS are Redis's; this version never
 * sends them (moves redirect by MOVED once complete; WAIT/WAITALL answer counts), so they stay 0.
 */
const REJECTED_REQUEST_REASONS = ['moved', 'ask', 'tryagain', 'clusterdown', 'crossslot', 'readonly', 'noauth', 'noreplicas'] as const;

const LATENCY_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const COMMIT_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly commandLatency: FastHistogram;
  private readonly latencyChildren = new Map<string, { observe(value: number): void }>();
  private readonly commitLatency: Histogram;
  private readonly commitRecords: Histogram;
  private moveDuration: Histogram | null = null;

  observeMove(seconds: number): void {
    this.moveDuration?.observe(seconds);
  }

  constructor(sources: MetricsSources) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry });
    new Counter({
      name: 'ballast_commands_total',
      help: 'Commands processed, by command and result (ok, error = the command replied an error, rejected = refused before running: arity, unknown subcommand)',
      labelNames: ['command', 'result'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [command, counts] of sources.statistics.commands) {
          this.inc({ command, result: 'ok' }, counts.calls - counts.failedCalls);
          if (counts.failedCalls > 0) this.inc({ command, result: 'error' }, counts.failedCalls);
          if (counts.rejectedCalls > 0) this.inc({ command, result: 'rejected' }, counts.rejectedCalls);
        }
      },
    });
    new Counter({
      name: 'ballast_error_replies_total',
      help: 'Error replies sent, by error prefix (ERR, WRONGTYPE, NOAUTH...)',
      labelNames: ['prefix'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [prefix, count] of sources.statistics.errors) this.inc({ prefix }, count);
      },
    });
    new Counter({
      name: 'ballast_rejected_requests_total',
      help: 'Requests refused with a routing, availability or authentication error, by reason (the lower-cased error prefix: moved, ask, tryagain, clusterdown, crossslot, readonly, noauth, noreplicas); connections refused at maxclients are ballast_rejected_connections_total',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const reason of REJECTED_REQUEST_REASONS) this.inc({ reason }, sources.statistics.errors.get(reason.toUpperCase()) ?? 0);
      },
    });
    this.commandLatency = new FastHistogram(
      'ballast_command_duration_seconds',
      'Time from receiving a command to releasing its reply (includes waiting for durability)',
      'command',
      LATENCY_BUCKETS_SECONDS,
      registry,
    );
    new Gauge({
      name: 'ballast_connected_clients',
      help: 'Client connections open now',
      registers: [registry],
      collect() {
        this.set(sources.connectedClients());
      },
    });
    new Gauge({
      name: 'ballast_max_clients',
      help: 'Configured maximum of client connections',
      registers: [registry],
      collect() {
        this.set(sources.clientsMax());
      },
    });
    new Counter({
      name: 'ballast_connections_received_total',
      help: 'Client connections accepted',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(sources.stats.connectionsReceived);
      },
    });
    new Counter({
      name: 'ballast_rejected_connections_total',
      help: 'Client connections refused because maxclients was reached',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(sources.stats.connectionsRejected);
      },
    });
    new Counter({
      name: 'ballast_client_disconnects_total',
      help: 'Client connections closed, by reason (client, quit, killed, protocol, output-buffer, idle, query-buffer, shutdown, error)',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [reason, count] of sources.disconnects) this.inc({ reason }, count);
      },
    });
    new Counter({
      name: 'ballast_protocol_errors_total',
      help: 'Malformed requests (the connection was closed)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(sources.stats.protocolErrors);
      },
    });
    new Gauge({
      name: 'ballast_keys',
      help: 'Keys stored (including expired keys not yet removed)',
      registers: [registry],
      collect() {
        this.set(sources.engine.keyCount());
      },
    });
    new Gauge({
      name: 'ballast_keys_with_expiry',
      help: 'Keys that have an expiry time',
      registers: [registry],
      collect() {
        this.set(sources.engine.keysWithExpiryCount());
      },
    });
    new Counter({
      name: 'ballast_expired_keys_total',
      help: 'Keys removed because their expiry time passed',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(sources.stats.expiredKeys);
      },
    });
    new Counter({
      name: 'ballast_keyspace_lookups_total',
      help: 'Key lookups by commands that read values, by result (hit, miss)',
      labelNames: ['result'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ result: 'hit' }, sources.stats.keyspaceHits);
        this.inc({ result: 'miss' }, sources.stats.keyspaceMisses);
      },
    });
    new Gauge({
      name: 'ballast_storage_bytes',
      help: 'Bytes of the LMDB data file in use: B+tree pages (data, expiries, meta, replication log, LMDB\'s own trees) × page size, from LMDB\'s statistics; free pages awaiting reuse are not counted, the file is at least this large',
      registers: [registry],
      collect() {
        this.set(sources.engine.storageBytes());
      },
    });
    new Gauge({
      name: 'ballast_build_info',
      help: 'Always 1; the version label is this ballast-node\'s version',
      labelNames: ['version'],
      registers: [registry],
    }).set({ version: BALLAST_VERSION }, 1);
    new Gauge({
      name: 'ballast_pending_writes',
      help: 'Writes applied in memory and not yet acknowledged by the storage engine',
      registers: [registry],
      collect() {
        this.set(sources.engine.stats().overlayEntries);
      },
    });
    const historyDiverged = sources.historyDiverged;
    if (historyDiverged !== undefined) {
      new Gauge({
        name: 'ballast_cluster_history_diverged',
        help: '1 when this node was activated in another cluster (its activation history diverged from the cluster map): it is refused and serves nothing; wipe its data directory to join',
        registers: [registry],
        collect() {
          this.set(historyDiverged() ? 1 : 0);
        },
      });
    }
    const rebalance = sources.rebalance;
    if (rebalance !== undefined) {
      const gauge = (name: string, help: string, read: (figures: RebalanceFigures) => number): void => {
        new Gauge({
          name,
          help,
          registers: [registry],
          collect() {
            const figures = rebalance();
            if (figures !== null) this.set(read(figures));
          },
        });
      };
      const counter = (name: string, help: string, read: (figures: RebalanceFigures) => number, labels: Record<string, string> = {}): void => {
        new Counter({
          name,
          help,
          labelNames: Object.keys(labels),
          registers: [registry],
          collect() {
            const figures = rebalance();
            if (figures === null) return;
            this.reset();
            this.inc(labels, read(figures));
          },
        });
      };
      gauge('ballast_rebalance_partitions_moving', 'Partitions of the cluster moving to new replicas (baseline change in progress), as this node\'s map shows', (f) => f.partitionsMoving);
      gauge('ballast_rebalance_streams_active', 'Partition snapshots this node is sending now', (f) => f.streamsActive);
      gauge('ballast_rebalance_streams_pending', 'Partition snapshots waiting for a free slot on this node (concurrentMoves)', (f) => f.streamsQueued);
      gauge('ballast_rebalance_throttle_bytes_per_second', 'Snapshot bytes per second this node may send (0: unlimited)', (f) => f.limitBytesPerSecond);
      new Counter({
        name: 'ballast_rebalance_bytes_sent_total',
        help: 'Bytes this node sent to new or returning replicas: partition snapshots (kind=snapshot) and log entries to learners of moving partitions (kind=log)',
        labelNames: ['kind'],
        registers: [registry],
        collect() {
          const figures = rebalance();
          if (figures === null) return;
          this.reset();
          this.inc({ kind: 'snapshot' }, figures.snapshotBytesSent);
          this.inc({ kind: 'log' }, figures.learnerLogBytesSent);
        },
      });
      counter('ballast_rebalance_throttle_wait_seconds_total', 'Time snapshot streams waited for the bytes-per-second throttle', (f) => f.throttleWaitSeconds);
      counter('ballast_rebalance_partitions_dropped_total', 'Local partition copies deleted after their move completed', (f) => f.partitionsDropped);
      this.moveDuration = new Histogram({
        name: 'ballast_rebalance_move_duration_seconds',
        help: 'Time to stream one partition snapshot to a new or returning replica',
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
        registers: [registry],
      });
    }
    if (sources.cluster !== undefined) registerClusterMetrics(registry, sources.cluster);
    this.commitLatency = new Histogram({
      name: 'ballast_persistence_commit_duration_seconds',
      help: 'Time to commit one write batch to LMDB (from hand-off to visible)',
      buckets: COMMIT_BUCKETS_SECONDS,
      registers: [registry],
    });
    this.commitRecords = new Histogram({
      name: 'ballast_persistence_commit_records',
      help: 'Records written per LMDB commit (group commit batch size)',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 20000],
      registers: [registry],
    });
  }

  observeCommand(spec: CommandSpec, seconds: number): void {
    let child = this.latencyChildren.get(spec.name);
    if (child === undefined) {
      child = this.commandLatency.series(spec.name);
      this.latencyChildren.set(spec.name, child);
    }
    child.observe(seconds);
  }

  observeCommit(durationMs: number, records: number): void {
    this.commitLatency.observe(durationMs / 1000);
    this.commitRecords.observe(records);
  }
}
