/**
 * Helpers for the background loops at the edge (watches, presence renewal): exponential backoff
 * and a sleep that ends early when the loop is stopped.
 */
import { RETRY_BACKOFF_MS_MAX, RETRY_BACKOFF_MS_MIN } from './limits.js';

export class Backoff {
  private delayMs = RETRY_BACKOFF_MS_MIN;

  /** The delay before the next attempt; doubles up to RETRY_BACKOFF_MS_MAX. */
  next(): number {
    const delayMs = this.delayMs;
    this.delayMs = Math.min(RETRY_BACKOFF_MS_MAX, delayMs * 2);
    return delayMs;
  }

  reset(): void {
    this.delayMs = RETRY_BACKOFF_MS_MIN;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Calls a consumer's callback from a background loop. A throwing callback is a programmer error:
 * it is rethrown outside the loop (an uncaught exception, as etcd3 does with its event handlers)
 * rather than being mistaken for a store failure and retried.
 */
export function invokeCallback<T>(callback: (value: T) => void, value: T): void {
  try {
    callback(value);
  } catch (error) {
    setImmediate(() => {
      throw error;
    });
  }
}

/**
 * Closing a store: stops every watch and closes every presence, then reports the first presence
 * that failed to close (after all of them were tried).
 */
export async function stopAll(
  watches: Set<{ stop(): void }>,
  presences: Set<{ close(): Promise<void> }>,
): Promise<PromiseRejectedResult | undefined> {
  for (const watch of watches) watch.stop();
  watches.clear();
  const results = await Promise.allSettled([...presences].map((presence) => presence.close()));
  return results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
}

/** Registers a started watch in `watches` and returns the function that stops it. */
export function trackWatch(watches: Set<{ stop(): void }>, watch: { start(): void; stop(): void }): () => void {
  watches.add(watch);
  watch.start();
  return () => {
    watches.delete(watch);
    watch.stop();
  };
}
