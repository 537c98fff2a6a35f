import {
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
  ThrottlingException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { requestHash } from '#functions/orders/idempotency.ts';
import { logger } from '#shared/logger.ts';
import { metrics } from '#shared/metrics.ts';
import {
  apiEvent,
  CLIENT_ID,
  context,
  frozenClock,
  NOW,
  PLACED_ORDER,
  parseBody,
  TABLE,
  transactItems,
  transactionCanceled,
} from './helpers.ts';

const { handler } = await import('#functions/orders/accept-order.ts');

const ddb = mockClient(DynamoDBDocumentClient);

const order = PLACED_ORDER;

const catalogue = [
  {
    pk: 'STOCK#BEAN-1',
    sk: 'STOCK',
    sku: 'BEAN-1',
    available: 10,
    prices: { EUR: 1299, JPY: 1900 },
    points: 12,
  },
  { pk: 'STOCK#MUG-7', sk: 'STOCK', sku: 'MUG-7', available: 5, prices: { EUR: 850 }, points: 8 },
];

function onShelf(items: Record<string, unknown>[]) {
  ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: items } });
}

const post = (body: unknown, headers: Record<string, string> = { 'idempotency-key': 'key-1' }) =>
  handler(apiEvent({ body, headers }), context);

beforeEach(() => {
  ddb.reset();
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(GetCommand).resolves({});
  onShelf(catalogue);
});

frozenClock();

