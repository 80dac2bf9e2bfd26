/**
 * Helpers for multi-process cluster tests: an ioredis Cluster client configured to retry through a
 * failover, redis-cli runs, key-to-partition arithmetic, the /v1/cluster summary's shape, and
 * bounded waits (a bound on time, never an assertion on speed). waitFor, median and partitionOfKey
 * live in @ballast/testkit (the campaign uses them too) and are re-exported here.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis, { type ClusterOptions } from 'ioredis';
import { partitionOfKey } from '@ballast/testkit';

export { median, partitionOfKey, waitFor } from '@ballast/testkit';
export { sleep };

/** GET /v1/cluster (packages/storage-node/src/cluster/cluster-node.ts summary()). */
export interface ClusterSummary {
  clusterId: string | null;
  state: 'INACTIVE' | 'ACTIVE' | 'ACTIVE_READ_ONLY' | null;
  mapVersion: number;
  autoActivatePending: boolean;
  partitionCount: number;
  backups: number;
  baseline: string[];
  onlineNodes: string[];
  thisNode: {
    nodeId: string;
    redisNodeId: string;
    diverged: string | null;
    leading: number[];
    stats: {
      entriesReceived: number;
      bytesReceived: number;
      snapshotsReceived: number;
      snapshotBytesReceived: number;
      snapshotsSent: number;
      [name: string]: number;
    };
  };
  partitions: { total: number; underReplicated: number; lost: number; lostPartitions: number[]; withoutOnlinePrimary: number };
  history: Array<{ hash: string; baseline: string[]; version: number }>;
}

/**
 * ioredis Cluster options that ride through a failover: connection losses, TRYAGAIN and CLUSTERDOWN
 * are retried after a short delay with a slots refresh, up to `maxRedirections` times (~6 s here),
 * so a write issued during a failover usually succeeds once the new primary serves.
 */
export const FAILOVER_CLIENT_OPTIONS: ClusterOptions = {
  retryDelayOnFailover: 100,
  retryDelayOnTryAgain: 100,
  retryDelayOnClusterDown: 100,
  retryDelayOnMoved: 0,
  maxRedirections: 64,
  slotsRefreshTimeout: 500,
  slotsRefreshInterval: 1000,
  // Reconnect when every known node failed (the refresh then starts again from the seeds).
  clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
  redisOptions: { maxRetriesPerRequest: 20, connectTimeout: 1000 },
};

export function clusterClient(ports: number[], options: ClusterOptions = {}): InstanceType<typeof Redis.Cluster> {
  const client = new Redis.Cluster(
    ports.map((port) => ({ host: '127.0.0.1', port })),
    { ...FAILOVER_CLIENT_OPTIONS, ...options },
  );
  // Errors surface on the commands; an unhandled 'error' event would crash the test process.
  client.on('error', () => undefined);
  return client;
}

/** A key (prefix + counter) that falls in `partition`. */
export function keyInPartition(partition: number, partitionCount: number, prefix: string): string {
  for (let i = 0; i < 1_000_000; i++) {
    const key = `${prefix}:${i}`;
    if (partitionOfKey(key, partitionCount) === partition) return key;
  }
  throw new Error(`no key with prefix ${prefix} in partition ${partition}`);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs redis-cli (unmodified) against 127.0.0.1:port; kills it after timeoutMs. */
export async function redisCli(port: number, args: string[], timeoutMs = 10_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A readable error message from anything a client rejected with. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

type Client = InstanceType<typeof Redis.Cluster>;

/**
 * One writer: its own keys, each written with increasing values, one command at a time. Records
 * what was sent and acknowledged per key, errors (after the client's own redirect handling), and
 * the latency of each acknowledged write (ms) when `latencies` is given.
 */
export class Writer {
  readonly keys: string[];
  /** Highest value sent per key (acknowledged or not). */
  readonly sent = new Map<string, number>();
  /** Highest value acknowledged (+OK) per key. */
  readonly acknowledged = new Map<string, number>();
  acknowledgedCount = 0;
  errorCount = 0;
  lastError = '';
  private stopping = false;
  readonly done: Promise<void>;

  constructor(
    readonly index: number,
    private readonly client: Client,
    keysPerWriter: number,
    private readonly latencies?: Array<{ atMs: number; ms: number }>,
    private readonly pauseMs = 0,
  ) {
    this.keys = Array.from({ length: keysPerWriter }, (_, key) => `writer:${index}:key:${key}`);
    this.done = this.run();
  }

  private async run(): Promise<void> {
    for (let i = 0; !this.stopping; i++) {
      const key = this.keys[i % this.keys.length]!;
      const value = (this.sent.get(key) ?? 0) + 1;
      this.sent.set(key, value);
      const started = performance.now();
      try {
        const reply = await this.client.set(key, String(value));
        if (reply === 'OK') {
          this.acknowledged.set(key, value);
          this.acknowledgedCount++;
          this.latencies?.push({ atMs: Date.now(), ms: performance.now() - started });
        }
      } catch (error) {
        // Not acknowledged: the write may or may not have happened; the next value supersedes it.
        this.errorCount++;
        this.lastError = messageOf(error);
        await sleep(20);
      }
      if (this.pauseMs > 0) await sleep(this.pauseMs);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const bounded = await Promise.race([this.done.then(() => true), sleep(60_000).then(() => false)]);
    if (!bounded) throw new Error(`writer ${this.index} hangs: a command never settled (last error: ${this.lastError})`);
  }
}

/**
 * Reads every writer key and checks: value ≥ the last value acknowledged before the read started,
 * and ≤ the highest value sent (nothing invented). Returns the violations.
 */
export async function checkNoAcknowledgedWriteLost(client: Client, writers: Writer[]): Promise<string[]> {
  const violations: string[] = [];
  for (const writer of writers) {
    for (const key of writer.keys) {
      const acknowledged = writer.acknowledged.get(key) ?? 0;
      let read: string | null = null;
      for (let attempt = 0; ; attempt++) {
        try {
          read = await client.get(key);
          break;
        } catch (error) {
          if (attempt >= 20) throw new Error(`GET ${key} kept failing: ${messageOf(error)}`);
          await sleep(200);
        }
      }
      const sent = writer.sent.get(key) ?? 0;
      const value = read === null ? 0 : Number(read);
      if (value < acknowledged) violations.push(`${key}: read ${read}, but ${acknowledged} was acknowledged`);
      if (value > sent) violations.push(`${key}: read ${read}, but only up to ${sent} was ever sent`);
    }
  }
  return violations;
}

/** The p-th percentile (0..100) of `values` (nearest rank); 0 for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
