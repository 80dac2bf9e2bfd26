/**
 * A Kubernetes API server emulator for tests: in memory, one process, plain HTTP on loopback, no
 * auth. Real clients (@kubernetes/client-node) talk to it through kubeConfig(); tests and simulated
 * components (a kubelet, say) use the in-process API, which goes through the same store code paths:
 * same validation, same resourceVersions, same watch events.
 *
 * What it implements, and what it simplifies, is listed in docs at the top of each module under
 * ./kube/ and summarised here:
 * - resourceVersion is one global counter; uid, creationTimestamp, generation (bumped on changes
 *   outside metadata and status) are server-set; a write that changes nothing gets no new version.
 * - create/get/list/update/patch (merge, JSON, strategic, server-side apply)/delete/deletecollection,
 *   `/status` for types that have it; optimistic concurrency; Status errors as the API server's.
 * - finalizers, ownerReference garbage collection (Background, Foreground — done synchronously —
 *   and Orphan), namespace deletion, CRDs that serve their group/version/plural.
 * - list: label selectors, field selectors on the fields each type allows, limit/continue (pages are
 *   cut from the current state, not from a snapshot at the first page's version).
 * - watch: initial ADDED, resume from a resourceVersion, 410 Expired past the kept history,
 *   bookmarks, timeoutSeconds, selector transitions as ADDED/DELETED.
 * - Custom resources are defaulted and validated against their CRD version's openAPIV3Schema
 *   (../crd-schema.ts: types, enums, bounds, patterns, required, unknown fields refused rather than
 *   pruned, the CEL rule shapes Ballast's CRD uses); a violation is 422 Invalid with causes.
 * - Not emulated: authn/authz, admission, defaulting of built-in types (e.g. Service clusterIP,
 *   container imagePullPolicy), pruning, conversion between CRD versions
 *   (all versions share one stored object), dryRun (refused with 400), Table output, protobuf.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { ManagedFieldsEntry } from './kube/apply.js';
import { kubeErrors } from './kube/errors.js';
import { KubeHttpHandler, type FaultSpec } from './kube/http.js';
import { clone, isPlainObject, toJson, type JsonObject } from './kube/json.js';
import { kubeLimits } from './kube/limits.js';
import type { PatchType } from './kube/patch.js';
import { customResourceType, type CustomResourceType, type ResourceType } from './kube/resources.js';
import { KubeStore, parseWatchVersion, type DeleteRequest } from './kube/store.js';
import type { WatchEventType } from './kube/watch.js';

export { KubeStatusError, type StatusReason, type StatusCause, type StatusDetails } from './kube/errors.js';
export type { FaultSpec } from './kube/http.js';
export type { CustomResourceType } from './kube/resources.js';
export type { ManagedFieldsEntry } from './kube/apply.js';
export type { DeleteRequest, PropagationPolicy } from './kube/store.js';
export type { PatchType } from './kube/patch.js';

export interface KubeEmulatorOptions {
  /** 0 (default): any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Watch events kept for resuming watches, across all resources (default 1000). */
  watchCacheSize?: number;
  /** Interval of BOOKMARK events on watches with allowWatchBookmarks (default 1000 ms). */
  bookmarkIntervalMs?: number;
}

export interface KubeObjectMeta {
  name: string;
  namespace?: string;
  generateName?: string;
  uid: string;
  resourceVersion: string;
  generation: number;
  creationTimestamp: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: JsonObject[];
  finalizers?: string[];
  managedFields?: ManagedFieldsEntry[];
}

/** A stored object as the emulator returns it (a copy; changing it changes nothing). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: KubeObjectMeta;
  [field: string]: unknown;
}

/** Anything shaped like a Kubernetes object, including client-node's typed models. */
export interface KubeObjectInput {
  apiVersion?: string;
  kind?: string;
  metadata?: object;
}

export interface InProcessWriteOptions {
  /** Default `kube-emulator`. */
  fieldManager?: string;
}

export interface InProcessApplyOptions {
  fieldManager: string;
  force?: boolean;
  subresource?: 'status';
}

export interface InProcessPatchOptions extends InProcessWriteOptions {
  type: PatchType;
  subresource?: 'status';
}

export interface InProcessSelectors {
  labelSelector?: string;
  fieldSelector?: string;
}

export interface InProcessWatchFilter extends InProcessSelectors {
  apiVersion: string;
  /** Kind, plural or singular name. */
  kind: string;
  /** Undefined: every namespace. */
  namespace?: string;
  /** As the watch parameter: ''/undefined sends current objects as ADDED first; a version resumes after it. */
  resourceVersion?: string;
}

export interface KubeWatchEvent {
  type: WatchEventType;
  object: KubeObject;
}

