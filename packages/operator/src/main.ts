#!/usr/bin/env node
/**
 * `ballast`: the operator's command line.
 * - `ballast dev -f FILE [--data-dir DIR] [--base-port N] [--admin-port N] [--netns-lab NAME]` runs
 *   a KVCluster on this machine with real ballast-node processes.
 * - `ballast operator [...]` reconciles KVClusters on Kubernetes (see OPERATOR_USAGE).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startDevAdmin } from './local/http.js';
import { LocalRuntime } from './local/runtime.js';

const USAGE = `Usage: ballast dev -f FILE [--data-dir DIR] [--base-port N] [--admin-port N] [--netns-lab NAME]

  -f, --file FILE     a KVCluster manifest (YAML), e.g. manifests/examples/kvcluster-dev.yaml
  --data-dir DIR      where members keep their data (default .data/<cluster name>)
  --base-port N       member i serves Redis on N+i, admin on N+100+i, peers on N+200+i;
                      the ClusterMap store listens on N+300 (default 7000)
  --admin-port N      this runtime's admin HTTP (default base port + 400)
  --netns-lab NAME    testing option (root): run member i in network namespace ns-NAME-i of an
                      existing NetworkLab (packages/testkit/src/netns.ts) on its address there,
                      with the ClusterMap store on the address of bridge br-NAME`;

const OPERATOR_USAGE = `Usage: ballast operator [--namespaces NS1,NS2] [--leader-elect] [--leader-election-namespace NS]
                        [--metrics-port 8080] [--health-port 8081] [--node-image IMAGE] [--log-level info]

  --namespaces            namespaces to watch, comma-separated (default: all)
  --leader-elect          run as one of several replicas: only the holder of the Lease
                          ballast-operator reconciles
  --leader-election-namespace NS   where that Lease lives (default: $POD_NAMESPACE)
  --node-image IMAGE      storage node image for KVClusters without spec.image
  Kubernetes access: in-cluster service account, else KUBECONFIG / ~/.kube/config.`;

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'operator') {
    const { runOperator } = await import('./kubernetes/command.js');
    await runOperator(rest, OPERATOR_USAGE);
    return;
  }
  if (command !== 'dev') {
    process.stderr.write(`${USAGE}\n\n${OPERATOR_USAGE}\n`);
    process.exit(command === undefined || command === '--help' || command === 'help' ? 0 : 2);
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      file: { type: 'string', short: 'f' },
      'data-dir': { type: 'string' },
      'base-port': { type: 'string' },
      'admin-port': { type: 'string' },
      'netns-lab': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true || values.file === undefined) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(values.help === true ? 0 : 2);
  }
  const basePort = Number(values['base-port'] ?? 7000);
  const adminPort = Number(values['admin-port'] ?? basePort + 400);
  if (!Number.isInteger(basePort) || basePort < 1 || basePort > 65_000 - 400) throw new Error(`--base-port must be a port number, got ${values['base-port']}`);
  const require = createRequire(import.meta.url);
  const nodeMain = path.join(path.dirname(require.resolve('@ballast/storage-node')), 'main.js');
  const log = (line: string): void => {
    process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  };
  const file = path.resolve(values.file);
  // The data directory defaults to .data/<name>; read the name first.
  const { parseKVClusterFile } = await import('./local/manifest.js');
  const { readFileSync } = await import('node:fs');
  const name = parseKVClusterFile(readFileSync(file, 'utf8')).name;
  const dataDir = path.resolve(values['data-dir'] ?? path.join('.data', name));
  const netnsLab = values['netns-lab'];
  const runtime = new LocalRuntime({ file, dataDir, basePort, nodeMain, log, ...(netnsLab === undefined ? {} : { netnsLab }) });
  await runtime.start();
  const server = await startDevAdmin(runtime, adminPort);
  const ports = Array.from({ length: runtime.spec.replicas }, (_, index) => runtime.ports(index).port);
  log(`KVCluster ${name}: ${runtime.spec.replicas} members on ports ${ports.join(', ')}; data in ${dataDir}`);
  const host = runtime.memberViews()[0]?.host ?? '127.0.0.1';
  log(`connect: redis-cli -c ${host === '127.0.0.1' ? '' : `-h ${host} `}-p ${ports[0]}    status: curl http://127.0.0.1:${adminPort}/v1/kvcluster    members: curl http://127.0.0.1:${adminPort}/v1/members`);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping every member`);
    server.close();
    void runtime.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`ballast: ${(error as Error).message}\n`);
  process.exit(1);
});
