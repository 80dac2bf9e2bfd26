/**
 * Real network faults for multi-process tests.
 *
 * A `NetworkLab` is a Linux bridge in the root network namespace plus one network namespace per node,
 * each joined to the bridge by a veth pair and given its own address (10.231.0.11, .12, ... by
 * default). The bridge holds the root namespace's address (10.231.0.1): the test process and etcd
 * live there and every namespace reaches them. Faults are nftables rules inside a namespace that
 * silently drop packets to and from chosen addresses (optionally only one TCP port of an address),
 * both ways: connections hang as in a real partition instead of failing fast, and traffic not named
 * (clients in the root namespace) still flows. Needs root (CAP_NET_ADMIN), iproute2 and nftables.
 *
 * A `NetnsCluster` runs ballast-node processes in those namespaces (`ip netns exec`), each bound to
 * its namespace's address, with a real etcd in the root namespace listening on the bridge address.
 *
 * Everything is named after the lab (`ns-<name>-<i>`, bridge `br-<name>`, veths `bl-<name>-<i>`),
 * and the pids of processes started for it are recorded in a state file, so a new lab first removes
 * whatever a crashed run of the same name left behind (processes by recorded pid, checked against
 * their command line, and the processes inside its namespaces).
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEtcd, type EtcdProcess } from './etcd.js';
import { removeDirectory, startNode, temporaryDirectory, type NodeProcess } from './processes.js';

export interface NetworkLabOptions {
  /** Names the namespaces, bridge and veths (default 'ballast': ns-ballast-0, br-ballast, bl-ballast-0). */
  name?: string;
  /** How many namespaces. */
  size: number;
  /** First three octets of the /24 the lab uses (default '10.231.0'). */
  subnet?: string;
  /** Last octet of the root namespace's address (default 1). */
  hostOctet?: number;
  /** Last octet of the first namespace's address; the others follow (default 11). */
  firstOctet?: number;
}

export interface LabNamespace {
  readonly index: number;
  readonly name: string;
  /** The namespace's address on the bridge. */
  readonly address: string;
}

/** Traffic to drop: everything to and from `address`, or only TCP to and from its `port`. */
export interface BlockTarget {
  address: string;
  port?: number;
}

export interface NetworkLab {
  readonly name: string;
  readonly bridge: string;
  /** The root namespace's address on the bridge (reachable from every namespace). */
  readonly hostAddress: string;
  readonly namespaces: readonly LabNamespace[];
  /** Command prefix that runs a program inside `namespace` (it execs: the pid is the program's). */
  launcher(namespace: LabNamespace): string[];
  /** Records a process started for the lab, so a later lab can remove it if this run crashes. */
  track(pid: number, marker: string): void;
  /** Records a directory to remove with the lab (and after a crash, by the next lab of this name). */
  trackDirectory(directory: string): void;
  /**
   * Drops, inside `namespace`, all packets to and from each target, replacing the namespace's earlier
   * fault rules (an empty list removes them).
   */
  block(namespace: LabNamespace, targets: readonly BlockTarget[]): Promise<void>;
  /** Removes every fault rule in every namespace. */
  heal(): Promise<void>;
  /** Kills what runs in the namespaces and removes namespaces, veths, bridge and tracked directories. */
  destroy(): Promise<void>;
}

const FAULT_TABLE = 'ballast_fault';
const KILL_WAIT_MS = 5000;

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command (never through a shell) and collects its output. */
export function runCommand(command: string, args: readonly string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) {
      // A command that exits without reading its input fails by its exit code, not by EPIPE here.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(input);
    }
  });
}

/** runCommand that throws, with the command and its error output, unless it exits 0; returns stdout. */
export async function mustRunCommand(command: string, args: readonly string[], input?: string): Promise<string> {
  const result = await runCommand(command, args, input);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${String(result.code)}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The process's command line, arguments separated by spaces (null once it is gone). */
export function commandLineOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return null;
  }
}

/** SIGKILLs each pid (those still alive) and waits until they are gone. */
async function killAndWait(pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + KILL_WAIT_MS;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(20);
}

/** The processes in network namespace `namespace` (none when it does not exist), this one excepted. */
export async function namespacePids(namespace: string): Promise<number[]> {
  const result = await runCommand('ip', ['netns', 'pids', namespace]);
  if (result.code !== 0) return [];
  return result.stdout
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid);
}

async function existingNamespaces(): Promise<Set<string>> {
  const output = await mustRunCommand('ip', ['netns', 'list']);
  return new Set(output.split('\n').map((line) => line.trim().split(/\s+/)[0]!).filter((name) => name !== ''));
}

interface LabState {
  pids: Array<{ pid: number; marker: string }>;
  directories: string[];
}

