/**
 * The payment steps. What they rely on from the provider is the contract in docs/payment-provider.md: idempotency
 * keys that hold for a limited time (`keyRetentionMs`), a way to list an order's charges, refunds by the charge's
 * own id, and a bound on how long a request can take to land (`settleMs`). Nothing here relies on the provider
 * refusing a charge that arrives after a refund.
 */

import {
  ChargeMayBeInFlight,
  InvalidOrderState,
  PaymentDeclined,
  PaymentRequestRejected,
} from '#functions/orders/errors.ts';
import { type OrderRecord, timelineEntry } from '#functions/orders/order.ts';
import { updateOrder } from '#functions/orders/order-store.ts';
import { compensationTarget, refuseIfCompensating } from '#functions/saga/compensation.ts';
import type { CompensationResult, SagaError } from '#functions/saga/saga-state.ts';
import type { TableDeps } from '#shared/dynamodb.ts';
import { logger } from '#shared/logger.ts';
import type { PaymentProvider } from './payment-client.ts';

export interface PaymentDeps extends TableDeps {
  payments: PaymentProvider;
  /** How long after it was sent a charge request can still land at the provider (adapter contract). */
  settleMs: number;
  /** How long the provider remembers an idempotency key (adapter contract; 24 h at the large card processors). */
  keyRetentionMs: number;
}

export interface AuthorizationResult {
  paymentRef: string;
  amount: number;
  currency: string;
  authorizedAt: string;
}

/** The charge of an order is keyed by the order id: a retried step replays the same charge, never a second. */
export const chargeKey = (orderId: string): string => orderId;
/** A refund is keyed by the charge it pays back, so two compensations refunding one charge collapse into one. */
export const refundKey = (chargeId: string): string => `refund-${chargeId}`;

type ChargeableOrder = OrderRecord & { amount: number; paymentToken: string };
type Attempt =
  | { done: AuthorizationResult }
  | { order: ChargeableOrder; previousAttemptAt: string | undefined };

const elapsedMs = (since: string, now: Date): number => now.getTime() - Date.parse(since);

function recorded(order: OrderRecord): AuthorizationResult | undefined {
  if (!order.paymentRef || order.amount === undefined) return undefined;
  return {
    paymentRef: order.paymentRef,
    amount: order.amount,
    currency: order.currency,
    authorizedAt: order.authorizedAt ?? order.updatedAt,
  };
}

/**
 * Authorizes the order's amount with the provider and records the charge on the order.
 *
 * Before the provider is called, the attempt is written on the order under its version. That write and the
 * compensation's first write (`beginCompensation`) exclude each other, so either the compensation sees the attempt
 * (and waits for it to settle before deciding there is nothing to refund) or this step sees the compensation and
 * refuses without charging. A charge that still lands on an order whose compensation began is refunded here.
 *
 * Provider errors (`PaymentDeclined`, `PaymentProviderUnavailable`) propagate for the state machine to handle.
 */
export async function authorizePayment(
  deps: PaymentDeps,
  orderId: string,
  now = new Date(),
): Promise<AuthorizationResult> {
  const attempt = await updateOrder<Attempt>(deps, orderId, now, (order) => {
    refuseIfCompensating(order, 'AuthorizePayment');
    const done = recorded(order);
    if (done) return { result: { done } };
    if (order.status !== 'PENDING') {
      throw new InvalidOrderState(`order ${orderId} is ${order.status}; only a PENDING order can be charged`);
    }
    const { amount, paymentToken } = order;
    if (amount === undefined)
      throw new InvalidOrderState(`order ${orderId} has no amount: stock was not reserved`);
    if (paymentToken === undefined) throw new InvalidOrderState(`order ${orderId} has no payment token left`);
    return {
      change: { set: { chargeAttemptedAt: now.toISOString() }, timeline: [] },
      result: { order: { ...order, amount, paymentToken }, previousAttemptAt: order.chargeAttemptedAt },
    };
  });
  if ('done' in attempt) return attempt.done;
  const { order, previousAttemptAt } = attempt;

  let chargeId: string | undefined;
  // After the provider has forgotten the key, a replayed request would be a second charge: look the first one up.
  if (previousAttemptAt && elapsedMs(previousAttemptAt, now) >= deps.keyRetentionMs) {
    const charges = await deps.payments.findCharges(orderId);
    if (charges.some((found) => found.refunded)) {
      throw new InvalidOrderState(`order ${orderId} has a refunded charge: it will not be charged again`);
    }
    chargeId = charges[0]?.id;
  }
  if (!chargeId) {
    try {
      const charge = await deps.payments.charge({
        idempotencyKey: chargeKey(orderId),
        orderId,
        amount: order.amount,
        currency: order.currency,
        token: order.paymentToken,
      });
      chargeId = charge.id;
    } catch (error) {
      // A definite "no charge" settles the attempt, so the compensation need not wait for it to land.
      if (error instanceof PaymentDeclined || error instanceof PaymentRequestRejected) {
        await settleWithoutCharge(deps, orderId, now);
      }
      throw error;
    }
  }

  const paid = chargeId;
  const authorizedAt = now.toISOString();
  const result: AuthorizationResult = {
    paymentRef: paid,
    amount: order.amount,
    currency: order.currency,
    authorizedAt,
  };
  const outcome = await updateOrder<AuthorizationResult | 'compensating'>(deps, orderId, now, (current) => {
    const done = recorded(current);
    if (done) return { result: done };
    if (current.compensatingAt || current.status !== 'PENDING') return { result: 'compensating' as const };
    return {
      change: {
        set: { paymentRef: paid, authorizedAt },
        remove: ['paymentToken'],
        timeline: [timelineEntry('AuthorizePayment', 'SUCCEEDED', now, `charge ${paid} authorized`)],
      },
      result,
    };
  });
  if (outcome !== 'compensating') return outcome;
  // The compensation began while the provider was answering. It may already have looked for charges and found none
  // (this one had not landed yet): pay it back now. Same refund key as VoidPayment's, so it is refunded once.
  const refund = await deps.payments.refund(refundKey(chargeId), chargeId);
  logger.warn('charge landed on an order under compensation; refunded', { orderId, chargeId, refund });
  throw new InvalidOrderState(`order ${orderId} is being compensated; charge ${chargeId} was refunded`);
}

