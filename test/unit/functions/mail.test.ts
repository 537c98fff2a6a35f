import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { SinkMailer } from '#functions/notifications/mail.ts';
import { renderOrderMail } from '#functions/notifications/order-mail.ts';
import type { OrderEvent } from '#functions/orders/events.ts';
import { NO_AUTHENTICATION } from '#shared/request-auth.ts';
import { httpStub, ORDER_ID, orderEvent, type RecordedRequest, type StubReply } from './helpers.ts';

let reply: (request: RecordedRequest) => StubReply = () => ({ status: 202 });
const sink = await httpStub((request) => reply(request));
const mailer = new SinkMailer(sink.url, NO_AUTHENTICATION);
const message = { to: 'ada@example.com', subject: 'Hi', text: 'Body', orderId: ORDER_ID };

afterAll(() => sink.close());

beforeEach(() => {
  sink.requests.length = 0;
});

describe('SinkMailer', () => {
  it('posts the mail to /v1/mail with the idempotency key', async () => {
    reply = () => ({ status: 202, body: { id: 'ml_1' } });

    await mailer.send(message, 'evt-1');

    expect(sink.requests).toEqual([
      {
        method: 'POST',
        path: '/v1/mail',
        headers: expect.objectContaining({ 'idempotency-key': 'evt-1', 'content-type': 'application/json' }),
        body: message,
      },
    ]);
  });

  it.each([408, 429, 500, 503])('is unavailable (retry later) on %i', async (status) => {
    reply = () => ({ status });

    await expect(mailer.send(message, 'evt-1')).rejects.toMatchObject({
      name: 'MailUnavailable',
      message: `mail sink answered HTTP ${status}`,
    });
  });

  it.each([400, 404, 409, 413, 499])('is rejected (retrying cannot help) on %i', async (status) => {
    reply = () => ({ status });

    await expect(mailer.send(message, 'evt-1')).rejects.toMatchObject({
      name: 'MailRejected',
      message: `mail sink answered HTTP ${status}`,
    });
  });

  it('is unavailable when the sink cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    await expect(
      new SinkMailer(`http://127.0.0.1:${port}`, NO_AUTHENTICATION).send(message, 'evt-1'),
    ).rejects.toMatchObject({
      name: 'MailUnavailable',
      message: expect.stringMatching(/^mail sink unreachable: /),
    });
  });
});

function event(
  messageType: 'OrderConfirmed' | 'OrderCancelled',
  order: Partial<OrderEvent['order']> = {},
): OrderEvent {
  return orderEvent(
    { messageType },
    {
      status: messageType === 'OrderConfirmed' ? 'CONFIRMED' : 'CANCELLED',
      customer: { id: 'cust-1', email: 'ada@example.com', name: 'Ada' },
      items: [
        { sku: 'BEAN-1', quantity: 2 },
        { sku: 'MUG-7', quantity: 1 },
      ],
      createdAt: '2026-05-01T11:59:00.000Z',
      ...order,
    },
  );
}

describe('renderOrderMail', () => {
  it('confirms with every line, the total and the order reference, to the customer', () => {
    const mail = renderOrderMail(event('OrderConfirmed', { amount: 3448 }));

    expect(mail).toEqual({
      to: 'ada@example.com',
      subject: 'Your order is confirmed',
      text: `Hello Ada,\n\nyour order is confirmed:\n  2 x BEAN-1\n  1 x MUG-7\n\nTotal: €34.48\n\nOrder reference: ${ORDER_ID}\n`,
      orderId: ORDER_ID,
    });
  });

  it('leaves the total out when the order has no amount, and greets a nameless customer', () => {
    const mail = renderOrderMail(
      event('OrderConfirmed', { customer: { id: 'cust-1', email: 'ada@example.com' } }),
    );

    expect(mail.text).toBe(
      `Hello there,\n\nyour order is confirmed:\n  2 x BEAN-1\n  1 x MUG-7\n\nOrder reference: ${ORDER_ID}\n`,
    );
  });

  it.each([
    ['OUT_OF_STOCK', 'some items are out of stock'],
    ['UNKNOWN_SKU', 'some items are not in our catalogue'],
    ['PAYMENT_DECLINED', 'the payment was declined'],
    ['PAYMENT_UNAVAILABLE', 'the payment could not be processed in time'],
    ['SAGA_FAILED', 'of a technical problem on our side'],
  ] as const)('explains a %s cancellation and says nothing was charged', (failureReason, reason) => {
    const mail = renderOrderMail(event('OrderCancelled', { failureReason }));

    expect(mail).toEqual({
      to: 'ada@example.com',
      subject: 'Your order was cancelled',
      text: `Hello Ada,\n\nwe could not complete your order because ${reason}:\n  2 x BEAN-1\n  1 x MUG-7\n\nYou have not been charged.\n\nOrder reference: ${ORDER_ID}\n`,
      orderId: ORDER_ID,
    });
  });

  it('blames a technical problem when a cancellation carries no reason', () => {
    expect(renderOrderMail(event('OrderCancelled')).text).toContain(
      'because of a technical problem on our side:',
    );
  });
});
