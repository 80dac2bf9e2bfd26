/**
 * Client of the embedded store (embedded-server.ts) over HTTP (fetch), with the token as a Bearer.
 *
 * - CAS: PUT /v1/store/map; the server compares and persists, one request at a time.
 * - watch: read the map, then long-poll GET /v1/store/map/watch?after=<last version delivered>.
 *   The server keeps recent versions, so every version arrives, in order. After an error (the
 *   store restarting, say) the poll resumes from the last version delivered: nothing is repeated.
 * - presence: PUT /v1/store/nodes/:id every TTL / 3 (and sooner after a failure); the server drops
 *   the registration when a TTL passes without one. close() waits for any heartbeat in flight, then
 *   DELETEs the registration of this incarnation only.
 */
import type { ClusterMap } from '@ballast/cluster';
import { Backoff, invokeCallback, sleep, stopAll, trackWatch } from './background.js';
import { casDocument, registrationArgument, sameRegistrations, storedMap, storedRegistration } from './documents.js';
import {
  InvalidStoreArgumentError,
  StoreClosedError,
  StoreError,
  StoreLimitError,
  StoreUnauthorizedError,
  StoreUnavailableError,
  asError,
} from './errors.js';
import { LONG_POLL_MS, REQUEST_TIMEOUT_MS } from './limits.js';
import type { ClusterMapStore, NodeRegistration, PresenceHandle } from './store.js';

export interface EmbeddedStoreClientOptions {
  /** e.g. http://127.0.0.1:41234 */
  baseUrl: string;
  token?: string | undefined;
}

interface HttpAnswer {
  status: number;
  text: string;
}

interface NodesBody {
  epoch: string;
  changeCounter: number;
  nodes: NodeRegistration[];
}

/** How long a client waits for a long-poll answer: the server's wait plus an ordinary request's. */
const WATCH_REQUEST_TIMEOUT_MS = LONG_POLL_MS + REQUEST_TIMEOUT_MS;

export class EmbeddedClusterMapStore implements ClusterMapStore {
  readonly kind = 'embedded' as const;
  private closed = false;
  private readonly watches = new Set<{ stop(): void }>();
  private readonly presences = new Set<EmbeddedPresence>();

