import { defineConfig } from 'vitest/config';

// Suites (STYLE.md): pure unit tests and tests that start real processes (ballast-node,
// redis-server, redis-cli). Seeded in-process cluster simulations join as a third project with
// Part 2. `npm test` runs them all.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts'],
          exclude: ['**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'process',
          include: ['test/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // Each file starts its own servers on its own ports; keep CPU contention low on 2 cores.
          fileParallelism: false,
        },
      },
    ],
  },
});
