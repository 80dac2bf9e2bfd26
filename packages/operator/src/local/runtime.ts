/**
 * The local runtime (`ballast dev`): the same reconcile core as on Kubernetes, with processes
 * instead of pods. It hosts the embedded ClusterMap store, runs each member as a `ballast-node`
 * process with its own data directory (a pod with its volume), restarts a member that dies unless
 * it was stopped on purpose (as a kubelet would), re-reads the KVCluster file when it changes, and
 * keeps the KVCluster status in `<data-dir>/status.json` so a restart of `ballast dev` keeps a
 * pending baseline change and its deadline.
 *
 * Ports: member i serves Redis on basePort + i, admin HTTP on basePort + 100 + i and its peer link
 * on basePort + 200 + i; the store listens on basePort + 300.
 *
 * The member processes' pids are kept in `<data-dir>/member-processes.json`: a runtime that died
 * without stopping its members (kill -9) leaves them running, and the next one adopts them instead
 * of starting a second ballast-node on the same data directory and ports.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, closeSync } from 'node:fs';
import path from 'node:path';
import { startEmbeddedStore, type EmbeddedStoreServer } from '@ballast/cluster-store';
import { applyDefaults, validateSpec, type KVCluster, type KVClusterSpec, type KVClusterSpecInput, type KVClusterStatus } from '../api.js';
import { decide, memberConfigHash, type Action, type Observed, type ObservedCluster } from '../decide.js';
import { emptyReconcileStats, LOCAL_NAMESPACE, membersByState, type ClusterMetricsView, type ReconcileStats } from '../metrics.js';
import { parseKVClusterFile } from './manifest.js';
import {
  adoptProcess,
  LOOPBACK_PLACEMENT,
  netnsLabPlacement,
  readRecordedProcesses,
  spawnedProcess,
  spawnMember,
  writeRecordedProcesses,
  type MemberProcess,
  type Placement,
  type RecordedMemberProcess,
} from './member-process.js';
import { readRebuildableJsonFile, writeFileAtomically } from './state-files.js';

export interface LocalRuntimeOptions {
  file: string;
  dataDir: string;
  basePort: number;
  /** Path of the ballast-node entry point (packages/storage-node/dist/main.js). */
  nodeMain: string;
  log: (line: string) => void;
  /**
   * Testing option: run member i inside network namespace `ns-<name>-i` of the NetworkLab `<name>`
   * (packages/testkit/src/netns.ts), on that namespace's address, with the store on the lab's bridge
   * address, so network faults can be injected between members.
   */
  netnsLab?: string;
}

export interface MemberView {
  name: string;
  pid: number | null;
  /** The address the member serves on (127.0.0.1, or its namespace's with --netns-lab). */
  host: string;
  port: number;
  adminPort: number;
  peerPort: number;
  running: boolean;
  ready: boolean;
  inBaseline: boolean;
  stoppedByUser: boolean;
  restarts: number;
}

interface Member {
  name: string;
  index: number;
  nodeProcess: MemberProcess | null;
  /** Stopping on purpose (scale-in, restart, user stop): its exit is not a crash. */
  stopping: boolean;
  stoppedByUser: boolean;
  configHash: string;
  restarts: number;
  exited: Promise<void> | null;
  /** When the current process was started (Date.now(); for an adopted one, by the previous runtime). */
  startedAtMs: number;
}

/** A member started this recently and not online yet counts as starting, not as gone. */
const STARTING_GRACE_MS = 60_000;

export const STORE_PORT_OFFSET = 300;

export class LocalRuntime {
  private store: EmbeddedStoreServer | null = null;
  private token = '';
  private object: KVCluster | null = null;
  private status: KVClusterStatus | undefined;
  private readonly members = new Map<string, Member>();
  /** Members stopped through the admin API before this process started. */
  private readonly stoppedAtStart = new Set<string>();
  private cluster: ObservedCluster | null = null;
  private lastActionError: { action: string; message: string } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private reconciling = false;
  private again = false;
  private closed = false;
  private fileText = '';
  private fileTimer: NodeJS.Timeout | null = null;
  readonly stats: ReconcileStats & { actions: number } = { ...emptyReconcileStats(), actions: 0 };
  /** When the last reconcile finished without error (Date.now()); null before the first one. */
  private lastReconcileMs: number | null = null;
  private placement: Placement = LOOPBACK_PLACEMENT;

