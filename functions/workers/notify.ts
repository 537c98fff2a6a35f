import { SESv2Client } from '@aws-sdk/client-sesv2';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { parseOrderEvent } from '#shared/events.ts';
import { recordLogger } from '#shared/logger.ts';
import { createMailer, mailConfigSchema } from '#shared/mail.ts';
import { notifyCustomer } from '#shared/notify.ts';
import { sqsBatchHandler } from '#shared/sqs.ts';
import * as z from '#shared/zod.ts';

const config = loadConfig(z.object({ TABLE_NAME: requiredString('TABLE_NAME') }).and(mailConfigSchema));

const deps = {
  doc: documentClient,
  tableName: config.TABLE_NAME,
  mailer: createMailer(config, () => new SESv2Client({})),
};

export const handler = sqsBatchHandler(async (record) => {
  const event = parseOrderEvent(record.body, ['OrderConfirmed', 'OrderCancelled']);
  const outcome = await notifyCustomer(deps, event);
  recordLogger(event.detail.correlationId, {
    orderId: event.detail.orderId,
    messageId: event.detail.messageId,
  }).info(outcome === 'sent' ? 'customer notified' : 'duplicate event, mail already sent', {
    messageType: event.detail.messageType,
  });
});
