import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ENV } from '#contracts/environment.ts';
import { DEFAULT_MAIL_SEND_CONCURRENCY, MAIL_SENDER_CONSUMER } from '#contracts/mail.ts';
import { countHeld } from '#functions/resilience/circuit-breaker.ts';
import { loadConfig, positiveIntFromEnv, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { concurrencyLimit } from '#shared/limit.ts';
import { sqsRecords } from '#shared/middleware/batch.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { holdOnQueue } from '#shared/requeue.ts';
import { keys } from '#shared/table-keys.ts';
import { createMailer, mailConfigSchema } from './mail.ts';
import { parseMailRequest } from './mail-request.ts';
import { mailCircuit, mailRetryBackoff, mailSenderConfigSchema } from './mail-sender-config.ts';
import { sendRequestedMail } from './mail-service.ts';

/**
 * The burst mail service's sender (`-c mailService=burst`): the mail request queue's consumer, in large batches. Every
 * record of a batch is sent on its own and in parallel (`sqsRecords`), each idempotent by its request id, so one slow
 * or failed mail holds back nothing but itself.
 */
const config = loadConfig(
  mailSenderConfigSchema
    .extend({
      [ENV.SENT_MAIL_TABLE_NAME]: requiredString(ENV.SENT_MAIL_TABLE_NAME),
      [ENV.MAIL_SEND_CONCURRENCY]: positiveIntFromEnv(
        ENV.MAIL_SEND_CONCURRENCY,
        DEFAULT_MAIL_SEND_CONCURRENCY,
      ),
    })
    .and(mailConfigSchema),
);

const table = { doc: documentClient, tableName: config.TABLE_NAME };
const deps = {
  ...table,
  sentMailTableName: config.SENT_MAIL_TABLE_NAME,
  mailer: createMailer(config, () => new SESv2Client({})),
  circuit: mailCircuit(table, config),
};
const sqs = new SQSClient({});
// One limit per execution environment: an environment runs one batch at a time on AWS.
const inFlight = concurrencyLimit(config.MAIL_SEND_CONCURRENCY);
const holds = { ...table, sqs, queueUrls: new Map<string, Promise<string>>() };

export const handler = lambdaChain<SQSEvent, SQSBatchResponse>()
  .use(mailRetryBackoff(config, sqs, MAIL_SENDER_CONSUMER))
  .handler(
    sqsRecords(async (record, log) => {
      const request = parseMailRequest(record.body);
      const outcome = await inFlight(() => sendRequestedMail(deps, request));
      const about = {
        requestId: request.requestId,
        source: request.source,
        ...(request.orderId ? { orderId: request.orderId } : {}),
        ...(request.campaignId ? { campaignId: request.campaignId } : {}),
      };
      if (typeof outcome === 'object') {
        // The copy is on the queue before this record succeeds (and is deleted); a failed send fails the record.
        const held = await holdOnQueue(
          holds,
          record,
          keys.holdTicket(MAIL_SENDER_CONSUMER, request.requestId),
          outcome.held.waitSeconds,
        );
        countHeld('mail');
        log.info(held === 'requeued' ? 'mail held: the mail circuit is open' : 'surplus held copy dropped', {
          ...about,
          waitSeconds: outcome.held.waitSeconds,
        });
        return;
      }
      log.info(outcome === 'sent' ? 'mail sent' : 'duplicate request, mail already sent', about);
    }),
  );
