/**
 * Every bound the Kubernetes API emulator enforces, in one place, with why. Where the real API
 * server has a number, it is the same one, so a test that hits a bound here would hit it there too.
 */
export const kubeLimits = {
  /** Largest request body (kube-apiserver's 3 MiB limit; etcd would refuse larger objects anyway). */
  requestBodyBytesMax: 3 * 1024 * 1024,
  /** Watch events kept for resuming watches (one cache shared by all resources). */
  watchCacheSizeDefault: 1000,
  /**
   * Unsent bytes a watch may hold before the emulator ends it. The real API server also drops a
   * watcher that does not keep up; the client then resumes from its last resourceVersion.
   */
  watchBufferBytesMax: 8 * 1024 * 1024,
  /** Open watches (HTTP and in-process) at once; more is a leak in the test, answered 429. */
  watchesMax: 1000,
  /** Stored objects at once; more is a runaway test, answered 500 as etcd's space quota would be. */
  objectsMax: 100_000,
  /** `Update` managedFields entries kept per object; older ones merge into `ancient-changes` (as the API server does). */
  updateManagersMax: 10,
  /** Default interval between BOOKMARK events on watches that allow them (the API server uses about a minute). */
  bookmarkIntervalMsDefault: 1000,
} as const;
