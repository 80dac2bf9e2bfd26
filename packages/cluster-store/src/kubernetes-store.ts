/**
 * The Kubernetes backend (DESIGN.md, Coordination): clusters run by the operator keep their map in
 * the Kubernetes API, with no store of their own. Through `@kubernetes/client-node`.
 *
 * - The map: ConfigMap NAME in NAMESPACE, `data["map.json"]`. CAS is an update carrying the
 *   resourceVersion of the expected version: the API server refuses it with 409 Conflict when the
 *   ConfigMap changed meanwhile, and the current map is read and returned. Version 0 (no map yet) is
 *   the ConfigMap without `map.json` (the operator creates it empty) or no ConfigMap at all (create).
 * - watch: read the ConfigMap, then watch it (fieldSelector metadata.name) from that
 *   resourceVersion. Updates arrive in resourceVersion order, and CAS makes versions grow with it,
 *   so versions arrive in order. After a dropped watch it resumes from the last resourceVersion
 *   seen; when the server answers 410 Gone (that version was compacted away) the map is read again
 *   and delivered if newer: versions may then be skipped, never repeated or reordered.
 * - Presence: one coordination.k8s.io Lease per node, `NAME-node-<nodeId>`, labelled
 *   `ballast.io/presence-of: NAME`, holderIdentity = the process incarnation, the registration in an
 *   annotation, renewTime refreshed every TTL / 3. A node is online while renewTime + TTL is in the
 *   future (by this process's clock: clocks must agree to well under the TTL, as with any lease
 *   read by several machines). close() deletes the Lease if this incarnation still holds it; the
 *   Lease is owned by the map's ConfigMap, so one left by a killed node goes with the cluster.
 *   watchOnline watches the Leases and also re-checks expiry on a timer (an expiry is no event).
 * - A CAS refused with 409 while the map is unchanged (someone changed only the ConfigMap's
 *   metadata) is tried again; a map larger than a ConfigMap can hold is refused (StoreLimitError).
 *
 * URL: `kubernetes://NAMESPACE/NAME` uses the in-cluster service account (or KUBECONFIG / ~/.kube
 * outside a cluster); `?server=http://host:port` talks to that API server without credentials (a
 * `kubectl proxy`, or a test's API emulator).
 */
import type { ClusterMap } from '@ballast/cluster';
import { ApiException, CoordinationV1Api, CoreV1Api, KubeConfig, V1MicroTime, Watch, type V1ConfigMap, type V1Lease } from '@kubernetes/client-node';
import { Backoff, invokeCallback, sleep, stopAll, trackWatch } from './background.js';
import { casDocument, registrationArgument, sameRegistrations, storedMap } from './documents.js';
import { StoreClosedError, StoreError, StoreLimitError, StoreUnauthorizedError, StoreUnavailableError, asError } from './errors.js';
import { REQUEST_TIMEOUT_MS } from './limits.js';
import type { ClusterMapStore, NodeRegistration, PresenceHandle } from './store.js';
import { liveRegistrations, REGISTRATION_ANNOTATION, type KubernetesLocation } from './kubernetes-documents.js';

const MAP_KEY = 'map.json';
/** A ConfigMap's data is at most 1 MiB (the API server refuses more); the map must fit. */
const CONFIGMAP_DATA_BYTES_MAX = 1024 * 1024 - 4096;
/** Swaps tried again after a 409 that left the map unchanged (a metadata-only change). */
const CAS_METADATA_RETRIES = 5;
const PRESENCE_LABEL = 'ballast.io/presence-of';