async function settleWithoutCharge(deps: PaymentDeps, orderId: string, now: Date): Promise<void> {
  try {
    await updateOrder(deps, orderId, now, () => ({
      change: { set: { chargeSettledAt: now.toISOString() }, timeline: [] },
      result: undefined,
    }));
  } catch (error) {
    // Without the mark the compensation waits out the settle time before it skips the refund: slower, still right.
    logger.warn('could not record the settled charge attempt', { orderId, error });
  }
}

/**
 * Compensation: starts the order's compensation (see `beginCompensation`), then refunds every charge the provider
 * holds for the order, by the charge's own id. When no charge is known but a charge request went unanswered, the
 * provider may still record it: the step fails with `ChargeMayBeInFlight` (retried) until the request is older than
 * the provider's settle time. Never on a confirmed order.
 */
export async function voidPayment(
  deps: PaymentDeps,
  orderId: string,
  error?: SagaError,
  now = new Date(),
): Promise<CompensationResult> {
  const target = await compensationTarget(deps, orderId, error, now, 'payment');
  if ('skip' in target) return target.skip;
  const { order } = target;
  if (order.paymentVoidedAt) return { outcome: 'ALREADY_DONE', detail: 'payment already voided' };

  const outcome = await refundCharges(deps, order, now);
  const refundRef = outcome.refundIds.join(',') || undefined;
  return updateOrder<CompensationResult>(deps, orderId, now, (current) => {
    if (current.paymentVoidedAt) {
      return { result: { outcome: 'ALREADY_DONE', detail: 'payment already voided' } };
    }
    return {
      change: {
        set: { paymentVoidedAt: now.toISOString(), refundRef },
        remove: ['paymentToken'],
        timeline: [
          timelineEntry(
            'VoidPayment',
            outcome.outcome === 'DONE' ? 'SUCCEEDED' : 'SKIPPED',
            now,
            outcome.detail,
          ),
        ],
      },
      result: { outcome: outcome.outcome, detail: outcome.detail },
    };
  });
}

async function refundCharges(
  deps: PaymentDeps,
  order: OrderRecord,
  now: Date,
): Promise<CompensationResult & { refundIds: string[] }> {
  if (!order.paymentRef && !order.chargeAttemptedAt && order.amount === undefined) {
    return { outcome: 'SKIPPED', detail: 'no payment was attempted', refundIds: [] };
  }
  const chargeIds = order.paymentRef
    ? [order.paymentRef]
    : (await deps.payments.findCharges(order.orderId)).map((charge) => charge.id);
  if (chargeIds.length === 0) {
    const attempt = order.chargeAttemptedAt;
    if (attempt && !order.chargeSettledAt && elapsedMs(attempt, now) < deps.settleMs) {
      throw new ChargeMayBeInFlight(
        `order ${order.orderId}: a charge request sent at ${attempt} is unanswered and may still land`,
      );
    }
    return { outcome: 'SKIPPED', detail: 'no charge was made', refundIds: [] };
  }
  const refundIds: string[] = [];
  let paidBack = 0;
  for (const chargeId of chargeIds) {
    const refund = await deps.payments.refund(refundKey(chargeId), chargeId);
    if (refund.status === 'refunded') refundIds.push(refund.id);
    if (refund.status !== 'not_found') paidBack++;
  }
  if (paidBack === 0) return { outcome: 'SKIPPED', detail: 'no charge to refund', refundIds };
  if (refundIds.length === 0) {
    return { outcome: 'ALREADY_DONE', detail: `${chargeIds.join(', ')} already refunded`, refundIds };
  }
  return {
    outcome: 'DONE',
    detail: `refund ${refundIds.join(', ')} issued for ${chargeIds.join(', ')}`,
    refundIds,
  };
}
