import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ENV } from '#contracts/environment.ts';
import { parseOrderEvent } from '#functions/orders/events.ts';
import { loadConfig, positiveIntFromEnv, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { sqsRecords } from '#shared/middleware/batch.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { DEFAULT_BACKOFF, retryBackoff } from '#shared/middleware/retry-backoff.ts';
import * as z from '#shared/zod.ts';
import { createMailer, mailConfigSchema } from './mail.ts';
import { NOTIFY_CONSUMER, notifyCustomer } from './notify-customer.ts';

const config = loadConfig(
  z
    .object({
      [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
      [ENV.RETRY_BACKOFF_BASE_SECONDS]: positiveIntFromEnv(
        ENV.RETRY_BACKOFF_BASE_SECONDS,
        DEFAULT_BACKOFF.baseSeconds,
      ),
      [ENV.RETRY_BACKOFF_MAX_SECONDS]: positiveIntFromEnv(
        ENV.RETRY_BACKOFF_MAX_SECONDS,
        DEFAULT_BACKOFF.maxSeconds,
      ),
    })
    .and(mailConfigSchema),
);

const deps = {
  doc: documentClient,
  tableName: config.TABLE_NAME,
  mailer: createMailer(config, () => new SESv2Client({})),
};

// A broken mail provider is the typical failure here: retry a blip within seconds, back off from an outage.
export const handler = lambdaChain<SQSEvent, SQSBatchResponse>()
  .use(
    retryBackoff({
      sqs: new SQSClient({}),
      policy: {
        baseSeconds: config.RETRY_BACKOFF_BASE_SECONDS,
        maxSeconds: Math.max(config.RETRY_BACKOFF_BASE_SECONDS, config.RETRY_BACKOFF_MAX_SECONDS),
      },
      failureLog: { doc: documentClient, tableName: config.TABLE_NAME, consumer: NOTIFY_CONSUMER },
    }),
  )
  .handler(
    sqsRecords(async (record, log) => {
      const event = parseOrderEvent(record.body, ['OrderConfirmed', 'OrderCancelled']);
      const outcome = await notifyCustomer(deps, event);
      log.info(outcome === 'sent' ? 'customer notified' : 'duplicate event, mail already sent', {
        orderId: event.detail.orderId,
        messageId: event.detail.messageId,
        messageType: event.detail.messageType,
      });
    }),
  );
