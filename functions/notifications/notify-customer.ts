import type { OrderEvent } from '#functions/orders/events.ts';
import { type CircuitBreaker, nextLook } from '#functions/resilience/circuit-breaker.ts';
import type { TableDeps } from '#shared/dynamodb.ts';
import { claimEffect, completeEffect, releaseEffect } from '#shared/effects.ts';
import { MAX_DELAY_SECONDS } from '#shared/requeue.ts';
import { type Mailer, MailRejected, MailUnavailable } from './mail.ts';
import { renderOrderMail } from './order-mail.ts';

export const NOTIFY_CONSUMER = 'notify';

export interface NotifyDeps extends TableDeps {
  mailer: Mailer;
  /** The mail transport's circuit, shared by every notify worker through the table. */
  circuit: CircuitBreaker;
}

/** The mail was not sent because the transport's circuit is open: the message waits `waitSeconds` on its queue. */
export interface HeldMail {
  held: { waitSeconds: number };
}

/** The answer for a mail that must wait until `at` (clamped to what an SQS delay allows). */
export function heldUntil(at: Date, now: Date): HeldMail {
  const waitSeconds = Math.ceil((at.getTime() - now.getTime()) / 1000);
  return { held: { waitSeconds: Math.min(MAX_DELAY_SECONDS, Math.max(1, waitSeconds)) } };
}

/**
 * Sends the customer one mail per event, whatever the number of deliveries: claim the effect, send
 * with the event id as idempotency key, mark it done. A failed send gives the claim back for the retry.
 *
 * While the transport's circuit is open nothing is sent and nothing is claimed: the answer is `HeldMail`, and the
 * caller puts the message back on its queue for that long (as a new message, so a long outage never moves it to the
 * DLQ). A send that fails and leaves the circuit open (it opened it, or a probe failed) is held the same way.
 */
export async function notifyCustomer(
  deps: NotifyDeps,
  event: OrderEvent,
  now = new Date(),
): Promise<'sent' | 'duplicate' | HeldMail> {
  const eventId = event.detail.messageId;
  const admission = await deps.circuit.admit(now);
  if (!admission.allowed) return heldUntil(admission.retryAt, now);
  const claim = await claimEffect(deps, NOTIFY_CONSUMER, eventId, now);
  if (claim.status === 'done') return 'duplicate';
  try {
    await deps.mailer.send(renderOrderMail(event), eventId);
  } catch (error) {
    await releaseEffect(deps, NOTIFY_CONSUMER, eventId, claim.token);
    if (error instanceof MailUnavailable) {
      const state = await deps.circuit.failed(admission, error);
      if (state !== 'CLOSED') {
        const failedAt = new Date();
        return heldUntil(nextLook(await deps.circuit.read(), failedAt, deps.circuit.policy.openMs), failedAt);
      }
    } else if (error instanceof MailRejected) {
      // A refusal is an answer: the transport is up.
      await deps.circuit.succeeded(admission);
    }
    throw error;
  }
  await deps.circuit.succeeded(admission);
  await completeEffect(deps, NOTIFY_CONSUMER, eventId, now);
  return 'sent';
}
