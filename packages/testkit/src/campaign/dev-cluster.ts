/**
 * A fresh `ballast dev` cluster for one campaign run, its members in a NetworkLab: the lab (bridge,
 * one namespace per member), the KVCluster file, the `ballast dev --netns-lab` process (started,
 * SIGKILLed and started again on the same data directory and ports: an operator crash), the
 * runtime's admin API, and a bounded wait for a settled cluster. Implements the injector's
 * FaultTarget. Clients in the root namespace reach member i on its namespace address, port base+i.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultTarget } from '../faults/injector.js';
import { createNetworkLab, type LabNamespace, type NetworkLab } from '../netns.js';
import { isPortFree, REPOSITORY_ROOT } from '../processes.js';
import { waitFor, WaitTimeoutError } from '../wait.js';

const OPERATOR_MAIN = path.join(REPOSITORY_ROOT, 'packages/operator/dist/main.js');
const STORE_PORT_OFFSET = 300;
const ADMIN_PORT_OFFSET = 400;
const OPERATOR_READY_MS = 30_000;
const OPERATOR_EXIT_MS = 30_000;
const SETTLE_POLL_MS = 250;

export type WriteSynchronization = 'FULL_SYNC' | 'PRIMARY_SYNC';

export interface CampaignClusterOptions {
  /** Lab name (1-8 lowercase letters or digits) and its /24 (first three octets). */
  labName: string;
  subnet: string;
  members: number;
  partitions: number;
  backups: number;
  writeSynchronization: WriteSynchronization;
  graceSeconds: number;
  durability: 'sync' | 'async';
  /** `ballast dev`'s data directory (members' data, logs, status). */
  dataDir: string;
  /** Where `ballast dev`'s own output goes (appended across restarts). */
  operatorLog: string;
}

export interface MemberEndpoint {
  name: string;
  host: string;
  port: number;
  adminPort: number;
}

/** The runtime's /v1/kvcluster status, as far as the campaign reads it. */
export interface OperatorStatus {
  clusterState: string;
  baseline: { nodes: string[]; pending: unknown };
  partitions: { total: number; underReplicated: number; lost: number };
  conditions: Array<{ type: string; status: string; reason: string; message: string }>;
}

export interface OperatorMember {
  name: string;
  pid: number | null;
  running: boolean;
  ready: boolean;
  inBaseline: boolean;
}

function kvclusterYaml(options: CampaignClusterOptions): string {
  return [
    'apiVersion: ballast.io/v1alpha1',
    'kind: KVCluster',
    'metadata:',
    '  name: c',
    'spec:',
    `  replicas: ${options.members}`,
    `  partitions: ${options.partitions}`,
    `  backups: ${options.backups}`,
    `  writeSynchronization: ${options.writeSynchronization}`,
    `  durability: ${options.durability}`,
    '  baseline:',
    '    autoAdjust:',
    `      graceTimeout: ${options.graceSeconds}s`,
    '',
  ].join('\n');
}

/** A base port whose store and admin ports are free in the root namespace (members have their own). */
async function chooseBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral range (32768+). Not part of any schedule: any free range will do.
    const base = 20_000 + Math.floor(Math.random() * 120) * 100;
    if ((await isPortFree(base + STORE_PORT_OFFSET)) && (await isPortFree(base + ADMIN_PORT_OFFSET))) return base;
  }
  throw new Error('no free port range for ballast dev');
}

