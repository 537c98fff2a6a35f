/**
 * The floor of the accept path: the one `TransactWriteItems` the accept handler writes — order, outbox message
 * `OrderPlaced` and idempotency record, with the same attributes, sizes and conditions — sent bare to DynamoDB
 * Local. Nothing can accept an order faster than this write commits; the difference is what the HTTP API, the
 * authorizer, the function and the validation cost.
 */
import { randomUUID } from 'node:crypto';
import { IDEMPOTENCY_TTL_SECONDS, requestHash } from '#functions/orders/idempotency.ts';
import {
  type OrderRecord,
  orderSummary,
  type PlaceOrder,
  storedTimelineEntry,
  timelineEntry,
} from '#functions/orders/order.ts';
import { newOutboxItem, outboxPut } from '#functions/outbox/outbox.ts';
import { epochSeconds } from '#shared/dynamodb.ts';
import { clientPartition, keys, OPEN_ORDER } from '#shared/table-keys.ts';
import type { TransactLoadRequest } from './load.ts';

/** The transaction `acceptOrder` (functions/orders/acceptance.ts) sends for a new order, item for item. */
export function floorTransaction(
  tableName: string,
  clientId: string,
  order: PlaceOrder,
): TransactLoadRequest {
  const now = new Date();
  const orderId = randomUUID();
  const idempotencyKey = randomUUID();
  const correlationId = `bench-${randomUUID()}`;
  const createdAt = now.toISOString();
  const record: OrderRecord = {
    orderId,
    clientId,
    status: 'PENDING',
    version: 1,
    customer: order.customer,
    items: order.items,
    currency: order.currency,
    paymentToken: order.paymentToken,
    timeline: [timelineEntry('Accepted', 'SUCCEEDED', now)],
    correlationId,
    createdAt,
    updatedAt: createdAt,
  };
  const outbox = newOutboxItem({
    messageType: 'OrderPlaced',
    orderId,
    clientId,
    correlationId,
    version: 1,
    payload: orderSummary(record),
    now,
  });
  return {
    kind: 'transact',
    items: [
      {
        Put: {
          TableName: tableName,
          Item: {
            ...keys.order(orderId),
            entity: 'Order',
            ...record,
            timeline: record.timeline.map(storedTimelineEntry),
            openPk: OPEN_ORDER,
            openSk: createdAt,
            gsi1pk: clientPartition(clientId),
            gsi1sk: `ORDER#${createdAt}`,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      outboxPut(tableName, outbox) as Record<string, unknown>,
      {
        Put: {
          TableName: tableName,
          Item: {
            ...keys.idempotency(clientId, idempotencyKey),
            entity: 'Idempotency',
            clientId,
            idempotencyKey,
            requestHash: requestHash(order),
            orderId,
            createdAt,
            expiresAt: epochSeconds(now) + IDEMPOTENCY_TTL_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': epochSeconds(now) },
        },
      },
    ],
  };
}
