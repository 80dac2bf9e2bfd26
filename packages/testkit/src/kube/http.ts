/**
 * The HTTP edge of the emulated API server: parses Kubernetes REST paths and query parameters,
 * reads and decodes bodies, calls the store, and writes JSON responses, `Status` errors and
 * newline-delimited watch streams. Also where tests inject faults (failNext) and cut watches.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadYaml } from '@kubernetes/client-node';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, VERSION_INFO } from './discovery.js';
import { kubeErrors, KubeStatusError, type StatusReason } from './errors.js';
import { isPlainObject, type JsonObject } from './json.js';
import { kubeLimits } from './limits.js';
import type { PatchType } from './patch.js';
import { apiVersionOf, type ResourceType } from './resources.js';
import { parseWatchVersion, type DeleteRequest, type KubeList, type KubeStore, type PropagationPolicy } from './store.js';
import type { WatchEvent } from './watch.js';

/** A fault for the next matching requests, answered before the request takes effect. */
export interface FaultSpec {
  /** HTTP method to match (any when absent). */
  method?: string;
  /** Tested against the request path including its query string (any when absent). */
  pathRegex?: RegExp | string;
  status: number;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Default: the usual reason for `status` (409 Conflict, 500 InternalError, ...). */
  reason?: StatusReason;
  message?: string;
}

interface ActiveFault {
  method: string | undefined;
  pattern: RegExp | undefined;
  remaining: number;
  error: KubeStatusError;
}

type Route =
  | { kind: 'document'; body: JsonObject }
  | { kind: 'health' }
  | {
      kind: 'resource';
      type: ResourceType;
      /** Undefined: a cluster-scoped resource, or a namespaced one across all namespaces. */
      namespace: string | undefined;
      name: string | undefined;
      subresource: 'status' | undefined;
      watchPath: boolean;
    };

type ResourceRoute = Extract<Route, { kind: 'resource' }>;

/** One request to a resource path, with its body already read. */
interface ResourceCall {
  request: IncomingMessage;
  response: ServerResponse;
  route: ResourceRoute;
  query: URLSearchParams;
  text: string;
}

const PATCH_TYPES: Record<string, PatchType | 'apply'> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

const BODY_TYPES = ['application/json', 'application/yaml'];

