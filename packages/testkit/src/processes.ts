/**
 * Real processes for tests: ballast-node and redis-server on free loopback ports, each in its own
 * temporary directory, stopped (by pid) when the test is done.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Repository root (packages/testkit/dist → ../../..). */
export const REPOSITORY_ROOT = path.resolve(here, '../../..');
export const NODE_MAIN = path.join(REPOSITORY_ROOT, 'packages/storage-node/dist/main.js');

export function temporaryDirectory(prefix = 'ballast-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A port that was free a moment ago (for servers that cannot bind port 0 and report it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a TCP port on 127.0.0.1 can be listened on now. */
export async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export interface NodeProcessOptions {
  dataDir?: string;
  durability?: 'sync' | 'async';
  /** Extra command-line flags, e.g. ['--maxclients', '10']. */
  args?: string[];
  env?: Record<string, string>;
  /** Fixed ports (default: 0, chosen by the OS and read back from the ready log line). */
  port?: number;
  adminPort?: number;
  readyTimeoutMs?: number;
  /**
   * A command that runs the node, e.g. ['ip', 'netns', 'exec', 'ns-a'] to start it inside a network
   * namespace. It must exec (not fork) the node, so `pid` is the node's own pid.
   */
  launcher?: string[];
}

export interface NodeProcess {
  readonly port: number;
  readonly adminPort: number;
  readonly pid: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Sends SIGTERM and waits for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Sends SIGKILL (kill -9) and waits for exit. */
  kill(): Promise<void>;
  /** Resolves when the process exits. */
  exited: Promise<number | null>;
}

/** Starts ballast-node and resolves once it logs that it is ready (with its real ports). */
export async function startNode(options: NodeProcessOptions = {}): Promise<NodeProcess> {
  const dataDir = options.dataDir ?? temporaryDirectory('ballast-node-');
  const args = [
    // Flags for Node itself, e.g. BALLAST_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile.
    ...(process.env.BALLAST_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== ''),
    NODE_MAIN,
    '--port',
    String(options.port ?? 0),
    '--admin-port',
    String(options.adminPort ?? 0),
    '--data-dir',
    dataDir,
    '--durability',
    options.durability ?? 'sync',
    ...(options.args ?? []),
  ];
  const launcher = options.launcher ?? [];
  const child = spawn(launcher[0] ?? process.execPath, launcher.length === 0 ? args : [...launcher.slice(1), process.execPath, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<{ port: number; adminPort: number }>((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(
      () => reject(new Error(`ballast-node not ready after ${options.readyTimeoutMs ?? 20000} ms:\n${output}`)),
      options.readyTimeoutMs ?? 20_000,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      pending += chunk.toString('utf8');
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (!line.includes('ballast-node ready')) continue;
        const record = JSON.parse(line) as { port: number; adminPort: number };
        clearTimeout(timer);
        resolve({ port: record.port, adminPort: record.adminPort });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`ballast-node exited with code ${String(code)} before it was ready:\n${output}`));
    });
  });
  const { port, adminPort } = await ready;
  return {
    port,
    adminPort,
    pid: child.pid!,
    dataDir,
    child,
    exited,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface RedisProcess {
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Starts redis-server (Debian package) on a free port with no persistence unless asked. */
export async function startRedis(extraArgs: string[] = []): Promise<RedisProcess> {
  const port = await freePort();
  const dir = temporaryDirectory('ballast-redis-');
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server not ready:\n${output}`)), 10_000);
    const check = (): void => {
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      } else if (child.exitCode !== null) {
        clearTimeout(timer);
        reject(new Error(`redis-server exited:\n${output}`));
      } else setTimeout(check, 20);
    };
    check();
  });
  return {
    port,
    pid: child.pid!,
    dir,
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function removeDirectory(directory: string): void {
  rmSync(directory, { recursive: true, force: true });
}
