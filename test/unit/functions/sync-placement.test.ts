/**
 * The synchronous order flow (`-c orderFlow=sync`) on DynamoDB Local, so its one transaction meets real conditions,
 * with an in-memory card processor: every outcome ends the order in one write, a retry never charges twice, and a
 * charge the order cannot keep is paid back.
 */

import { DeleteCommand, GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_UNAVAILABLE_ATTEMPTS } from '#contracts/circuit.ts';
import type { Mailer, MailMessage } from '#functions/notifications/mail.ts';
import { IdempotencyKeyReused } from '#functions/orders/acceptance.ts';
import { PaymentDeclined, PaymentProviderUnavailable } from '#functions/orders/errors.ts';
import { orderIdSchema } from '#functions/orders/order.ts';
import {
  placeOrderSynchronously,
  type SyncPlaceCommand,
  type SyncPlacementDeps,
  syncOrderId,
} from '#functions/orders/sync-placement.ts';
import { breakerKey, CircuitBreaker } from '#functions/resilience/circuit-breaker.ts';
import { CardProcessor } from '#test/unit/support/card-processor.ts';
import { type LocalTable, startLocalTable } from '#test/unit/support/local-table.ts';

const TABLE = 'sync-placement';
const NOW = new Date('2026-12-01T10:00:00.000Z');

class RecordingMailer implements Mailer {
  sent: Array<{ message: MailMessage; key: string }> = [];
  failing = false;
  async send(message: MailMessage, idempotencyKey: string): Promise<void> {
    if (this.failing) throw new Error('mail sink down');
    this.sent.push({ message, key: idempotencyKey });
  }
}

let table: LocalTable;
let processor: CardProcessor;
let mailer: RecordingMailer;
let deps: SyncPlacementDeps;
let seq = 0;

const breaker = (name: 'payment' | 'mail', failureThreshold = 1_000_000) =>
  new CircuitBreaker({ doc: table.doc, tableName: TABLE }, name, {
    failureThreshold,
    openMs: 30_000,
    probeLeaseMs: 10_000,
  });

beforeAll(async () => {
  table = await startLocalTable(TABLE);
}, 60_000);

afterAll(async () => {
  await table?.stop();
});

beforeEach(async () => {
  // Circuits are table items: one a test opened stays open for the next.
  for (const name of ['payment', 'mail'] as const) {
    await table.doc.send(new DeleteCommand({ TableName: TABLE, Key: breakerKey(name) }));
  }
  processor = new CardProcessor();
  mailer = new RecordingMailer();
  deps = {
    doc: table.doc,
    tableName: TABLE,
    payments: processor,
    settleMs: 30_000,
    keyRetentionMs: 24 * 3_600_000,
    circuit: breaker('payment'),
    holdMs: 15 * 60_000,
    maxUnavailableAttempts: MAX_UNAVAILABLE_ATTEMPTS,
    releasePerSecond: 20,
    mail: { mailer, circuit: breaker('mail') },
    retryDelaysMs: [0, 0, 0],
  };
});

/** A fresh SKU on the shelf (each test its own, so stock levels never mix) and an order of `quantity` of it. */
async function arrange(quantity = 2, available = 10): Promise<{ sku: string; command: SyncPlaceCommand }> {
  seq++;
  const sku = `SKU-${seq}`;
  await table.doc.send(
    new PutCommand({
      TableName: TABLE,
      Item: { pk: `STOCK#${sku}`, sk: 'STOCK', sku, available, prices: { EUR: 250 }, points: 3 },
    }),
  );
  return {
    sku,
    command: {
      clientId: 'client-a',
      idempotencyKey: `key-${seq}`,
      correlationId: `corr-${seq}`,
      order: {
        customer: { id: 'cust-1', email: 'ada@example.com' },
        items: [{ sku, quantity }],
        currency: 'EUR',
        paymentToken: 'tok_ok',
      },
    },
  };
}

async function available(sku: string): Promise<number | undefined> {
  const { Item } = await table.doc.send(
    new GetCommand({ TableName: TABLE, Key: { pk: `STOCK#${sku}`, sk: 'STOCK' }, ConsistentRead: true }),
  );
  return Item?.available as number | undefined;
}

