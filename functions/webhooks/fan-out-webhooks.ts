import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ORDER_EVENT_TYPES, parseOrderEvent } from '#functions/orders/events.ts';
import { sqsRecords } from '#shared/middleware/batch.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { deliveryDepsFromEnv } from './delivery-deps.ts';
import { fanOut } from './event-fan-out.ts';

const deps = deliveryDepsFromEnv();

/** Order events → one delivery message per subscribed endpoint (functions/webhooks/event-fan-out.ts). */
export const handler = lambdaChain<SQSEvent, SQSBatchResponse>().handler(
  sqsRecords(async (record, log) => {
    const event = parseOrderEvent(record.body, ORDER_EVENT_TYPES);
    const result = await fanOut(deps, event);
    log.info('webhook deliveries fanned out', {
      orderId: event.detail.orderId,
      messageId: event.detail.messageId,
      messageType: event.detail.messageType,
      ...result,
    });
  }),
);
