import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { SagaInput } from '#functions/saga/saga-state.ts';
import {
  assignedValue,
  boundValues,
  context,
  frozenClock,
  NOW,
  orderKey,
  reservationKey,
  sagaInput,
  sentInput,
  storedOrder,
  TABLE,
  transactItems,
  transactionCanceled,
} from './helpers.ts';

const { handler: reserve } = await import('#functions/saga/reserve-stock.ts');
const { handler: release } = await import('#functions/saga/release-stock.ts');

const ddb = mockClient(DynamoDBDocumentClient);

const stock = {
  'BEAN-1': {
    pk: 'STOCK#BEAN-1',
    sk: 'STOCK',
    sku: 'BEAN-1',
    name: 'Beans',
    available: 10,
    prices: { EUR: 1299, JPY: 1900, KWD: 420 },
    points: 12,
  },
  'MUG-7': {
    pk: 'STOCK#MUG-7',
    sk: 'STOCK',
    sku: 'MUG-7',
    name: 'Mug',
    available: 1,
    prices: { EUR: 850, JPY: 1300 },
    points: 8,
  },
};

/** What ReserveStock records on the order (the order is the reservation record). */
const reservation = { amount: 3448, points: 32, reservedAt: '2026-05-01T11:59:30.000Z' };
const reserved = (overrides: Record<string, unknown> = {}) =>
  storedOrder({ ...reservation, version: 2, ...overrides });

/** `order: null` means no order item. A reservation item of the order's partition (older orders) is never read. */
function table({ order = storedOrder() }: { order?: unknown } = {}) {
  ddb.on(GetCommand, { Key: orderKey }).resolves({ Item: (order ?? undefined) as Record<string, unknown> });
  ddb.on(GetCommand, { Key: reservationKey }).rejects(new Error('the reservation item is not read'));
}

function stockOnShelf(items: Record<string, unknown>[]) {
  ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: items } });
}

const writes = () => [...ddb.commandCalls(TransactWriteCommand), ...ddb.commandCalls(UpdateCommand)];

beforeEach(() => {
  ddb.reset();
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
});

frozenClock();

