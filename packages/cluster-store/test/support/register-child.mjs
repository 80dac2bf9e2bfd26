// A node process that only registers its presence (through the built @ballast/cluster-store) and
// then idles, renewing in the background, until it is killed. Used to show that a registration
// outlives several TTLs while its process lives and expires once the process dies.
// Arguments: <store url> <token or "-"> <node id> <ttlMs>
import { openStore } from '../../dist/index.js';

const [url, token, nodeId, ttlMs] = process.argv.slice(2);
const store = openStore(url, token === '-' ? {} : { token });
await store.register(
  {
    nodeId,
    address: { host: '127.0.0.1', port: 7001, peerPort: 7002, adminPort: 7003 },
    startedAtMs: Date.now(),
    incarnation: `child-${process.pid}`,
  },
  Number(ttlMs),
);
process.stdout.write('registered\n');
// Keep the process alive; the store's renewal runs in the background.
setInterval(() => undefined, 60_000);
