/**
 * Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it
 * (@kubernetes/client-node 1.x has none): a candidate takes the Lease when it is free or its holder
 * failed to renew within leaseDurationSeconds (judged by when this candidate last saw the Lease
 * change, not by the holder's clock), renews it every renewMs while leading, and gives up
 * leadership when a renewal has not succeeded for renewDeadlineMs — before any other candidate
 * may take it (renewDeadline < leaseDuration). Every write is an update at the read
 * resourceVersion, so two candidates racing get one success and one 409.
 */
import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  log?: (line: string) => void;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  /** The Lease as last seen, and when (by this process's monotonic clock) it last changed. */
  private observed: { resourceVersion: string; holder: string; atMs: number } | null = null;
  private lastRenewMs = 0;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;

  constructor(
    config: KubeConfig,
    private readonly options: LeaderElectionOptions,
  ) {
    this.api = config.makeApiClient(CoordinationV1Api);
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryMs = options.retryMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.leaseDurationMs <= this.renewDeadlineMs + this.retryMs) {
      throw new Error('leader election: the lease duration must exceed the renew deadline plus the retry period');
    }
    // A watchdog independent of the API calls: a leader whose renewals hang steps down on time.
    this.watchdog = setInterval(() => {
      if (this.leading && performance.now() - this.lastRenewMs > this.renewDeadlineMs) {
        this.options.log?.('leader election: could not renew the lease in time; stepping down');
        this.setLeading(false);
      }
    }, 100);
    this.watchdog.unref();
    void this.round();
  }

  /**
   * Stops campaigning; a leader releases the Lease so another candidate takes over at once (the
   * caller stops its own work first). A voluntary stop does not call onStoppedLeading.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.watchdog !== null) clearInterval(this.watchdog);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace });
      if (lease.spec?.holderIdentity === this.options.identity) {
        await this.api.replaceNamespacedLease({ name: this.options.name, namespace: this.options.namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } } });
      }
    } catch {
      // Best effort: the Lease expires anyway.
    }
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    const now = performance.now();
    try {
      await this.tryAcquireOrRenew(now);
    } catch (error) {
      this.options.log?.(`leader election: ${error instanceof ApiException ? `HTTP ${error.code}` : (error as Error).message}`);
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.round(), this.retryMs);
    this.timer.unref();
  }

  private async tryAcquireOrRenew(startedMs: number): Promise<void> {
    const { namespace, name, identity } = this.options;
    let lease: V1Lease | null = null;
    try {
      lease = await this.bounded(this.api.readNamespacedLease({ name, namespace }));
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
    }
    // When this candidate saw the Lease (after the read: a slow read must not shorten the wait).
    const nowMs = performance.now();
    const spec = { holderIdentity: identity, leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000), renewTime: new V1MicroTime() };
    if (lease === null) {
      await this.write(() => this.bounded(this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: { ...spec, acquireTime: new V1MicroTime(), leaseTransitions: 0 } } })), startedMs);
      return;
    }
    const holder = lease.spec?.holderIdentity ?? '';
    const version = lease.metadata?.resourceVersion ?? '';
    if (this.observed === null || this.observed.resourceVersion !== version) this.observed = { resourceVersion: version, holder, atMs: nowMs };
    const durationMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
    const held = holder !== '' && holder !== identity && nowMs - this.observed.atMs < durationMs;
    if (held) {
      if (this.leading) this.setLeading(false);
      return;
    }
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
    const acquireTime = holder === identity ? lease.spec?.acquireTime : new V1MicroTime();
    await this.write(() => this.bounded(this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...spec, acquireTime, leaseTransitions: transitions } } })), startedMs);
  }

  /** One write at the read resourceVersion; a 409 means another candidate wrote first. */
  /** `startedMs`: when this attempt began — a leader counts its renewal from then (conservative). */
  private async write(call: () => Promise<V1Lease>, startedMs: number): Promise<void> {
    try {
      const written = await call();
      // Stopped meanwhile: the Lease is released by stop(), never taken up again here.
      if (this.stopped) return;
      this.observed = { resourceVersion: written.metadata?.resourceVersion ?? '', holder: this.options.identity, atMs: startedMs };
      this.lastRenewMs = startedMs;
      if (!this.leading) this.setLeading(true);
    } catch (error) {
      if (error instanceof ApiException && error.code === 409) return;
      throw error;
    }
  }

  /** An API call bounded by the retry period: a hung request must not hold up the next round. */
  private bounded<T>(call: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.retryMs} ms`)), this.retryMs);
    });
    return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.options.log?.(`leader election: ${this.options.identity} ${leading ? 'is now the leader' : 'is no longer the leader'}`);
    if (leading) this.options.onStartedLeading();
    else this.options.onStoppedLeading();
  }
}
