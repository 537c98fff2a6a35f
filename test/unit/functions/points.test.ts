import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  context,
  eventBridgeBody,
  frozenClock,
  ids,
  ORDER_ID,
  sqsEvent,
  sqsRecord,
  TABLE,
} from './helpers.ts';

const { handler } = await import('#functions/loyalty/credit-points.ts');

const ddb = mockClient(DynamoDBDocumentClient);

const MESSAGE_ID = 'a3bb189e-8bf9-4888-9912-ace4e6543002';

function confirmed(payload: Record<string, unknown> = {}, messageId = 'm1') {
  const detail = {
    messageId: MESSAGE_ID,
    messageType: 'OrderConfirmed',
    orderId: ORDER_ID,
    clientId: 'client-a',
    correlationId: 'corr-1',
    version: 5,
    occurredAt: '2026-05-01T12:00:00.000Z',
    payload: {
      orderId: ORDER_ID,
      status: 'CONFIRMED',
      customer: { id: 'cust-1', email: 'ada@example.com' },
      items: [{ sku: 'BEAN-1', quantity: 2 }],
      currency: 'EUR',
      amount: 2599,
      points: 24,
      createdAt: '2026-05-01T11:59:00.000Z',
      ...payload,
    },
  };
  return sqsRecord(eventBridgeBody('OrderConfirmed', detail), messageId);
}

beforeEach(() => {
  ddb.reset();
  ddb.on(PutCommand).resolves({});
});

frozenClock();

describe('points worker', () => {
  it('credits the points the order carries with one ledger line, no balance item and no separate marker', async () => {
    const result = await handler(sqsEvent(confirmed()), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 1);
    expect(ddb).toHaveReceivedNthCommandWith(PutCommand, 1, {
      TableName: TABLE,
      Item: expect.objectContaining({
        // Customer ids are the client's own: another client's "cust-1" is another account.
        pk: 'POINTS#client-a#cust-1',
        sk: `LEDGER#${ORDER_ID}`,
        clientId: 'client-a',
        customerId: 'cust-1',
        points: 24,
        amount: 2599,
        currency: 'EUR',
        messageId: MESSAGE_ID,
      }),
      ConditionExpression: 'attribute_not_exists(pk)',
    });
  });

  it('credits the same points for the same basket in any currency (not 100 times more in JPY)', async () => {
    await handler(sqsEvent(confirmed({ currency: 'JPY', amount: 3800 })), context);
    await handler(sqsEvent(confirmed({ currency: 'KWD', amount: 840 })), context);

    const credits24 = { Item: expect.objectContaining({ points: 24 }) };
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 2);
    expect(ddb).toHaveReceivedNthCommandWith(PutCommand, 1, credits24);
    expect(ddb).toHaveReceivedNthCommandWith(PutCommand, 2, credits24);
  });

  it('treats a redelivered event (its ledger line exists) as done', async () => {
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'exists', $metadata: {} }));

    expect(await handler(sqsEvent(confirmed()), context)).toEqual({ batchItemFailures: [] });
  });

  it('credits an order once even when its fact is published again under a new event id', async () => {
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'exists', $metadata: {} }));

    expect(await handler(sqsEvent(confirmed()), context)).toEqual({ batchItemFailures: [] });
  });

  it('fails the record when the write fails for another reason, so it is retried', async () => {
    ddb.on(PutCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));

    expect(await handler(sqsEvent(confirmed()), context)).toEqual({
      batchItemFailures: [{ itemIdentifier: 'm1' }],
    });
  });

  it('fails a confirmation without amount or points, and a cancellation it should never have received', async () => {
    const cancelled = sqsRecord(
      eventBridgeBody('OrderCancelled', {
        ...JSON.parse(confirmed().body).detail,
        messageType: 'OrderCancelled',
      }),
      'cancelled',
    );

    const result = await handler(
      sqsEvent(
        confirmed({ amount: undefined }, 'no-amount'),
        confirmed({ points: undefined }, 'no-points'),
        cancelled,
      ),
      context,
    );

    expect(ids(result.batchItemFailures)).toEqual(['cancelled', 'no-amount', 'no-points']);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});
