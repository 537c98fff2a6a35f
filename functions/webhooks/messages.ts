/**
 * The messages of the delivery queue and how they are sent. One message is one attempt of one delivery (one event
 * to one endpoint), so a slow or dead endpoint only ever holds up its own messages.
 *
 * SQS delays a message by at most 15 minutes (`DelaySeconds` ≤ 900), while the retry schedule waits up to 10 hours.
 * A message therefore carries the time it is due (`notBefore`); a message received early is sent again with the
 * remaining delay (another hop of at most 15 minutes) until it is due. A 10-hour wait costs 40 small messages.
 */
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from '#shared/zod.ts';

export const MAX_SQS_DELAY_SECONDS = 900;
const SQS_BATCH = 10;

export const deliveryMessageSchema = z.object({
  /**
   * `attempt`: run attempt `attempt` of the delivery if `token` still authorises it. `replay`: a parked delivery
   * redriven from the DLQ by an operator; it reopens the delivery for a fresh round of attempts.
   */
  kind: z.enum(['attempt', 'replay']),
  deliveryId: z.string().min(1),
  webhookId: z.string().min(1),
  clientId: z.string().min(1),
  attempt: z.number().int().min(1),
  token: z.string().min(1),
  notBefore: z.iso.datetime({ offset: true }),
  correlationId: z.string().min(1),
  /** Why a delivery was parked (DLQ copies only), for the operator reading the DLQ. */
  reason: z.string().optional(),
});
export type DeliveryMessage = z.infer<typeof deliveryMessageSchema>;

export class DeliveryEnqueueFailed extends Error {
  override name = 'DeliveryEnqueueFailed';
}

export interface DeliveryQueue {
  sqs: SQSClient;
  queueUrl: string;
}

/** Whole seconds until `notBefore`, capped to what one SQS hop can wait. */
export function hopDelaySeconds(message: Pick<DeliveryMessage, 'notBefore'>, now: Date): number {
  const remainingMs = Date.parse(message.notBefore) - now.getTime();
  return Math.min(MAX_SQS_DELAY_SECONDS, Math.max(0, Math.ceil(remainingMs / 1000)));
}

export async function enqueueDelivery(
  queue: DeliveryQueue,
  message: DeliveryMessage,
  now: Date,
): Promise<void> {
  await queue.sqs.send(
    new SendMessageCommand({
      QueueUrl: queue.queueUrl,
      MessageBody: JSON.stringify(message),
      DelaySeconds: hopDelaySeconds(message, now),
    }),
  );
}

/** Sends many messages in batches of ten; throws if any entry was refused, so the caller's message is retried. */
export async function enqueueDeliveries(
  queue: DeliveryQueue,
  messages: readonly DeliveryMessage[],
  now: Date,
): Promise<void> {
  for (let start = 0; start < messages.length; start += SQS_BATCH) {
    const chunk = messages.slice(start, start + SQS_BATCH);
    const result = await queue.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.queueUrl,
        Entries: chunk.map((message, index) => ({
          Id: String(index),
          MessageBody: JSON.stringify(message),
          DelaySeconds: hopDelaySeconds(message, now),
        })),
      }),
    );
    const failed = result.Failed ?? [];
    if (failed.length > 0) {
      const detail = failed.map((entry) => `${entry.Id}: ${entry.Code ?? 'unknown'}`).join(', ');
      throw new DeliveryEnqueueFailed(`SQS refused ${failed.length} delivery message(s): ${detail}`);
    }
  }
}
