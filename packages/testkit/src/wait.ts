/**
 * Bounded waits for tests and the campaign: a bound on time, never an assertion on speed.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** A waitFor that reached its bound; the message says what was awaited and what was seen last. */
export class WaitTimeoutError extends Error {
  readonly code = 'WAIT_TIMEOUT';
  constructor(message: string) {
    super(message);
    this.name = 'WaitTimeoutError';
  }
}

/**
 * Polls `probe` until it returns a value other than undefined, or throws a WaitTimeoutError after
 * timeoutMs with the last value or error it saw (so a failure says what the world looked like).
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown = null;
  while (performance.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = 'not yet';
    } catch (error) {
      last = error instanceof Error ? error.message : error;
    }
    await sleep(intervalMs);
  }
  throw new WaitTimeoutError(`${what}: not reached within ${timeoutMs} ms (last: ${typeof last === 'string' ? last : JSON.stringify(last)})`);
}
