/**
 * The order flow through the whole system: API → outbox → relay → bus → saga → workers, asserting on the final
 * order state, its timeline and the effects counted at the receiving side (the sandbox provider). The client API's
 * own scenarios (order-api.ts, prefer-wait.ts) are registered here and, on the REST flavour, by
 * rest-api.local.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ORDER_UNITS } from '#functions/orders/pricing.ts';
import { putStock } from '#local/buzzer/seed.ts';
import { ApiClient, orderBody, SandboxClient } from './client.ts';
import { describeOrderApi, steps } from './order-api.ts';
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

describeOrderApi(() => ({ target, alice, bob, sandbox }));

describe('Prefer: wait (RFC 7240)', () => {
  describePreferWait(() => alice);
});
