import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SagaInput } from '#functions/saga/saga-state.ts';
import { logger } from '#shared/logger.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { type SagaStepName, sagaStep } from '#shared/middleware/saga-step.ts';
import { context, ORDER_ID, sagaInput } from '../functions/helpers.ts';
import { captureStdout, type StdoutCapture } from '../support/emf.ts';

// The suite's setup silences logs (test/setup.ts); these tests read them. The level is the logger's from its first
// load (an invocation starts at it again), so it is set before the handler modules load.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
});

function step<R>(name: SagaStepName, run: (input: SagaInput) => Promise<R>) {
  return lambdaChain<SagaInput, R>().use(sagaStep<R>(name)).handler(run);
}

let out: StdoutCapture;
beforeEach(() => {
  logger.setLogLevel('INFO');
  out = captureStdout();
});
afterEach(() => {
  out.restore();
});

describe('sagaStep middleware', () => {
  it('refuses invalid saga state with InvalidMessage naming the step and each bad field, without running', async () => {
    const run = vi.fn(async () => 'ran');
    const handler = step('ReserveStock', run);

    const failure = handler({ orderId: 'not-a-uuid', correlationId: '' } as SagaInput, context);

    await expect(failure).rejects.toMatchObject({ name: 'InvalidMessage' });
    const { message } = (await failure.catch((error: unknown) => error)) as Error;
    expect(message).toMatch(/^invalid saga input for ReserveStock: /);
    expect(message).toContain('orderId: ');
    expect(message).toContain('; correlationId: ');
    expect(run).not.toHaveBeenCalled();
    expect(out.logs('invalid saga input')).toHaveLength(1);
    expect(out.logs('saga step failed')).toEqual([]);
    expect(out.metrics('SagaStepDuration')).toEqual([]);
  });

  it('names a nested bad field by its dotted path', async () => {
    const handler = step('CancelOrder', async () => 'ran');

    await expect(
      handler({ ...sagaInput, error: { Error: 7 } } as unknown as SagaInput, context),
    ).rejects.toThrow('invalid saga input for CancelOrder: error.Error: ');
  });

  it('passes the parsed state to the step and returns its result', async () => {
    const handler = step('ConfirmOrder', async (input) => input.orderId);

    expect(await handler({ ...sagaInput, extra: 1 }, context)).toBe(ORDER_ID);
  });

  it('rethrows the step error untouched, so its name reaches the Retry and Catch clauses', async () => {
    const declined = Object.assign(new Error('Your card was declined.'), { name: 'PaymentDeclined' });
    const handler = step('AuthorizePayment', async () => {
      throw declined;
    });

    const failure = handler(sagaInput, context);

    await expect(failure).rejects.toBe(declined);
    await expect(handler(sagaInput, context)).rejects.toMatchObject({
      name: 'PaymentDeclined',
      message: 'Your card was declined.',
    });
  });

  it("scopes the invocation's logs to the order's correlation id, order and step, and drops them afterwards", async () => {
    const handler = step('ReserveStock', async () => {
      logger.info('inside the step');
      return { reserved: true };
    });

    await handler(sagaInput, context);
    logger.info('after the invocation');

    const scoped = { correlationId: 'corr-1', orderId: ORDER_ID, step: 'ReserveStock' };
    expect(out.logs('inside the step')[0]).toMatchObject(scoped);
    expect(out.logs('saga step finished')[0]).toMatchObject({ ...scoped, result: { reserved: true } });
    expect(out.logs('after the invocation')[0]).not.toHaveProperty('correlationId');
  });

  it('writes SagaStepDuration (Milliseconds, by step) once per run, whether the step succeeds or fails', async () => {
    const ok = step('ReserveStock', async () => {
      await sleep(25);
      return 'ok';
    });
    const failing = step('VoidPayment', async () => {
      throw Object.assign(new Error('down'), { name: 'PaymentProviderUnavailable' });
    });

    await ok(sagaInput, context);
    await expect(failing(sagaInput, context)).rejects.toThrow('down');

    const durations = out.metrics('SagaStepDuration');
    expect(durations).toHaveLength(2);
    expect(durations[0]).toMatchObject({
      namespace: 'Buzzer',
      unit: 'Milliseconds',
      dimensionNames: ['service', 'step'],
      dimensions: { service: 'buzzer', step: 'ReserveStock' },
    });
    expect(durations[0]?.value).toBeGreaterThanOrEqual(20);
    expect(durations[1]).toMatchObject({ dimensions: { service: 'buzzer', step: 'VoidPayment' } });
    expect(out.logs('saga step failed')[0]).toMatchObject({ step: 'VoidPayment', correlationId: 'corr-1' });
  });

  it.each([
    ['ConfirmOrder', 'PaymentHeld'],
    ['VoidPayment', 'ChargeMayBeInFlight'],
  ] as const)('logs a %s that waits (%s) as a wait, not a failure', async (name, signal) => {
    const waiting = step(name, async () => {
      throw Object.assign(new Error('not yet'), { name: signal });
    });

    await expect(waiting(sagaInput, context)).rejects.toMatchObject({ name: signal });

    expect(out.logs('saga step failed')).toEqual([]);
    expect(out.logs('saga step waits')[0]).toMatchObject({ level: 'INFO', step: name, reason: signal });
  });

  it("keeps the step dimension off the invocation's other metrics", async () => {
    const { metrics } = await import('#shared/metrics.ts');
    const handler = step('ConfirmOrder', async () => {
      metrics.addMetric('OrdersConfirmed', 'Count', 1);
      return 'ok';
    });

    await handler(sagaInput, context);

    expect(out.metrics('OrdersConfirmed')).toEqual([
      expect.objectContaining({ dimensionNames: ['service'], value: 1 }),
    ]);
  });
});
