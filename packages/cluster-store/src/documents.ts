/**
 * What goes into and comes out of a store: ClusterMaps (checked with @ballast/cluster's parseMap /
 * validateMap) and node registrations. Pure: no I/O.
 */
import { addressProblem, isValidNodeId, parseMap, validateMap, type ClusterMap } from '@ballast/cluster';
import { InvalidStoreArgumentError, InvalidStoredDocumentError, StoreLimitError } from './errors.js';
import {
  INCARNATION_LENGTH_MAX,
  MAP_BYTES_MAX,
  PRESENCE_TTL_MS_MAX,
  PRESENCE_TTL_MS_MIN,
  REGISTRATION_BYTES_MAX,
} from './limits.js';
import type { NodeRegistration } from './store.js';

/** A map read from a store (JSON text or an already parsed body); throws InvalidStoredDocumentError. */
export function storedMap(document: string | unknown, where: string): ClusterMap {
  let json: unknown = document;
  if (typeof document === 'string') {
    try {
      json = JSON.parse(document);
    } catch (error) {
      throw new InvalidStoredDocumentError(`${where}: the stored map is not JSON`, { cause: error });
    }
  }
  try {
    return parseMap(json);
  } catch (error) {
    throw new InvalidStoredDocumentError(`${where}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Checks a compare-and-swap request before it reaches a backend and returns the map's JSON text:
 * version N → N + 1, a valid map, at most MAP_BYTES_MAX bytes.
 */
export function casDocument(expectedVersion: number, next: ClusterMap): string {
  if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) {
    throw new InvalidStoreArgumentError(`expectedVersion must be a non-negative integer, got ${String(expectedVersion)}`);
  }
  if (next.version !== expectedVersion + 1) {
    throw new InvalidStoreArgumentError(
      `a compare-and-swap goes from version N to N + 1: expected version ${expectedVersion}, so the new map must have version ${expectedVersion + 1}, got ${String(next.version)}`,
    );
  }
  const problems = validateMap(next);
  if (problems.length > 0) {
    throw new InvalidStoreArgumentError(`refusing to store an invalid ClusterMap: ${problems.slice(0, 10).join('; ')}`);
  }
  const text = JSON.stringify(next);
  const bytes = Buffer.byteLength(text);
  if (bytes > MAP_BYTES_MAX) {
    throw new StoreLimitError(`the ClusterMap is ${bytes} bytes; a store holds at most ${MAP_BYTES_MAX}`);
  }
  return text;
}

/** Why a registration is unusable, or null. */
export function registrationProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'a registration must be an object';
  const record = value as Record<string, unknown>;
  if (!isValidNodeId(record['nodeId'])) return `nodeId ${JSON.stringify(record['nodeId'])} is not a valid node id`;
  const address = addressProblem(record['address']);
  if (address !== null) return `address ${address}`;
  const startedAtMs = record['startedAtMs'];
  if (typeof startedAtMs !== 'number' || !Number.isSafeInteger(startedAtMs) || startedAtMs < 0) {
    return `startedAtMs must be a non-negative integer, got ${JSON.stringify(startedAtMs)}`;
  }
  const incarnation = record['incarnation'];
  if (typeof incarnation !== 'string' || incarnation.length === 0 || incarnation.length > INCARNATION_LENGTH_MAX) {
    return `incarnation must be a non-empty string of at most ${INCARNATION_LENGTH_MAX} characters`;
  }
  return null;
}

/** A clean copy of a valid registration (unknown fields dropped). */
function copyRegistration(value: NodeRegistration): NodeRegistration {
  const { host, port, peerPort, adminPort, zone } = value.address;
  return {
    nodeId: value.nodeId,
    address: zone === undefined ? { host, port, peerPort, adminPort } : { host, port, peerPort, adminPort, zone },
    startedAtMs: value.startedAtMs,
    incarnation: value.incarnation,
  };
}

/** A registration a caller passed in, with its TTL; throws InvalidStoreArgumentError. */
export function registrationArgument(value: NodeRegistration, ttlMs: number): NodeRegistration {
  const problem = registrationProblem(value);
  if (problem !== null) throw new InvalidStoreArgumentError(problem);
  if (!Number.isInteger(ttlMs) || ttlMs < PRESENCE_TTL_MS_MIN || ttlMs > PRESENCE_TTL_MS_MAX) {
    throw new InvalidStoreArgumentError(`ttlMs must be an integer in ${PRESENCE_TTL_MS_MIN}..${PRESENCE_TTL_MS_MAX}, got ${String(ttlMs)}`);
  }
  const copy = copyRegistration(value);
  if (Buffer.byteLength(JSON.stringify(copy)) > REGISTRATION_BYTES_MAX) {
    throw new InvalidStoreArgumentError(`a registration is at most ${REGISTRATION_BYTES_MAX} bytes of JSON`);
  }
  return copy;
}

/** A registration read from a store; throws InvalidStoredDocumentError. */
export function storedRegistration(document: string | unknown, where: string): NodeRegistration {
  let json: unknown = document;
  if (typeof document === 'string') {
    try {
      json = JSON.parse(document);
    } catch (error) {
      throw new InvalidStoredDocumentError(`${where}: the stored registration is not JSON`, { cause: error });
    }
  }
  const problem = registrationProblem(json);
  if (problem !== null) throw new InvalidStoredDocumentError(`${where}: ${problem}`);
  return copyRegistration(json as NodeRegistration);
}

/** Registrations in node-id order (the order every backend reports them in). */
export function sortedRegistrations(registrations: Iterable<NodeRegistration>): NodeRegistration[] {
  return [...registrations].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

/** Whether two sorted registration lists say the same thing (watchOnline reports only changes). */
export function sameRegistrations(a: readonly NodeRegistration[], b: readonly NodeRegistration[]): boolean {
  return a.length === b.length && JSON.stringify(a) === JSON.stringify(b);
}
