/**
 * Faults end to end on every target: the provider times out or flickers, the last unit sells to one of several
 * concurrent buyers. Each scenario asserts the order's final state, its timeline and the effects counted at the
 * receiving side (sandbox charges and refunds, mail sink). On the local target the scenarios that inject faults
 * through the engines' hooks (faults.local.ts) run too, on the same runtime; on a deployed target they are not
 * registered at all rather than reported as skipped.
 */
import { describe, expect, it } from 'vitest';
import { orderBody } from './client.ts';
import { freshSku, mailCount, SETTLE, SLOW_ORDER_MS, steps, useFaultsTarget } from './fault-support.ts';
import { describeLocalFaults } from './faults.local.ts';
import { stockLevel } from './table.ts';
import { targetName } from './target.ts';

const ctx = useFaultsTarget();

describe('payment provider faults', () => {
  it('times out on every attempt: retries, then the compensation refunds the charge that went through', async () => {
    const sku = await freshSku(ctx.table, 10);
    const placed = await ctx.alice.placeOrder(
      orderBody({ paymentToken: 'tok_timeout', items: [{ sku, quantity: 1 }] }),
    );
    expect(placed.status).toBe(202);

    const order = await ctx.alice.waitForOrder(placed.body.trackingId, undefined, SLOW_ORDER_MS);

    expect(order.status).toBe('CANCELLED');
    expect(order.failureReason).toBe('PAYMENT_UNAVAILABLE');
    expect(steps(order.timeline)).toEqual([
      'Accepted:SUCCEEDED',
      'ReserveStock:SUCCEEDED',
      'Compensate:SUCCEEDED',
      'VoidPayment:SUCCEEDED',
      'ReleaseStock:SUCCEEDED',
      'CancelOrder:SUCCEEDED',
    ]);
    // The provider saw one call per attempt (1 + 3 retries) and recorded one charge, which the refund undid.
    const charge = await ctx.sandbox.charge(placed.body.trackingId);
    expect(charge.body.calls).toBe(4);
    expect(charge.body.charge?.status).toBe('authorized');
    expect(charge.body.refunds).toHaveLength(1);
    expect(await stockLevel(ctx.table, sku)).toBe(10);
    // The mail waits for a sandbox environment: the timed-out charges hold them for 10 s each. One mail; on a starved
    // machine the notifier's own call may time out and be sent again under its key (CI36: two calls, one mail).
    await expect
      .poll(async () => (await mailCount(ctx.sandbox, placed.body.trackingId)).messages, SETTLE)
      .toBe(1);
  });

  it('a charge that lands after the caller gave up is found and refunded, never kept', async () => {
    const placed = await ctx.alice.placeOrder(orderBody({ paymentToken: 'tok_late' }));

    const order = await ctx.alice.waitForOrder(placed.body.trackingId, undefined, SLOW_ORDER_MS);

    expect(order.status).toBe('CANCELLED');
    expect(order.failureReason).toBe('PAYMENT_UNAVAILABLE');
    // Each of the four attempts is still waiting at the provider when the saga gives up. The provider voids nothing
    // (as real ones do not): the first attempt's charge lands 14 s after it was sent, VoidPayment waits for it while
    // the request may still land (AwaitChargeSettlement), finds it by the order and refunds it by its id.
    expect(steps(order.timeline)).toContain('VoidPayment:SUCCEEDED');
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    const { body } = await ctx.sandbox.charge(placed.body.trackingId);
    expect(body.calls).toBe(4);
    expect(body.charge?.status).toBe('authorized');
    expect(body.refunds).toHaveLength(1);
  }, 90_000);

  it('answers 503 twice, then authorizes: retried to success with exactly one charge', async () => {
    const placed = await ctx.alice.placeOrder(orderBody({ paymentToken: 'tok_flaky' }));

    const order = await ctx.alice.waitForOrder(placed.body.trackingId);

    expect(order.status).toBe('CONFIRMED');
    expect(steps(order.timeline)).toEqual([
      'Accepted:SUCCEEDED',
      'ReserveStock:SUCCEEDED',
      'AuthorizePayment:SUCCEEDED',
      'ConfirmOrder:SUCCEEDED',
    ]);
    const charge = await ctx.sandbox.charge(placed.body.trackingId);
    expect(charge.body.calls).toBe(3);
    expect(charge.body.charge?.id).toBe(order.paymentRef);
    expect(charge.body.refunds).toEqual([]);
    expect((await ctx.sandbox.ledger()).status).toBe(200);
  });
});

describe('the last unit, wanted by several orders at once', () => {
  it('confirms exactly one; the others cancel OUT_OF_STOCK; stock never goes below zero', async () => {
    const sku = await freshSku(ctx.table, 1);
    const buyers = 5;
    let lowest = Number.POSITIVE_INFINITY;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        lowest = Math.min(lowest, (await stockLevel(ctx.table, sku)) ?? Number.NaN);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    const placed = await Promise.all(
      Array.from({ length: buyers }, () =>
        ctx.alice.placeOrder(orderBody({ items: [{ sku, quantity: 1 }] })),
      ),
    );
    const orders = await Promise.all(placed.map((p) => ctx.alice.waitForOrder(p.body.trackingId)));
    watching = false;
    await watcher;

    const confirmed = orders.filter((o) => o.status === 'CONFIRMED');
    const cancelled = orders.filter((o) => o.status === 'CANCELLED');
    expect(confirmed).toHaveLength(1);
    expect(cancelled).toHaveLength(buyers - 1);
    for (const order of cancelled) {
      expect(order.failureReason).toBe('OUT_OF_STOCK');
      // Nothing was reserved, so nothing is released: a release here would push the stock above what exists.
      expect(steps(order.timeline)).toEqual([
        'Accepted:SUCCEEDED',
        'Compensate:SUCCEEDED',
        'VoidPayment:SKIPPED',
        'ReleaseStock:SKIPPED',
        'CancelOrder:SUCCEEDED',
      ]);
      expect((await ctx.sandbox.charge(order.trackingId)).status).toBe(404);
    }
    expect((await ctx.sandbox.charge(confirmed[0]?.trackingId ?? '')).body.charge).toBeDefined();
    expect(lowest).toBeGreaterThanOrEqual(0);
    expect(await stockLevel(ctx.table, sku)).toBe(0);
  });
});

if (targetName() === 'local') describeLocalFaults(ctx);
