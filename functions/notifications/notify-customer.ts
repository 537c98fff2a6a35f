import type { OrderEvent } from '#functions/orders/events.ts';
import { completeEffect } from '#shared/effects.ts';
import { renderOrderMail } from './order-mail.ts';
import { type HeldMail, type SendOnceDeps, sendOnce } from './send-once.ts';

export const NOTIFY_CONSUMER = 'notify';

export type NotifyDeps = SendOnceDeps;

/**
 * Sends the customer one mail per event, whatever the number of deliveries, with the event id as idempotency key;
 * while the mail circuit is open the answer is `HeldMail` (see `sendOnce`).
 */
export function notifyCustomer(
  deps: NotifyDeps,
  event: OrderEvent,
  now = new Date(),
): Promise<'sent' | 'duplicate' | HeldMail> {
  const eventId = event.detail.messageId;
  return sendOnce(
    deps,
    {
      consumer: NOTIFY_CONSUMER,
      key: eventId,
      mail: renderOrderMail(event),
      complete: () => completeEffect(deps, NOTIFY_CONSUMER, eventId, now),
    },
    now,
  );
}
