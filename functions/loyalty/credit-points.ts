import { ENV } from '#contracts/environment.ts';
import { parseOrderEvent } from '#functions/orders/events.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { recordLogger } from '#shared/logger.ts';
import { sqsBatchHandler } from '#shared/sqs.ts';
import * as z from '#shared/zod.ts';
import { creditPoints } from './points.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

export const handler = sqsBatchHandler(async (record) => {
  const event = parseOrderEvent(record.body, ['OrderConfirmed']);
  const outcome = await creditPoints(deps, event);
  const log = recordLogger(event.detail.correlationId, {
    orderId: event.detail.orderId,
    messageId: event.detail.messageId,
  });
  if (outcome.status === 'credited') log.info('points credited', { points: outcome.points });
  else log.info('duplicate event, points already credited');
});
