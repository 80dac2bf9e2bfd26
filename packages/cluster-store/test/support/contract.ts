/**
 * The ClusterMapStore contract, run against every backend (etcd-store.test.ts,
 * embedded-store.test.ts). Each test gets a fresh, empty store namespace; the assertions are on
 * what clients read back.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterMap } from '@ballast/cluster';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError, type ClusterMapStore, type NodeRegistration } from '../../src/index.js';
import { firstMap, nextMap, registration, sleep, waitFor } from './maps.js';

/** One isolated store namespace (an etcd key prefix, or an embedded server). */
export interface Backend {
  /** URL and token a separate process passes to openStore. */
  readonly url: string;
  readonly token?: string;
  /** A new client. */
  open(): ClusterMapStore;
  /** Restarts the server behind the URL, keeping its data (clients keep their URL); down for downtimeMs. */
  restart(downtimeMs?: number): Promise<void>;
  dispose(): Promise<void>;
}

export interface StoreHarness {
  fresh(): Promise<Backend>;
  /** A short presence TTL the backend honours (etcd: whole seconds, at least ~2 s). */
  ttlMs: number;
}

const TEST_TIMEOUT_MS = 90_000;
/** Bounds for waiting on a background effect: generous for a slow shared 2-core VM. */
const SETTLE_MS = 30_000;
const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(here, 'register-child.mjs');
const PACKAGE_DIST = path.resolve(here, '../../dist/index.js');

/**
 * CAS that tolerates the backend being briefly unavailable (right after a restart): retries, and
 * treats a conflict whose current map is exactly `next` as an earlier attempt that landed.
 */
export async function casEventually(store: ClusterMapStore, expected: number, next: ClusterMap): Promise<void> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    try {
      const result = await store.compareAndSwap(expected, next);
      if (result.ok) return;
      if (JSON.stringify(result.current) === JSON.stringify(next)) return;
      throw new Error(`unexpected conflict: stored version ${String(result.current?.version)}`);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError) || Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

async function onlineIds(store: ClusterMapStore): Promise<string[]> {
  return (await store.onlineNodes()).map((node) => node.nodeId);
}

