/**
 * `ballast operator`: connects to Kubernetes, serves /metrics and /healthz, and runs the
 * Kubernetes runtime — at once, or only while holding the leader Lease (--leader-elect). Losing
 * the lease stops reconciling (the process exits, and Kubernetes restarts it as a standby), as
 * controller-runtime does: two leaders must never act at once.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { startOperatorHttp } from './http.js';
import { LeaderElector } from './leader-election.js';
import { emptyRuntimeStats, KubernetesRuntime } from './runtime.js';

export const DEFAULT_NODE_IMAGE = 'ghcr.io/ballast-io/ballast-node:0.1.0';

export async function runOperator(args: string[], usage: string): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      namespaces: { type: 'string' },
      'leader-elect': { type: 'boolean' },
      'leader-election-namespace': { type: 'string' },
      'metrics-port': { type: 'string' },
      'health-port': { type: 'string' },
      'node-image': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const quiet = values['log-level'] === 'error' || values['log-level'] === 'silent';
  const log = (line: string): void => {
    if (!quiet) process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg: line })}\n`);
  };
  const config = new KubeConfig();
  config.loadFromDefault();
  const namespaces = (values.namespaces ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');
  const port = (text: string | undefined, fallback: number): number => {
    const value = Number(text ?? fallback);
    if (!Number.isInteger(value) || value < 1 || value > 65_535) throw new Error(`not a port: ${text}`);
    return value;
  };
  let runtime: KubernetesRuntime | null = null;
  let leader = false;
  const stats = emptyRuntimeStats();
  const startRuntime = (): void => {
    runtime = new KubernetesRuntime({ config, namespaces, nodeImage: values['node-image'] ?? DEFAULT_NODE_IMAGE, log, stats });
    runtime.start().catch((error: unknown) => {
      log(`the runtime failed to start: ${(error as Error).message}`);
      process.exit(1);
    });
  };
  await startOperatorHttp({ stats, runtime: () => runtime, leader: () => leader }, { metricsPort: port(values['metrics-port'], 8080), healthPort: port(values['health-port'], 8081) });
  log(`watching ${namespaces.length === 0 ? 'all namespaces' : namespaces.join(', ')}`);
  if (values['leader-elect'] !== true) {
    leader = true;
    startRuntime();
  } else {
    const namespace = values['leader-election-namespace'] ?? process.env['POD_NAMESPACE'];
    if (namespace === undefined || namespace === '') throw new Error('--leader-elect needs --leader-election-namespace or POD_NAMESPACE');
    const elector = new LeaderElector(config, {
      namespace,
      name: 'ballast-operator',
      identity: process.env['POD_NAME'] ?? `${hostname()}-${process.pid}`,
      log,
      onStartedLeading: () => {
        leader = true;
        startRuntime();
      },
      onStoppedLeading: () => {
        leader = false;
        log('lost the leader lease: exiting so that no two leaders act at once');
        process.exit(0);
      },
    });
    elector.start();
    // Stop reconciling, then hand the Lease over, then exit.
    const release = (): void => {
      void (async () => {
        await (runtime as KubernetesRuntime | null)?.stop();
        await elector.stop();
      })().finally(() => process.exit(0));
    };
    process.on('SIGTERM', release);
    process.on('SIGINT', release);
    return;
  }
  const stop = (): void => {
    void (runtime as KubernetesRuntime | null)?.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
