import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { newOutboxItem, outboxPut } from '#functions/outbox/outbox.ts';
import { cancellationReasons, epochSeconds, getItem, reasonCode, type TableDeps } from '#shared/dynamodb.ts';
import { clientPartition, keys, OPEN_ORDER } from '#shared/table-keys.ts';
import { OrderLimitExceeded, PriceUnavailable } from './errors.ts';
import {
  IDEMPOTENCY_TTL_SECONDS,
  type IdempotencyRecord,
  idempotencyRecordSchema,
  requestHash,
} from './idempotency.ts';
import {
  type OrderRecord,
  orderSummary,
  type PlaceOrder,
  storedTimelineEntry,
  timelineEntry,
} from './order.ts';
import { checkAcceptable, checkUnits, readCatalogue } from './pricing.ts';

/** The same `Idempotency-Key` came back with a different body: the client reused a key by mistake. */
export class IdempotencyKeyReused extends Error {
  override name = 'IdempotencyKeyReused';
  constructor() {
    super('this Idempotency-Key was already used with a different request body');
  }
}

/** Another request with the same key is still being written; the client should retry shortly. */
export class IdempotentRequestInProgress extends Error {
  override name = 'IdempotentRequestInProgress';
  constructor() {
    super('a request with this Idempotency-Key is still being processed; retry shortly');
  }
}

export interface AcceptOrderCommand {
  clientId: string;
  idempotencyKey: string;
  correlationId: string;
  order: PlaceOrder;
}

export interface AcceptedOrder {
  orderId: string;
  /** True when an earlier request with the same key and body already created the order. */
  replayed: boolean;
  /** The order as this request wrote it; absent on a replay, whose order may have moved on since. */
  order?: OrderRecord;
}

/** Index of the idempotency record in the transaction below; cancellation reasons follow that order. */
const IDEMPOTENCY_ITEM = 2;
const MAX_WRITE_ATTEMPTS = 3;
/** Backoff while a concurrent duplicate's transaction commits (DynamoDB transactions take milliseconds). */
const CONFLICT_READ_DELAYS_MS = [25, 50, 100, 200, 400];

/**
 * The money rules an order must meet before it is accepted (pricing.ts): within the unit limit, every known SKU
 * priced in the order's currency, the known lines within the amount cap. One BatchGetItem of the order's SKUs.
 */
async function checkPricing(deps: TableDeps, order: PlaceOrder): Promise<void> {
  checkUnits(order.items);
  const catalogue = await readCatalogue(
    deps,
    order.items.map((item) => item.sku),
    { consistent: false },
  );
  checkAcceptable(order.items, catalogue, order.currency);
}

/**
 * Accepts an order: order, outbox message `OrderPlaced` and idempotency record in one transaction, so
 * either the order exists and will be announced, or nothing happened. A retry with the same key and
 * body gets the first order back instead of a second one. An order the money rules refuse throws
 * `PriceUnavailable` or `OrderLimitExceeded` and writes nothing.
 */
export async function acceptOrder(
  deps: TableDeps,
  command: AcceptOrderCommand,
  now = new Date(),
): Promise<AcceptedOrder> {
  const hash = requestHash(command.order);
  const idempotencyKey = keys.idempotency(command.clientId, command.idempotencyKey);
  try {
    await checkPricing(deps, command.order);
  } catch (refusal) {
    if (!(refusal instanceof PriceUnavailable || refusal instanceof OrderLimitExceeded)) throw refusal;
    // A retry of an order accepted before the catalogue (or a limit) changed still gets its first answer.
    const existing = await readIdempotencyRecord(deps, idempotencyKey, now, false);
    if (!existing) throw refusal;
    if (existing.requestHash !== hash) throw new IdempotencyKeyReused();
    return { orderId: existing.orderId, replayed: true };
  }

  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
    const orderId = randomUUID();
    const { record, order, outbox } = buildOrder(command, orderId, now);
    try {
      await deps.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: deps.tableName,
                Item: order,
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            outboxPut(deps.tableName, outbox),
            {
              Put: {
                TableName: deps.tableName,
                Item: {
                  ...idempotencyKey,
                  entity: 'Idempotency',
                  clientId: command.clientId,
                  idempotencyKey: command.idempotencyKey,
                  requestHash: hash,
                  orderId,
                  createdAt: now.toISOString(),
                  expiresAt: epochSeconds(now) + IDEMPOTENCY_TTL_SECONDS,
                },
                // TTL deletes expired items only eventually; an expired record must not block the key.
                ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
                ExpressionAttributeValues: { ':now': epochSeconds(now) },
              },
            },
          ],
        }),
      );
      return { orderId, replayed: false, order: record };
    } catch (error) {
      const reasons = cancellationReasons(error);
      const code = reasons ? reasonCode(reasons, IDEMPOTENCY_ITEM) : undefined;
      if (code !== 'ConditionalCheckFailed' && code !== 'TransactionConflict') throw error;
      // ConditionalCheckFailed: the record is there. TransactionConflict: a duplicate is committing it now.
      const existing = await readIdempotencyRecord(deps, idempotencyKey, now, code === 'TransactionConflict');
      if (existing) {
        if (existing.requestHash !== hash) throw new IdempotencyKeyReused();
        return { orderId: existing.orderId, replayed: true };
      }
      // The competing write did not commit (or its record just expired): the key is free, try again.
    }
  }
  throw new IdempotentRequestInProgress();
}

async function readIdempotencyRecord(
  deps: TableDeps,
  key: { pk: string; sk: string },
  now: Date,
  waitForCommit: boolean,
): Promise<IdempotencyRecord | undefined> {
  const delays = waitForCommit ? CONFLICT_READ_DELAYS_MS : [0];
  for (const delay of delays) {
    if (delay > 0) await sleep(delay);
    const record = await getItem(deps, key, idempotencyRecordSchema, 'idempotency record');
    if (record) return record.expiresAt >= epochSeconds(now) ? record : undefined;
  }
  return undefined;
}

function buildOrder(command: AcceptOrderCommand, orderId: string, now: Date) {
  const createdAt = now.toISOString();
  const record: OrderRecord = {
    orderId,
    clientId: command.clientId,
    status: 'PENDING',
    version: 1,
    customer: command.order.customer,
    items: command.order.items,
    currency: command.order.currency,
    paymentToken: command.order.paymentToken,
    timeline: [timelineEntry('Accepted', 'SUCCEEDED', now)],
    correlationId: command.correlationId,
    createdAt,
    updatedAt: createdAt,
  };
  // The idempotency key stays on its own record (and in the accept log line): the order item keeps under 1 KB.
  const order = {
    ...keys.order(orderId),
    entity: 'Order',
    ...record,
    timeline: record.timeline.map(storedTimelineEntry),
    openPk: OPEN_ORDER,
    openSk: createdAt,
    gsi1pk: clientPartition(command.clientId),
    gsi1sk: `ORDER#${createdAt}`,
  };
  const outbox = newOutboxItem({
    messageType: 'OrderPlaced',
    orderId,
    clientId: command.clientId,
    correlationId: command.correlationId,
    version: 1,
    payload: orderSummary(record),
    now,
  });
  return { record, order, outbox };
}
