import { MAIL_SENDER_CONSUMER } from '#contracts/mail.ts';
import type { MailRequest } from './mail-request.ts';
import { type HeldMail, type SendOnceDeps, sendOnce } from './send-once.ts';
import { recordSent, type SentMailDeps } from './sent-mail.ts';

export type MailServiceDeps = SentMailDeps & SendOnceDeps;

/**
 * Sends one requested mail, whatever the number of deliveries of its request, with the request id as idempotency
 * key, then records the mail and marks the request done in one transaction; while the mail circuit is open the
 * answer is `HeldMail` (see `sendOnce`), as for the notify worker.
 */
export function sendRequestedMail(
  deps: MailServiceDeps,
  request: MailRequest,
  now = new Date(),
): Promise<'sent' | 'duplicate' | HeldMail> {
  return sendOnce(
    deps,
    {
      consumer: MAIL_SENDER_CONSUMER,
      key: request.requestId,
      mail: request.mail,
      complete: (claimToken) => recordSent(deps, MAIL_SENDER_CONSUMER, request, claimToken, new Date()),
    },
    now,
  );
}
