import { InvalidOrderState } from '#functions/orders/errors.ts';
import { type OrderRecord, timelineEntry } from '#functions/orders/order.ts';
import { commit, getOrder, orderUpdate, RETRY, withOptimisticRetry } from '#functions/orders/order-store.ts';
import type { TableDeps } from '#shared/dynamodb.ts';
import { type CompensationResult, failureDetail, failureReasonOf, type SagaError } from './saga-state.ts';

/**
 * Where an order stands when a compensation is about to run:
 * - `COMPENSATING`: this call or an earlier one moved it into the compensating state; undo what was done;
 * - `CONFIRMED`: a forward step got there first (e.g. ConfirmOrder committed, then its task failed); keep everything;
 * - `CANCELLED`: the compensations already finished;
 * - `NOT_FOUND`: there is nothing to compensate.
 */
export type CompensationStance =
  | { state: 'COMPENSATING' | 'CONFIRMED' | 'CANCELLED'; order: OrderRecord }
  | { state: 'NOT_FOUND' };

/**
 * The one conditional write that starts compensating an order: a PENDING order gets `compensatingAt` and a new
 * version. Every forward step reads the order and commits under its version, so after this write none of them can
 * commit any more (a duplicate EXPRESS execution, a restarted one, a STANDARD step whose write lands after its
 * task's Catch fired), and each refuses the order from then on (`assertForwardAllowed`). Idempotent: every
 * compensation step calls it first, so a redrive that resumes at ReleaseStock or CancelOrder is covered too.
 */
export async function beginCompensation(
  deps: TableDeps,
  orderId: string,
  error: SagaError | undefined,
  now = new Date(),
): Promise<CompensationStance> {
  return withOptimisticRetry(async () => {
    const order = await getOrder(deps, orderId);
    if (!order) return { state: 'NOT_FOUND' };
    if (order.status !== 'PENDING') return { state: order.status, order };
    if (order.compensatingAt) return { state: 'COMPENSATING', order };
    const reasons = await commit(deps, [
      orderUpdate(
        deps.tableName,
        order,
        {
          set: {
            compensatingAt: now.toISOString(),
            compensationReason: failureReasonOf(error),
            compensationDetail: failureDetail(error),
          },
          // A held order that is being compensated waits for nothing any more.
          remove: ['hold'],
          timeline: [timelineEntry('Compensate', 'SUCCEEDED', now, failureReasonOf(error))],
        },
        now,
      ),
    ]);
    if (reasons) return RETRY;
    return {
      state: 'COMPENSATING',
      order: { ...order, compensatingAt: now.toISOString(), version: order.version + 1 },
    };
  });
}

/**
 * Refuses a forward step on an order whose compensation has begun (or ended in CANCELLED). Throws
 * `InvalidOrderState`, a verdict: the state machine goes straight to the (idempotent) compensations. A CONFIRMED
 * order is let through: each forward step replays its recorded result for it, so a restarted execution of a
 * confirmed order ends where the first one did.
 */
export function refuseIfCompensating(order: OrderRecord, step: string): void {
  // Orders written before `compensatingAt` existed show a compensation only by its effects.
  const since = order.compensatingAt ?? order.paymentVoidedAt ?? order.stockReleasedAt;
  if (since) {
    throw new InvalidOrderState(
      `order ${order.orderId} is being compensated since ${since}; ${step} refused`,
    );
  }
  if (order.status === 'CANCELLED') {
    throw new InvalidOrderState(`order ${order.orderId} is CANCELLED; ${step} refused`);
  }
}

/**
 * `beginCompensation` for a step that undoes one thing (ReleaseStock its stock, VoidPayment its payment): SKIPPED when
 * the order is gone or confirmed, else the order to undo it on. A ConfirmOrder that committed but still ended in an
 * error (its retries ran out after the write) sends the saga into the compensations, and a confirmed order keeps
 * what it has (`kept`).
 */
export async function compensationTarget(
  deps: TableDeps,
  orderId: string,
  error: SagaError | undefined,
  now: Date,
  kept: string,
): Promise<{ skip: CompensationResult } | { order: OrderRecord }> {
  const stance = await beginCompensation(deps, orderId, error, now);
  if (stance.state === 'NOT_FOUND') return { skip: { outcome: 'SKIPPED', detail: 'order not found' } };
  if (stance.state === 'CONFIRMED')
    return { skip: { outcome: 'SKIPPED', detail: `order is confirmed; ${kept} kept` } };
  return { order: stance.order };
}
