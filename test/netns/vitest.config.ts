// Network tests: namespaces, user-space links and real processes (root; minutes): `npm run test:netns`.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/netns/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One network and its processes at a time: the figures are of one test, not of several at once.
    fileParallelism: false,
  },
});
