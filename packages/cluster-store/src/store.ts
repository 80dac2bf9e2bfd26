/**
 * The ClusterMap store behind one interface (DESIGN.md, Coordination): every change of the map is a
 * compare-and-swap from version N to N + 1 on a linearizable store, and nodes announce that they are
 * online with a presence registration that expires unless renewed. Three backends:
 * - `etcd` (etcd-store.ts): CAS on the key's mod revision, etcd watches, leases for presence.
 * - `embedded` (embedded-store.ts, served by embedded-server.ts): one process is the only writer.
 * - `kubernetes` (kubernetes-store.ts): a ConfigMap updated at its resourceVersion, Leases for presence.
 */
import type { ClusterMap, NodeAddress } from '@ballast/cluster';
import { EmbeddedClusterMapStore } from './embedded-store.js';
import { parseKubernetesUrl } from './kubernetes-documents.js';
import { LazyStore } from './lazy-store.js';
import { InvalidStoreUrlError } from './errors.js';

/** What a node announces while it is online. */
export interface NodeRegistration {
  nodeId: string;
  address: NodeAddress;
  /** Wall-clock start time of the process (informational: never used for ordering or leases). */
  startedAtMs: number;
  /** Identifies one run of the process (a new one at every start), so a restart is visible. */
  incarnation: string;
}

export interface PresenceHandle {
  /** Stops renewing and removes the registration. */
  close(): Promise<void>;
}

export interface ClusterMapStore {
  readonly kind: 'etcd' | 'embedded' | 'kubernetes';
  /** The stored map, or null when none was ever stored. */
  read(): Promise<ClusterMap | null>;
  /**
   * Stores `next` iff the stored map's version === expectedVersion (0 = no map yet) and
   * next.version === expectedVersion + 1. On a conflict, returns the map that is stored now.
   * A StoreUnavailableError leaves the outcome unknown: read again before deciding.
   */
  compareAndSwap(
    expectedVersion: number,
    next: ClusterMap,
  ): Promise<{ ok: true } | { ok: false; current: ClusterMap | null }>;
  /**
   * onMap(current) at start (when a map exists), then with every newer version, in version order,
   * never an older one; survives connection loss (re-reads and resumes); returns stop().
   */
  watch(onMap: (map: ClusterMap) => void, onError?: (error: Error) => void): () => void;
  /** Presence with a TTL, renewed in the background until closed or the process dies. */
  register(registration: NodeRegistration, ttlMs: number): Promise<PresenceHandle>;
  /** Live registrations, in node-id order. */
  onlineNodes(): Promise<NodeRegistration[]>;
  /** onChange(all live registrations, in node-id order) at start and after every change; returns stop(). */
  watchOnline(onChange: (nodes: NodeRegistration[]) => void, onError?: (error: Error) => void): () => void;
  /** Stops every watch, closes every presence handle still open (removing its registration), disconnects. */
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** Bearer token of the embedded store (`ballast dev`). Not used by etcd. */
  token?: string;
}

/**
 * Opens a store from its URL:
 * - `etcd://host:port[,host:port...]/prefix`: etcd at those endpoints; keys live under `/prefix`.
 * - `http://host:port` (or https): the embedded store served by `ballast dev`.
 * - `kubernetes://NAMESPACE/CONFIGMAP[?server=URL]`: a ConfigMap and Leases (kubernetes-store.ts).
 * Connecting is lazy: a wrong address shows up as StoreUnavailableError from the first call. The
 * etcd and Kubernetes clients are loaded only when their URL is used (LazyStore).
 */
export function openStore(url: string, options: OpenStoreOptions = {}): ClusterMapStore {
  if (url.startsWith('kubernetes://')) {
    if (options.token !== undefined) throw new InvalidStoreUrlError('a token is for the embedded store; the kubernetes store uses the service account');
    const location = parseKubernetesUrl(url);
    return new LazyStore('kubernetes', async () => new (await import('./kubernetes-store.js')).KubernetesClusterMapStore(location));
  }
  if (url.startsWith('etcd://')) {
    if (options.token !== undefined) {
      throw new InvalidStoreUrlError('a token is for the embedded store; etcd URLs do not take one');
    }
    const location = parseEtcdUrl(url);
    return new LazyStore('etcd', async () => new (await import('./etcd-store.js')).EtcdClusterMapStore(location));
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new InvalidStoreUrlError(`cannot parse store URL ${JSON.stringify(url)}: ${(error as Error).message}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidStoreUrlError(`store URL ${JSON.stringify(url)}: expected etcd://, http:// or https://`);
  }
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '' || parsed.username !== '') {
    throw new InvalidStoreUrlError(`embedded store URL ${JSON.stringify(url)} must be just scheme://host:port`);
  }
  return new EmbeddedClusterMapStore({ baseUrl: parsed.origin, token: options.token });
}

export interface EtcdLocation {
  /** gRPC endpoints, e.g. ['http://127.0.0.1:2379']. */
  hosts: string[];
  /** Key prefix without a trailing slash, e.g. '/ballast/prod'. */
  prefix: string;
}

const ETCD_ENDPOINT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
const ETCD_PREFIX = /^(\/[A-Za-z0-9._-]+)+$/;

export function parseEtcdUrl(url: string): EtcdLocation {
  const rest = url.slice('etcd://'.length);
  const slash = rest.indexOf('/');
  const hostList = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? '' : rest.slice(slash).replace(/\/+$/, '');
  const hosts = hostList.split(',').map((endpoint) => {
    const match = ETCD_ENDPOINT.exec(endpoint);
    const port = match === null ? 0 : Number(match[2]);
    if (match === null || port < 1 || port > 65535) {
      throw new InvalidStoreUrlError(`etcd URL ${JSON.stringify(url)}: ${JSON.stringify(endpoint)} is not host:port`);
    }
    return `http://${endpoint}`;
  });
  if (!ETCD_PREFIX.test(prefix)) {
    throw new InvalidStoreUrlError(
      `etcd URL ${JSON.stringify(url)} needs a key prefix of letters, digits, '.', '_', '-' and '/' (e.g. etcd://127.0.0.1:2379/ballast/prod)`,
    );
  }
  return { hosts, prefix };
}