function statePath(name: string): string {
  return path.join(tmpdir(), `ballast-netlab-${name}.json`);
}

function readState(name: string): LabState {
  try {
    return JSON.parse(readFileSync(statePath(name), 'utf8')) as LabState;
  } catch {
    return { pids: [], directories: [] };
  }
}

/** Removes what a lab of this name left: tracked processes and directories, namespaces, veths, bridge. */
async function removeLab(name: string, size: number): Promise<void> {
  const state = readState(name);
  // A recorded pid is killed only if it still runs what was recorded (pids are reused).
  const tracked = state.pids.filter(({ pid, marker }) => commandLineOf(pid)?.includes(marker) ?? false).map(({ pid }) => pid);
  await killAndWait(tracked);
  const present = await existingNamespaces();
  for (let index = 0; index < size; index++) {
    const namespace = `ns-${name}-${index}`;
    if (!present.has(namespace)) continue;
    await killAndWait(await namespacePids(namespace));
    await mustRunCommand('ip', ['netns', 'del', namespace]);
  }
  for (let index = 0; index < size; index++) await runCommand('ip', ['link', 'del', `bl-${name}-${index}`]);
  await runCommand('ip', ['link', 'del', `br-${name}`]);
  for (const directory of state.directories) removeDirectory(directory);
  rmSync(statePath(name), { force: true });
}

/** Checks the machine can run a lab; throws a message naming what is missing. */
async function checkPrerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error('network-namespace tests need root (CAP_NET_ADMIN): run them as root, as .ci/run does');
  }
  for (const [command, args, pkg] of [
    ['ip', ['-V'], 'iproute2'],
    ['nft', ['--version'], 'nftables'],
  ] as const) {
    const result = await runCommand(command, args).catch((error: unknown) => ({ code: -1, stdout: '', stderr: String(error) }));
    if (result.code !== 0) throw new Error(`'${command}' is missing: apt-get install ${pkg} (${result.stderr.trim()})`);
  }
}

/** Returns `address` if it is a dotted-quad IPv4 address (it goes into nft rules), else throws. */
export function checkIPv4Address(address: string): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) throw new Error(`not an IPv4 address: ${address}`);
  return address;
}