describe('reserve-stock', () => {
  it('reserves every line and records the reservation and the price on the order, in one transaction', async () => {
    table();
    stockOnShelf([stock['BEAN-1'], stock['MUG-7']]);

    const result = await reserve(sagaInput, context);

    expect(result).toEqual({ amount: 2 * 1299 + 850, currency: 'EUR', reservedAt: NOW.toISOString() });
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [
        {
          Update: {
            TableName: TABLE,
            Key: { pk: 'STOCK#BEAN-1', sk: 'STOCK' },
            UpdateExpression: 'SET available = available - :quantity',
            ConditionExpression: 'attribute_exists(pk) AND available >= :quantity',
            ExpressionAttributeValues: { ':quantity': 2 },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        { Update: expect.objectContaining({ Key: { pk: 'STOCK#MUG-7', sk: 'STOCK' } }) },
        {
          Update: expect.objectContaining({
            Key: orderKey,
            ConditionExpression: '#version = :expected',
            ExpressionAttributeValues: expect.objectContaining({
              ':expected': 1,
              ':next': 2,
              ':entries': [`${NOW.toISOString()} ReserveStock reserved 3 units of 2 SKUs`],
            }),
          }),
        },
      ],
    });
    // The order takes the amount and the points by generated names: which slot holds them is no concern here.
    expect(boundValues(transactItems(ddb)[2]?.Update)).toEqual(expect.arrayContaining([3448, 32]));
    expect(assignedValue(transactItems(ddb)[2]?.Update, 'reservedAt')).toBe(NOW.toISOString());
    expect(ddb).toHaveReceivedNthCommandWith(BatchGetCommand, 1, {
      RequestItems: { [TABLE]: expect.objectContaining({ ConsistentRead: true }) },
    });
  });

  it("charges a JPY order the catalogue's yen price, not the euro cents, and fixes the same points", async () => {
    table({ order: storedOrder({ currency: 'JPY' }) });
    stockOnShelf([stock['BEAN-1'], stock['MUG-7']]);

    const result = await reserve(sagaInput, context);

    expect(result).toEqual({ amount: 2 * 1900 + 1300, currency: 'JPY', reservedAt: NOW.toISOString() });
    const [, , orderUpdate] = transactItems(ddb);
    expect(boundValues(orderUpdate?.Update)).toEqual(expect.arrayContaining([5100, 32]));
  });

  it('throws PriceUnavailable, before writing, when a known item has no price in the currency', async () => {
    table({ order: storedOrder({ currency: 'KWD' }) });
    stockOnShelf([stock['BEAN-1'], stock['MUG-7']]);

    await expect(reserve(sagaInput, context)).rejects.toMatchObject({
      name: 'PriceUnavailable',
      message: 'no price in KWD for sku MUG-7',
      skus: ['MUG-7'],
      currency: 'KWD',
    });
    expect(writes()).toHaveLength(0);
  });

  it('reads a stock item written before prices were per currency (a bare `price`) as unpriced', async () => {
    table();
    const { prices: _, ...unmigrated } = stock['BEAN-1'];
    stockOnShelf([{ ...unmigrated, price: 1299 }, stock['MUG-7']]);

    await expect(reserve(sagaInput, context)).rejects.toMatchObject({
      name: 'PriceUnavailable',
      skus: ['BEAN-1'],
    });
    expect(writes()).toHaveLength(0);
  });

  it('reads the bare counter a release recreates for a deleted SKU (no sku, no prices) as unpriced', async () => {
    table();
    stockOnShelf([{ pk: 'STOCK#BEAN-1', sk: 'STOCK', available: 2 }, stock['MUG-7']]);

    await expect(reserve(sagaInput, context)).rejects.toMatchObject({
      name: 'PriceUnavailable',
      skus: ['BEAN-1'],
    });
    expect(writes()).toHaveLength(0);
  });

  it('throws OrderLimitExceeded, before writing, when the priced total is over the cap of its currency', async () => {
    table();
    stockOnShelf([{ ...stock['BEAN-1'], prices: { EUR: 500_000 } }, stock['MUG-7']]);

    await expect(reserve(sagaInput, context)).rejects.toMatchObject({
      name: 'OrderLimitExceeded',
      message: 'order total €10,008.50 exceeds the limit of €10,000.00 per order',
    });
    expect(writes()).toHaveLength(0);
  });

  it('is a no-op that returns the reservation recorded on the order when repeated', async () => {
    table({ order: reserved() });

    const result = await reserve(sagaInput, context);

    expect(result).toEqual({ amount: 3448, currency: 'EUR', reservedAt: reservation.reservedAt });
    expect(writes()).toHaveLength(0);
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 0);
  });

  it.each([
    ['a compensating order', { order: reserved({ compensatingAt: NOW.toISOString() }) }],
    ['a cancelled order', { order: reserved({ status: 'CANCELLED' }) }],
    ['an order whose reservation was released', { order: reserved({ stockReleasedAt: NOW.toISOString() }) }],
    [
      'an order whose stock was released before any reservation',
      { order: storedOrder({ stockReleasedAt: NOW.toISOString() }) },
    ],
  ])(
    'refuses %s (InvalidOrderState), even when a reservation exists, and writes nothing',
    async (_case, state) => {
      table(state);

      await expect(reserve(sagaInput, context)).rejects.toMatchObject({ name: 'InvalidOrderState' });
      expect(writes()).toHaveLength(0);
      expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 0);
    },
  );

  it('throws UnknownSku for a sku without stock item, before writing', async () => {
    table();
    stockOnShelf([stock['BEAN-1']]);

    await expect(reserve(sagaInput, context)).rejects.toMatchObject({
      name: 'UnknownSku',
      message: 'unknown sku MUG-7',
    });
    expect(writes()).toHaveLength(0);
  });

  it('throws OutOfStock when a line asks for more than is available', async () => {
    table({ order: storedOrder({ items: [{ sku: 'MUG-7', quantity: 2 }] }) });
    stockOnShelf([stock['MUG-7']]);

    await expect(reserve(sagaInput, context)).rejects.toMatchObject({ name: 'OutOfStock' });
    expect(writes()).toHaveLength(0);
  });

  it('throws OutOfStock when another order took the stock between read and write', async () => {
    table();
    stockOnShelf([stock['BEAN-1'], stock['MUG-7']]);
    ddb
      .on(TransactWriteCommand)
      .rejects(
        transactionCanceled(
          'None',
          { Code: 'ConditionalCheckFailed', Item: marshall({ available: 0 }) },
          'None',
        ),
      );

    await expect(reserve(sagaInput, context)).rejects.toMatchObject({ name: 'OutOfStock', skus: ['MUG-7'] });
  });

  it('throws UnknownSku when a stock item vanished between read and write', async () => {
    table();
    stockOnShelf([stock['BEAN-1'], stock['MUG-7']]);
    ddb
      .on(TransactWriteCommand)
      .rejects(transactionCanceled({ Code: 'ConditionalCheckFailed' }, 'None', 'None'));

    await expect(reserve(sagaInput, context)).rejects.toMatchObject({ name: 'UnknownSku', skus: ['BEAN-1'] });
  });

  it('re-reads after losing a race on the order and returns what the concurrent run reserved', async () => {
    stockOnShelf([stock['BEAN-1'], stock['MUG-7']]);
    ddb
      .on(GetCommand, { Key: orderKey })
      .resolvesOnce({ Item: storedOrder() })
      .resolves({ Item: reserved() });
    ddb.on(TransactWriteCommand).rejects(transactionCanceled('None', 'None', 'ConditionalCheckFailed'));

    const result = await reserve(sagaInput, context);

    expect(result.reservedAt).toBe(reservation.reservedAt);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('asks again for the stock keys BatchGetItem left unprocessed, with a consistent read', async () => {
    table();
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [stock['BEAN-1']] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ pk: 'STOCK#MUG-7', sk: 'STOCK' }] } },
      })
      .resolves({ Responses: { [TABLE]: [stock['MUG-7']] } });

    const result = await reserve(sagaInput, context);

    expect(result.amount).toBe(2 * 1299 + 850);
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 2);
    expect(ddb).toHaveReceivedNthCommandWith(BatchGetCommand, 2, {
      RequestItems: expect.objectContaining({
        [TABLE]: { Keys: [{ pk: 'STOCK#MUG-7', sk: 'STOCK' }], ConsistentRead: true },
      }),
    });
  });

  it('gives up without writing when BatchGetItem keeps leaving keys unprocessed', async () => {
    table();
    ddb.on(BatchGetCommand).resolves({
      Responses: { [TABLE]: [stock['BEAN-1']] },
      UnprocessedKeys: { [TABLE]: { Keys: [{ pk: 'STOCK#MUG-7', sk: 'STOCK' }] } },
    });

    await expect(reserve(sagaInput, context)).rejects.toThrow('stock lookup kept returning unprocessed keys');
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 5);
    expect(writes()).toHaveLength(0);
  });

  it('refuses to reserve for an order that is no longer PENDING', async () => {
    table({ order: storedOrder({ status: 'CANCELLED', version: 3 }) });
    stockOnShelf([stock['BEAN-1'], stock['MUG-7']]);

    await expect(reserve(sagaInput, context)).rejects.toMatchObject({
      name: 'InvalidOrderState',
      message: expect.stringContaining('CANCELLED'),
    });
    expect(writes()).toHaveLength(0);
  });

  it('reserves exactly the available quantity, and names one unit of one SKU in the singular', async () => {
    table({ order: storedOrder({ items: [{ sku: 'MUG-7', quantity: 1 }] }) });
    stockOnShelf([stock['MUG-7']]);

    const result = await reserve(sagaInput, context);

    expect(result.amount).toBe(850);
    expect(transactItems(ddb)[1]?.Update?.ExpressionAttributeValues?.[':entries']).toEqual([
      `${NOW.toISOString()} ReserveStock reserved 1 unit of 1 SKU`,
    ]);
  });

  it('looks up the stock item of every line', async () => {
    table();
    stockOnShelf([stock['BEAN-1'], stock['MUG-7']]);

    await reserve(sagaInput, context);

    expect(ddb).toHaveReceivedNthCommandWith(BatchGetCommand, 1, {
      RequestItems: {
        [TABLE]: expect.objectContaining({
          Keys: [
            { pk: 'STOCK#BEAN-1', sk: 'STOCK' },
            { pk: 'STOCK#MUG-7', sk: 'STOCK' },
          ],
        }),
      },
    });
  });

  it('reads an answer without Responses as no stock item at all (UnknownSku), and an empty UnprocessedKeys as done', async () => {
    table();
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({})
      .resolves({ Responses: { [TABLE]: [stock['BEAN-1'], stock['MUG-7']] }, UnprocessedKeys: {} });

    await expect(reserve(sagaInput, context)).rejects.toMatchObject({
      name: 'UnknownSku',
      skus: ['BEAN-1', 'MUG-7'],
    });
    expect(await reserve(sagaInput, context)).toMatchObject({ amount: 3448 });
  });

  it('names every short line in OutOfStock', async () => {
    table({
      order: storedOrder({
        items: [
          { sku: 'BEAN-1', quantity: 11 },
          { sku: 'MUG-7', quantity: 2 },
        ],
      }),
    });
    stockOnShelf([stock['BEAN-1'], stock['MUG-7']]);

    await expect(reserve(sagaInput, context)).rejects.toMatchObject({
      name: 'OutOfStock',
      skus: ['BEAN-1', 'MUG-7'],
    });
  });

  it('writes the order and the stock only: no reservation item of its own', async () => {
    table();
    stockOnShelf([stock['BEAN-1'], stock['MUG-7']]);

    await reserve(sagaInput, context);

    expect(transactItems(ddb).map((item) => item.Update?.Key ?? item.Put?.Item)).toEqual([
      { pk: 'STOCK#BEAN-1', sk: 'STOCK' },
      { pk: 'STOCK#MUG-7', sk: 'STOCK' },
      orderKey,
    ]);
  });

  it('throws OrderNotFound for an unknown order', async () => {
    table({ order: null });

    await expect(reserve(sagaInput, context)).rejects.toMatchObject({ name: 'OrderNotFound' });
  });

  it('rejects a saga state without order id', async () => {
    await expect(reserve({ correlationId: 'c' } as SagaInput, context)).rejects.toMatchObject({
      name: 'InvalidMessage',
    });
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});