  constructor(private readonly options: EmbeddedStoreClientOptions) {}

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  /** One HTTP request; maps transport failures and error statuses to typed errors. */
  async request(
    method: string,
    requestPath: string,
    options: { body?: string; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.token !== undefined) headers['authorization'] = `Bearer ${this.options.token}`;
    const timeout = AbortSignal.timeout(options.timeoutMs ?? REQUEST_TIMEOUT_MS);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    const what = `embedded store ${method} ${requestPath}`;
    let status: number;
    let text: string;
    try {
      const response = await fetch(`${this.options.baseUrl}${requestPath}`, {
        method,
        headers,
        body: options.body ?? null,
        signal,
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      if (options.signal?.aborted) throw new StoreClosedError(`${what}: stopped`);
      const cause = (error as { cause?: unknown }).cause ?? error;
      throw new StoreUnavailableError(`${what} failed: ${asError(cause).message}`, { cause: error });
    }
    if (status < 400 || status === 404 || status === 409) return { status, text };
    const message = `${what}: HTTP ${status}: ${errorMessageOf(text)}`;
    if (status === 401) throw new StoreUnauthorizedError(message);
    if (status === 413 || errorCodeOf(text) === 'STORE_LIMIT') throw new StoreLimitError(message);
    if (status === 400) throw new InvalidStoreArgumentError(message);
    throw new StoreUnavailableError(message);
  }

  async read(signal?: AbortSignal): Promise<ClusterMap | null> {
    this.checkOpen();
    const answer = await this.request('GET', '/v1/store/map', signal === undefined ? {} : { signal });
    if (answer.status === 404) return null;
    expectStatus(answer, 200, 'GET /v1/store/map');
    return storedMap(answer.text, 'embedded store map');
  }

  async compareAndSwap(
    expectedVersion: number,
    next: ClusterMap,
  ): Promise<{ ok: true } | { ok: false; current: ClusterMap | null }> {
    this.checkOpen();
    const document = casDocument(expectedVersion, next);
    const answer = await this.request('PUT', '/v1/store/map', {
      body: `{"expectedVersion":${expectedVersion},"map":${document}}`,
    });
    if (answer.status === 200) return { ok: true };
    expectStatus(answer, 409, 'PUT /v1/store/map');
    const current = (jsonOf(answer, 'PUT /v1/store/map') as { current?: unknown }).current ?? null;
    return { ok: false, current: current === null ? null : storedMap(current, 'embedded store conflict') };
  }

  watch(onMap: (map: ClusterMap) => void, onError?: (error: Error) => void): () => void {
    this.checkOpen();
    return this.track(new EmbeddedMapWatch(this, onMap, onError));
  }

  async register(registration: NodeRegistration, ttlMs: number): Promise<PresenceHandle> {
    this.checkOpen();
    const checked = registrationArgument(registration, ttlMs);
    const presence = new EmbeddedPresence(this, checked, ttlMs, () => this.presences.delete(presence));
    this.presences.add(presence);
    try {
      await presence.start();
    } catch (error) {
      this.presences.delete(presence);
      throw error;
    }
    return presence;
  }

  /** The online set now, or (with `after`) a long-poll for the next change: null when none came. */
  async nodes(options: { after?: { epoch: string; changeCounter: number }; signal?: AbortSignal } = {}): Promise<NodesBody | null> {
    const after = options.after;
    const signal = options.signal === undefined ? {} : { signal: options.signal };
    const answer =
      after === undefined
        ? await this.request('GET', '/v1/store/nodes', signal)
        : await this.request(
            'GET',
            `/v1/store/nodes/watch?after=${after.changeCounter}&epoch=${encodeURIComponent(after.epoch)}`,
            { timeoutMs: WATCH_REQUEST_TIMEOUT_MS, ...signal },
          );
    if (answer.status === 204) return null;
    expectStatus(answer, 200, 'GET /v1/store/nodes');
    const body = jsonOf(answer, 'GET /v1/store/nodes') as Partial<NodesBody>;
    if (typeof body.epoch !== 'string' || typeof body.changeCounter !== 'number' || !Array.isArray(body.nodes)) {
      throw new StoreUnavailableError('embedded store: GET /v1/store/nodes answered an unexpected body');
    }
    return {
      epoch: body.epoch,
      changeCounter: body.changeCounter,
      nodes: body.nodes.map((node) => storedRegistration(node, 'embedded store registration')),
    };
  }

  async onlineNodes(): Promise<NodeRegistration[]> {
    this.checkOpen();
    return (await this.nodes())!.nodes;
  }

  watchOnline(onChange: (nodes: NodeRegistration[]) => void, onError?: (error: Error) => void): () => void {
    this.checkOpen();
    return this.track(new EmbeddedNodesWatch(this, onChange, onError));
  }

  private track(watch: EmbeddedWatchLoop): () => void {
    return trackWatch(this.watches, watch);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const failure = await stopAll(this.watches, this.presences);
    if (failure !== undefined) throw failure.reason;
  }
}

function errorOf(text: string): { code?: unknown; message?: unknown } {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    return body.error ?? {};
  } catch {
    // Not our JSON (a proxy's error page, say): the status alone describes it.
    return {};
  }
}

function errorCodeOf(text: string): unknown {
  return errorOf(text).code;
}

function errorMessageOf(text: string): string {
  const message = errorOf(text).message;
  return typeof message === 'string' ? message : text.slice(0, 200);
}

function expectStatus(answer: HttpAnswer, status: number, what: string): void {
  if (answer.status !== status) {
    throw new StoreUnavailableError(`embedded store: ${what} answered HTTP ${answer.status}: ${errorMessageOf(answer.text)}`);
  }
}

/** The body of a successful answer (a body that is not JSON means something else answered). */
function jsonOf(answer: HttpAnswer, what: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(answer.text);
  } catch (error) {
    throw new StoreUnavailableError(`embedded store: ${what} answered a body that is not JSON`, { cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new StoreUnavailableError(`embedded store: ${what} answered a body that is not a JSON object`);
  }
  return json as Record<string, unknown>;
}

/** A loop of requests that reports failures, backs off and resumes until stopped. */
abstract class EmbeddedWatchLoop {
  protected readonly abort = new AbortController();
  private readonly backoff = new Backoff();

  constructor(
    protected readonly store: EmbeddedClusterMapStore,
    private readonly onError: ((error: Error) => void) | undefined,
  ) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.abort.abort();
  }

  protected get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  protected report(error: Error): void {
    if (!this.stopped && this.onError !== undefined) invokeCallback(this.onError, error);
  }

  /** One round: a read or a long-poll, and delivery of what it returned. */
  protected abstract step(): Promise<void>;
  /** After a failure: read everything again on the next step. */
  protected abstract failed(): void;

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.step();
        this.backoff.reset();
      } catch (error) {
        if (this.stopped) return;
        if (!(error instanceof StoreError)) throw error;
        this.failed();
        this.report(error);
        await sleep(this.backoff.next(), this.abort.signal);
      }
    }
  }
}

class EmbeddedMapWatch extends EmbeddedWatchLoop {
  private lastVersion = 0;
  private initialRead = false;

