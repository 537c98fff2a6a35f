import { randomUUID } from 'node:crypto';
import { BatchGetCommand, DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { acceptOrder } from '#functions/orders/acceptance.ts';
import {
  type OrderRecord,
  orderRecordSchema,
  type PlaceOrder,
  timelineEntry,
} from '#functions/orders/order.ts';
import { type OrderChange, orderUpdate } from '#functions/orders/order-store.ts';
import { itemSize } from '#local/engines/metering.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { terminalRetention } from '#shared/retention.ts';
import { settledIndexAttributes } from '#shared/settled-index.ts';
import { TABLE, transactItems } from './helpers.ts';

/**
 * A write is billed by the larger of the item's images in 1 KB steps, twice inside a transaction: the confirmed order
 * must stay under 1 KB, or the confirm transaction costs 4 write units instead of 2 (docs/writes-per-order.md). The
 * order is written by the real accept path; the saga's changes are the ones its steps make on the happy path.
 */

const ddb = mockClient(DynamoDBDocumentClient);
const deps = { doc: documentClient, tableName: TABLE };

type Item = Record<string, unknown>;

/** Applies an `orderUpdate` to the stored item the way DynamoDB would (SET, list_append, REMOVE). */
function applyUpdate(item: Item, update: NonNullable<ReturnType<typeof orderUpdate>['Update']>): Item {
  const names = update.ExpressionAttributeNames ?? {};
  const values = update.ExpressionAttributeValues ?? {};
  const [set = '', remove] = update.UpdateExpression?.replace(/^SET /, '').split(' REMOVE ') ?? [];
  const next: Item = { ...item };
  for (const assignment of set.split(/, (?=#)/)) {
    const [name = '', expression = ''] = assignment.split(' = ');
    const attribute = names[name] ?? name;
    const appended = /^list_append\(#\w+, (:\w+)\)$/.exec(expression);
    next[attribute] = appended
      ? [...(next[attribute] as unknown[]), ...(values[appended[1] ?? ''] as unknown[])]
      : values[expression];
  }
  for (const name of remove?.split(', ') ?? []) delete next[names[name] ?? name];
  return next;
}

async function confirmedOrderItem(placed: PlaceOrder): Promise<Item> {
  const prices = Object.fromEntries(
    placed.items.map((line) => [
      line.sku,
      {
        pk: `STOCK#${line.sku}`,
        sk: 'STOCK',
        sku: line.sku,
        available: 100,
        prices: { EUR: 1299 },
        points: 12,
      },
    ]),
  );
  ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: Object.values(prices) } });
  ddb.on(TransactWriteCommand).resolves({});
  const start = new Date('2026-12-07T10:15:30.123Z');
  await acceptOrder(
    deps,
    { clientId: 'bench-client', idempotencyKey: randomUUID(), correlationId: randomUUID(), order: placed },
    start,
  );
  let item = transactItems(ddb)[0]?.Put?.Item as Item;
  const at = (ms: number) => new Date(start.getTime() + ms);
  const step = (change: OrderChange, now: Date) => {
    const order = orderRecordSchema.parse(item) as OrderRecord;
    const update = orderUpdate(TABLE, order, change, now).Update;
    if (!update) throw new Error('no update');
    item = applyUpdate(item, update);
    expect(itemSize(marshall(item, { removeUndefinedValues: true }))).toBeLessThan(1024);
  };
  const units = placed.items.reduce((sum, line) => sum + line.quantity, 0);
  step(
    {
      set: { amount: 1299 * units, points: 12 * units, reservedAt: at(400).toISOString() },
      timeline: [
        timelineEntry(
          'ReserveStock',
          'SUCCEEDED',
          at(400),
          `reserved ${units} units of ${placed.items.length} SKUs`,
        ),
      ],
    },
    at(400),
  );
  step({ set: { chargeAttemptedAt: at(600).toISOString() }, timeline: [] }, at(600));
  const paymentRef = `ch_${'0123456789ab'.repeat(2)}`;
  step(
    {
      set: { paymentRef, authorizedAt: at(900).toISOString() },
      remove: ['paymentToken', 'hold'],
      timeline: [timelineEntry('AuthorizePayment', 'SUCCEEDED', at(900), `charge ${paymentRef} authorized`)],
    },
    at(900),
  );
  const orderId = String(item.orderId);
  step(
    {
      set: {
        status: 'CONFIRMED',
        ...terminalRetention(at(1200)),
        ...settledIndexAttributes(orderId, at(1200)),
      },
      remove: ['openPk', 'openSk', 'paymentToken'],
      timeline: [timelineEntry('ConfirmOrder', 'SUCCEEDED', at(1200))],
    },
    at(1200),
  );
  return item;
}

beforeEach(() => {
  ddb.reset();
});

describe('the order item on the happy path', () => {
  it("stays under 1 KB through confirmation for the bench's one-line order", async () => {
    const item = await confirmedOrderItem({
      customer: { id: 'cust-1a2b3c4d', email: 'ada@example.com', name: 'Ada' },
      items: [{ sku: 'BEAN-1', quantity: 1 }],
      currency: 'EUR',
      paymentToken: 'tok_ok',
    });

    expect(item.status).toBe('CONFIRMED');
    expect(item).not.toHaveProperty('idempotencyKey');
  });

  it('stays under 1 KB for a two-line order of a customer with a full name and a longer address', async () => {
    const item = await confirmedOrderItem({
      customer: {
        id: 'customer-0042-7781',
        email: 'margaret.hamilton@example-company.com',
        name: 'Margaret Hamilton-Smith',
      },
      items: [
        { sku: 'BEAN-1', quantity: 2 },
        { sku: 'MUG-7', quantity: 1 },
      ],
      currency: 'EUR',
      paymentToken: 'tok_visa_4242424242424242',
    });

    expect(item.status).toBe('CONFIRMED');
  });
});
