import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { PaymentClient } from '#functions/payments/payment-client.ts';
import { NO_AUTHENTICATION } from '#shared/request-auth.ts';
import { httpStub } from './helpers.ts';

const stub = await httpStub((request) =>
  request.path === '/v1/charges'
    ? { status: 201, body: 'not a charge' }
    : { status: 200, body: { id: 're_1', status: 'refunded', charge: 'o-1' } },
);

afterAll(() => stub.close());

const charge = { idempotencyKey: 'o-1', orderId: 'o-1', amount: 100, currency: 'EUR', token: 'tok_ok' };

describe('PaymentClient', () => {
  it('treats a malformed success answer as the provider being unavailable', async () => {
    const client = new PaymentClient({ baseUrl: stub.url, timeoutMs: 1000, auth: NO_AUTHENTICATION });

    await expect(client.charge(charge)).rejects.toMatchObject({ name: 'PaymentProviderUnavailable' });
  });

  it('reports an unreachable provider as unavailable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = new PaymentClient({
      baseUrl: `http://127.0.0.1:${port}`,
      timeoutMs: 1000,
      auth: NO_AUTHENTICATION,
    });

    await expect(client.charge(charge)).rejects.toMatchObject({
      name: 'PaymentProviderUnavailable',
      message: expect.stringMatching(/^payment provider unreachable/),
    });
  });

  it('parses a refund', async () => {
    const client = new PaymentClient({ baseUrl: stub.url, timeoutMs: 1000, auth: NO_AUTHENTICATION });

    expect(await client.refund('refund-o-1', 'o-1')).toEqual({ status: 'refunded', id: 're_1' });
  });
});
