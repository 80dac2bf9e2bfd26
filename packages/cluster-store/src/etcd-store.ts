/**
 * The etcd backend (DESIGN.md, Coordination), through the `etcd3` client.
 *
 * Keys (prefix from the URL, e.g. `/ballast/prod`):
 * - `${prefix}/map`: the ClusterMap as JSON.
 * - `${prefix}/nodes/${nodeId}`: a NodeRegistration as JSON, attached to the node's lease.
 *
 * - CAS: one transaction `if mod_revision(map) == R then put else get`, where R is the mod revision
 *   of the expected version (`create_revision == 0` when creating). R comes from the newest version
 *   this client has seen; if that is not the expected version, the map is read first.
 * - watch: read the map (revision H), then an etcd watch from H + 1. Every change arrives in
 *   revision order and CAS makes versions grow with revisions, so versions arrive in order. After a
 *   disconnect the watch resumes from the last revision seen + 1, which replays anything missed in
 *   order. If etcd cannot replay (the revisions were compacted) the map is read again and delivered
 *   when newer: versions may then be skipped, never repeated or reordered.
 * - presence: a lease with TTL ⌈ttlMs / 1000⌉ s (etcd may raise it to its minimum, ~2 s), kept
 *   alive by the client every TTL / 3; the registration key is attached to it, so etcd deletes the
 *   key when the lease expires (the process died or lost etcd for longer than the TTL). If the
 *   lease is lost while the process lives, a new lease is granted and the key written again.
 *   close() revokes the lease, which deletes the key at once.
 */
import type { ClusterMap } from '@ballast/cluster';
import {
  ClientClosedError,
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  type IKeyValue,
  type Lease,
  type Watcher,
} from 'etcd3';
import { Backoff, invokeCallback, sleep, stopAll, trackWatch } from './background.js';
import { casDocument, registrationArgument, sameRegistrations, sortedRegistrations, storedMap, storedRegistration } from './documents.js';
import {
  StoreClosedError,
  StoreError,
  StoreUnauthorizedError,
  StoreUnavailableError,
  InvalidStoredDocumentError,
  asError,
} from './errors.js';
import { REQUEST_TIMEOUT_MS } from './limits.js';
import type { ClusterMapStore, EtcdLocation, NodeRegistration, PresenceHandle } from './store.js';

/** Converts a failure of the etcd client into a typed store error (keeping it as `cause`). */
function etcdFailure(what: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  if (error instanceof ClientClosedError) return new StoreClosedError();
  if (error instanceof EtcdPermissionDeniedError || error instanceof EtcdAuthenticationFailedError) {
    return new StoreUnauthorizedError(`etcd ${what}: ${(error as Error).message}`);
  }
  return new StoreUnavailableError(`etcd ${what} failed: ${asError(error).message}`, { cause: error });
}

export class EtcdClusterMapStore implements ClusterMapStore {
  readonly kind = 'etcd' as const;
  private readonly client: Etcd3;
  private readonly mapKey: string;
  private readonly nodesPrefix: string;
  private closed = false;
  private readonly watches = new Set<{ stop(): void }>();
  private readonly presences = new Set<EtcdPresence>();
  /**
   * The newest map version this client has seen and its mod revision, so that a CAS from that
   * version needs no read first. Only a hint: the transaction compares against etcd itself.
   */
  private known: { version: number; modRevision: bigint } | null = null;

