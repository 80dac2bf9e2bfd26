/**
 * A simulated kubelet and StatefulSet controller for tests against the kube API emulator: it turns
 * the StatefulSets of one namespace into Pod objects and each Pod into a real `ballast-node`
 * process, so data flows while the operator talks only to the API.
 *
 * What it does, as the real components would:
 * - StatefulSet controller: pods `<set>-0` … `<set>-(replicas-1)` exist (created from the template,
 *   owned by the set); pods beyond `replicas` are deleted (highest first); a deleted pod of an
 *   ordinal still wanted is created again once its process has exited (OnDelete updates: the new
 *   pod gets the current template).
 * - kubelet: a pod's process runs with the container's args; it is restarted when it dies
 *   (restartPolicy Always); a deleted pod's process gets SIGTERM (then SIGKILL after the grace
 *   period). Each pod keeps its data directory across restarts and re-creation (its PVC).
 * - Machine failure: `fail(pod)` kills the process with SIGKILL and deletes the pod, and nothing
 *   recreates it until `recover(pod)` (a cordoned, dead node).
 *
 * Since every process runs on this machine, the container's ports are replaced by free loopback
 * ports (stable per pod, like its DNS name), `--advertise-host` by 127.0.0.1, the data directory by
 * one under `workDir`, the token file by a copy of the Secret's token, and the store URL gets
 * `?server=<emulator URL>` (the emulator needs no credentials).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApiException, AppsV1Api, CoreV1Api, type KubeConfig, type V1Pod, type V1StatefulSet } from '@kubernetes/client-node';
import { freePort, NODE_MAIN } from './processes.js';

export interface SimulatedKubeletOptions {
  config: KubeConfig;
  /** The API server URL the nodes use for their kubernetes:// store. */
  serverUrl: string;
  namespace: string;
  /** Volumes (one directory per pod) and logs live here. */
  workDir: string;
  log?: (line: string) => void;
  /** How often it looks at the API (ms). */
  intervalMs?: number;
}

interface RunningPod {
  name: string;
  uid: string;
  child: ChildProcess | null;
  exited: Promise<void>;
  stopping: boolean;
  restarts: number;
  ports: PodPorts;
}

export interface PodPorts {
  port: number;
  adminPort: number;
  peerPort: number;
}

export class SimulatedKubelet {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly running = new Map<string, RunningPod>();
  private readonly ports = new Map<string, PodPorts>();
  private readonly failed = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private stopped = false;

