/**
 * Every bound of the cluster store in one place, with why (STYLE.md "Limits and assertions").
 */

/**
 * Largest serialized ClusterMap either backend stores: etcd's default request limit
 * (--max-request-bytes, 1.5 MiB). The map itself aims well under Kubernetes' 1 MiB object limit
 * (MAP_PARTITIONS_MAX in @ballast/cluster); this bound makes both backends refuse the same maps.
 */
export const MAP_BYTES_MAX = 1536 * 1024;

/** Embedded store: largest request body (a map plus its envelope). Bigger bodies get 413. */
export const REQUEST_BODY_BYTES_MAX = MAP_BYTES_MAX + 64 * 1024;

/** Embedded store: concurrent long-poll requests (map and node watches together). More get 503. */
export const WATCHERS_MAX = 256;

/** Embedded store: live registrations. A cluster has at most a few hundred nodes; more get 503. */
export const REGISTRATIONS_MAX = 1024;

/**
 * Embedded store: recent map versions kept in memory so a map watcher that fell a few versions
 * behind still receives every version in order. A watcher further behind receives the newest map
 * (it never receives an older one). Bounded by count and by bytes.
 */
export const MAP_HISTORY_VERSIONS_MAX = 64;
export const MAP_HISTORY_BYTES_MAX = 16 * 1024 * 1024;

/** Embedded store: maps returned by one watch response (the client asks again for the rest). */
export const WATCH_BATCH_MAPS_MAX = 16;

/** Embedded store: how long a long-poll waits for a change before answering 204. */
export const LONG_POLL_MS = 20_000;

/** Presence TTL bounds. etcd rounds the TTL up to whole seconds and to its own minimum (~2 s). */
export const PRESENCE_TTL_MS_MIN = 1_000;
export const PRESENCE_TTL_MS_MAX = 3_600_000;

/** Registration fields: an incarnation is an opaque id of one process run (a UUID fits). */
export const INCARNATION_LENGTH_MAX = 128;
/** A registration as stored (JSON): a node id, an address and two small fields. */
export const REGISTRATION_BYTES_MAX = 4096;

/** Deadline of one request to the backend (etcd unary call, embedded HTTP request other than a long-poll). */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Retry backoff of background loops (watches, presence renewal): doubles from min to max. */
export const RETRY_BACKOFF_MS_MIN = 100;
export const RETRY_BACKOFF_MS_MAX = 5_000;
