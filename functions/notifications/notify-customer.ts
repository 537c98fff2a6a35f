import type { OrderEvent } from '#functions/orders/events.ts';
import type { TableDeps } from '#shared/dynamodb.ts';
import { claimEffect, completeEffect, releaseEffect } from '#shared/effects.ts';
import type { Mailer } from './mail.ts';
import { renderOrderMail } from './order-mail.ts';

export const NOTIFY_CONSUMER = 'notify';

export interface NotifyDeps extends TableDeps {
  mailer: Mailer;
}

/**
 * Sends the customer one mail per event, whatever the number of deliveries: claim the effect, send
 * with the event id as idempotency key, mark it done. A failed send gives the claim back for the retry.
 */
export async function notifyCustomer(
  deps: NotifyDeps,
  event: OrderEvent,
  now = new Date(),
): Promise<'sent' | 'duplicate'> {
  const eventId = event.detail.messageId;
  const claim = await claimEffect(deps, NOTIFY_CONSUMER, eventId, now);
  if (claim.status === 'done') return 'duplicate';
  try {
    await deps.mailer.send(renderOrderMail(event), eventId);
  } catch (error) {
    await releaseEffect(deps, NOTIFY_CONSUMER, eventId, claim.token);
    throw error;
  }
  await completeEffect(deps, NOTIFY_CONSUMER, eventId, now);
  return 'sent';
}
