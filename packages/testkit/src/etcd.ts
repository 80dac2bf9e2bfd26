/**
 * A real etcd (Debian package `etcd-server`, binary `etcd`) for tests: one member on free loopback
 * ports (its client port optionally on more addresses), data in a temporary directory, stopped by
 * pid. It can be killed and started again on the same ports and data directory, to test clients
 * across an etcd restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, removeDirectory, temporaryDirectory } from './processes.js';

export interface EtcdProcess {
  /** Client URL on the first client host, e.g. http://127.0.0.1:41234. */
  readonly clientUrl: string;
  /** host:port of the client endpoint on the first client host (for etcd://host:port/prefix URLs). */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  /** Pid of the running process (changes after restart()). */
  pid(): number;
  /** The last output of etcd (bounded). */
  output(): string;
  /** SIGKILL and wait for exit; the data directory stays. */
  kill(): Promise<void>;
  /** Kills etcd (-9), waits downtimeMs, and starts it again on the same ports and data directory. */
  restart(downtimeMs?: number): Promise<void>;
  /** SIGKILL, wait, and remove the data directory. */
  stop(): Promise<void>;
}

export interface EtcdOptions {
  /** Binary (default `etcd` on PATH; Debian installs /usr/bin/etcd). */
  binary?: string;
  readyTimeoutMs?: number;
  /**
   * Addresses the client port listens on (default ['127.0.0.1']); the first is the one this harness
   * talks to. Add e.g. a bridge address so processes in network namespaces reach etcd too.
   */
  clientHosts?: string[];
}

const OUTPUT_BYTES_MAX = 64 * 1024;
const START_ATTEMPTS_MAX = 3;

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
}

/** Starts etcd and resolves once it answers /health. */
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdProcess> {
  const binary = options.binary ?? 'etcd';
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const clientHosts = options.clientHosts ?? ['127.0.0.1'];
  const firstHost = clientHosts[0] ?? '127.0.0.1';
  const dataDir = temporaryDirectory('ballast-etcd-');
  let output = '';
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > OUTPUT_BYTES_MAX) output = output.slice(-OUTPUT_BYTES_MAX);
  };

  const launch = (clientPort: number, peerPort: number): Running => {
    const clientUrls = clientHosts.map((host) => `http://${host}:${clientPort}`).join(',');
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const child = spawn(
      binary,
      [
        '--name',
        'test',
        '--data-dir',
        dataDir,
        '--listen-client-urls',
        clientUrls,
        '--advertise-client-urls',
        clientUrls,
        '--listen-peer-urls',
        peerUrl,
        '--initial-advertise-peer-urls',
        peerUrl,
        '--initial-cluster',
        `test=${peerUrl}`,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // If the test process dies first, do not leave etcd behind.
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    void exited.then(() => process.off('exit', killOnExit));
    return { child, exited };
  };

  const waitReady = async (running: Running, clientPort: number): Promise<boolean> => {
    const deadline = Date.now() + readyTimeoutMs;
    while (Date.now() < deadline) {
      if (running.child.exitCode !== null || running.child.signalCode !== null) return false;
      try {
        const response = await fetch(`http://${firstHost}:${clientPort}/health`, { signal: AbortSignal.timeout(2_000) });
        const body = (await response.json()) as { health?: unknown };
        if (body.health === 'true' || body.health === true) return true;
      } catch {
        // Not listening yet: try again below.
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`etcd not healthy after ${readyTimeoutMs} ms:\n${output}`);
  };

  let clientPort = 0;
  let peerPort = 0;
  let running: Running | null = null;
  for (let attempt = 1; running === null; attempt++) {
    clientPort = await freePort();
    peerPort = await freePort();
    const candidate = launch(clientPort, peerPort);
    if (await waitReady(candidate, clientPort)) {
      running = candidate;
    } else if (attempt >= START_ATTEMPTS_MAX) {
      removeDirectory(dataDir);
      throw new Error(`etcd exited before it was healthy (${attempt} attempts):\n${output}`);
    }
    // Else a port was taken between freePort() and etcd's bind: try other ports.
  }

  let current: Running = running;
  const kill = async (): Promise<void> => {
    const child = current.child;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await current.exited;
  };
  return {
    clientUrl: `http://${firstHost}:${clientPort}`,
    endpoint: `${firstHost}:${clientPort}`,
    clientPort,
    peerPort,
    dataDir,
    pid: () => current.child.pid!,
    output: () => output,
    kill,
    async restart(downtimeMs = 0) {
      await kill();
      await new Promise((resolve) => setTimeout(resolve, downtimeMs));
      const again = launch(clientPort, peerPort);
      if (!(await waitReady(again, clientPort))) throw new Error(`etcd did not restart:\n${output}`);
      current = again;
    },
    async stop() {
      await kill();
      removeDirectory(dataDir);
    },
  };
}
