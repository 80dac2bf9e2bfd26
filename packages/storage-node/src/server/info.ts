/** The INFO command's text, section by section, in Redis's format ("# Section\r\nkey:value\r\n"). */
import os from 'node:os';
import type { Engine } from '../engine/engine.js';
import type { ServerStats } from '../commands/types.js';
import type { Statistics } from '../commands/statistics.js';

export interface InfoSources {
  version: string;
  ballastVersion: string;
  runId: string;
  tcpPort: number;
  startedMs: number;
  durability: string;
  dataDir: string;
  partitionCount: number;
  connectedClients: number;
  clientsMax: number;
  blockedClients: number;
  engine: Engine;
  stats: ServerStats;
  statistics: Statistics;
  /** A node serving in a cluster (redis_mode, cluster_enabled). */
  clusterEnabled: boolean;
}

const DEFAULT_SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'errorstats', 'cluster', 'keyspace'];
const ALL_SECTIONS = [...DEFAULT_SECTIONS.slice(0, 7), 'commandstats', 'errorstats', 'cluster', 'keyspace'];

export function renderInfo(sources: InfoSources, requested: string | null, nowMs: number): string {
  let sections: string[];
  if (requested === null || requested === '' || requested === 'default') sections = DEFAULT_SECTIONS;
  else if (requested === 'all' || requested === 'everything') sections = ALL_SECTIONS;
  else {
    const wanted = new Set(requested.split(/\s+/));
    sections = ALL_SECTIONS.filter((section) => wanted.has(section));
    if (wanted.has('default')) sections = [...new Set([...DEFAULT_SECTIONS, ...sections])];
  }
  return sections.map((section) => renderSection(sources, section, nowMs)).join('\r\n');
}

function lines(title: string, entries: Array<[string, string | number]>): string {
  return `# ${title}\r\n${entries.map(([key, value]) => `${key}:${value}\r\n`).join('')}`;
}

function renderSection(sources: InfoSources, section: string, nowMs: number): string {
  const { stats, engine } = sources;
  switch (section) {
    case 'server': {
      const uptimeSeconds = Math.floor((nowMs - sources.startedMs) / 1000);
      return lines('Server', [
        ['redis_version', sources.version],
        ['ballast_version', sources.ballastVersion],
        ['redis_mode', sources.clusterEnabled ? 'cluster' : 'standalone'],
        ['os', `${os.type()} ${os.release()} ${os.arch()}`],
        ['arch_bits', 64],
        ['process_id', process.pid],
        ['run_id', sources.runId],
        ['tcp_port', sources.tcpPort],
        ['server_time_usec', Math.floor(nowMs * 1000)],
        ['uptime_in_seconds', uptimeSeconds],
        ['uptime_in_days', Math.floor(uptimeSeconds / 86400)],
        ['hz', 10],
        ['executable', process.argv[1] ?? ''],
        ['config_file', ''],
      ]);
    }
    case 'clients':
      return lines('Clients', [
        ['connected_clients', sources.connectedClients],
        ['maxclients', sources.clientsMax],
        ['blocked_clients', sources.blockedClients],
        ['tracking_clients', 0],
      ]);
    case 'memory': {
      const memory = process.memoryUsage();
      return lines('Memory', [
        ['used_memory', memory.heapUsed + memory.external],
        ['used_memory_human', humanBytes(memory.heapUsed + memory.external)],
        ['used_memory_rss', memory.rss],
        ['used_memory_rss_human', humanBytes(memory.rss)],
        ['total_system_memory', os.totalmem()],
        ['maxmemory', 0],
        ['maxmemory_policy', 'noeviction'],
      ]);
    }
    case 'persistence': {
      const engineStats = engine.stats();
      return lines('Persistence', [
        ['loading', 0],
        ['async_loading', 0],
        ['rdb_changes_since_last_save', 0],
        ['rdb_bgsave_in_progress', 0],
        ['rdb_last_save_time', Math.floor((stats.lastCommitUnixMs || sources.startedMs) / 1000)],
        ['rdb_last_bgsave_status', 'ok'],
        ['aof_enabled', 0],
        ['aof_rewrite_in_progress', 0],
        ['ballast_engine', 'lmdb'],
        ['ballast_durability', sources.durability],
        ['ballast_batches_committed', engineStats.batchesCommitted],
        ['ballast_records_written', engineStats.recordsWritten],
        ['ballast_last_commit_ms', engineStats.lastCommitDurationMs.toFixed(3)],
        ['ballast_pending_writes', engineStats.overlayEntries],
      ]);
    }
    case 'stats':
      return lines('Stats', [
        ['total_connections_received', stats.connectionsReceived],
        ['total_commands_processed', stats.commandsProcessed],
        ['rejected_connections', stats.connectionsRejected],
        ['expired_keys', stats.expiredKeys],
        ['evicted_keys', 0],
        ['keyspace_hits', stats.keyspaceHits],
        ['keyspace_misses', stats.keyspaceMisses],
        ['total_error_replies', stats.errorReplies],
        ['client_output_buffer_limit_disconnections', stats.outputBufferDisconnects],
        ['ballast_protocol_errors', stats.protocolErrors],
        ['ballast_idle_disconnections', stats.idleDisconnects],
      ]);
    case 'replication':
      return lines('Replication', [
        ['role', 'master'],
        ['connected_slaves', 0],
        ['master_repl_offset', 0],
      ]);
    case 'cpu': {
      const usage = process.cpuUsage();
      return lines('CPU', [
        ['used_cpu_sys', (usage.system / 1e6).toFixed(6)],
        ['used_cpu_user', (usage.user / 1e6).toFixed(6)],
      ]);
    }
    case 'commandstats':
      return lines(
        'Commandstats',
        [...sources.statistics.commands].map(([name, command]) => [
          `cmdstat_${name}`,
          `calls=${command.calls},usec=0,usec_per_call=0.00,rejected_calls=${command.rejectedCalls},failed_calls=${command.failedCalls}`,
        ]),
      );
    case 'errorstats':
      return lines(
        'Errorstats',
        [...sources.statistics.errors].map(([prefix, count]) => [`errorstat_${prefix}`, `count=${count}`]),
      );
    case 'cluster':
      return lines('Cluster', [['cluster_enabled', sources.clusterEnabled ? 1 : 0]]);
    case 'keyspace': {
      const keys = engine.keyCount();
      return lines('Keyspace', keys === 0 ? [] : [['db0', `keys=${keys},expires=${engine.keysWithExpiryCount()},avg_ttl=0`]]);
    }
    default:
      return '';
  }
}

function humanBytes(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(2)}${units[unit]}`;
}
