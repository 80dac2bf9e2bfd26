// The Kubernetes runtime of the operator against the kube API emulator (packages/testkit), with a
// simulated kubelet that runs each StatefulSet pod as a real ballast-node process (grace 6 s):
// - a KVCluster produces its objects, each owned by it, and reaches Available with 3 members; the
//   emulated API server defaults it from the CRD and refuses an invalid one (422, fields named);
// - spec.monitoring: while the Prometheus Operator's CRDs are missing, asking for a PodMonitor is
//   reported (Degraded ActionFailed naming the CRD, and an Event) and the cluster runs on; with them
//   (minimal CRDs registered here), a PodMonitor and a ServiceMonitor owned by the cluster, setting
//   the target labels cluster and node; turning the toggles off deletes them. The operator metrics,
//   scraped over HTTP from the handler the `ballast operator` binary serves, show the cluster
//   (conditions, last reconcile);
// - fault: a pod deleted (inside the grace). Invariant: no baseline change;
// - fault: a member's machine fails (pod killed and not recreated) past the grace, with an operator
//   restart while the change is pending. Invariants: the restarted operator keeps the deadline; the
//   baseline shrinks at it; replication is restored (underReplicated 0); on recovery it rejoins;
// - fault: the status write answers 409 once. Invariant: retried, the status lands;
// - fault: a rolling change under writes. Invariants: one member down at a time, every pod
//   recreated from the new template, no client error, no acknowledged write lost;
// - fault: every watch is cut and its history compacted (410 Gone on resume). Invariant: the
//   informers relist and the operator still sees changes;
// - two operator replicas elect one leader; when it stops renewing, the other takes over; the same
//   with the `ballast operator` binary (two processes, --leader-elect), handing over on SIGTERM;
// - deleting the KVCluster deletes what it owns (owner references), and its processes stop.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, setHeaderOptions } from '@kubernetes/client-node';
import { freePort, removeDirectory, SimulatedKubelet, startKubeEmulator, startTcpProxy, temporaryDirectory, type KubeEmulator } from '@ballast/testkit';
import { emptyRuntimeStats, KubernetesRuntime } from '../../packages/operator/dist/kubernetes/runtime.js';
import { LeaderElector } from '../../packages/operator/dist/kubernetes/leader-election.js';
import { startOperatorHttp } from '../../packages/operator/dist/kubernetes/http.js';
import type { KVClusterStatus } from '@ballast/operator';
import { checkNoAcknowledgedWriteLost, clusterClient, sleep, waitFor, Writer } from '../cluster/support/cluster-helpers.js';

const NAMESPACE = 'data';
const GRACE_MS = 6000;

