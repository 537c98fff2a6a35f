/**
 * The synchronous baseline of the benchmark (never deployed): the same order, done inside the HTTP request.
 * It accepts the order exactly as `POST /orders` does, then runs reserve → charge → confirm → mail inline, with the
 * saga's compensations (void → release → cancel) when a step fails, all from the same domain modules the saga
 * steps and the notify worker use. The only difference from Buzzer is where the work happens: while the client
 * waits. `SYNC_RETRY_POLICY` holds the saga's own `Retry` clauses (read from the synthesized state machine) or
 * `{}` for a baseline that does not retry.
 */

import { SinkMailer } from '#functions/notifications/mail.ts';
import { notifyCustomer } from '#functions/notifications/notify-customer.ts';
import {
  acceptOrder,
  IdempotencyKeyReused,
  IdempotentRequestInProgress,
} from '#functions/orders/acceptance.ts';
import type { OrderEvent } from '#functions/orders/events.ts';
import { type OrderRecord, orderSummary, placeOrderSchema } from '#functions/orders/order.ts';
import { requireOrder } from '#functions/orders/order-store.ts';
import { authorizePayment, voidPayment } from '#functions/payments/charging.ts';
import { paymentStepDeps } from '#functions/payments/payment-config.ts';
import { cancelOrder, confirmOrder } from '#functions/saga/outcome.ts';
import type { SagaError } from '#functions/saga/saga-state.ts';
import { releaseStock, reserveStock } from '#functions/saga/stock.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { ApiError, getHeader, InvalidRequest, jsonResponse, requireClientId } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import { httpChain } from '#shared/middleware/http.ts';
import { sigV4FromEnvironment } from '#shared/request-auth.ts';
import * as z from '#shared/zod.ts';

/** One `Retry` clause of Amazon States Language. */
const retrierSchema = z.object({
  ErrorEquals: z.array(z.string()),
  IntervalSeconds: z.number().optional(),
  MaxAttempts: z.number().optional(),
  BackoffRate: z.number().optional(),
  MaxDelaySeconds: z.number().optional(),
  JitterStrategy: z.enum(['FULL', 'NONE']).optional(),
});
type Retrier = z.infer<typeof retrierSchema>;

const config = loadConfig(
  z.object({
    MAIL_SINK_URL: requiredString('MAIL_SINK_URL'),
    SYNC_RETRY_POLICY: requiredString('SYNC_RETRY_POLICY'),
  }),
);
const retryPolicy = z.record(z.string(), z.array(retrierSchema)).parse(JSON.parse(config.SYNC_RETRY_POLICY));
const deps = paymentStepDeps();
const mailer = new SinkMailer(config.MAIL_SINK_URL, sigV4FromEnvironment());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function matches(retrier: Retrier, error: Error): boolean {
  return retrier.ErrorEquals.some(
    (name) => name === 'States.ALL' || name === 'States.TaskFailed' || name === error.name,
  );
}

/** Runs one step the way the state machine would: its Retry clauses, each with its own attempt counter. */
async function step<T>(state: string, run: () => Promise<T>): Promise<T> {
  const retriers = retryPolicy[state] ?? [];
  const attempts = retriers.map(() => 0);
  for (;;) {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      const index = retriers.findIndex((retrier) => matches(retrier, error));
      const retrier = retriers[index];
      if (!retrier) throw error;
      const attempt = (attempts[index] ?? 0) + 1;
      if (attempt > (retrier.MaxAttempts ?? 3)) throw error;
      attempts[index] = attempt;
      const base = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** (attempt - 1);
      const capped = Math.min(base, retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
      await sleep(1000 * (retrier.JitterStrategy === 'FULL' ? Math.random() * capped : capped));
    }
  }
}

async function mail(order: OrderRecord): Promise<void> {
  const messageType = order.status === 'CONFIRMED' ? 'OrderConfirmed' : 'OrderCancelled';
  const messageId = `sync-${order.orderId}-${messageType}`;
  const summary = orderSummary(order);
  const event: OrderEvent = {
    eventId: messageId,
    detail: {
      messageId,
      messageType,
      orderId: order.orderId,
      clientId: order.clientId,
      correlationId: order.correlationId,
      version: order.version,
      occurredAt: order.updatedAt,
      payload: summary,
    },
    order: summary,
  };
  await notifyCustomer({ ...deps, mailer }, event);
}

/** Compensations in reverse order; a compensation that still fails after its retries leaves the order stuck. */
async function compensate(orderId: string, error: Error): Promise<void> {
  const cause: SagaError = { Error: error.name, Cause: JSON.stringify({ errorMessage: error.message }) };
  await step('VoidPayment', () => voidPayment(deps, orderId, cause));
  await step('ReleaseStock', () => releaseStock(deps, orderId, cause));
  await step('CancelOrder', () => cancelOrder(deps, orderId, cause));
}

const FAILURE_STATUS: Record<string, number> = { PAYMENT_DECLINED: 402, PAYMENT_UNAVAILABLE: 503 };

export const handler = httpChain({
  body: { schema: placeOrderSchema, limitBytes: 16 * 1024 },
}).handler(async (event) => {
  const clientId = requireClientId(event);
  const idempotencyKey = getHeader(event, 'idempotency-key');
  if (!idempotencyKey)
    throw new InvalidRequest('idempotency_key_required', 'header Idempotency-Key is required');
  const { body: placed, correlationId } = event.parsed;

  let orderId: string;
  try {
    ({ orderId } = await acceptOrder(deps, { clientId, idempotencyKey, correlationId, order: placed }));
  } catch (error) {
    if (error instanceof IdempotencyKeyReused)
      throw new ApiError(422, 'idempotency_key_reused', error.message);
    if (error instanceof IdempotentRequestInProgress)
      throw new ApiError(409, 'request_in_progress', error.message);
    throw error;
  }

  try {
    await step('ReserveStock', () => reserveStock(deps, orderId));
    await step('AuthorizePayment', () => authorizePayment(deps, orderId));
    await step('ConfirmOrder', () => confirmOrder(deps, orderId));
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    logger.warn('order failed, compensating', { orderId, error: error.name });
    await compensate(orderId, error);
  }

  const order = await requireOrder(deps, orderId);
  try {
    await mail(order);
  } catch (error) {
    // The order itself is settled; a lost mail is what the async design's queue and DLQ would have caught.
    logger.error('mail not sent', { orderId, error });
  }
  const status = order.status === 'CONFIRMED' ? 200 : (FAILURE_STATUS[order.failureReason ?? ''] ?? 500);
  return jsonResponse(status, {
    trackingId: orderId,
    status: order.status,
    failureReason: order.failureReason ?? null,
  });
});
