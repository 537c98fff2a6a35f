/**
 * The synchronous order flow (`-c orderFlow=sync`, case 1 of the four-case experiment): the order is priced,
 * charged and written while the client waits, and its mail goes out before the answer. The same domain code as the
 * saga (pricing, the payment client and circuit, the stock conditions, the order item, the outbox, the mail), in the
 * shape a synchronous service would have: every local write of an order in one transaction, after the charge.
 *
 * What that shape cannot promise, and the saga can (docs/architecture.md, "The synchronous flow"):
 * - A function that dies between the charge and the transaction leaves a charge without an order. A retry with the
 *   same Idempotency-Key finds it (the order id, and so the charge's idempotency key, derive from the request's key),
 *   within the provider's key retention; without a retry it stays an authorization nobody captures.
 * - A charge that timed out may land after the request answered; the request refunds what it finds before it answers
 *   PAYMENT_UNAVAILABLE, not what lands later.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { PAYMENT_UNAVAILABLE_RETRIES } from '#contracts/circuit.ts';
import { METRICS } from '#contracts/metrics.ts';
import { type NotifyDeps, notifyCustomer } from '#functions/notifications/notify-customer.ts';
import {
  newOutboxItem,
  type OutboxItem,
  outboxPut,
  type TransactItem,
  toEventDetail,
} from '#functions/outbox/outbox.ts';
import { chargeKey, type PaymentDeps, refundKey } from '#functions/payments/charging.ts';
import { countTerminal } from '#functions/saga/outcome.ts';
import { takeFromShelf } from '#functions/saga/stock.ts';
import { cancellationReasons, epochSeconds, getItem, reasonCode, type TableDeps } from '#shared/dynamodb.ts';
import { logger } from '#shared/logger.ts';
import { terminalRetention } from '#shared/retention.ts';
import { settledIndexAttributes } from '#shared/settled-index.ts';
import { clientPartition, keys } from '#shared/table-keys.ts';
import { IdempotencyKeyReused } from './acceptance.ts';
import { PaymentDeclined, PaymentProviderUnavailable, PaymentRequestRejected } from './errors.ts';
import { IDEMPOTENCY_TTL_SECONDS, idempotencyRecordSchema, requestHash } from './idempotency.ts';
import {
  type FailureReason,
  type OrderRecord,
  orderSummary,
  type PlaceOrder,
  storedTimelineEntry,
  type TimelineEntry,
  timelineEntry,
} from './order.ts';
import { getOrder } from './order-store.ts';
import { checkAcceptable, checkUnits, priceOrder, readCatalogue } from './pricing.ts';

export interface SyncPlacementDeps extends PaymentDeps {
  /** The mailer and the mail circuit, as the notify worker has them. */
  mail: Pick<NotifyDeps, 'mailer' | 'circuit'>;
  /** Waits between charge attempts (the saga's AuthorizePayment Retry: 1 s, doubling, at most 10 s). */
  retryDelaysMs?: readonly number[];
}

export interface SyncPlaceCommand {
  clientId: string;
  idempotencyKey: string;
  correlationId: string;
  order: PlaceOrder;
}

export interface PlacedOrder {
  order: OrderRecord;
  /** True when an earlier request with the same key and body already placed it. */
  replayed: boolean;
}

/** The saga's retries of a charge the provider failed: 1, 2 and 4 s (its full jitter left out: one caller here). */
export const CHARGE_RETRY_DELAYS_MS: readonly number[] = Array.from(
  { length: PAYMENT_UNAVAILABLE_RETRIES },
  (_, i) => Math.min(1000 * 2 ** i, 10_000),
);

/** Positions in the transaction below; cancellation reasons come back in this order. */
const ORDER_ITEM = 0;
const IDEMPOTENCY_ITEM = 1;
const FIRST_STOCK_ITEM = 3;
const MAX_COMMIT_ATTEMPTS = 3;

