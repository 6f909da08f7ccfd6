import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real clients in other languages, built from source: `npm run test:interop`.
    // A live Prometheus: `npm run test:prometheus`. Network namespaces (root): `npm run test:netns`.
    exclude: ['test/interop/**', 'test/netns/**', 'test/metrics/prometheus.test.ts', '**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
