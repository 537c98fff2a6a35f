import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { ENV } from '#contracts/environment.ts';
import { METRICS } from '#contracts/metrics.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { getHeader, jsonResponse, requireClientId } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import { metrics } from '#shared/metrics.ts';
import { httpChain } from '#shared/middleware/http.ts';
import { preferredWaitSeconds } from '#shared/prefer.ts';
import * as z from '#shared/zod.ts';
import { acceptOrder } from './acceptance.ts';
import { type AcceptedOrder, placeOrderSchema, toOrderView } from './order.ts';
import { idempotencyKeyOf, MAX_ORDER_BODY_BYTES } from './order-request.ts';
import { getOrder } from './order-store.ts';
import { isTerminal, waitForTerminal, waitToApply } from './wait.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

export const handler = httpChain({
  rateLimit: deps,
  body: { schema: placeOrderSchema, limitBytes: MAX_ORDER_BODY_BYTES },
}).handler(async (event, context) => {
  const clientId = requireClientId(event);
  const idempotencyKey = idempotencyKeyOf(event);
  const wait = waitToApply(preferredWaitSeconds(getHeader(event, 'prefer')));
  const { body: order, correlationId } = event.parsed;

  const accepted = await acceptOrder(deps, { clientId, idempotencyKey, correlationId, order });
  const { orderId, replayed } = accepted;
  // The key is not kept on the order: this line is where an operator finds which request created it.
  logger.info(replayed ? 'order replayed' : 'order accepted', { orderId, clientId, idempotencyKey });
  if (!replayed) metrics.addMetric(METRICS.OrdersAccepted, MetricUnit.Count, 1);

  const statusUrl = `/orders/${orderId}`;
  const headers = { location: statusUrl, ...(replayed ? { 'idempotent-replayed': 'true' } : {}) };
  const acceptedBody: AcceptedOrder = { trackingId: orderId, status: 'PENDING', statusUrl };
  if (wait === undefined) return jsonResponse(202, acceptedBody, headers);

  // A replay waits for the order its first request created, which may have ended already.
  const latest = await waitForTerminal(() => getOrder(deps, orderId), {
    waitMs: wait * 1000,
    remainingMs: context.getRemainingTimeInMillis(),
    last: accepted.order,
  });
  const applied = { ...headers, 'preference-applied': `wait=${wait}` };
  if (latest && isTerminal(latest)) {
    return jsonResponse(200, toOrderView(latest), { ...applied, 'content-location': statusUrl });
  }
  return jsonResponse(202, acceptedBody, applied);
});
