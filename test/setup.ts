/**
 * Runs before every test file of every project (vitest.config.ts `setupFiles`).
 *
 * The aws-sdk-client-mock matchers (`toHaveReceivedCommandWith`, …) are registered here, once, so a test states which
 * command a mocked client received instead of digging through `commandCalls()[n].args[0].input`.
 */
import 'aws-sdk-client-mock-vitest/extend';

// A handler's Powertools Logger writes every line to stdout; the suite's output is the reporter's. A developer who
// wants the lines back sets POWERTOOLS_LOG_LEVEL=DEBUG for the run.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
