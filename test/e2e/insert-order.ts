/**
 * An order written straight into the table, as the API writes one, for the scenarios that need an order the API
 * could not leave behind by itself: one whose OrderPlaced never reached the bus (its outbox item PUBLISHED before the
 * saga started: the reconciler's case) or one the relay gave up on (its outbox item FAILED: a replay's case). Used by
 * operators.test.ts (the CLI) and console.local.test.ts (the console's outbox page).
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import {
  type OrderRecord,
  orderSummary,
  storedTimelineEntry,
  timelineEntry,
} from '#functions/orders/order.ts';
import { newOutboxItem } from '#functions/outbox/outbox.ts';
import { clientPartition, keys, OPEN_ORDER, OPEN_OUTBOX_FAILED } from '#shared/table-keys.ts';

/** A PENDING order of `clientId` since `createdAt`, with its OrderPlaced outbox item in `outboxStatus`; its id. */
export async function insertPendingOrder(
  table: { doc: DynamoDBDocumentClient; tableName: string },
  clientId: string,
  createdAt: Date,
  outboxStatus: 'PUBLISHED' | 'FAILED',
): Promise<string> {
  const orderId = randomUUID();
  const record: OrderRecord = {
    orderId,
    clientId,
    status: 'PENDING',
    version: 1,
    customer: { id: `cust-${orderId.slice(0, 8)}`, email: 'grace@example.com', name: 'Grace' },
    items: [{ sku: 'espresso', quantity: 1 }],
    currency: 'EUR',
    paymentToken: 'tok_ok',
    timeline: [timelineEntry('Accepted', 'SUCCEEDED', createdAt)],
    correlationId: `corr-${orderId}`,
    createdAt: createdAt.toISOString(),
    updatedAt: createdAt.toISOString(),
  };
  const outbox = newOutboxItem({
    messageType: 'OrderPlaced',
    orderId,
    clientId,
    correlationId: record.correlationId,
    version: 1,
    payload: orderSummary(record),
    now: createdAt,
  });
  const outboxState =
    outboxStatus === 'PUBLISHED'
      ? { status: 'PUBLISHED', publishedAt: createdAt.toISOString() }
      : {
          status: 'FAILED',
          openPk: OPEN_OUTBOX_FAILED,
          openSk: outbox.createdAt,
          lastError: 'injected by the test',
        };
  await table.doc.send(
    new TransactWriteCommand({
      TransactItems: [
        {
          Put: {
            TableName: table.tableName,
            Item: {
              ...keys.order(orderId),
              entity: 'Order',
              ...record,
              timeline: record.timeline.map(storedTimelineEntry),
              openPk: OPEN_ORDER,
              openSk: record.createdAt,
              gsi1pk: clientPartition(clientId),
              gsi1sk: `ORDER#${record.createdAt}`,
            },
          },
        },
        // The relay sees this INSERT but publishes only PENDING items: this OrderPlaced never reaches the bus.
        { Put: { TableName: table.tableName, Item: { ...outbox, ...outboxState } } },
      ],
    }),
  );
  return orderId;
}
