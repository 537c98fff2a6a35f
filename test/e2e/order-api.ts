/**
 * The client API's scenarios: an order accepted and confirmed, idempotent accepts, client isolation, 4xx on bad input,
 * and the sandbox API's IAM authorization.
 * Registered by orders.test.ts on its target (the HTTP API, or a deployed stack) and by rest-api.local.test.ts on a
 * local runtime of the REST flavour, so both flavours answer the same requests the same way.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBuzzerClient } from '#client/index.ts';
import { NO_AUTHENTICATION } from '#shared/request-auth.ts';
import committedDocument from '../../openapi.json' with { type: 'json' };
import { ApiClient, orderBody, SandboxClient } from './client.ts';
import { pointsOf, tableAccess } from './table.ts';
import type { Target } from './target.ts';

/** Keys unique to this run, so the scenarios can run again against the same deployed stack. */
const run = randomUUID().slice(0, 8);

/** A timeline as `step:status` strings. */
export const steps = (timeline: Array<{ step: string; status: string }>) =>
  timeline.map((t) => `${t.step}:${t.status}`);

export interface OrderApiContext {
  target: Target;
  alice: ApiClient;
  bob: ApiClient;
  sandbox: SandboxClient;
}

/** The scenarios, on what `context()` gives once the target has started. */
export function describeOrderApi(context: () => OrderApiContext): void {
  let target: Target;
  let alice: ApiClient;
  let bob: ApiClient;
  let sandbox: SandboxClient;
  beforeAll(() => {
    ({ target, alice, bob, sandbox } = context());
  });

  describe('happy path', () => {
    it('accepts with 202 and confirms: one charge, one mail, its points', async () => {
      const body = orderBody({ paymentToken: 'tok_ok' });
      const { customer } = body;
      const placed = await alice.placeOrder(body);
      expect(placed.status).toBe(202);
      expect(placed.headers.get('location')).toBe(`/orders/${placed.body.trackingId}`);
      expect(placed.body).toMatchObject({
        status: 'PENDING',
        statusUrl: `/orders/${placed.body.trackingId}`,
      });

      const order = await alice.waitForOrder(placed.body.trackingId);

      expect(order.status).toBe('CONFIRMED');
      expect(order.amount).toBe(500);
      expect(order.paymentRef).toMatch(/^ch_/);
      expect(steps(order.timeline)).toEqual([
        'Accepted:SUCCEEDED',
        'ReserveStock:SUCCEEDED',
        'AuthorizePayment:SUCCEEDED',
        'ConfirmOrder:SUCCEEDED',
      ]);
      const charge = await sandbox.charge(placed.body.trackingId);
      expect(charge.body.charge?.status).toBe('authorized');
      expect(charge.body.calls).toBe(1);
      expect(charge.body.refunds).toEqual([]);
      await expect
        .poll(async () => (await sandbox.mailFor(placed.body.trackingId)).body.messages.length)
        .toBe(1);
      const table = tableAccess(target);
      try {
        await expect.poll(async () => (await pointsOf(table, 'alice', customer.id)).balance).toBe(4);
      } finally {
        table.close();
      }
    });
  });

  describe('idempotent accept', () => {
    it('answers the same 202 for the same key and body, 422 for another body', async () => {
      const body = orderBody();
      const first = await alice.placeOrder(body, `same-key-${run}`);
      const again = await alice.placeOrder(body, `same-key-${run}`);
      const other = await alice.placeOrder({ ...body, currency: 'USD' }, `same-key-${run}`);

      expect(first.status).toBe(202);
      expect(again.status).toBe(202);
      expect(again.body.trackingId).toBe(first.body.trackingId);
      expect(other.status).toBe(422);
      expect((await alice.waitForOrder(first.body.trackingId)).status).toBe('CONFIRMED');
      expect((await sandbox.charge(first.body.trackingId)).body.calls).toBe(1);
    });

    it('creates one order and one saga for concurrent duplicates', async () => {
      const body = orderBody();
      const results = await Promise.all(
        Array.from({ length: 8 }, () => alice.placeOrder(body, `concurrent-key-${run}`)),
      );

      // A duplicate that arrives while the first is still being written is told to retry (409 + Retry-After).
      for (const result of results) {
        expect([202, 409]).toContain(result.status);
        if (result.status === 409) expect(result.headers.get('retry-after')).toBe('1');
      }
      const ids = new Set(results.filter((r) => r.status === 202).map((r) => r.body.trackingId));
      expect(ids.size).toBe(1);
      const [trackingId = ''] = [...ids];
      const order = await alice.waitForOrder(trackingId);
      expect(order.status).toBe('CONFIRMED');
      // One saga: the provider saw one charge request, the customer got one mail.
      const charge = await sandbox.charge(trackingId);
      expect(charge.body.charge?.status).toBe('authorized');
      expect(charge.body.calls).toBe(1);
      await expect.poll(async () => (await sandbox.mailFor(trackingId)).body.messages.length).toBe(1);
    });
  });

  describe('client isolation', () => {
    it('never shows one client the order of another', async () => {
      const placed = await alice.placeOrder(orderBody());

      const asBob = await bob.getOrder(placed.body.trackingId);
      const asAlice = await alice.getOrder(placed.body.trackingId);

      expect(asAlice.status).toBe(200);
      expect(asBob.status).toBe(404);
    });

    it("keeps each client's loyalty points apart when their customer ids collide", async () => {
      const customer = { id: `c-shared-${run}`, email: 'ada@example.com' };
      const [fromAlice, fromBob] = await Promise.all([
        alice.placeOrder(orderBody({ customer })),
        bob.placeOrder(orderBody({ customer, items: [{ sku: 'espresso', quantity: 4 }] })),
      ]);
      const table = tableAccess(target);

      try {
        await expect
          .poll(async () => [
            (await pointsOf(table, 'alice', customer.id)).balance,
            (await pointsOf(table, 'bob', customer.id)).balance,
          ])
          .toEqual([4, 8]);
        expect((await pointsOf(table, 'alice', customer.id)).ledger).toEqual([
          { orderId: fromAlice.body.trackingId, points: 4 },
        ]);
        expect((await pointsOf(table, 'bob', customer.id)).ledger).toEqual([
          { orderId: fromBob.body.trackingId, points: 8 },
        ]);
      } finally {
        table.close();
      }
    });

    it('rejects requests without a valid key', async () => {
      const anonymous = new ApiClient(target.apiUrl, 'bzk_not-a-real-key-but-the-right-length-xxxxxxxxx');
      const noHeader = await fetch(`${target.apiUrl}/orders/x`);

      expect((await anonymous.getOrder('x')).status).toBe(403);
      expect(noHeader.status).toBe(401);
    });
  });

  describe('contract', () => {
    it('serves its OpenAPI document at /openapi.json without a key: the committed file', async () => {
      const response = await fetch(`${target.apiUrl}/openapi.json`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.json()).toEqual(committedDocument);
    });

    it('the typed client places orders and follows them to the end: 202 then poll, and Prefer: wait', async () => {
      const buzzer = createBuzzerClient(target.apiUrl, alice.apiKey);
      const placed = await buzzer.POST('/orders', {
        params: { header: { 'Idempotency-Key': randomUUID() } },
        body: orderBody(),
      });
      expect(placed.response.status).toBe(202);
      if (!placed.data) throw new Error(`POST /orders answered ${placed.response.status}`);
      // Short pauses: the scenario measures the flow, not the backoff's patience.
      const order = await buzzer.waitForTerminal(placed.data.trackingId, {
        timeoutMs: 30_000,
        maxDelayMs: 300,
      });
      expect(order).toMatchObject({ trackingId: placed.data.trackingId, status: 'CONFIRMED' });

      const waited = await buzzer.POST('/orders', {
        params: { header: { 'Idempotency-Key': randomUUID(), Prefer: 'wait=8' } },
        body: orderBody(),
      });
      expect(waited.response.status).toBe(200);
      expect(waited.response.headers.get('preference-applied')).toBe('wait=8');
      expect(waited.data?.status).toBe('CONFIRMED');
    });
  });

  describe('bad input', () => {
    it('answers 4xx with a message and writes nothing', async () => {
      const cases: Array<[unknown, number]> = [
        ['{not json', 400],
        [{ ...orderBody(), items: [] }, 400],
        [{ ...orderBody(), items: [{ sku: 'espresso', quantity: 0 }] }, 400],
        [{ ...orderBody(), extra: true }, 400],
        [{ ...orderBody(), currency: 'euro' }, 400],
      ];
      for (const [i, [body, status]] of cases.entries()) {
        const result = await alice.placeOrder(body, `bad-input-${i}-${run}`);
        expect(result.status, JSON.stringify(body)).toBe(status);
        expect(result.body.error?.message, JSON.stringify(result.body)).toMatch(/\w+/);
      }
      expect((await alice.placeOrder('x'.repeat(20_000), `bad-input-big-${run}`)).status).toBe(413);

      // Nothing was recorded under those keys: a valid order may use each of them (a stored key would answer 422).
      for (const key of [...cases.keys()]
        .map((i) => `bad-input-${i}-${run}`)
        .concat(`bad-input-big-${run}`)) {
        expect((await alice.placeOrder(orderBody(), key)).status, key).toBe(202);
      }
    });
  });

  describe('sandbox access', () => {
    it('refuses unsigned calls to the sandbox API (403) and serves the same calls signed', async () => {
      const unsigned = new SandboxClient(target.sandboxUrl, NO_AUTHENTICATION);

      expect((await unsigned.mailFor('any-order')).status).toBe(403);
      expect((await unsigned.setFaults({})).status).toBe(403);
      expect((await unsigned.ledger()).status).toBe(403);
      expect((await sandbox.ledger()).status).toBe(200);
    });
  });
}