describe('release-stock (compensation)', () => {
  it('puts the reserved quantities back and marks the order released, at once', async () => {
    table({ order: reserved() });

    const result = await release({ ...sagaInput, error: { Error: 'PaymentDeclined' } }, context);

    expect(result).toEqual({ outcome: 'DONE', detail: 'released 3 units of 2 SKUs' });
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [
        {
          Update: expect.objectContaining({
            Key: { pk: 'STOCK#BEAN-1', sk: 'STOCK' },
            UpdateExpression: 'ADD available :quantity',
            ExpressionAttributeValues: { ':quantity': 2 },
          }),
        },
        { Update: expect.objectContaining({ UpdateExpression: 'ADD available :quantity' }) },
        {
          Update: expect.objectContaining({
            UpdateExpression: expect.stringContaining('SET #version = :next'),
            ExpressionAttributeValues: expect.objectContaining({
              ':entries': [`${NOW.toISOString()} ReleaseStock released 3 units of 2 SKUs`],
            }),
          }),
        },
      ],
    });
  });

  it('does nothing when the order says its reservation was already released', async () => {
    table({ order: reserved({ compensatingAt: NOW.toISOString(), stockReleasedAt: NOW.toISOString() }) });

    const result = await release(sagaInput, context);

    expect(result.outcome).toBe('ALREADY_DONE');
    expect(writes()).toHaveLength(0);
  });

  it('notes a skip on the order when nothing was reserved, and only once', async () => {
    table({ order: storedOrder({ compensatingAt: NOW.toISOString() }) });

    const first = await release(sagaInput, context);

    expect(first).toEqual({ outcome: 'SKIPPED', detail: 'nothing was reserved' });
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      ExpressionAttributeValues: expect.objectContaining({
        ':entries': [`${NOW.toISOString()} ReleaseStock:SKIPPED nothing was reserved`],
      }),
    });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);

    ddb.resetHistory();
    table({
      order: storedOrder({
        compensatingAt: NOW.toISOString(),
        stockReleasedAt: NOW.toISOString(),
        version: 2,
      }),
    });
    const repeat = await release(sagaInput, context);

    expect(repeat.outcome).toBe('ALREADY_DONE');
    expect(writes()).toHaveLength(0);
  });

  it('re-reads when a concurrent release won, and then does nothing', async () => {
    const compensating = { compensatingAt: NOW.toISOString(), version: 3 };
    ddb
      .on(GetCommand, { Key: orderKey })
      .resolvesOnce({ Item: reserved(compensating) })
      .resolvesOnce({ Item: reserved(compensating) })
      .resolves({ Item: reserved({ ...compensating, stockReleasedAt: NOW.toISOString(), version: 4 }) });
    ddb.on(TransactWriteCommand).rejects(transactionCanceled('None', 'None', 'ConditionalCheckFailed'));

    const result = await release(sagaInput, context);

    expect(result.outcome).toBe('ALREADY_DONE');
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('keeps the stock of a confirmed order (ConfirmOrder committed, then failed): nothing is written', async () => {
    table({ order: reserved({ status: 'CONFIRMED', version: 4 }) });

    const result = await release({ ...sagaInput, error: { Error: 'States.Timeout' } }, context);

    expect(result).toEqual({ outcome: 'SKIPPED', detail: 'order is confirmed; stock kept' });
    expect(writes()).toHaveLength(0);
  });

  it('stamps the release time on the order under its version (what a repeat and the reconciler read)', async () => {
    table({ order: reserved() });

    await release(sagaInput, context);

    const [, , orderChange] = transactItems(ddb);
    expect(orderChange?.Update?.ConditionExpression).toBe('#version = :expected');
    expect(assignedValue(orderChange?.Update, 'stockReleasedAt')).toBe(NOW.toISOString());
  });

  it('stamps the order released even when nothing was reserved, so a repeat is ALREADY_DONE', async () => {
    table({ order: storedOrder({ compensatingAt: NOW.toISOString() }) });

    await release(sagaInput, context);

    expect(assignedValue(sentInput(ddb, UpdateCommand), 'stockReleasedAt')).toBe(NOW.toISOString());
  });

  it('says the stock was already released', async () => {
    table({ order: reserved({ stockReleasedAt: NOW.toISOString() }) });

    expect(await release(sagaInput, context)).toEqual({
      outcome: 'ALREADY_DONE',
      detail: 'stock already released',
    });
  });

  it('skips an order that does not exist', async () => {
    table({ order: null });

    expect(await release(sagaInput, context)).toEqual({ outcome: 'SKIPPED', detail: 'order not found' });
    expect(writes()).toHaveLength(0);
  });
});