  constructor(
    store: EmbeddedClusterMapStore,
    private readonly onMap: (map: ClusterMap) => void,
    onError: ((error: Error) => void) | undefined,
  ) {
    super(store, onError);
  }

  protected async step(): Promise<void> {
    if (!this.initialRead) {
      const current = await this.store.read(this.abort.signal);
      this.initialRead = true;
      if (current !== null) this.deliver(current);
      return;
    }
    const answer = await this.store.request('GET', `/v1/store/map/watch?after=${this.lastVersion}`, {
      timeoutMs: WATCH_REQUEST_TIMEOUT_MS,
      signal: this.abort.signal,
    });
    if (answer.status === 204) return;
    expectStatus(answer, 200, 'GET /v1/store/map/watch');
    const maps = (jsonOf(answer, 'GET /v1/store/map/watch') as { maps?: unknown }).maps;
    if (!Array.isArray(maps)) throw new StoreUnavailableError('embedded store: the watch answer has no maps');
    for (const json of maps) this.deliver(storedMap(json, 'embedded store watch'));
  }

  protected failed(): void {
    // The next poll from lastVersion returns whatever is newer at once: that is the re-read.
  }

  private deliver(map: ClusterMap): void {
    if (map.version <= this.lastVersion || this.stopped) return;
    this.lastVersion = map.version;
    invokeCallback(this.onMap, map);
  }
}

class EmbeddedNodesWatch extends EmbeddedWatchLoop {
  private seen: { epoch: string; changeCounter: number } | null = null;
  private reported: NodeRegistration[] | null = null;

  constructor(
    store: EmbeddedClusterMapStore,
    private readonly onChange: (nodes: NodeRegistration[]) => void,
    onError: ((error: Error) => void) | undefined,
  ) {
    super(store, onError);
  }

  protected async step(): Promise<void> {
    const body = await this.store.nodes({
      ...(this.seen === null ? {} : { after: this.seen }),
      signal: this.abort.signal,
    });
    if (body === null) return;
    this.seen = { epoch: body.epoch, changeCounter: body.changeCounter };
    if (this.stopped || (this.reported !== null && sameRegistrations(this.reported, body.nodes))) return;
    this.reported = body.nodes;
    invokeCallback(this.onChange, body.nodes);
  }

  protected failed(): void {
    this.seen = null;
  }
}

class EmbeddedPresence implements PresenceHandle {
  private closed = false;
  private readonly sleeping = new AbortController();
  private readonly backoff = new Backoff();
  private firstHeartbeat: Promise<void> = Promise.resolve();
  private loop: Promise<void> = Promise.resolve();
  private readonly path: string;
  private readonly body: string;
  /** Failed renewals so far (count-and-keep-trying); the registration expires if they last a TTL. */
  renewalFailures = 0;
  lastRenewalError: Error | null = null;

  constructor(
    private readonly store: EmbeddedClusterMapStore,
    private readonly registration: NodeRegistration,
    private readonly ttlMs: number,
    private readonly onClosed: () => void,
  ) {
    this.path = `/v1/store/nodes/${encodeURIComponent(registration.nodeId)}`;
    this.body = JSON.stringify({ registration, ttlMs });
  }

  async start(): Promise<void> {
    this.firstHeartbeat = this.heartbeat();
    await this.firstHeartbeat;
    if (!this.closed) this.loop = this.renew();
  }

  private async heartbeat(): Promise<void> {
    const answer = await this.store.request('PUT', this.path, { body: this.body });
    expectStatus(answer, 200, `PUT ${this.path}`);
  }

  private async renew(): Promise<void> {
    const intervalMs = Math.max(1, Math.floor(this.ttlMs / 3));
    let delayMs = intervalMs;
    while (!this.closed) {
      await sleep(delayMs, this.sleeping.signal);
      if (this.closed) return;
      try {
        // Not aborted by close(): close() waits for it, so its DELETE cannot overtake it.
        await this.heartbeat();
        delayMs = intervalMs;
        this.backoff.reset();
      } catch (error) {
        this.renewalFailures++;
        this.lastRenewalError = asError(error);
        delayMs = Math.min(intervalMs, this.backoff.next());
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sleeping.abort();
    this.onClosed();
    // Any heartbeat in flight lands before the DELETE (its failure, if any, is start()'s or counted).
    await Promise.allSettled([this.firstHeartbeat, this.loop]);
    const answer = await this.store.request(
      'DELETE',
      `${this.path}?incarnation=${encodeURIComponent(this.registration.incarnation)}`,
    );
    expectStatus(answer, 204, `DELETE ${this.path}`);
  }
}