describe('POST /orders', () => {
  it('writes order, OrderPlaced outbox message and idempotency record in one transaction and answers 202', async () => {
    const result = await post(order, { 'idempotency-key': 'key-1', 'x-correlation-id': 'corr-42' });

    expect(result.statusCode).toBe(202);
    const body = parseBody(result);
    expect(body).toEqual({
      trackingId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'PENDING',
      statusUrl: `/orders/${body.trackingId}`,
    });
    expect(result.headers).toMatchObject({
      location: `/orders/${body.trackingId}`,
      'x-correlation-id': 'corr-42',
    });

    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const createdAt = NOW.toISOString();
    const orderItem = {
      pk: `ORDER#${body.trackingId}`,
      sk: 'ORDER',
      entity: 'Order',
      orderId: body.trackingId,
      clientId: CLIENT_ID,
      status: 'PENDING',
      version: 1,
      customer: order.customer,
      items: order.items,
      currency: 'EUR',
      paymentToken: 'tok_ok',
      timeline: [`${createdAt} Accepted`],
      correlationId: 'corr-42',
      createdAt,
      updatedAt: createdAt,
      openPk: 'ORDER#PENDING',
      openSk: createdAt,
      gsi1pk: `CLIENT#${CLIENT_ID}`,
      gsi1sk: `ORDER#${createdAt}`,
    };
    const outboxItem = {
      sk: 'OUTBOX',
      entity: 'Outbox',
      messageType: 'OrderPlaced',
      aggregateId: body.trackingId,
      clientId: CLIENT_ID,
      correlationId: 'corr-42',
      version: 1,
      status: 'PENDING',
      attempts: 0,
      payload: expect.objectContaining({
        orderId: body.trackingId,
        status: 'PENDING',
        customer: order.customer,
        items: order.items,
      }),
    };
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [
        { Put: expect.objectContaining({ Item: expect.objectContaining(orderItem) }) },
        { Put: expect.objectContaining({ Item: expect.objectContaining(outboxItem) }) },
        {
          Put: expect.objectContaining({
            TableName: TABLE,
            ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
            Item: expect.objectContaining({
              pk: `IDEMPOTENCY#${CLIENT_ID}#key-1`,
              sk: 'IDEMPOTENCY',
              requestHash: requestHash(order),
              orderId: body.trackingId,
              expiresAt: NOW.getTime() / 1000 + 24 * 3600,
            }),
          }),
        },
      ],
    });
    // The outbox message's key is made from its own random id, and the event must not carry the payment token.
    const outbox = transactItems(ddb)[1]?.Put?.Item;
    expect(outbox?.pk).toBe(`OUTBOX#${outbox?.messageId}`);
    expect(JSON.stringify(outbox?.payload)).not.toContain('tok_ok');
  });

  it('counts OrdersAccepted once per written order, not for an idempotent replay', async () => {
    const addMetric = vi.spyOn(metrics, 'addMetric');

    const first = await post(order);
    const stored = transactItems(ddb)[2]?.Put?.Item;
    ddb.on(TransactWriteCommand).rejects(transactionCanceled('None', 'None', 'ConditionalCheckFailed'));
    ddb.on(GetCommand).resolves({ Item: stored });
    const replay = await post(order);

    expect(first.statusCode).toBe(202);
    expect(replay.headers).toMatchObject({ 'idempotent-replayed': 'true' });
    expect(addMetric.mock.calls.filter(([name]) => name === 'OrdersAccepted')).toEqual([
      ['OrdersAccepted', 'Count', 1],
    ]);
    addMetric.mockRestore();
  });

  it('counts no OrdersAccepted for a rejected order', async () => {
    const addMetric = vi.spyOn(metrics, 'addMetric');

    const result = await post({ ...order, items: [] });

    expect(result.statusCode).toBe(400);
    expect(addMetric.mock.calls.map(([name]) => name)).not.toContain('OrdersAccepted');
    addMetric.mockRestore();
  });

  it('uses the API request id as correlation id when the header is missing or unsafe', async () => {
    const result = await post(order, {
      'idempotency-key': 'key-1',
      'x-correlation-id': 'has spaces <script>',
    });

    expect(result.statusCode).toBe(202);
    expect(result.headers?.['x-correlation-id']).toBe('api-request-1');
    expect(transactItems(ddb)[0]?.Put?.Item?.correlationId).toBe('api-request-1');
  });

  it('accepts a base64-encoded body', async () => {
    const event = apiEvent({ rawBody: Buffer.from(JSON.stringify(order)).toString('base64') });
    event.isBase64Encoded = true;
    event.headers['idempotency-key'] = 'key-1';

    const result = await handler(event, context);

    expect(result.statusCode).toBe(202);
  });

  describe('idempotency', () => {
    it('answers a retry with the same key and body with the first tracking id and writes no second order', async () => {
      const first = await post(order);
      const stored = transactItems(ddb)[2]?.Put?.Item;
      ddb.on(TransactWriteCommand).rejects(transactionCanceled('None', 'None', 'ConditionalCheckFailed'));
      ddb.on(GetCommand).resolves({ Item: stored });

      // Same content, different key order and whitespace: still the same request.
      const retry = await handler(
        apiEvent({
          rawBody: JSON.stringify(
            { paymentToken: 'tok_ok', currency: 'EUR', items: order.items, customer: order.customer },
            null,
            2,
          ),
          headers: { 'idempotency-key': 'key-1' },
        }),
        context,
      );

      expect(retry.statusCode).toBe(202);
      expect(parseBody(retry)).toEqual(parseBody(first));
      expect(retry.headers).toMatchObject({
        'idempotent-replayed': 'true',
        location: parseBody(first).statusUrl,
      });
      expect(ddb).toHaveReceivedNthCommandWith(GetCommand, 1, {
        TableName: TABLE,
        Key: { pk: `IDEMPOTENCY#${CLIENT_ID}#key-1`, sk: 'IDEMPOTENCY' },
        ConsistentRead: true,
      });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    });

    it('answers 422 when the key was used with a different body', async () => {
      ddb.on(TransactWriteCommand).rejects(transactionCanceled('None', 'None', 'ConditionalCheckFailed'));
      ddb.on(GetCommand).resolves({
        Item: {
          requestHash: requestHash({ ...order, currency: 'USD' }),
          orderId: 'other',
          expiresAt: 9_999_999_999,
        },
      });

      const result = await post(order);

      expect(result.statusCode).toBe(422);
      expect(parseBody(result)).toEqual({
        error: {
          code: 'idempotency_key_reused',
          message: 'this Idempotency-Key was already used with a different request body',
        },
      });
    });

    it('waits for a concurrent duplicate that is committing the same key (TransactionConflict)', async () => {
      ddb.on(TransactWriteCommand).rejects(transactionCanceled('None', 'None', 'TransactionConflict'));
      ddb
        .on(GetCommand)
        .resolvesOnce({})
        .resolves({
          Item: { requestHash: requestHash(order), orderId: 'order-of-the-twin', expiresAt: 9_999_999_999 },
        });

      const result = await post(order);

      expect(result.statusCode).toBe(202);
      expect(parseBody(result).trackingId).toBe('order-of-the-twin');
      expect(ddb).toHaveReceivedCommandTimes(GetCommand, 2);
    });

    it('writes again when the competing request never committed, and gives up with 409 after that', async () => {
      ddb.on(TransactWriteCommand).rejects(transactionCanceled('None', 'None', 'TransactionConflict'));
      ddb.on(GetCommand).resolves({});

      const result = await post(order);

      expect(result.statusCode).toBe(409);
      expect(result.headers?.['retry-after']).toBe('1');
      expect(parseBody(result)).toMatchObject({ error: { code: 'request_in_progress' } });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
    });
  });

  describe('money rules: 422 before anything is written', () => {
    it('refuses an order in a currency a known item has no price in, naming the sku and currency', async () => {
      const result = await post({ ...order, currency: 'JPY' });

      expect(result.statusCode).toBe(422);
      expect(parseBody(result)).toEqual({
        error: { code: 'price_unavailable', message: 'no price in JPY for sku MUG-7' },
      });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
      expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 1);
      expect(ddb).toHaveReceivedNthCommandWith(BatchGetCommand, 1, {
        RequestItems: {
          [TABLE]: {
            Keys: [
              { pk: 'STOCK#BEAN-1', sk: 'STOCK' },
              { pk: 'STOCK#MUG-7', sk: 'STOCK' },
            ],
            ConsistentRead: false,
          },
        },
      });
    });

    it('reads a stock item without per-currency prices (written before them) as unpriced', async () => {
      onShelf([
        { pk: 'STOCK#BEAN-1', sk: 'STOCK', sku: 'BEAN-1', available: 10, price: 1299 },
        catalogue[1] ?? {},
      ]);

      const result = await post(order);

      expect(result.statusCode).toBe(422);
      expect(parseBody(result)).toMatchObject({ error: { message: 'no price in EUR for sku BEAN-1' } });
    });

    it('accepts an unknown sku in any currency: the saga cancels it (UNKNOWN_SKU)', async () => {
      onShelf([]);

      const result = await post({ ...order, currency: 'KWD' });

      expect(result.statusCode).toBe(202);
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });

    it('refuses an order whose known lines alone are over the cap of its currency', async () => {
      onShelf([{ ...catalogue[0], prices: { EUR: 600_000 } }]);

      const result = await post(order);

      expect(result.statusCode).toBe(422);
      expect(parseBody(result)).toEqual({
        error: {
          code: 'order_limit_exceeded',
          message: 'order total €12,000.00 exceeds the limit of €10,000.00 per order',
        },
      });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    });

    it('refuses an order over the unit limit without reading the catalogue', async () => {
      const result = await post({
        ...order,
        items: [
          { sku: 'BEAN-1', quantity: 1000 },
          { sku: 'MUG-7', quantity: 1 },
        ],
      });

      expect(result.statusCode).toBe(422);
      expect(parseBody(result)).toEqual({
        error: { code: 'order_limit_exceeded', message: 'order has 1001 units; at most 1000 per order' },
      });
      expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 0);
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    });

    it('still answers a retry of an order accepted before its price was withdrawn with the first 202', async () => {
      onShelf([{ ...catalogue[0], prices: {} }, catalogue[1] ?? {}]);
      ddb.on(GetCommand).resolves({
        Item: { requestHash: requestHash(order), orderId: 'accepted-earlier', expiresAt: 9_999_999_999 },
      });

      const result = await post(order);

      expect(result.statusCode).toBe(202);
      expect(parseBody(result).trackingId).toBe('accepted-earlier');
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    });
  });

  describe('rejects bad input with a 400 that says what and where, without touching the table', () => {
    const cases: [string, unknown, string, RegExp][] = [
      ['an unknown field', { ...order, coupon: 'FREE' }, '(body)', /Unrecognized key.*coupon/],
      [
        'an unknown nested field',
        { ...order, customer: { ...order.customer, vip: true } },
        'customer',
        /vip/,
      ],
      [
        'a bad e-mail',
        { ...order, customer: { ...order.customer, email: 'nope' } },
        'customer.email',
        /e-mail/,
      ],
      ['no items', { ...order, items: [] }, 'items', /at least 1 item/],
      [
        '21 items',
        { ...order, items: Array.from({ length: 21 }, (_, i) => ({ sku: `S${i}`, quantity: 1 })) },
        'items',
        /at most 20 items/,
      ],
      [
        'a duplicate sku',
        { ...order, items: [order.items[0], order.items[0]] },
        'items[1].sku',
        /duplicate sku BEAN-1/,
      ],
      ['quantity 0', { ...order, items: [{ sku: 'A', quantity: 0 }] }, 'items[0].quantity', /at least 1/],
      [
        'quantity 1.5',
        { ...order, items: [{ sku: 'A', quantity: 1.5 }] },
        'items[0].quantity',
        /whole number/,
      ],
      [
        'quantity 1001',
        { ...order, items: [{ sku: 'A', quantity: 1001 }] },
        'items[0].quantity',
        /at most 1000/,
      ],
      ['a sku with #', { ...order, items: [{ sku: 'A#B', quantity: 1 }] }, 'items[0].sku', /letters, digits/],
      ['lower-case currency', { ...order, currency: 'eur' }, 'currency', /ISO 4217/],
      ['an unsupported currency', { ...order, currency: 'XYZ' }, 'currency', /unsupported currency XYZ/],
      ['no payment token', { ...order, paymentToken: undefined }, 'paymentToken', /expected string/],
      ['an array body', [order], '(body)', /expected object/],
    ];

    it.each(cases)('%s', async (_name, body, path, message) => {
      const result = await post(body);

      expect(result.statusCode).toBe(400);
      const { error } = parseBody(result) as { error: { code: string; message: string; details: unknown[] } };
      expect(error.code).toBe('validation_failed');
      expect(error.details).toContainEqual({ path, message: expect.stringMatching(message) });
      expect(error.message).toContain(path);
      expect(ddb).not.toHaveReceivedAnyCommand();
    });

    it('non-JSON body', async () => {
      const result = await handler(
        apiEvent({ rawBody: '{"customer": ', headers: { 'idempotency-key': 'k' } }),
        context,
      );

      expect(result.statusCode).toBe(400);
      expect(parseBody(result)).toMatchObject({
        error: { code: 'invalid_json', message: expect.stringMatching(/^request body is not valid JSON/) },
      });
    });

    it.each([
      ['a bare word', '{"customer": {"id": "c-1"}, "paymentToken": tok_secret123}'],
      ['a broken string', '{"paymentToken": "tok_secret123'],
      ['a trailing comma', '{"paymentToken": "tok_secret123",}'],
      ['a missing comma', '["tok_secret123" 1]'],
    ])(
      'a malformed body with %s: neither the answer nor the log repeats any of it',
      async (_name, rawBody) => {
        const logged = [
          vi.spyOn(logger, 'info'),
          vi.spyOn(logger, 'warn'),
          vi.spyOn(logger, 'error'),
          vi.spyOn(logger, 'debug'),
        ];

        const result = await handler(apiEvent({ rawBody, headers: { 'idempotency-key': 'k' } }), context);

        expect(result.statusCode).toBe(400);
        const { error } = parseBody(result) as { error: { code: string; message: string } };
        expect(error.code).toBe('invalid_json');
        expect(error.message).toMatch(/^request body is not valid JSON( \(at position \d+\))?$/);
        expect(result.body).not.toContain('tok_secret');
        for (const spy of logged) {
          expect(JSON.stringify(spy.mock.calls)).not.toContain('tok_secret');
          spy.mockRestore();
        }
      },
    );

    it('empty body', async () => {
      const result = await handler(apiEvent({ headers: { 'idempotency-key': 'k' } }), context);

      expect(result.statusCode).toBe(400);
      expect(parseBody(result)).toMatchObject({ error: { code: 'invalid_json' } });
    });

    it('missing Idempotency-Key', async () => {
      const result = await post(order, {});

      expect(result.statusCode).toBe(400);
      expect(parseBody(result)).toMatchObject({
        error: { code: 'idempotency_key_required', message: expect.stringContaining('Idempotency-Key') },
      });
    });

    it.each([
      ['too long', 'k'.repeat(256)],
      ['non-ASCII', 'clé'],
      ['a control character', 'a\tb'],
    ])('an Idempotency-Key that is %s', async (_name, key) => {
      const result = await post(order, { 'Idempotency-Key': key });

      expect(result.statusCode).toBe(400);
      expect(parseBody(result)).toMatchObject({ error: { code: 'invalid_idempotency_key' } });
    });

    it('answers 413 for a body over 16 KB', async () => {
      const result = await post({ ...order, customer: { ...order.customer, name: 'x'.repeat(16 * 1024) } });

      expect(result.statusCode).toBe(413);
      expect(parseBody(result)).toMatchObject({ error: { code: 'payload_too_large' } });
    });
  });

  it('answers 401 when the authorizer context carries no client id', async () => {
    const result = await handler(
      apiEvent({ body: order, headers: { 'idempotency-key': 'k' }, clientId: null }),
      context,
    );

    expect(result.statusCode).toBe(401);
  });

  describe('answers 503 with Retry-After when DynamoDB is busy, so the client retries instead of giving up', () => {
    const busy: [string, Error][] = [
      [
        'ProvisionedThroughputExceededException',
        new ProvisionedThroughputExceededException({ message: 'throughput exceeded', $metadata: {} }),
      ],
      ['ThrottlingException', new ThrottlingException({ message: 'throttled', $metadata: {} })],
      ['RequestLimitExceeded', new RequestLimitExceeded({ message: 'account limit', $metadata: {} })],
      [
        'TransactionConflictException',
        new TransactionConflictException({ message: 'conflict', $metadata: {} }),
      ],
      ['a transaction cancelled by ThrottlingError', transactionCanceled('ThrottlingError', 'None', 'None')],
      [
        'a transaction cancelled by ProvisionedThroughputExceeded',
        transactionCanceled('None', 'ProvisionedThroughputExceeded', 'None'),
      ],
      [
        'a transaction cancelled by a conflict on the order item',
        transactionCanceled('TransactionConflict', 'None', 'None'),
      ],
      [
        'a transaction cancelled by throttling on the idempotency record',
        transactionCanceled('None', 'None', 'ThrottlingError'),
      ],
    ];

    it.each(busy)('%s', async (_name, error) => {
      ddb.on(TransactWriteCommand).rejects(error);

      const result = await post(order, { 'idempotency-key': 'k', 'x-correlation-id': 'corr-7' });

      expect(result.statusCode).toBe(503);
      expect(result.headers?.['retry-after']).toMatch(/^[12]$/);
      expect(result.headers?.['x-correlation-id']).toBe('corr-7');
      expect(parseBody(result)).toEqual({
        error: { code: 'temporarily_unavailable', message: expect.stringContaining('Retry-After') },
      });
    });

    it('also when the idempotency lookup after a conflict is throttled', async () => {
      ddb.on(TransactWriteCommand).rejects(transactionCanceled('None', 'None', 'ConditionalCheckFailed'));
      ddb
        .on(GetCommand)
        .rejects(new ProvisionedThroughputExceededException({ message: 'hot key', $metadata: {} }));

      const result = await post(order);

      expect(result.statusCode).toBe(503);
      expect(result.headers?.['retry-after']).toBe('1');
    });
  });

  it('answers an opaque 500 (with the correlation id) when the table fails', async () => {
    ddb.on(TransactWriteCommand).rejects(new Error('socket hang up'));

    const result = await post(order, { 'idempotency-key': 'k', 'x-correlation-id': 'corr-9' });

    expect(result.statusCode).toBe(500);
    expect(parseBody(result)).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
    expect(result.headers?.['x-correlation-id']).toBe('corr-9');
  });
});
