import { defineConfig } from 'vitest/config';

// Suites (STYLE.md): pure unit tests, seeded in-process cluster simulations, and tests that start
// real processes (ballast-node, etcd, redis-server, redis-cli). `npm test` runs them all.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts'],
          exclude: ['**/*.sim.test.ts', '**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'sim',
          include: ['packages/*/test/**/*.sim.test.ts'],
          testTimeout: 600_000,
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
