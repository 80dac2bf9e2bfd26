// Proves the ClusterMapStore contract (test/support/contract.ts) for the etcd backend against a
// real etcd (Debian etcd-server) on loopback ports: each test uses its own key prefix; "restart"
// kills etcd (-9) and starts it again on the same ports and data directory.
// Then what only etcd shows:
// - CAS compares mod revisions: after the map key was deleted and rewritten behind a client's back
//   (its remembered mod revision is stale), the client still swaps from the stored version;
// - a value under the map key that is not a valid map is reported (INVALID_STORED_DOCUMENT) by read()
//   and by a watch, which then carries on with the next valid version;
// - fault: the client's connection is cut (a TCP proxy) while another client writes versions.
//   Invariant: when it reconnects, the watch replays every missed version in order; if etcd has
//   compacted them, it re-reads and delivers the newest, never an older one.
import { startEtcd, startTcpProxy, type EtcdProcess } from '@ballast/testkit';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type ClusterMapStore } from '../src/index.js';
import { casEventually, describeStoreContract, type Backend } from './support/contract.js';
import { firstMap, nextMap, waitFor } from './support/maps.js';

let etcd: EtcdProcess;
let namespaces = 0;

beforeAll(async () => {
  etcd = await startEtcd();
}, 60_000);

afterAll(async () => {
  await etcd?.stop();
}, 60_000);

describeStoreContract('etcd', {
  // Whole seconds; etcd's minimum lease TTL is about 2 s.
  ttlMs: 3_000,
  async fresh(): Promise<Backend> {
    const url = `etcd://${etcd.endpoint}/ballast-test/n${++namespaces}`;
    return {
      url,
      open: () => openStore(url),
      restart: (downtimeMs = 0) => etcd.restart(downtimeMs),
      async dispose() {},
    };
  },
});

describe('etcd backend', { timeout: 90_000 }, () => {
  const SETTLE_MS = 30_000;

  const withClients = async (
    test: (context: { prefix: string; raw: Etcd3; open: (endpoint?: string) => ClusterMapStore }) => Promise<void>,
  ): Promise<void> => {
    const prefix = `/ballast-test/e${++namespaces}`;
    const raw = new Etcd3({ hosts: etcd.clientUrl });
    const stores: ClusterMapStore[] = [];
    try {
      await test({
        prefix,
        raw,
        open: (endpoint = etcd.endpoint) => {
          const store = openStore(`etcd://${endpoint}${prefix}`);
          stores.push(store);
          return store;
        },
      });
    } finally {
      for (const store of stores) await store.close();
      raw.close();
    }
  };

  it('swaps from the stored version even when its remembered mod revision is stale', () =>
    withClients(async ({ prefix, raw, open }) => {
      const store = open();
      const v1 = firstMap();
      expect(await store.compareAndSwap(0, v1)).toEqual({ ok: true });
      // Behind the client's back: delete the key and write version 1 again (a new mod revision).
      await raw.delete().key(`${prefix}/map`);
      await raw.put(`${prefix}/map`).value(JSON.stringify(v1));
      const v2 = nextMap(v1);
      expect(await store.compareAndSwap(1, v2)).toEqual({ ok: true });
      expect(await open().read()).toEqual(v2);
      // The compare is on the revision, so a rival version 2 written since makes version 2 → 3 of
      // the old one compare against the rival's revision and version: it succeeds from the rival.
      const rival = nextMap(v1, 'rival');
      await raw.put(`${prefix}/map`).value(JSON.stringify(rival));
      const v3 = nextMap(rival);
      expect(await store.compareAndSwap(2, v3)).toEqual({ ok: true });
      expect(await open().read()).toEqual(v3);
    }));

  it('reports a stored value that is not a valid map, and the watch carries on', () =>
    withClients(async ({ prefix, raw, open }) => {
      const store = open();
      const v1 = firstMap();
      await store.compareAndSwap(0, v1);
      const seen: number[] = [];
      const errors: string[] = [];
      const stop = open().watch(
        (map) => seen.push(map.version),
        (error) => errors.push((error as Error & { code?: string }).code ?? error.message),
      );
      try {
        expect(await waitFor(() => seen.length === 1, SETTLE_MS)).toBe(true);
        await raw.put(`${prefix}/map`).value('{"formatVersion":1,"version":"two"}');
        expect(await waitFor(() => errors.includes('INVALID_STORED_DOCUMENT'), SETTLE_MS)).toBe(true);
        await expect(store.read()).rejects.toMatchObject({ code: 'INVALID_STORED_DOCUMENT' });
        await raw.put(`${prefix}/map`).value(JSON.stringify(nextMap(v1)));
        expect(await waitFor(() => seen.length === 2, SETTLE_MS)).toBe(true);
        expect(seen).toEqual([1, 2]);
      } finally {
        stop();
      }
    }));

  it('after a cut connection, the watch replays every version written meanwhile, in order', async () => {
    const proxy = await startTcpProxy(etcd.clientPort);
    try {
      await withClients(async ({ open }) => {
        const writer = open();
        let map = firstMap();
        await writer.compareAndSwap(0, map);
        const seen: number[] = [];
        const errors: Error[] = [];
        const stop = open(`127.0.0.1:${proxy.port}`).watch(
          (delivered) => seen.push(delivered.version),
          (error) => errors.push(error),
        );
        try {
          expect(await waitFor(() => seen.length === 1, SETTLE_MS)).toBe(true);
          // Fault: the watcher's connection is cut while the writer (direct) writes versions 2..6.
          proxy.cut();
          expect(await waitFor(() => errors.length > 0, SETTLE_MS)).toBe(true);
          for (let version = 2; version <= 6; version++) {
            const next = nextMap(map);
            await casEventually(writer, map.version, next);
            map = next;
          }
          expect(seen).toEqual([1]);
          proxy.restore();
          expect(await waitFor(() => seen.at(-1) === 6, SETTLE_MS, 100)).toBe(true);
          expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
        } finally {
          stop();
        }
      });
    } finally {
      await proxy.close();
    }
  });

  it('after a cut connection across a compaction, the watch re-reads and delivers the newest version', async () => {
    const proxy = await startTcpProxy(etcd.clientPort);
    try {
      await withClients(async ({ raw, open }) => {
        const writer = open();
        let map = firstMap();
        await writer.compareAndSwap(0, map);
        const seen: number[] = [];
        const errors: Error[] = [];
        const stop = open(`127.0.0.1:${proxy.port}`).watch(
          (delivered) => seen.push(delivered.version),
          (error) => errors.push(error),
        );
        try {
          expect(await waitFor(() => seen.length === 1, SETTLE_MS)).toBe(true);
          proxy.cut();
          expect(await waitFor(() => errors.length > 0, SETTLE_MS)).toBe(true);
          for (let version = 2; version <= 6; version++) {
            const next = nextMap(map);
            await casEventually(writer, map.version, next);
            map = next;
          }
          // Compact the whole history up to now: the watcher cannot replay versions 2..6.
          const { header } = await raw.get('/ballast-test/anything').exec();
          await raw.kv.compact({ revision: header.revision, physical: true });
          proxy.restore();
          expect(await waitFor(() => seen.at(-1) === 6, SETTLE_MS, 100)).toBe(true);
          // The versions written while cut were compacted away: the re-read delivers the newest.
          expect(seen).toEqual([1, 6]);
        } finally {
          stop();
        }
      });
    } finally {
      await proxy.close();
    }
  });
});
