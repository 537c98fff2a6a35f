/**
 * The outbox relay as both relay test files load it: its configuration (read once, when the module loads), the
 * handler, the mocked clients it calls, and the outbox items its stream delivers.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { sentInput } from './helpers.ts';

export const EVENT_BUS_NAME = 'buzzer-bus';
export const RELAY_DLQ_URL = 'http://127.0.0.1:9324/000000000000/relay-dlq';

process.env.EVENT_BUS_NAME = EVENT_BUS_NAME;
process.env.RELAY_DLQ_URL = RELAY_DLQ_URL;
process.env.RELAY_MAX_ATTEMPTS = '3';

export const { handler } = await import('#functions/outbox/relay-outbox.ts');

export const ddb = mockClient(DynamoDBDocumentClient);
export const eventBridge = mockClient(EventBridgeClient);
export const sqs = mockClient(SQSClient);

/** The n-th PENDING outbox item, as the relay reads it from the stream. */
export function outboxItem(n: number, overrides: Record<string, unknown> = {}) {
  const messageId = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  return {
    pk: `OUTBOX#${messageId}`,
    sk: 'OUTBOX',
    entity: 'Outbox',
    messageId,
    messageType: 'OrderPlaced',
    aggregateId: `order-${n}`,
    clientId: 'client-a',
    correlationId: `corr-${n}`,
    version: 1,
    payload: { orderId: `order-${n}`, status: 'PENDING' },
    status: 'PENDING',
    attempts: 0,
    createdAt: '2026-05-01T11:59:00.000Z',
    ...overrides,
  };
}

/** The `nth` (from 1) message the relay dead-lettered, decoded: the DLQ gets the record and the reason as JSON. */
export function dlqBody(nth = 1): Record<string, unknown> {
  return JSON.parse(sentInput(sqs, SendMessageCommand, nth).MessageBody ?? 'null') as Record<string, unknown>;
}
