import { describe, expect, it, vi } from 'vitest';
import { failureDetail, failureReasonOf, sagaStep } from '#shared/saga/step.ts';
import { context, ORDER_ID, sagaInput } from './helpers.ts';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

describe('sagaStep', () => {
  it('refuses invalid saga state with InvalidMessage naming the step and each bad field, without running', async () => {
    const run = vi.fn(async () => 'ran');
    const handler = sagaStep('ReserveStock', run);

    const failure = handler({ orderId: 'not-a-uuid', correlationId: '' }, context);

    await expect(failure).rejects.toMatchObject({ name: 'InvalidMessage' });
    const { message } = (await failure.catch((error: unknown) => error)) as Error;
    expect(message).toMatch(/^invalid saga input for ReserveStock: /);
    expect(message).toContain('orderId: ');
    expect(message).toContain('; correlationId: ');
    expect(run).not.toHaveBeenCalled();
  });

  it('names a nested bad field by its dotted path', async () => {
    const handler = sagaStep('CancelOrder', async () => 'ran');

    await expect(handler({ ...sagaInput, error: { Error: 7 } }, context)).rejects.toThrow(
      'invalid saga input for CancelOrder: error.Error: ',
    );
  });

  it('passes the parsed state to the step and returns its result; rethrows its error untouched', async () => {
    const declined = Object.assign(new Error('Your card was declined.'), { name: 'PaymentDeclined' });
    const ok = sagaStep('ConfirmOrder', async (input) => input.orderId);
    const failing = sagaStep('AuthorizePayment', async () => {
      throw declined;
    });

    expect(await ok({ ...sagaInput, extra: 1 }, context)).toBe(ORDER_ID);
    await expect(failing(sagaInput, context)).rejects.toBe(declined);
  });
});

describe('failureReasonOf', () => {
  it.each([
    ['OutOfStock', 'OUT_OF_STOCK'],
    ['UnknownSku', 'UNKNOWN_SKU'],
    ['PaymentDeclined', 'PAYMENT_DECLINED'],
    ['PaymentProviderUnavailable', 'PAYMENT_UNAVAILABLE'],
    ['States.Timeout', 'PAYMENT_UNAVAILABLE'],
    ['States.TaskFailed', 'SAGA_FAILED'],
  ])('maps %s to %s', (name, reason) => {
    expect(failureReasonOf({ Error: name })).toBe(reason);
  });

  it('is SAGA_FAILED when no error was caught', () => {
    expect(failureReasonOf(undefined)).toBe('SAGA_FAILED');
  });
});

describe('failureDetail', () => {
  it('says so when no error was caught', () => {
    expect(failureDetail(undefined)).toBe('no error recorded');
  });

  it('is the error name alone when there is no cause', () => {
    expect(failureDetail({ Error: 'States.Timeout' })).toBe('States.Timeout');
  });

  it("keeps only a Lambda cause's errorMessage", () => {
    const cause = JSON.stringify({ errorType: 'OutOfStock', errorMessage: 'not enough stock', trace: ['a'] });

    expect(failureDetail({ Error: 'OutOfStock', Cause: cause })).toBe('OutOfStock: not enough stock');
  });

  it('keeps a JSON cause of another shape, and a plain-text cause, as they are', () => {
    expect(failureDetail({ Error: 'States.TaskFailed', Cause: '{"code":7}' })).toBe(
      'States.TaskFailed: {"code":7}',
    );
    expect(failureDetail({ Error: 'States.Timeout', Cause: 'took too long' })).toBe(
      'States.Timeout: took too long',
    );
  });

  it('cuts a detail longer than 300 characters to 297 plus an ellipsis, and keeps one of exactly 300', () => {
    const prefix = 'E: ';
    const long = failureDetail({ Error: 'E', Cause: 'x'.repeat(301 - prefix.length) });
    const exact = failureDetail({ Error: 'E', Cause: 'y'.repeat(300 - prefix.length) });

    expect(long).toBe(`${`${prefix}${'x'.repeat(301 - prefix.length)}`.slice(0, 297)}...`);
    expect(long).toHaveLength(300);
    expect(exact).toBe(`${prefix}${'y'.repeat(300 - prefix.length)}`);
  });
});