export interface KubeEmulator {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** The current (latest) resourceVersion. */
  readonly resourceVersion: string;
  /** A client-node KubeConfig pointing at the emulator (context namespace `namespace`, default `default`). */
  kubeConfig(namespace?: string): KubeConfig;
  /** Serves a custom resource without a CustomResourceDefinition object. */
  registerCustomResource(definition: CustomResourceType): void;
  get(apiVersion: string, kindOrResource: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(apiVersion: string, kindOrResource: string, namespace?: string, selectors?: InProcessSelectors): KubeObject[];
  create<T extends KubeObjectInput>(object: T, options?: InProcessWriteOptions): KubeObject;
  /** PUT semantics: metadata.resourceVersion, when set, must match. */
  update<T extends KubeObjectInput>(object: T, options?: InProcessWriteOptions): KubeObject;
  updateStatus<T extends KubeObjectInput>(object: T, options?: InProcessWriteOptions): KubeObject;
  patch(
    apiVersion: string,
    kindOrResource: string,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    options: InProcessPatchOptions,
  ): KubeObject;
  /** Server-side apply; creates the object when absent. */
  apply<T extends KubeObjectInput>(object: T, options: InProcessApplyOptions): KubeObject;
  /** Returns the object as deleted (or as marked for deletion while finalizers hold it). */
  delete(apiVersion: string, kindOrResource: string, namespace: string | undefined, name: string, options?: DeleteRequest): KubeObject;
  /**
   * Watches in process. Events arrive in order, each in its own microtask (never inside the write
   * that caused it), so a callback may write to the emulator. Throws 410 for a version too old.
   */
  watchInProcess(filter: InProcessWatchFilter, onEvent: (event: KubeWatchEvent) => void): { stop(): void };
  /** Forgets all watch history: any older resourceVersion now answers 410 Gone. */
  compact(): void;
  /** Ends every open HTTP watch (an API server restart, as clients see it); in-process watches stay. */
  closeWatches(): void;
  /** The next `times` requests matching method and path answer `status` without taking effect. */
  failNext(fault: FaultSpec): void;
  /**
   * An API server restart: every connection and watch is cut, nothing answers for `downtimeMs`,
   * then it listens again on the same address with every object and the watch history intact.
   */
  restart(downtimeMs?: number): Promise<void>;
  close(): Promise<void>;
}

const IN_PROCESS_MANAGER = 'kube-emulator';

/** The API server's generateName alphabet: no vowels (no words) and no look-alike characters. */
const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function nameSuffix(): string {
  return Array.from({ length: 5 }, () => NAME_SUFFIX_ALPHABET[randomInt(NAME_SUFFIX_ALPHABET.length)]).join('');
}

class Emulator implements KubeEmulator {
  constructor(
    readonly url: string,
    private readonly store: KubeStore,
    private readonly handler: KubeHttpHandler,
    private server: Server,
  ) {}

  get resourceVersion(): string {
    return this.store.resourceVersion;
  }

  kubeConfig(namespace = 'default'): KubeConfig {
    const config = new KubeConfig();
    config.loadFromOptions({
      // client-node 1.4 refuses http:// servers unless skipTLSVerify is set (there is no TLS to verify).
      clusters: [{ name: 'emulator', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'emulator' }],
      contexts: [{ name: 'emulator', cluster: 'emulator', user: 'emulator', namespace }],
      currentContext: 'emulator',
    });
    return config;
  }

  registerCustomResource(definition: CustomResourceType): void {
    this.store.registry.register(customResourceType(definition));
  }

  get(apiVersion: string, kindOrResource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.store.find(this.typeOf(apiVersion, kindOrResource), namespace ?? '', name);
    return found && (clone(found) as KubeObject);
  }

  list(apiVersion: string, kindOrResource: string, namespace?: string, selectors: InProcessSelectors = {}): KubeObject[] {
    const type = this.typeOf(apiVersion, kindOrResource);
    const selector = this.store.parseSelector(type, selectors.labelSelector, selectors.fieldSelector);
    return this.store.list(type, namespace, { selector }).items.map((item) => clone(item) as KubeObject);
  }

  create(object: KubeObjectInput, options: InProcessWriteOptions = {}): KubeObject {
    const { type, body, namespace } = this.target(object);
    return clone(this.store.create(type, namespace, body, { fieldManager: options.fieldManager ?? IN_PROCESS_MANAGER })) as KubeObject;
  }

  update(object: KubeObjectInput, options: InProcessWriteOptions = {}): KubeObject {
    const { type, body, namespace, name } = this.target(object);
    const request = { fieldManager: options.fieldManager ?? IN_PROCESS_MANAGER };
    return clone(this.store.update(type, namespace, name, body, request)) as KubeObject;
  }

  updateStatus(object: KubeObjectInput, options: InProcessWriteOptions = {}): KubeObject {
    const { type, body, namespace, name } = this.target(object);
    const request = { fieldManager: options.fieldManager ?? IN_PROCESS_MANAGER, subresource: this.statusOf(type) };
    return clone(this.store.update(type, namespace, name, body, request)) as KubeObject;
  }

