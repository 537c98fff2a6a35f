import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { jsonResponse, requireClientId } from '#shared/http.ts';
import { httpChain } from '#shared/middleware/http.ts';
import * as z from '#shared/zod.ts';
import { listWebhooks } from './endpoints.ts';
import type { WebhookListBody } from './route-schemas.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

export const handler = httpChain({ rateLimit: deps }).handler(async (event) => {
  const clientId = requireClientId(event);
  const webhooks = await listWebhooks(deps, clientId);
  const body: WebhookListBody = {
    webhooks: webhooks.map(({ webhookId, url, events, status, createdAt, disabledReason, disabledAt }) => ({
      id: webhookId,
      url,
      events,
      status,
      createdAt,
      // Why deliveries stopped, so the client knows what to fix before `POST /webhooks/{id}/enable`.
      ...(status === 'DISABLED'
        ? { disabledReason: disabledReason ?? null, disabledAt: disabledAt ?? null }
        : {}),
    })),
  };
  return jsonResponse(200, body);
});
