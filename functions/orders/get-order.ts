import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { getHeader, jsonResponse, ResourceNotFound, requireClientId } from '#shared/http.ts';
import { httpChain } from '#shared/middleware/http.ts';
import { preferredWaitSeconds } from '#shared/prefer.ts';
import * as z from '#shared/zod.ts';
import { orderPathSchema, toOrderView } from './order.ts';
import { getOrder } from './order-store.ts';
import { waitForTerminal, waitToApply } from './wait.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

export const handler = httpChain({ rateLimit: deps, path: orderPathSchema }).handler(
  async (event, context) => {
    const clientId = requireClientId(event);
    const { trackingId } = event.parsed.path;
    const wait = waitToApply(preferredWaitSeconds(getHeader(event, 'prefer')));

    // Consistent read: a client polling right after its 202 must see its own order.
    const order = await getOrder(deps, trackingId);
    // Someone else's order answers exactly like an unknown one, so ids cannot be probed.
    if (!order || order.clientId !== clientId) throw new ResourceNotFound('order');
    if (wait === undefined) return jsonResponse(200, toOrderView(order));

    const latest = await waitForTerminal(() => getOrder(deps, trackingId), {
      waitMs: wait * 1000,
      remainingMs: context.getRemainingTimeInMillis(),
      last: order,
    });
    return jsonResponse(200, toOrderView(latest ?? order), { 'preference-applied': `wait=${wait}` });
  },
);