  constructor(private readonly options: SimulatedKubeletOptions) {
    this.core = options.config.makeApiClient(CoreV1Api);
    this.apps = options.config.makeApiClient(AppsV1Api);
  }

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        void this.sync()
          .catch((error: unknown) => this.options.log?.(`kubelet: ${error instanceof ApiException ? `HTTP ${error.code}` : (error as Error).message}`))
          .finally(tick);
      }, this.options.intervalMs ?? 200);
    };
    tick();
  }

  /** Stops every process (SIGTERM, SIGKILL after 15 s) and the loop. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await Promise.all([...this.running.values()].map((pod) => this.stopProcess(pod, 'SIGTERM')));
  }

  /** The loopback ports of a pod's process (undefined before it first ran). */
  portsOf(pod: string): PodPorts | undefined {
    return this.ports.get(pod);
  }

  pidOf(pod: string): number | undefined {
    return this.running.get(pod)?.child?.pid;
  }

  /** A machine failure: SIGKILL, the pod deleted, and not recreated until recover(). */
  async fail(pod: string): Promise<void> {
    this.failed.add(pod);
    const running = this.running.get(pod);
    if (running !== undefined) await this.stopProcess(running, 'SIGKILL');
    await this.core.deleteNamespacedPod({ name: pod, namespace: this.options.namespace }).catch(ignoreNotFound);
  }

  recover(pod: string): void {
    this.failed.delete(pod);
  }

  /** Kills a pod's process (kill -9) without deleting the pod: the kubelet restarts it. */
  crash(pod: string): void {
    this.running.get(pod)?.child?.kill('SIGKILL');
  }

  private async sync(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const namespace = this.options.namespace;
      const sets = (await this.apps.listNamespacedStatefulSet({ namespace })).items;
      const pods = (await this.core.listNamespacedPod({ namespace })).items;
      const byName = new Map(pods.map((pod) => [pod.metadata!.name!, pod]));
      // kubelet: a pod that is gone (deleted by someone) loses its process; all such pods stop at
      // once, as on separate machines.
      const gone = [...this.running.values()].filter((running) => {
        const pod = byName.get(running.name);
        return pod === undefined || pod.metadata?.uid !== running.uid || pod.metadata?.deletionTimestamp !== undefined;
      });
      await Promise.all(
        gone.map(async (running) => {
          await this.stopProcess(running, 'SIGTERM');
          this.running.delete(running.name);
          const pod = byName.get(running.name);
          if (pod !== undefined && pod.metadata?.deletionTimestamp !== undefined) await this.core.deleteNamespacedPod({ name: running.name, namespace, gracePeriodSeconds: 0 }).catch(ignoreNotFound);
        }),
      );
      for (const set of sets) await this.syncSet(set, byName);
    } finally {
      this.busy = false;
    }
  }

  private async syncSet(set: V1StatefulSet, pods: Map<string, V1Pod>): Promise<void> {
    const setName = set.metadata!.name!;
    const replicas = set.spec?.replicas ?? 1;
    const namespace = this.options.namespace;
    // Pods beyond replicas go, highest ordinal first.
    const owned = [...pods.values()].filter((pod) => pod.metadata?.ownerReferences?.some((owner) => owner.uid === set.metadata?.uid));
    for (const pod of owned.sort((a, b) => ordinalOf(b, setName) - ordinalOf(a, setName))) {
      if (ordinalOf(pod, setName) >= replicas) await this.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace }).catch(ignoreNotFound);
    }
    for (let ordinal = 0; ordinal < replicas; ordinal++) {
      const name = `${setName}-${ordinal}`;
      if (this.failed.has(name)) continue;
      let pod = pods.get(name);
      if (pod === undefined) {
        if (this.running.has(name)) continue; // still stopping
        pod = await this.core.createNamespacedPod({ namespace, body: podFrom(set, name) });
      }
      const running = this.running.get(name);
      if (running === undefined) await this.startProcess(pod);
      else if (running.child === null && !running.stopping) await this.startProcess(pod, running.restarts + 1);
    }
  }

  private async startProcess(pod: V1Pod, restarts = 0): Promise<void> {
    const name = pod.metadata!.name!;
    const namespace = this.options.namespace;
    let ports = this.ports.get(name);
    if (ports === undefined) {
      ports = { port: await freePort(), adminPort: await freePort(), peerPort: await freePort() };
      this.ports.set(name, ports);
    }
    const container = pod.spec!.containers[0]!;
    const dataDir = path.join(this.options.workDir, name);
    mkdirSync(dataDir, { recursive: true });
    const secretName = pod.spec?.volumes?.find((volume) => volume.name === 'token')?.secret?.secretName;
    const tokenFile = path.join(this.options.workDir, `${name}.token`);
    if (secretName !== undefined) {
      const secret = await this.core.readNamespacedSecret({ name: secretName, namespace });
      const data = secret.data?.['token'];
      const token = data !== undefined ? Buffer.from(data, 'base64').toString('utf8') : (secret.stringData?.['token'] ?? '');
      writeFileSync(tokenFile, token, { mode: 0o600 });
    }
    const args = localArgs(container.args ?? [], { name, ports, dataDir, tokenFile, serverUrl: this.options.serverUrl });
    const logFd = openSync(path.join(this.options.workDir, `${name}.log`), 'a');
    const child = spawn(process.execPath, [NODE_MAIN, ...args], { stdio: ['ignore', logFd, logFd], env: { ...process.env, POD_NAME: name, BALLAST_NODE_ID: name } });
    closeSync(logFd);
    const running: RunningPod = { name, uid: pod.metadata!.uid!, child, stopping: false, restarts, ports, exited: Promise.resolve() };
    running.exited = new Promise((resolve) => child.once('exit', () => {
      running.child = null;
      resolve();
    }));
    this.running.set(name, running);
    this.options.log?.(`kubelet: started ${name} (pid ${child.pid}, redis ${ports.port}, admin ${ports.adminPort})`);
    // startTime is set once per pod, as a kubelet does (a container restart keeps it).
    const body: V1Pod = { ...pod, status: { ...(pod.status ?? {}), phase: 'Running', podIP: '127.0.0.1', startTime: pod.status?.startTime ?? new Date(), containerStatuses: [{ name: container.name, image: container.image ?? '', imageID: '', ready: true, restartCount: restarts, started: true }] } };
    await this.core.replaceNamespacedPodStatus({ name, namespace, body }).catch(ignoreNotFound);
  }

  private async stopProcess(pod: RunningPod, signal: NodeJS.Signals): Promise<void> {
    const child = pod.child;
    if (child === null) return;
    pod.stopping = true;
    child.kill(signal);
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await pod.exited;
    clearTimeout(killTimer);
  }
}

function ordinalOf(pod: V1Pod, setName: string): number {
  const name = pod.metadata?.name ?? '';
  const ordinal = Number(name.slice(setName.length + 1));
  return name.startsWith(`${setName}-`) && Number.isInteger(ordinal) ? ordinal : -1;
}

function podFrom(set: V1StatefulSet, name: string): V1Pod {
  const template = set.spec!.template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: set.metadata?.namespace,
      labels: { ...(template.metadata?.labels ?? {}), 'statefulset.kubernetes.io/pod-name': name },
      annotations: { ...(template.metadata?.annotations ?? {}) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: set.metadata!.name!, uid: set.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
    },
    spec: { ...template.spec!, hostname: name, subdomain: set.spec?.serviceName },
    status: { phase: 'Pending' },
  };
}

/** The container's args with this machine's ports, paths and store URL (see the header). */
export function localArgs(args: readonly string[], pod: { name: string; ports: PodPorts; dataDir: string; tokenFile: string; serverUrl: string }): string[] {
  const replaced: Record<string, string> = {
    '--bind': '127.0.0.1',
    '--admin-bind': '127.0.0.1',
    '--port': String(pod.ports.port),
    '--admin-port': String(pod.ports.adminPort),
    '--peer-port': String(pod.ports.peerPort),
    '--advertise-host': '127.0.0.1',
    '--data-dir': pod.dataDir,
    '--cluster-token-file': pod.tokenFile,
  };
  const out: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const flag = args[index]!;
    const value = args[index + 1];
    if (flag in replaced) {
      out.push(flag, replaced[flag]!);
      index++;
    } else if (flag === '--cluster-store' && value !== undefined) {
      out.push(flag, `${value}?server=${encodeURIComponent(pod.serverUrl)}`);
      index++;
    } else {
      out.push(flag.replaceAll('$(POD_NAME)', pod.name));
    }
  }
  return out;
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof ApiException && error.code === 404)) throw error;
}
