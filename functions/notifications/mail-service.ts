import { MAIL_SENDER_CONSUMER } from '#contracts/mail.ts';
import { type CircuitBreaker, nextLook } from '#functions/resilience/circuit-breaker.ts';
import { claimEffect, releaseEffect } from '#shared/effects.ts';
import { type Mailer, MailRejected, MailUnavailable } from './mail.ts';
import type { MailRequest } from './mail-request.ts';
import { type HeldMail, heldUntil } from './notify-customer.ts';
import { recordSent, type SentMailDeps } from './sent-mail.ts';

export interface MailServiceDeps extends SentMailDeps {
  mailer: Mailer;
  /** The mail transport's circuit (`BREAKER#mail`), the same one the notify worker honours. */
  circuit: CircuitBreaker;
}

/**
 * Sends one requested mail, whatever the number of deliveries of its request: claim the request id, send with it as
 * the transport's idempotency key, then record the mail and mark the request done in one transaction. A failed send
 * gives the claim back for the retry. While the mail circuit is open nothing is sent or claimed: the answer is
 * `HeldMail` and the caller puts the request back on its queue for that long, as the notify worker does.
 */
export async function sendRequestedMail(
  deps: MailServiceDeps,
  request: MailRequest,
  now = new Date(),
): Promise<'sent' | 'duplicate' | HeldMail> {
  const admission = await deps.circuit.admit(now);
  if (!admission.allowed) return heldUntil(admission.retryAt, now);
  const claim = await claimEffect(deps, MAIL_SENDER_CONSUMER, request.requestId, now);
  if (claim.status === 'done') return 'duplicate';
  try {
    await deps.mailer.send(request.mail, request.requestId);
  } catch (error) {
    await releaseEffect(deps, MAIL_SENDER_CONSUMER, request.requestId, claim.token);
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
  await recordSent(deps, MAIL_SENDER_CONSUMER, request, claim.token, new Date());
  return 'sent';
}
