/**
 * The Kubernetes runtime: the same reconcile core as `ballast dev`, driven by the Kubernetes API
 * through `@kubernetes/client-node`.
 *
 * - Informers (list + watch, relisting after 410 Gone, restarted after errors) on KVClusters, the
 *   member Pods and ConfigMaps the operator manages, and the nodes' presence Leases (a renewal is
 *   not an event; a new holder is).
 *   Every event enqueues its KVCluster's key in a coalescing work queue with per-key back-off.
 * - reconcile(key): validate the spec (an invalid one is reported in the Degraded condition and an
 *   Event, and nothing else is touched); make sure the token Secret exists; observe the pods, the
 *   ClusterMap ConfigMap and the presence Leases (observe.ts); decide(); server-side apply the
 *   objects (objects.ts) with the StatefulSet's replicas from the decision; carry out the actions
 *   (activate and set the baseline through a node's admin API; a rolling restart deletes one pod,
 *   which the StatefulSet recreates with the new template); write the status subresource when it
 *   changed, with an Event per condition transition; schedule the next look at decision.wakeAtMs
 *   (at most RESYNC_MS away, also for an invalid spec, so a quiet cluster is still looked at).
 * - spec.monitoring: the PodMonitor / ServiceMonitor asked for are applied before decide() (a
 *   missing Prometheus Operator CRD is reported in the same reconcile, as ActionFailed) and deleted
 *   when their toggle is off.
 * - Every timer lives in the KVCluster's status (decide's contract), so a restarted or failed-over
 *   operator keeps a pending baseline change's deadline.
 */
import { randomBytes } from 'node:crypto';
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
  type V1ConfigMap,
  type V1Lease,
  type V1Pod,
} from '@kubernetes/client-node';
import { liveRegistrations } from '@ballast/cluster-store';
import { API_GROUP, API_VERSION, applyDefaults, validateName, validateSpec, type Condition, type KVCluster, type KVClusterSpecInput, type KVClusterStatus } from '../api.js';
import { decide, RESYNC_MS, type Action } from '../decide.js';
import { emptyReconcileStats, membersByState, type ClusterMetricsView, type ReconcileStats } from '../metrics.js';
import { desiredObjects, FIELD_MANAGER, MONITORING_GROUP, MONITORING_KINDS, MONITORING_VERSION, namesOf, templateHash, tokenSecret, type KubeObject } from './objects.js';
import { mapFromConfigMap, observeCluster, observeMembers, type OnlineNode } from './observe.js';
import { WorkQueue } from './work-queue.js';

const PLURAL = 'kvclusters';
const MANAGED = 'app.kubernetes.io/managed-by=ballast-operator';
const PRESENCE_LABEL = 'ballast.io/presence-of';
const INSTANCE_LABEL = 'app.kubernetes.io/instance';

export interface KubernetesRuntimeOptions {
  config: KubeConfig;
  /** Namespaces to watch; empty: all. */
  namespaces: string[];
  /** Storage node image for KVClusters without spec.image. */
  nodeImage: string;
  log: (line: string) => void;
  /** URL of a node's admin API (default: the host and admin port it registered). */
  adminUrlOf?: (node: OnlineNode) => string;
  /** Restart delay of an informer after an error other than 410. */
  informerRetryMs?: number;
  /** Counters to add to (default: fresh ones): the process's, which its /metrics already serves. */
  stats?: RuntimeStats;
}

export interface RuntimeStats extends ReconcileStats {
  conflicts: number;
  actions: number;
}

export function emptyRuntimeStats(): RuntimeStats {
  return { ...emptyReconcileStats(), conflicts: 0, actions: 0 };
}

interface ClusterMemory {
  lastActionError: { action: string; message: string } | null;
  /**
   * Monitoring objects (by kind) this process applied, or found absent. A kind not in the map may
   * have been left by an earlier operator process: deleted once when its toggle is off.
   */
  monitoring: Map<string, 'applied' | 'absent'>;
}

