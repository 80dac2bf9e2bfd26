// Proves the ClusterMapStore contract (test/support/contract.ts) for the kubernetes backend against
// the kube API emulator (packages/testkit; resourceVersion, 409 and watch semantics of the real API
// server): the map in a ConfigMap updated at its resourceVersion, presence in Leases. "Restart"
// restarts the emulator: connections and watches are cut, objects and history kept.
// Plus what only this backend has: the URL form, a 410 Gone on resume (history compacted) and a
// Lease left by a killed process expiring by its renewTime.
import { describe, expect, it } from 'vitest';
import { startKubeEmulator, type KubeEmulator } from '@ballast/testkit';
import { CoreV1Api } from '@kubernetes/client-node';
import { InvalidStoreUrlError, openStore, parseKubernetesUrl, type ClusterMapStore } from '../src/index.js';
import { casEventually, describeStoreContract, type Backend } from './support/contract.js';
import { firstMap, nextMap, registration, waitFor } from './support/maps.js';

async function freshEmulator(): Promise<{ kube: KubeEmulator; url: string }> {
  const kube = await startKubeEmulator();
  await kube.kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'data' } } });
  return { kube, url: `kubernetes://data/kv-map?server=${encodeURIComponent(kube.url)}` };
}

describeStoreContract('kubernetes', {
  ttlMs: 3_000,
  async fresh(): Promise<Backend> {
    const { kube, url } = await freshEmulator();
    return {
      url,
      open: () => openStore(url),
      restart: (downtimeMs = 0) => kube.restart(downtimeMs),
      dispose: () => kube.close(),
    };
  },
});

describe('kubernetes backend', { timeout: 60_000 }, () => {
  it('parses kubernetes://NAMESPACE/CONFIGMAP[?server=URL] and refuses other shapes', () => {
    expect(parseKubernetesUrl('kubernetes://data/kv-map')).toEqual({ namespace: 'data', name: 'kv-map' });
    expect(parseKubernetesUrl('kubernetes://data/kv-map?server=http%3A%2F%2F127.0.0.1%3A8001')).toEqual({ namespace: 'data', name: 'kv-map', server: 'http://127.0.0.1:8001' });
    for (const bad of ['kubernetes://data', 'kubernetes://Data/kv', 'kubernetes://data/a/b']) expect(() => parseKubernetesUrl(bad), bad).toThrow(InvalidStoreUrlError);
    expect(() => openStore('kubernetes://data/kv-map', { token: 'x' })).toThrow(/token is for the embedded store/);
  });

  it('fault: the watch history is compacted while the watch is cut (410 Gone on resume); invariant: the newest map is delivered, never an older one', async () => {
    const { kube, url } = await freshEmulator();
    const writer = openStore(url);
    const watcher: ClusterMapStore = openStore(url);
    try {
      let map = firstMap();
      await casEventually(writer, 0, map);
      const seen: number[] = [];
      const stop = watcher.watch((delivered) => seen.push(delivered.version));
      expect(await waitFor(() => seen.includes(1), 10_000)).toBe(true);
      kube.closeWatches();
      for (let version = 2; version <= 4; version++) {
        const next = nextMap(map);
        await casEventually(writer, map.version, next);
        map = next;
      }
      kube.compact();
      expect(await waitFor(() => seen.at(-1) === 4, 15_000)).toBe(true);
      expect([...seen].sort((a, b) => a - b)).toEqual(seen);
      expect(new Set(seen).size).toBe(seen.length);
      stop();
    } finally {
      await writer.close();
      await watcher.close();
      await kube.close();
    }
  });

  it('a compare-and-swap racing another writer gets 409 from the API server and returns the stored map; a 409 for a metadata-only change is retried', async () => {
    const { kube, url } = await freshEmulator();
    const a = openStore(url);
    const b = openStore(url);
    try {
      const first = firstMap();
      await casEventually(a, 0, first);
      // b read version 1; a writes version 2 in between (injected 409 on b's update would be the same).
      const fromA = nextMap(first, 'node-a');
      const fromB = nextMap(first, 'node-b');
      const [resultA, resultB] = await Promise.all([a.compareAndSwap(1, fromA), b.compareAndSwap(1, fromB)]);
      const winners = [resultA, resultB].filter((result) => result.ok).length;
      expect(winners).toBe(1);
      const loser = [resultA, resultB].find((result) => !result.ok) as { ok: false; current: unknown };
      expect(loser.current).toEqual(resultA.ok ? fromA : fromB);
      // A 409 while the map stayed the same (a change to the ConfigMap's metadata only, e.g. the
      // operator applying its labels): the swap is tried again and lands.
      kube.failNext({ method: 'PUT', pathRegex: /configmaps\/kv-map/, status: 409 });
      const stored = (await a.read())!;
      const after = nextMap(stored, 'node-c');
      expect(await a.compareAndSwap(stored.version, after)).toEqual({ ok: true });
      expect((await b.read())?.version).toBe(after.version);
    } finally {
      await a.close();
      await b.close();
      await kube.close();
    }
  });

  it('presence: a Lease whose holder stopped renewing (process killed) is offline after its duration', async () => {
    const { kube, url } = await freshEmulator();
    const store = openStore(url);
    try {
      // A Lease written as a node would, then never renewed.
      const config = kube.kubeConfig();
      const { CoordinationV1Api, V1MicroTime } = await import('@kubernetes/client-node');
      await config.makeApiClient(CoordinationV1Api).createNamespacedLease({
        namespace: 'data',
        body: {
          metadata: { name: 'kv-map-node-ghost', labels: { 'ballast.io/presence-of': 'kv-map' }, annotations: { 'ballast.io/registration': JSON.stringify(registration('ghost')) } },
          spec: { holderIdentity: 'ghost-incarnation-1', leaseDurationSeconds: 2, renewTime: new V1MicroTime() },
        },
      });
      expect((await store.onlineNodes()).map((node) => node.nodeId)).toEqual(['ghost']);
      const changes: string[][] = [];
      const stop = store.watchOnline((nodes) => changes.push(nodes.map((node) => node.nodeId)));
      expect(await waitFor(() => changes.at(-1)?.length === 0, 10_000)).toBe(true);
      expect(changes[0]).toEqual(['ghost']);
      stop();
    } finally {
      await store.close();
      await kube.close();
    }
  });
});
