import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { jsonResponse, ResourceNotFound, requireClientId } from '#shared/http.ts';
import { httpChain } from '#shared/middleware/http.ts';
import * as z from '#shared/zod.ts';
import { listAttempts } from './deliveries.ts';
import { getEndpoint } from './endpoints.ts';
import {
  DEFAULT_DELIVERIES_LIMIT,
  type DeliveriesPageBody,
  deliveriesQuerySchema,
  webhookPathSchema,
} from './route-schemas.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

/**
 * `GET /webhooks/{id}/deliveries`: the endpoint's delivery attempts, newest first, one page at a time. The endpoint
 * is looked up under the caller's client first, so another client's id answers 404 like an unknown one.
 */
export const handler = httpChain({
  rateLimit: deps,
  path: webhookPathSchema,
  query: deliveriesQuerySchema,
}).handler(async (event) => {
  const clientId = requireClientId(event);
  const { path, query } = event.parsed;
  const endpoint = await getEndpoint(deps, clientId, path.id);
  if (!endpoint) throw new ResourceNotFound('webhook');
  const page = await listAttempts(deps, endpoint.webhookId, {
    limit: query.limit ?? DEFAULT_DELIVERIES_LIMIT,
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  });
  const body: DeliveriesPageBody = { attempts: page.attempts, nextCursor: page.nextCursor ?? null };
  return jsonResponse(200, body);
});
