import {
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captureStdout, type StdoutCapture } from '../support/emf.ts';
import {
  assignedValue,
  boundValues,
  CLIENT_ID,
  context,
  FAILURE_REASONS,
  frozenClock,
  NOW,
  ORDER_ID,
  orderKey,
  sagaInput,
  sentInput,
  storedOrder,
  TABLE,
  transactItems,
  transactionCanceled,
} from './helpers.ts';

const { handler: confirm } = await import('#functions/saga/confirm-order.ts');
const { handler: cancel } = await import('#functions/saga/cancel-order.ts');

const ddb = mockClient(DynamoDBDocumentClient);

const authorized = storedOrder({ amount: 3448, paymentRef: 'ch_1', version: 3 });

function orderIs(item: Record<string, unknown> | null) {
  ddb.on(GetCommand, { Key: orderKey }).resolves({ Item: item ?? undefined });
}

beforeEach(() => {
  ddb.reset();
  ddb.on(TransactWriteCommand).resolves({});
});

frozenClock();

describe('confirm-order', () => {
  it('confirms the order and writes OrderConfirmed in the same transaction', async () => {
    orderIs(authorized);

    const result = await confirm(sagaInput, context);

    expect(result).toEqual({ status: 'CONFIRMED', alreadyConfirmed: false });
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [
        {
          Update: expect.objectContaining({
            TableName: TABLE,
            Key: orderKey,
            ConditionExpression: '#version = :expected',
            UpdateExpression: expect.stringMatching(/REMOVE #r0, #r1, #r2$/),
            ExpressionAttributeValues: expect.objectContaining({
              ':expected': 3,
              ':next': 4,
              ':entries': [`${NOW.toISOString()} ConfirmOrder`],
            }),
          }),
        },
        {
          Put: expect.objectContaining({
            TableName: TABLE,
            ConditionExpression: 'attribute_not_exists(pk)',
            Item: expect.objectContaining({
              entity: 'Outbox',
              messageType: 'OrderConfirmed',
              aggregateId: ORDER_ID,
              clientId: CLIENT_ID,
              correlationId: 'corr-1',
              version: 4,
              status: 'PENDING',
              attempts: 0,
              payload: expect.objectContaining({
                orderId: ORDER_ID,
                status: 'CONFIRMED',
                amount: 3448,
                paymentRef: 'ch_1',
                currency: 'EUR',
              }),
            }),
          }),
        },
      ],
    });
    // The removed attributes go by generated names (#r0, …): the names map says which attributes they are.
    const [update, put] = transactItems(ddb);
    expect(Object.values(update?.Update?.ExpressionAttributeNames ?? {})).toEqual(
      expect.arrayContaining(['status', 'openPk', 'openSk']),
    );
    expect(JSON.stringify(put?.Put?.Item)).not.toContain('tok_ok');
  });

  it('sends a held order back to its wait before it reads or writes anything', async () => {
    orderIs(authorized);
    const held = {
      ...sagaInput,
      payment: {
        value: {
          held: {
            reason: 'payment provider unavailable',
            since: NOW.toISOString(),
            until: new Date(NOW.getTime() + 900_000).toISOString(),
            waitSeconds: 30,
          },
        },
      },
    };

    // The state machine catches PaymentHeld into AwaitPaymentProvider / ParkOrder (lib/constructs/saga.ts).
    await expect(confirm(held, context)).rejects.toMatchObject({ name: 'PaymentHeld' });
    expect(ddb.calls()).toHaveLength(0);
  });

  it('confirms a paid order whose payment result carries no hold', async () => {
    orderIs(authorized);
    const paid = { ...sagaInput, payment: { value: { paymentRef: 'ch_1', amount: 3448, currency: 'EUR' } } };

    expect(await confirm(paid, context)).toEqual({ status: 'CONFIRMED', alreadyConfirmed: false });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('is a no-op when the order is already confirmed', async () => {
    orderIs({ ...authorized, status: 'CONFIRMED', version: 4 });

    expect(await confirm(sagaInput, context)).toEqual({ status: 'CONFIRMED', alreadyConfirmed: true });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('re-reads after a lost race and finds the concurrent run confirmed it', async () => {
    ddb
      .on(GetCommand, { Key: orderKey })
      .resolvesOnce({ Item: authorized })
      .resolves({ Item: { ...authorized, status: 'CONFIRMED', version: 4 } });
    ddb.on(TransactWriteCommand).rejects(transactionCanceled('ConditionalCheckFailed', 'None'));

    expect(await confirm(sagaInput, context)).toEqual({ status: 'CONFIRMED', alreadyConfirmed: true });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it.each([
    ['compensatingAt', 'is being compensated'],
    ['paymentVoidedAt', 'is being compensated'],
    ['stockReleasedAt', 'is being compensated'],
  ])('refuses to confirm an order with %s set: its compensation has begun', async (field, message) => {
    orderIs({ ...authorized, [field]: NOW.toISOString() });

    await expect(confirm(sagaInput, context)).rejects.toMatchObject({
      name: 'InvalidOrderState',
      message: expect.stringContaining(message),
    });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('puts the retention TTL (400 days by default) on the confirmed order', async () => {
    orderIs(authorized);

    await confirm(sagaInput, context);

    const ttl = Math.floor(NOW.getTime() / 1000) + 400 * 86_400;
    expect(assignedValue(transactItems(ddb)[0]?.Update, 'expiresAt')).toBe(ttl);
  });

  it('puts the confirmed order on the Settled index under the UTC day and time it ended (the settlement export)', async () => {
    orderIs(authorized);

    await confirm(sagaInput, context);

    const update = transactItems(ddb)[0]?.Update;
    expect(assignedValue(update, 'settledPk')).toBe(`SETTLED#${NOW.toISOString().slice(0, 10)}`);
    expect(assignedValue(update, 'settledSk')).toBe(`${NOW.toISOString()}#${ORDER_ID}`);
  });

  it('refuses to confirm a cancelled order or one without payment', async () => {
    orderIs({ ...authorized, status: 'CANCELLED' });
    await expect(confirm(sagaInput, context)).rejects.toMatchObject({ name: 'InvalidOrderState' });

    orderIs(storedOrder({ amount: 3448 }));
    await expect(confirm(sagaInput, context)).rejects.toMatchObject({ name: 'InvalidOrderState' });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('says why it refuses: the status it found, or the missing payment', async () => {
    orderIs({ ...authorized, status: 'CANCELLED' });
    await expect(confirm(sagaInput, context)).rejects.toThrow(`order ${ORDER_ID} is CANCELLED`);

    orderIs(storedOrder({ amount: 3448 }));
    await expect(confirm(sagaInput, context)).rejects.toThrow('has no authorized payment');
  });
});

describe('cancel-order: what the cancellation writes', () => {
  it('takes the order off the open index, so the reconciler no longer picks it up', async () => {
    orderIs(storedOrder({ version: 4 }));

    await cancel({ ...sagaInput, error: { Error: 'OutOfStock' } }, context);

    const [update] = transactItems(ddb);
    const removed = (update?.Update?.UpdateExpression ?? '').split(' REMOVE ')[1]?.split(', ') ?? [];
    const names = update?.Update?.ExpressionAttributeNames ?? {};
    expect(removed.map((name) => names[name])).toEqual(expect.arrayContaining(['openPk', 'openSk']));
  });

  it('puts the cancelled order on the Settled index, so the settlement file lists it', async () => {
    orderIs(storedOrder({ version: 4 }));

    await cancel({ ...sagaInput, error: { Error: 'OutOfStock' } }, context);

    const update = transactItems(ddb).find((item) => item.Update)?.Update;
    expect(assignedValue(update, 'settledPk')).toBe(`SETTLED#${NOW.toISOString().slice(0, 10)}`);
    expect(assignedValue(update, 'settledSk')).toBe(`${NOW.toISOString()}#${ORDER_ID}`);
  });

  it('says a confirmed order is kept', async () => {
    orderIs({ ...authorized, status: 'CONFIRMED' });

    expect(await cancel(sagaInput, context)).toEqual({ outcome: 'SKIPPED', detail: 'order is confirmed' });
  });
});

describe('cancel-order (compensation)', () => {
  const lambdaCause = (errorType: string, errorMessage: string) =>
    JSON.stringify({ errorType, errorMessage, trace: ['at reserveStock (/var/task/index.mjs:1:1)'] });

  it.each([...FAILURE_REASONS, ['ConcurrentModification', 'SAGA_FAILED']])(
    'cancels with the reason of %s (%s) and writes OrderCancelled',
    async (errorName, reason) => {
      orderIs(storedOrder({ version: 4, compensatingAt: NOW.toISOString() }));

      const result = await cancel(
        { ...sagaInput, error: { Error: errorName, Cause: lambdaCause(errorName, 'details here') } },
        context,
      );

      // Only Buzzer's own errors show their message; others (States.*, Lambda.*) may carry ARNs and show their name.
      const shown = errorName.startsWith('States.')
        ? `${errorName} (details in the saga's execution history)`
        : `${errorName}: details here`;
      const detail = `${reason}: ${shown}`;
      expect(result).toEqual({ outcome: 'DONE', detail, failureReason: reason });
      expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
        TransactItems: [
          {
            Update: expect.objectContaining({
              UpdateExpression: expect.stringContaining('REMOVE'),
              ExpressionAttributeValues: expect.objectContaining({
                ':entries': [`${NOW.toISOString()} CancelOrder ${detail}`],
              }),
            }),
          },
          {
            Put: expect.objectContaining({
              Item: expect.objectContaining({
                messageType: 'OrderCancelled',
                version: 5,
                payload: expect.objectContaining({ status: 'CANCELLED', failureReason: reason }),
              }),
            }),
          },
        ],
      });
      const [update] = transactItems(ddb);
      expect(boundValues(update?.Update)).toEqual(
        expect.arrayContaining(['CANCELLED', reason, Math.floor(NOW.getTime() / 1000) + 400 * 86_400]),
      );
      expect(JSON.stringify(update)).not.toContain('index.mjs');
    },
  );

  it('starts the compensation first when it finds the order not yet compensating (a redrive resumed here)', async () => {
    orderIs(storedOrder({ version: 4 }));
    ddb.on(UpdateCommand).resolves({});

    await cancel({ ...sagaInput, error: { Error: 'PaymentDeclined' } }, context);

    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      ConditionExpression: '#version = :expected',
      ExpressionAttributeValues: expect.objectContaining({
        ':expected': 4,
        ':next': 5,
        ':entries': [`${NOW.toISOString()} Compensate PAYMENT_DECLINED`],
      }),
    });
    expect(boundValues(sentInput(ddb, UpdateCommand))).toContain(NOW.toISOString());
  });

  it('cancels with SAGA_FAILED when no error was recorded', async () => {
    orderIs(storedOrder({ compensatingAt: NOW.toISOString() }));

    const result = await cancel(sagaInput, context);

    expect(result).toMatchObject({ outcome: 'DONE', failureReason: 'SAGA_FAILED' });
  });

  it('is a no-op when the order is already cancelled', async () => {
    orderIs(storedOrder({ status: 'CANCELLED', failureReason: 'OUT_OF_STOCK' }));

    const result = await cancel({ ...sagaInput, error: { Error: 'OutOfStock' } }, context);

    expect(result).toEqual({
      outcome: 'ALREADY_DONE',
      detail: 'order already cancelled',
      failureReason: 'OUT_OF_STOCK',
    });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('never cancels a confirmed order', async () => {
    orderIs({ ...authorized, status: 'CONFIRMED' });

    expect((await cancel(sagaInput, context)).outcome).toBe('SKIPPED');
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('skips an order that does not exist', async () => {
    orderIs(null);

    expect(await cancel(sagaInput, context)).toEqual({ outcome: 'SKIPPED', detail: 'order not found' });
  });
});

describe('OrdersConfirmed and OrdersCancelled: once per order, when the terminal transition commits', () => {
  let out: StdoutCapture;
  beforeEach(() => {
    out = captureStdout();
  });
  afterEach(() => {
    out.restore();
  });

  it('counts a confirmation that committed, with no dimension beyond service', async () => {
    orderIs(authorized);

    await confirm(sagaInput, context);

    expect(out.metrics('OrdersConfirmed')).toEqual([
      expect.objectContaining({ unit: 'Count', value: 1, dimensionNames: ['service'], namespace: 'Buzzer' }),
    ]);
  });

  it('does not count a repeat, nor a run that lost the race to a concurrent confirmation', async () => {
    orderIs({ ...authorized, status: 'CONFIRMED', version: 4 });
    await confirm(sagaInput, context);

    ddb
      .on(GetCommand, { Key: orderKey })
      .resolvesOnce({ Item: authorized })
      .resolves({ Item: { ...authorized, status: 'CONFIRMED', version: 4 } });
    ddb.on(TransactWriteCommand).rejects(transactionCanceled('ConditionalCheckFailed', 'None'));
    await confirm(sagaInput, context);

    expect(out.metrics('OrdersConfirmed')).toEqual([]);
  });

  it('counts a cancellation by its reason, and not its repeat', async () => {
    orderIs(storedOrder({ compensatingAt: NOW.toISOString() }));
    await cancel({ ...sagaInput, error: { Error: 'OutOfStock' } }, context);

    orderIs(storedOrder({ status: 'CANCELLED', failureReason: 'OUT_OF_STOCK' }));
    await cancel({ ...sagaInput, error: { Error: 'OutOfStock' } }, context);

    expect(out.metrics('OrdersCancelled')).toEqual([
      expect.objectContaining({
        unit: 'Count',
        value: 1,
        dimensionNames: ['service', 'reason'],
        dimensions: { service: 'buzzer', reason: 'OUT_OF_STOCK' },
      }),
    ]);
    // The step's own metric keeps its dimension to itself.
    expect(out.metrics('SagaStepDuration').map((metric) => metric.dimensions)).toEqual([
      { service: 'buzzer', step: 'CancelOrder' },
      { service: 'buzzer', step: 'CancelOrder' },
    ]);
  });
});
