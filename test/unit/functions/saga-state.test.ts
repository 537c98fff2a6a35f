import { describe, expect, it } from 'vitest';
import { failureDetail, failureReasonOf } from '#functions/saga/saga-state.ts';
import { FAILURE_REASONS } from './helpers.ts';

describe('failureReasonOf', () => {
  it.each(FAILURE_REASONS)('maps %s to %s', (name, reason) => {
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
    expect(failureDetail({ Error: 'OutOfStock' })).toBe('OutOfStock');
  });

  it("shows only the name of an error that is not Buzzer's own (its cause may name ARNs, hosts, accounts)", () => {
    const cause = 'arn:aws:lambda:eu-west-1:123456789012:function:Buzzer-Saga-Confirm is throttled';

    expect(failureDetail({ Error: 'Lambda.TooManyRequestsException', Cause: cause })).toBe(
      "Lambda.TooManyRequestsException (details in the saga's execution history)",
    );
    expect(failureDetail({ Error: 'States.Timeout' })).toBe(
      "States.Timeout (details in the saga's execution history)",
    );
  });

  it('hides an ARN even inside one of its own messages', () => {
    const cause = JSON.stringify({
      errorMessage: 'order x became CANCELLED (arn:aws:states:eu-west-1:1:execution:a:b)',
    });

    expect(failureDetail({ Error: 'InvalidOrderState', Cause: cause })).toBe(
      'InvalidOrderState: order x became CANCELLED (<arn>)',
    );
  });

  it("keeps only a Lambda cause's errorMessage", () => {
    const cause = JSON.stringify({ errorType: 'OutOfStock', errorMessage: 'not enough stock', trace: ['a'] });

    expect(failureDetail({ Error: 'OutOfStock', Cause: cause })).toBe('OutOfStock: not enough stock');
  });

  it('keeps a JSON cause of another shape, and a plain-text cause, as they are', () => {
    expect(failureDetail({ Error: 'PaymentDeclined', Cause: '{"code":7}' })).toBe(
      'PaymentDeclined: {"code":7}',
    );
    expect(failureDetail({ Error: 'PaymentDeclined', Cause: 'card declined' })).toBe(
      'PaymentDeclined: card declined',
    );
  });

  it('cuts a detail longer than 300 characters to 297 plus an ellipsis, and keeps one of exactly 300', () => {
    const prefix = 'OutOfStock: ';
    const long = failureDetail({ Error: 'OutOfStock', Cause: 'x'.repeat(301 - prefix.length) });
    const exact = failureDetail({ Error: 'OutOfStock', Cause: 'y'.repeat(300 - prefix.length) });

    expect(long).toBe(`${`${prefix}${'x'.repeat(301 - prefix.length)}`.slice(0, 297)}...`);
    expect(long).toHaveLength(300);
    expect(exact).toBe(`${prefix}${'y'.repeat(300 - prefix.length)}`);
  });
});