  constructor(private readonly options: LocalRuntimeOptions) {}

  async start(): Promise<void> {
    const { dataDir, basePort } = this.options;
    mkdirSync(dataDir, { recursive: true });
    const tokenFile = path.join(dataDir, 'token');
    if (!existsSync(tokenFile)) writeFileAtomically(tokenFile, randomBytes(24).toString('hex'), 0o600);
    this.token = readFileSync(tokenFile, 'utf8').trim();
    const log = this.options.log;
    this.status = readRebuildableJsonFile<KVClusterStatus | undefined>(this.statusFile(), undefined, 'a pending baseline change starts its grace again', log);
    this.loadFile(true);
    for (const name of readRebuildableJsonFile<string[]>(this.stoppedFile(), [], 'members stopped with `stop` run again', log)) this.stoppedAtStart.add(name);
    if (this.options.netnsLab !== undefined) this.placement = netnsLabPlacement(this.options.netnsLab);
    this.adoptMembers();
    this.store = await startEmbeddedStore({ host: this.placement.storeHost, port: basePort + STORE_PORT_OFFSET, dataFile: path.join(dataDir, 'cluster-map.json'), token: this.token });
    this.fileTimer = setInterval(() => this.loadFile(false), 1000);
    this.fileTimer.unref();
    await this.reconcile();
  }

  get name(): string {
    return this.object!.metadata.name;
  }

  get spec(): KVClusterSpec {
    return this.object!.spec;
  }

  kvcluster(): KVCluster {
    return { ...this.object!, ...(this.status === undefined ? {} : { status: this.status }) };
  }

  clusterToken(): string {
    return this.token;
  }

  memberViews(): MemberView[] {
    const baseline = new Set(this.cluster?.baseline ?? []);
    const online = new Set(this.cluster?.onlineNodes ?? []);
    return [...this.members.values()]
      .sort((a, b) => a.index - b.index)
      .map((member) => ({
        name: member.name,
        pid: member.nodeProcess?.pid ?? null,
        host: this.placement.member(member.index).host,
        ...this.ports(member.index),
        running: member.nodeProcess !== null && !member.stopping,
        ready: online.has(member.name),
        inBaseline: baseline.has(member.name),
        stoppedByUser: member.stoppedByUser,
        restarts: member.restarts,
      }));
  }

  /**
   * Simulates losing a machine: the member stops (SIGKILL) and is not restarted until started again,
   * also across a restart of `ballast dev` (the set is kept in <data-dir>/stopped-members.json).
   */
  async stopMember(name: string): Promise<boolean> {
    const member = this.members.get(name);
    if (member === undefined) return false;
    member.stoppedByUser = true;
    this.saveStopped();
    await this.stopProcess(member, 'SIGKILL');
    this.kick();
    return true;
  }

  startMember(name: string): boolean {
    const member = this.members.get(name);
    if (member === undefined) return false;
    member.stoppedByUser = false;
    this.saveStopped();
    this.kick();
    return true;
  }

  private statusFile(): string {
    return path.join(this.options.dataDir, 'status.json');
  }

  private stoppedFile(): string {
    return path.join(this.options.dataDir, 'stopped-members.json');
  }

  private saveStopped(): void {
    const names = [...this.members.values()].filter((member) => member.stoppedByUser).map((member) => member.name);
    writeFileAtomically(this.stoppedFile(), `${JSON.stringify(names)}\n`);
  }

  /** The cluster as the operator metrics show it (namespace `local`). */
  metricsView(): ClusterMetricsView {
    const views = this.memberViews();
    return {
      namespace: LOCAL_NAMESPACE,
      cluster: this.name,
      replicasDesired: this.spec.replicas,
      lastReconcileMs: this.lastReconcileMs,
      members: membersByState(views),
      status: this.status,
    };
  }

  /** The member's admin HTTP base URL. */
  adminUrl(index: number): string {
    return `http://${this.placement.member(index).host}:${this.ports(index).adminPort}`;
  }

