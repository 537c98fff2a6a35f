/**
 * `buzzer webhooks` (and the console's webhook page): a client's endpoints with their attempts and FAILED deliveries,
 * URLs redacted; a replay enables the endpoint and queues each FAILED delivery on the stack's delivery queue.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { listOrders } from '#ops/cli/orders.ts';
import { replayWebhook, webhookEndpoints } from '#ops/cli/webhooks.ts';
import { opsContext, queue } from './helpers.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const sqsMock = mockClient(SQSClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const sqs = new SQSClient({ region: 'us-east-1' });

const failedDelivery = {
  pk: 'WEBHOOK#wh-1',
  sk: 'DELIVERY#msg_e-1_wh-1',
  deliveryId: 'msg_e-1_wh-1',
  webhookId: 'wh-1',
  clientId: 'alice',
  eventId: 'e-1',
  eventType: 'OrderConfirmed',
  orderId: 'o-1',
  correlationId: 'corr-1',
  body: '{}',
  status: 'FAILED',
  attempt: 8,
  token: 't-8',
  nextAttemptAt: '2026-12-07T00:00:00.000Z',
  createdAt: '2026-12-06T00:00:00.000Z',
  updatedAt: '2026-12-07T00:00:00.000Z',
};

beforeEach(() => {
  ddb.reset();
  sqsMock.reset();
});

describe('buzzer webhooks', () => {
  it('lists a client’s endpoints with their attempts and FAILED deliveries, the URL’s secret redacted', async () => {
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'CLIENT#alice', ':prefix': 'WEBHOOK#' } })
      .resolves({
        Items: [
          {
            webhookId: 'wh-1',
            url: 'https://hooks.example.com/services/T0/B0/secretpart?token=abc',
            events: ['OrderConfirmed'],
            status: 'DISABLED',
            disabledReason: 'http_410',
            createdAt: '2026-12-01T00:00:00.000Z',
          },
        ],
      });
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'WEBHOOK#wh-1', ':prefix': 'ATTEMPT#' } })
      .resolves({
        Items: [
          {
            deliveryId: 'msg_e-1_wh-1',
            eventType: 'OrderConfirmed',
            orderId: 'o-1',
            attempt: 8,
            at: '2026-12-07T00:00:00.000Z',
            durationMs: 12,
            outcome: 'failed',
            statusCode: 410,
          },
        ],
      });
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'WEBHOOK#wh-1', ':prefix': 'DELIVERY#' } })
      .resolves({ Items: [failedDelivery] });

    const result = await webhookEndpoints(opsContext({ doc }), 'alice');

    expect(result.endpoints).toHaveLength(1);
    expect(result.endpoints[0]).toMatchObject({
      webhookId: 'wh-1',
      status: 'DISABLED',
      failedDeliveries: 1,
      attempts: [{ orderId: 'o-1', outcome: 'failed', statusCode: 410 }],
    });
    expect(result.endpoints[0]?.url).not.toMatch(/secretpart|abc/);
  });

  it('replays: enables the endpoint and queues each FAILED delivery on the delivery queue', async () => {
    ddb.on(UpdateCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [failedDelivery] });
    sqsMock
      .on(SendMessageBatchCommand)
      .resolves({ Successful: [{ Id: '0', MessageId: 'm', MD5OfMessageBody: '' }] });

    const result = await replayWebhook(opsContext({ doc, sqs }), 'alice', 'wh-1');

    expect(result).toEqual({ clientId: 'alice', webhookId: 'wh-1', replayed: 1, more: false });
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.Key).toEqual({
      pk: 'CLIENT#alice',
      sk: 'WEBHOOK#wh-1',
    });
    const sent = sqsMock.commandCalls(SendMessageBatchCommand)[0]?.args[0].input;
    expect(sent?.QueueUrl).toBe(queue('WebhooksDelivery1').url);
    expect(JSON.parse(sent?.Entries?.[0]?.MessageBody ?? '{}')).toMatchObject({
      kind: 'replay',
      deliveryId: 'msg_e-1_wh-1',
    });
  });

  it('refuses a client id that cannot be one, and names an unknown endpoint', async () => {
    await expect(webhookEndpoints(opsContext({ doc }), 'a b')).rejects.toThrow(/not a client id/);
    ddb
      .on(UpdateCommand)
      .rejects(Object.assign(new Error('conditional'), { name: 'ConditionalCheckFailedException' }));
    await expect(replayWebhook(opsContext({ doc, sqs }), 'alice', 'nope')).rejects.toThrow(
      /client alice has no webhook nope/,
    );
  });
});

describe('buzzer orders', () => {
  it('without a client, lists the PENDING orders of every client from the open index', async () => {
    const hold = { reason: 'payment_provider_unavailable', since: 'x', until: '2026-12-07T00:10:00.000Z' };
    // The index holds the order id and the hold; the list reads the orders themselves for the rest.
    ddb.on(QueryCommand).resolves({
      Items: [{ pk: 'ORDER#o-2', sk: 'ORDER', openPk: 'ORDER#PENDING', openSk: 'x', orderId: 'o-2', hold }],
    });
    ddb.on(BatchGetCommand).resolves({
      Responses: {
        [opsContext({ doc }).target.tableName]: [
          {
            pk: 'ORDER#o-2',
            sk: 'ORDER',
            orderId: 'o-2',
            clientId: 'bob',
            status: 'PENDING',
            createdAt: '2026-12-07T00:00:00.000Z',
            updatedAt: '2026-12-07T00:00:00.000Z',
            currency: 'EUR',
            hold,
            timeline: [],
          },
        ],
      },
    });

    const result = await listOrders(opsContext({ doc }));

    expect(result).toEqual({
      clientId: null,
      orders: [
        expect.objectContaining({
          orderId: 'o-2',
          status: 'PENDING',
          hold: { reason: 'payment_provider_unavailable', until: '2026-12-07T00:10:00.000Z' },
        }),
      ],
    });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      IndexName: 'Open',
      ExpressionAttributeValues: { ':pk': 'ORDER#PENDING' },
    });
  });
});
