/**
 * The money path under AWS's weaker delivery semantics, on DynamoDB Local (real conditional writes and
 * transactions) with a provider that behaves like a real card processor: idempotency keys are forgotten after a
 * day, nothing is voided, and a request whose caller gave up may still be charged later. Each test interleaves two
 * runs of one order's saga by hand, as a duplicate or restarted EXPRESS execution, or a STANDARD step committing
 * after its Catch fired, would interleave them.
 */

import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_UNAVAILABLE_ATTEMPTS } from '#contracts/circuit.ts';
import { authorizePayment, type PaymentDeps, voidPayment } from '#functions/payments/charging.ts';
import { CircuitBreaker } from '#functions/resilience/circuit-breaker.ts';
import { beginCompensation } from '#functions/saga/compensation.ts';
import { cancelOrder, confirmOrder } from '#functions/saga/outcome.ts';
import { releaseStock, reserveStock } from '#functions/saga/stock.ts';
import { CardProcessor as Processor } from '#test/unit/support/card-processor.ts';
import { type LocalTable, startLocalTable } from '#test/unit/support/local-table.ts';

const TABLE = 'races';
const HOUR = 3_600_000;
const T0 = new Date('2026-12-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

let table: LocalTable;
let doc: DynamoDBDocumentClient;
let provider: Processor;
let deps: PaymentDeps;
let orderSeq = 0;

beforeAll(async () => {
  table = await startLocalTable(TABLE);
  doc = table.doc;
}, 60_000);

afterAll(async () => {
  await table?.stop();
});

beforeEach(() => {
  provider = new Processor();
  deps = {
    doc,
    tableName: TABLE,
    payments: provider,
    settleMs: 30_000,
    keyRetentionMs: 24 * HOUR,
    // The races here are between executions, not an outage: a circuit that never opens keeps them apart.
    circuit: new CircuitBreaker({ doc, tableName: TABLE }, 'payment', {
      failureThreshold: 1_000_000,
      openMs: 30_000,
      probeLeaseMs: 10_000,
    }),
    holdMs: 15 * 60_000,
    maxUnavailableAttempts: MAX_UNAVAILABLE_ATTEMPTS,
    releasePerSecond: 20,
  };
});

/** A fresh order for 2 units of a fresh SKU (10 on the shelf, 250 minor units each), as accept writes it. */
async function placeOrder(): Promise<{ orderId: string; sku: string }> {
  orderSeq++;
  const orderId = `00000000-0000-4000-8000-${String(orderSeq).padStart(12, '0')}`;
  const sku = `SKU-${orderSeq}`;
  await doc.send(
    new PutCommand({
      TableName: TABLE,
      Item: { pk: `STOCK#${sku}`, sk: 'STOCK', sku, available: 10, price: 250, prices: { EUR: 250 } },
    }),
  );
  await doc.send(
    new PutCommand({
      TableName: TABLE,
      Item: {
        pk: `ORDER#${orderId}`,
        sk: 'ORDER',
        orderId,
        clientId: 'client-1',
        status: 'PENDING',
        version: 1,
        customer: { id: 'c-1', email: 'ada@example.com' },
        items: [{ sku, quantity: 2 }],
        currency: 'EUR',
        paymentToken: 'tok_ok',
        timeline: [],
        correlationId: 'corr-1',
        createdAt: T0.toISOString(),
        updatedAt: T0.toISOString(),
      },
    }),
  );
  return { orderId, sku };
}

async function read(pk: string, sk: string): Promise<Record<string, unknown>> {
  return (
    (await doc.send(new GetCommand({ TableName: TABLE, Key: { pk, sk }, ConsistentRead: true }))).Item ?? {}
  );
}

/** The money and the stock as they end: what a ledger check compares. */
async function books(orderId: string, sku: string) {
  const order = await read(`ORDER#${orderId}`, 'ORDER');
  const charged = provider.charges.filter((charge) => charge.orderId === orderId);
  return {
    status: order.status,
    charged: charged.reduce((sum, charge) => sum + charge.amount, 0),
    refunded: charged.filter((charge) => charge.refunded).reduce((sum, charge) => sum + charge.amount, 0),
    available: (await read(`STOCK#${sku}`, 'STOCK')).available,
  };
}

const failure = { Error: 'States.TaskFailed', Cause: 'a duplicate execution failed' };

describe('two runs of one order', () => {
  it('a run that compensates after another charged keeps the other from confirming: CANCELLED, refunded, restocked', async () => {
    const { orderId, sku } = await placeOrder();
    await reserveStock(deps, orderId, at(0));
    await authorizePayment(deps, orderId, at(1_000));

    // The second run fails and compensates while the first is between AuthorizePayment and ConfirmOrder.
    await voidPayment(deps, orderId, failure, at(2_000));
    await releaseStock(deps, orderId, failure, at(2_100));
    await expect(confirmOrder(deps, orderId, at(2_200))).rejects.toMatchObject({ name: 'InvalidOrderState' });
    await cancelOrder(deps, orderId, failure, at(2_300));

    expect(await books(orderId, sku)).toEqual({
      status: 'CANCELLED',
      charged: 500,
      refunded: 500,
      available: 10,
    });
  });

  it('a run restarted from the beginning after compensation began reserves and charges nothing', async () => {
    const { orderId, sku } = await placeOrder();
    await beginCompensation(deps, orderId, failure, at(0));

    await expect(reserveStock(deps, orderId, at(100))).rejects.toMatchObject({ name: 'InvalidOrderState' });
    await expect(authorizePayment(deps, orderId, at(200))).rejects.toMatchObject({
      name: 'InvalidOrderState',
    });
    await voidPayment(deps, orderId, failure, at(300));
    await releaseStock(deps, orderId, failure, at(400));
    await cancelOrder(deps, orderId, failure, at(500));

    expect(provider.charges).toHaveLength(0);
    expect(await books(orderId, sku)).toEqual({
      status: 'CANCELLED',
      charged: 0,
      refunded: 0,
      available: 10,
    });
  });

  it('a run restarted after the order was confirmed changes nothing, and its compensation keeps the money', async () => {
    const { orderId, sku } = await placeOrder();
    await reserveStock(deps, orderId, at(0));
    await authorizePayment(deps, orderId, at(100));
    await confirmOrder(deps, orderId, at(200));

    await reserveStock(deps, orderId, at(1_000));
    await authorizePayment(deps, orderId, at(1_100));
    expect(await confirmOrder(deps, orderId, at(1_200))).toEqual({
      status: 'CONFIRMED',
      alreadyConfirmed: true,
    });
    await voidPayment(deps, orderId, failure, at(1_300));
    await releaseStock(deps, orderId, failure, at(1_400));
    await cancelOrder(deps, orderId, failure, at(1_500));

    expect(await books(orderId, sku)).toEqual({
      status: 'CONFIRMED',
      charged: 500,
      refunded: 0,
      available: 8,
    });
    expect(provider.charges).toHaveLength(1);
  });
});

describe('the reason an order was cancelled', () => {
  it('is the one of the run that began the compensation, not of a run refused because it had begun', async () => {
    const { orderId } = await placeOrder();
    await reserveStock(deps, orderId, at(0));
    const declined = { Error: 'PaymentDeclined', Cause: JSON.stringify({ errorMessage: 'card declined' }) };
    await voidPayment(deps, orderId, declined, at(1_000));

    // A duplicate execution is refused at AuthorizePayment and reaches CancelOrder first, with its own error.
    const refused = await authorizePayment(deps, orderId, at(1_100)).catch((error: Error) => error);
    const ownError = {
      Error: (refused as Error).name,
      Cause: JSON.stringify({ errorMessage: (refused as Error).message }),
    };
    await cancelOrder(deps, orderId, ownError, at(1_200));

    const order = await read(`ORDER#${orderId}`, 'ORDER');
    expect(ownError.Error).toBe('InvalidOrderState');
    expect(order.status).toBe('CANCELLED');
    expect(order.failureReason).toBe('PAYMENT_DECLINED');
  });
});

describe('a charge whose answer was lost', () => {
  it('is waited for, found by the order and refunded once, although it lands after the compensation began', async () => {
    const { orderId, sku } = await placeOrder();
    await reserveStock(deps, orderId, at(0));
    provider.holdNext = true;
    await expect(authorizePayment(deps, orderId, at(1_000))).rejects.toMatchObject({
      name: 'PaymentProviderUnavailable',
    });

    // Nothing has landed yet, and the request is younger than the settle time: the compensation must wait.
    await expect(voidPayment(deps, orderId, failure, at(5_000))).rejects.toMatchObject({
      name: 'ChargeMayBeInFlight',
    });
    provider.land();
    await voidPayment(deps, orderId, failure, at(10_000));
    await releaseStock(deps, orderId, failure, at(10_100));
    await cancelOrder(deps, orderId, failure, at(10_200));

    expect(await books(orderId, sku)).toEqual({
      status: 'CANCELLED',
      charged: 500,
      refunded: 500,
      available: 10,
    });
    expect(provider.refunds.size).toBe(1);
  });

  it('that never lands is given up on after the settle time: nothing to refund', async () => {
    const { orderId, sku } = await placeOrder();
    await reserveStock(deps, orderId, at(0));
    provider.holdNext = true;
    await expect(authorizePayment(deps, orderId, at(1_000))).rejects.toThrow();

    const result = await voidPayment(deps, orderId, failure, at(31_001));
    await releaseStock(deps, orderId, failure, at(31_100));
    await cancelOrder(deps, orderId, failure, at(31_200));

    expect(result).toEqual({ outcome: 'SKIPPED', detail: 'no charge was made' });
    expect(await books(orderId, sku)).toEqual({
      status: 'CANCELLED',
      charged: 0,
      refunded: 0,
      available: 10,
    });
  });

  it('is adopted, not charged again, by a redrive after the provider forgot the key', async () => {
    const { orderId, sku } = await placeOrder();
    await reserveStock(deps, orderId, at(0));
    provider.holdNext = true;
    await expect(authorizePayment(deps, orderId, at(1_000))).rejects.toThrow();
    provider.land();

    // Days later an operator redrives the failed execution at AuthorizePayment.
    provider.clock = at(3 * 24 * HOUR).getTime();
    const result = await authorizePayment(deps, orderId, at(3 * 24 * HOUR));
    await confirmOrder(deps, orderId, at(3 * 24 * HOUR + 100));

    expect(result).toHaveProperty('paymentRef', 'ch_1');
    expect(provider.charges).toHaveLength(1);
    expect(await books(orderId, sku)).toEqual({
      status: 'CONFIRMED',
      charged: 500,
      refunded: 0,
      available: 8,
    });
    expect((await read(`ORDER#${orderId}`, 'ORDER')).paymentToken).toBeUndefined();
  });

  it('lands while its own step is still running after the compensation began, and that step refunds it', async () => {
    const { orderId, sku } = await placeOrder();
    await reserveStock(deps, orderId, at(0));
    const charging = provider.charge.bind(provider);
    // The provider answers only after the other run's compensation has begun and found nothing.
    provider.charge = async (request) => {
      await expect(voidPayment(deps, orderId, failure, at(1_500))).rejects.toMatchObject({
        name: 'ChargeMayBeInFlight',
      });
      return charging(request);
    };

    await expect(authorizePayment(deps, orderId, at(1_000))).rejects.toMatchObject({
      name: 'InvalidOrderState',
    });
    await voidPayment(deps, orderId, failure, at(2_000));
    await releaseStock(deps, orderId, failure, at(2_100));
    await cancelOrder(deps, orderId, failure, at(2_200));

    expect(await books(orderId, sku)).toEqual({
      status: 'CANCELLED',
      charged: 500,
      refunded: 500,
      available: 10,
    });
    expect(provider.refunds.size).toBe(1);
  });
});
