import type { OrderEvent } from '#functions/orders/events.ts';
import type { TableDeps } from '#shared/dynamodb.ts';
import { attemptMessage, createDelivery } from './deliveries.ts';
import { listSubscribedEndpoints } from './endpoints.ts';
import { type DeliveryMessage, type DeliveryQueue, enqueueDeliveries } from './messages.ts';
import { webhookPayload } from './payload.ts';

export interface FanOutDeps extends TableDeps {
  queue: DeliveryQueue;
}

export interface FanOutResult {
  /** Endpoints of the client subscribed to the event type. */
  endpoints: number;
  /** Attempt-1 messages sent (new deliveries, and ones a crashed earlier run may not have sent). */
  enqueued: number;
}

/**
 * Turns one event into one delivery per subscribed ENABLED endpoint of the event's client. Idempotent per event and
 * endpoint: the delivery record is written conditionally under a key derived from both, so a redelivered event finds
 * its records and sends nothing new, except the first message of a delivery nobody has picked up yet (an earlier
 * run may have crashed between the write and the send; a duplicate message is harmless, see `claimAttempt`).
 */
export async function fanOut(deps: FanOutDeps, event: OrderEvent, now = new Date()): Promise<FanOutResult> {
  const { detail } = event;
  const endpoints = await listSubscribedEndpoints(deps, detail.clientId, detail.messageType);
  if (endpoints.length === 0) return { endpoints: 0, enqueued: 0 };
  const body = JSON.stringify(webhookPayload(event));
  const results = await Promise.all(
    endpoints.map((endpoint) =>
      createDelivery(
        deps,
        {
          webhookId: endpoint.webhookId,
          clientId: detail.clientId,
          eventId: detail.messageId,
          eventType: detail.messageType,
          orderId: detail.orderId,
          correlationId: detail.correlationId,
          body,
        },
        now,
      ),
    ),
  );
  const messages: DeliveryMessage[] = results
    .filter(
      ({ created, record }) =>
        created ||
        (record.status === 'PENDING' &&
          record.attempt === 1 &&
          record.previousToken === undefined &&
          record.leaseUntil === undefined),
    )
    .map(({ record }) => attemptMessage(record));
  await enqueueDeliveries(deps.queue, messages, now);
  return { endpoints: endpoints.length, enqueued: messages.length };
}
