import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { getOrder, placeOrders } from '#chaos/orders.ts';
import type { SystemUnderTest } from '#chaos/system.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let close: (() => void) | undefined;
afterEach(() => close?.());

/** The client API as the chaos run meets it: each request answered by the next of `answers`. */
async function api(
  answers: Array<(res: ServerResponse) => void>,
): Promise<{ system: SystemUnderTest; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    });
    (answers.shift() ?? ((r) => r.writeHead(500).end()))(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () => server.close();
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { system: { apiUrl, apiKey: 'bzk_chaos' } as SystemUnderTest, seen };
}

const json = (status: number, body: unknown) => (res: ServerResponse) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

const options = {
  count: 1,
  concurrency: 1,
  tokens: { tok_ok: 1 },
  random: () => 0,
  email: 'chaos@example.com',
  runId: 'r1',
};

describe('the chaos run as a client of the API (the typed client)', () => {
  it('retries a gateway page that is not JSON, and its transport a dropped connection, with the same key, then takes the 202', async () => {
    const { system, seen } = await api([
      (res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>'),
      (res) => res.destroy(),
      json(202, { trackingId: 'ord-1', status: 'PENDING', statusUrl: '/orders/ord-1' }),
    ]);

    const { accepted, rejected } = await placeOrders(system, options);

    expect(rejected).toEqual([]);
    expect(accepted).toEqual([
      // The run's own attempts: the dropped connection was sent again by the typed client (`retryingFetch`).
      expect.objectContaining({ trackingId: 'ord-1', attempts: 2, token: 'tok_ok' }),
    ]);
    expect(seen.map((s) => [s.method, s.url])).toEqual([
      ['POST', '/orders'],
      ['POST', '/orders'],
      ['POST', '/orders'],
    ]);
    expect(new Set(seen.map((s) => s.headers['idempotency-key'])).size).toBe(1);
    expect(seen[0]?.headers.authorization).toBe('Bearer bzk_chaos');
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({
      customer: { id: 'chaos-r1-0', email: 'chaos@example.com', name: 'Chaos Monkey' },
      items: [{ sku: 'espresso', quantity: 1 }],
      currency: 'EUR',
      paymentToken: 'tok_ok',
    });
  }, 20_000);

  it('takes a 4xx as the answer, with its message, without retrying', async () => {
    const { system, seen } = await api([
      json(422, { error: { code: 'unknown_sku', message: 'no such item' } }),
    ]);

    const { accepted, rejected } = await placeOrders(system, options);

    expect(accepted).toEqual([]);
    expect(rejected).toEqual([expect.objectContaining({ status: 422, message: 'no such item' })]);
    expect(seen).toHaveLength(1);
  });

  it('reads an order, and undefined for one the API does not know', async () => {
    const view = { trackingId: 'ord-1', status: 'CONFIRMED', timeline: [] };
    const { system, seen } = await api([
      json(200, view),
      json(404, { error: { code: 'not_found', message: 'x' } }),
    ]);

    expect(await getOrder(system, 'ord-1')).toEqual(view);
    expect(await getOrder(system, 'ord/2')).toBeUndefined();
    expect(seen.map((s) => s.url)).toEqual(['/orders/ord-1', '/orders/ord%2F2']);
  });
});
