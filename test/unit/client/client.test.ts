import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  createBuzzerClient,
  isTransientNetworkError,
  OrderLookupFailed,
  type OrderView,
  retryAfterMs,
  retryingFetch,
  verifyWebhook,
  WaitTimeout,
  WebhookVerificationError,
} from '#client/index.ts';

const TRACKING_ID = '0b0d5a57-3c1e-4a53-9c55-7f2e8f0c2a11';

function view(status: OrderView['status']): OrderView {
  return {
    trackingId: TRACKING_ID,
    status,
    version: status === 'PENDING' ? 1 : 5,
    items: [{ sku: 'espresso', quantity: 1 }],
    amount: null,
    currency: 'EUR',
    paymentRef: null,
    failureReason: null,
    hold: null,
    createdAt: '2026-12-07T10:00:00.000Z',
    updatedAt: '2026-12-07T10:00:00.000Z',
    timeline: [],
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

/** A fake API answering the scripted responses in turn, on a virtual clock that sleeps advance. */
function scripted(answers: Array<() => Response>) {
  let clock = 1_000_000;
  const requests: Request[] = [];
  const sleeps: number[] = [];
  const client = createBuzzerClient('http://buzzer.test/', 'bzk_test', {
    fetch: async (request) => {
      requests.push(request);
      const next = answers.shift();
      if (!next) throw new Error('no more answers scripted');
      return next();
    },
  });
  const options = {
    now: () => clock,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      clock += ms;
    },
  };
  return { client, requests, sleeps, options };
}

describe('waitForTerminal', () => {
  it('polls with the API key, backing off, until the order has ended', async () => {
    const { client, requests, sleeps, options } = scripted([
      () => json(200, view('PENDING')),
      () => json(200, view('PENDING')),
      () => json(200, view('CONFIRMED')),
    ]);
    const order = await client.waitForTerminal(TRACKING_ID, options);
    expect(order.status).toBe('CONFIRMED');
    expect(sleeps).toEqual([250, 500]);
    expect(requests.map((r) => r.url)).toEqual(Array(3).fill(`http://buzzer.test/orders/${TRACKING_ID}`));
    expect(requests[0]?.headers.get('authorization')).toBe('Bearer bzk_test');
  });

  it('waits what Retry-After says on a 429 or 503 before asking again', async () => {
    const { client, sleeps, options } = scripted([
      () => json(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '3' }),
      () =>
        json(503, { error: { code: 'temporarily_unavailable', message: 'busy' } }, { 'retry-after': '2' }),
      () => json(200, view('CANCELLED')),
    ]);
    const order = await client.waitForTerminal(TRACKING_ID, options);
    expect(order.status).toBe('CANCELLED');
    expect(sleeps).toEqual([3000, 2000]);
  });

  it('gives up at the timeout with the order as last seen, never sleeping past it', async () => {
    const { client, sleeps, options } = scripted(Array(20).fill(() => json(200, view('PENDING'))));
    const error = await client.waitForTerminal(TRACKING_ID, { ...options, timeoutMs: 2_000 }).catch((e) => e);
    expect(error).toBeInstanceOf(WaitTimeout);
    expect((error as WaitTimeout).last?.status).toBe('PENDING');
    expect(sleeps).toEqual([250, 500, 1000]);
    expect(sleeps.reduce((a, b) => a + b)).toBeLessThanOrEqual(2_000);
  });

  it('gives up rather than wait out a Retry-After beyond the timeout', async () => {
    const { client, sleeps, options } = scripted([
      () => json(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '60' }),
    ]);
    const error = await client.waitForTerminal(TRACKING_ID, { ...options, timeoutMs: 5_000 }).catch((e) => e);
    expect(error).toBeInstanceOf(WaitTimeout);
    expect(sleeps).toEqual([]);
  });

  it('stops at once on a 404', async () => {
    const { client, options } = scripted([
      () => json(404, { error: { code: 'not_found', message: 'order not found' } }),
    ]);
    await expect(client.waitForTerminal(TRACKING_ID, options)).rejects.toBeInstanceOf(OrderLookupFailed);
  });

  it('asks the server to hold each poll with Prefer: wait, never past the timeout', async () => {
    const { client, requests, options } = scripted([
      () => json(200, view('PENDING')),
      () => json(200, view('CONFIRMED')),
    ]);
    await client.waitForTerminal(TRACKING_ID, { ...options, waitSeconds: 10, timeoutMs: 4_000 });
    expect(requests.map((r) => r.headers.get('prefer'))).toEqual(['wait=4', 'wait=3']);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});

/** What fetch throws when the socket failed before an answer: a TypeError naming the socket error in its cause. */
const socketError = (code: string) =>
  new TypeError('fetch failed', { cause: Object.assign(new Error(`read ${code}`), { code }) });

describe('retryingFetch', () => {
  /** A transport failing with `failures` in turn, then answering 200 with the body it received. */
  function flaky(failures: unknown[]) {
    const sent: Array<{ method: string; body: string }> = [];
    const sleeps: number[] = [];
    const send = retryingFetch(
      async (request) => {
        sent.push({ method: request.method, body: await request.text() });
        const failure = failures.shift();
        if (failure) throw failure;
        return new Response('ok');
      },
      { sleep: async (ms) => void sleeps.push(ms) },
    );
    return { send, sent, sleeps };
  }

  it('sends a read again after the server reset the connection, pausing longer each time', async () => {
    const { send, sent, sleeps } = flaky([socketError('ECONNRESET'), socketError('UND_ERR_SOCKET')]);

    const response = await send(new Request('http://buzzer.test/orders/x'));

    expect(response.status).toBe(200);
    expect(sent).toHaveLength(3);
    expect(sleeps).toEqual([100, 200]);
  });

  it('sends a write under an Idempotency-Key again, with its whole body', async () => {
    const { send, sent } = flaky([socketError('EPIPE')]);
    const body = JSON.stringify({ items: [{ sku: 'espresso', quantity: 2 }] });

    await send(
      new Request('http://buzzer.test/orders', {
        method: 'POST',
        headers: { 'Idempotency-Key': 'k-1' },
        body,
      }),
    );

    expect(sent).toEqual([
      { method: 'POST', body },
      { method: 'POST', body },
    ]);
  });

  it('never sends a write without an Idempotency-Key twice, nor a DELETE: the server may have acted', async () => {
    for (const method of ['POST', 'DELETE']) {
      const { send, sent } = flaky([socketError('ECONNRESET')]);

      await expect(send(new Request('http://buzzer.test/webhooks/w-1', { method }))).rejects.toThrow(
        'fetch failed',
      );
      expect(sent).toHaveLength(1);
    }
  });

  it('gives up after its attempts, and at once on an error that is not a socket failure', async () => {
    const reset = flaky([socketError('ECONNRESET'), socketError('ECONNRESET'), socketError('ECONNRESET')]);
    await expect(reset.send(new Request('http://buzzer.test/orders/x'))).rejects.toThrow('fetch failed');
    expect(reset.sent).toHaveLength(3);

    const unknownHost = flaky([socketError('ENOTFOUND')]);
    await expect(unknownHost.send(new Request('http://buzzer.test/orders/x'))).rejects.toThrow(
      'fetch failed',
    );
    expect(unknownHost.sent).toHaveLength(1);
  });

  it('tells a socket failure from other errors', () => {
    expect(isTransientNetworkError(socketError('ECONNREFUSED'))).toBe(true);
    expect(isTransientNetworkError(new Error('read ECONNRESET'))).toBe(false);
    expect(isTransientNetworkError(new TypeError('fetch failed'))).toBe(false);
  });

  it('is what the typed client sends through: a poll survives a reset connection', async () => {
    const answers = [
      () => Promise.reject(socketError('ECONNRESET')),
      () => Promise.resolve(json(200, view('CONFIRMED'))),
    ];
    const client = createBuzzerClient('http://buzzer.test', 'bzk_test', {
      fetch: () => answers.shift()?.() ?? Promise.reject(new Error('no more answers')),
      retry: { sleep: async () => undefined },
    });

    expect((await client.waitForTerminal(TRACKING_ID)).status).toBe('CONFIRMED');
  });
});

describe('verifyWebhook', () => {
  const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  const body = JSON.stringify({
    type: 'OrderConfirmed',
    timestamp: '2026-12-07T10:00:00.000Z',
    data: { orderId: TRACKING_ID, status: 'CONFIRMED', version: 5 },
  });
  const signed = (at: Date, payload = body) => ({
    'webhook-id': 'msg_1',
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign('msg_1', at, payload),
  });

  it('answers the payload of a delivery signed with the secret, headers as a record or Headers', () => {
    const headers = signed(new Date());
    expect(verifyWebhook(secret, headers, body)).toMatchObject({
      type: 'OrderConfirmed',
      data: { version: 5 },
    });
    expect(verifyWebhook(secret, new Headers(headers), body).type).toBe('OrderConfirmed');
  });

  it('refuses a tampered body, a wrong secret and a missing signature', () => {
    const headers = signed(new Date());
    expect(() => verifyWebhook(secret, headers, body.replace('CONFIRMED', 'CANCELLED'))).toThrow(
      WebhookVerificationError,
    );
    expect(() => verifyWebhook(`whsec_${Buffer.alloc(32, 8).toString('base64')}`, headers, body)).toThrow(
      WebhookVerificationError,
    );
    expect(() => verifyWebhook(secret, { ...headers, 'webhook-signature': undefined }, body)).toThrow(
      WebhookVerificationError,
    );
  });

  it('refuses a stale timestamp (a replayed delivery)', () => {
    const headers = signed(new Date(Date.now() - 10 * 60 * 1000));
    expect(() => verifyWebhook(secret, headers, body)).toThrow(/timestamp/i);
  });
});
