import { InvalidOrderState, OutOfStock, UnknownSku } from '#functions/orders/errors.ts';
import { type LineItem, type OrderRecord, timelineEntry } from '#functions/orders/order.ts';
import {
  commit,
  getOrder,
  orderUpdate,
  RETRY,
  requireOrder,
  withOptimisticRetry,
} from '#functions/orders/order-store.ts';
import { priceOrder, readCatalogue } from '#functions/orders/pricing.ts';
import type { TransactItem } from '#functions/outbox/outbox.ts';
import type { TableDeps } from '#shared/dynamodb.ts';
import { keys } from '#shared/table-keys.ts';
import { compensationTarget, refuseIfCompensating } from './compensation.ts';
import type { CompensationResult, SagaError } from './saga-state.ts';

export interface ReservationResult {
  amount: number;
  currency: string;
  reservedAt: string;
}

/**
 * The order's reservation, if it has one. The order itself is the reservation record: ReserveStock sets `amount`,
 * `points` and `reservedAt` on it in the transaction that takes the stock, and ReleaseStock sets `stockReleasedAt` in
 * the one that puts it back, each under the order's version, so a repeat or a concurrent run finds it done. (Orders
 * reserved before this also have a `RESERVATION` item in their partition, written in that same transaction with the
 * same fields; nothing reads it any more.)
 */
function reservationOf(order: OrderRecord): ReservationResult | undefined {
  if (order.reservedAt === undefined || order.amount === undefined) return undefined;
  return { amount: order.amount, currency: order.currency, reservedAt: order.reservedAt };
}

function units(items: LineItem[]): string {
  const total = items.reduce((sum, item) => sum + item.quantity, 0);
  return `${total} unit${total === 1 ? '' : 's'} of ${items.length} SKU${items.length === 1 ? '' : 's'}`;
}

/**
 * The transaction item that takes one line's quantity off the shelf, only if the SKU exists and has that many: the
 * saga's reservation and the synchronous flow's one transaction both take stock this way.
 */
export function takeFromShelf(tableName: string, item: LineItem): TransactItem {
  return {
    Update: {
      TableName: tableName,
      Key: keys.stock(item.sku),
      UpdateExpression: 'SET available = available - :quantity',
      ConditionExpression: 'attribute_exists(pk) AND available >= :quantity',
      ExpressionAttributeValues: { ':quantity': item.quantity },
      // Tells a vanished SKU (no item) from a sold-out one when the condition fails.
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/**
 * Takes the ordered quantities off the shelf and prices the order (which records the reservation on it), all in one
 * transaction: either every line is reserved or none is. A repeat returns the existing reservation.
 */
export async function reserveStock(
  deps: TableDeps,
  orderId: string,
  now = new Date(),
): Promise<ReservationResult> {
  return withOptimisticRetry(async () => {
    const order = await requireOrder(deps, orderId);
    // A released reservation is refused here too: `stockReleasedAt` marks the order as compensating.
    refuseIfCompensating(order, 'ReserveStock');
    const existing = reservationOf(order);
    if (existing) return existing;
    if (order.status !== 'PENDING') {
      throw new InvalidOrderState(
        `order ${orderId} is ${order.status}; only a PENDING order can reserve stock`,
      );
    }

    const stock = await readCatalogue(
      deps,
      order.items.map((item) => item.sku),
      { consistent: true },
    );
    // The price in the order's own currency, fixed now with the points: the catalogue may change after acceptance.
    const { amount, points } = priceOrder(order.items, stock, order.currency);
    const short = order.items.filter((item) => (stock.get(item.sku)?.available ?? 0) < item.quantity);
    if (short.length > 0) throw new OutOfStock(short.map((item) => item.sku));

    const reservedAt = now.toISOString();
    const stockUpdates = order.items.map((item) => takeFromShelf(deps.tableName, item));
    const reasons = await commit(deps, [
      ...stockUpdates,
      orderUpdate(
        deps.tableName,
        order,
        {
          set: { amount, points, reservedAt },
          timeline: [timelineEntry('ReserveStock', 'SUCCEEDED', now, `reserved ${units(order.items)}`)],
        },
        now,
      ),
    ]);
    if (!reasons) return { amount, currency: order.currency, reservedAt };

    const failed = order.items
      .map((item, index) => ({ item, reason: reasons[index] }))
      .filter(({ reason }) => reason?.Code === 'ConditionalCheckFailed');
    const vanished = failed.filter(({ reason }) => reason?.Item === undefined).map(({ item }) => item.sku);
    if (vanished.length > 0) throw new UnknownSku(vanished);
    if (failed.length > 0) throw new OutOfStock(failed.map(({ item }) => item.sku));
    // A concurrent reservation or order change (or a transaction conflict): decide again from fresh state.
    return RETRY;
  });
}

/**
 * Compensation: puts reserved quantities back exactly once (the order's `stockReleasedAt`, set under its version in
 * the same transaction, guards it) and notes on the order what happened, including that there was nothing to release.
 * Never on a confirmed order.
 */
export async function releaseStock(
  deps: TableDeps,
  orderId: string,
  error?: SagaError,
  now = new Date(),
): Promise<CompensationResult> {
  const target = await compensationTarget(deps, orderId, error, now, 'stock');
  if ('skip' in target) return target.skip;
  return withOptimisticRetry(async () => {
    const order = await getOrder(deps, orderId);
    if (!order) return { outcome: 'SKIPPED', detail: 'order not found' };
    if (order.stockReleasedAt) return { outcome: 'ALREADY_DONE', detail: 'stock already released' };
    /** The order's side of the release, whether there was stock to put back or not. */
    const released = (status: 'SKIPPED' | 'SUCCEEDED', detail: string) =>
      orderUpdate(
        deps.tableName,
        order,
        {
          set: { stockReleasedAt: now.toISOString() },
          timeline: [timelineEntry('ReleaseStock', status, now, detail)],
        },
        now,
      );

    if (!reservationOf(order)) {
      const detail = 'nothing was reserved';
      const reasons = await commit(deps, [released('SKIPPED', detail)]);
      return reasons ? RETRY : { outcome: 'SKIPPED', detail };
    }

    const detail = `released ${units(order.items)}`;
    const reasons = await commit(deps, [
      // No existence condition: an operator may have deleted a SKU, and failing the release would keep every
      // other line's stock locked forever. ADD then recreates a bare counter the operator can see and fix.
      ...order.items.map<TransactItem>((item) => ({
        Update: {
          TableName: deps.tableName,
          Key: keys.stock(item.sku),
          UpdateExpression: 'ADD available :quantity',
          ExpressionAttributeValues: { ':quantity': item.quantity },
        },
      })),
      released('SUCCEEDED', detail),
    ]);
    return reasons ? RETRY : { outcome: 'DONE', detail };
  });
}
