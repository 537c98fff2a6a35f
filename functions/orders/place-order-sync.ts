/**
 * `POST /orders` of the synchronous flow (`-c orderFlow=sync`): the order is charged, written and mailed while the
 * client waits, and the answer is the ended order (200, as `GET /orders/{id}` shows it), CONFIRMED or CANCELLED with
 * its reason. Case 1 of the four-case experiment; the asynchronous route (`accept-order.ts`) answers 202 instead.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { PAYMENT_UNAVAILABLE_RETRIES } from '#contracts/circuit.ts';
import { ENV } from '#contracts/environment.ts';
import { METRICS } from '#contracts/metrics.ts';
import { createMailer, mailConfigSchema } from '#functions/notifications/mail.ts';
import { mailCircuit, mailSenderConfigSchema } from '#functions/notifications/mail-sender-config.ts';
import { paymentStepDeps } from '#functions/payments/payment-config.ts';
import { loadConfig } from '#shared/config.ts';
import { jsonResponse, requireClientId } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import { metrics } from '#shared/metrics.ts';
import { httpChain } from '#shared/middleware/http.ts';
import * as z from '#shared/zod.ts';
import { placeOrderSchema, toOrderView } from './order.ts';
import { idempotencyKeyOf, MAX_ORDER_BODY_BYTES } from './order-request.ts';
import { CHARGE_RETRY_DELAYS_MS, placeOrderSynchronously } from './sync-placement.ts';

const mailConfig = loadConfig(mailSenderConfigSchema.and(mailConfigSchema));
const { SYNC_CHARGE_RETRIES: retries } = loadConfig(
  z.object({
    // Retries of a charge the provider failed, as the saga's (3 by default); 0 answers sooner and cancels more.
    [ENV.SYNC_CHARGE_RETRIES]: z
      .enum(['0', '1', '2', '3'], { error: `${ENV.SYNC_CHARGE_RETRIES} must be 0 to 3` })
      .default(String(PAYMENT_UNAVAILABLE_RETRIES) as '3')
      .transform(Number),
  }),
);
const payment = paymentStepDeps();
const deps = {
  ...payment,
  retryDelaysMs: CHARGE_RETRY_DELAYS_MS.slice(0, retries),
  mail: {
    mailer: createMailer(mailConfig, () => new SESv2Client({})),
    circuit: mailCircuit(payment, mailConfig),
  },
};

export const handler = httpChain({
  rateLimit: deps,
  body: { schema: placeOrderSchema, limitBytes: MAX_ORDER_BODY_BYTES },
}).handler(async (event) => {
  const clientId = requireClientId(event);
  const idempotencyKey = idempotencyKeyOf(event);
  const { body: order, correlationId } = event.parsed;

  const placed = await placeOrderSynchronously(deps, { clientId, idempotencyKey, correlationId, order });
  const { orderId, status, failureReason } = placed.order;
  logger.info(placed.replayed ? 'order replayed' : 'order placed synchronously', {
    orderId,
    clientId,
    idempotencyKey,
    status,
    failureReason,
  });
  if (!placed.replayed) metrics.addMetric(METRICS.OrdersAccepted, MetricUnit.Count, 1);
  const statusUrl = `/orders/${orderId}`;
  return jsonResponse(200, toOrderView(placed.order), {
    location: statusUrl,
    'content-location': statusUrl,
    ...(placed.replayed ? { 'idempotent-replayed': 'true' } : {}),
  });
});