  patch(
    apiVersion: string,
    kindOrResource: string,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    options: InProcessPatchOptions,
  ): KubeObject {
    const type = this.typeOf(apiVersion, kindOrResource);
    const request = {
      fieldManager: options.fieldManager ?? IN_PROCESS_MANAGER,
      subresource: options.subresource && this.statusOf(type),
    };
    return clone(this.store.patch(type, namespace ?? '', name, options.type, toJson(patch), request)) as KubeObject;
  }

  apply(object: KubeObjectInput, options: InProcessApplyOptions): KubeObject {
    const { type, body, namespace, name } = this.target(object);
    const request = {
      fieldManager: options.fieldManager,
      force: options.force ?? false,
      subresource: options.subresource && this.statusOf(type),
    };
    return clone(this.store.apply(type, namespace, name, body, request).object) as KubeObject;
  }

  delete(apiVersion: string, kindOrResource: string, namespace: string | undefined, name: string, options: DeleteRequest = {}): KubeObject {
    const type = this.typeOf(apiVersion, kindOrResource);
    return clone(this.store.delete(type, namespace ?? '', name, options).object) as KubeObject;
  }

  watchInProcess(filter: InProcessWatchFilter, onEvent: (event: KubeWatchEvent) => void): { stop(): void } {
    const type = this.typeOf(filter.apiVersion, filter.kind);
    const selector = this.store.parseSelector(type, filter.labelSelector, filter.fieldSelector);
    let stopped = false;
    const request = { selector, afterRevision: parseWatchVersion(filter.resourceVersion) };
    const unsubscribe = this.store.watch(type, filter.namespace, request, (event) => {
      const delivered: KubeWatchEvent = { type: event.type, object: clone(event.object) as KubeObject };
      queueMicrotask(() => {
        if (!stopped) onEvent(delivered);
      });
    });
    return {
      stop() {
        stopped = true;
        unsubscribe();
      },
    };
  }

  compact(): void {
    this.store.compact();
  }

  closeWatches(): void {
    this.handler.closeWatches();
  }

  failNext(fault: FaultSpec): void {
    this.handler.failNext(fault);
  }

  async close(): Promise<void> {
    this.handler.closeWatches();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  async restart(downtimeMs = 0): Promise<void> {
    await this.close();
    await new Promise((resolve) => setTimeout(resolve, downtimeMs));
    const { hostname, port } = new URL(this.url);
    this.server = await listen(this.handler, hostname, Number(port));
  }

  private typeOf(apiVersion: string, kindOrResource: string): ResourceType {
    const type = this.store.registry.findByApiVersion(apiVersion, kindOrResource);
    if (!type) throw kubeErrors.unknownType(apiVersion, kindOrResource);
    return type;
  }

  private statusOf(type: ResourceType): 'status' {
    if (!type.statusSubresource) throw kubeErrors.pathNotFound();
    return 'status';
  }

  /** Type, namespace and name of an in-process write, from the object itself. */
  private target(object: KubeObjectInput): { type: ResourceType; body: JsonObject; namespace: string; name: string } {
    const body = toJson(object);
    if (!isPlainObject(body) || typeof body.apiVersion !== 'string' || typeof body.kind !== 'string') {
      throw kubeErrors.badRequest('an object needs apiVersion and kind');
    }
    const type = this.typeOf(body.apiVersion, body.kind);
    const metadata = isPlainObject(body.metadata) ? body.metadata : {};
    const namespace = typeof metadata.namespace === 'string' ? metadata.namespace : '';
    if (type.namespaced && namespace === '') throw kubeErrors.badRequest(`metadata.namespace is required for ${type.plural}`);
    return { type, body, namespace, name: typeof metadata.name === 'string' ? metadata.name : '' };
  }
}

export async function startKubeEmulator(options: KubeEmulatorOptions = {}): Promise<KubeEmulator> {
  const watchCacheSize = options.watchCacheSize ?? kubeLimits.watchCacheSizeDefault;
  if (!Number.isInteger(watchCacheSize) || watchCacheSize < 1) {
    throw new RangeError(`watchCacheSize must be a positive integer, got ${watchCacheSize}`);
  }
  const store = new KubeStore({ nowMs: () => Date.now(), newUid: () => randomUUID(), nameSuffix, watchCacheSize });
  const handler = new KubeHttpHandler(store, { bookmarkIntervalMs: options.bookmarkIntervalMs ?? kubeLimits.bookmarkIntervalMsDefault });
  const host = options.host ?? '127.0.0.1';
  const server = await listen(handler, host, options.port ?? 0);
  const { port } = server.address() as AddressInfo;
  return new Emulator(`http://${host}:${port}`, store, handler, server);
}

function listen(handler: KubeHttpHandler, host: string, port: number): Promise<Server> {
  const server = createServer(handler.listener);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
