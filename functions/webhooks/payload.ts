import type { OrderEvent } from '#functions/orders/events.ts';

/**
 * The body of a delivery, in the Standard Webhooks shape `{type, timestamp, data}`. `data.version` is the order
 * version the fact produced: deliveries can repeat and arrive out of order, so a receiver keeps the highest version
 * it has seen per order and drops anything older. The customer's e-mail and the payment token never leave.
 */
export interface WebhookPayload {
  type: OrderEvent['detail']['messageType'];
  /** When the fact happened (not when this attempt was made: that is the `webhook-timestamp` header). */
  timestamp: string;
  data: {
    orderId: string;
    status: OrderEvent['order']['status'];
    version: number;
    customerId: string;
    items: OrderEvent['order']['items'];
    currency: string;
    amount?: number;
    paymentRef?: string;
    failureReason?: string;
    createdAt: string;
  };
}

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
