import { randomUUID } from 'node:crypto';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { type EventDetail, ORDER_EVENT_TYPES, type OrderEventType } from '#functions/orders/events.ts';
import { keys } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export const OUTBOX_STATUSES = ['PENDING', 'PUBLISHED', 'FAILED'] as const;

/** An outbox item as the relay reads it from the stream. Anything else is poison. */
export const outboxItemSchema = z.object({
  pk: z.string().startsWith('OUTBOX#'),
  sk: z.literal('OUTBOX'),
  entity: z.literal('Outbox'),
  messageId: z.string().min(1),
  messageType: z.enum(ORDER_EVENT_TYPES),
  aggregateId: z.string().min(1),
  clientId: z.string().min(1),
  correlationId: z.string().min(1),
  version: z.number().int().min(1),
  payload: z.record(z.string(), z.unknown()),
  status: z.enum(OUTBOX_STATUSES),
  attempts: z.number().int().min(0),
  createdAt: z.iso.datetime({ offset: true }),
});
export type OutboxItem = z.infer<typeof outboxItemSchema>;

export interface NewOutboxMessage {
  messageType: OrderEventType;
  orderId: string;
  clientId: string;
  correlationId: string;
  /** The order version the fact produced, so consumers can order facts of one order. */
  version: number;
  payload: Record<string, unknown>;
  now: Date;
}

/**
 * A PENDING outbox item. It is not put into the Open index: an entry there and its removal at publication cost 2 write
 * units per event, and the stream already delivers every item to the relay. What the relay cannot publish becomes
 * FAILED and enters the index then (`OUTBOX#FAILED`); a stream batch the event source mapping gave up on is named by
 * its on-failure record in the relay DLQ, and `buzzer relay replay` reads that range of the stream.
 */
export function newOutboxItem(message: NewOutboxMessage): OutboxItem {
  const messageId = randomUUID();
  const createdAt = message.now.toISOString();
  return {
    pk: keys.outbox(messageId).pk,
    sk: 'OUTBOX',
    entity: 'Outbox',
    messageId,
    messageType: message.messageType,
    aggregateId: message.orderId,
    clientId: message.clientId,
    correlationId: message.correlationId,
    version: message.version,
    payload: message.payload,
    status: 'PENDING',
    attempts: 0,
    createdAt,
  };
}

/** The transaction item that writes an outbox message together with the state change it records. */
export function outboxPut(tableName: string, item: OutboxItem): TransactItem {
  return {
    Put: { TableName: tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' },
  };
}

export function toEventDetail(item: OutboxItem): EventDetail {
  return {
    messageId: item.messageId,
    messageType: item.messageType,
    orderId: item.aggregateId,
    clientId: item.clientId,
    correlationId: item.correlationId,
    version: item.version,
    occurredAt: item.createdAt,
    payload: item.payload,
  };
}
