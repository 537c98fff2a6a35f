import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { PaymentClient } from '#functions/payments/payment-client.ts';
import { NO_AUTHENTICATION } from '#shared/request-auth.ts';
import { httpStub, type RecordedRequest, type StubReply } from './helpers.ts';

/** How the client reads each provider answer: the saga's Retry and Catch clauses depend on the error names. */

let reply: (request: RecordedRequest) => StubReply = () => ({ status: 500 });
const stub = await httpStub((request) => reply(request));
const client = new PaymentClient({ baseUrl: stub.url, timeoutMs: 1000, auth: NO_AUTHENTICATION });
const charge = { idempotencyKey: 'o-1', orderId: 'o-1', amount: 100, currency: 'EUR', token: 'tok_ok' };

afterAll(() => stub.close());

beforeEach(() => {
  stub.requests.length = 0;
});

describe('PaymentClient.charge', () => {
  it.each([200, 201])('returns the charge of a %i answer', async (status) => {
    reply = () => ({ status, body: { id: 'ch_1', status: 'authorized', amount: 100, currency: 'EUR' } });

    expect(await client.charge(charge)).toEqual({
      id: 'ch_1',
      status: 'authorized',
      amount: 100,
      currency: 'EUR',
    });
    expect(stub.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/charges',
      headers: { 'idempotency-key': 'o-1', accept: 'application/json' },
      body: { orderId: 'o-1', amount: 100, currency: 'EUR', token: 'tok_ok' },
    });
    expect(stub.requests[0]?.body).not.toHaveProperty('idempotencyKey');
  });

  it('refuses a success answer whose charge has an empty id', async () => {
    reply = () => ({ status: 201, body: { id: '', status: 'authorized', amount: 100, currency: 'EUR' } });

    await expect(client.charge(charge)).rejects.toMatchObject({
      name: 'PaymentProviderUnavailable',
      message: 'payment provider sent a malformed charge',
    });
  });

  it('declines on 402 with the provider message, its code when there is no message, or a default', async () => {
    reply = () => ({ status: 402, body: { error: { code: 'card_declined', message: 'Declined.' } } });
    await expect(client.charge(charge)).rejects.toMatchObject({
      name: 'PaymentDeclined',
      message: 'Declined.',
    });

    reply = () => ({ status: 402, body: { error: { code: 'card_declined' } } });
    await expect(client.charge(charge)).rejects.toMatchObject({
      name: 'PaymentDeclined',
      message: 'card_declined',
    });

    reply = () => ({ status: 402 });
    await expect(client.charge(charge)).rejects.toMatchObject({
      name: 'PaymentDeclined',
      message: 'payment declined',
    });
  });

  it.each([408, 409, 429, 500, 502, 503])('is unavailable (retry later) on %i', async (status) => {
    reply = () => ({ status, body: { error: { message: 'busy' } } });

    await expect(client.charge(charge)).rejects.toMatchObject({
      name: 'PaymentProviderUnavailable',
      message: `charge failed with HTTP ${status}: busy`,
    });
  });

  it.each([400, 401, 403, 404, 410, 422, 499])('is rejected (retrying cannot help) on %i', async (status) => {
    reply = () => ({ status });

    await expect(client.charge(charge)).rejects.toMatchObject({
      name: 'PaymentRequestRejected',
      message: `charge failed with HTTP ${status}`,
    });
  });

  it('reads an error body without an error object as no message', async () => {
    reply = () => ({ status: 503, body: {} });

    await expect(client.charge(charge)).rejects.toMatchObject({
      name: 'PaymentProviderUnavailable',
      message: 'charge failed with HTTP 503',
    });
  });

  it('says why the provider is unreachable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = new PaymentClient({
      baseUrl: `http://127.0.0.1:${port}`,
      timeoutMs: 1000,
      auth: NO_AUTHENTICATION,
    });

    await expect(unreachable.charge(charge)).rejects.toMatchObject({
      name: 'PaymentProviderUnavailable',
      message: expect.stringMatching(/^payment provider unreachable: .*ECONNREFUSED/),
    });
  });

  it('reads a non-JSON error body (a proxy page) as no message', async () => {
    const proxy = createServer((_request, response) => {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end('<html>Bad Gateway</html>');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    try {
      const behindProxy = new PaymentClient({
        baseUrl: `http://127.0.0.1:${port}`,
        timeoutMs: 1000,
        auth: NO_AUTHENTICATION,
      });
      await expect(behindProxy.charge(charge)).rejects.toMatchObject({
        name: 'PaymentProviderUnavailable',
        message: 'charge failed with HTTP 502',
      });
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});

describe('PaymentClient.refund', () => {
  it('refunds the charge with the refund idempotency key', async () => {
    reply = () => ({ status: 201, body: { id: 're_1', status: 'refunded', charge: 'o-1' } });

    expect(await client.refund('refund-o-1', 'o-1')).toEqual({ status: 'refunded', id: 're_1' });
    expect(stub.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/refunds',
      headers: { 'idempotency-key': 'refund-o-1' },
      body: { charge: 'o-1' },
    });
  });

  it('says not_found on 404: nothing was charged', async () => {
    reply = () => ({ status: 404, body: { error: { code: 'charge_not_found' } } });

    expect(await client.refund('refund-o-1', 'o-1')).toEqual({ status: 'not_found' });
  });

  it('refuses a malformed refund answer', async () => {
    reply = () => ({ status: 200, body: { id: '', status: 'refunded', charge: 'o-1' } });

    await expect(client.refund('refund-o-1', 'o-1')).rejects.toMatchObject({
      name: 'PaymentProviderUnavailable',
      message: 'payment provider sent a malformed refund',
    });
  });

  it('is unavailable on 5xx and rejected on another 4xx, with the provider message', async () => {
    reply = () => ({ status: 500, body: { error: { message: 'boom' } } });
    await expect(client.refund('refund-o-1', 'o-1')).rejects.toMatchObject({
      name: 'PaymentProviderUnavailable',
      message: 'refund failed with HTTP 500: boom',
    });

    reply = () => ({ status: 400, body: { error: { message: 'bad charge' } } });
    await expect(client.refund('refund-o-1', 'o-1')).rejects.toMatchObject({
      name: 'PaymentRequestRejected',
      message: 'refund failed with HTTP 400: bad charge',
    });
  });
});
