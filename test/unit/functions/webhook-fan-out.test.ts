import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  CLIENT_ID,
  conditionFailed,
  context,
  eventBridgeBody,
  frozenClock,
  ids,
  NOW,
  ORDER_ID,
  sentInput,
  sqsEvent,
  sqsRecord,
  TABLE,
  WEBHOOK_ENV,
} from './helpers.ts';

Object.assign(process.env, WEBHOOK_ENV);
const { handler } = await import('#functions/webhooks/fan-out-webhooks.ts');

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);

const MESSAGE_ID = 'a3bb189e-8bf9-4888-9912-ace4e6543002';
const SUBSCRIBED = '11111111-1111-4111-8111-111111111111';
const DISABLED = '22222222-2222-4222-8222-222222222222';
const OTHER_EVENTS = '33333333-3333-4333-8333-333333333333';

function endpoint(webhookId: string, overrides: Record<string, unknown> = {}) {
  return {
    webhookId,
    url: `https://hooks.example.com/${webhookId}`,
    events: ['OrderConfirmed', 'OrderCancelled'],
    status: 'ENABLED',
    createdAt: '2026-04-01T00:00:00.000Z',
    ...overrides,
  };
}

const confirmed = (messageId = 'm1') =>
  sqsRecord(
    eventBridgeBody('OrderConfirmed', {
      messageId: MESSAGE_ID,
      messageType: 'OrderConfirmed',
      orderId: ORDER_ID,
      clientId: CLIENT_ID,
      correlationId: 'corr-1',
      version: 4,
      occurredAt: '2026-05-01T12:00:00.000Z',
      payload: {
        orderId: ORDER_ID,
        status: 'CONFIRMED',
        customer: { id: 'cust-1', email: 'ada@example.com', name: 'Ada' },
        items: [{ sku: 'BEAN-1', quantity: 2 }],
        currency: 'EUR',
        amount: 2598,
        paymentRef: 'ch_1',
        createdAt: '2026-05-01T11:59:00.000Z',
      },
    }),
    messageId,
  );

const deliveryId = (webhookId: string) => `msg_${MESSAGE_ID}_${webhookId}`;

/** The PENDING delivery of this event to the subscribed endpoint, as an earlier run of the fan-out wrote it. */
const storedDelivery = (attempt: Record<string, unknown>) => ({
  deliveryId: deliveryId(SUBSCRIBED),
  webhookId: SUBSCRIBED,
  clientId: CLIENT_ID,
  eventId: MESSAGE_ID,
  eventType: 'OrderConfirmed',
  orderId: ORDER_ID,
  correlationId: 'corr-1',
  body: '{}',
  status: 'PENDING',
  ...attempt,
  nextAttemptAt: NOW.toISOString(),
  createdAt: NOW.toISOString(),
  updatedAt: NOW.toISOString(),
});

beforeEach(() => {
  ddb.reset();
  sqs.reset();
  ddb.on(QueryCommand).resolves({
    Items: [
      endpoint(SUBSCRIBED),
      endpoint(DISABLED, { status: 'DISABLED', disabledReason: 'http_410' }),
      endpoint(OTHER_EVENTS, { events: ['OrderPlaced'] }),
    ],
  });
  ddb.on(PutCommand).resolves({});
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [] });
});

frozenClock();

describe('webhook fan-out', () => {
  it('writes one delivery per enabled, subscribed endpoint and enqueues its first attempt', async () => {
    const result = await handler(sqsEvent(confirmed()), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      ExpressionAttributeValues: { ':pk': `CLIENT#${CLIENT_ID}`, ':prefix': 'WEBHOOK#' },
    });
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 1);
    expect(ddb).toHaveReceivedNthCommandWith(PutCommand, 1, {
      TableName: TABLE,
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: expect.objectContaining({
        pk: `WEBHOOK#${SUBSCRIBED}`,
        sk: `DELIVERY#${deliveryId(SUBSCRIBED)}`,
        entity: 'WebhookDelivery',
        deliveryId: deliveryId(SUBSCRIBED),
        clientId: CLIENT_ID,
        eventId: MESSAGE_ID,
        eventType: 'OrderConfirmed',
        status: 'PENDING',
        attempt: 1,
        nextAttemptAt: NOW.toISOString(),
      }),
    });
    // The body is stored as the JSON text it is sent as, and the token is random: both are read back.
    const item = sentInput(ddb, PutCommand).Item as { body: string; token: string; expiresAt: number };
    expect(JSON.parse(item.body)).toEqual({
      type: 'OrderConfirmed',
      timestamp: '2026-05-01T12:00:00.000Z',
      data: {
        orderId: ORDER_ID,
        status: 'CONFIRMED',
        version: 4,
        customerId: 'cust-1',
        items: [{ sku: 'BEAN-1', quantity: 2 }],
        currency: 'EUR',
        amount: 2598,
        paymentRef: 'ch_1',
        createdAt: '2026-05-01T11:59:00.000Z',
      },
    });
    expect(item.body).not.toContain('ada@example.com');
    expect(item.expiresAt).toBe(Math.floor(NOW.getTime() / 1000) + 30 * 24 * 3600);

    expect(sqs).toHaveReceivedNthCommandWith(SendMessageBatchCommand, 1, {
      QueueUrl: process.env.DELIVERY_QUEUE_URL,
      Entries: [expect.objectContaining({ DelaySeconds: 0 })],
    });
    const [entry] = sentInput(sqs, SendMessageBatchCommand).Entries ?? [];
    expect(JSON.parse(entry?.MessageBody ?? '{}')).toEqual({
      kind: 'attempt',
      deliveryId: deliveryId(SUBSCRIBED),
      webhookId: SUBSCRIBED,
      clientId: CLIENT_ID,
      attempt: 1,
      token: item.token,
      notBefore: NOW.toISOString(),
      correlationId: 'corr-1',
    });
  });

  it('sends nothing new for a redelivered event whose delivery is already under way', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb
      .on(GetCommand)
      .resolves({ Item: storedDelivery({ attempt: 2, token: 'token-2', previousToken: 'token-1' }) });

    const result = await handler(sqsEvent(confirmed()), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sqs).toHaveReceivedCommandTimes(SendMessageBatchCommand, 0);
  });

  it('sends the first attempt again when an earlier run wrote the record but may have crashed before sending', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: storedDelivery({ attempt: 1, token: 'token-1' }) });

    await handler(sqsEvent(confirmed()), context);

    const entries = sentInput(sqs, SendMessageBatchCommand).Entries ?? [];
    expect(entries.map((entry) => JSON.parse(entry.MessageBody ?? '{}').token)).toEqual(['token-1']);
  });

  it('writes nothing when no endpoint is subscribed', async () => {
    ddb.on(QueryCommand).resolves({ Items: [endpoint(OTHER_EVENTS, { events: ['OrderPlaced'] })] });

    const result = await handler(sqsEvent(confirmed()), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 0);
    expect(sqs).toHaveReceivedCommandTimes(SendMessageBatchCommand, 0);
  });

  it('fails the record when SQS refuses a delivery message, so the event is retried', async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }],
      Successful: [],
    });

    const result = await handler(sqsEvent(confirmed('m1')), context);

    expect(ids(result.batchItemFailures)).toEqual(['m1']);
  });

  it('fails a message that is not an order event (it ends in the DLQ)', async () => {
    const result = await handler(sqsEvent(sqsRecord('{"nope":true}', 'bad')), context);

    expect(ids(result.batchItemFailures)).toEqual(['bad']);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});
