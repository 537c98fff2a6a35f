import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ENV } from '#contracts/environment.ts';
import { ORDER_EVENT_TYPES, parseOrderEvent } from '#functions/orders/events.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { sqsRecords } from '#shared/middleware/batch.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import * as z from '#shared/zod.ts';
import { fanOut } from './event-fan-out.ts';

const config = loadConfig(
  z.object({
    [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
    [ENV.DELIVERY_QUEUE_URL]: requiredString(ENV.DELIVERY_QUEUE_URL),
  }),
);

const deps = {
  doc: documentClient,
  tableName: config.TABLE_NAME,
  queue: { sqs: new SQSClient({}), queueUrl: config.DELIVERY_QUEUE_URL },
};

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