/**
 * The order id of a request: a UUID (version 8, RFC 9562) from the client and its Idempotency-Key, so a retry after a
 * lost answer charges under the same provider key as the first attempt instead of a second charge.
 */
export function syncOrderId(clientId: string, idempotencyKey: string): string {
  const bytes = createHash('sha256').update(`${clientId}\n${idempotencyKey}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** How the payment went: a charge to keep, or the reason the order ends without one. */
type PaymentOutcome = { chargeId: string } | { failure: FailureReason; detail: string };

/**
 * Places an order synchronously. Every outcome is an order that has ended (CONFIRMED, or CANCELLED with its reason),
 * written with its idempotency record and its outbox message in one transaction; the mail is sent after it. A retry
 * with the same key and body gets the same order back; with another body, `IdempotencyKeyReused`.
 */
export async function placeOrderSynchronously(
  deps: SyncPlacementDeps,
  command: SyncPlaceCommand,
  now = new Date(),
): Promise<PlacedOrder> {
  const hash = requestHash(command.order);
  const orderId = syncOrderId(command.clientId, command.idempotencyKey);
  const earlier = await replay(deps, command, hash, orderId, now);
  if (earlier) return earlier;

  checkUnits(command.order.items);
  const catalogue = await readCatalogue(
    deps,
    command.order.items.map((item) => item.sku),
    { consistent: true },
  );
  const { items, currency } = command.order;
  checkAcceptable(items, catalogue, currency);
  const unknown = items.filter((item) => !catalogue.has(item.sku)).map((item) => item.sku);
  // Priced as ReserveStock prices it; an unknown SKU ends the order as the saga ends it, without a charge.
  const priced = unknown.length === 0 ? priceOrder(items, catalogue, currency) : undefined;
  const short = items.filter((item) => (catalogue.get(item.sku)?.available ?? 0) < item.quantity);
  let payment: PaymentOutcome;
  if (!priced) payment = { failure: 'UNKNOWN_SKU', detail: `unknown SKU: ${unknown.join(', ')}` };
  else if (short.length > 0) {
    payment = {
      failure: 'OUT_OF_STOCK',
      detail: `out of stock: ${short.map((item) => item.sku).join(', ')}`,
    };
  } else {
    payment = await charge(deps, {
      orderId,
      amount: priced.amount,
      currency,
      token: command.order.paymentToken,
    });
  }

  for (let attempt = 1; ; attempt++) {
    const order = endedOrder(command, orderId, priced, payment, now);
    const outbox = newOutboxItem({
      messageType: order.status === 'CONFIRMED' ? 'OrderConfirmed' : 'OrderCancelled',
      orderId,
      clientId: command.clientId,
      correlationId: command.correlationId,
      version: order.version,
      payload: orderSummary(order),
      now,
    });
    const reasons = await write(deps, command, hash, order, outbox, now);
    if (!reasons) {
      countTerminal(
        order.status === 'CONFIRMED' ? METRICS.OrdersConfirmed : METRICS.OrdersCancelled,
        order.failureReason,
      );
      await mail(deps, order, outbox);
      return { order, replayed: false };
    }
    const code = (index: number) => reasonCode(reasons, index);
    if (
      code(ORDER_ITEM) === 'ConditionalCheckFailed' ||
      code(IDEMPOTENCY_ITEM) === 'ConditionalCheckFailed'
    ) {
      // A request with the same key got there first (a client retry racing its original). Its order is the answer;
      // its charge, under the same key, is the one the provider holds: nothing of ours to pay back.
      const theirs = await replay(deps, command, hash, orderId, now);
      if (theirs) return theirs;
    }
    if (
      'chargeId' in payment &&
      reasons.slice(FIRST_STOCK_ITEM).some((r) => r.Code === 'ConditionalCheckFailed')
    ) {
      // The shelf emptied between the read and the write: the charge is paid back and the order ends OUT_OF_STOCK.
      await deps.payments.refund(refundKey(payment.chargeId), payment.chargeId);
      payment = {
        failure: 'OUT_OF_STOCK',
        detail: 'out of stock when the order was written; charge refunded',
      };
      continue;
    }
    if (attempt >= MAX_COMMIT_ATTEMPTS) {
      throw new Error(
        `order ${orderId}: transaction cancelled ${attempt} times (${reasons.map((r) => r.Code).join(', ')})`,
      );
    }
  }
}

/** The order an earlier request with this key placed, or undefined if there is none (or its record expired). */
async function replay(
  deps: TableDeps,
  command: SyncPlaceCommand,
  hash: string,
  orderId: string,
  now: Date,
): Promise<PlacedOrder | undefined> {
  const record = await getItem(
    deps,
    keys.idempotency(command.clientId, command.idempotencyKey),
    idempotencyRecordSchema,
    'idempotency record',
  );
  const live = record && record.expiresAt >= epochSeconds(now) ? record : undefined;
  if (live && live.requestHash !== hash) throw new IdempotencyKeyReused();
  // Past the record's retention the key derives the same order id: the order is still the answer.
  const order = await getOrder(deps, live?.orderId ?? orderId);
  return order ? { order, replayed: true } : undefined;
}

/** One charge through the payment circuit, retried as the saga retries it; a refusal or an outage ends the order. */
async function charge(
  deps: SyncPlacementDeps,
  request: { orderId: string; amount: number; currency: string; token: string },
): Promise<PaymentOutcome> {
  const delays = deps.retryDelaysMs ?? CHARGE_RETRY_DELAYS_MS;
  let last = 'the payment provider did not answer';
  for (let attempt = 0; attempt <= delays.length; attempt++) {
    if (attempt > 0) await sleep(delays[attempt - 1] ?? 0);
    const admission = await deps.circuit.admit();
    if (!admission.allowed) {
      // No one waits here for an outage: the synchronous answer is the cancellation.
      return {
        failure: 'PAYMENT_UNAVAILABLE',
        detail: `payment circuit open since ${admission.since ?? 'now'}`,
      };
    }
    try {
      const { id } = await deps.payments.charge({ idempotencyKey: chargeKey(request.orderId), ...request });
      await deps.circuit.succeeded(admission);
      return { chargeId: id };
    } catch (error) {
      if (error instanceof PaymentDeclined || error instanceof PaymentRequestRejected) {
        await deps.circuit.succeeded(admission);
        return { failure: 'PAYMENT_DECLINED', detail: error.message };
      }
      if (!(error instanceof PaymentProviderUnavailable)) throw error;
      await deps.circuit.failed(admission, error);
      last = error.message;
    }
  }
  await refundLanded(deps, request.orderId);
  return { failure: 'PAYMENT_UNAVAILABLE', detail: last };
}

/** Pays back a charge of a timed-out request that landed anyway, before the order is written as cancelled. */
async function refundLanded(deps: PaymentDeps, orderId: string): Promise<void> {
  try {
    for (const found of await deps.payments.findCharges(orderId)) {
      if (!found.refunded) await deps.payments.refund(refundKey(found.id), found.id);
    }
  } catch (error) {
    // The provider is down: nothing more can be done in the request (the synchronous design's gap, see above).
    logger.error('could not look for a late charge of a cancelled order', { orderId, error });
  }
}

/** The order as it ends: every step it went through on its timeline, the index attributes of an ended order. */
function endedOrder(
  command: SyncPlaceCommand,
  orderId: string,
  priced: { amount: number; points: number } | undefined,
  payment: PaymentOutcome,
  now: Date,
): OrderRecord {
  const at = now.toISOString();
  const steps: TimelineEntry[] = [timelineEntry('Accepted', 'SUCCEEDED', now)];
  const base = {
    orderId,
    clientId: command.clientId,
    version: 1,
    customer: command.order.customer,
    items: command.order.items,
    currency: command.order.currency,
    correlationId: command.correlationId,
    createdAt: at,
    updatedAt: at,
  };
  if ('chargeId' in payment) {
    // charge() is only called with a price: a charge without one is a bug, not an outcome.
    if (!priced) throw new Error(`order ${orderId}: charged without a price`);
    steps.push(
      timelineEntry('ReserveStock', 'SUCCEEDED', now),
      timelineEntry('AuthorizePayment', 'SUCCEEDED', now, `charge ${payment.chargeId} authorized`),
      timelineEntry('ConfirmOrder', 'SUCCEEDED', now),
    );
    return {
      ...base,
      status: 'CONFIRMED',
      amount: priced.amount,
      points: priced.points,
      reservedAt: at,
      paymentRef: payment.chargeId,
      authorizedAt: at,
      timeline: steps,
    };
  }
  steps.push(timelineEntry('CancelOrder', 'SUCCEEDED', now, `${payment.failure}: ${payment.detail}`));
  return {
    ...base,
    status: 'CANCELLED',
    ...(priced ? { amount: priced.amount } : {}),
    failureReason: payment.failure,
    timeline: steps,
  };
}

/** The one transaction: order, idempotency record, outbox message and (when confirmed) the stock it takes. */
async function write(
  deps: TableDeps,
  command: SyncPlaceCommand,
  hash: string,
  order: OrderRecord,
  outbox: OutboxItem,
  now: Date,
) {
  const stock =
    order.status === 'CONFIRMED' ? order.items.map((item) => takeFromShelf(deps.tableName, item)) : [];
  const items: TransactItem[] = [
    {
      Put: {
        TableName: deps.tableName,
        Item: {
          ...keys.order(order.orderId),
          entity: 'Order',
          ...order,
          timeline: order.timeline.map(storedTimelineEntry),
          gsi1pk: clientPartition(order.clientId),
          gsi1sk: `ORDER#${order.createdAt}`,
          ...terminalRetention(now),
          ...settledIndexAttributes(order.orderId, now),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    },
    {
      Put: {
        TableName: deps.tableName,
        Item: {
          ...keys.idempotency(command.clientId, command.idempotencyKey),
          entity: 'Idempotency',
          clientId: command.clientId,
          idempotencyKey: command.idempotencyKey,
          requestHash: hash,
          orderId: order.orderId,
          createdAt: order.createdAt,
          expiresAt: epochSeconds(now) + IDEMPOTENCY_TTL_SECONDS,
        },
        // TTL deletes expired items only eventually; an expired record must not block the key.
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
        ExpressionAttributeValues: { ':now': epochSeconds(now) },
      },
    },
    outboxPut(deps.tableName, outbox),
    ...stock,
  ];
  try {
    await deps.doc.send(new TransactWriteCommand({ TransactItems: items }));
    return undefined;
  } catch (error) {
    const reasons = cancellationReasons(error);
    if (reasons) return reasons;
    throw error;
  }
}

/**
 * The customer's mail, under the outbox message's id: the notify worker, which gets the same message, finds it sent.
 * A mail that cannot go now (circuit open, sink down) is left to that worker, so the answer does not wait for it.
 */
async function mail(deps: SyncPlacementDeps, order: OrderRecord, outbox: OutboxItem): Promise<void> {
  const detail = toEventDetail(outbox);
  try {
    const outcome = await notifyCustomer(
      { doc: deps.doc, tableName: deps.tableName, ...deps.mail },
      { eventId: detail.messageId, detail, order: orderSummary(order) },
    );
    if (typeof outcome === 'object') {
      // The notify worker's words for a held mail: the bench counts held mail by them.
      logger.info('mail held: the mail circuit is open', { orderId: detail.orderId });
    }
  } catch (error) {
    logger.warn('mail not sent in the request: the notify worker sends it', {
      orderId: detail.orderId,
      error,
    });
  }
}
