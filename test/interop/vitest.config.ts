// Interop tests against real xDS clients in other languages: slow to build, so outside `npm test`.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/interop/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 1_560_000,
    pool: 'forks',
  },
});
