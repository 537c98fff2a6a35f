import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { context } from '../functions/helpers.ts';
import { captureStdout, type StdoutCapture } from '../support/emf.ts';

/**
 * Powertools counts a cold start only when `AWS_LAMBDA_INITIALIZATION_TYPE` is `on-demand` (Lambda sets it; with
 * provisioned concurrency or SnapStart it is something else, and there is no cold start to count), read when the
 * metrics instance is built: at import. A process without it (a test, a script) never writes ColdStart. The local
 * runtime sets it for every function (local/engines/lambda/service.ts).
 */
async function freshChain(initializationType: string | undefined) {
  vi.resetModules();
  if (initializationType === undefined) vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', undefined);
  else vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', initializationType);
  const { lambdaChain } = await import('#shared/middleware/chain.ts');
  return lambdaChain<unknown, string>().handler(async () => 'done');
}

let out: StdoutCapture;
beforeEach(() => {
  out = captureStdout();
});
afterEach(() => {
  out.restore();
  vi.unstubAllEnvs();
});

describe('lambdaChain', () => {
  it('writes ColdStart (by function_name) on the first invocation of an on-demand environment only', async () => {
    const handler = await freshChain('on-demand');

    await handler({}, context);
    await handler({}, context);

    expect(out.metrics('ColdStart')).toEqual([
      {
        name: 'ColdStart',
        unit: 'Count',
        value: 1,
        namespace: 'Buzzer',
        dimensionNames: ['service', 'function_name'],
        dimensions: { service: 'buzzer', function_name: 'test-function' },
      },
    ]);
  });

  it('writes no ColdStart where Lambda did not say how the environment started', async () => {
    const handler = await freshChain(undefined);

    await handler({}, context);

    expect(out.metrics('ColdStart')).toEqual([]);
  });

  it('flushes the metrics of an invocation at its end, even when it fails', async () => {
    vi.resetModules();
    const { lambdaChain } = await import('#shared/middleware/chain.ts');
    const { metrics } = await import('#shared/metrics.ts');
    const failing = lambdaChain<unknown, string>().handler(async () => {
      metrics.addMetric('RelayPublishFailures', 'Count', 1);
      throw new Error('boom');
    });

    await expect(failing({}, context)).rejects.toThrow('boom');

    expect(out.metrics('RelayPublishFailures')).toEqual([
      expect.objectContaining({ value: 1, dimensionNames: ['service'] }),
    ]);
  });
});