function faultRules(targets: readonly BlockTarget[]): string {
  const input: string[] = [];
  const output: string[] = [];
  for (const { address, port } of targets) {
    checkIPv4Address(address);
    if (port === undefined) {
      input.push(`ip saddr ${address} drop`);
      output.push(`ip daddr ${address} drop`);
    } else {
      input.push(`ip saddr ${address} tcp sport ${port} drop`);
      output.push(`ip daddr ${address} tcp dport ${port} drop`);
    }
  }
  // "table …; delete table …" first: replaces the rules atomically whether or not they existed.
  return [
    `table inet ${FAULT_TABLE}`,
    `delete table inet ${FAULT_TABLE}`,
    `table inet ${FAULT_TABLE} {`,
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    ...input.map((rule) => `    ${rule}`),
    '  }',
    '  chain output {',
    '    type filter hook output priority filter; policy accept;',
    ...output.map((rule) => `    ${rule}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

const NO_FAULT_RULES = `table inet ${FAULT_TABLE}\ndelete table inet ${FAULT_TABLE}\n`;

export async function createNetworkLab(options: NetworkLabOptions): Promise<NetworkLab> {
  const name = options.name ?? 'ballast';
  if (!/^[a-z0-9]{1,8}$/.test(name)) throw new Error(`lab name must be 1-8 lowercase letters or digits (interface names are short): ${name}`);
  const subnet = options.subnet ?? '10.231.0';
  const hostOctet = options.hostOctet ?? 1;
  const firstOctet = options.firstOctet ?? 11;
  if (firstOctet + options.size > 254) throw new Error('too many namespaces for the subnet');
  await checkPrerequisites();
  await removeLab(name, options.size);

  const bridge = `br-${name}`;
  const hostAddress = `${subnet}.${hostOctet}`;
  const namespaces: LabNamespace[] = [];
  for (let index = 0; index < options.size; index++) {
    namespaces.push({ index, name: `ns-${name}-${index}`, address: `${subnet}.${firstOctet + index}` });
  }
  const state: LabState = { pids: [], directories: [] };
  const saveState = (): void => writeFileSync(statePath(name), JSON.stringify(state));
  saveState();

  const lab: NetworkLab = {
    name,
    bridge,
    hostAddress,
    namespaces,
    launcher: (namespace) => ['ip', 'netns', 'exec', namespace.name],
    track(pid, marker) {
      state.pids.push({ pid, marker });
      saveState();
    },
    trackDirectory(directory) {
      state.directories.push(directory);
      saveState();
    },
    async block(namespace, targets) {
      await mustRunCommand('ip', ['netns', 'exec', namespace.name, 'nft', '-f', '-'], targets.length === 0 ? NO_FAULT_RULES : faultRules(targets));
    },
    async heal() {
      for (const namespace of namespaces) await mustRunCommand('ip', ['netns', 'exec', namespace.name, 'nft', '-f', '-'], NO_FAULT_RULES);
    },
    async destroy() {
      await removeLab(name, options.size);
    },
  };

  try {
    await mustRunCommand('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await mustRunCommand('ip', ['addr', 'add', `${hostAddress}/24`, 'dev', bridge]);
    await mustRunCommand('ip', ['link', 'set', bridge, 'up']);
    for (const namespace of namespaces) {
      const veth = `bl-${name}-${namespace.index}`;
      await mustRunCommand('ip', ['netns', 'add', namespace.name]);
      await mustRunCommand('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace.name]);
      await mustRunCommand('ip', ['link', 'set', veth, 'master', bridge, 'up']);
      await mustRunCommand('ip', ['-n', namespace.name, 'addr', 'add', `${namespace.address}/24`, 'dev', 'eth0']);
      await mustRunCommand('ip', ['-n', namespace.name, 'link', 'set', 'eth0', 'up']);
      await mustRunCommand('ip', ['-n', namespace.name, 'link', 'set', 'lo', 'up']);
    }
  } catch (error) {
    await lab.destroy().catch(() => undefined);
    throw error;
  }
  return lab;
}

// -------------------------------------------------------------------------------------------------
// A cluster in the lab

export interface NetnsClusterOptions {
  /** Lab name (see NetworkLabOptions.name). */
  name?: string;
  nodes?: number;
  partitions?: number;
  backups?: number;
  writeSynchronization?: 'FULL_SYNC' | 'PRIMARY_SYNC';
  durability?: 'sync' | 'async';
  token?: string;
  /** Extra flags for every node. */
  args?: string[];
  /** Activate after start and wait until healthy (default true). */
  activate?: boolean;
}

export interface NetnsMember {
  readonly nodeId: string;
  readonly namespace: LabNamespace;
  /** The address the node binds and advertises (its namespace's). */
  readonly host: string;
  readonly port: number;
  readonly adminPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  process: NodeProcess | null;
}

export interface NetnsCluster {
  readonly lab: NetworkLab;
  readonly etcd: EtcdProcess;
  readonly members: NetnsMember[];
  /** The store URL the nodes use (etcd on the bridge address). */
  readonly storeUrl: string;
  /** The same store through loopback, for the test process (it never goes through a fault rule). */
  readonly localStoreUrl: string;
  readonly token: string;
  activate(body?: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }>;
  /** GET /v1/cluster from a member (default: the first live one). */
  summary(member?: NetnsMember): Promise<Record<string, unknown>>;
  admin(member: NetnsMember, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  kill(member: NetnsMember): Promise<void>;
  start(member: NetnsMember): Promise<void>;
  /**
   * Waits until every live member reports the same map version, ACTIVE, no lost partition, every
   * partition's primary online, and (optionally) every ISR full.
   */
  waitHealthy(options?: { fullIsr?: boolean; timeoutMs?: number }): Promise<void>;
  /**
   * Cuts `member` off from every other member, both ways (rules in its namespace and in theirs),
   * and with `store: true` from etcd too. Clients in the root namespace still reach every member.
   */
  isolate(member: NetnsMember, options: { store: boolean }): Promise<void>;
  /** Removes every fault rule. */
  heal(): Promise<void>;
  /** Kills everything, removes data, namespaces, veths and the bridge. */
  destroy(): Promise<void>;
}

const NODE_PORT = 6379;
const NODE_ADMIN_PORT = 8080;
const NODE_PEER_PORT = 16379;

/** Starts etcd and N ballast-node processes, one per namespace of a new lab; activates by default. */
export async function startNetnsCluster(options: NetnsClusterOptions = {}): Promise<NetnsCluster> {
  const count = options.nodes ?? 3;
  const token = options.token ?? 'test-cluster-token';
  const partitions = options.partitions ?? 16;
  const lab = await createNetworkLab({ size: count, ...(options.name === undefined ? {} : { name: options.name }) });
  let etcd: EtcdProcess | null = null;
  const members: NetnsMember[] = [];
  const destroy = async (): Promise<void> => {
    await Promise.all(members.map((member) => member.process?.kill()));
    await etcd?.stop();
    for (const member of members) removeDirectory(member.dataDir);
    await lab.destroy();
  };
  try {
    etcd = await startEtcd({ clientHosts: ['127.0.0.1', lab.hostAddress] });
    lab.track(etcd.pid(), etcd.dataDir);
    lab.trackDirectory(etcd.dataDir);
    const prefix = `/ballast-${lab.name}`;
    const storeUrl = `etcd://${lab.hostAddress}:${etcd.clientPort}${prefix}`;
    const localStoreUrl = `etcd://127.0.0.1:${etcd.clientPort}${prefix}`;
    for (const namespace of lab.namespaces) {
      const dataDir = temporaryDirectory(`ballast-netns-${namespace.index}-`);
      lab.trackDirectory(dataDir);
      members.push({
        nodeId: `n-${namespace.index}`,
        namespace,
        host: namespace.address,
        // Each namespace has its own ports: every node can use the same ones.
        port: NODE_PORT,
        adminPort: NODE_ADMIN_PORT,
        peerPort: NODE_PEER_PORT,
        dataDir,
        process: null,
      });
    }
    const start = async (member: NetnsMember): Promise<void> => {
      member.process = await startNode({
        dataDir: member.dataDir,
        port: member.port,
        adminPort: member.adminPort,
        durability: options.durability ?? 'sync',
        launcher: lab.launcher(member.namespace),
        args: [
          '--bind', member.host,
          '--admin-bind', member.host,
          '--advertise-host', member.host,
          '--node-id', member.nodeId,
          '--peer-port', String(member.peerPort),
          '--cluster-store', storeUrl,
          '--cluster-token', token,
          '--partitions', String(partitions),
          ...(options.args ?? []),
        ],
      });
      lab.track(member.process.pid, member.dataDir);
    };
    const admin = async (
      member: NetnsMember,
      method: string,
      urlPath: string,
      body?: unknown,
    ): Promise<{ status: number; body: Record<string, unknown> }> => {
      const response = await fetch(`http://${member.host}:${member.adminPort}${urlPath}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(5000),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const live = (): NetnsMember => {
      const member = members.find((candidate) => candidate.process !== null);
      if (member === undefined) throw new Error('no live node');
      return member;
    };
    await Promise.all(members.map((member) => start(member)));
    const startedEtcd = etcd;
    const cluster: NetnsCluster = {
      lab,
      etcd: startedEtcd,
      members,
      storeUrl,
      localStoreUrl,
      token,
      activate: (body = { partitions, backups: options.backups ?? 1, writeSynchronization: options.writeSynchronization ?? 'FULL_SYNC' }) =>
        admin(live(), 'POST', '/v1/cluster/activate', body),
      summary: async (member = live()) => (await admin(member, 'GET', '/v1/cluster')).body,
      admin,
      async kill(member) {
        await member.process?.kill();
        member.process = null;
      },
      start,
      async waitHealthy({ fullIsr = true, timeoutMs = 30_000 } = {}) {
        const deadline = Date.now() + timeoutMs;
        let last: unknown = null;
        while (Date.now() < deadline) {
          try {
            const summaries = await Promise.all(members.filter((member) => member.process !== null).map((member) => cluster.summary(member)));
            last = summaries.map((summary) => ({ node: (summary.thisNode as { nodeId?: string } | undefined)?.nodeId, mapVersion: summary.mapVersion, state: summary.state, partitions: summary.partitions }));
            const healthy = summaries.every((summary) => {
              const counts = summary.partitions as { total: number; underReplicated: number; lost: number; withoutOnlinePrimary: number };
              return (
                summary.state === 'ACTIVE' &&
                summary.mapVersion === summaries[0]!.mapVersion &&
                counts.total > 0 &&
                counts.lost === 0 &&
                counts.withoutOnlinePrimary === 0 &&
                (!fullIsr || counts.underReplicated === 0)
              );
            });
            if (healthy) return;
          } catch (error) {
            last = (error as Error).message;
          }
          await sleep(100);
        }
        throw new Error(`cluster not healthy after ${timeoutMs} ms: ${JSON.stringify(last)}`);
      },
      async isolate(member, { store }) {
        const others = members.filter((other) => other !== member);
        await lab.block(member.namespace, [
          ...others.map((other) => ({ address: other.host })),
          ...(store ? [{ address: lab.hostAddress, port: startedEtcd.clientPort }] : []),
        ]);
        for (const other of others) await lab.block(other.namespace, [{ address: member.host }]);
      },
      heal: () => lab.heal(),
      destroy,
    };
    if (options.activate !== false) {
      const result = await cluster.activate();
      if (result.status !== 200) throw new Error(`activation failed: ${JSON.stringify(result.body)}`);
      await cluster.waitHealthy();
    }
    return cluster;
  } catch (error) {
    const output = members.map((member) => `--- ${member.nodeId}\n${member.process?.output().slice(-4000) ?? '(not started)'}`).join('\n');
    await destroy().catch(() => undefined);
    throw new Error(`could not start the namespaced cluster: ${(error as Error).message}\n${output}`, { cause: error });
  }
}

