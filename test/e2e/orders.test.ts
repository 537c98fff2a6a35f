/**
 * The order flow through the whole system: API → outbox → relay → bus → saga → workers, asserting on the final
 * order state, its timeline and the effects counted at the receiving side (the sandbox provider).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ORDER_UNITS } from '#functions/orders/pricing.ts';
import { putStock } from '#local/buzzer/seed.ts';
import { NO_AUTHENTICATION } from '#shared/request-auth.ts';
import { ApiClient, orderBody, SandboxClient } from './client.ts';
import { describePreferWait } from './prefer-wait.ts';
import { pointsOf, tableAccess } from './table.ts';
import { startTarget, type Target } from './target.ts';

/** Keys and ids unique to this run, so the file can run again against the same deployed stack. */
const run = randomUUID().slice(0, 8);

let target: Target;
let alice: ApiClient;
let bob: ApiClient;
let sandbox: SandboxClient;

beforeAll(async () => {
  target = await startTarget();
  alice = new ApiClient(target.apiUrl, target.apiKeys.alice ?? '');
  bob = new ApiClient(target.apiUrl, target.apiKeys.bob ?? '');
  sandbox = new SandboxClient(target.sandboxUrl, target.sandboxAuth);
});

afterAll(async () => {
  await target?.stop();
});

const steps = (timeline: Array<{ step: string; status: string }>) =>
  timeline.map((t) => `${t.step}:${t.status}`);

describe('happy path', () => {
  it('accepts with 202 and confirms: one charge, one mail, its points', async () => {
    const body = orderBody({ paymentToken: 'tok_ok' });
    const { customer } = body;
    const placed = await alice.placeOrder(body);
    expect(placed.status).toBe(202);
    expect(placed.headers.get('location')).toBe(`/orders/${placed.body.trackingId}`);
    expect(placed.body).toMatchObject({ status: 'PENDING', statusUrl: `/orders/${placed.body.trackingId}` });

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

describe('payment declined', () => {
  it('cancels with compensations in reverse order and refunds nothing it did not charge', async () => {
    const placed = await alice.placeOrder(orderBody({ paymentToken: 'tok_decline' }));

    const order = await alice.waitForOrder(placed.body.trackingId);

    expect(order.status).toBe('CANCELLED');
    expect(order.failureReason).toBe('PAYMENT_DECLINED');
    expect(steps(order.timeline)).toEqual([
      'Accepted:SUCCEEDED',
      'ReserveStock:SUCCEEDED',
      'Compensate:SUCCEEDED',
      'VoidPayment:SKIPPED',
      'ReleaseStock:SUCCEEDED',
      'CancelOrder:SUCCEEDED',
    ]);
    const charge = await sandbox.charge(placed.body.trackingId);
    expect(charge.status).toBe(404);
    await expect
      .poll(async () => (await sandbox.mailFor(placed.body.trackingId)).body.messages.length)
      .toBe(1);
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

describe('money rules', () => {
  it('charges each currency its own catalogue price and earns the same points in EUR, JPY and KWD', async () => {
    const bodies = (['EUR', 'JPY', 'KWD'] as const).map((currency) => orderBody({ currency }));
    const placed = await Promise.all(bodies.map((body) => alice.placeOrder(body)));
    const table = tableAccess(target);

    try {
      const seen = await Promise.all(
        bodies.map(async (body, i) => {
          const trackingId = placed[i]?.body.trackingId ?? '';
          const order = await alice.waitForOrder(trackingId);
          const { charge } = (await sandbox.charge(trackingId)).body;
          await expect
            .poll(async () => (await pointsOf(table, 'alice', body.customer.id)).balance)
            .toBeDefined();
          const { balance } = await pointsOf(table, 'alice', body.customer.id);
          return { status: order.status, amount: order.amount, charge, points: balance };
        }),
      );

      // 2 × espresso: €2.50, ¥400 and KWD 0.085 a cup in the demo catalogue, 2 points a cup in every currency.
      expect(seen).toEqual([
        {
          status: 'CONFIRMED',
          amount: 500,
          charge: expect.objectContaining({ amount: 500, currency: 'EUR' }),
          points: 4,
        },
        {
          status: 'CONFIRMED',
          amount: 800,
          charge: expect.objectContaining({ amount: 800, currency: 'JPY' }),
          points: 4,
        },
        {
          status: 'CONFIRMED',
          amount: 170,
          charge: expect.objectContaining({ amount: 170, currency: 'KWD' }),
          points: 4,
        },
      ]);
    } finally {
      table.close();
    }
  });

  it('refuses with 422 an order in a currency a known item has no price in, and writes nothing', async () => {
    const key = `no-price-${run}`;
    const refused = await alice.placeOrder(orderBody({ currency: 'CZK' }), key);

    expect(refused.status).toBe(422);
    expect(refused.body.error).toEqual({
      code: 'price_unavailable',
      message: 'no price in CZK for sku espresso',
    });
    // Nothing was stored under the key: the corrected order goes through with it.
    expect((await alice.placeOrder(orderBody(), key)).status).toBe(202);
  });

  it('accepts an unknown sku in any currency and cancels it in the saga (UNKNOWN_SKU)', async () => {
    const placed = await alice.placeOrder(
      orderBody({ currency: 'CZK', items: [{ sku: `no-such-sku-${run}`, quantity: 1 }] }),
    );

    expect(placed.status).toBe(202);
    const order = await alice.waitForOrder(placed.body.trackingId);
    expect([order.status, order.failureReason]).toEqual(['CANCELLED', 'UNKNOWN_SKU']);
  });

  it('refuses with 422 an order over the amount cap of its currency, or over the unit limit', async () => {
    const sku = `grand-piano-${run}`;
    const table = tableAccess(target);
    try {
      await putStock(table.doc, table.tableName, [
        { sku, name: 'Grand piano', prices: { EUR: 600_000, JPY: 900_000 }, points: 100, available: 10 },
      ]);
    } finally {
      table.close();
    }

    const overAmount = await alice.placeOrder(orderBody({ items: [{ sku, quantity: 2 }] }));
    const overAmountJpy = await alice.placeOrder(
      orderBody({ currency: 'JPY', items: [{ sku, quantity: 2 }] }),
    );
    const overUnits = await alice.placeOrder(
      orderBody({
        items: [
          { sku: 'espresso', quantity: MAX_ORDER_UNITS },
          { sku: 'croissant', quantity: 1 },
        ],
      }),
    );

    expect(overAmount.status).toBe(422);
    expect(overAmount.body.error).toEqual({
      code: 'order_limit_exceeded',
      message: 'order total €12,000.00 exceeds the limit of €10,000.00 per order',
    });
    expect(overAmountJpy.status).toBe(422);
    expect(overAmountJpy.body.error?.code).toBe('order_limit_exceeded');
    expect(overUnits.status).toBe(422);
    expect(overUnits.body.error).toEqual({
      code: 'order_limit_exceeded',
      message: `order has ${MAX_ORDER_UNITS + 1} units; at most ${MAX_ORDER_UNITS} per order`,
    });
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
    for (const key of [...cases.keys()].map((i) => `bad-input-${i}-${run}`).concat(`bad-input-big-${run}`)) {
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

describe('Prefer: wait (RFC 7240)', () => {
  describePreferWait(() => alice);
});
