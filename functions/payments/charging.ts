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
  PaymentHoldExpired,
  PaymentProviderUnavailable,
  PaymentRequestRejected,
} from '#functions/orders/errors.ts';
import { type Hold, type OrderRecord, timelineEntry } from '#functions/orders/order.ts';
import { requireOrder, updateOrder } from '#functions/orders/order-store.ts';
import { type CircuitBreaker, CLEAN, countHeld, nextLook } from '#functions/resilience/circuit-breaker.ts';
import { compensationTarget, refuseIfCompensating } from '#functions/saga/compensation.ts';
import type { CompensationResult, SagaError } from '#functions/saga/saga-state.ts';
import { logger } from '#shared/logger.ts';
import type { PaymentProvider } from './payment-client.ts';
import { type ReleaseLineDeps, secondsInLine } from './release-line.ts';

export interface PaymentDeps extends ReleaseLineDeps {
  payments: PaymentProvider;
  /** How long after it was sent a charge request can still land at the provider (adapter contract). */
  settleMs: number;
  /** How long the provider remembers an idempotency key (adapter contract; 24 h at the large card processors). */
  keyRetentionMs: number;
  /** The payment provider's circuit, shared by every payment step through the table. */
  circuit: CircuitBreaker;
  /** How long an order may wait for a provider whose circuit is open before it is cancelled. */
  holdMs: number;
  /**
   * Failed charge requests (provider unavailable) after which an order is no longer held but cancelled: without this
   * bound, an order the provider fails on its own (a card its systems choke on) would reopen the circuit each time its
   * hold lets it try again, holding every other order with it until the hold runs out. Only failures that leave the
   * circuit closed count: the one that opens it, or finds it open, is the outage's. So such an order can reopen the
   * circuit a few times with a low failure threshold, never with one above the saga's retries (the default), and with
   * a threshold of 1 it is held like any order until its hold runs out.
   */
  maxUnavailableAttempts: number;
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

/**
 * The payment could not be tried: the provider's circuit is open. ConfirmOrder, which finds it at
 * `$.payment.value.held`, throws PaymentHeld, and the state machine waits `waitSeconds` and runs the step again
 * (STANDARD), or parks the order on the saga-start queue for that long (EXPRESS, whose executions end after 5 minutes).
 * No state of the saga depends on `held` beyond that.
 */
export interface HeldPayment {
  held: Hold & { waitSeconds: number };
}

/** The longest wait a held step asks for: SQS delays a parked order by at most 15 minutes. */
export const MAX_HOLD_WAIT_SECONDS = 900;

type ChargeableOrder = OrderRecord & { amount: number; paymentToken: string };
type Attempt =
  | { done: AuthorizationResult }
  | { order: ChargeableOrder; previousAttemptAt: string | undefined };
type Readiness = { done: AuthorizationResult } | { order: ChargeableOrder };

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

/** What a PENDING order needs to be charged, or its recorded charge; a verdict for an order that cannot be charged. */
function readiness(order: OrderRecord): Readiness {
  refuseIfCompensating(order, 'AuthorizePayment');
  const done = recorded(order);
  if (done) return { done };
  if (order.status !== 'PENDING') {
    throw new InvalidOrderState(
      `order ${order.orderId} is ${order.status}; only a PENDING order can be charged`,
    );
  }
  const { amount, paymentToken } = order;
  if (amount === undefined)
    throw new InvalidOrderState(`order ${order.orderId} has no amount: stock was not reserved`);
  if (paymentToken === undefined)
    throw new InvalidOrderState(`order ${order.orderId} has no payment token left`);
  return { order: { ...order, amount, paymentToken } };
}

/**
 * Authorizes the order's amount with the provider and records the charge on the order.
 *
 * The provider is called only when its circuit lets the call through (`CircuitBreaker.admit`: closed, or this step
 * won the one probe, a look-up of the order's charges). While it is open the order is held instead (`holdPayment`):
 * the step returns `HeldPayment` and the state machine comes back later, so an outage costs the order time, not its
 * retries; a failure that opens the circuit holds the order too. Only a hold that outlasts `holdMs` ends the order
 * (`PaymentHoldExpired`, a verdict).
 *
 * Before the provider is called, the attempt is written on the order under its version. That write and the
 * compensation's first write (`beginCompensation`) exclude each other, so either the compensation sees the attempt
 * (and waits for it to settle before deciding there is nothing to refund) or this step sees the compensation and
 * refuses without charging. A charge that still lands on an order whose compensation began is refunded here.
 *
 * Provider errors (`PaymentDeclined`, `PaymentProviderUnavailable` while the circuit stays closed) propagate for the
 * state machine to handle.
 */
export async function authorizePayment(
  deps: PaymentDeps,
  orderId: string,
  now = new Date(),
): Promise<AuthorizationResult | HeldPayment> {
  const ready = readiness(await requireOrder(deps, orderId));
  if ('done' in ready) return ready.done;
  const failedBefore = ready.order.unavailableAttempts ?? 0;
  if (failedBefore >= deps.maxUnavailableAttempts) {
    throw new PaymentProviderUnavailable(
      `the provider failed ${failedBefore} charge requests of order ${orderId}; it is not held again`,
    );
  }
  let admission = await deps.circuit.admit(now);
  if (!admission.allowed) {
    countHeld(deps.circuit.name);
    return holdPayment(deps, orderId, admission.since, admission.retryAt, now);
  }
  if (admission.probe !== undefined) {
    // The probe is a read, never a charge: a held order whose probe fails has sent no charge request, so when its
    // hold runs out it is cancelled without waiting for the provider to say whether a charge landed.
    try {
      await deps.payments.findCharges(orderId);
    } catch (error) {
      if (!(error instanceof PaymentProviderUnavailable)) {
        await deps.circuit.succeeded(admission);
        throw error;
      }
      await deps.circuit.failed(admission, error);
      const circuit = await deps.circuit.read();
      return holdPayment(
        deps,
        orderId,
        circuit.since,
        nextLook(circuit, now, deps.circuit.policy.openMs),
        now,
      );
    }
    await deps.circuit.succeeded(admission);
    // Closed by this probe: the charge below goes through like any call through a closed circuit.
    admission = { allowed: true, snapshot: CLEAN };
  }
  // An order held during the outage takes its turn: the orders that arrived before it go first (`release-line.ts`).
  const { hold } = ready.order;
  if (hold && Date.parse(hold.until) > now.getTime()) {
    const wait = await secondsInLine(deps, orderId, now);
    if (wait > 0) {
      return holdPayment(deps, orderId, undefined, new Date(now.getTime() + wait * 1000), now);
    }
  }

  const attempt = await updateOrder<Attempt>(deps, orderId, now, (order) => {
    const current = readiness(order);
    if ('done' in current) return { result: current };
    return {
      change: { set: { chargeAttemptedAt: now.toISOString() }, timeline: [] },
      result: { order: current.order, previousAttemptAt: order.chargeAttemptedAt },
    };
  });
  if ('done' in attempt) return attempt.done;
  const { order, previousAttemptAt } = attempt;

  let chargeId: string;
  try {
    chargeId = await chargeOnce(deps, order, previousAttemptAt, now);
    // The circuit is timed from when the answer came, not from when the step began: an interval is a real interval.
    await deps.circuit.succeeded(admission);
  } catch (error) {
    if (error instanceof PaymentProviderUnavailable) {
      const state = await deps.circuit.failed(admission, error);
      if (state === 'CLOSED') {
        // The provider is failing this order while it answers others (so far): the order's own count, which ends it
        // once it reaches the saga's retries, whatever the state machine's count.
        await countUnavailableAttempt(deps, orderId, now);
        throw error;
      }
      // This failure opened the circuit (or it was opened meanwhile): the outage is the provider's, not the order's,
      // so it is not counted against the order, which waits like every other. The first orders of an outage would
      // otherwise have used up their failed charges before the circuit opened, and be cancelled by one time-out
      // after it closed.
      const circuit = await deps.circuit.read();
      return holdPayment(
        deps,
        orderId,
        circuit.since,
        nextLook(circuit, now, deps.circuit.policy.openMs),
        now,
      );
    }
    // A decline or a refused request is an answer: the provider is up.
    if (error instanceof PaymentDeclined || error instanceof PaymentRequestRejected) {
      await deps.circuit.succeeded(admission);
      // A definite "no charge" settles the attempt, so the compensation need not wait for it to land.
      await settleWithoutCharge(deps, orderId, now);
    }
    throw error;
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
        remove: ['paymentToken', 'hold'],
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

/** One more failed charge request on the order; answers how many it has had. Nothing is written once it has ended. */
function countUnavailableAttempt(deps: PaymentDeps, orderId: string, now: Date): Promise<number> {
  return updateOrder(deps, orderId, now, (order) => {
    const failed = (order.unavailableAttempts ?? 0) + 1;
    if (order.status !== 'PENDING' || order.compensatingAt) return { result: failed };
    return { change: { set: { unavailableAttempts: failed }, timeline: [] }, result: failed };
  });
}

/** The provider's side of one authorization: the order's charge id, looked up or created under the order's key. */
async function chargeOnce(
  deps: PaymentDeps,
  order: ChargeableOrder,
  previousAttemptAt: string | undefined,
  now: Date,
): Promise<string> {
  const { orderId } = order;
  // After the provider has forgotten the key, a replayed request would be a second charge: look the first one up.
  if (previousAttemptAt && elapsedMs(previousAttemptAt, now) >= deps.keyRetentionMs) {
    const charges = await deps.payments.findCharges(orderId);
    if (charges.some((found) => found.refunded)) {
      throw new InvalidOrderState(`order ${orderId} has a refunded charge: it will not be charged again`);
    }
    const first = charges[0]?.id;
    if (first) return first;
  }
  const charge = await deps.payments.charge({
    idempotencyKey: chargeKey(orderId),
    orderId,
    amount: order.amount,
    currency: order.currency,
    token: order.paymentToken,
  });
  return charge.id;
}

/**
 * Puts the order on hold while the provider's circuit is open: the first hold writes why and until when the order
 * waits at most (`hold`, a `Held` timeline entry), later ones change nothing. A hold past its end is a verdict.
 */
async function holdPayment(
  deps: PaymentDeps,
  orderId: string,
  outageSince: string | undefined,
  retryAt: Date,
  now: Date,
): Promise<AuthorizationResult | HeldPayment> {
  return updateOrder<AuthorizationResult | HeldPayment>(deps, orderId, now, (order) => {
    const ready = readiness(order);
    if ('done' in ready) return { result: ready.done };
    const existing = order.hold;
    if (existing) {
      if (Date.parse(existing.until) <= now.getTime()) {
        throw new PaymentHoldExpired(
          `${existing.reason}; the order waited from ${existing.since} until ${existing.until}`,
        );
      }
      return { result: heldFor(existing, retryAt, now) };
    }
    const hold: Hold = {
      reason: `payment provider unavailable since ${outageSince ?? now.toISOString()}`,
      since: now.toISOString(),
      until: new Date(now.getTime() + deps.holdMs).toISOString(),
    };
    return {
      change: {
        set: { hold, heldAt: order.heldAt ?? hold.since },
        timeline: [
          timelineEntry(
            'Held',
            'WAITING',
            now,
            `${hold.reason}; the order waits until ${hold.until} at most`,
          ),
        ],
      },
      result: heldFor(hold, retryAt, now),
    };
  });
}

/** Come back when the circuit may let a call through, or when the hold ends, whichever is first. */
function heldFor(hold: Hold, retryAt: Date, now: Date): HeldPayment {
  const next = Math.min(retryAt.getTime(), Date.parse(hold.until));
  const waitSeconds = Math.min(MAX_HOLD_WAIT_SECONDS, Math.max(1, Math.ceil((next - now.getTime()) / 1000)));
  return { held: { ...hold, waitSeconds } };
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

/**
 * A compensation's call to the provider. It goes through whatever the circuit says: a compensation must learn whether
 * money moved and pay it back, and is bounded by its own retries (then a redrive). What it learns still counts: an
 * answer closes the circuit, a failure adds to its streak.
 */
async function observed<T>(deps: PaymentDeps, call: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await call();
  } catch (error) {
    if (error instanceof PaymentProviderUnavailable) await deps.circuit.failed(undefined, error);
    else if (error instanceof PaymentRequestRejected) await deps.circuit.succeeded();
    throw error;
  }
  await deps.circuit.succeeded();
  return result;
}

async function refundCharges(
  deps: PaymentDeps,
  order: OrderRecord,
  now: Date,
): Promise<CompensationResult & { refundIds: string[] }> {
  // Every charge request is marked on the order before it is sent; only an order from before that marking (stock
  // reserved, never held) leaves "no mark" open to doubt. A held order was written by the marking code: without a mark
  // it was never charged, so an outage that outlasted its hold cancels it without asking the unavailable provider.
  const unmarkedIsUncharged = order.amount === undefined || order.heldAt !== undefined;
  if (!order.paymentRef && !order.chargeAttemptedAt && unmarkedIsUncharged) {
    return { outcome: 'SKIPPED', detail: 'no payment was attempted', refundIds: [] };
  }
  const chargeIds = order.paymentRef
    ? [order.paymentRef]
    : (await observed(deps, () => deps.payments.findCharges(order.orderId))).map((charge) => charge.id);
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
    const refund = await observed(deps, () => deps.payments.refund(refundKey(chargeId), chargeId));
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
