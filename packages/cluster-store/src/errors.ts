/**
 * Operating errors of the ClusterMap store: one class per condition, each with a stable `code` that
 * callers branch on (and that an HTTP edge converts to a status). Every error that wraps a failure
 * of the backend keeps it as `cause`.
 */

export type StoreErrorCode =
  | 'STORE_UNAVAILABLE'
  | 'STORE_UNAUTHORIZED'
  | 'STORE_CLOSED'
  | 'STORE_LIMIT'
  | 'INVALID_STORE_URL'
  | 'INVALID_STORE_ARGUMENT'
  | 'INVALID_STORED_DOCUMENT';

export abstract class StoreError extends Error {
  abstract readonly code: StoreErrorCode;
}

/** The backend could not be reached or did not answer in time; the call may be retried. */
export class StoreUnavailableError extends StoreError {
  readonly code = 'STORE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** The embedded store refused the token (HTTP 401). Retrying does not help. */
export class StoreUnauthorizedError extends StoreError {
  readonly code = 'STORE_UNAUTHORIZED';
  constructor(message: string) {
    super(message);
    this.name = 'StoreUnauthorizedError';
  }
}

/** The store (or the handle) was closed before or during the call. */
export class StoreClosedError extends StoreError {
  readonly code = 'STORE_CLOSED';
  constructor(message = 'the cluster store is closed') {
    super(message);
    this.name = 'StoreClosedError';
  }
}

/** A bound was reached (map too large, too many watchers or registrations; see limits.ts). */
export class StoreLimitError extends StoreError {
  readonly code = 'STORE_LIMIT';
  constructor(message: string) {
    super(message);
    this.name = 'StoreLimitError';
  }
}

/** openStore was given a URL (or options) it cannot use. */
export class InvalidStoreUrlError extends StoreError {
  readonly code = 'INVALID_STORE_URL';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidStoreUrlError';
  }
}

/** The caller passed something the store refuses: a version step other than +1, an invalid map or registration. */
export class InvalidStoreArgumentError extends StoreError {
  readonly code = 'INVALID_STORE_ARGUMENT';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidStoreArgumentError';
  }
}

/** What the store holds is not a valid ClusterMap or registration (corruption or a foreign writer). */
export class InvalidStoredDocumentError extends StoreError {
  readonly code = 'INVALID_STORED_DOCUMENT';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidStoredDocumentError';
  }
}

/** An Error from anything thrown (for onError callbacks). */
export function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}
