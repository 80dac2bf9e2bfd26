// Proves the embedded store's HTTP edge beyond the shared contract (docs/cluster-store.md):
// - with a token, every endpoint answers 401 without it or with a wrong one;
// - bounds: a body over REQUEST_BODY_BYTES_MAX gets 413, a long-poll beyond WATCHERS_MAX gets 503;
// - a successful CAS is in the data file (whole, no temporary file left) when it is answered, and a
//   new server loads it; a corrupt data file stops the server from starting;
// - long-polls: 204 when nothing changes within the wait, an answer as soon as a CAS lands, every
//   version after `after` in order; a node watcher from before a restart (another epoch) is
//   answered at once;
// - registrations expire by TTL on the injected clock; a DELETE for another incarnation keeps the
//   registration; malformed requests get 400, unknown paths 404.
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporaryDirectory } from '@ballast/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  REQUEST_BODY_BYTES_MAX,
  WATCHERS_MAX,
  openStore,
  startEmbeddedStore,
  type EmbeddedStoreOptions,
  type EmbeddedStoreServer,
} from '../src/index.js';
import { firstMap, nextMap, registration, waitFor } from './support/maps.js';

const TOKEN = 'server-test-token';

describe('embedded store server', { timeout: 60_000 }, () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const start = async (options: EmbeddedStoreOptions = {}): Promise<EmbeddedStoreServer> => {
    const server = await startEmbeddedStore(options);
    cleanups.push(() => server.close());
    return server;
  };
  const directory = (): string => {
    const created = temporaryDirectory('ballast-embedded-server-');
    cleanups.push(() => rmSync(created, { recursive: true, force: true }));
    return created;
  };
  const call = (server: EmbeddedStoreServer, method: string, requestPath: string, body?: unknown, token: string | null = TOKEN) =>
    fetch(`${server.url}${requestPath}`, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('requires the bearer token on every endpoint when one is configured', async () => {
    const server = await start({ token: TOKEN });
    const requests: [string, string, unknown?][] = [
      ['GET', '/v1/store/map'],
      ['PUT', '/v1/store/map', { expectedVersion: 0, map: firstMap() }],
      ['GET', '/v1/store/map/watch?after=0'],
      ['PUT', '/v1/store/nodes/node-a', { registration: registration('node-a'), ttlMs: 5_000 }],
      ['DELETE', '/v1/store/nodes/node-a'],
      ['GET', '/v1/store/nodes'],
      ['GET', '/v1/store/nodes/watch?after=0&epoch=x'],
    ];
    for (const [method, requestPath, body] of requests) {
      for (const token of [null, 'wrong-token']) {
        const response = await call(server, method, requestPath, body, token);
        expect(response.status, `${method} ${requestPath} with token ${String(token)}`).toBe(401);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe('STORE_UNAUTHORIZED');
      }
    }
    expect((await call(server, 'GET', '/v1/store/map')).status).toBe(404);
    // Nothing was stored by the refused requests.
    const withToken = openStore(server.url, { token: TOKEN });
    cleanups.push(() => withToken.close());
    expect(await withToken.read()).toBeNull();
    expect(await withToken.onlineNodes()).toEqual([]);
    const withoutToken = openStore(server.url);
    cleanups.push(() => withoutToken.close());
    await expect(withoutToken.read()).rejects.toMatchObject({ code: 'STORE_UNAUTHORIZED' });
  });

  it('refuses a body over the size bound with 413 and keeps the stored map', async () => {
    const server = await start();
    const response = await call(server, 'PUT', '/v1/store/map', `{"expectedVersion":0,"map":"${'x'.repeat(REQUEST_BODY_BYTES_MAX)}"}`);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('STORE_LIMIT');
    expect((await call(server, 'GET', '/v1/store/map')).status).toBe(404);
  });

  it('answers 400 to malformed requests and 404 to unknown paths', async () => {
    const server = await start();
    const v1 = firstMap();
    const bad: [string, string, unknown][] = [
      ['PUT', '/v1/store/map', '{not json'],
      ['PUT', '/v1/store/map', { map: v1 }],
      ['PUT', '/v1/store/map', { expectedVersion: 0, map: { ...v1, partitionCount: 3 } }],
      ['PUT', '/v1/store/map', { expectedVersion: 0, map: { ...v1, version: 2 } }],
      ['GET', '/v1/store/map/watch?after=-1', undefined],
      ['PUT', '/v1/store/nodes/node-a', { registration: registration('node-b'), ttlMs: 5_000 }],
      ['PUT', '/v1/store/nodes/node-a', { registration: registration('node-a'), ttlMs: 1 }],
      ['PUT', '/v1/store/nodes/node%20a', { registration: registration('node a'), ttlMs: 5_000 }],
      ['GET', '/v1/store/nodes/watch', undefined],
    ];
    for (const [method, requestPath, body] of bad) {
      const response = await call(server, method, requestPath, body);
      expect(response.status, `${method} ${requestPath} ${JSON.stringify(body)?.slice(0, 60)}`).toBe(400);
    }
    expect((await call(server, 'GET', '/v1/store/nothing')).status).toBe(404);
    expect((await call(server, 'GET', '/v1/store/map')).status).toBe(404);
    expect(((await (await call(server, 'GET', '/v1/store/nodes')).json()) as { nodes: unknown[] }).nodes).toEqual([]);
  });

  it('persists a CAS before answering it, atomically, and a new server loads it', async () => {
    const dataFile = path.join(directory(), 'nested', 'map.json');
    const server = await start({ dataFile });
    const store = openStore(server.url);
    cleanups.push(() => store.close());
    const v1 = firstMap();
    const v2 = nextMap(v1);
    expect(await store.compareAndSwap(0, v1)).toEqual({ ok: true });
    expect(await store.compareAndSwap(1, v2)).toEqual({ ok: true });
    // Answered, so on disk: the whole map, and no temporary file left behind.
    expect((JSON.parse(readFileSync(dataFile, 'utf8')) as { map: unknown }).map).toEqual(v2);
    expect(readdirSync(path.dirname(dataFile))).toEqual(['map.json']);
    await server.close();

    const again = await start({ dataFile });
    const reader = openStore(again.url);
    cleanups.push(() => reader.close());
    expect(await reader.read()).toEqual(v2);
    expect(await reader.compareAndSwap(1, nextMap(v1, 'late'))).toEqual({ ok: false, current: v2 });
  });

  it('refuses to start from a corrupt data file', async () => {
    const dataFile = path.join(directory(), 'map.json');
    writeFileSync(dataFile, '{"format":"ballast-embedded-store","formatVersion":1,"map":{"version":"x"}}');
    await expect(startEmbeddedStore({ dataFile })).rejects.toMatchObject({ code: 'INVALID_STORED_DOCUMENT' });
    writeFileSync(dataFile, 'not json');
    await expect(startEmbeddedStore({ dataFile })).rejects.toMatchObject({ code: 'INVALID_STORED_DOCUMENT' });
    expect(existsSync(dataFile)).toBe(true);
  });

  it('long-polls the map: 204 without a change, every newer version in order, woken by a CAS', async () => {
    const server = await start({ longPollMs: 300 });
    const idle = await call(server, 'GET', '/v1/store/map/watch?after=0');
    expect(idle.status).toBe(204);

    const store = openStore(server.url);
    cleanups.push(() => store.close());
    let map = firstMap();
    await store.compareAndSwap(0, map);
    for (let version = 2; version <= 4; version++) {
      const next = nextMap(map);
      await store.compareAndSwap(map.version, next);
      map = next;
    }
    const behind = await call(server, 'GET', '/v1/store/map/watch?after=1');
    expect(((await behind.json()) as { maps: { version: number }[] }).maps.map((stored) => stored.version)).toEqual([2, 3, 4]);

    const slow = await start({ longPollMs: 30_000 });
    const pending = call(slow, 'GET', '/v1/store/map/watch?after=0');
    const writer = openStore(slow.url);
    cleanups.push(() => writer.close());
    await writer.compareAndSwap(0, firstMap());
    const woken = await pending;
    expect(woken.status).toBe(200);
    expect(((await woken.json()) as { maps: unknown[] }).maps).toEqual([firstMap()]);
  });

  it(`answers 503 to a long-poll beyond ${WATCHERS_MAX} waiting at once`, async () => {
    const server = await start({ longPollMs: 60_000 });
    const overflow = 8;
    const statuses: number[] = [];
    const codes: string[] = [];
    const polls = Array.from({ length: WATCHERS_MAX + overflow }, async () => {
      const response = await call(server, 'GET', '/v1/store/map/watch?after=0');
      statuses.push(response.status);
      if (response.status === 503) codes.push(((await response.json()) as { error: { code: string } }).error.code);
    });
    // The first WATCHERS_MAX to arrive wait (no map is stored); the rest are refused at once.
    expect(await waitFor(() => statuses.length === overflow, 30_000)).toBe(true);
    expect(new Set(statuses)).toEqual(new Set([503]));
    expect(new Set(codes)).toEqual(new Set(['STORE_LIMIT']));
    // Closing the server answers every waiting poll with 204.
    await server.close();
    await Promise.all(polls);
    expect(statuses.filter((status) => status === 204)).toHaveLength(WATCHERS_MAX);
  });

  it('expires registrations by TTL on its clock; a DELETE for another incarnation keeps them', async () => {
    let nowMs = 1_000_000;
    const server = await start({ nowMs: () => nowMs, longPollMs: 30_000 });
    const nodes = async (): Promise<{ epoch: string; changeCounter: number; nodes: { nodeId: string }[] }> =>
      (await call(server, 'GET', '/v1/store/nodes')).json() as never;
    expect((await call(server, 'PUT', '/v1/store/nodes/node-a', { registration: registration('node-a'), ttlMs: 5_000 })).status).toBe(200);
    expect((await call(server, 'PUT', '/v1/store/nodes/node-b', { registration: registration('node-b'), ttlMs: 10_000 })).status).toBe(200);
    const before = await nodes();
    expect(before.nodes.map((node) => node.nodeId)).toEqual(['node-a', 'node-b']);

    // A watcher waiting on the current change counter is answered when node-a expires.
    const pending = call(server, 'GET', `/v1/store/nodes/watch?after=${before.changeCounter}&epoch=${before.epoch}`);
    nowMs += 4_999;
    expect((await nodes()).nodes.map((node) => node.nodeId)).toEqual(['node-a', 'node-b']);
    nowMs += 1;
    const woken = (await (await pending).json()) as { nodes: { nodeId: string }[]; changeCounter: number };
    expect(woken.nodes.map((node) => node.nodeId)).toEqual(['node-b']);
    expect(woken.changeCounter).toBeGreaterThan(before.changeCounter);

    // A renewal extends the TTL; a DELETE naming another incarnation leaves the registration.
    nowMs += 4_000;
    await call(server, 'PUT', '/v1/store/nodes/node-b', { registration: registration('node-b'), ttlMs: 10_000 });
    nowMs += 9_000;
    expect((await call(server, 'DELETE', '/v1/store/nodes/node-b?incarnation=someone-else')).status).toBe(204);
    expect((await nodes()).nodes.map((node) => node.nodeId)).toEqual(['node-b']);
    expect((await call(server, 'DELETE', `/v1/store/nodes/node-b?incarnation=${registration('node-b').incarnation}`)).status).toBe(204);
    expect((await nodes()).nodes).toEqual([]);

    // A watcher that names another epoch (it saw a previous run of the store) is answered at once.
    const otherEpoch = await call(server, 'GET', '/v1/store/nodes/watch?after=999&epoch=previous-run');
    expect(otherEpoch.status).toBe(200);
  });
});
