import { SQSClient } from '@aws-sdk/client-sqs';
import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { jsonResponse, requireClientId } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import { httpChain } from '#shared/middleware/http.ts';
import * as z from '#shared/zod.ts';
import { enableAndReplay } from './replay.ts';

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

const pathSchema = z.object({ id: z.uuid({ error: 'must be a webhook id (UUID)' }) });

/**
 * `POST /webhooks/{id}/enable`: enables the caller's endpoint and replays its FAILED deliveries (those that ran out
 * of attempts or stopped when the endpoint was disabled) with their original `webhook-id` and body.
 */
export const handler = httpChain({ path: pathSchema }).handler(async (event) => {
  const clientId = requireClientId(event);
  const { id } = event.parsed.path;
  const result = await enableAndReplay(deps, clientId, id);
  logger.info('webhook enabled', { webhookId: id, clientId, ...result });
  return jsonResponse(200, { id, status: 'ENABLED', ...result });
});
