/**
 * The emulated API server's storage and write semantics, without I/O: objects by group resource,
 * namespace and name; one global resourceVersion counter bumped by every write; optimistic
 * concurrency; status subresources; generation; managed fields and server-side apply; finalizers;
 * garbage collection by ownerReferences; namespace deletion; CustomResourceDefinitions that start
 * serving their types. Time, uids and generated-name suffixes come in through StoreOptions.
 *
 * Objects the store returns are frozen views (with apiVersion as the caller's type asks); copy
 * before changing them.
 */
import { managedFieldsAfterUpdate, serverSideApply, type ManagedFieldsEntry, type WriteContext } from './apply.js';
import { kubeErrors, OBJECT_MODIFIED_MESSAGE, type StatusCause } from './errors.js';
import type { FieldScope } from './field-paths.js';
import { clone, deepEqual, deepFreeze, isPlainObject, type JsonObject } from './json.js';
import { kubeLimits } from './limits.js';
import { applyPatch, type PatchType } from './patch.js';
import { apiVersionOf, groupResourceOf, ResourceRegistry, type ResourceType } from './resources.js';
import { matchesSelector, parseFieldSelector, parseLabelSelector, type Selector } from './selectors.js';
import { applySchemaDefaults, validateAgainstSchema } from '../crd-schema.js';
import { isCustomResourceDefinition, strategyFor, typesFromDefinition } from './strategies.js';
import { WatchHub, type StoredEventType, type WatchEvent, type WatchSink } from './watch.js';

export interface StoreOptions {
  nowMs(): number;
  newUid(): string;
  /** Five characters from the API server's alphabet, for generateName. */
  nameSuffix(): string;
  watchCacheSize: number;
}

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

export interface WriteRequest {
  fieldManager: string;
  /** Default: the main resource. */
  subresource?: 'status';
}

export interface ApplyRequest extends WriteRequest {
  force: boolean;
}

export interface DeleteRequest {
  propagationPolicy?: PropagationPolicy;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface DeleteResult {
  /** The object as deleted, or as marked for deletion while finalizers remain. */
  object: JsonObject;
  /** False while finalizers (or a namespace's contents) hold the object. */
  removed: boolean;
}

export interface ListRequest {
  selector: Selector;
  /** Page size; 0 or undefined for everything. */
  limit?: number;
  continueToken?: string;
}

export interface KubeList {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: JsonObject[];
}

export interface WatchRequest {
  selector: Selector;
  /** Resume after this revision; undefined: current objects as ADDED first (see parseWatchVersion). */
  afterRevision?: number;
  /** After the initial ADDED events, a BOOKMARK annotated `k8s.io/initial-events-end`. */
  sendInitialEvents?: boolean;
}

interface Entry {
  type: ResourceType;
  object: JsonObject;
}

/** Metadata only the server sets; a PUT or patch cannot change it. */
const SERVER_METADATA = [
  'uid',
  'creationTimestamp',
  'generation',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'resourceVersion',
  'managedFields',
];

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The object's metadata (every object the store handles has some: incoming() makes sure). */
function metadataOf(object: JsonObject): JsonObject {
  return isPlainObject(object.metadata) ? object.metadata : {};
}

function nameOf(object: JsonObject): string {
  const name = metadataOf(object).name;
  return typeof name === 'string' ? name : '';
}

function finalizersOf(object: JsonObject): string[] {
  const finalizers = metadataOf(object).finalizers;
  return Array.isArray(finalizers) ? finalizers.map(String) : [];
}

function isDeleting(object: JsonObject): boolean {
  return typeof metadataOf(object).deletionTimestamp === 'string';
}

function ownerUids(object: JsonObject): string[] {
  const references = metadataOf(object).ownerReferences;
  return Array.isArray(references) ? references.filter(isPlainObject).map((reference) => String(reference.uid)) : [];
}

/** Everything outside metadata and status: what `generation` counts changes of. */
function specContent(object: JsonObject): JsonObject {
  return Object.fromEntries(
    Object.entries(object).filter(([field]) => !['apiVersion', 'kind', 'metadata', 'status'].includes(field)),
  );
}

/** Content for no-op detection: a write that changes nothing gets no new resourceVersion. */
function comparable(object: JsonObject): JsonObject {
  const metadata = { ...metadataOf(object) };
  delete metadata.resourceVersion;
  if (Array.isArray(metadata.managedFields)) {
    metadata.managedFields = metadata.managedFields.map((entry) => (isPlainObject(entry) ? { ...entry, time: undefined } : entry));
  }
  return { ...object, apiVersion: undefined, metadata };
}

function isNamespaceType(type: ResourceType): boolean {
  return type.group === '' && type.plural === 'namespaces';
}

function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A watch's resourceVersion parameter: '', '0' or absent mean "from the current state" (undefined). */
export function parseWatchVersion(text: string | undefined): number | undefined {
  if (text === undefined || text === '' || text === '0') return undefined;
  if (!/^\d+$/.test(text)) throw kubeErrors.badRequest(`invalid resource version: "${text}"`);
  return Number(text);
}

function encodeContinue(revision: number, after: string): string {
  return Buffer.from(JSON.stringify({ revision, after })).toString('base64url');
}

function decodeContinue(token: string): { revision: number; after: string } {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (isPlainObject(decoded) && typeof decoded.revision === 'number' && typeof decoded.after === 'string') {
      return { revision: decoded.revision, after: decoded.after };
    }
  } catch (error) {
    throw kubeErrors.badRequest(`continue key is not valid: ${(error as Error).message}`);
  }
  throw kubeErrors.badRequest('continue key is not valid');
}

