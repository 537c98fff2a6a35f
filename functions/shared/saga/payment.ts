import type { TableDeps } from '../dynamodb.ts';
import { InvalidOrderState } from '../errors.ts';
import { commit, getOrder, orderUpdate, RETRY, requireOrder, withOptimisticRetry } from '../order-store.ts';
import { timelineEntry } from '../orders.ts';
import type { PaymentClient } from '../payment-client.ts';
import type { CompensationResult } from './step.ts';

export interface PaymentDeps extends TableDeps {
  payments: PaymentClient;
}

export interface AuthorizationResult {
  paymentRef: string;
  amount: number;
  currency: string;
  authorizedAt: string;
}

/** The charge of an order is keyed by the order id: a retried step replays the same charge, never a second. */
export const chargeKey = (orderId: string): string => orderId;
export const refundKey = (orderId: string): string => `refund-${orderId}`;

/**
 * Authorizes the order's amount with the provider and records the charge on the order. Provider
 * errors (`PaymentDeclined`, `PaymentProviderUnavailable`) propagate for the state machine to handle.
 */
export async function authorizePayment(
  deps: PaymentDeps,
  orderId: string,
  now = new Date(),
): Promise<AuthorizationResult> {
  const order = await requireOrder(deps, orderId);
  if (order.paymentRef && order.amount !== undefined) {
    return {
      paymentRef: order.paymentRef,
      amount: order.amount,
      currency: order.currency,
      authorizedAt: order.authorizedAt ?? order.updatedAt,
    };
  }
  if (order.status !== 'PENDING') {
    throw new InvalidOrderState(`order ${orderId} is ${order.status}; only a PENDING order can be charged`);
  }
  const amount = order.amount;
  if (amount === undefined)
    throw new InvalidOrderState(`order ${orderId} has no amount: stock was not reserved`);

  const charge = await deps.payments.charge({
    idempotencyKey: chargeKey(orderId),
    orderId,
    amount,
    currency: order.currency,
    token: order.paymentToken,
  });
  const authorizedAt = now.toISOString();
  const result = { paymentRef: charge.id, amount, currency: order.currency, authorizedAt };

  return withOptimisticRetry(async () => {
    const current = await requireOrder(deps, orderId);
    if (current.paymentRef) return { ...result, paymentRef: current.paymentRef };
    if (current.status !== 'PENDING') {
      // Cancelled while the provider was answering: the charge must be voided by the compensation.
      throw new InvalidOrderState(
        `order ${orderId} became ${current.status} while charge ${charge.id} was authorized`,
      );
    }
    const reasons = await commit(deps, [
      orderUpdate(
        deps.tableName,
        current,
        {
          set: { paymentRef: charge.id, authorizedAt },
          timeline: [timelineEntry('AuthorizePayment', 'SUCCEEDED', now, `charge ${charge.id} authorized`)],
        },
        now,
      ),
    ]);
    return reasons ? RETRY : result;
  });
}

/**
 * Compensation: refunds the order's charge. It asks the provider even when no charge is recorded,
 * because a charge whose answer timed out may still have gone through; the provider's 404 then says
 * there is nothing to refund. Only an order that never got to payment (no amount) skips the call.
 */
export async function voidPayment(
  deps: PaymentDeps,
  orderId: string,
  now = new Date(),
): Promise<CompensationResult> {
  const order = await getOrder(deps, orderId);
  if (!order) return { outcome: 'SKIPPED', detail: 'order not found' };
  if (order.paymentVoidedAt) return { outcome: 'ALREADY_DONE', detail: 'payment already voided' };
  if (order.status === 'CONFIRMED') return { outcome: 'SKIPPED', detail: 'order is confirmed; payment kept' };

  let outcome: CompensationResult;
  let refundRef: string | undefined;
  if (order.amount === undefined && !order.paymentRef) {
    outcome = { outcome: 'SKIPPED', detail: 'no payment was attempted' };
  } else {
    const refund = await deps.payments.refund(refundKey(orderId), chargeKey(orderId));
    if (refund.status === 'refunded') {
      refundRef = refund.id;
      outcome = {
        outcome: 'DONE',
        detail: `refund ${refund.id} issued${order.paymentRef ? ` for ${order.paymentRef}` : ''}`,
      };
    } else {
      // The provider voided the key too, so a charge request still in flight is refused when it lands.
      outcome = { outcome: 'SKIPPED', detail: 'no charge to refund; the charge key is voided' };
    }
  }

  return withOptimisticRetry(async () => {
    const current = await getOrder(deps, orderId);
    if (!current) return outcome;
    if (current.paymentVoidedAt) return { outcome: 'ALREADY_DONE', detail: 'payment already voided' };
    const reasons = await commit(deps, [
      orderUpdate(
        deps.tableName,
        current,
        {
          set: { paymentVoidedAt: now.toISOString(), refundRef },
          timeline: [
            timelineEntry(
              'VoidPayment',
              outcome.outcome === 'DONE' ? 'SUCCEEDED' : 'SKIPPED',
              now,
              outcome.detail,
            ),
          ],
        },
        now,
      ),
    ]);
    return reasons ? RETRY : outcome;
  });
}
