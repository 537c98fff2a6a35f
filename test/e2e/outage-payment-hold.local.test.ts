/**
 * The payment provider down longer than an order may wait for it (a hold of 15 s on a runtime of its own): the held
 * orders are cancelled with PAYMENT_UNAVAILABLE, nothing charged and nothing lost. Helpers in outage-support.ts.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { orderBody } from './client.ts';
import { freshSku, mailCount, steps, until } from './fault-support.ts';
import {
  placeOrders,
  SCENARIO_TIMEOUT_MS,
  SHORT_HOLD_SECONDS,
  SHORT_HOLD_TARGET,
  useOutage,
} from './outage-support.ts';
import { stockLevel } from './table.ts';

describe('the payment provider down longer than the hold (STANDARD saga)', () => {
  const system = useOutage(SHORT_HOLD_TARGET);

  it(
    'cancels the waiting orders with PAYMENT_UNAVAILABLE once the outage outlasts the hold, with no refund and nothing lost',
    async () => {
      const sku = await freshSku(system.table, 51);
      // A healthy order first: on cold functions the first orders would all reach the provider before three failures
      // in a row open the circuit.
      const warm = await system.alice.placeOrder(orderBody({ items: [{ sku, quantity: 1 }] }));
      expect((await system.alice.waitForOrder(warm.body.trackingId, undefined, 90_000)).status).toBe(
        'CONFIRMED',
      );
      await system.sandbox.setFaults({ paymentFailureRate: 1 });
      const downAt = new Date();
      const ids = await placeOrders(system, 6, 500, sku);

      // Still down. Every hold runs out; an order that never sent a charge is cancelled without asking the provider.
      const records = await until(
        'every hold to run out',
        () =>
          Promise.all(
            ids.map(async (id) => {
              const { Item } = await system.table.doc.send(
                new GetCommand({
                  TableName: system.table.tableName,
                  Key: { pk: `ORDER#${id}`, sk: 'ORDER' },
                  ConsistentRead: true,
                }),
              );
              return Item ?? {};
            }),
          ),
        (items) =>
          items.every(
            (item) => item.status === 'CANCELLED' || (item.chargeAttemptedAt && item.compensatingAt),
          ),
        (SHORT_HOLD_SECONDS + 60) * 1000,
      );
      // Only the requests that opened the circuit were charges (probes are look-ups): every other order never sent one.
      const neverCharged = records.filter((item) => !item.chargeAttemptedAt);
      expect(neverCharged.length).toBeGreaterThanOrEqual(ids.length - 3);
      for (const item of neverCharged) expect(item.status).toBe('CANCELLED');
      const cancelledWhileDown = records.filter((item) => item.status === 'CANCELLED').length;

      // Back. An order whose charge request went unanswered is cancelled once its compensation may ask the provider
      // (the reconciler redrives it): the provider may hold a charge for it, which would be refunded.
      await system.sandbox.setFaults({});
      const upAt = new Date();
      const done = await Promise.all(
        ids.map((id) => system.alice.waitForOrder(id, (order) => order.status !== 'PENDING', 120_000)),
      );

      for (const order of done) {
        expect(order.status).toBe('CANCELLED');
        expect(order.failureReason).toBe('PAYMENT_UNAVAILABLE');
        expect(order.hold).toBeNull();
        expect(steps(order.timeline)).toEqual(
          expect.arrayContaining(['Held:WAITING', 'CancelOrder:SUCCEEDED']),
        );
      }
      // Nothing charged, so nothing to refund: at most one refund request per order, and no charge left behind.
      const refunds = (await system.sandbox.calls(downAt, 'REFUND')).body.calls;
      expect(refunds.length).toBeLessThanOrEqual(ids.length);
      for (const id of ids) {
        expect((await system.sandbox.charge(id)).status, id).toBe(404);
      }
      expect(await stockLevel(system.table, sku)).toBe(50);
      // Nothing lost: every customer is told, once.
      for (const id of ids) {
        await until(
          `the cancellation mail of ${id}`,
          () => mailCount(system.sandbox, id),
          (count) => count.messages === 1,
        );
      }
      console.info(
        `STANDARD, outage longer than the ${SHORT_HOLD_SECONDS} s hold: ${ids.length} orders, ${cancelledWhileDown} cancelled ` +
          `while the provider was still down (${neverCharged.length} never sent a charge), the rest after it was back ` +
          `(${Math.round((Date.now() - upAt.getTime()) / 1000)} s later); all PAYMENT_UNAVAILABLE, ${refunds.length} refund requests`,
      );
    },
    SCENARIO_TIMEOUT_MS,
  );
});
