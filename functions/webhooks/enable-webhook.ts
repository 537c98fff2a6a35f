import { jsonResponse, requireClientId } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import { httpChain } from '#shared/middleware/http.ts';
import { deliveryDepsFromEnv } from './delivery-deps.ts';
import { enableAndReplay } from './replay.ts';
import { type EnabledWebhookBody, webhookPathSchema } from './route-schemas.ts';

const deps = deliveryDepsFromEnv();

/**
 * `POST /webhooks/{id}/enable`: enables the caller's endpoint and replays its FAILED deliveries (those that ran out
 * of attempts or stopped when the endpoint was disabled) with their original `webhook-id` and body.
 */
export const handler = httpChain({ rateLimit: deps, path: webhookPathSchema }).handler(async (event) => {
  const clientId = requireClientId(event);
  const { id } = event.parsed.path;
  const result = await enableAndReplay(deps, clientId, id);
  logger.info('webhook enabled', { webhookId: id, clientId, ...result });
  const body: EnabledWebhookBody = { id, status: 'ENABLED', ...result };
  return jsonResponse(200, body);
});
