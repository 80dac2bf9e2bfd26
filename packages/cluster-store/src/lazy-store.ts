/**
 * A store whose backend module is loaded on first need: the etcd and Kubernetes clients take about
 * a second to load, and a node that never uses them (standalone, or on the embedded store) should
 * not pay for it at start-up. openStore is synchronous, so the backend is imported in the
 * background at once and every call waits for it; a watch started before it is loaded begins when
 * it is, unless stopped first.
 */
import { asError } from './errors.js';
import type { ClusterMapStore } from './store.js';

export class LazyStore implements ClusterMapStore {
  private readonly loading: Promise<ClusterMapStore>;

  constructor(
    readonly kind: ClusterMapStore['kind'],
    load: () => Promise<ClusterMapStore>,
  ) {
    this.loading = load();
    // A failed load is reported by every call; this only keeps it from being an unhandled rejection.
    this.loading.catch(() => undefined);
  }

  read(): ReturnType<ClusterMapStore['read']> {
    return this.loading.then((store) => store.read());
  }

  compareAndSwap(...args: Parameters<ClusterMapStore['compareAndSwap']>): ReturnType<ClusterMapStore['compareAndSwap']> {
    return this.loading.then((store) => store.compareAndSwap(...args));
  }

  register(...args: Parameters<ClusterMapStore['register']>): ReturnType<ClusterMapStore['register']> {
    return this.loading.then((store) => store.register(...args));
  }

  onlineNodes(): ReturnType<ClusterMapStore['onlineNodes']> {
    return this.loading.then((store) => store.onlineNodes());
  }

  watch(...args: Parameters<ClusterMapStore['watch']>): () => void {
    return this.whenLoaded((store) => store.watch(...args), args[1]);
  }

  watchOnline(...args: Parameters<ClusterMapStore['watchOnline']>): () => void {
    return this.whenLoaded((store) => store.watchOnline(...args), args[1]);
  }

  async close(): Promise<void> {
    const store = await this.loading.catch(() => null);
    await store?.close();
  }

  /** Starts a watch once the backend is loaded; the returned stop() works before and after that. */
  private whenLoaded(start: (store: ClusterMapStore) => () => void, onError?: (error: Error) => void): () => void {
    let stop: (() => void) | null = null;
    let stopped = false;
    this.loading.then(
      (store) => {
        if (!stopped) stop = start(store);
      },
      (error: unknown) => onError?.(asError(error)),
    );
    return () => {
      stopped = true;
      stop?.();
    };
  }
}