describe('the operator on Kubernetes (API emulator, simulated kubelet, real nodes)', () => {
  let kube: KubeEmulator;
  let config: KubeConfig;
  let kubelet: SimulatedKubelet;
  let runtime: KubernetesRuntime;
  let operatorHttp: Server[] = [];
  let metricsUrl: string;
  let workDir: string;
  const logs: string[] = [];
  const log = (line: string): void => {
    logs.push(line);
  };

  const custom = (): CustomObjectsApi => config.makeApiClient(CustomObjectsApi);
  const core = (): CoreV1Api => config.makeApiClient(CoreV1Api);
  const status = async (): Promise<KVClusterStatus | undefined> =>
    ((await custom().getNamespacedCustomObject({ group: 'ballast.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'kvclusters', name: 'kv' })) as { status?: KVClusterStatus }).status;
  // The process's counters, which every runtime adds to (as the binary's do across leadership).
  const stats = emptyRuntimeStats();
  const startRuntime = async (): Promise<KubernetesRuntime> => {
    const started = new KubernetesRuntime({ config, namespaces: [NAMESPACE], nodeImage: 'ballast-node:test', log, informerRetryMs: 200, stats });
    await started.start();
    return started;
  };
  /** Waits for a status; a timeout says what the status, the operator and the kubelet said last. */
  const waitStatus = async (what: string, predicate: (current: KVClusterStatus) => boolean, timeoutMs: number): Promise<KVClusterStatus> => {
    try {
      return await waitFor(what, async () => {
        const current = await status();
        return current !== undefined && predicate(current) ? current : undefined;
      }, timeoutMs, 100);
    } catch (error) {
      throw new Error(`${(error as Error).message}\nstatus: ${JSON.stringify(await status().catch(() => null))}\nlog:\n  ${logs.slice(-25).join('\n  ')}`);
    }
  };

  beforeAll(async () => {
    kube = await startKubeEmulator();
    config = kube.kubeConfig();
    workDir = temporaryDirectory('ballast-kube-');
    await config.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } });
    const crd = parse(readFileSync('crds/ballast.io_kvclusters.yaml', 'utf8'));
    await kube.create(crd);
    kubelet = new SimulatedKubelet({ config, serverUrl: kube.url, namespace: NAMESPACE, workDir, log });
    kubelet.start();
    runtime = await startRuntime();
    // The HTTP endpoints the `ballast operator` binary serves, around this runtime (and the one
    // that replaces it on a restart), on ephemeral loopback ports: the metrics are read as
    // Prometheus reads them. Without leader election the one runtime is the leader, as in the binary.
    operatorHttp = await startOperatorHttp({ stats, runtime: () => runtime, leader: () => true }, { metricsPort: 0, healthPort: 0, host: '127.0.0.1' });
    metricsUrl = `http://127.0.0.1:${(operatorHttp[0]!.address() as AddressInfo).port}/metrics`;
  }, 60_000);

  afterAll(async () => {
    await Promise.all(operatorHttp.map((server) => new Promise((resolve) => server.close(resolve))));
    await runtime?.stop();
    await kubelet?.stop();
    await kube?.close();
    if (workDir !== undefined) removeDirectory(workDir);
  });

  it('a KVCluster produces its objects, owned by it, and becomes Available', async () => {
    await custom().createNamespacedCustomObject({
      group: 'ballast.io',
      version: 'v1alpha1',
      namespace: NAMESPACE,
      plural: 'kvclusters',
      body: { apiVersion: 'ballast.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'kv' }, spec: { replicas: 3, partitions: 16, baseline: { autoAdjust: { graceTimeout: `${GRACE_MS / 1000}s` } } } },
    });
    const available = await waitStatus('Available with 3 members in the baseline', (current) => current.clusterState === 'ACTIVE' && current.baseline.nodes.length === 3 && current.partitions.underReplicated === 0, 30_000);
    expect(available.ready).toBe('3/3');
    expect(available.conditions.find((condition) => condition.type === 'Available')).toMatchObject({ status: 'True' });
    const owner = ((await custom().getNamespacedCustomObject({ group: 'ballast.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'kvclusters', name: 'kv' })) as { metadata: { uid: string } }).metadata.uid;
    const owned = (object: { metadata?: { ownerReferences?: Array<{ uid?: string; controller?: boolean }> } }): boolean => object.metadata?.ownerReferences?.some((reference) => reference.uid === owner && reference.controller === true) === true;
    const apps = config.makeApiClient(AppsV1Api);
    expect(owned(await apps.readNamespacedStatefulSet({ name: 'kv', namespace: NAMESPACE }))).toBe(true);
    for (const name of ['kv', 'kv-nodes']) expect(owned(await core().readNamespacedService({ name, namespace: NAMESPACE }))).toBe(true);
    expect(owned(await core().readNamespacedConfigMap({ name: 'kv-map', namespace: NAMESPACE }))).toBe(true);
    expect(owned(await core().readNamespacedSecret({ name: 'kv-token', namespace: NAMESPACE }))).toBe(true);
    const ports = ['kv-0', 'kv-1', 'kv-2'].map((pod) => kubelet.portsOf(pod)!.port);
    const client = clusterClient(ports);
    try {
      for (let i = 0; i < 100; i++) await client.set(`k8s:${i}`, `v${i}`);
      expect(await client.get('k8s:42')).toBe('v42');
    } finally {
      client.disconnect();
    }
  }, 120_000);

  it('the API server defaults the KVCluster from the CRD and refuses an invalid one with the field named', async () => {
    const stored = (await custom().getNamespacedCustomObject({ group: 'ballast.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'kvclusters', name: 'kv' })) as { spec: Record<string, unknown> };
    expect(stored.spec).toMatchObject({ backups: 1, writeSynchronization: 'FULL_SYNC', durability: 'sync', baseline: { autoAdjust: { enabled: true, graceTimeout: `${GRACE_MS / 1000}s` } } });
    const refused = await custom()
      .createNamespacedCustomObject({ group: 'ballast.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'kvclusters', body: { apiVersion: 'ballast.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'bad' }, spec: { replicas: -1, partitions: 100 } } })
      .then(() => null, (error: { code?: number; body?: string }) => error);
    expect(refused?.code).toBe(422);
    expect(String(refused?.body)).toContain('spec.replicas: Invalid value: -1');
    expect(String(refused?.body)).toContain('spec.partitions: Unsupported value: 100');
  });

  it('spec.monitoring: a missing Prometheus Operator CRD is reported and the cluster runs on; a PodMonitor and a ServiceMonitor owned by the cluster set the target labels; toggled off, they are deleted', async () => {
    const mergePatch = setHeaderOptions('Content-Type', 'application/merge-patch+json');
    const setMonitoring = async (monitoring: Record<string, boolean>): Promise<number> =>
      ((await custom().patchNamespacedCustomObject({ group: 'ballast.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'kvclusters', name: 'kv', body: { spec: { monitoring } } }, mergePatch)) as { metadata: { generation: number } }).metadata.generation;
    const read = async (plural: string): Promise<Record<string, any> | null> => // eslint-disable-line @typescript-eslint/no-explicit-any
      custom().getNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', namespace: NAMESPACE, plural, name: 'kv' }).then((object) => object as Record<string, unknown>, (error: { code?: number }) => {
        if (error.code === 404) return null;
        throw error;
      });
    const degraded = (current: KVClusterStatus) => current.conditions.find((condition) => condition.type === 'Degraded');

    // Not installed: reported in the status and an Event, and the rest of the reconcile goes on.
    const missing = await setMonitoring({ podMonitor: true });
    const reported = await waitStatus('the missing PodMonitor CRD reported', (current) => current.observedGeneration === missing && degraded(current)?.reason === 'ActionFailed', 30_000);
    expect(degraded(reported)!.message).toContain('apply PodMonitor/kv: the CRD podmonitors.monitoring.coreos.com is not installed');
    expect(reported).toMatchObject({ ready: '3/3', clusterState: 'ACTIVE' });
    const events = await waitFor('the ActionFailed Event', async () => {
      const items = (await core().listNamespacedEvent({ namespace: NAMESPACE })).items.filter((event) => event.reason === 'ActionFailed' && event.involvedObject.name === 'kv');
      return items.length > 0 ? items : undefined;
    }, 10_000);
    expect(events[0]!.message).toContain('podmonitors.monitoring.coreos.com');

    // Installed (minimal CRDs: the Prometheus Operator's own schemas are not needed here).
    for (const [kind, plural] of [['PodMonitor', 'podmonitors'], ['ServiceMonitor', 'servicemonitors']] as const) {
      await kube.create({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `${plural}.monitoring.coreos.com` },
        spec: {
          group: 'monitoring.coreos.com',
          scope: 'Namespaced',
          names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
        },
      });
    }
    const both = await setMonitoring({ podMonitor: true, serviceMonitor: true });
    const [podMonitor, serviceMonitor] = await waitFor('the PodMonitor and the ServiceMonitor', async () => {
      const objects = await Promise.all([read('podmonitors'), read('servicemonitors')]);
      return objects.every((object) => object !== null) ? objects : undefined;
    }, 30_000);
    const owner = ((await custom().getNamespacedCustomObject({ group: 'ballast.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'kvclusters', name: 'kv' })) as { metadata: { uid: string } }).metadata.uid;
    const relabelings = [
      { sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_instance'], targetLabel: 'cluster' },
      { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'node' },
    ];
    for (const object of [podMonitor!, serviceMonitor!]) {
      expect(object.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'KVCluster', name: 'kv', uid: owner, controller: true })]);
      expect(object.metadata.labels['app.kubernetes.io/instance']).toBe('kv');
    }
    expect(podMonitor!.spec).toEqual({ selector: { matchLabels: { 'app.kubernetes.io/name': 'ballast', 'app.kubernetes.io/instance': 'kv' } }, podMetricsEndpoints: [{ port: 'admin', path: '/metrics', relabelings }] });
    expect(serviceMonitor!.spec.endpoints).toEqual([{ port: 'admin', path: '/metrics', relabelings }]);
    // The ServiceMonitor's selector matches the headless Service, whose pods are the members.
    const headless = await core().readNamespacedService({ name: 'kv-nodes', namespace: NAMESPACE });
    expect(headless.metadata!.labels).toMatchObject(serviceMonitor!.spec.selector.matchLabels);
    await waitStatus('Degraded no longer ActionFailed', (current) => current.observedGeneration === both && degraded(current)?.reason !== 'ActionFailed', 30_000);

    // The operator metrics, scraped from its /metrics as Prometheus would, show the cluster.
    const scrape = await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) });
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get('content-type')).toContain('text/plain');
    const text = await scrape.text();
    expect(text).toContain('ballast_operator_condition{namespace="data",cluster="kv",type="Available"} 1');
    expect(text).toContain('ballast_operator_baseline_nodes{namespace="data",cluster="kv"} 3');
    expect(Number(/^ballast_operator_last_reconcile_timestamp_seconds\{namespace="data",cluster="kv"\} (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(Date.now() / 1000 - 30);
    expect(Number(/^ballast_operator_reconcile_duration_seconds_count (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);

    // Off: deleted.
    await setMonitoring({ podMonitor: false, serviceMonitor: false });
    await waitFor('the PodMonitor and the ServiceMonitor deleted', async () => ((await read('podmonitors')) === null && (await read('servicemonitors')) === null ? true : undefined), 30_000);
  }, 90_000);

  it('fault: a pod deleted inside the grace; invariant: no baseline change', async () => {
    await core().deleteNamespacedPod({ name: 'kv-1', namespace: NAMESPACE });
    const deadline = Date.now() + GRACE_MS + 3000;
    while (Date.now() < deadline) {
      expect((await status())!.baseline.nodes).toEqual(['kv-0', 'kv-1', 'kv-2']);
      await sleep(250);
    }
    await waitStatus('kv-1 back and every partition in sync', (current) => current.ready === '3/3' && current.partitions.underReplicated === 0 && current.baseline.pending == null, 60_000);
  }, 90_000);

  it('fault: a machine lost past the grace with an operator restart while pending; invariants: same deadline, baseline shrinks at it, replication restored, rejoin after recovery', async () => {
    await kubelet.fail('kv-2');
    const pending = (await waitStatus('a pending baseline change', (current) => current.baseline.pending != null, 30_000)).baseline.pending!;
    expect(pending.nodes).toEqual(['kv-0', 'kv-1']);
    await runtime.stop();
    runtime = await startRuntime();
    expect((await status())!.baseline.pending?.deadline).toBe(pending.deadline);
    const shrunk = await waitStatus('the baseline without kv-2', (current) => current.baseline.nodes.join() === 'kv-0,kv-1', GRACE_MS + 30_000);
    const lateMs = Date.now() - Date.parse(pending.deadline);
    console.log(`after an operator restart the baseline shrank ${lateMs} ms after the original deadline`);
    expect(lateMs).toBeGreaterThanOrEqual(-100);
    expect(shrunk.baseline.pending ?? null).toBeNull();
    await waitStatus('replication restored', (current) => current.partitions.underReplicated === 0 && current.rebalanceProgress === '-', 60_000);
    kubelet.recover('kv-2');
    await waitStatus('kv-2 rejoined after the grace, all in sync', (current) => current.baseline.nodes.join() === 'kv-0,kv-1,kv-2' && current.partitions.underReplicated === 0 && current.rebalanceProgress === '-', GRACE_MS + 90_000);
  }, 240_000);

  it('fault: a 409 on the status write; invariant: retried until the status lands', async () => {
    const conflicts = runtime.stats.conflicts;
    kube.failNext({ method: 'PATCH', pathRegex: /\/kvclusters\/kv\/status/, status: 409, times: 1 });
    // The same grace written differently: a new generation, so a new status to write.
    const patched = (await custom().patchNamespacedCustomObject(
      { group: 'ballast.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'kvclusters', name: 'kv', body: { spec: { baseline: { autoAdjust: { graceTimeout: `${GRACE_MS}ms` } } } } },
      (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/merge-patch+json'),
    )) as { metadata: { generation: number } };
    await waitFor('the conflict seen and retried', async () => (runtime.stats.conflicts > conflicts ? true : undefined), 30_000);
    await waitStatus('the status of the new generation written', (current) => current.observedGeneration === patched.metadata.generation && current.ready === '3/3', 30_000);
  }, 60_000);

  it('fault: watches cut and history compacted (410 Gone); invariant: informers relist and changes are still seen', async () => {
    kube.compact();
    kube.closeWatches();
    // A spec change (seen only through the KVCluster informer): manual mode, a new generation.
    const patch = (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/merge-patch+json');
    const setAutoAdjust = async (enabled: boolean): Promise<number> =>
      ((await custom().patchNamespacedCustomObject({ group: 'ballast.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'kvclusters', name: 'kv', body: { spec: { baseline: { autoAdjust: { enabled } } } } }, patch)) as { metadata: { generation: number } }).metadata.generation;
    const manualGeneration = await setAutoAdjust(false);
    await waitStatus('the new generation observed', (current) => current.observedGeneration === manualGeneration, 30_000);
    // A member lost (seen only through the pod and presence Lease informers): reported, baseline kept.
    await kubelet.fail('kv-0');
    const manual = await waitStatus('kv-0 reported missing, in manual mode', (current) => current.ready === '2/3' && current.conditions.some((condition) => condition.reason === 'ManualMode'), 30_000);
    expect(manual.baseline.nodes).toEqual(['kv-0', 'kv-1', 'kv-2']);
    kubelet.recover('kv-0');
    await waitStatus('kv-0 back', (current) => current.ready === '3/3' && current.partitions.underReplicated === 0, 60_000);
    const autoGeneration = await setAutoAdjust(true);
    await waitStatus('the next generation observed', (current) => current.observedGeneration === autoGeneration && current.baseline.pending == null, 30_000);
  }, 150_000);

  it('fault: a rolling change (durability sync→async) under writes; invariants: one member down at a time, every pod recreated from the new template, no acknowledged write lost', async () => {
    const client = clusterClient(['kv-0', 'kv-1', 'kv-2'].map((pod) => kubelet.portsOf(pod)!.port));
    const writers = Array.from({ length: 2 }, (_, index) => new Writer(index, client, 20, undefined, 5));
    const before = new Map(['kv-0', 'kv-1', 'kv-2'].map((pod) => [pod, kubelet.pidOf(pod)]));
    let mostDown = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        mostDown = Math.max(mostDown, ['kv-0', 'kv-1', 'kv-2'].filter((pod) => kubelet.pidOf(pod) === undefined).length);
        await sleep(50);
      }
    })();
    try {
      const patch = (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/merge-patch+json');
      await sleep(500); // writes flowing before the change
      await custom().patchNamespacedCustomObject({ group: 'ballast.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'kvclusters', name: 'kv', body: { spec: { durability: 'async' } } }, patch);
      const templateOf = async (): Promise<string | undefined> => (await config.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ name: 'kv', namespace: NAMESPACE })).spec!.template.metadata!.annotations!['ballast.io/config-hash'];
      const initial = (await core().readNamespacedPod({ name: 'kv-0', namespace: NAMESPACE })).metadata?.annotations?.['ballast.io/config-hash'];
      const template = await waitFor('the operator applied the new pod template', async () => {
        const current = await templateOf();
        return current !== initial ? current : undefined;
      }, 30_000);
      await waitFor('every pod recreated from the new template and the cluster settled', async () => {
        const pods = (await core().listNamespacedPod({ namespace: NAMESPACE })).items;
        const rolled = pods.length === 3 && pods.every((pod) => pod.metadata?.annotations?.['ballast.io/config-hash'] === template);
        const current = await status();
        return rolled && current?.ready === '3/3' && current.partitions.underReplicated === 0 && current.conditions.some((condition) => condition.type === 'Progressing' && condition.reason === 'Stable') ? true : undefined;
      }, 120_000, 200);
      for (const [pod, pid] of before) expect(kubelet.pidOf(pod), pod).not.toBe(pid);
      sampling = false;
      await sampler;
      await Promise.all(writers.map((writer) => writer.stop()));
      console.log(`rolling change on Kubernetes: at most ${mostDown} member(s) down at once; ${writers.reduce((sum, writer) => sum + writer.acknowledgedCount, 0)} writes acknowledged, ${writers.reduce((sum, writer) => sum + writer.errorCount, 0)} errors`);
      // The invariant is "never two"; a restart's down window (exit to respawn, a few API calls) can
      // fall between two samples, so 0 is no failure: the pids above prove every pod restarted.
      expect(mostDown).toBeLessThanOrEqual(1);
      expect(writers.every((writer) => writer.errorCount === 0)).toBe(true);
      expect(await checkNoAcknowledgedWriteLost(client, writers)).toEqual([]);
    } finally {
      sampling = false;
      await sampler;
      await Promise.all(writers.map((writer) => writer.stop().catch(() => undefined)));
      client.disconnect();
    }
  }, 180_000);

  it('two operator replicas elect one leader; fault: the leader is cut off from the API; invariant: it steps down before the other takes over', async () => {
    // Replica a reaches the API through a proxy that the test cuts (a partitioned operator pod).
    const proxy = await startTcpProxy(Number(new URL(kube.url).port));
    const configA = new KubeConfig();
    configA.loadFromOptions({ clusters: [{ name: 'c', server: `http://127.0.0.1:${proxy.port}`, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const events: Array<{ event: string; atMs: number }> = [];
    const elector = (identity: string, kubeConfig: KubeConfig): LeaderElector =>
      new LeaderElector(kubeConfig, {
        namespace: NAMESPACE,
        name: 'ballast-operator',
        identity,
        leaseDurationMs: 3000,
        renewDeadlineMs: 2000,
        retryMs: 200,
        onStartedLeading: () => events.push({ event: `${identity} leads`, atMs: Date.now() }),
        onStoppedLeading: () => events.push({ event: `${identity} stops`, atMs: Date.now() }),
      });
    const a = elector('a', configA);
    const b = elector('b', config);
    try {
      a.start();
      await waitFor('a leads', async () => (a.isLeader ? true : undefined), 10_000);
      b.start();
      await sleep(1500);
      expect(b.isLeader).toBe(false);
      proxy.cut();
      await waitFor('b takes over', async () => (b.isLeader ? true : undefined), 15_000);
      expect(a.isLeader).toBe(false);
      const stepDown = events.find((item) => item.event === 'a stops')!;
      const takeOver = events.find((item) => item.event === 'b leads')!;
      console.log(`leader election: a stepped down ${takeOver.atMs - stepDown.atMs} ms before b took over`);
      expect(stepDown.atMs).toBeLessThanOrEqual(takeOver.atMs);
    } finally {
      await a.stop();
      await b.stop();
      await proxy.close();
    }
  }, 60_000);

  it('the ballast operator binary: two replicas with --leader-elect, one leader; SIGTERM hands over; /metrics and /healthz answer', async () => {
    await core().createNamespace({ body: { metadata: { name: 'ballast-system' } } });
    const kubeconfig = path.join(workDir, 'kubeconfig.yaml');
    writeFileSync(kubeconfig, stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'emulator', cluster: { server: kube.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'emulator', user: {} }],
      contexts: [{ name: 'emulator', context: { cluster: 'emulator', user: 'emulator' } }],
      'current-context': 'emulator',
    }));
    // They watch an empty namespace: the in-process runtime above keeps running the KVCluster.
    const replicas = await Promise.all(['op-a', 'op-b'].map(async (name) => {
      const ports = { metrics: await freePort(), health: await freePort() };
      const child = spawn(process.execPath, ['packages/operator/dist/main.js', 'operator', '--leader-elect', '--namespaces', 'ballast-system', '--metrics-port', String(ports.metrics), '--health-port', String(ports.health)], {
        env: { ...process.env, KUBECONFIG: kubeconfig, POD_NAMESPACE: 'ballast-system', POD_NAME: name },
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      return { name, child, ports };
    }));
    const leaderGauge = async (ports: { metrics: number }): Promise<number | undefined> => {
      const text = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
      const match = /^ballast_operator_leader (\d)/m.exec(text);
      return match === null ? undefined : Number(match[1]);
    };
    try {
      const leaders = await waitFor('exactly one leader', async () => {
        const gauges = await Promise.all(replicas.map((replica) => leaderGauge(replica.ports)));
        return gauges.every((gauge) => gauge !== undefined) && gauges.filter((gauge) => gauge === 1).length === 1 ? gauges : undefined;
      }, 30_000, 200);
      const leader = replicas[leaders.indexOf(1)]!;
      const standby = replicas[leaders.indexOf(0)]!;
      expect(await (await fetch(`http://127.0.0.1:${standby.ports.health}/healthz`)).json()).toEqual({ ok: true });
      expect((await (await fetch(`http://127.0.0.1:${leader.ports.metrics}/metrics`)).text())).toContain('ballast_operator_reconciles_total');
      const exited = new Promise((resolve) => leader.child.once('exit', resolve));
      leader.child.kill('SIGTERM');
      await exited;
      await waitFor('the standby leads', async () => ((await leaderGauge(standby.ports)) === 1 ? true : undefined), 15_000, 200);
    } finally {
      for (const replica of replicas) replica.child.kill('SIGKILL');
    }
  }, 60_000);

  it('deleting the KVCluster deletes what it owns; the member processes stop', async () => {
    const pids = ['kv-0', 'kv-1', 'kv-2'].map((pod) => kubelet.pidOf(pod)).filter((pid): pid is number => pid !== undefined);
    expect(pids).toHaveLength(3);
    expect(pids.every(alive)).toBe(true);
    await custom().deleteNamespacedCustomObject({ group: 'ballast.io', version: 'v1alpha1', namespace: NAMESPACE, plural: 'kvclusters', name: 'kv' });
    const apps = config.makeApiClient(AppsV1Api);
    await waitFor('the StatefulSet and pods gone', async () => {
      const sets = (await apps.listNamespacedStatefulSet({ namespace: NAMESPACE })).items;
      const pods = (await core().listNamespacedPod({ namespace: NAMESPACE })).items;
      return sets.length === 0 && pods.length === 0 ? true : undefined;
    }, 30_000);
    await waitFor('every member process exited', async () => (pids.every((pid) => !alive(pid)) ? true : undefined), 40_000);
  }, 60_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
