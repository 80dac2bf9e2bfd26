/**
 * Helpers for multi-process cluster tests: an ioredis Cluster client configured to retry through a
 * failover, redis-cli runs, key-to-partition arithmetic, the /v1/cluster summary's shape, and
 * bounded waits (a bound on time, never an assertion on speed).
 */
import { spawn } from 'node:child_process';
import Redis, { type ClusterOptions } from 'ioredis';
import { keyHashSlot, partitionOfSlot } from '@ballast/cluster';

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

export function partitionOfKey(key: string, partitionCount: number): number {
  return partitionOfSlot(keyHashSlot(Buffer.from(key)), partitionCount);
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` until it returns a value other than undefined, or throws after timeoutMs with the
 * last value or error it saw (so a failure says what the world looked like).
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown = null;
  while (performance.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = 'not yet';
    } catch (error) {
      last = error instanceof Error ? error.message : error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms (last: ${typeof last === 'string' ? last : JSON.stringify(last)})`);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A readable error message from anything a client rejected with. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