/** A failure of the Kubernetes client as a typed store error (keeping it as `cause`). */
function kubeFailure(what: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  const code = error instanceof ApiException ? error.code : undefined;
  if (code === 401 || code === 403) return new StoreUnauthorizedError(`kubernetes ${what}: HTTP ${code}: ${String((error as ApiException<unknown>).body).slice(0, 300)}`);
  return new StoreUnavailableError(`kubernetes ${what} failed: ${code === undefined ? asError(error).message : `HTTP ${code}`}`, { cause: error });
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

/** Bounds a client call (the client itself has no deadline). */
async function bounded<T>(what: string, call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`kubernetes ${what}: no answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
  });
  try {
    return await Promise.race([call, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class KubernetesClusterMapStore implements ClusterMapStore {
  readonly kind = 'kubernetes' as const;
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly leases: CoordinationV1Api;
  private closed = false;
  private readonly watches = new Set<{ stop(): void }>();
  private readonly presences = new Set<KubernetesPresence>();

  constructor(readonly location: KubernetesLocation) {
    this.config = new KubeConfig();
    if (location.server !== undefined) {
      this.config.loadFromOptions({
        // client-node refuses plain http unless TLS verification is marked as skipped; an https
        // server is verified as usual.
        clusters: [{ name: 'api', server: location.server, skipTLSVerify: location.server.startsWith('http://') }],
        users: [{ name: 'anonymous' }],
        contexts: [{ name: 'api', cluster: 'api', user: 'anonymous' }],
        currentContext: 'api',
      });
    } else {
      this.config.loadFromDefault();
    }
    this.core = this.config.makeApiClient(CoreV1Api);
    this.leases = this.config.makeApiClient(CoordinationV1Api);
  }

  checkOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  /** The ConfigMap, or null when it does not exist. */
  async readConfigMap(): Promise<V1ConfigMap | null> {
    const { namespace, name } = this.location;
    try {
      return await bounded('read', this.core.readNamespacedConfigMap({ name, namespace }));
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw kubeFailure(`read ConfigMap ${namespace}/${name}`, error);
    }
  }

  mapOf(configMap: V1ConfigMap | null): ClusterMap | null {
    const text = configMap?.data?.[MAP_KEY];
    return text === undefined ? null : storedMap(text, `ConfigMap ${this.location.namespace}/${this.location.name}`);
  }

  async read(): Promise<ClusterMap | null> {
    this.checkOpen();
    return this.mapOf(await this.readConfigMap());
  }

  async compareAndSwap(expectedVersion: number, next: ClusterMap): Promise<{ ok: true } | { ok: false; current: ClusterMap | null }> {
    this.checkOpen();
    const text = casDocument(expectedVersion, next);
    if (Buffer.byteLength(text) > CONFIGMAP_DATA_BYTES_MAX) {
      throw new StoreLimitError(`the ClusterMap is ${Buffer.byteLength(text)} bytes; a ConfigMap holds at most ${CONFIGMAP_DATA_BYTES_MAX}`);
    }
    const { namespace, name } = this.location;
    // A 409 may come from a change to the ConfigMap that is not a new map (the operator applying
    // its labels, an annotation): then the map is still the expected one and the swap is tried again.
    for (let attempt = 1; ; attempt++) {
      const stored = await this.readConfigMap();
      const current = this.mapOf(stored);
      if ((current?.version ?? 0) !== expectedVersion) return { ok: false, current };
      try {
        if (stored === null) {
          await bounded('create', this.core.createNamespacedConfigMap({ namespace, body: { metadata: { name, namespace }, data: { [MAP_KEY]: text } } }));
        } else {
          // The resourceVersion read above makes this a compare-and-swap: a change since is a 409.
          await bounded('update', this.core.replaceNamespacedConfigMap({ name, namespace, body: { ...stored, data: { ...stored.data, [MAP_KEY]: text } } }));
        }
        return { ok: true };
      } catch (error) {
        if (statusOf(error) !== 409) throw kubeFailure(`compare-and-swap on ConfigMap ${namespace}/${name}`, error);
        if (attempt >= CAS_METADATA_RETRIES) return { ok: false, current: await this.read() };
      }
    }
  }

  watch(onMap: (map: ClusterMap) => void, onError?: (error: Error) => void): () => void {
    this.checkOpen();
    return trackWatch(this.watches, new ObjectWatch(this, `/api/v1/namespaces/${this.location.namespace}/configmaps`, { fieldSelector: `metadata.name=${this.location.name}` }, new MapDelivery(this, onMap, onError), onError));
  }

  leaseName(nodeId: string): string {
    return `${this.location.name}-node-${nodeId}`.toLowerCase();
  }

  async register(registration: NodeRegistration, ttlMs: number): Promise<PresenceHandle> {
    this.checkOpen();
    const checked = registrationArgument(registration, ttlMs);
    const presence = new KubernetesPresence(this, checked, ttlMs);
    await presence.start();
    this.presences.add(presence);
    presence.onClose = () => this.presences.delete(presence);
    return presence;
  }

  async listLeases(): Promise<V1Lease[]> {
    try {
      const list = await bounded('list leases', this.leases.listNamespacedLease({ namespace: this.location.namespace, labelSelector: `${PRESENCE_LABEL}=${this.location.name}` }));
      return list.items;
    } catch (error) {
      throw kubeFailure('list presence Leases', error);
    }
  }

  async onlineNodes(): Promise<NodeRegistration[]> {
    this.checkOpen();
    return liveRegistrations(await this.listLeases(), Date.now());
  }

  watchOnline(onChange: (nodes: NodeRegistration[]) => void, onError?: (error: Error) => void): () => void {
    this.checkOpen();
    const delivery = new PresenceDelivery(this, onChange);
    const watch = new ObjectWatch(this, `/apis/coordination.k8s.io/v1/namespaces/${this.location.namespace}/leases`, { labelSelector: `${PRESENCE_LABEL}=${this.location.name}` }, delivery, onError);
    const stopWatch = trackWatch(this.watches, watch);
    // An expired Lease produces no event: look again at the soonest expiry, at least every second.
    const timer = setInterval(() => delivery.emit(), 1000);
    timer.unref();
    return () => {
      clearInterval(timer);
      stopWatch();
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const failed = await stopAll(this.watches, this.presences);
    this.closed = true;
    if (failed !== undefined) throw asError(failed.reason);
  }
}

/** What a watch does with the objects it sees. */
interface Delivery {
  /** The full current set (after a list): replaces what was known. */
  reset(objects: Array<V1ConfigMap | V1Lease>): void;
  /** One watch event. */
  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: V1ConfigMap | V1Lease): void;
}

/**
 * List-then-watch with resume: lists (collection resourceVersion R), hands the objects over, then
 * watches from R; a dropped watch resumes from the last resourceVersion seen, a 410 Gone lists again.
 */
class ObjectWatch {
  private readonly abort = new AbortController();
  private resourceVersion: string | null = null;

  constructor(
    private readonly store: KubernetesClusterMapStore,
    private readonly path: string,
    private readonly query: Record<string, string>,
    private readonly delivery: Delivery,
    private readonly onError?: (error: Error) => void,
  ) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.abort.abort();
  }

  private async run(): Promise<void> {
    const backoff = new Backoff();
    while (!this.abort.signal.aborted) {
      try {
        if (this.resourceVersion === null) await this.list();
        const outcome = await this.watchOnce();
        if (outcome === 'gone') this.resourceVersion = null;
        else backoff.reset();
        if (outcome === 'closed') continue;
      } catch (error) {
        if (this.abort.signal.aborted) return;
        if (this.onError !== undefined) invokeCallback(this.onError, kubeFailure(`watch ${this.path}`, error));
      }
      await sleep(backoff.next(), this.abort.signal);
    }
  }

  private async list(): Promise<void> {
    const store = this.store;
    const { namespace, name } = store.location;
    if (this.path.endsWith('/configmaps')) {
      const list = await bounded('list', store.core.listNamespacedConfigMap({ namespace, fieldSelector: `metadata.name=${name}` }));
      this.resourceVersion = list.metadata?.resourceVersion ?? '';
      this.delivery.reset(list.items);
    } else {
      const list = await bounded('list', store.leases.listNamespacedLease({ namespace, labelSelector: this.query['labelSelector'] }));
      this.resourceVersion = list.metadata?.resourceVersion ?? '';
      this.delivery.reset(list.items);
    }
  }

  /** One watch request until it ends: 'closed' (resume), or 'gone' (410: list again). */
  private watchOnce(): Promise<'closed' | 'gone'> {
    return new Promise((resolve, reject) => {
      let gone = false;
      const watcher = new Watch(this.store.config);
      const started = watcher.watch(
        this.path,
        { ...this.query, resourceVersion: this.resourceVersion ?? '', allowWatchBookmarks: true, timeoutSeconds: 300 },
        (type: string, object: V1ConfigMap & { code?: number }) => {
          if (type === 'ERROR') {
            if (object.code === 410) gone = true;
            return;
          }
          const version = object.metadata?.resourceVersion;
          if (version !== undefined) this.resourceVersion = version;
          if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.delivery.event(type, object);
        },
        (error: unknown) => {
          this.abort.signal.removeEventListener('abort', stop);
          if (gone || statusOf(error) === 410) resolve('gone');
          else if (error === null || error === undefined || this.abort.signal.aborted) resolve('closed');
          else reject(error);
        },
      );
      const stop = (): void => void started.then((controller) => controller.abort());
      this.abort.signal.addEventListener('abort', stop, { once: true });
      started.catch(reject);
    });
  }
}

/** Map watch: delivers each newer version, never an older one. */
class MapDelivery implements Delivery {
  private deliveredVersion = 0;

  constructor(
    private readonly store: KubernetesClusterMapStore,
    private readonly onMap: (map: ClusterMap) => void,
    private readonly onError?: (error: Error) => void,
  ) {}

  reset(objects: Array<V1ConfigMap | V1Lease>): void {
    for (const object of objects) this.event('MODIFIED', object as V1ConfigMap);
  }

  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: V1ConfigMap | V1Lease): void {
    if (type === 'DELETED') return;
    let map: ClusterMap | null;
    try {
      map = this.store.mapOf(object as V1ConfigMap);
    } catch (error) {
      if (this.onError !== undefined) invokeCallback(this.onError, asError(error));
      return;
    }
    if (map === null || map.version <= this.deliveredVersion) return;
    this.deliveredVersion = map.version;
    invokeCallback(this.onMap, map);
  }
}

/** Presence watch: keeps the Leases by name and reports the live registrations when they change. */
class PresenceDelivery implements Delivery {
  private readonly leases = new Map<string, V1Lease>();
  private last: NodeRegistration[] | null = null;

  constructor(
    private readonly store: KubernetesClusterMapStore,
    private readonly onChange: (nodes: NodeRegistration[]) => void,
  ) {}

  reset(objects: Array<V1ConfigMap | V1Lease>): void {
    this.leases.clear();
    for (const object of objects) this.leases.set(object.metadata?.name ?? '', object as V1Lease);
    this.emit();
  }

  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: V1ConfigMap | V1Lease): void {
    const name = object.metadata?.name ?? '';
    if (type === 'DELETED') this.leases.delete(name);
    else this.leases.set(name, object as V1Lease);
    this.emit();
  }

  emit(): void {
    const nodes = liveRegistrations([...this.leases.values()], Date.now());
    if (this.last !== null && sameRegistrations(this.last, nodes)) return;
    this.last = nodes;
    invokeCallback(this.onChange, nodes);
  }
}

/** One node's presence Lease, renewed every TTL / 3 until closed. */
class KubernetesPresence implements PresenceHandle {
  onClose: () => void = () => undefined;
  private readonly abort = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly leaseName: string;

  constructor(
    private readonly store: KubernetesClusterMapStore,
    private readonly registration: NodeRegistration,
    private readonly ttlMs: number,
  ) {
    this.leaseName = store.leaseName(registration.nodeId);
  }

  async start(): Promise<void> {
    await this.renew();
    this.loop = this.renewLoop();
  }

  /** The map ConfigMap's uid: presence Leases are owned by it, so they go when the cluster goes. */
  private ownerUid: string | undefined;

  private body(existing: V1Lease | null): V1Lease {
    const { namespace, name } = this.store.location;
    const owner = this.ownerUid === undefined ? {} : { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name, uid: this.ownerUid }] };
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...(existing?.metadata ?? {}),
        name: this.leaseName,
        namespace,
        ...owner,
        labels: { ...(existing?.metadata?.labels ?? {}), [PRESENCE_LABEL]: name },
        annotations: { ...(existing?.metadata?.annotations ?? {}), [REGISTRATION_ANNOTATION]: JSON.stringify(this.registration) },
      },
      spec: {
        holderIdentity: this.registration.incarnation,
        leaseDurationSeconds: Math.max(1, Math.ceil(this.ttlMs / 1000)),
        renewTime: new V1MicroTime(),
      },
    };
  }

  /** Writes the Lease (create, or update at the read resourceVersion; a 409 is retried next round). */
  private async renew(): Promise<void> {
    const { namespace } = this.store.location;
    const api = this.store.leases;
    this.ownerUid ??= (await this.store.readConfigMap())?.metadata?.uid;
    let existing: V1Lease | null = null;
    try {
      existing = await bounded('read lease', api.readNamespacedLease({ name: this.leaseName, namespace }));
    } catch (error) {
      if (statusOf(error) !== 404) throw kubeFailure(`read Lease ${this.leaseName}`, error);
    }
    try {
      if (existing === null) await bounded('create lease', api.createNamespacedLease({ namespace, body: this.body(null) }));
      else await bounded('renew lease', api.replaceNamespacedLease({ name: this.leaseName, namespace, body: this.body(existing) }));
    } catch (error) {
      throw kubeFailure(`write Lease ${this.leaseName}`, error);
    }
  }

  private async renewLoop(): Promise<void> {
    const backoff = new Backoff();
    while (!this.abort.signal.aborted) {
      await sleep(Math.max(100, Math.floor(this.ttlMs / 3)), this.abort.signal);
      if (this.abort.signal.aborted) return;
      try {
        await this.renew();
        backoff.reset();
      } catch {
        // Retried sooner than the period (the registration expires after the TTL otherwise).
        await sleep(backoff.next(), this.abort.signal);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    await this.loop;
    this.onClose();
    const { namespace } = this.store.location;
    try {
      const lease = await bounded('read lease', this.store.leases.readNamespacedLease({ name: this.leaseName, namespace }));
      // Only this incarnation's Lease: a newer process of the same node may hold it already.
      if (lease.spec?.holderIdentity !== this.registration.incarnation) return;
      await bounded('delete lease', this.store.leases.deleteNamespacedLease({ name: this.leaseName, namespace, body: { preconditions: { resourceVersion: lease.metadata?.resourceVersion } } }));
    } catch (error) {
      const status = statusOf(error);
      if (status === 404 || status === 409) return;
      throw kubeFailure(`delete Lease ${this.leaseName}`, error);
    }
  }
}
