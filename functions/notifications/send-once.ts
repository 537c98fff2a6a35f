import { type CircuitBreaker, nextLook } from '#functions/resilience/circuit-breaker.ts';
import type { TableDeps } from '#shared/dynamodb.ts';
import { claimEffect, releaseEffect } from '#shared/effects.ts';
import { MAX_DELAY_SECONDS } from '#shared/requeue.ts';
import { type Mailer, type MailMessage, MailRejected, MailUnavailable } from './mail.ts';

export interface SendOnceDeps extends TableDeps {
  mailer: Mailer;
  /** The mail transport's circuit (`BREAKER#mail`), shared by every sender of mail through the table. */
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

/** One mail to send once: `key` names the effect (`consumer` + key) and is the transport's idempotency key. */
export interface MailToSend {
  consumer: string;
  key: string;
  mail: MailMessage;
  /** Marks the effect done (and records whatever else belongs with it), given the claim's token. */
  complete: (claimToken: string) => Promise<void>;
}

/**
 * Sends a mail once, whatever the number of deliveries of the message that asked for it, through the mail circuit:
 * claim the effect, send with `key` as idempotency key, then `complete` it. A failed send gives the claim back for the
 * retry.
 *
 * While the circuit is open nothing is sent and nothing is claimed: the answer is `HeldMail`, and the caller puts the
 * message back on its queue for that long (as a new message, so a long outage never moves it to the DLQ). A send
 * that fails and leaves the circuit open (it opened it, or a probe failed) is held the same way. A refusal
 * (`MailRejected`) is thrown on, but counts as the transport being up.
 */
export async function sendOnce(
  deps: SendOnceDeps,
  { consumer, key, mail, complete }: MailToSend,
  now = new Date(),
): Promise<'sent' | 'duplicate' | HeldMail> {
  const admission = await deps.circuit.admit(now);
  if (!admission.allowed) return heldUntil(admission.retryAt, now);
  const claim = await claimEffect(deps, consumer, key, now);
  if (claim.status === 'done') return 'duplicate';
  try {
    await deps.mailer.send(mail, key);
  } catch (error) {
    await releaseEffect(deps, consumer, key, claim.token);
    if (error instanceof MailUnavailable) {
      const state = await deps.circuit.failed(admission, error);
      if (state !== 'CLOSED') {
        const failedAt = new Date();
        return heldUntil(nextLook(await deps.circuit.read(), failedAt, deps.circuit.policy.openMs), failedAt);
      }
    } else if (error instanceof MailRejected) {
      await deps.circuit.succeeded(admission);
    }
    throw error;
  }
  await deps.circuit.succeeded(admission);
  await complete(claim.token);
  return 'sent';
}