export function describeStoreContract(name: string, harness: StoreHarness): void {
  describe(`ClusterMapStore contract: ${name}`, { timeout: TEST_TIMEOUT_MS }, () => {
    const cleanups: (() => Promise<void>)[] = [];
    const fresh = async (): Promise<Backend> => {
      const backend = await harness.fresh();
      cleanups.push(() => backend.dispose());
      return backend;
    };
    const open = (backend: Backend): ClusterMapStore => {
      const store = backend.open();
      cleanups.push(() => store.close());
      return store;
    };
    afterEach(async () => {
      // Clients first, then servers (LIFO).
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    it('reads null and no online nodes from an empty store', async () => {
      const store = open(await fresh());
      expect(store.kind).toBe(name);
      expect(await store.read()).toBeNull();
      expect(await store.onlineNodes()).toEqual([]);
    });

    it('creates the first map from version 0; a second create conflicts and returns the stored map', async () => {
      const backend = await fresh();
      const store = open(backend);
      const first = firstMap('cluster-a');
      expect(await store.compareAndSwap(0, first)).toEqual({ ok: true });
      expect(await store.read()).toEqual(first);
      expect(await open(backend).read()).toEqual(first);
      const rival = firstMap('cluster-b');
      expect(await open(backend).compareAndSwap(0, rival)).toEqual({ ok: false, current: first });
      expect(await store.read()).toEqual(first);
    });

    it('swaps N to N + 1; a stale or future expected version conflicts with the current map', async () => {
      const store = open(await fresh());
      const v1 = firstMap();
      const v2 = nextMap(v1);
      expect(await store.compareAndSwap(0, v1)).toEqual({ ok: true });
      expect(await store.compareAndSwap(1, v2)).toEqual({ ok: true });
      expect(await store.read()).toEqual(v2);
      expect(await store.compareAndSwap(1, nextMap(v1, 'late-node'))).toEqual({ ok: false, current: v2 });
      expect(await store.compareAndSwap(7, { ...nextMap(v2), version: 8 })).toEqual({ ok: false, current: v2 });
      // A step other than +1 is refused before it reaches the store.
      await expect(store.compareAndSwap(2, { ...nextMap(v2), version: 5 })).rejects.toMatchObject({
        code: 'INVALID_STORE_ARGUMENT',
      });
      // So is an invalid map (a partition-less map cannot be ACTIVE).
      await expect(store.compareAndSwap(2, { ...nextMap(v2), state: 'ACTIVE' })).rejects.toMatchObject({
        code: 'INVALID_STORE_ARGUMENT',
      });
      expect(await store.read()).toEqual(v2);
    });

    it('20 clients swapping from the same version at once: exactly one wins, the others see its map', async () => {
      const backend = await fresh();
      const v1 = firstMap();
      expect(await open(backend).compareAndSwap(0, v1)).toEqual({ ok: true });
      const clients = Array.from({ length: 20 }, () => open(backend));
      // Each client has read version 1 (as a real node would before deciding its change).
      for (const client of clients) expect((await client.read())?.version).toBe(1);
      const proposals = clients.map((_, index) => nextMap(v1, `racer-${index}`));
      const results = await Promise.all(clients.map((client, index) => client.compareAndSwap(1, proposals[index]!)));
      const winners = results.flatMap((result, index) => (result.ok ? [index] : []));
      expect(winners).toHaveLength(1);
      const winner = proposals[winners[0]!]!;
      for (const result of results) if (!result.ok) expect(result.current).toEqual(winner);
      expect(await open(backend).read()).toEqual(winner);
    });

    it('a watch delivers the current map, then every version in order, also across a restart of the server', async () => {
      const backend = await fresh();
      const writer = open(backend);
      let map = firstMap();
      await casEventually(writer, 0, map);
      const seen: number[] = [];
      const errors: Error[] = [];
      const stop = open(backend).watch(
        (delivered) => seen.push(delivered.version),
        (error) => errors.push(error),
      );
      cleanups.push(async () => stop());
      expect(await waitFor(() => seen.length === 1, SETTLE_MS)).toBe(true);
      // Writes back to back: the watcher must not skip any of them.
      for (let version = 2; version <= 6; version++) {
        const next = nextMap(map);
        await casEventually(writer, map.version, next);
        map = next;
      }
      expect(await waitFor(() => seen.at(-1) === 6, SETTLE_MS)).toBe(true);

      // Fault: the server restarts. Invariant: the watch resumes, no version skipped or repeated.
      await backend.restart();
      for (let version = 7; version <= 11; version++) {
        const next = nextMap(map);
        await casEventually(writer, map.version, next);
        map = next;
      }
      expect(await waitFor(() => seen.at(-1) === 11, SETTLE_MS)).toBe(true);
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      expect(await writer.read()).toEqual(map);

      // A watcher that starts now gets the current map first.
      const late: number[] = [];
      const stopLate = open(backend).watch((delivered) => late.push(delivered.version));
      cleanups.push(async () => stopLate());
      expect(await waitFor(() => late.length === 1, SETTLE_MS)).toBe(true);
      expect(late).toEqual([11]);
      stop();
      const next = nextMap(map);
      await casEventually(writer, map.version, next);
      expect(await waitFor(() => late.length === 2, SETTLE_MS)).toBe(true);
      expect(late).toEqual([11, 12]);
      // The stopped watcher heard nothing more.
      expect(seen.at(-1)).toBe(11);
    });

    it('presence: a registration is online at once and gone at once after close()', async () => {
      const backend = await fresh();
      const store = open(backend);
      const observer = open(backend);
      const handle = await store.register(registration('node-a', 1), harness.ttlMs);
      expect(await observer.onlineNodes()).toEqual([registration('node-a', 1)]);
      const second = await store.register(registration('node-b', 2), harness.ttlMs);
      expect(await onlineIds(observer)).toEqual(['node-a', 'node-b']);
      await handle.close();
      expect(await onlineIds(observer)).toEqual(['node-b']);
      await second.close();
      expect(await observer.onlineNodes()).toEqual([]);
      // A malformed registration or TTL is refused.
      await expect(store.register({ ...registration('node-c'), nodeId: 'bad id' }, harness.ttlMs)).rejects.toMatchObject({
        code: 'INVALID_STORE_ARGUMENT',
      });
      await expect(store.register(registration('node-c'), 10)).rejects.toMatchObject({ code: 'INVALID_STORE_ARGUMENT' });
    });

    it('presence: renewed while its process lives, gone after the TTL once the process is killed (-9)', async () => {
      expect(existsSync(PACKAGE_DIST), `run \`npx tsc -b\` first: the child process imports ${PACKAGE_DIST}`).toBe(true);
      const backend = await fresh();
      const observer = open(backend);
      const child = spawn(process.execPath, [CHILD, backend.url, backend.token ?? '-', 'node-child', String(harness.ttlMs)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      cleanups.push(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      expect(await waitFor(() => output.includes('registered') || child.exitCode !== null, SETTLE_MS), output).toBe(true);
      expect(output).toContain('registered');
      expect(await onlineIds(observer)).toEqual(['node-child']);

      // Several TTLs later the registration is still there: the child renews it.
      await sleep(harness.ttlMs * 3);
      expect(await onlineIds(observer)).toEqual(['node-child']);

      // Fault: kill -9 (no close()). Invariant: the registration expires by itself.
      child.kill('SIGKILL');
      await exited;
      expect(await waitFor(async () => (await onlineIds(observer)).length === 0, harness.ttlMs + SETTLE_MS, 200)).toBe(true);
    });

    it('presence: closing an older run of a node leaves the newer run registered', async () => {
      const backend = await fresh();
      const store = open(backend);
      const older = await store.register(registration('node-a', 1), harness.ttlMs);
      const newer = { ...registration('node-a', 1), incarnation: 'node-a-incarnation-2' };
      const newerHandle = await open(backend).register(newer, harness.ttlMs);
      await older.close();
      expect(await store.onlineNodes()).toEqual([newer]);
      await newerHandle.close();
      expect(await store.onlineNodes()).toEqual([]);
    });

    it('presence: a registration comes back after the server was down for longer than its TTL', async () => {
      const backend = await fresh();
      const store = open(backend);
      await store.register(registration('node-a', 1), harness.ttlMs);
      expect(await onlineIds(store)).toEqual(['node-a']);
      // Fault: the server is down for 2.5 TTLs (etcd: the client gives the lease up; embedded: the
      // registrations, held in memory, are gone). Invariant: the live process is online again.
      await backend.restart(harness.ttlMs * 2.5);
      const back = await waitFor(async () => {
        try {
          return JSON.stringify(await onlineIds(store)) === JSON.stringify(['node-a']);
        } catch (error) {
          if (error instanceof StoreUnavailableError) return false;
          throw error;
        }
      }, SETTLE_MS, 200);
      expect(back).toBe(true);
      // And it stays: renewal continues after the outage.
      await sleep(harness.ttlMs * 2);
      expect(await onlineIds(store)).toEqual(['node-a']);
    });

    it('watchOnline reports the online set at start and after every join and leave', async () => {
      const backend = await fresh();
      const store = open(backend);
      const early = await store.register(registration('node-a', 1), harness.ttlMs);
      const reports: string[][] = [];
      const stop = open(backend).watchOnline((nodes: NodeRegistration[]) => reports.push(nodes.map((node) => node.nodeId)));
      cleanups.push(async () => stop());
      const lastIs = (ids: string[]) => () => JSON.stringify(reports.at(-1)) === JSON.stringify(ids);
      expect(await waitFor(lastIs(['node-a']), SETTLE_MS)).toBe(true);
      const late = await store.register(registration('node-b', 2), harness.ttlMs);
      expect(await waitFor(lastIs(['node-a', 'node-b']), SETTLE_MS)).toBe(true);
      await early.close();
      expect(await waitFor(lastIs(['node-b']), SETTLE_MS)).toBe(true);
      await late.close();
      expect(await waitFor(lastIs([]), SETTLE_MS)).toBe(true);
      // One report per change, in order, nothing repeated.
      const expected = [['node-a'], ['node-a', 'node-b'], ['node-b'], []];
      expect(reports).toEqual(expected);
    });
  });
}
