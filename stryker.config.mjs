// @ts-check
/**
 * Mutation testing of the money path (`npm run mutation`; one module: `npm run mutation -- --mutate <file>`).
 * Not in CI: a full run takes tens of minutes on two cores. Scores and kept survivors: docs/mutation.md.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', pool: 'forks' },
  mutate: [
    'functions/saga/stock.ts',
    'functions/payments/charging.ts',
    'functions/saga/outcome.ts',
    'functions/saga/saga-state.ts',
    'functions/shared/middleware/saga-step.ts',
    'functions/saga/compensation.ts',
    'functions/orders/pricing.ts',
    'functions/payments/payment-client.ts',
    'functions/orders/acceptance.ts',
    'functions/orders/idempotency.ts',
    'functions/outbox/relay.ts',
    'functions/outbox/outbox.ts',
    'functions/shared/effects.ts',
    'functions/notifications/notify-customer.ts',
    'functions/notifications/order-mail.ts',
    'functions/loyalty/points.ts',
    'functions/notifications/mail.ts',
    'functions/orders/order-store.ts',
  ],
  // Each mutant runs only the tests that reached it during the initial run.
  coverageAnalysis: 'perTest',
  // Reruns only mutants whose code or covering tests changed since the last run. The file is local state
  // (reports/ is ignored): it is tied to one checkout's exact sources, which parallel branches keep changing.
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  // The machine is shared; raise it with `--concurrency N` on a free one.
  concurrency: 1,
  // Mocked AWS and a local HTTP stub answer in milliseconds; the payment timeout tests wait up to 2 s.
  timeoutMS: 10_000,
  ignorePatterns: ['cdk.out', '.buzzer', 'coverage', 'bench/results', 'reports'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 75, break: null },
};
