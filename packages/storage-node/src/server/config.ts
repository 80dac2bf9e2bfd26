/**
 * Node configuration from command-line flags and BALLAST_* environment variables (flags win).
 * Invalid values are reported together with the flag's name; the process exits before opening data.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { isValidPartitionCount, PARTITION_COUNT_DEFAULT } from '@ballast/cluster';
import type { Durability } from '../engine/engine.js';
import { LIMITS_DEFAULT, type Limits } from '../limits.js';

export interface NodeConfig {
  port: number;
  bind: string;
  adminPort: number;
  adminBind: string;
  dataDir: string;
  durability: Durability;
  requirePassword: string | null;
  partitionCount: number;
  /** Byte budget of the hot-record cache (0 = off). */
  cacheBytes: number;
  /** Cluster mode settings, or null for a standalone node. */
  cluster: ClusterConfig | null;
  logLevel: string;
  limits: Limits;
}

export interface ClusterConfig {
  storeUrl: string;
  /** The id asked for by flag or environment (null: use the stored one, or generate one). */
  nodeId: string | null;
  clusterId: string;
  token: string;
  peerPort: number;
  peerBind: string;
  advertiseHost: string;
  zone: string | null;
  replicationLogEntries: number;
  rebalanceBytesPerSecond: number;
  rebalanceConcurrency: number;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface OptionInfo {
  env: string;
  help: string;
  default?: string;
}

/** Every option: flag name → environment variable and help text. */
export const OPTIONS: Record<string, OptionInfo> = {
  port: { env: 'BALLAST_PORT', help: 'Redis protocol port', default: '6379' },
  bind: { env: 'BALLAST_BIND', help: 'address the Redis port listens on', default: '127.0.0.1' },
  'admin-port': { env: 'BALLAST_ADMIN_PORT', help: 'admin HTTP port (/livez /readyz /metrics /v1)', default: '8080' },
  'admin-bind': { env: 'BALLAST_ADMIN_BIND', help: 'address the admin port listens on', default: '127.0.0.1' },
  'data-dir': { env: 'BALLAST_DATA_DIR', help: 'directory holding the LMDB environment', default: './data' },
  durability: {
    env: 'BALLAST_DURABILITY',
    help: 'sync (acknowledge after fsync) or async (acknowledge at once, fsync within milliseconds)',
    default: 'sync',
  },
  'cache-bytes': {
    env: 'BALLAST_CACHE_BYTES',
    help: 'memory for the cache of hot records, bytes; 0 = off',
    default: String(64 * 1024 * 1024),
  },
  requirepass: { env: 'BALLAST_REQUIREPASS', help: 'password for AUTH (default user); empty = none' },
  'requirepass-file': { env: 'BALLAST_REQUIREPASS_FILE', help: 'file holding the AUTH password (e.g. a mounted Secret)' },
  maxclients: { env: 'BALLAST_MAXCLIENTS', help: 'maximum client connections', default: String(LIMITS_DEFAULT.clientsMax) },
  timeout: { env: 'BALLAST_TIMEOUT', help: 'close clients idle this many seconds; 0 = never', default: '0' },
  'output-buffer-limit': {
    env: 'BALLAST_OUTPUT_BUFFER_LIMIT',
    help: 'disconnect a client holding this many unsent reply bytes',
    default: String(LIMITS_DEFAULT.outputBufferBytesMax),
  },
  'output-buffer-stall-timeout': {
    env: 'BALLAST_OUTPUT_BUFFER_STALL_TIMEOUT',
    help: 'disconnect a client whose replies back up and drain not at all for this many seconds; 0 = never',
    default: String(LIMITS_DEFAULT.outputBufferStallMs / 1000),
  },
  'proto-max-bulk-len': {
    env: 'BALLAST_PROTO_MAX_BULK_LEN',
    help: 'largest bulk string accepted, bytes',
    default: String(LIMITS_DEFAULT.bulkBytesMax),
  },
  partitions: {
    env: 'BALLAST_PARTITIONS',
    help: 'partition count for a new data directory (power of two)',
    default: String(PARTITION_COUNT_DEFAULT),
  },
  'cluster-store': {
    env: 'BALLAST_CLUSTER_STORE',
    help: 'ClusterMap store: etcd://HOST:PORT[,HOST:PORT]/PREFIX, http://HOST:PORT (embedded) or kubernetes://NAMESPACE/CONFIGMAP; unset = standalone',
  },
  'node-id': { env: 'BALLAST_NODE_ID', help: 'this node\'s id in the cluster (persisted on first start; default: generated)' },
  'cluster-id': { env: 'BALLAST_CLUSTER_ID', help: 'cluster id used when this node creates the cluster map', default: 'ballast' },
  'cluster-token': { env: 'BALLAST_CLUSTER_TOKEN', help: 'shared secret for peer links, the store and admin writes' },
  'cluster-token-file': { env: 'BALLAST_CLUSTER_TOKEN_FILE', help: 'file holding the cluster token (e.g. a mounted Secret)' },
  'peer-port': { env: 'BALLAST_PEER_PORT', help: 'replication (peer link) port; 0 = any free port', default: '16379' },
  'peer-bind': { env: 'BALLAST_PEER_BIND', help: 'address the peer port listens on (default: --bind)' },
  'advertise-host': {
    env: 'BALLAST_ADVERTISE_HOST',
    help: 'host clients and peers use to reach this node (default: --bind, or the hostname when binding all addresses)',
  },
  zone: { env: 'BALLAST_ZONE', help: 'failure zone of this node (backups are placed in other zones when possible)' },
  'replication-log-entries': {
    env: 'BALLAST_REPLICATION_LOG_ENTRIES',
    help: 'replication log entries kept per partition for catch-up without a snapshot',
    default: '4096',
  },
  'rebalance-bytes-per-sec': {
    env: 'BALLAST_REBALANCE_BYTES_PER_SEC',
    help: 'snapshot bytes per second this node sends when partitions move (0 = unlimited; PUT /v1/cluster/rebalance/limits overrides cluster-wide)',
    default: String(32 * 1024 * 1024),
  },
  'rebalance-concurrency': {
    env: 'BALLAST_REBALANCE_CONCURRENCY',
    help: 'partition snapshots this node sends at once',
    default: '1',
  },
  'log-level': { env: 'BALLAST_LOG_LEVEL', help: 'fatal|error|warn|info|debug|trace|silent', default: 'info' },
};

export function usage(): string {
  const lines = ['Usage: ballast-node [options]', '', 'Options (each also settable by its environment variable):'];
  const nameWidth = Math.max(...Object.keys(OPTIONS).map((name) => name.length));
  const envWidth = Math.max(...Object.values(OPTIONS).map((info) => info.env.length));
  for (const [name, info] of Object.entries(OPTIONS)) {
    const defaultText = info.default === undefined ? '' : ` (default ${info.default})`;
    lines.push(`  --${name.padEnd(nameWidth)} ${info.env.padEnd(envWidth)} ${info.help}${defaultText}`);
  }
  lines.push('  --help');
  return lines.join('\n');
}

function integerOption(name: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) throw new ConfigError(`--${name} must be a whole number, got '${text}'`);
  const value = Number(text);
  if (value < min || value > max) throw new ConfigError(`--${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** Parses flags and environment. `readFile` reads the password file (injected for tests). */
export function parseConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  readFile: (path: string) => string,
): NodeConfig | 'help' {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const name of Object.keys(OPTIONS)) options[name] = { type: 'string' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (parsed.values.help === true) return 'help';
  const value = (name: string): string | undefined => {
    const flag = parsed.values[name];
    if (typeof flag === 'string') return flag;
    return env[OPTIONS[name]!.env] ?? OPTIONS[name]!.default;
  };
  const durability = value('durability');
  if (durability !== 'sync' && durability !== 'async') {
    throw new ConfigError(`--durability must be 'sync' or 'async', got '${durability}'`);
  }
  const partitionCount = integerOption('partitions', value('partitions')!, 1, 16384);
  if (!isValidPartitionCount(partitionCount)) {
    throw new ConfigError(`--partitions must be a power of two between 1 and 16384, got ${partitionCount}`);
  }
  let requirePassword = value('requirepass') ?? null;
  const passwordFile = value('requirepass-file');
  if (passwordFile !== undefined && passwordFile !== '') {
    requirePassword = readFile(passwordFile).replace(/\r?\n$/, '');
  }
  if (requirePassword === '') requirePassword = null;
  const logLevel = value('log-level')!;
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(`--log-level must be one of fatal, error, warn, info, debug, trace, silent; got '${logLevel}'`);
  }
  const config: NodeConfig = {
    port: integerOption('port', value('port')!, 0, 65535),
    bind: value('bind')!,
    adminPort: integerOption('admin-port', value('admin-port')!, 0, 65535),
    adminBind: value('admin-bind')!,
    dataDir: value('data-dir')!,
    durability,
    requirePassword,
    partitionCount,
    cacheBytes: integerOption('cache-bytes', value('cache-bytes')!, 0, 2 ** 40),
    cluster: clusterConfig(value, readFile),
    logLevel,
    limits: {
      ...LIMITS_DEFAULT,
      clientsMax: integerOption('maxclients', value('maxclients')!, 1, 1_000_000),
      idleTimeoutMs: integerOption('timeout', value('timeout')!, 0, 365 * 24 * 3600) * 1000,
      outputBufferBytesMax: integerOption('output-buffer-limit', value('output-buffer-limit')!, 1024, 2 ** 40),
      outputBufferStallMs:
        integerOption('output-buffer-stall-timeout', value('output-buffer-stall-timeout')!, 0, 365 * 24 * 3600) * 1000,
      bulkBytesMax: integerOption('proto-max-bulk-len', value('proto-max-bulk-len')!, 1024, 2 ** 31),
    },
  };
  // Reading pauses before the disconnect limit is reached, whatever the limit is set to.
  config.limits.outputBufferPauseBytes = Math.min(
    LIMITS_DEFAULT.outputBufferPauseBytes,
    Math.floor(config.limits.outputBufferBytesMax / 2),
  );
  return config;
}

function clusterConfig(
  value: (name: string) => string | undefined,
  readFile: (path: string) => string,
): ClusterConfig | null {
  const storeUrl = value('cluster-store');
  if (storeUrl === undefined || storeUrl === '') return null;
  if (!/^(etcd|https?|kubernetes):\/\//.test(storeUrl)) {
    throw new ConfigError(`--cluster-store must be etcd://HOST:PORT/PREFIX, http://HOST:PORT or kubernetes://NAMESPACE/CONFIGMAP, got '${storeUrl}'`);
  }
  let token = value('cluster-token') ?? '';
  const tokenFile = value('cluster-token-file');
  if (tokenFile !== undefined && tokenFile !== '') token = readFile(tokenFile).replace(/\r?\n$/, '');
  if (token === '') throw new ConfigError('cluster mode needs --cluster-token (or --cluster-token-file): peers and admin writes are authenticated');
  const nodeId = value('node-id') ?? null;
  if (nodeId !== null && !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/.test(nodeId)) {
    throw new ConfigError(`--node-id must be 1-63 characters of letters, digits, '.', '_', ':' or '-', starting with a letter or digit; got '${nodeId}'`);
  }
  const bind = value('bind')!;
  const advertiseHost = value('advertise-host') ?? (bind === '0.0.0.0' || bind === '::' ? hostname() : bind);
  return {
    storeUrl,
    nodeId,
    clusterId: value('cluster-id')!,
    token,
    peerPort: integerOption('peer-port', value('peer-port')!, 0, 65535),
    peerBind: value('peer-bind') ?? bind,
    advertiseHost,
    zone: value('zone') ?? null,
    replicationLogEntries: integerOption('replication-log-entries', value('replication-log-entries')!, 16, 10_000_000),
    rebalanceBytesPerSecond: integerOption('rebalance-bytes-per-sec', value('rebalance-bytes-per-sec')!, 0, Number.MAX_SAFE_INTEGER),
    rebalanceConcurrency: integerOption('rebalance-concurrency', value('rebalance-concurrency')!, 1, 64),
  };
}
