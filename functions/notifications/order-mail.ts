import { formatAmount } from '#functions/orders/currency.ts';
import type { OrderEvent } from '#functions/orders/events.ts';
import type { FailureReason } from '#functions/orders/order.ts';
import type { MailMessage } from './mail.ts';

const REASON_TEXT: Record<FailureReason, string> = {
  OUT_OF_STOCK: 'some items are out of stock',
  UNKNOWN_SKU: 'some items are not in our catalogue',
  PRICE_UNAVAILABLE: 'some items are not sold in the currency you chose',
  ORDER_LIMIT_EXCEEDED: 'it is over the limit of one order',
  PAYMENT_DECLINED: 'the payment was declined',
  PAYMENT_UNAVAILABLE: 'the payment could not be processed in time',
  SAGA_FAILED: 'of a technical problem on our side',
};

/** The mail a customer gets for an order event (OrderConfirmed or OrderCancelled). */
export function renderOrderMail({ detail, order }: OrderEvent): MailMessage {
  const greeting = `Hello ${order.customer.name ?? 'there'},`;
  const lines = order.items.map((item) => `  ${item.quantity} x ${item.sku}`).join('\n');
  const reference = `Order reference: ${order.orderId}`;
  if (detail.messageType === 'OrderConfirmed') {
    const total =
      order.amount === undefined ? '' : `\nTotal: ${formatAmount(order.amount, order.currency)}\n`;
    return {
      to: order.customer.email,
      subject: 'Your order is confirmed',
      text: `${greeting}\n\nyour order is confirmed:\n${lines}\n${total}\n${reference}\n`,
      orderId: order.orderId,
    };
  }
  const reason = order.failureReason ? REASON_TEXT[order.failureReason] : REASON_TEXT.SAGA_FAILED;
  return {
    to: order.customer.email,
    subject: 'Your order was cancelled',
    text: `${greeting}\n\nwe could not complete your order because ${reason}:\n${lines}\n\nYou have not been charged.\n\n${reference}\n`,
    orderId: order.orderId,
  };
}
