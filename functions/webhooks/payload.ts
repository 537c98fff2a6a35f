import { ORDER_EVENT_TYPES } from '#contracts/events.ts';
import type { OrderEvent } from '#functions/orders/events.ts';
import { ORDER_STATUSES } from '#functions/orders/order.ts';
import * as z from '#shared/zod.ts';

/**
 * The body of a delivery, in the Standard Webhooks shape `{type, timestamp, data}`. `data.version` is the order
 * version the fact produced: deliveries can repeat and arrive out of order, so a receiver keeps the highest version
 * it has seen per order and drops anything older. The customer's e-mail and the payment token never leave.
 */
export const webhookPayloadSchema = z.object({
  type: z.enum(ORDER_EVENT_TYPES),
  /** When the fact happened (not when this attempt was made: that is the `webhook-timestamp` header). */
  timestamp: z.string(),
  data: z.object({
    orderId: z.uuid(),
    status: z.enum(ORDER_STATUSES),
    version: z.number().int().min(1),
    customerId: z.string(),
    items: z.array(z.object({ sku: z.string(), quantity: z.number().int() })),
    currency: z.string(),
    amount: z.number().int().optional(),
    paymentRef: z.string().optional(),
    failureReason: z.string().optional(),
    createdAt: z.string(),
  }),
});
export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;

export function webhookPayload(event: OrderEvent): WebhookPayload {
  const { detail, order } = event;
  return {
    type: detail.messageType,
    timestamp: detail.occurredAt,
    data: {
      orderId: order.orderId,
      status: order.status,
      version: detail.version,
      customerId: order.customer.id,
      items: order.items,
      currency: order.currency,
      ...(order.amount === undefined ? {} : { amount: order.amount }),
      ...(order.paymentRef === undefined ? {} : { paymentRef: order.paymentRef }),
      ...(order.failureReason === undefined ? {} : { failureReason: order.failureReason }),
      createdAt: order.createdAt,
    },
  };
}