  constructor(location: EtcdLocation) {
    this.mapKey = `${location.prefix}/map`;
    this.nodesPrefix = `${location.prefix}/nodes/`;
    this.client = new Etcd3({
      hosts: location.hosts,
      dialTimeout: REQUEST_TIMEOUT_MS,
      // Every unary call has a deadline, so a call to an unreachable etcd fails instead of hanging.
      // Streams (watches, lease keepalives) have none: they are long-lived by design.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + REQUEST_TIMEOUT_MS }),
      // HTTP/2 pings find a dead connection in seconds (a watch on a silently cut link would
      // otherwise wait for TCP retransmission back-off before it reconnects).
      grpcOptions: {
        // Not below 5 s: etcd's default --grpc-keepalive-min-time closes clients that ping more often.
        'grpc.keepalive_time_ms': 5000,
        'grpc.keepalive_timeout_ms': 2000,
        'grpc.keepalive_permit_without_calls': 1,
      },
    });
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  /** The map in a key-value pair from etcd, remembering its mod revision for the next CAS. */
  mapOf(kv: IKeyValue | undefined): ClusterMap | null {
    if (kv === undefined) return null;
    const map = storedMap(kv.value.toString('utf8'), `etcd key ${this.mapKey}`);
    const modRevision = BigInt(kv.mod_revision);
    if (this.known === null || modRevision > this.known.modRevision) this.known = { version: map.version, modRevision };
    return map;
  }

  async read(): Promise<ClusterMap | null> {
    this.checkOpen();
    let response;
    try {
      response = await this.client.get(this.mapKey).exec();
    } catch (error) {
      throw etcdFailure('read', error);
    }
    return this.mapOf(response.kvs[0]);
  }

  async compareAndSwap(
    expectedVersion: number,
    next: ClusterMap,
  ): Promise<{ ok: true } | { ok: false; current: ClusterMap | null }> {
    this.checkOpen();
    const document = casDocument(expectedVersion, next);
    // At most two transactions: the second only when the first compared against a stale mod
    // revision of the right version (the key was deleted and written again behind our back).
    let current: ClusterMap | null = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      let modRevision = 0n;
      if (expectedVersion > 0) {
        if (this.known === null || this.known.version !== expectedVersion) {
          current = await this.read();
          if (current === null || current.version !== expectedVersion) return { ok: false, current };
        }
        modRevision = this.known!.modRevision;
      }
      let response;
      try {
        response = await this.client
          .if(this.mapKey, expectedVersion === 0 ? 'Create' : 'Mod', '==', modRevision.toString())
          .then(this.client.put(this.mapKey).value(document))
          .else(this.client.get(this.mapKey))
          .commit();
      } catch (error) {
        throw etcdFailure('compare-and-swap', error);
      }
      if (response.succeeded) {
        // A write transaction's header revision is the mod revision it gave the key.
        this.known = { version: next.version, modRevision: BigInt(response.header.revision) };
        return { ok: true };
      }
      current = this.mapOf(response.responses[0]?.response_range.kvs[0]);
      if (current === null || current.version !== expectedVersion || expectedVersion === 0) return { ok: false, current };
    }
    return { ok: false, current };
  }

  watch(onMap: (map: ClusterMap) => void, onError?: (error: Error) => void): () => void {
    this.checkOpen();
    return trackWatch(this.watches, new EtcdMapWatch(this.client, this.mapKey, this, onMap, onError));
  }

  async register(registration: NodeRegistration, ttlMs: number): Promise<PresenceHandle> {
    this.checkOpen();
    const checked = registrationArgument(registration, ttlMs);
    const presence = new EtcdPresence(
      this.client,
      `${this.nodesPrefix}${checked.nodeId}`,
      JSON.stringify(checked),
      Math.max(1, Math.ceil(ttlMs / 1000)),
      () => this.presences.delete(presence),
    );
    this.presences.add(presence);
    try {
      await presence.start();
    } catch (error) {
      this.presences.delete(presence);
      throw error;
    }
    return presence;
  }

  /** Registrations in etcd's response, parsed; invalid ones are passed to `invalid`. */
  registrationsOf(kvs: readonly IKeyValue[], invalid: (error: InvalidStoredDocumentError) => void): Map<string, NodeRegistration> {
    const registrations = new Map<string, NodeRegistration>();
    for (const kv of kvs) {
      const key = kv.key.toString('utf8');
      try {
        const registration = storedRegistration(kv.value.toString('utf8'), `etcd key ${key}`);
        if (`${this.nodesPrefix}${registration.nodeId}` !== key) {
          throw new InvalidStoredDocumentError(`etcd key ${key} holds the registration of node ${registration.nodeId}`);
        }
        registrations.set(key, registration);
      } catch (error) {
        if (!(error instanceof InvalidStoredDocumentError)) throw error;
        invalid(error);
      }
    }
    return registrations;
  }

  async onlineNodes(): Promise<NodeRegistration[]> {
    this.checkOpen();
    let response;
    try {
      response = await this.client.getAll().prefix(this.nodesPrefix).exec();
    } catch (error) {
      throw etcdFailure('read of online nodes', error);
    }
    const registrations = this.registrationsOf(response.kvs, (error) => {
      throw error;
    });
    return sortedRegistrations(registrations.values());
  }

  watchOnline(onChange: (nodes: NodeRegistration[]) => void, onError?: (error: Error) => void): () => void {
    this.checkOpen();
    return trackWatch(this.watches, new EtcdNodesWatch(this.client, this.nodesPrefix, this, onChange, onError));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const failure = await stopAll(this.watches, this.presences);
    this.client.close();
    if (failure !== undefined) throw failure.reason;
  }
}

/**
 * One etcd watcher at a time; on disconnect it is dropped and a new one is created by this class
 * (not by etcd3's own reconnect), so the start revision is always the one this class has processed.
 */
abstract class EtcdWatchLoop {
  protected readonly abort = new AbortController();
  private readonly backoff = new Backoff();
  private watcher: Watcher | null = null;
  private resuming = false;

  constructor(
    protected readonly client: Etcd3,
    private readonly onError: ((error: Error) => void) | undefined,
  ) {}

