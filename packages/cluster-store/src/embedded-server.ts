/**
 * The embedded ClusterMap store: an HTTP server (express) that `ballast dev` hosts for local
 * clusters. One process is the only writer, so compare-and-swap is linearizable trivially: CAS
 * requests run one at a time, and a successful one is persisted (temp file, fsync, rename, fsync
 * of the directory) before it is answered or shown to watchers. The map is reloaded at start.
 * Registrations live in memory only: nodes renew them every TTL / 3, so after a restart of the
 * store they are back within one renewal interval.
 *
 * Endpoints (docs/cluster-store.md):
 *   GET    /v1/store/map                         200 map | 404
 *   PUT    /v1/store/map {expectedVersion, map}  200 {ok, version} | 409 {current}
 *   GET    /v1/store/map/watch?after=N           200 {maps: [versions > N, oldest first]} | 204 after LONG_POLL_MS
 *   PUT    /v1/store/nodes/:id {registration, ttlMs}   200 (heartbeat: register or renew)
 *   DELETE /v1/store/nodes/:id[?incarnation=I]   204
 *   GET    /v1/store/nodes                       200 {epoch, changeCounter, nodes}
 *   GET    /v1/store/nodes/watch?after=C&epoch=E 200 {epoch, changeCounter, nodes} | 204 after LONG_POLL_MS
 * With a token, every request needs `Authorization: Bearer <token>` (401 otherwise).
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { isValidNodeId, parseMap } from '@ballast/cluster';
import express, { type NextFunction, type Request, type Response } from 'express';
import { casDocument, registrationArgument, storedMap } from './documents.js';
import { InvalidStoreArgumentError, InvalidStoredDocumentError, StoreError, asError } from './errors.js';
import { MapHistory, PresenceTable, type StoredVersion } from './embedded-state.js';
import { LONG_POLL_MS, REQUEST_BODY_BYTES_MAX, WATCH_BATCH_MAPS_MAX, WATCHERS_MAX } from './limits.js';

export interface EmbeddedStoreOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port; 0 (the default) lets the OS choose. */
  port?: number;
  /** Where the map is persisted. Without it the map lives in memory only (tests). */
  dataFile?: string;
  /** When set, every request needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Monotonic clock in ms for registration TTLs (default performance.now()). */
  nowMs?: () => number;
  /** How long a watch request waits before answering 204 (default LONG_POLL_MS). */
  longPollMs?: number;
}

export interface EmbeddedStoreServer {
  /** Base URL to give openStore, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  readonly port: number;
  /** Answers pending watches with 204, stops listening and closes every connection. */
  close(): Promise<void>;
}

/** How often expired registrations are looked for (they are also dropped before every read). */
const EXPIRY_SWEEP_MS = 100;
const DATA_FILE_FORMAT = 'ballast-embedded-store';

interface DataFile {
  format: typeof DATA_FILE_FORMAT;
  formatVersion: 1;
  map: unknown;
}

