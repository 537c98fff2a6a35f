import { defineConfig } from 'vitest/config';

/**
 * The unit tests that exercise the money path, for Stryker (`npm run mutation`). No globalSetup: the e2e
 * synth would run again in every Stryker sandbox and worker, and these tests need no cdk.out (AWS calls are
 * mocked, the payment provider is an HTTP stub on 127.0.0.1).
 */
export default defineConfig({
  test: {
    include: ['test/unit/functions/**/*.test.ts', 'test/unit/ops/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    // The same environment and matchers as the unit project of vitest.config.ts.
    setupFiles: ['test/setup.ts', 'test/setup-offline.ts'],
    testTimeout: 10_000,
    pool: 'forks',
  },
});