  start(): void {
    void this.resume();
  }

  stop(): void {
    this.abort.abort();
    this.drop();
  }

  protected get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  protected report(error: Error): void {
    if (!this.stopped && this.onError !== undefined) invokeCallback(this.onError, error);
  }

  /** Reads what is needed before watching (if anything) and returns the revision to watch from. */
  protected abstract prepare(): Promise<bigint>;
  /** Subscribes the watcher's events (it starts streaming at once). */
  protected abstract subscribe(watcher: Watcher, isCurrent: () => boolean): void;
  /** Creates the etcd watcher from `startRevision`. */
  protected abstract createWatcher(startRevision: bigint): Watcher;
  /** Called when etcd cancelled the watch (for example: its start revision was compacted). */
  protected abstract cancelled(): void;

  private async resume(): Promise<void> {
    if (this.resuming) return;
    this.resuming = true;
    try {
      while (!this.stopped) {
        let startRevision: bigint;
        try {
          startRevision = await this.prepare();
        } catch (error) {
          this.report(etcdFailure('watch', error));
          await sleep(this.backoff.next(), this.abort.signal);
          continue;
        }
        if (!this.stopped) this.open(startRevision);
        return;
      }
    } finally {
      this.resuming = false;
    }
  }

  private open(startRevision: bigint): void {
    // watcher() attaches at once; unlike create(), it does not wait for a 'connected' that may
    // only come after etcd3's own reconnect.
    const watcher = this.createWatcher(startRevision);
    this.watcher = watcher;
    const isCurrent = (): boolean => this.watcher === watcher && !this.stopped;
    watcher.on('connected', () => {
      if (isCurrent()) this.backoff.reset();
    });
    watcher.on('disconnected', (error) => {
      if (!isCurrent()) return;
      this.drop();
      this.report(etcdFailure('watch', error));
      void sleep(this.backoff.next(), this.abort.signal).then(() => this.resume());
    });
    watcher.on('error', (error) => {
      if (!isCurrent()) return;
      this.drop();
      this.cancelled();
      this.report(etcdFailure('watch', error));
      void sleep(this.backoff.next(), this.abort.signal).then(() => this.resume());
    });
    this.subscribe(watcher, isCurrent);
  }

  private drop(): void {
    const watcher = this.watcher;
    this.watcher = null;
    if (watcher === null) return;
    watcher.cancel().catch((error: unknown) => this.report(etcdFailure('watch cancel', error)));
  }
}

class EtcdMapWatch extends EtcdWatchLoop {
  private lastVersion = 0;
  /** Every change of the map key up to this revision was processed; null: read the map first. */
  private revision: bigint | null = null;

  constructor(
    client: Etcd3,
    private readonly mapKey: string,
    private readonly store: EtcdClusterMapStore,
    private readonly onMap: (map: ClusterMap) => void,
    onError: ((error: Error) => void) | undefined,
  ) {
    super(client, onError);
  }

  protected async prepare(): Promise<bigint> {
    if (this.revision === null) {
      const response = await this.client.get(this.mapKey).exec();
      this.revision = BigInt(response.header.revision);
      this.deliver(response.kvs[0]);
    }
    return this.revision + 1n;
  }

  protected createWatcher(startRevision: bigint): Watcher {
    return this.client.watch().key(this.mapKey).startRevision(startRevision.toString()).watcher();
  }

  protected subscribe(watcher: Watcher, isCurrent: () => boolean): void {
    watcher.on('put', (kv) => {
      if (!isCurrent()) return;
      this.revision = BigInt(kv.mod_revision);
      this.deliver(kv);
    });
    watcher.on('delete', (kv) => {
      if (!isCurrent()) return;
      this.revision = BigInt(kv.mod_revision);
      this.report(new InvalidStoredDocumentError(`etcd key ${this.mapKey} was deleted; waiting for a newer map`));
    });
  }

  protected cancelled(): void {
    // The watch cannot resume where it stopped: read the map again.
    this.revision = null;
  }

  private deliver(kv: IKeyValue | undefined): void {
    let map: ClusterMap | null;
    try {
      map = this.store.mapOf(kv);
    } catch (error) {
      if (!(error instanceof InvalidStoredDocumentError)) throw error;
      this.report(error);
      return;
    }
    if (map === null || map.version <= this.lastVersion || this.stopped) return;
    this.lastVersion = map.version;
    invokeCallback(this.onMap, map);
  }
}

class EtcdNodesWatch extends EtcdWatchLoop {
  private registrations = new Map<string, NodeRegistration>();
  private reported: NodeRegistration[] | null = null;

  constructor(
    client: Etcd3,
    private readonly nodesPrefix: string,
    private readonly store: EtcdClusterMapStore,
    private readonly onChange: (nodes: NodeRegistration[]) => void,
    onError: ((error: Error) => void) | undefined,
  ) {
    super(client, onError);
  }

