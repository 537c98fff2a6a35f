import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { jsonResponse, ResourceNotFound, requireClientId } from '#shared/http.ts';
import { httpChain } from '#shared/middleware/http.ts';
import * as z from '#shared/zod.ts';
import { listAttempts } from './deliveries.ts';
import { getEndpoint } from './endpoints.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100;

const pathSchema = z.object({ id: z.uuid({ error: 'must be a webhook id (UUID)' }) });
const querySchema = z.object({
  limit: z
    .string()
    .regex(/^\d{1,3}$/, { error: `must be a whole number from 1 to ${MAX_LIMIT}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(1, { error: 'must be at least 1' })
        .max(MAX_LIMIT, { error: `must be at most ${MAX_LIMIT}` }),
    )
    .optional(),
  cursor: z
    .string()
    .max(512)
    .regex(/^[A-Za-z0-9_-]+$/, { error: 'must be a nextCursor this route returned' })
    .optional(),
});

/**
 * `GET /webhooks/{id}/deliveries`: the endpoint's delivery attempts, newest first, one page at a time. The endpoint
 * is looked up under the caller's client first, so another client's id answers 404 like an unknown one.
 */
export const handler = httpChain({ rateLimit: deps, path: pathSchema, query: querySchema }).handler(
  async (event) => {
    const clientId = requireClientId(event);
    const { path, query } = event.parsed;
    const endpoint = await getEndpoint(deps, clientId, path.id);
    if (!endpoint) throw new ResourceNotFound('webhook');
    const page = await listAttempts(deps, endpoint.webhookId, {
      limit: query.limit ?? DEFAULT_LIMIT,
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
    });
    return jsonResponse(200, { attempts: page.attempts, nextCursor: page.nextCursor ?? null });
  },
);