export class KubeStore {
  readonly registry = new ResourceRegistry();
  private readonly entries = new Map<string, Entry>();
  private readonly keysByUid = new Map<string, string>();
  /** Propagation policy of each object waiting on finalizers, applied when it finally goes. */
  private readonly pendingPolicies = new Map<string, PropagationPolicy>();
  /** Uids being removed right now: stops cycles of ownerReferences from recursing forever. */
  private readonly removing = new Set<string>();
  private readonly hub: WatchHub;
  private revision = 0;

  constructor(private readonly options: StoreOptions) {
    this.hub = new WatchHub(options.watchCacheSize);
    const namespaces = this.typeOf('', 'v1', 'namespaces');
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.create(namespaces, '', { metadata: { name } }, { fieldManager: 'kube-apiserver' });
    }
  }

  get resourceVersion(): string {
    return String(this.revision);
  }

  typeOf(group: string, version: string, plural: string): ResourceType {
    const type = this.registry.find(group, version, plural);
    if (!type) throw kubeErrors.unknownType(apiVersionOf({ group, version }), plural);
    return type;
  }

  parseSelector(type: ResourceType, labelSelector?: string, fieldSelector?: string): Selector {
    const fields = ['metadata.name', 'metadata.namespace', ...type.selectableFields];
    return { labels: parseLabelSelector(labelSelector), fields: parseFieldSelector(fieldSelector, fields) };
  }

  find(type: ResourceType, namespace: string, name: string): JsonObject | undefined {
    const entry = this.entries.get(this.key(type, namespace, name));
    return entry && this.shown(type, entry.object);
  }

  get(type: ResourceType, namespace: string, name: string): JsonObject {
    const found = this.find(type, namespace, name);
    if (!found) throw kubeErrors.notFound(type, name);
    return found;
  }

  list(type: ResourceType, namespace: string | undefined, request: ListRequest): KubeList {
    const all = this.matching(type, namespace, request.selector);
    const page = request.continueToken ? decodeContinue(request.continueToken) : undefined;
    const rest = page ? all.filter((entry) => entry.sortKey > page.after) : all;
    const limit = request.limit && request.limit > 0 ? request.limit : rest.length;
    const items = rest.slice(0, limit);
    const revision = page?.revision ?? this.revision;
    const metadata: KubeList['metadata'] = { resourceVersion: String(revision) };
    const last = items.at(-1);
    if (rest.length > limit && last) {
      metadata.continue = encodeContinue(revision, last.sortKey);
      metadata.remainingItemCount = rest.length - limit;
    }
    return { apiVersion: apiVersionOf(type), kind: type.listKind, metadata, items: items.map((entry) => entry.object) };
  }

  create(type: ResourceType, namespace: string, body: unknown, request: WriteRequest): JsonObject {
    const object = this.incoming(type, namespace, body, undefined);
    const metadata = metadataOf(object);
    if (metadata.resourceVersion) throw kubeErrors.badRequest('resourceVersion should not be set on objects to be created');
    if (!metadata.name && typeof metadata.generateName === 'string' && metadata.generateName !== '') {
      metadata.name = `${metadata.generateName}${this.options.nameSuffix()}`;
    }
    return this.insert(type, object, (created) => managedFieldsAfterUpdate(undefined, created, this.context(type, request)));
  }

  update(type: ResourceType, namespace: string, name: string, body: unknown, request: WriteRequest): JsonObject {
    const existing = this.getEntry(type, namespace, name).object;
    const incoming = this.incoming(type, namespace, body, name);
    this.checkWritePreconditions(type, existing, incoming, !type.builtin);
    const next = this.nextState(type, existing, incoming, request.subresource);
    return this.writeUpdate(type, existing, next, request.subresource, (after) =>
      managedFieldsAfterUpdate(existing, after, this.context(type, request)),
    );
  }

  patch(type: ResourceType, namespace: string, name: string, patchType: PatchType, patch: unknown, request: WriteRequest): JsonObject {
    if (patchType === 'strategic' && !type.builtin) {
      throw kubeErrors.unsupportedMediaType('application/strategic-merge-patch+json', [
        'application/json-patch+json',
        'application/merge-patch+json',
        'application/apply-patch+yaml',
      ]);
    }
    const existing = this.getEntry(type, namespace, name).object;
    const patched = applyPatch(patchType, clone(existing), patch);
    if (!isPlainObject(patched)) throw kubeErrors.badRequest('the patch result is not an object');
    const incoming = this.incoming(type, namespace, patched, name);
    this.checkWritePreconditions(type, existing, incoming, false);
    const next = this.nextState(type, existing, incoming, request.subresource);
    return this.writeUpdate(type, existing, next, request.subresource, (after) =>
      managedFieldsAfterUpdate(existing, after, this.context(type, request)),
    );
  }

  /** Server-side apply; creates the object when it does not exist (not through /status). */
  apply(
    type: ResourceType,
    namespace: string,
    name: string,
    body: unknown,
    request: ApplyRequest,
  ): { object: JsonObject; created: boolean } {
    const applied = this.incoming(type, namespace, body, name, true);
    const context = { ...this.context(type, request), force: request.force };
    const existingEntry = this.entries.get(this.key(type, namespace, name));
    if (!existingEntry) {
      if (request.subresource === 'status') throw kubeErrors.notFound(type, name);
      const identity = type.namespaced ? { name, namespace } : { name };
      const skeleton: JsonObject = { apiVersion: apiVersionOf(type), kind: type.kind, metadata: identity };
      const created = serverSideApply(skeleton, applied, context);
      const managedFields = metadataOf(created).managedFields as ManagedFieldsEntry[];
      return { object: this.insert(type, created, () => managedFields), created: true };
    }
    const existing = existingEntry.object;
    this.checkWritePreconditions(type, existing, applied, false);
    const merged = serverSideApply(existing, applied, context);
    // Read before nextState(), which restores the stored server metadata (managedFields included).
    const managedFields = metadataOf(merged).managedFields as ManagedFieldsEntry[];
    const next = this.nextState(type, existing, merged, request.subresource);
    return { object: this.writeUpdate(type, existing, next, request.subresource, () => managedFields), created: false };
  }

  delete(type: ResourceType, namespace: string, name: string, request: DeleteRequest): DeleteResult {
    const existing = this.getEntry(type, namespace, name).object;
    const metadata = metadataOf(existing);
    const wanted = request.preconditions;
    if (wanted?.uid && wanted.uid !== metadata.uid) {
      const why = `UID in precondition: ${wanted.uid}, UID in object meta: ${String(metadata.uid)}`;
      throw kubeErrors.preconditionFailed(type, name, why);
    }
    if (wanted?.resourceVersion && wanted.resourceVersion !== metadata.resourceVersion) {
      const why = `ResourceVersion in precondition: ${wanted.resourceVersion}, ResourceVersion in object meta: ${String(metadata.resourceVersion)}`;
      throw kubeErrors.preconditionFailed(type, name, why);
    }
    const result = this.deleteObject(type, existing, request.propagationPolicy ?? 'Background');
    return { ...result, object: this.shown(type, result.object) };
  }

  deleteCollection(type: ResourceType, namespace: string | undefined, selector: Selector, request: DeleteRequest): JsonObject[] {
    const deleted: JsonObject[] = [];
    for (const { object } of this.matching(type, namespace, selector)) {
      const objectNamespace = String(metadataOf(object).namespace ?? '');
      // Garbage collection of an earlier item may already have taken this one.
      if (this.find(type, objectNamespace, nameOf(object))) {
        deleted.push(this.delete(type, objectNamespace, nameOf(object), request).object);
      }
    }
    return deleted;
  }

  /**
   * Opens a watch: either current objects as ADDED then live events, or a replay of events after
   * `afterRevision` then live ones. Throws 410 Expired when that history is gone and 504 when
   * the version is in the future. Returns the function that ends the watch.
   */
  watch(type: ResourceType, namespace: string | undefined, request: WatchRequest, sink: WatchSink): () => void {
    const filter = {
      groupResource: groupResourceOf(type),
      apiVersion: apiVersionOf(type),
      namespace: type.namespaced ? namespace : undefined,
      selector: request.selector,
    };
    const revision = request.afterRevision;
    if (revision === undefined || request.sendInitialEvents) {
      const unsubscribe = this.hub.subscribe(filter, sink, this.revision);
      for (const entry of this.matching(type, namespace, request.selector)) sink({ type: 'ADDED', object: entry.object });
      if (request.sendInitialEvents) sink(this.bookmark(type, true));
      return unsubscribe;
    }
    if (revision > this.revision) throw kubeErrors.resourceVersionTooLarge(revision, this.revision);
    return this.hub.subscribe(filter, sink, revision);
  }

  bookmark(type: ResourceType, initialEventsEnd = false): WatchEvent {
    const metadata: JsonObject = { resourceVersion: this.resourceVersion };
    if (initialEventsEnd) metadata.annotations = { 'k8s.io/initial-events-end': 'true' };
    return { type: 'BOOKMARK', object: { kind: type.kind, apiVersion: apiVersionOf(type), metadata } };
  }

  /** Forgets all watch history: a watch resuming from any earlier resourceVersion gets 410. */
  compact(): void {
    this.hub.compact(this.revision);
  }

  private key(type: ResourceType, namespace: string, name: string): string {
    return `${groupResourceOf(type)}/${type.namespaced ? namespace : ''}/${name}`;
  }

  private getEntry(type: ResourceType, namespace: string, name: string): Entry {
    const entry = this.entries.get(this.key(type, namespace, name));
    if (!entry) throw kubeErrors.notFound(type, name);
    return entry;
  }

  private shown(type: ResourceType, object: JsonObject): JsonObject {
    const apiVersion = apiVersionOf(type);
    return object.apiVersion === apiVersion ? object : { ...object, apiVersion };
  }

  private matching(type: ResourceType, namespace: string | undefined, selector: Selector): { object: JsonObject; sortKey: string }[] {
    const groupResource = groupResourceOf(type);
    const found: { object: JsonObject; sortKey: string }[] = [];
    for (const entry of this.entries.values()) {
      if (groupResourceOf(entry.type) !== groupResource) continue;
      const objectNamespace = String(metadataOf(entry.object).namespace ?? '');
      if (namespace !== undefined && type.namespaced && objectNamespace !== namespace) continue;
      if (!matchesSelector(selector, entry.object)) continue;
      found.push({ object: this.shown(type, entry.object), sortKey: `${objectNamespace}/${nameOf(entry.object)}` });
    }
    return found.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
  }

  private context(type: ResourceType, request: WriteRequest): WriteContext {
    const scope: FieldScope = request.subresource === 'status' ? 'status' : type.statusSubresource ? 'main' : 'all';
    return {
      manager: request.fieldManager,
      subresource: request.subresource ?? '',
      scope,
      apiVersion: apiVersionOf(type),
      time: formatTime(this.options.nowMs()),
    };
  }

  /** A mutable copy of a request body, with apiVersion, kind, namespace and name checked against the URL. */
  private incoming(type: ResourceType, namespace: string, body: unknown, urlName: string | undefined, requireTypeMeta = false): JsonObject {
    if (!isPlainObject(body)) throw kubeErrors.badRequest('the request body must be a JSON object');
    const object = clone(body);
    const apiVersion = apiVersionOf(type);
    if (requireTypeMeta && (!object.apiVersion || !object.kind)) {
      throw kubeErrors.badRequest(`${object.apiVersion ? 'kind' : 'apiVersion'} must be set in an applied configuration`);
    }
    if (object.apiVersion !== undefined && object.apiVersion !== apiVersion) {
      throw kubeErrors.badRequest(
        `the API version in the data (${String(object.apiVersion)}) does not match the expected API version (${apiVersion})`,
      );
    }
    if (object.kind !== undefined && object.kind !== type.kind) {
      throw kubeErrors.badRequest(`the kind in the data (${String(object.kind)}) does not match the expected kind (${type.kind})`);
    }
    object.apiVersion = apiVersion;
    object.kind = type.kind;
    if (!isPlainObject(object.metadata)) object.metadata = {};
    const metadata = metadataOf(object);
    if (type.namespaced) {
      if (metadata.namespace !== undefined && metadata.namespace !== '' && metadata.namespace !== namespace) {
        throw kubeErrors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      metadata.namespace = namespace;
    } else {
      delete metadata.namespace;
    }
    if (urlName !== undefined) {
      if (metadata.name !== undefined && metadata.name !== '' && metadata.name !== urlName) {
        throw kubeErrors.badRequest(`the name of the object (${String(metadata.name)}) does not match the name on the URL (${urlName})`);
      }
      metadata.name = urlName;
    }
    return object;
  }

  private validateName(type: ResourceType, object: JsonObject): void {
    const name = nameOf(object);
    if (name === '') {
      const message = 'Required value: name or generateName is required';
      throw kubeErrors.invalid(type, name, [{ reason: 'FieldValueRequired', field: 'metadata.name', message }]);
    }
    const label = strategyFor(type).labelName === true;
    const valid = label ? DNS_LABEL.test(name) && name.length <= 63 : DNS_SUBDOMAIN.test(name) && name.length <= 253;
    if (!valid) {
      const what = label
        ? `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`
        : `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`;
      const message = `Invalid value: "${name}": ${what}, and must start and end with an alphanumeric character`;
      throw kubeErrors.invalid(type, name, [{ reason: 'FieldValueInvalid', field: 'metadata.name', message }]);
    }
  }

  private checkNamespaceOpen(type: ResourceType, object: JsonObject): void {
    if (!type.namespaced) return;
    const namespaceName = String(metadataOf(object).namespace);
    const namespaces = this.typeOf('', 'v1', 'namespaces');
    const namespace = this.entries.get(this.key(namespaces, '', namespaceName));
    if (!namespace) throw kubeErrors.notFound(namespaces, namespaceName);
    if (isDeleting(namespace.object)) {
      const why = `unable to create new content in namespace ${namespaceName} because it is being terminated`;
      throw kubeErrors.forbidden(type, nameOf(object), why);
    }
  }

  /** Create path shared by POST and create-on-apply. */
  private insert(type: ResourceType, object: JsonObject, managedFields: (object: JsonObject) => ManagedFieldsEntry[]): JsonObject {
    this.validateName(type, object);
    this.checkNamespaceOpen(type, object);
    const namespace = String(metadataOf(object).namespace ?? '');
    if (this.entries.has(this.key(type, namespace, nameOf(object)))) throw kubeErrors.alreadyExists(type, nameOf(object));
    if (this.entries.size >= kubeLimits.objectsMax) throw kubeErrors.internal(`object limit reached (${kubeLimits.objectsMax} objects)`);
    const strategy = strategyFor(type);
    const causes = [...(strategy.validateCreate?.(object) ?? []), ...admitBySchema(type, object, undefined)];
    if (causes.length > 0) throw kubeErrors.invalid(type, nameOf(object), causes);
    const metadata = metadataOf(object);
    for (const field of SERVER_METADATA) delete metadata[field];
    const time = formatTime(this.options.nowMs());
    metadata.uid = this.options.newUid();
    metadata.creationTimestamp = time;
    metadata.generation = 1;
    if (type.statusSubresource) delete object.status;
    const status = strategy.initialStatus?.(object, time);
    if (status) object.status = status;
    metadata.managedFields = managedFields(object);
    return this.shown(type, this.commit(type, object, 'ADDED', undefined));
  }

  /** resourceVersion (required for custom resources, as the API server does) and uid preconditions. */
  private checkWritePreconditions(type: ResourceType, existing: JsonObject, incoming: JsonObject, requireResourceVersion: boolean): void {
    const name = nameOf(existing);
    const wanted = metadataOf(incoming);
    const stored = metadataOf(existing);
    if (wanted.resourceVersion === undefined || wanted.resourceVersion === '') {
      if (requireResourceVersion) {
        const message = 'Invalid value: 0x0: must be specified for an update';
        throw kubeErrors.invalid(type, name, [{ reason: 'FieldValueInvalid', field: 'metadata.resourceVersion', message }]);
      }
    } else if (wanted.resourceVersion !== stored.resourceVersion) {
      throw kubeErrors.conflict(type, name, OBJECT_MODIFIED_MESSAGE);
    }
    if (wanted.uid !== undefined && wanted.uid !== '' && wanted.uid !== stored.uid) {
      const why = `UID in precondition: ${String(wanted.uid)}, UID in object meta: ${String(stored.uid)}`;
      throw kubeErrors.preconditionFailed(type, name, why);
    }
  }

  /**
   * The object a write would store: for /status the stored object with the new status; otherwise
   * the new object with server metadata kept and, for types with a status subresource, the stored status.
   */
  private nextState(type: ResourceType, existing: JsonObject, incoming: JsonObject, subresource: 'status' | undefined): JsonObject {
    const setStatus = (target: JsonObject, status: unknown): void => {
      if (status === undefined) delete target.status;
      else target.status = clone(status);
    };
    if (subresource === 'status') {
      const next = clone(existing);
      setStatus(next, incoming.status);
      return next;
    }
    const next = incoming;
    const metadata = metadataOf(next);
    const stored = metadataOf(existing);
    for (const field of SERVER_METADATA) {
      if (stored[field] === undefined) delete metadata[field];
      else metadata[field] = clone(stored[field]);
    }
    if (type.statusSubresource) setStatus(next, existing.status);
    return next;
  }

  /** Commits an update of `existing` to `next`, or nothing when nothing changed. */
  private writeUpdate(
    type: ResourceType,
    existing: JsonObject,
    next: JsonObject,
    subresource: 'status' | undefined,
    managedFields: (after: JsonObject) => ManagedFieldsEntry[],
  ): JsonObject {
    const name = nameOf(existing);
    const causes = [...(subresource === 'status' ? [] : (strategyFor(type).validateUpdate?.(existing, next) ?? [])), ...admitBySchema(type, next, existing)];
    const previousFinalizers = finalizersOf(existing);
    if (isDeleting(existing) && finalizersOf(next).some((finalizer) => !previousFinalizers.includes(finalizer))) {
      const message = 'Forbidden: no new finalizers can be added if the object is being deleted';
      causes.push({ reason: 'FieldValueForbidden', field: 'metadata.finalizers', message });
    }
    if (causes.length > 0) throw kubeErrors.invalid(type, name, causes);
    const generation = Number(metadataOf(existing).generation ?? 1);
    metadataOf(next).generation = deepEqual(specContent(existing), specContent(next)) ? generation : generation + 1;
    metadataOf(next).managedFields = managedFields(next);
    if (deepEqual(comparable(existing), comparable(next))) return this.shown(type, existing);
    if (isDeleting(next) && finalizersOf(next).length === 0 && !isNamespaceType(type)) {
      return this.shown(type, this.remove(type, next));
    }
    const committed = this.commit(type, next, 'MODIFIED', existing);
    if (isNamespaceType(type)) this.finishNamespaceIfEmpty(name);
    return this.shown(type, committed);
  }

  private commit(type: ResourceType, object: JsonObject, eventType: StoredEventType, previous: JsonObject | undefined): JsonObject {
    this.revision += 1;
    const metadata = metadataOf(object);
    metadata.resourceVersion = String(this.revision);
    const namespace = String(metadata.namespace ?? '');
    const key = this.key(type, namespace, nameOf(object));
    const frozen = deepFreeze(object);
    this.entries.set(key, { type, object: frozen });
    this.keysByUid.set(String(metadata.uid), key);
    const groupResource = groupResourceOf(type);
    this.hub.publish({ type: eventType, revision: this.revision, groupResource, namespace, object: frozen, previous });
    if (isCustomResourceDefinition(type)) this.serveDefinition(frozen);
    return frozen;
  }

  /**
   * Marks the object deleting when finalizers hold it (namespaces always: their contents go first),
   * otherwise removes it at once. `policy` is remembered for when it finally goes.
   */
  private deleteObject(type: ResourceType, existing: JsonObject, policy: PropagationPolicy): DeleteResult {
    const uid = String(metadataOf(existing).uid);
    if (isDeleting(existing) || this.removing.has(uid)) return { object: existing, removed: false };
    this.pendingPolicies.set(uid, policy);
    if (finalizersOf(existing).length === 0 && !isNamespaceType(type)) {
      return { object: this.remove(type, existing), removed: true };
    }
    const next = clone(existing);
    metadataOf(next).deletionTimestamp = formatTime(this.options.nowMs());
    metadataOf(next).deletionGracePeriodSeconds = 0;
    if (isNamespaceType(type)) next.status = { ...(isPlainObject(next.status) ? next.status : {}), phase: 'Terminating' };
    const marked = this.commit(type, next, 'MODIFIED', existing);
    if (isNamespaceType(type)) {
      this.deleteNamespaceContents(nameOf(marked));
      this.finishNamespaceIfEmpty(nameOf(marked));
    }
    // A namespace is answered in its Terminating state even when it is already gone, as the API server does.
    return { object: marked, removed: false };
  }

  /** Removes an object for good: DELETED event at a new resourceVersion, then its dependents per policy. */
  private remove(type: ResourceType, object: JsonObject): JsonObject {
    const metadata = metadataOf(object);
    const uid = String(metadata.uid);
    const policy = this.pendingPolicies.get(uid) ?? 'Background';
    this.removing.add(uid);
    // Foreground and Orphan deal with dependents before the owner disappears; Background after.
    if (policy !== 'Background') this.collectGarbage(uid, policy);
    const last = clone(object);
    this.revision += 1;
    metadataOf(last).resourceVersion = String(this.revision);
    const namespace = String(metadata.namespace ?? '');
    this.entries.delete(this.key(type, namespace, nameOf(object)));
    this.keysByUid.delete(uid);
    this.pendingPolicies.delete(uid);
    this.removing.delete(uid);
    const frozen = deepFreeze(last);
    this.hub.publish({ type: 'DELETED', revision: this.revision, groupResource: groupResourceOf(type), namespace, object: frozen });
    if (policy === 'Background') this.collectGarbage(uid, 'Background');
    if (isCustomResourceDefinition(type)) this.stopServingDefinition(frozen);
    if (type.namespaced) this.finishNamespaceIfEmpty(namespace);
    return frozen;
  }

  /**
   * The garbage collector's work for a deleted owner: each dependent loses its reference to the
   * owner (Orphan, or when another owner still exists) or is deleted with the same policy.
   */
  private collectGarbage(ownerUid: string, policy: PropagationPolicy): void {
    const dependents = [...this.entries.entries()].filter(([, entry]) => ownerUids(entry.object).includes(ownerUid)).map(([key]) => key);
    for (const key of dependents) {
      const entry = this.entries.get(key);
      if (!entry) continue;
      const otherOwnerExists = ownerUids(entry.object).some((uid) => uid !== ownerUid && this.keysByUid.has(uid));
      if (policy === 'Orphan' || otherOwnerExists) this.dropOwnerReference(entry, ownerUid);
      else this.deleteObject(entry.type, entry.object, policy);
    }
  }

  private dropOwnerReference(entry: Entry, ownerUid: string): void {
    const next = clone(entry.object);
    const metadata = metadataOf(next);
    const references = Array.isArray(metadata.ownerReferences) ? metadata.ownerReferences : [];
    const remaining = references.filter((reference) => !isPlainObject(reference) || reference.uid !== ownerUid);
    if (remaining.length > 0) metadata.ownerReferences = remaining;
    else delete metadata.ownerReferences;
    const request = { fieldManager: 'garbage-collector' };
    this.writeUpdate(entry.type, entry.object, next, undefined, (after) =>
      managedFieldsAfterUpdate(entry.object, after, this.context(entry.type, request)),
    );
  }

  private deleteNamespaceContents(namespace: string): void {
    const keys = [...this.entries.entries()]
      .filter(([, entry]) => entry.type.namespaced && metadataOf(entry.object).namespace === namespace)
      .map(([key]) => key);
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (entry) this.deleteObject(entry.type, entry.object, 'Background');
    }
  }

  /** A deleting namespace goes once it is empty and has no finalizers of its own. */
  private finishNamespaceIfEmpty(name: string): void {
    const namespaces = this.typeOf('', 'v1', 'namespaces');
    const namespace = this.entries.get(this.key(namespaces, '', name))?.object;
    if (!namespace || !isDeleting(namespace) || finalizersOf(namespace).length > 0) return;
    const occupied = [...this.entries.values()].some((entry) => entry.type.namespaced && metadataOf(entry.object).namespace === name);
    if (!occupied) this.remove(namespaces, namespace);
  }

  private serveDefinition(crd: JsonObject): void {
    const types = typesFromDefinition(crd);
    const first = types[0];
    if (!first) return;
    this.registry.unregister(first.group, first.plural);
    for (const type of types) this.registry.register(type);
  }

  /** A deleted CRD takes its objects with it (at once; their finalizers are not waited for). */
  private stopServingDefinition(crd: JsonObject): void {
    const first = typesFromDefinition(crd)[0];
    if (!first) return;
    const groupResource = groupResourceOf(first);
    for (const entry of [...this.entries.values()]) {
      if (groupResourceOf(entry.type) === groupResource) this.remove(entry.type, entry.object);
    }
    this.registry.unregister(first.group, first.plural);
  }
}

/**
 * A custom resource against its CRD's schema, as the API server admits it: defaults filled in (in
 * place), then every violation as a cause (field path first, then the message).
 */
function admitBySchema(type: ResourceType, object: JsonObject, existing: JsonObject | undefined): StatusCause[] {
  if (type.schema === undefined) return [];
  const defaulted = applySchemaDefaults(type.schema, object) as JsonObject;
  for (const [field, value] of Object.entries(defaulted)) object[field] = value;
  return validateAgainstSchema(type.schema, object, existing).map((message) => {
    const colon = message.indexOf(': ');
    const field = message.startsWith('unknown field') || colon < 0 ? '' : message.slice(0, colon);
    return { reason: 'FieldValueInvalid', field, message };
  });
}