  /** The set of registrations is re-read at every (re)connect: it is small, and nothing is missed. */
  protected async prepare(): Promise<bigint> {
    const response = await this.client.getAll().prefix(this.nodesPrefix).exec();
    this.registrations = this.store.registrationsOf(response.kvs, (error) => this.report(error));
    this.emit();
    return BigInt(response.header.revision) + 1n;
  }

  protected createWatcher(startRevision: bigint): Watcher {
    return this.client.watch().prefix(this.nodesPrefix).startRevision(startRevision.toString()).watcher();
  }

  protected subscribe(watcher: Watcher, isCurrent: () => boolean): void {
    watcher.on('put', (kv) => {
      if (!isCurrent()) return;
      const parsed = this.store.registrationsOf([kv], (error) => this.report(error));
      const key = kv.key.toString('utf8');
      const registration = parsed.get(key);
      if (registration === undefined) this.registrations.delete(key);
      else this.registrations.set(key, registration);
    });
    watcher.on('delete', (kv) => {
      if (isCurrent()) this.registrations.delete(kv.key.toString('utf8'));
    });
    // 'data' follows the 'put' and 'delete' events of one response: report once per batch.
    watcher.on('data', () => {
      if (isCurrent()) this.emit();
    });
  }

  protected cancelled(): void {
    // prepare() re-reads everything anyway.
  }

  private emit(): void {
    const nodes = sortedRegistrations(this.registrations.values());
    if (this.stopped || (this.reported !== null && sameRegistrations(this.reported, nodes))) return;
    this.reported = nodes;
    invokeCallback(this.onChange, nodes);
  }
}

class EtcdPresence implements PresenceHandle {
  private lease: Lease | null = null;
  /**
   * starting: the first grant and put are in flight (a failure goes to register()'s caller);
   * live: the lease is kept alive; recovering: the lease was lost, a new one is being set up.
   */
  private state: 'starting' | 'live' | 'recovering' = 'starting';
  private closed = false;
  private readonly abort = new AbortController();
  private readonly backoff = new Backoff();
  /** Failed attempts to register again after the lease was lost (count-and-keep-trying). */
  renewalFailures = 0;
  lastRenewalError: Error | null = null;

  constructor(
    private readonly client: Etcd3,
    private readonly key: string,
    private readonly document: string,
    private readonly ttlSeconds: number,
    private readonly onClosed: () => void,
  ) {}

  async start(): Promise<void> {
    const lease = await this.grantAndPut();
    this.becomeLive(lease);
  }

  private async grantAndPut(): Promise<Lease> {
    const lease = this.client.lease(this.ttlSeconds, { autoKeepAlive: true });
    this.lease = lease;
    lease.on('lost', (error) => {
      if (this.lease !== lease || this.closed || this.state !== 'live') return;
      this.lastRenewalError = etcdFailure('lease keepalive', error);
      this.state = 'recovering';
      void this.registerAgain();
    });
    try {
      await lease.put(this.key).value(this.document).exec();
    } catch (error) {
      if (this.lease === lease) this.lease = null;
      lease.release();
      throw etcdFailure('register', error);
    }
    return lease;
  }

  /** Marks the handle live, unless the lease was lost before that (then it registers again). */
  private becomeLive(lease: Lease): void {
    if (this.closed) return;
    if (lease.revoked()) {
      this.state = 'recovering';
      void this.registerAgain();
      return;
    }
    this.state = 'live';
  }

  /** The lease expired while this process lives (etcd was unreachable for longer than the TTL). */
  private async registerAgain(): Promise<void> {
    this.lease = null;
    while (!this.closed) {
      await sleep(this.backoff.next(), this.abort.signal);
      if (this.closed) return;
      let lease: Lease;
      try {
        lease = await this.grantAndPut();
      } catch (error) {
        this.renewalFailures++;
        this.lastRenewalError = asError(error);
        continue;
      }
      this.backoff.reset();
      if (!lease.revoked()) {
        this.becomeLive(lease);
        return;
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.onClosed();
    const lease = this.lease;
    this.lease = null;
    try {
      if (lease !== null) {
        // Revoking deletes every key attached to the lease. A key that another run of the same
        // node has written since is attached to that run's lease and stays.
        await lease.revoke();
      } else {
        // Between leases (recovering): the key may still sit on the lost lease until etcd expires
        // it. Delete it now if it is still this run's registration (same document, incarnation).
        await this.client
          .if(this.key, 'Value', '==', this.document)
          .then(this.client.delete().key(this.key))
          .commit();
      }
    } catch (error) {
      throw etcdFailure('deregister (the registration expires after its TTL)', error);
    }
  }
}
