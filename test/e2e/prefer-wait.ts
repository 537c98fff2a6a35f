/**
 * `Prefer: wait=N` (RFC 7240) on the order routes, through the whole system: the answer is held until the saga has
 * ended or N seconds have passed. Only the public API and the seeded catalogue, so it runs on a deployed target too.
 * Registered by orders.test.ts on its target: a runtime of its own would add a start-up to the suite for nothing.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { PREFER_WAIT_MAX_SECONDS } from '#contracts/api.ts';
import { ORDER_ROUTE_TIMEOUT } from '#lib/constructs/api.ts';
import { type ApiClient, type OrderView, orderBody } from './client.ts';

/** Keys unique to this run, so the scenarios can run again against the same deployed stack. */
const run = randomUUID().slice(0, 8);

const view = (body: unknown) => body as OrderView;

/** How long `call` took, in ms, with its result. */
async function timed<T>(call: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await call();
  return { result, ms: performance.now() - started };
}

/** The scenarios, for the client `client()` gives once the target has started. */
export function describePreferWait(client: () => ApiClient): void {
  let alice: ApiClient;
  beforeAll(async () => {
    alice = client();
    // One order end to end first, so the assertions time the saga, not the cold start of every function on it.
    const warmUp = await alice.placeOrder(orderBody());
    expect(warmUp.status).toBe(202);
    await alice.waitForOrder(warmUp.body.trackingId);
  });

  describe('POST /orders with Prefer: wait', () => {
    it('answers 200 with the confirmed order when the saga ends within the wait', async () => {
      const placed = await alice.placeOrder(
        orderBody({ paymentToken: 'tok_ok' }),
        undefined,
        {},
        { wait: 5 },
      );

      expect(placed.status).toBe(200);
      expect(placed.headers.get('preference-applied')).toBe('wait=5');
      const order = view(placed.body);
      expect(order).toMatchObject({
        status: 'CONFIRMED',
        amount: 500,
        paymentRef: expect.stringMatching(/^ch_/),
      });
      expect(placed.headers.get('location')).toBe(`/orders/${order.trackingId}`);
      // The same view GET /orders/{id} answers.
      const read = await alice.getOrder(order.trackingId);
      expect(Object.keys(order).sort()).toEqual(Object.keys(read.body).sort());
      expect(read.body).toMatchObject({
        trackingId: order.trackingId,
        status: 'CONFIRMED',
        version: order.version,
      });
    });

    it(`serves a longer wait as ${PREFER_WAIT_MAX_SECONDS} s and says so`, async () => {
      const placed = await alice.placeOrder(orderBody(), undefined, {}, { wait: 3600 });

      expect(placed.status).toBe(200);
      expect(placed.headers.get('preference-applied')).toBe(`wait=${PREFER_WAIT_MAX_SECONDS}`);
      expect(view(placed.body).status).toBe('CONFIRMED');
    });

    it('waits on a replay for the order the first request created', async () => {
      const body = orderBody({ paymentToken: 'tok_slow' });
      const first = await alice.placeOrder(body, `prefer-replay-${run}`);
      expect(first.status).toBe(202);

      const again = await alice.placeOrder(body, `prefer-replay-${run}`, {}, { wait: 10 });

      expect(again.status).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(view(again.body)).toMatchObject({ trackingId: first.body.trackingId, status: 'CONFIRMED' });
    });

    it.each(['wait=abc', 'wait=-1', 'respond-async', 'wait="5'])(
      'ignores Prefer: %s and answers the usual 202',
      async (prefer) => {
        const placed = await alice.placeOrder(orderBody(), undefined, { prefer });

        expect(placed.status).toBe(202);
        expect(placed.headers.get('preference-applied')).toBeNull();
        expect(placed.body).toMatchObject({
          status: 'PENDING',
          statusUrl: `/orders/${placed.body.trackingId}`,
        });
      },
    );
  });

  describe('GET /orders/{trackingId} with Prefer: wait', () => {
    it('holds the answer until a pending order is confirmed', async () => {
      // The sandbox takes 1 s to charge tok_slow: the order is still pending when the GET arrives.
      const placed = await alice.placeOrder(orderBody({ paymentToken: 'tok_slow' }));
      expect(placed.status).toBe(202);

      const read = await alice.getOrder(placed.body.trackingId, { wait: 10 });

      expect(read.status).toBe(200);
      expect(read.headers.get('preference-applied')).toBe('wait=10');
      expect(read.body).toMatchObject({ trackingId: placed.body.trackingId, status: 'CONFIRMED' });
    });

    it('ignores an unusable Prefer', async () => {
      const placed = await alice.placeOrder(orderBody());

      const ignored = await alice.request('GET', `/orders/${placed.body.trackingId}`, undefined, {
        prefer: 'wait=later',
      });

      expect(ignored.status).toBe(200);
      expect(ignored.body).toMatchObject({ trackingId: placed.body.trackingId });
      expect(ignored.headers.get('preference-applied')).toBeNull();
    });
  });

  // Last: the sandbox provider holds an environment for 10 s per tok_timeout call, which would slow the orders after it.
  describe('a payment that hangs', () => {
    it('answers the usual 202 after about the wait when the payment hangs, and the order ends CANCELLED later', async () => {
      const { result: placed, ms } = await timed(() =>
        alice.placeOrder(orderBody({ paymentToken: 'tok_timeout' }), undefined, {}, { wait: 5 }),
      );

      expect(placed.status).toBe(202);
      expect(placed.body).toMatchObject({
        status: 'PENDING',
        statusUrl: `/orders/${placed.body.trackingId}`,
      });
      expect(placed.headers.get('preference-applied')).toBe('wait=5');
      expect(ms).toBeGreaterThanOrEqual(4500);
      expect(ms).toBeLessThan(ORDER_ROUTE_TIMEOUT.toMilliseconds());

      // GET with a wait on the order still pending: the current state after the wait.
      const { result: pending, ms: getMs } = await timed(() =>
        alice.getOrder(placed.body.trackingId, { wait: 2 }),
      );
      expect(pending.status).toBe(200);
      expect(pending.headers.get('preference-applied')).toBe('wait=2');
      expect(pending.body.status).toBe('PENDING');
      expect(getMs).toBeGreaterThanOrEqual(1500);

      // The provider never answers in time: retries, then the compensation (faults.test.ts has the whole story). On a
      // deployed stack the saga's retry intervals are not shortened, so that takes up to about a minute.
      await expect
        .poll(async () => (await alice.getOrder(placed.body.trackingId)).body.status, { timeout: 120_000 })
        .toBe('CANCELLED');
    }, 150_000);
  });
}
