import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_DIMENSIONS, METRICS } from '#contracts/metrics.ts';
import { InvalidOrderState } from '#functions/orders/errors.ts';
import type { OrderEventType } from '#functions/orders/events.ts';
import {
  type FailureReason,
  type OrderRecord,
  orderSummary,
  timelineEntry,
} from '#functions/orders/order.ts';
import {
  applyChange,
  commit,
  getOrder,
  type OrderChange,
  orderUpdate,
  RETRY,
  requireOrder,
  withOptimisticRetry,
} from '#functions/orders/order-store.ts';
import { newOutboxItem, outboxPut } from '#functions/outbox/outbox.ts';
import type { TableDeps } from '#shared/dynamodb.ts';
import { logger } from '#shared/logger.ts';
import { metrics } from '#shared/metrics.ts';
import { terminalRetention } from '#shared/retention.ts';
import { settledIndexAttributes } from '#shared/settled-index.ts';
import { beginCompensation, refuseIfCompensating } from './compensation.ts';
import { type CompensationResult, failureDetail, failureReasonOf, type SagaError } from './saga-state.ts';

/** A terminal transition: the order change and the fact it produces, committed together. */
async function finish(
  deps: TableDeps,
  order: OrderRecord,
  change: OrderChange,
  messageType: OrderEventType,
  now: Date,
): Promise<boolean> {
  const after = applyChange(order, change, now);
  const outbox = newOutboxItem({
    messageType,
    orderId: order.orderId,
    clientId: order.clientId,
    correlationId: order.correlationId,
    version: after.version,
    payload: orderSummary(after),
    now,
  });
  const reasons = await commit(deps, [
    orderUpdate(deps.tableName, order, change, now),
    outboxPut(deps.tableName, outbox),
  ]);
  return reasons === undefined;
}

/**
 * `OrdersConfirmed` / `OrdersCancelled` (by `reason`): written right after the transition committed, so once per order
 * (a repeat finds the order terminal and commits nothing). A metric of its own, emitted at once: its dimensions stay
 * off the invocation's other metrics, and it is not lost if the invocation fails after the commit.
 */
export function countTerminal(
  name: typeof METRICS.OrdersConfirmed | typeof METRICS.OrdersCancelled,
  reason?: FailureReason,
) {
  const single = metrics.singleMetric();
  if (reason) single.addDimension(METRIC_DIMENSIONS.reason, reason);
  single.addMetric(name, MetricUnit.Count, 1);
}

export interface ConfirmationResult {
  status: 'CONFIRMED';
  alreadyConfirmed: boolean;
}

/** PENDING → CONFIRMED plus `OrderConfirmed`, once. */
export async function confirmOrder(
  deps: TableDeps,
  orderId: string,
  now = new Date(),
): Promise<ConfirmationResult> {
  return withOptimisticRetry(async () => {
    const order = await requireOrder(deps, orderId);
    if (order.status === 'CONFIRMED') return { status: 'CONFIRMED', alreadyConfirmed: true };
    refuseIfCompensating(order, 'ConfirmOrder');
    if (!order.paymentRef)
      throw new InvalidOrderState(`order ${orderId} has no authorized payment; cannot confirm`);
    const change: OrderChange = {
      set: { status: 'CONFIRMED', ...terminalRetention(now), ...settledIndexAttributes(orderId, now) },
      remove: ['openPk', 'openSk', 'paymentToken'],
      timeline: [timelineEntry('ConfirmOrder', 'SUCCEEDED', now)],
    };
    const committed = await finish(deps, order, change, 'OrderConfirmed', now);
    if (!committed) return RETRY;
    countTerminal(METRICS.OrdersConfirmed);
    return { status: 'CONFIRMED', alreadyConfirmed: false };
  });
}

export interface CancellationResult extends CompensationResult {
  failureReason?: FailureReason;
}

/** Compensation, last of the chain: PENDING → CANCELLED with the reason derived from the caught error, plus `OrderCancelled`. */
export async function cancelOrder(
  deps: TableDeps,
  orderId: string,
  error: SagaError | undefined,
  now = new Date(),
): Promise<CancellationResult> {
  const stance = await beginCompensation(deps, orderId, error, now);
  if (stance.state === 'NOT_FOUND') return { outcome: 'SKIPPED', detail: 'order not found' };
  if (stance.state === 'CONFIRMED') {
    logger.error('refusing to cancel a confirmed order', { orderId, error });
    return { outcome: 'SKIPPED', detail: 'order is confirmed' };
  }
  return withOptimisticRetry(async () => {
    const order = await getOrder(deps, orderId);
    if (!order) return { outcome: 'SKIPPED', detail: 'order not found' };
    if (order.status === 'CANCELLED') {
      return {
        outcome: 'ALREADY_DONE',
        detail: 'order already cancelled',
        failureReason: order.failureReason,
      };
    }
    // The reason of the execution that began the compensation, not of one refused because it had begun.
    const failureReason = order.compensationReason ?? failureReasonOf(error);
    const detail = `${failureReason}: ${order.compensationDetail ?? failureDetail(error)}`;
    const change: OrderChange = {
      set: {
        status: 'CANCELLED',
        failureReason,
        ...terminalRetention(now),
        ...settledIndexAttributes(orderId, now),
      },
      remove: ['openPk', 'openSk', 'paymentToken'],
      timeline: [timelineEntry('CancelOrder', 'SUCCEEDED', now, detail)],
    };
    const committed = await finish(deps, order, change, 'OrderCancelled', now);
    if (!committed) return RETRY;
    countTerminal(METRICS.OrdersCancelled, failureReason);
    return { outcome: 'DONE', detail, failureReason };
  });
}