export class CampaignCluster implements FaultTarget {
  readonly memberNames: string[];
  readonly endpoints: MemberEndpoint[];
  readonly store: { address: string; port: number };
  private operator: ChildProcess | null = null;
  private operatorOutput = '';
  /** Operator kills and starts run one at a time (two restart-operator faults may overlap). */
  private operatorQueue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly options: CampaignClusterOptions,
    readonly lab: NetworkLab,
    readonly basePort: number,
  ) {
    this.memberNames = lab.namespaces.map((namespace) => `c-${namespace.index}`);
    this.endpoints = lab.namespaces.map((namespace) => ({
      name: `c-${namespace.index}`,
      host: namespace.address,
      port: basePort + namespace.index,
      adminPort: basePort + 100 + namespace.index,
    }));
    this.store = { address: lab.hostAddress, port: basePort + STORE_PORT_OFFSET };
  }

  /** Creates the lab, starts `ballast dev` in it and waits until the cluster is active and settled. */
  static async start(options: CampaignClusterOptions): Promise<CampaignCluster> {
    const lab = await createNetworkLab({ name: options.labName, size: options.members, subnet: options.subnet });
    let cluster: CampaignCluster | null = null;
    try {
      cluster = new CampaignCluster(options, lab, await chooseBasePort());
      mkdirSync(options.dataDir, { recursive: true });
      writeFileSync(path.join(options.dataDir, 'kvcluster.yaml'), kvclusterYaml(options));
      await cluster.startOperator();
      const settled = await cluster.waitSettled(60_000);
      if (!settled.settled) throw new Error(`the new cluster did not settle: ${settled.why}`);
      return cluster;
    } catch (error) {
      await cluster?.close().catch(() => undefined);
      await lab.destroy().catch(() => undefined);
      throw error;
    }
  }

  namespaceOf(member: string): LabNamespace {
    const index = this.memberNames.indexOf(member);
    if (index < 0) throw new Error(`no member ${member}`);
    return this.lab.namespaces[index]!;
  }

  adminUrl(route: string): string {
    return `http://127.0.0.1:${this.basePort + ADMIN_PORT_OFFSET}${route}`;
  }

  private async adminJson<T>(method: string, route: string): Promise<T> {
    const response = await fetch(this.adminUrl(route), { method, signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`${method} ${route}: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  async status(): Promise<OperatorStatus> {
    return (await this.adminJson<{ status: OperatorStatus }>('GET', '/v1/kvcluster')).status;
  }

  async operatorMembers(): Promise<OperatorMember[]> {
    return this.adminJson<OperatorMember[]>('GET', '/v1/members');
  }

  async stopMember(member: string): Promise<void> {
    await this.adminJson('POST', `/v1/members/${member}/stop`);
  }

  async startMember(member: string): Promise<void> {
    await this.adminJson('POST', `/v1/members/${member}/start`);
  }

  private exclusive<T>(action: () => Promise<T>): Promise<T> {
    const result = this.operatorQueue.then(action);
    this.operatorQueue = result.catch(() => undefined);
    return result;
  }

  /** Starts `ballast dev` unless it runs; resolves once it serves its admin API. */
  startOperator(): Promise<void> {
    return this.exclusive(() => this.spawnOperator());
  }

  private async spawnOperator(): Promise<void> {
    if (this.operator !== null) return;
    const { dataDir } = this.options;
    const child = spawn(
      process.execPath,
      [OPERATOR_MAIN, 'dev', '-f', path.join(dataDir, 'kvcluster.yaml'), '--data-dir', dataDir, '--base-port', String(this.basePort), '--netns-lab', this.lab.name],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.operator = child;
    // A campaign that crashes leaves it behind; the next lab of this name kills it (by pid and marker).
    this.lab.track(child.pid!, dataDir);
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      this.operatorOutput = (this.operatorOutput + chunk.toString('utf8')).slice(-20_000);
      appendFileSync(this.options.operatorLog, chunk);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('exit', () => {
      if (this.operator === child) this.operator = null;
    });
    const deadline = performance.now() + OPERATOR_READY_MS;
    while (!/connect: redis-cli/.test(output)) {
      if (this.operator !== child) throw new Error(`ballast dev exited at start:\n${output.slice(-3000)}`);
      if (performance.now() > deadline) throw new Error(`ballast dev did not start within ${OPERATOR_READY_MS} ms:\n${output.slice(-3000)}`);
      await Promise.race([sleep(50), exited]);
    }
  }

  /** SIGKILL of the `ballast dev` process alone: its members keep running; the store goes down with it. */
  killOperator(): Promise<void> {
    return this.exclusive(async () => {
      const child = this.operator;
      if (child === null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    });
  }

  /**
   * Waits (bounded) until the cluster is ACTIVE with every member running, ready and in the
   * baseline, nothing pending, under-replicated, lost or moving.
   */
  async waitSettled(timeoutMs: number): Promise<{ settled: boolean; why: string; waitedMs: number }> {
    const started = performance.now();
    let why = 'not asked yet';
    try {
      await waitFor(
        'a settled cluster',
        async () => {
          const problems = await this.unsettledBecause().catch((error: unknown) => [(error as Error).message]);
          why = problems.join('; ');
          return problems.length === 0 ? true : undefined;
        },
        timeoutMs,
        SETTLE_POLL_MS,
      );
      return { settled: true, why: '', waitedMs: performance.now() - started };
    } catch (error) {
      // Not settling is a result of the run, reported with what still stood in the way.
      if (!(error instanceof WaitTimeoutError)) throw error;
      return { settled: false, why, waitedMs: performance.now() - started };
    }
  }

  /** What keeps the cluster from being settled now (none: settled). */
  private async unsettledBecause(): Promise<string[]> {
    const [status, members] = await Promise.all([this.status(), this.operatorMembers()]);
    const rebalancing = status.conditions.find((condition) => condition.type === 'Rebalancing')?.status === 'True';
    const notReady = members.filter((member) => !member.running || !member.ready || !member.inBaseline).map((member) => member.name);
    return [
      status.clusterState === 'ACTIVE' ? '' : `state ${status.clusterState}`,
      notReady.length === 0 ? '' : `members not running, ready and in the baseline: ${notReady.join(',')}`,
      status.baseline.pending === null ? '' : 'a baseline change is pending',
      status.partitions.underReplicated === 0 ? '' : `${status.partitions.underReplicated} partitions under-replicated`,
      status.partitions.lost === 0 ? '' : `${status.partitions.lost} partitions lost`,
      rebalancing ? 'rebalancing' : '',
    ].filter((problem) => problem !== '');
  }

  /**
   * What every member says about itself now (GET /v1/cluster, /v1/cluster/map,
   * /v1/cluster/rebalance/local and /metrics), for a run that did not settle: the evidence.
   */
  async memberDiagnostics(): Promise<Record<string, Record<string, unknown>>> {
    const routes = ['/v1/cluster', '/v1/cluster/map', '/v1/cluster/rebalance/local', '/metrics'];
    const result: Record<string, Record<string, unknown>> = {};
    for (const endpoint of this.endpoints) {
      const member: Record<string, unknown> = {};
      for (const route of routes) {
        try {
          const response = await fetch(`http://${endpoint.host}:${endpoint.adminPort}${route}`, { signal: AbortSignal.timeout(3000) });
          const text = await response.text();
          member[route] = route === '/metrics' ? text.split('\n').filter((line) => /^ballast_(replication|cluster|primary|peer|rebalance|partitions)/.test(line)) : (JSON.parse(text) as unknown);
        } catch (error) {
          member[route] = `unavailable: ${(error as Error).message}`;
        }
      }
      result[endpoint.name] = member;
    }
    return result;
  }

  /** The last of `ballast dev`'s output (for error messages). */
  recentOperatorOutput(): string {
    return this.operatorOutput.slice(-4000);
  }

  /**
   * Stops `ballast dev` (SIGINT: it stops its members) and removes the lab (which kills whatever
   * still runs in its namespaces). Leaves the data directory to the caller.
   */
  async close(): Promise<void> {
    await this.exclusive(async () => {
      const child = this.operator;
      if (child === null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGINT');
      const done = await Promise.race([exited.then(() => true), sleep(OPERATOR_EXIT_MS).then(() => false)]);
      if (!done) {
        child.kill('SIGKILL');
        await exited;
      }
    });
    await this.lab.destroy();
  }
}