type Cached<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export class KubernetesRuntime {
  readonly stats: RuntimeStats;
  /** Each cluster as its last completed reconcile left it, by namespace/name, for /metrics. */
  private readonly views = new Map<string, ClusterMetricsView>();
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly objects: KubernetesObjectApi;
  private readonly queue: WorkQueue;
  private readonly informers: Array<Cached<KubernetesObject>> = [];
  private readonly kvclusters: Array<Cached<KVCluster & KubernetesObject>> = [];
  private readonly pods: Array<Cached<V1Pod>> = [];
  private readonly configMaps: Array<Cached<V1ConfigMap>> = [];
  private readonly leases: Array<Cached<V1Lease>> = [];
  private readonly memory = new Map<string, ClusterMemory>();
  private stopped = false;

  constructor(private readonly options: KubernetesRuntimeOptions) {
    this.stats = options.stats ?? emptyRuntimeStats();
    this.core = options.config.makeApiClient(CoreV1Api);
    this.custom = options.config.makeApiClient(CustomObjectsApi);
    this.objects = KubernetesObjectApi.makeApiClient(options.config);
    this.queue = new WorkQueue(
      (key) => this.reconcile(key),
      (key, error, retryInMs) => {
        this.stats.reconcileErrors++;
        if (error instanceof ApiException && error.code === 409) this.stats.conflicts++;
        options.log(`reconcile ${key} failed (retry in ${retryInMs} ms): ${describe(error)}`);
      },
    );
  }

  async start(): Promise<void> {
    const scopes = this.options.namespaces.length === 0 ? [null] : this.options.namespaces;
    for (const namespace of scopes) {
      const base = namespace === null ? '' : `/namespaces/${namespace}`;
      const kv = this.informer<KVCluster & KubernetesObject>(`/apis/${API_GROUP}/${API_VERSION}${base}/${PLURAL}`, () =>
        namespace === null
          ? this.custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: PLURAL })
          : this.custom.listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace, plural: PLURAL }),
      (object) => keyOf(object.metadata?.namespace, object.metadata?.name));
      this.kvclusters.push(kv);
      const byInstance = (object: KubernetesObject): string | null => keyOf(object.metadata?.namespace, object.metadata?.labels?.[INSTANCE_LABEL]);
      this.pods.push(this.informer<V1Pod>(`/api/v1${base}/pods`, () => (namespace === null ? this.core.listPodForAllNamespaces({ labelSelector: MANAGED }) : this.core.listNamespacedPod({ namespace, labelSelector: MANAGED })), byInstance, MANAGED));
      this.configMaps.push(this.informer<V1ConfigMap>(`/api/v1${base}/configmaps`, () => (namespace === null ? this.core.listConfigMapForAllNamespaces({ labelSelector: MANAGED }) : this.core.listNamespacedConfigMap({ namespace, labelSelector: MANAGED })), byInstance, MANAGED));
      const coordination = `/apis/coordination.k8s.io/v1${base}/leases`;
      // Presence Leases are renewed every second per node: only a new holder (a restarted process)
      // is an event worth a reconcile; expiries are seen at the next wake (decide's POLL/RESYNC).
      const holders = new Map<string, string | undefined>();
      this.leases.push(
        this.informer<V1Lease>(
          coordination,
          () => this.listLeases(namespace),
          (lease) => {
            const owner = lease.metadata?.labels?.[PRESENCE_LABEL];
            return owner === undefined || !owner.endsWith('-map') ? null : keyOf(lease.metadata?.namespace, owner.slice(0, -'-map'.length));
          },
          PRESENCE_LABEL,
          (lease) => {
            const name = `${lease.metadata?.namespace}/${lease.metadata?.name}`;
            const changed = holders.get(name) !== lease.spec?.holderIdentity;
            holders.set(name, lease.spec?.holderIdentity);
            return changed;
          },
        ),
      );
    }
    await Promise.all(this.informers.map((informer) => informer.start()));
    for (const informer of this.kvclusters) for (const object of informer.list()) this.queue.add(keyOf(object.metadata?.namespace, object.metadata?.name)!);
  }

  /** Every cluster reconciled, as the operator metrics show it. */
  metricsViews(): ClusterMetricsView[] {
    return [...this.views.values()];
  }

  /** Stops watching and reconciling; resolves once a reconcile in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.stop();
    await Promise.all(this.informers.map((informer) => informer.stop()));
    await this.queue.idle();
  }

  private async listLeases(namespace: string | null): Promise<{ items: V1Lease[]; metadata?: { resourceVersion?: string } }> {
    const api = this.options.config.makeApiClient(CoordinationV1Api);
    return namespace === null ? api.listLeaseForAllNamespaces({ labelSelector: PRESENCE_LABEL }) : api.listNamespacedLease({ namespace, labelSelector: PRESENCE_LABEL });
  }

  /** An informer whose every event enqueues the key `keyFor` gives; restarted after errors. */
  private informer<T extends KubernetesObject>(
    path: string,
    list: () => Promise<unknown>,
    keyFor: (object: T) => string | null,
    labelSelector?: string,
    /** For updates: whether this one matters (default: every update does). */
    significant: (object: T) => boolean = () => true,
  ): Cached<T> {
    const informer = makeInformer<T>(this.options.config, path, list as never, labelSelector);
    const enqueue = (object: T): void => {
      const key = keyFor(object);
      if (key !== null) this.queue.add(key);
    };
    informer.on('add', enqueue);
    informer.on('update', (object) => {
      if (significant(object)) enqueue(object);
    });
    informer.on('delete', enqueue);
    informer.on('error', (error: unknown) => {
      if (this.stopped) return;
      this.options.log(`watch ${path}: ${describe(error)}; restarting`);
      setTimeout(() => {
        if (!this.stopped) void informer.start().catch(() => undefined);
      }, this.options.informerRetryMs ?? 1000).unref();
    });
    this.informers.push(informer as unknown as Cached<KubernetesObject>);
    return informer;
  }

  // --- Reconcile ----------------------------------------------------------------------------------

  private async reconcile(key: string): Promise<void> {
    if (this.stopped) return;
    const started = performance.now();
    this.stats.reconciles++;
    try {
      await this.reconcileCluster(key);
    } finally {
      this.stats.reconcileDurations.observe((performance.now() - started) / 1000);
    }
  }

  private async reconcileCluster(key: string): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    // Read from the API, not the informer cache: the status holds the grace timer, and a cached
    // copy a write behind would restart it.
    const cluster = await this.readCluster(namespace, name);
    if (cluster === null || cluster.metadata.deletionTimestamp !== undefined) {
      // Deleted: owner references let the garbage collector remove what the operator created.
      this.views.delete(key);
      this.memory.delete(key);
      return;
    }
    const memory = this.memory.get(key) ?? { lastActionError: null, monitoring: new Map() };
    this.memory.set(key, memory);
    const spec = applyDefaults((cluster.spec ?? {}) as KVClusterSpecInput);
    const object: KVCluster = { ...cluster, spec };
    const nowMs = Date.now();
    const errors = [...validateName(name), ...validateSpec(spec)];
    if (errors.length > 0) {
      const status = await this.writeInvalid(object, errors, nowMs);
      this.views.set(key, { namespace, cluster: name, replicasDesired: Number.isInteger(spec.replicas) ? spec.replicas : null, lastReconcileMs: Date.now(), members: null, status });
      // Nothing else wakes it: look again as at any resync (the metrics show it is watched).
      this.queue.addAt(key, nowMs + RESYNC_MS);
      return;
    }
    const token = await this.ensureToken(object);
    const names = namesOf(object);
    const pods = this.pods.flatMap((informer) => informer.list(namespace)).filter((pod) => pod.metadata?.labels?.[INSTANCE_LABEL] === name);
    const configMap = this.configMaps.map((informer) => informer.get(names.configMap, namespace)).find((item) => item !== undefined);
    const map = mapFromConfigMap(configMap?.data);
    const presence = this.leases.flatMap((informer) => informer.list(namespace)).filter((lease) => lease.metadata?.labels?.[PRESENCE_LABEL] === names.configMap);
    const online = liveRegistrations(presence, nowMs);
    const onlineIds = new Set(online.map((node) => node.nodeId));
    const members = observeMembers(pods, onlineIds, nowMs);
    const rebalanceBytes = map !== null && map.partitions.some((assignment) => assignment.target !== undefined) ? await this.rebalanceBytes(online) : null;
    const monitoringError = await this.reconcileMonitoring(object, memory);
    const decision = decide({
      name,
      spec,
      status: storedStatus(cluster.status),
      nowMs,
      observed: {
        generation: cluster.metadata.generation ?? 1,
        members,
        cluster: observeCluster(map, [...onlineIds], rebalanceBytes),
        lastActionError: memory.lastActionError ?? monitoringError,
        desiredConfigHash: templateHash(object, this.options.nodeImage),
      },
    });
    memory.lastActionError = null;
    const runMembers = decision.actions.find((action): action is Extract<Action, { kind: 'run-members' }> => action.kind === 'run-members');
    const replicas = runMembers === undefined ? spec.replicas : replicasFor(name, runMembers.names);
    for (const desired of desiredObjects(object, { nodeImage: this.options.nodeImage, replicas })) {
      try {
        await this.apply(desired);
      } catch (error) {
        // One object the API server refuses (e.g. a change to an immutable field) must not stop the
        // cluster's other decisions: report it (Degraded, ActionFailed) and go on.
        if (!(error instanceof ApiException) || error.code === 409 || error.code >= 500) throw error;
        memory.lastActionError = { action: `apply ${desired.kind}/${desired.metadata.name}`, message: describe(error) };
      }
    }
    for (const action of decision.actions) {
      if (action.kind === 'run-members') continue;
      this.stats.actions++;
      await this.carryOut(object, action, online, token, memory, new Map(pods.map((pod) => [pod.metadata?.name ?? '', pod.metadata?.uid])));
    }
    await this.writeStatus(object, decision.status);
    this.views.set(key, {
      namespace,
      cluster: name,
      replicasDesired: spec.replicas,
      lastReconcileMs: Date.now(),
      members: membersByState(members.map((member) => ({ ready: member.online, running: member.running }))),
      status: decision.status,
    });
    // Presence renewals are not events: look again when the first registration would expire.
    const expiries = presence.map((lease) => (lease.spec?.renewTime === undefined ? Infinity : new Date(lease.spec.renewTime).getTime() + (lease.spec.leaseDurationSeconds ?? 0) * 1000)).filter((atMs) => atMs > nowMs);
    this.queue.addAt(key, Math.min(decision.wakeAtMs, Math.min(...expiries) + 100));
  }

  private async readCluster(namespace: string, name: string): Promise<(KVCluster & KubernetesObject) | null> {
    try {
      return (await this.custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace, plural: PLURAL, name })) as KVCluster & KubernetesObject;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return null;
      throw error;
    }
  }

  private async apply(object: KubeObject): Promise<void> {
    await this.objects.patch(object as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  /**
   * Applies the Prometheus Operator objects spec.monitoring turns on and deletes those it turns off.
   * Returns the first problem to report (a missing CRD is a 404), or null; conflicts and server
   * errors fail the reconcile (retried with back-off). Through CustomObjectsApi with the plurals
   * known, not the discovery of KubernetesObjectApi: a missing CRD is then a plain 404.
   */
  private async reconcileMonitoring(cluster: KVCluster, memory: ClusterMemory): Promise<{ action: string; message: string } | null> {
    const namespace = cluster.metadata.namespace ?? 'default';
    const name = cluster.metadata.name;
    let problem: { action: string; message: string } | null = null;
    for (const monitoring of MONITORING_KINDS) {
      const wanted = cluster.spec.monitoring?.[monitoring.field] === true;
      const before = memory.monitoring.get(monitoring.kind);
      if (!wanted && before === 'absent') continue;
      const request = { group: MONITORING_GROUP, version: MONITORING_VERSION, namespace, plural: monitoring.plural, name };
      try {
        if (wanted) {
          await this.custom.patchNamespacedCustomObject(
            { ...request, body: monitoring.build(cluster), fieldManager: FIELD_MANAGER, force: true },
            setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
          );
          memory.monitoring.set(monitoring.kind, 'applied');
        } else {
          await this.custom.deleteNamespacedCustomObject(request).catch((error: unknown) => {
            // Already gone, or the CRD is not installed: absent either way.
            if (!(error instanceof ApiException && error.code === 404)) throw error;
          });
          memory.monitoring.set(monitoring.kind, 'absent');
          if (before === 'applied') this.options.log(`${namespace}/${name}: deleted ${monitoring.kind} ${name} (spec.monitoring.${monitoring.field} is off)`);
        }
      } catch (error) {
        if (!(error instanceof ApiException) || error.code === 409 || error.code >= 500) throw error;
        const action = `${wanted ? 'apply' : 'delete'} ${monitoring.kind}/${name}`;
        const message =
          error.code === 404
            ? `the CRD ${monitoring.plural}.${MONITORING_GROUP} is not installed (install the Prometheus Operator, or set spec.monitoring.${monitoring.field} to false)`
            : describe(error);
        this.options.log(`${namespace}/${name}: ${action}: ${message}`);
        // Cleaning up after an earlier process is best effort; failing at what the spec asks is reported.
        if (wanted || before === 'applied') problem ??= { action, message };
        else memory.monitoring.set(monitoring.kind, 'absent');
      }
    }
    return problem;
  }

  /** The cluster token: read from its Secret, which is created with a random token when absent. */
  private async ensureToken(cluster: KVCluster): Promise<string> {
    const namespace = cluster.metadata.namespace ?? 'default';
    const name = namesOf(cluster).secret;
    try {
      const secret = await this.core.readNamespacedSecret({ name, namespace });
      const value = secret.data?.['token'];
      if (value === undefined) throw new Error(`Secret ${namespace}/${name} has no key "token"`);
      return Buffer.from(value, 'base64').toString('utf8').trim();
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
    }
    const token = randomBytes(24).toString('hex');
    try {
      await this.core.createNamespacedSecret({ namespace, body: tokenSecret(cluster, token) as never });
      return token;
    } catch (error) {
      // Created meanwhile (another reconcile, or the user): read it next time.
      if (error instanceof ApiException && error.code === 409) throw new Error(`Secret ${namespace}/${name} appeared meanwhile; reading it again`);
      throw error;
    }
  }

  private adminUrl(node: OnlineNode): string {
    return this.options.adminUrlOf?.(node) ?? `http://${node.address.host}:${node.address.adminPort}`;
  }

  private async rebalanceBytes(online: OnlineNode[]): Promise<{ bytesMoved: number; bytesRemaining: number } | null> {
    for (const node of online) {
      try {
        const response = await fetch(`${this.adminUrl(node)}/v1/cluster/rebalance`, { signal: AbortSignal.timeout(2000) });
        if (!response.ok) continue;
        const body = (await response.json()) as { bytesMoved?: number; bytesRemaining?: number };
        return { bytesMoved: body.bytesMoved ?? 0, bytesRemaining: body.bytesRemaining ?? 0 };
      } catch {
        // Try the next node.
      }
    }
    return null;
  }

  private async carryOut(cluster: KVCluster, action: Exclude<Action, { kind: 'run-members' }>, online: OnlineNode[], token: string, memory: ClusterMemory, podUids: Map<string, string | undefined>): Promise<void> {
    const namespace = cluster.metadata.namespace ?? 'default';
    switch (action.kind) {
      case 'activate':
        await this.adminWrite(online, token, memory, 'activate', 'POST', '/v1/cluster/activate', { partitions: action.partitions, backups: action.backups, writeSynchronization: action.writeSynchronization });
        await this.event(cluster, 'Normal', 'Activated', `activated with ${action.partitions} partitions, backups ${action.backups}, ${action.writeSynchronization}`);
        return;
      case 'set-baseline':
        await this.adminWrite(online, token, memory, 'set-baseline', 'PUT', '/v1/cluster/baseline', { nodes: action.nodes, drain: action.drain });
        await this.event(cluster, 'Normal', 'BaselineChanged', `baseline set to ${action.nodes.join(', ')}: ${action.reason}`);
        return;
      case 'restart-member':
        // The StatefulSet (updateStrategy OnDelete) recreates the pod from the new template; the
        // node steps down (hands its primaries off) on SIGTERM before it exits.
        // At the uid observed: never the pod the StatefulSet already recreated.
        await this.core
          .deleteNamespacedPod({ name: action.name, namespace, body: { preconditions: { uid: podUids.get(action.name) } } })
          .catch((error: unknown) => {
            if (!(error instanceof ApiException && (error.code === 404 || error.code === 409))) throw error;
          });
        await this.event(cluster, 'Normal', 'MemberRestarted', `restarted ${action.name}: ${action.reason}`);
        return;
    }
  }

  private async adminWrite(online: OnlineNode[], token: string, memory: ClusterMemory, action: string, method: string, route: string, body: unknown): Promise<void> {
    for (const node of online) {
      let response: Response;
      try {
        response = await fetch(`${this.adminUrl(node)}${route}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
      } catch {
        continue;
      }
      if (response.ok) return;
      memory.lastActionError = { action, message: `HTTP ${response.status}: ${(await response.text()).slice(0, 500)}` };
      return;
    }
    memory.lastActionError = { action, message: 'no member answered on its admin port' };
  }

  /** Reports an invalid spec (Degraded, InvalidSpec) and returns the status written. */
  private async writeInvalid(cluster: KVCluster, errors: string[], nowMs: number): Promise<Partial<KVClusterStatus>> {
    const previous = cluster.status as Partial<KVClusterStatus> | undefined;
    const message = `the spec is invalid: ${errors.join('; ')}`;
    const before = (Array.isArray(previous?.conditions) ? previous.conditions : []).find((condition) => condition.type === 'Degraded');
    const condition: Condition = {
      type: 'Degraded',
      status: 'True',
      reason: 'InvalidSpec',
      message,
      lastTransitionTime: before?.status === 'True' ? before.lastTransitionTime : new Date(nowMs).toISOString(),
      observedGeneration: cluster.metadata.generation ?? 1,
    };
    const conditions = [...(Array.isArray(previous?.conditions) ? previous.conditions : []).filter((item) => item.type !== 'Degraded'), condition];
    if (before?.reason !== 'InvalidSpec' || before.message !== message) await this.event(cluster, 'Warning', 'InvalidSpec', message);
    const status = { observedGeneration: cluster.metadata.generation ?? 1, conditions };
    await this.patchStatus(cluster, status);
    return status;
  }

  private async writeStatus(cluster: KVCluster, status: KVClusterStatus): Promise<void> {
    const previous = storedStatus(cluster.status);
    // Compared as stored: a merge patch drops null fields and the server may order keys its way.
    if (previous !== undefined && canonical(previous) === canonical(status)) return;
    await this.patchStatus(cluster, status);
    // Events only once the status they describe is written (a refused write is decided again).
    for (const condition of status.conditions) {
      const before = previous?.conditions.find((item) => item.type === condition.type);
      if (before?.status === condition.status && before.reason === condition.reason) continue;
      const warning = (condition.type === 'Degraded' && condition.status === 'True') || (condition.type === 'Available' && condition.status === 'False');
      await this.event(cluster, warning ? 'Warning' : 'Normal', condition.reason, `${condition.type}=${condition.status}: ${condition.message}`);
    }
  }

  private async patchStatus(cluster: KVCluster, status: Partial<KVClusterStatus>): Promise<void> {
    await this.custom.patchNamespacedCustomObjectStatus(
      // The resourceVersion read makes the write conditional: a decision made from a status that
      // changed meanwhile is refused (409) and made again from the new one.
      { group: API_GROUP, version: API_VERSION, namespace: cluster.metadata.namespace ?? 'default', plural: PLURAL, name: cluster.metadata.name, body: { metadata: { resourceVersion: cluster.metadata['resourceVersion'] }, status } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** A core/v1 Event on the KVCluster (best effort: an Event that fails to post changes nothing). */
  private async event(cluster: KVCluster, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = cluster.metadata.namespace ?? 'default';
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${cluster.metadata.name}.`, namespace },
          involvedObject: { apiVersion: cluster.apiVersion, kind: cluster.kind, name: cluster.metadata.name, namespace, uid: cluster.metadata.uid as string | undefined },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: 'ballast-operator' },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (error) {
      this.options.log(`event ${reason} on ${namespace}/${cluster.metadata.name} not recorded: ${describe(error)}`);
    }
  }
}

function keyOf(namespace: string | undefined, name: string | undefined): string | null {
  return namespace === undefined || name === undefined ? null : `${namespace}/${name}`;
}

/** StatefulSet replicas that run every named member: the highest ordinal + 1. */
export function replicasFor(cluster: string, names: readonly string[]): number {
  let replicas = 0;
  for (const name of names) {
    const ordinal = Number(name.slice(cluster.length + 1));
    if (name.startsWith(`${cluster}-`) && Number.isInteger(ordinal)) replicas = Math.max(replicas, ordinal + 1);
  }
  return replicas;
}

function describe(error: unknown): string {
  if (error instanceof ApiException) return `HTTP ${error.code}: ${typeof error.body === 'string' ? error.body.slice(0, 300) : JSON.stringify(error.body).slice(0, 300)}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * The stored status as decide() expects it, or undefined when it is partial (only what an invalid
 * spec's report wrote) — then the reconcile starts afresh. Fields a merge patch removed because
 * they were null are null again.
 */
function storedStatus(status: KVClusterStatus | undefined): KVClusterStatus | undefined {
  if (status === undefined || !Array.isArray(status.conditions) || status.baseline === undefined || !Array.isArray(status.baseline.nodes) || status.partitions === undefined) return undefined;
  return { ...status, baseline: { ...status.baseline, pending: status.baseline.pending ?? null }, rebalance: status.rebalance ?? null };
}

/** JSON with sorted keys and without null fields (how a merge-patched status reads back). */
function canonical(value: unknown): string {
  const strip = (item: unknown): unknown => {
    if (Array.isArray(item)) return item.map(strip);
    if (item === null || typeof item !== 'object') return item;
    return Object.fromEntries(
      Object.entries(item as Record<string, unknown>)
        .filter(([, child]) => child !== null && child !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, child]) => [key, strip(child)]),
    );
  };
  return JSON.stringify(strip(value));
}
