import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { ResourceNotFound, requireClientId } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import { httpChain } from '#shared/middleware/http.ts';
import * as z from '#shared/zod.ts';
import { deleteWebhook, WebhookNotFound } from './endpoints.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

const pathSchema = z.object({ id: z.uuid({ error: 'must be a webhook id (UUID)' }) });

export const handler = httpChain({ path: pathSchema }).handler(async (event) => {
  const clientId = requireClientId(event);
  const { id } = event.parsed.path;
  try {
    await deleteWebhook(deps, clientId, id);
  } catch (error) {
    // Another client's endpoint has a different key, so it is "not found" too: ids cannot be probed.
    if (error instanceof WebhookNotFound) throw new ResourceNotFound('webhook');
    throw error;
  }
  logger.info('webhook deleted', { webhookId: id, clientId });
  return { statusCode: 204 };
});
