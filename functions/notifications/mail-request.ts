import { MAIL_REQUEST_SOURCES, type MailRequestSource } from '#contracts/mail.ts';
import { parseOrderEvent } from '#functions/orders/events.ts';
import { InvalidMessage } from '#shared/errors.ts';
import { parseJsonMessage } from '#shared/json-message.ts';
import * as z from '#shared/zod.ts';
import type { MailMessage } from './mail.ts';
import { renderOrderMail } from './order-mail.ts';

/** A request id is the sender's idempotency key: a short printable string that fits in a table key. */
const requestIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, { error: 'requestId must be 1-128 letters, digits, _ . : -' });

/** A campaign's id, which every one of its request ids begins with. */
export const campaignIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'campaignId must be 1-63 lower-case letters, digits or -' });

/** One mail a campaign asks for: what `start-campaign` puts on the mail request queue, one message per recipient. */
export const campaignMailRequestSchema = z.object({
  kind: z.literal('campaign'),
  requestId: requestIdSchema,
  campaignId: campaignIdSchema,
  to: z.email(),
  subject: z.string().min(1).max(200),
  text: z.string().min(1).max(20_000),
  requestedAt: z.iso.datetime({ offset: true }),
});
export type CampaignMailRequest = z.infer<typeof campaignMailRequestSchema>;

/** A send request, whichever producer it came from: what the sender sends, records and deduplicates by `requestId`. */
export interface MailRequest {
  requestId: string;
  source: MailRequestSource;
  mail: MailMessage;
  /** When the producer asked (the order event's occurrence, the campaign's enqueueing). */
  requestedAt: string;
  orderId?: string;
  campaignId?: string;
}

export { MAIL_REQUEST_SOURCES };

function describe(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

/**
 * The body of a message on the mail request queue as a `MailRequest`. The order flow's producer is the EventBridge
 * rule itself (the raw OrderConfirmed / OrderCancelled event, no Lambda in between), so its requests are rendered
 * here, with the event's message id as request id (the notify worker's key for the same mail); a campaign's are
 * `campaignMailRequestSchema`. Anything else is an `InvalidMessage` and ends in the queue's DLQ.
 */
export function parseMailRequest(body: string): MailRequest {
  const json = parseJsonMessage(body, 'mail request');
  if (typeof json === 'object' && json !== null && 'detail-type' in json) {
    const event = parseOrderEvent(body, ['OrderConfirmed', 'OrderCancelled']);
    return {
      requestId: event.detail.messageId,
      source: 'order',
      mail: renderOrderMail(event),
      requestedAt: event.detail.occurredAt,
      orderId: event.detail.orderId,
    };
  }
  const parsed = campaignMailRequestSchema.safeParse(json);
  if (!parsed.success) throw new InvalidMessage(`not a mail request: ${describe(parsed.error)}`);
  const { requestId, campaignId, to, subject, text, requestedAt } = parsed.data;
  return { requestId, source: 'campaign', mail: { to, subject, text }, requestedAt, campaignId };
}