  ports(index: number): { port: number; adminPort: number; peerPort: number } {
    const base = this.options.basePort;
    return { port: base + index, adminPort: base + 100 + index, peerPort: base + 200 + index };
  }

  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.fileTimer !== null) clearInterval(this.fileTimer);
    await Promise.all([...this.members.values()].map((member) => this.stopProcess(member, 'SIGTERM')));
    await this.store?.close();
  }

  // --- The KVCluster file -------------------------------------------------------------------------

  private loadFile(first: boolean): void {
    let text: string;
    try {
      text = readFileSync(this.options.file, 'utf8');
    } catch (error) {
      if (first) throw error;
      return;
    }
    if (text === this.fileText) return;
    this.fileText = text;
    let parsed: { name: string; spec: KVClusterSpecInput; raw: Record<string, unknown> };
    try {
      parsed = parseKVClusterFile(text);
    } catch (error) {
      if (first) throw error;
      this.options.log(`ignoring ${this.options.file}: ${(error as Error).message}`);
      return;
    }
    const spec = applyDefaults(parsed.spec);
    const errors = validateSpec(spec, this.object?.spec);
    if (this.object !== null && parsed.name !== this.object.metadata.name) errors.push(`metadata.name: is immutable (it is ${this.object.metadata.name})`);
    if (errors.length > 0) {
      const message = `${this.options.file} is invalid:\n  ${errors.join('\n  ')}`;
      if (first) throw new Error(message);
      this.options.log(`${message}\n(keeping the previous spec)`);
      return;
    }
    const generation = (this.object?.metadata.generation ?? this.status?.observedGeneration ?? 0) + 1;
    this.object = { apiVersion: 'ballast.io/v1alpha1', kind: 'KVCluster', metadata: { name: parsed.name, generation }, spec };
    if (!first) {
      this.options.log(`${this.options.file} changed (generation ${generation})`);
      this.kick();
    }
  }

  // --- Reconcile ----------------------------------------------------------------------------------

  /** Reconciles soon (an event: a file change, a member exit, an admin call). */
  kick(): void {
    if (this.closed) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reconcile(), 50);
  }

  private async reconcile(): Promise<void> {
    if (this.closed) return;
    if (this.reconciling) {
      this.again = true;
      return;
    }
    this.reconciling = true;
    const started = performance.now();
    let wakeAtMs = Date.now() + 1000;
    try {
      this.stats.reconciles++;
      this.cluster = await this.observeCluster();
      const observed: Observed = {
        generation: this.object!.metadata.generation ?? 1,
        members: [...this.members.values()].map((member) => ({
          name: member.name,
          running: member.nodeProcess !== null && !member.stopping,
          online: this.cluster?.onlineNodes.includes(member.name) ?? false,
          configHash: member.configHash,
          starting:
            member.nodeProcess !== null &&
            !member.stopping &&
            !(this.cluster?.onlineNodes.includes(member.name) ?? false) &&
            Date.now() - member.startedAtMs < STARTING_GRACE_MS,
        })),
        cluster: this.cluster,
        lastActionError: this.lastActionError,
      };
      const decision = decide({ name: this.name, spec: this.spec, status: this.status, observed, nowMs: Date.now() });
      this.status = decision.status;
      writeFileAtomically(this.statusFile(), `${JSON.stringify(this.status, null, 2)}\n`);
      this.lastActionError = null;
      for (const action of decision.actions) await this.carryOut(action);
      wakeAtMs = decision.wakeAtMs;
      // After changing the cluster, look again soon: the status then shows the result.
      if (decision.actions.some((action) => action.kind !== 'run-members')) wakeAtMs = Math.min(wakeAtMs, Date.now() + 200);
      this.lastReconcileMs = Date.now();
    } catch (error) {
      this.stats.reconcileErrors++;
      this.options.log(`reconcile failed: ${(error as Error).message}`);
    } finally {
      this.stats.reconcileDurations.observe((performance.now() - started) / 1000);
      this.reconciling = false;
    }
    if (this.closed) return;
    if (this.again) {
      this.again = false;
      this.kick();
      return;
    }
    if (this.timer !== null) clearTimeout(this.timer);
    // Level-based: look again at least every second while members or moves are in flux.
    this.timer = setTimeout(() => void this.reconcile(), Math.max(50, Math.min(wakeAtMs - Date.now(), 1000)));
  }

  private async carryOut(action: Action): Promise<void> {
    switch (action.kind) {
      case 'run-members':
        await this.runMembers(action.names);
        return;
      case 'activate':
        this.stats.actions++;
        await this.adminWrite('activate', 'POST', '/v1/cluster/activate', {
          partitions: action.partitions,
          backups: action.backups,
          writeSynchronization: action.writeSynchronization,
        });
        this.options.log(`activated the cluster (${action.partitions} partitions, backups ${action.backups}, ${action.writeSynchronization})`);
        return;
      case 'set-baseline':
        this.stats.actions++;
        this.options.log(`setting the baseline to ${action.nodes.join(', ')}: ${action.reason}`);
        await this.adminWrite('set-baseline', 'PUT', '/v1/cluster/baseline', { nodes: action.nodes, drain: action.drain });
        return;
      case 'restart-member': {
        this.stats.actions++;
        const member = this.members.get(action.name);
        if (member === undefined) return;
        this.options.log(`restarting ${action.name}: ${action.reason}`);
        await this.stopProcess(member, 'SIGTERM');
        this.startProcess(member);
        return;
      }
    }
  }

  private newMember(name: string): Member {
    const index = Number(name.slice(this.name.length + 1));
    const member: Member = { name, index, nodeProcess: null, stopping: false, stoppedByUser: this.stoppedAtStart.has(name), configHash: '', restarts: 0, exited: null, startedAtMs: 0 };
    this.members.set(name, member);
    return member;
  }

  private processesFile(): string {
    return path.join(this.options.dataDir, 'member-processes.json');
  }

  private recordProcesses(): void {
    const recorded: Record<string, RecordedMemberProcess> = {};
    for (const member of this.members.values()) {
      if (member.nodeProcess !== null) recorded[member.name] = { pid: member.nodeProcess.pid, configHash: member.configHash, startedAtMs: member.startedAtMs };
    }
    writeRecordedProcesses(this.processesFile(), recorded);
  }

  /** What identifies a member's process in its command line (its data directory). */
  private processMarker(name: string): string {
    return `--data-dir ${path.join(this.options.dataDir, name)} `;
  }

  /** Takes over the member processes a previous runtime of this data directory left running. */
  private adoptMembers(): void {
    for (const [name, recorded] of Object.entries(readRecordedProcesses(this.processesFile()))) {
      const nodeProcess = adoptProcess(recorded.pid, this.processMarker(name));
      if (nodeProcess === null) continue;
      const member = this.newMember(name);
      member.configHash = recorded.configHash;
      member.startedAtMs = recorded.startedAtMs;
      this.attach(member, nodeProcess);
      this.options.log(`adopted ${name} (pid ${recorded.pid}), left running by a previous ballast dev`);
    }
  }

  private async runMembers(names: string[]): Promise<void> {
    const wanted = new Set(names);
    for (const name of names) {
      const member = this.members.get(name) ?? this.newMember(name);
      if (member.nodeProcess === null && !member.stoppedByUser) this.startProcess(member);
    }
    for (const member of this.members.values()) {
      if (wanted.has(member.name)) continue;
      if (member.nodeProcess !== null) {
        this.options.log(`stopping ${member.name}: no longer needed (its data has moved)`);
        await this.stopProcess(member, 'SIGTERM');
      }
      this.members.delete(member.name);
    }
  }

  private startProcess(member: Member): void {
    const { port, adminPort, peerPort } = this.ports(member.index);
    const spec = this.spec;
    const dataDir = path.join(this.options.dataDir, member.name);
    mkdirSync(dataDir, { recursive: true });
    const placement = this.placement.member(member.index);
    const logFd = openSync(path.join(this.options.dataDir, `${member.name}.log`), 'a');
    const child = spawnMember(
      placement,
      [
        process.execPath,
        this.options.nodeMain,
        '--port', String(port),
        '--admin-port', String(adminPort),
        '--peer-port', String(peerPort),
        '--bind', placement.host,
        '--admin-bind', placement.host,
        '--advertise-host', placement.host,
        '--data-dir', dataDir,
        '--node-id', member.name,
        '--cluster-id', this.name,
        '--cluster-store', `http://${this.placement.storeHost}:${this.options.basePort + STORE_PORT_OFFSET}`,
        '--cluster-token', this.token,
        '--partitions', String(spec.partitions),
        '--durability', spec.durability,
      ],
      logFd,
    );
    closeSync(logFd);
    member.startedAtMs = Date.now();
    member.configHash = memberConfigHash(spec);
    this.attach(member, spawnedProcess(child));
  }

  /** Makes `nodeProcess` the member's current process; its unplanned exit restarts the member. */
  private attach(member: Member, nodeProcess: MemberProcess): void {
    member.nodeProcess = nodeProcess;
    member.stopping = false;
    this.recordProcesses();
    member.exited = nodeProcess.exited.then(({ code, signal }) => {
      if (member.nodeProcess === nodeProcess) member.nodeProcess = null;
      if (!this.closed) this.recordProcesses();
      if (!member.stopping && !this.closed) {
        member.restarts++;
        this.options.log(`${member.name} exited (${signal ?? (code === null ? 'adopted process gone' : `code ${code}`)}); restarting it`);
        setTimeout(() => this.kick(), 500);
      }
    });
  }

  private async stopProcess(member: Member, signal: NodeJS.Signals): Promise<void> {
    const nodeProcess = member.nodeProcess;
    if (nodeProcess === null) return;
    member.stopping = true;
    nodeProcess.kill(signal);
    const exited = member.exited ?? Promise.resolve();
    const timeout = new Promise<void>((resolve) => setTimeout(() => {
      nodeProcess.kill('SIGKILL');
      resolve();
    }, 15_000).unref());
    await Promise.race([exited, timeout]);
    await exited;
  }

  // --- Talking to the nodes -----------------------------------------------------------------------

  private async observeCluster(): Promise<ObservedCluster | null> {
    for (const member of [...this.members.values()].sort((a, b) => a.index - b.index)) {
      if (member.nodeProcess === null || member.stopping) continue;
      const admin = this.adminUrl(member.index);
      try {
        const summary = (await getJson(`${admin}/v1/cluster`)) as {
          state: ObservedCluster['state'] | null;
          autoActivatePending: boolean;
          partitionCount: number;
          baseline: string[];
          onlineNodes: string[];
          partitions: { total: number; underReplicated: number; lost: number };
        };
        if (summary.state === null) continue;
        const rebalance = (await getJson(`${admin}/v1/cluster/rebalance`).catch(() => null)) as ObservedCluster['rebalance'];
        return {
          state: summary.state,
          autoActivatePending: summary.autoActivatePending,
          activated: summary.partitions.total > 0,
          baseline: summary.baseline,
          onlineNodes: summary.onlineNodes,
          partitions: { total: summary.partitions.total, underReplicated: summary.partitions.underReplicated, lost: summary.partitions.lost },
          rebalance:
            rebalance === null
              ? null
              : {
                  inProgress: rebalance.inProgress,
                  partitionsTotal: rebalance.partitionsTotal,
                  partitionsDone: rebalance.partitionsDone,
                  bytesMoved: rebalance.bytesMoved,
                  bytesRemaining: rebalance.bytesRemaining,
                },
        };
      } catch {
        // Not up yet (or going away): ask the next member.
      }
    }
    return null;
  }

  private async adminWrite(action: string, method: string, route: string, body: unknown): Promise<void> {
    for (const member of [...this.members.values()].sort((a, b) => a.index - b.index)) {
      if (member.nodeProcess === null || member.stopping) continue;
      let response: Response;
      try {
        response = await fetch(`${this.adminUrl(member.index)}${route}`, {
          method,
          headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
      } catch {
        continue;
      }
      if (response.ok) return;
      const text = await response.text();
      this.lastActionError = { action, message: `HTTP ${response.status}: ${text.slice(0, 500)}` };
      this.options.log(`${action} refused: HTTP ${response.status}: ${text.slice(0, 300)}`);
      return;
    }
    this.lastActionError = { action, message: 'no member answered' };
  }
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}