function mediaType(request: IncomingMessage): string {
  return (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function isTrue(value: string | null): boolean {
  return value === 'true' || value === '1';
}

/** Reads the whole body; past the bound it keeps draining (so the answer can still be sent) but stores nothing. */
async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes <= kubeLimits.requestBodyBytesMax) chunks.push(chunk);
  }
  if (bytes > kubeLimits.requestBodyBytesMax) throw kubeErrors.requestEntityTooLarge(kubeLimits.requestBodyBytesMax);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw kubeErrors.badRequest(`the request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Apply bodies may be YAML or JSON (client-node sends JSON under the apply-patch+yaml type). */
function parseYaml(text: string): unknown {
  try {
    return loadYaml(text);
  } catch (error) {
    throw kubeErrors.badRequest(`the request body is not valid YAML: ${(error as Error).message}`);
  }
}

function parseBody(text: string, type: string): unknown {
  if (text.trim() === '') return undefined;
  if (type === 'application/yaml' || type === 'application/apply-patch+yaml') return parseYaml(text);
  if (type === 'application/json' || type.endsWith('+json') || type === '') return parseJson(text);
  throw kubeErrors.unsupportedMediaType(type, BODY_TYPES);
}

/** The API server's default field manager: the user agent up to its first '/'. */
function managerFromUserAgent(userAgent: string | undefined): string {
  return userAgent?.split('/')[0]?.trim() || 'unknown';
}

function sendJson(response: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

/** Typed lists of built-in resources omit each item's kind and apiVersion, as the API server's do. */
function listBody(type: ResourceType, list: KubeList): KubeList {
  if (!type.builtin) return list;
  const items = list.items.map((item) =>
    Object.fromEntries(Object.entries(item).filter(([field]) => field !== 'kind' && field !== 'apiVersion')),
  );
  return { ...list, items };
}

/** The Success Status most built-in types answer a completed DELETE with. */
function deleted(type: ResourceType, object: JsonObject): JsonObject {
  const uid = isPlainObject(object.metadata) ? object.metadata.uid : undefined;
  const name = isPlainObject(object.metadata) ? object.metadata.name : undefined;
  const details = type.group ? { name, group: type.group, kind: type.plural, uid } : { name, kind: type.plural, uid };
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}

function parsePropagationPolicy(value: unknown): PropagationPolicy | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (value === 'Background' || value === 'Foreground' || value === 'Orphan') return value;
  throw kubeErrors.badRequest(
    `propagationPolicy: Unsupported value: "${String(value)}": supported values: "Background", "Foreground", "Orphan"`,
  );
}

/** DeleteOptions from the body and the query string (the query wins, as in the API server). */
function deleteRequest(body: unknown, query: URLSearchParams): DeleteRequest {
  const options = isPlainObject(body) ? body : {};
  const orphan = query.get('orphanDependents') ?? options.orphanDependents;
  const policy = parsePropagationPolicy(query.get('propagationPolicy') ?? options.propagationPolicy);
  const preconditions = isPlainObject(options.preconditions) ? options.preconditions : {};
  return {
    propagationPolicy: policy ?? (orphan === true || orphan === 'true' ? 'Orphan' : undefined),
    preconditions: {
      uid: typeof preconditions.uid === 'string' ? preconditions.uid : undefined,
      resourceVersion: typeof preconditions.resourceVersion === 'string' ? preconditions.resourceVersion : undefined,
    },
  };
}

function nonNegativeInteger(value: string | null, parameter: string): number | undefined {
  if (value === null || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw kubeErrors.badRequest(`${parameter} must be a non-negative integer, got "${value}"`);
  return Number(value);
}

/** One open HTTP watch: writes events as JSON lines until the client, a timeout or the emulator ends it. */
class WatchStream {
  private unsubscribe: (() => void) | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private ended = false;

  constructor(
    private readonly response: ServerResponse,
    private readonly onEnd: (stream: WatchStream) => void,
  ) {}

  readonly send = (event: WatchEvent): void => {
    if (this.ended) return;
    this.response.write(`${JSON.stringify(event)}\n`);
    // A client that stops reading is cut off rather than buffered without end; it resumes from its last version.
    if (this.response.writableLength > kubeLimits.watchBufferBytesMax) this.end();
  };

  attach(unsubscribe: () => void): void {
    if (this.ended) unsubscribe();
    else this.unsubscribe = unsubscribe;
  }

  every(intervalMs: number, action: () => void): void {
    this.timers.push(setInterval(action, intervalMs));
  }

  after(delayMs: number, action: () => void): void {
    this.timers.push(setTimeout(action, delayMs));
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe?.();
    for (const timer of this.timers) clearTimeout(timer);
    this.response.end();
    this.onEnd(this);
  }
}

export interface KubeHttpOptions {
  bookmarkIntervalMs: number;
}

export class KubeHttpHandler {
  private readonly faults: ActiveFault[] = [];
  private readonly watches = new Set<WatchStream>();

  constructor(
    private readonly store: KubeStore,
    private readonly options: KubeHttpOptions,
  ) {}

  /** The request listener for node:http. */
  readonly listener = (request: IncomingMessage, response: ServerResponse): void => {
    this.serve(request, response).catch((error: unknown) => this.sendError(response, error));
  };

  failNext(fault: FaultSpec): void {
    const pattern = fault.pathRegex === undefined ? undefined : new RegExp(fault.pathRegex);
    this.faults.push({
      method: fault.method?.toUpperCase(),
      pattern,
      remaining: fault.times ?? 1,
      error: kubeErrors.injected(fault.status, fault.reason, fault.message),
    });
  }

  /** Ends every open watch cleanly, as an API server shutting down does; clients re-watch. */
  closeWatches(): void {
    for (const stream of [...this.watches]) stream.end();
  }

  private takeFault(method: string, url: string): KubeStatusError | undefined {
    const index = this.faults.findIndex(
      (fault) => (fault.method === undefined || fault.method === method) && (fault.pattern === undefined || fault.pattern.test(url)),
    );
    const fault = this.faults[index];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault.error;
  }

  private sendError(response: ServerResponse, error: unknown): void {
    if (!(error instanceof KubeStatusError)) {
      // A bug in the emulator: log it with its stack and answer 500 so the test sees it.
      console.error('kube emulator: internal error', error);
    }
    const status = error instanceof KubeStatusError ? error : kubeErrors.internal((error as Error).message);
    if (response.headersSent) response.destroy();
    else sendJson(response, status.code, status.toStatus());
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const text = await readBody(request);
    const method = request.method ?? 'GET';
    const rawUrl = request.url ?? '/';
    const fault = this.takeFault(method, rawUrl);
    if (fault) throw fault;
    const url = new URL(rawUrl, 'http://emulator');
    const route = this.route(url.pathname);
    if (route.kind === 'health') {
      response.writeHead(200, { 'Content-Type': 'text/plain' });
      response.end('ok');
      return;
    }
    if (route.kind === 'document') {
      if (method !== 'GET') throw kubeErrors.methodNotAllowed();
      sendJson(response, 200, route.body);
      return;
    }
    this.serveResource({ request, response, route, query: url.searchParams, text });
  }

  private route(pathname: string): Route {
    let segments: string[];
    try {
      segments = pathname.split('/').filter((segment) => segment !== '').map(decodeURIComponent);
    } catch {
      throw kubeErrors.pathNotFound();
    }
    const [root, ...rest] = segments;
    if (root === 'version' && rest.length === 0) return { kind: 'document', body: VERSION_INFO };
    if ((root === 'healthz' || root === 'livez' || root === 'readyz') && rest.length === 0) return { kind: 'health' };
    if (root === 'api') {
      const [version, ...tail] = rest;
      if (version === undefined) return { kind: 'document', body: apiVersions() };
      if (version !== 'v1') throw kubeErrors.pathNotFound();
      if (tail.length === 0) return { kind: 'document', body: apiResourceList(this.store.registry, '', 'v1') };
      return this.resourceRoute('', version, tail);
    }
    if (root === 'apis') {
      const [group, version, ...tail] = rest;
      if (group === undefined) return { kind: 'document', body: apiGroupList(this.store.registry) };
      if (version === undefined) {
        const document = apiGroup(this.store.registry, group);
        if (!document) throw kubeErrors.pathNotFound();
        return { kind: 'document', body: document };
      }
      if (!this.store.registry.servesGroupVersion(group, version)) throw kubeErrors.pathNotFound();
      if (tail.length === 0) return { kind: 'document', body: apiResourceList(this.store.registry, group, version) };
      return this.resourceRoute(group, version, tail);
    }
    throw kubeErrors.pathNotFound();
  }

  /** `[watch/][namespaces/NS/]PLURAL[/NAME[/status]]` under a group version. */
  private resourceRoute(group: string, version: string, segments: string[]): ResourceRoute {
    const watchPath = segments[0] === 'watch';
    let rest = watchPath ? segments.slice(1) : segments;
    let namespace: string | undefined;
    // `namespaces/NS/PLURAL...` only when PLURAL is namespaced; otherwise it is the namespaces resource itself.
    const namespacedPlural = rest[0] === 'namespaces' ? rest[2] : undefined;
    if (namespacedPlural !== undefined && this.store.registry.find(group, version, namespacedPlural)?.namespaced) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, subresource, ...extra] = rest;
    const type = plural === undefined ? undefined : this.store.registry.find(group, version, plural);
    if (!type || extra.length > 0) throw kubeErrors.pathNotFound();
    if (type.namespaced && namespace === undefined && name !== undefined) throw kubeErrors.pathNotFound();
    if (subresource !== undefined && (subresource !== 'status' || !type.statusSubresource)) throw kubeErrors.pathNotFound();
    return { kind: 'resource', type, namespace, name, subresource, watchPath };
  }

  private serveResource(call: ResourceCall): void {
    const { request, route, query } = call;
    const method = request.method ?? 'GET';
    if (method === 'GET' && (route.watchPath || isTrue(query.get('watch')))) {
      this.startWatch(call);
      return;
    }
    if (route.watchPath) throw kubeErrors.methodNotAllowed();
    if (method !== 'GET' && query.has('dryRun')) throw kubeErrors.badRequest('dryRun is not supported by the kube emulator');
    if (route.name === undefined) this.serveCollection(call);
    else this.serveObject(call, route.name);
  }

  private serveCollection({ request, response, route, query, text }: ResourceCall): void {
    const { type } = route;
    const selector = () =>
      this.store.parseSelector(type, query.get('labelSelector') ?? undefined, query.get('fieldSelector') ?? undefined);
    switch (request.method) {
      case 'GET': {
        const limit = nonNegativeInteger(query.get('limit'), 'limit');
        const continueToken = query.get('continue') || undefined;
        const list = this.store.list(type, route.namespace, { selector: selector(), limit, continueToken });
        sendJson(response, 200, listBody(type, list));
        return;
      }
      case 'POST': {
        if (type.namespaced && route.namespace === undefined) throw kubeErrors.methodNotAllowed();
        const body = parseBody(text, mediaType(request));
        const created = this.store.create(type, route.namespace ?? '', body, { fieldManager: this.manager(request, query) });
        sendJson(response, 201, created);
        return;
      }
      case 'DELETE': {
        const options = deleteRequest(parseBody(text, mediaType(request)), query);
        const items = this.store.deleteCollection(type, route.namespace, selector(), options);
        const metadata = { resourceVersion: this.store.resourceVersion };
        sendJson(response, 200, listBody(type, { apiVersion: apiVersionOf(type), kind: type.listKind, metadata, items }));
        return;
      }
      default:
        throw kubeErrors.methodNotAllowed();
    }
  }

  private serveObject(call: ResourceCall, name: string): void {
    const { request, response, route, query, text } = call;
    const { type, subresource } = route;
    const namespace = route.namespace ?? '';
    switch (request.method) {
      case 'GET':
        sendJson(response, 200, this.store.get(type, namespace, name));
        return;
      case 'PUT': {
        const body = parseBody(text, mediaType(request));
        const updated = this.store.update(type, namespace, name, body, { fieldManager: this.manager(request, query), subresource });
        sendJson(response, 200, updated);
        return;
      }
      case 'PATCH':
        this.patch(call, name);
        return;
      case 'DELETE': {
        if (subresource) throw kubeErrors.methodNotAllowed();
        const options = deleteRequest(parseBody(text, mediaType(request)), query);
        const result = this.store.delete(type, namespace, name, options);
        sendJson(response, 200, result.removed && !type.returnsDeletedObject ? deleted(type, result.object) : result.object);
        return;
      }
      default:
        throw kubeErrors.methodNotAllowed();
    }
  }

  private patch({ request, response, route, query, text }: ResourceCall, name: string): void {
    const { type, subresource } = route;
    const namespace = route.namespace ?? '';
    const contentType = mediaType(request);
    const patchType = PATCH_TYPES[contentType];
    if (!patchType) throw kubeErrors.unsupportedMediaType(contentType, Object.keys(PATCH_TYPES));
    const body = parseBody(text, contentType);
    const force = query.get('force');
    if (patchType !== 'apply') {
      if (force !== null) throw kubeErrors.badRequest('force: Forbidden: may not be specified for non-apply patch');
      const writeRequest = { fieldManager: this.manager(request, query), subresource };
      sendJson(response, 200, this.store.patch(type, namespace, name, patchType, body, writeRequest));
      return;
    }
    const fieldManager = query.get('fieldManager');
    if (!fieldManager) throw kubeErrors.badRequest('fieldManager is required for apply requests');
    const result = this.store.apply(type, namespace, name, body, { fieldManager, force: isTrue(force), subresource });
    sendJson(response, result.created ? 201 : 200, result.object);
  }

  private manager(request: IncomingMessage, query: URLSearchParams): string {
    return query.get('fieldManager') || managerFromUserAgent(request.headers['user-agent']);
  }

  private startWatch({ response, route, query }: ResourceCall): void {
    const { type } = route;
    const byName = route.name === undefined ? undefined : `metadata.name=${route.name}`;
    const fieldSelector = [query.get('fieldSelector'), byName].filter((part) => part).join(',');
    const selector = this.store.parseSelector(type, query.get('labelSelector') ?? undefined, fieldSelector);
    const timeoutSeconds = nonNegativeInteger(query.get('timeoutSeconds'), 'timeoutSeconds');
    const watchRequest = {
      selector,
      afterRevision: parseWatchVersion(query.get('resourceVersion') ?? undefined),
      sendInitialEvents: isTrue(query.get('sendInitialEvents')),
    };
    response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    response.flushHeaders();
    const stream = new WatchStream(response, (ended) => this.watches.delete(ended));
    this.watches.add(stream);
    response.on('close', () => stream.end());
    try {
      stream.attach(this.store.watch(type, route.namespace, watchRequest, stream.send));
    } catch (error) {
      // Past the headers, a watch that cannot start (410 Expired, 504) is told in an ERROR event, as the API server does.
      if (!(error instanceof KubeStatusError)) throw error;
      stream.send({ type: 'ERROR', object: error.toStatus() });
      stream.end();
      return;
    }
    if (isTrue(query.get('allowWatchBookmarks'))) {
      stream.every(this.options.bookmarkIntervalMs, () => stream.send(this.store.bookmark(type)));
    }
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) stream.after(timeoutSeconds * 1000, () => stream.end());
  }
}
