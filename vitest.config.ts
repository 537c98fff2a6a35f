import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    // e2e suites start real engines (DynamoDB Local, SQS, Step Functions); they share one machine with 2 cores.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Effects land asynchronously (outbox → relay → bus → queue → worker); the 1 s default of expect.poll is shorter
    // than one hop on a loaded CI machine, so every poll waits for the system, not for a lucky schedule.
    expect: { poll: { timeout: 30_000, interval: 100 } },
    pool: 'forks',
    maxWorkers: 2,
  },
});
