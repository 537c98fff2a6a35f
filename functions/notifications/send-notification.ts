import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseOrderEvent } from '#functions/orders/events.ts';
import { countHeld } from '#functions/resilience/circuit-breaker.ts';
import { loadConfig } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { sqsRecords } from '#shared/middleware/batch.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { holdOnQueue } from '#shared/requeue.ts';
import { keys } from '#shared/table-keys.ts';
import { createMailer, mailConfigSchema } from './mail.ts';
import { mailCircuit, mailRetryBackoff, mailSenderConfigSchema } from './mail-sender-config.ts';
import { NOTIFY_CONSUMER, notifyCustomer } from './notify-customer.ts';

const config = loadConfig(mailSenderConfigSchema.and(mailConfigSchema));

const table = { doc: documentClient, tableName: config.TABLE_NAME };
const deps = {
  ...table,
  mailer: createMailer(config, () => new SESv2Client({})),
  circuit: mailCircuit(table, config),
};
const sqs = new SQSClient({});
const holds = { ...table, sqs, queueUrls: new Map<string, Promise<string>>() };

export const handler = lambdaChain<SQSEvent, SQSBatchResponse>()
  .use(mailRetryBackoff(config, sqs, NOTIFY_CONSUMER))
  .handler(
    sqsRecords(async (record, log) => {
      const event = parseOrderEvent(record.body, ['OrderConfirmed', 'OrderCancelled']);
      const outcome = await notifyCustomer(deps, event);
      if (typeof outcome === 'object') {
        // The copy is on the queue before this record succeeds (and is deleted); a failed send fails the record.
        const held = await holdOnQueue(
          holds,
          record,
          keys.holdTicket(NOTIFY_CONSUMER, event.detail.messageId),
          outcome.held.waitSeconds,
        );
        countHeld('mail');
        log.info(held === 'requeued' ? 'mail held: the mail circuit is open' : 'surplus held copy dropped', {
          orderId: event.detail.orderId,
          messageId: event.detail.messageId,
          waitSeconds: outcome.held.waitSeconds,
        });
        return;
      }
      log.info(outcome === 'sent' ? 'customer notified' : 'duplicate event, mail already sent', {
        orderId: event.detail.orderId,
        messageId: event.detail.messageId,
        messageType: event.detail.messageType,
      });
    }),
  );
