import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { apiHandler, ResourceNotFound, requireClientId, validationError } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import * as z from '#shared/zod.ts';
import { deleteWebhook, WebhookNotFound } from './endpoints.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

const pathSchema = z.object({ id: z.uuid({ error: 'must be a webhook id (UUID)' }) });

export const handler = apiHandler(async (event) => {
  const clientId = requireClientId(event);
  const path = pathSchema.safeParse(event.pathParameters ?? {});
  if (!path.success) throw validationError(path.error, 'path');
  try {
    await deleteWebhook(deps, clientId, path.data.id);
  } catch (error) {
    // Another client's endpoint has a different key, so it is "not found" too: ids cannot be probed.
    if (error instanceof WebhookNotFound) throw new ResourceNotFound('webhook');
    throw error;
  }
  logger.info('webhook deleted', { webhookId: path.data.id, clientId });
  return { statusCode: 204 };
});
