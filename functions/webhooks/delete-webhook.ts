import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { requireClientId } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import { httpChain } from '#shared/middleware/http.ts';
import * as z from '#shared/zod.ts';
import { deleteWebhook } from './endpoints.ts';
import { webhookPathSchema } from './route-schemas.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

export const handler = httpChain({ rateLimit: deps, path: webhookPathSchema }).handler(async (event) => {
  const clientId = requireClientId(event);
  const { id } = event.parsed.path;
  await deleteWebhook(deps, clientId, id);
  logger.info('webhook deleted', { webhookId: id, clientId });
  return { statusCode: 204 };
});