async function loadDataFile(dataFile: string): Promise<StoredVersion | null> {
  let text: string;
  try {
    text = await readFile(dataFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let json: Partial<DataFile>;
  try {
    json = JSON.parse(text) as Partial<DataFile>;
  } catch (error) {
    throw new InvalidStoredDocumentError(`${dataFile} is not JSON`, { cause: error });
  }
  if (json.format !== DATA_FILE_FORMAT || json.formatVersion !== 1) {
    throw new InvalidStoredDocumentError(`${dataFile} is not a ${DATA_FILE_FORMAT} file of format version 1`);
  }
  const map = storedMap(json.map, dataFile);
  return { map, document: JSON.stringify(map) };
}

/** Replaces `dataFile` atomically and durably: a crash leaves the old or the new map, never a mix. */
async function persistAtomically(dataFile: string, mapDocument: string): Promise<void> {
  const temporary = `${dataFile}.tmp`;
  const file = await open(temporary, 'w', 0o600);
  try {
    await file.writeFile(`{"format":"${DATA_FILE_FORMAT}","formatVersion":1,"map":${mapDocument}}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, dataFile);
  // The rename is durable only once the directory entry is.
  const directory = await open(path.dirname(dataFile), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

function sameToken(given: string, expected: string): boolean {
  // Hash both so the comparison takes the same time whatever the lengths.
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function sendError(response: Response, status: number, code: string, message: string): void {
  response.status(status).json({ error: { code, message } });
}

function statusOf(error: StoreError): number {
  switch (error.code) {
    case 'INVALID_STORE_ARGUMENT':
      return 400;
    case 'STORE_UNAUTHORIZED':
      return 401;
    case 'STORE_LIMIT':
      return 503;
    default:
      return 500;
  }
}

/** A non-negative integer query parameter, or null when absent or malformed. */
function counterParameter(value: unknown): number | null {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) return null;
  return Number(value);
}

export async function startEmbeddedStore(options: EmbeddedStoreOptions = {}): Promise<EmbeddedStoreServer> {
  const host = options.host ?? '127.0.0.1';
  const nowMs = options.nowMs ?? (() => performance.now());
  const longPollMs = options.longPollMs ?? LONG_POLL_MS;
  const dataFile = options.dataFile === undefined ? undefined : path.resolve(options.dataFile);
  if (dataFile !== undefined) await mkdir(path.dirname(dataFile), { recursive: true });

  const history = new MapHistory(dataFile === undefined ? null : await loadDataFile(dataFile));
  const presence = new PresenceTable();
  /** Changes with every start: a node watcher from before a restart is answered at once. */
  const epoch = randomUUID();
  /** CAS requests run one after another (the compare and the write form one step). */
  let casQueue: Promise<void> = Promise.resolve();
  /** Pending long-polls: each wakes up on a change and answers if it has something to say. */
  const mapWaiters = new Set<() => void>();
  const nodeWaiters = new Set<() => void>();
  /** Ends every pending long-poll with 204 (at close). */
  const pendingPolls = new Set<() => void>();

  const expire = (): void => {
    if (presence.expire(nowMs())) for (const wake of [...nodeWaiters]) wake();
  };
  const nodesBody = (): object => ({ epoch, changeCounter: presence.changeCounter, nodes: presence.nodes() });
  const sendMaps = (response: Response, versions: StoredVersion[]): void => {
    response.type('application/json').send(`{"maps":[${versions.map((stored) => stored.document).join(',')}]}`);
  };

  /**
   * Answers now if `ready()` has something, else waits (bounded: WATCHERS_MAX pending polls) until
   * a wake-up finds something, the poll times out (204) or the client goes away.
   */
  const longPoll = <T>(
    response: Response,
    waiters: Set<() => void>,
    ready: () => T | null,
    send: (value: T) => void,
  ): void => {
    const initial = ready();
    if (initial !== null) {
      send(initial);
      return;
    }
    if (pendingPolls.size >= WATCHERS_MAX) {
      sendError(response, 503, 'STORE_LIMIT', `at most ${WATCHERS_MAX} watch requests may wait at once`);
      return;
    }
    let finished = false;
    const finish = (answer: () => void): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      waiters.delete(wake);
      pendingPolls.delete(timeOut);
      response.off('close', gone);
      answer();
    };
    const wake = (): void => {
      const value = ready();
      if (value !== null) finish(() => send(value));
    };
    const timeOut = (): void => finish(() => response.status(204).end());
    const gone = (): void => finish(() => undefined);
    const timer = setTimeout(timeOut, longPollMs);
    waiters.add(wake);
    pendingPolls.add(timeOut);
    response.on('close', gone);
  };

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  if (options.token !== undefined) {
    const token = options.token;
    app.use((request, response, next) => {
      const header = request.get('authorization') ?? '';
      if (header.startsWith('Bearer ') && sameToken(header.slice('Bearer '.length), token)) {
        next();
        return;
      }
      response.set('WWW-Authenticate', 'Bearer');
      sendError(response, 401, 'STORE_UNAUTHORIZED', 'a valid bearer token is required');
    });
  }
  app.use(express.json({ limit: REQUEST_BODY_BYTES_MAX }));

  app.get('/v1/store/map', (_request, response) => {
    const current = history.current;
    if (current === null) sendError(response, 404, 'NO_MAP', 'no ClusterMap is stored yet');
    else response.type('application/json').send(current.document);
  });

  app.put('/v1/store/map', (request, response, next) => {
    const body = (request.body ?? {}) as { expectedVersion?: unknown; map?: unknown };
    const expectedVersion = body.expectedVersion;
    if (typeof expectedVersion !== 'number') {
      throw new InvalidStoreArgumentError('the body must be {"expectedVersion": number, "map": ClusterMap}');
    }
    let map;
    try {
      map = parseMap(body.map);
    } catch (error) {
      throw new InvalidStoreArgumentError(asError(error).message, { cause: error });
    }
    const document = casDocument(expectedVersion, map);
    const run = casQueue.then(async () => {
      const current = history.current;
      if (history.currentVersion !== expectedVersion) {
        response.status(409).type('application/json').send(`{"current":${current === null ? 'null' : current.document}}`);
        return;
      }
      if (dataFile !== undefined) await persistAtomically(dataFile, document);
      history.append({ map, document });
      response.json({ ok: true, version: map.version });
      for (const wake of [...mapWaiters]) wake();
    });
    casQueue = run.catch(next);
  });

  app.get('/v1/store/map/watch', (request, response) => {
    const after = counterParameter(request.query['after']);
    if (after === null) throw new InvalidStoreArgumentError('after must be a non-negative integer (a map version)');
    longPoll(
      response,
      mapWaiters,
      () => {
        const versions = history.after(after, WATCH_BATCH_MAPS_MAX);
        return versions.length > 0 ? versions : null;
      },
      (versions) => sendMaps(response, versions),
    );
  });

  const nodeIdOf = (request: Request): string => {
    const nodeId = request.params['id'];
    if (!isValidNodeId(nodeId)) throw new InvalidStoreArgumentError(`${JSON.stringify(nodeId)} is not a valid node id`);
    return nodeId;
  };

  app.put('/v1/store/nodes/:id', (request, response) => {
    const nodeId = nodeIdOf(request);
    const body = (request.body ?? {}) as { registration?: unknown; ttlMs?: unknown };
    const registration = registrationArgument(body.registration as never, body.ttlMs as number);
    if (registration.nodeId !== nodeId) {
      throw new InvalidStoreArgumentError(`the registration is for node ${registration.nodeId}, the path names ${nodeId}`);
    }
    expire();
    const before = presence.changeCounter;
    presence.heartbeat(registration, body.ttlMs as number, nowMs());
    response.json({ changeCounter: presence.changeCounter });
    if (presence.changeCounter !== before) for (const wake of [...nodeWaiters]) wake();
  });

  app.delete('/v1/store/nodes/:id', (request, response) => {
    const nodeId = nodeIdOf(request);
    const incarnation = request.query['incarnation'];
    if (incarnation !== undefined && typeof incarnation !== 'string') {
      throw new InvalidStoreArgumentError('incarnation must be given at most once');
    }
    const removed = presence.remove(nodeId, incarnation);
    response.status(204).end();
    if (removed) for (const wake of [...nodeWaiters]) wake();
  });

  app.get('/v1/store/nodes', (_request, response) => {
    expire();
    response.json(nodesBody());
  });

  app.get('/v1/store/nodes/watch', (request, response) => {
    const after = counterParameter(request.query['after']);
    if (after === null) throw new InvalidStoreArgumentError('after must be a non-negative integer (a change counter)');
    const clientEpoch = request.query['epoch'];
    expire();
    longPoll(
      response,
      nodeWaiters,
      () => (clientEpoch !== epoch || presence.changeCounter > after ? nodesBody() : null),
      (body) => response.json(body),
    );
  });

  app.use((_request, response) => {
    sendError(response, 404, 'NOT_FOUND', 'no such endpoint');
  });
  app.use((error: unknown, _request: Request, response: Response, _next: NextFunction) => {
    if (response.headersSent) return;
    if (error instanceof StoreError) {
      sendError(response, statusOf(error), error.code, error.message);
      return;
    }
    // body-parser's errors carry the status to answer (413 too large, 400 malformed JSON).
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      sendError(response, status, status === 413 ? 'STORE_LIMIT' : 'BAD_REQUEST', asError(error).message);
      return;
    }
    sendError(response, 500, 'INTERNAL', `the embedded store failed: ${asError(error).message}`);
  });

  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(options.port ?? 0, host, (error?: Error) => {
      if (error) reject(error);
      else resolve(listening);
    });
  });
  // Long-polls hold a request for longPollMs; keep Node's per-request timers out of their way.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  const sweeper = setInterval(expire, EXPIRY_SWEEP_MS);
  sweeper.unref();

  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        for (const timeOut of [...pendingPolls]) timeOut();
        await casQueue;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
