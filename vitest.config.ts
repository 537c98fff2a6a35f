import { defineConfig } from 'vitest/config';

/**
 * Files that only make sense on the local runtime: the operators and API key scenarios drive the CLI through the
 * local runtime's description; the operators scenarios also install fault wrappers around the engines and compress schedules,
 * the webhook scenarios run receivers on 127.0.0.1, which a deployed stack cannot reach, and the EXPRESS race is
 * ordered through fault wrappers around the engines.
 * On a deployed target (BUZZER_TARGET=localstack|aws) they are left out rather than reported as skipped.
 */
const LOCAL_ONLY_FILES = [
  'test/e2e/api-keys.test.ts',
  'test/e2e/operators.test.ts',
  'test/e2e/webhooks.test.ts',
  'test/e2e/express.test.ts',
];
const deployedTarget = (process.env.BUZZER_TARGET ?? 'local') !== 'local';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...(deployedTarget ? LOCAL_ONLY_FILES : [])],
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