async function outboxOf(orderId: string): Promise<Array<Record<string, unknown>>> {
  const { Items = [] } = await table.doc.send(
    new ScanCommand({
      TableName: TABLE,
      FilterExpression: 'entity = :outbox AND aggregateId = :order',
      ExpressionAttributeValues: { ':outbox': 'Outbox', ':order': orderId },
      ConsistentRead: true,
    }),
  );
  return Items;
}

describe('placeOrderSynchronously', () => {
  it('charges once, then writes the confirmed order, its stock, its event and its key together, and mails', async () => {
    const { sku, command } = await arrange(2);

    const { order, replayed } = await placeOrderSynchronously(deps, command, NOW);

    expect(replayed).toBe(false);
    expect(order).toMatchObject({ status: 'CONFIRMED', amount: 500, points: 6, paymentRef: 'ch_1' });
    expect(processor.requests).toEqual([
      expect.objectContaining({ idempotencyKey: order.orderId, orderId: order.orderId, amount: 500 }),
    ]);
    expect(await available(sku)).toBe(8);
    const [event, ...more] = await outboxOf(order.orderId);
    expect(more).toEqual([]);
    expect(event).toMatchObject({ messageType: 'OrderConfirmed', status: 'PENDING' });
    // The mail goes under the event's id: the notify worker that gets the same event finds it sent.
    expect(mailer.sent.map((mail) => mail.key)).toEqual([event?.messageId]);
    const { Item: stored } = await table.doc.send(
      new GetCommand({ TableName: TABLE, Key: { pk: `ORDER#${order.orderId}`, sk: 'ORDER' } }),
    );
    // An ended order: off the Open index, on the Settled one, with a retention.
    expect(stored).toMatchObject({ status: 'CONFIRMED', settledPk: 'SETTLED#2026-12-01' });
    expect(stored).not.toHaveProperty('openPk');
    expect(stored).not.toHaveProperty('paymentToken');
    expect(stored?.expiresAt).toEqual(expect.any(Number));
  });

  it('answers a retry with the same key and body with the first order, charging and mailing nothing more', async () => {
    const { sku, command } = await arrange(1);
    const first = await placeOrderSynchronously(deps, command, NOW);

    const again = await placeOrderSynchronously(deps, command, NOW);

    expect(again.replayed).toBe(true);
    expect(again.order).toMatchObject({
      orderId: first.order.orderId,
      status: 'CONFIRMED',
      paymentRef: first.order.paymentRef,
    });
    expect(processor.requests).toHaveLength(1);
    expect(mailer.sent).toHaveLength(1);
    expect(await available(sku)).toBe(9);
    await expect(
      placeOrderSynchronously(deps, { ...command, order: { ...command.order, currency: 'USD' } }, NOW),
    ).rejects.toBeInstanceOf(IdempotencyKeyReused);
  });

  it('charges a retry whose first attempt died after the charge under the same provider key: one charge', async () => {
    const { command } = await arrange(1);
    // The first attempt's charge landed, then its function died before the transaction.
    await processor.charge({
      idempotencyKey: syncOrderId(command.clientId, command.idempotencyKey),
      orderId: syncOrderId(command.clientId, command.idempotencyKey),
      amount: 250,
      currency: 'EUR',
      token: 'tok_ok',
    });

    const { order } = await placeOrderSynchronously(deps, command, NOW);

    expect(order).toMatchObject({ status: 'CONFIRMED', paymentRef: 'ch_1' });
    expect(processor.charges).toHaveLength(1);
  });

  it('cancels a declined order in the same one write, stock untouched, and mails the cancellation', async () => {
    const { sku, command } = await arrange(2);
    processor.refuseWith = () => new PaymentDeclined('card declined');

    const { order } = await placeOrderSynchronously(deps, command, NOW);

    expect(order).toMatchObject({ status: 'CANCELLED', failureReason: 'PAYMENT_DECLINED' });
    expect(order.paymentRef).toBeUndefined();
    expect(processor.requests).toHaveLength(1);
    expect(await available(sku)).toBe(10);
    expect((await outboxOf(order.orderId)).map((item) => item.messageType)).toEqual(['OrderCancelled']);
    expect(mailer.sent).toHaveLength(1);
  });

  it('cancels an order the shelf cannot fill without asking the provider', async () => {
    const { sku, command } = await arrange(3, 2);

    const { order } = await placeOrderSynchronously(deps, command, NOW);

    expect(order).toMatchObject({ status: 'CANCELLED', failureReason: 'OUT_OF_STOCK' });
    expect(processor.requests).toEqual([]);
    expect(await available(sku)).toBe(2);
  });

  it('cancels an order for an unknown SKU without asking the provider', async () => {
    const { command } = await arrange(1);
    const unknown = { ...command, order: { ...command.order, items: [{ sku: 'NO-SUCH-SKU', quantity: 1 }] } };

    const { order } = await placeOrderSynchronously(deps, unknown, NOW);

    expect(order).toMatchObject({ status: 'CANCELLED', failureReason: 'UNKNOWN_SKU' });
    expect(processor.requests).toEqual([]);
  });

  it('refunds the charge when the shelf empties between the read and the write, and cancels OUT_OF_STOCK', async () => {
    const { sku, command } = await arrange(2, 2);
    // Another order takes the last units while this one is being charged.
    processor.refuseWith = () => {
      void table.doc.send(
        new PutCommand({
          TableName: TABLE,
          Item: { pk: `STOCK#${sku}`, sk: 'STOCK', sku, available: 0, prices: { EUR: 250 }, points: 3 },
        }),
      );
      return undefined;
    };
    // The put above runs while the charge is answered; make sure it has landed before the transaction.
    const charge = processor.charge.bind(processor);
    processor.charge = async (request) => {
      const answer = await charge(request);
      await new Promise((resolve) => setTimeout(resolve, 200));
      return answer;
    };

    const { order } = await placeOrderSynchronously(deps, command, NOW);

    expect(order).toMatchObject({ status: 'CANCELLED', failureReason: 'OUT_OF_STOCK' });
    expect(processor.charges).toEqual([expect.objectContaining({ refunded: true })]);
    expect(await available(sku)).toBe(0);
    expect((await outboxOf(order.orderId)).map((item) => item.messageType)).toEqual(['OrderCancelled']);
  });

  it('retries an unavailable provider as the saga does, then cancels and refunds a charge that landed late', async () => {
    const { sku, command } = await arrange(1);
    processor.holdNext = true;
    processor.refuseWith = (request) => {
      if (processor.requests.length === 1) return undefined;
      // The first request, given up on, reaches the ledger while the provider fails the retries.
      processor.land();
      return new PaymentProviderUnavailable(`no answer for ${request.orderId}`);
    };

    const { order } = await placeOrderSynchronously(deps, command, NOW);

    expect(order).toMatchObject({ status: 'CANCELLED', failureReason: 'PAYMENT_UNAVAILABLE' });
    expect(processor.requests).toHaveLength(1 + 3);
    expect(processor.charges).toEqual([expect.objectContaining({ refunded: true })]);
    expect(await available(sku)).toBe(10);
  });

  it('does not call a provider whose circuit is open: the answer is the cancellation', async () => {
    deps = { ...deps, circuit: breaker('payment', 1), retryDelaysMs: [] };
    const opening = await arrange(1);
    processor.refuseWith = () => new PaymentProviderUnavailable('down');
    await placeOrderSynchronously(deps, opening.command, NOW);
    const { command } = await arrange(1);
    processor.requests.length = 0;

    const { order } = await placeOrderSynchronously(deps, command, NOW);

    expect(order).toMatchObject({ status: 'CANCELLED', failureReason: 'PAYMENT_UNAVAILABLE' });
    expect(order.timeline.at(-1)?.detail).toMatch(/^PAYMENT_UNAVAILABLE: payment circuit open since /);
    expect(processor.requests).toEqual([]);
  });

  it('answers with the order when the mail cannot go now: the notify worker sends it from the event', async () => {
    const { command } = await arrange(1);
    mailer.failing = true;

    const { order } = await placeOrderSynchronously(deps, command, NOW);

    expect(order.status).toBe('CONFIRMED');
    expect(await outboxOf(order.orderId)).toHaveLength(1);
  });
});

describe('syncOrderId', () => {
  it('is a tracking id (UUID) of the client and its key: the same for a retry, another for another client', () => {
    const id = syncOrderId('client-a', 'key-1');

    expect(orderIdSchema.parse(id)).toBe(id);
    expect(syncOrderId('client-a', 'key-1')).toBe(id);
    expect(syncOrderId('client-b', 'key-1')).not.toBe(id);
    expect(syncOrderId('client-a', 'key-2')).not.toBe(id);
  });
});
