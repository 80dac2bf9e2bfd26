// Proves the ClusterMapStore contract (test/support/contract.ts) for the embedded store: an HTTP
// server in this process with a data file and a token, clients over HTTP. "Restart" closes the
// server and starts a new one on the same port from the same data file.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { temporaryDirectory } from '@ballast/testkit';
import { openStore, startEmbeddedStore, type EmbeddedStoreServer } from '../src/index.js';
import { describeStoreContract, type Backend } from './support/contract.js';
import { sleep } from './support/maps.js';

const TOKEN = 'contract-test-token';

describeStoreContract('embedded', {
  ttlMs: 3_000,
  async fresh(): Promise<Backend> {
    const directory = temporaryDirectory('ballast-embedded-store-');
    const dataFile = path.join(directory, 'cluster-map.json');
    let server: EmbeddedStoreServer = await startEmbeddedStore({ dataFile, token: TOKEN });
    const port = server.port;
    return {
      url: server.url,
      token: TOKEN,
      open: () => openStore(server.url, { token: TOKEN }),
      async restart(downtimeMs = 0) {
        await server.close();
        await sleep(downtimeMs);
        server = await startEmbeddedStore({ port, dataFile, token: TOKEN });
      },
      async dispose() {
        await server.close();
        rmSync(directory, { recursive: true, force: true });
      },
    };
  },
});
