/** `Prefer: wait=N` on POST /orders and GET /orders/{trackingId}: the handlers' side of the wait (functions/orders/wait.ts). */
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PREFER_WAIT_MAX_SECONDS } from '#contracts/api.ts';
import { requestHash } from '#functions/orders/idempotency.ts';
import { readGaps, WAIT_DEADLINE_MARGIN_MS } from '#functions/orders/wait.ts';
import {
  apiEvent,
  CLIENT_ID,
  lambdaContext,
  NOW,
  ORDER_ID,
  PLACED_ORDER,
  parseBody,
  storedOrder,
  TABLE,
  transactItems,
  transactionCanceled,
} from './helpers.ts';

const { handler: acceptHandler } = await import('#functions/orders/accept-order.ts');
const { handler: getHandler } = await import('#functions/orders/get-order.ts');

const ddb = mockClient(DynamoDBDocumentClient);

const catalogue = [
  { pk: 'STOCK#BEAN-1', sk: 'STOCK', sku: 'BEAN-1', available: 10, prices: { EUR: 1299 }, points: 12 },
  { pk: 'STOCK#MUG-7', sk: 'STOCK', sku: 'MUG-7', available: 5, prices: { EUR: 850 }, points: 8 },
];

/**
 * Answers every GetItem on an order with the next status of `statuses` (the last one repeats), as the saga would move
 * it on between reads; `null` reads no order. An idempotency record read answers `idempotency`.
 */
function orderReads(statuses: (string | null)[], idempotency?: Record<string, unknown>) {
  const seen: string[] = [];
  ddb.on(GetCommand).callsFake((input: { Key: { pk: string } }) => {
    if (input.Key.pk.startsWith('IDEMPOTENCY#')) return { Item: idempotency };
    const orderId = input.Key.pk.slice('ORDER#'.length);
    const status = statuses[Math.min(seen.length, statuses.length - 1)];
    seen.push(orderId);
    if (status === null) return {};
    return {
      Item: storedOrder({
        orderId,
        pk: input.Key.pk,
        status,
        ...(status === 'CONFIRMED' ? { amount: 3448, paymentRef: 'ch_1' } : {}),
      }),
    };
  });
  return seen;
}

const remaining = (ms: number) =>
  lambdaContext({ getRemainingTimeInMillis: () => ms - (Date.now() - started) });
let started = 0;

/** Runs a handler to its answer on fake timers; `elapsed` is the time the answer took on them. */
async function answer<T>(call: () => Promise<T>): Promise<{ result: T; elapsed: number }> {
  started = Date.now();
  const pending = call();
  await vi.runAllTimersAsync();
  const result = await pending;
  return { result, elapsed: Date.now() - started };
}

const post = (prefer?: string, context = remaining(15_000), key = 'key-1') =>
  answer(() =>
    acceptHandler(
      apiEvent({ body: PLACED_ORDER, headers: { 'idempotency-key': key, ...(prefer ? { prefer } : {}) } }),
      context,
    ),
  );

const get = (prefer?: string, clientId = CLIENT_ID) =>
  answer(() =>
    getHandler(
      apiEvent({
        method: 'GET',
        path: `/orders/${ORDER_ID}`,
        pathParameters: { trackingId: ORDER_ID },
        headers: prefer ? { prefer } : {},
        clientId,
      }),
      remaining(15_000),
    ),
  );

beforeEach(() => {
  ddb.reset();
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: catalogue } });
  vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
});

const writtenOrderId = () => transactItems(ddb)[0]?.Put?.Item?.orderId as string;

describe('POST /orders with Prefer: wait', () => {
  it('answers 200 with the order once it is confirmed, reading it consistently with backoff', async () => {
    const reads = orderReads(['PENDING', 'PENDING', 'CONFIRMED']);

    const { result, elapsed } = await post('wait=5');

    const orderId = writtenOrderId();
    expect(result.statusCode).toBe(200);
    expect(result.headers).toMatchObject({
      'preference-applied': 'wait=5',
      location: `/orders/${orderId}`,
      'content-location': `/orders/${orderId}`,
    });
    expect(parseBody(result)).toMatchObject({
      trackingId: orderId,
      status: 'CONFIRMED',
      amount: 3448,
      paymentRef: 'ch_1',
      failureReason: null,
      timeline: expect.any(Array),
    });
    expect(result.body).not.toContain('tok_ok');
    // The new order is known to be PENDING: the first read waits 100 ms, then 200, then 400.
    expect(elapsed).toBe(700);
    expect(reads).toEqual([orderId, orderId, orderId]);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLE,
      Key: { pk: `ORDER#${orderId}`, sk: 'ORDER' },
      ConsistentRead: true,
    });
  });

  it('answers 200 for a cancelled order too', async () => {
    orderReads(['CANCELLED']);

    const { result } = await post('wait=5');

    expect(result.statusCode).toBe(200);
    expect(parseBody(result)).toMatchObject({ status: 'CANCELLED' });
  });

  it('answers the usual 202 after the wait when the order is still pending, saying what wait it applied', async () => {
    const reads = orderReads(['PENDING']);

    const { result, elapsed } = await post('wait=2');

    const orderId = writtenOrderId();
    expect(result.statusCode).toBe(202);
    expect(parseBody(result)).toEqual({
      trackingId: orderId,
      status: 'PENDING',
      statusUrl: `/orders/${orderId}`,
    });
    expect(result.headers).toMatchObject({ 'preference-applied': 'wait=2', location: `/orders/${orderId}` });
    expect(elapsed).toBe(2000);
    expect(reads).toHaveLength(readGaps(2000).length);
  });

  it(`waits at most ${PREFER_WAIT_MAX_SECONDS} s and says so`, async () => {
    orderReads(['PENDING']);

    const { result, elapsed } = await post('wait=3600', remaining(60_000));

    expect(result.headers).toMatchObject({ 'preference-applied': `wait=${PREFER_WAIT_MAX_SECONDS}` });
    expect(elapsed).toBe(PREFER_WAIT_MAX_SECONDS * 1000);
  });

  it('stops waiting the margin before the function would time out', async () => {
    orderReads(['PENDING']);

    const { result, elapsed } = await post('wait=10', remaining(3000));

    expect(result.statusCode).toBe(202);
    expect(elapsed).toBe(3000 - WAIT_DEADLINE_MARGIN_MS);
  });

  it.each([['wait=abc'], ['wait=-1'], ['wait=1.5'], ['wait'], ['respond-async'], ['wait="5'], ['=5']])(
    'ignores Prefer: %s and answers the usual 202 at once, reading nothing',
    async (prefer) => {
      orderReads(['CONFIRMED']);

      const { result, elapsed } = await post(prefer);

      expect(result.statusCode).toBe(202);
      expect(result.headers).not.toHaveProperty('preference-applied');
      expect(elapsed).toBe(0);
      expect(ddb).not.toHaveReceivedCommand(GetCommand);
    },
  );

  it('changes nothing without the header', async () => {
    orderReads(['CONFIRMED']);

    const { result } = await post();

    expect(result.statusCode).toBe(202);
    expect(result.headers).not.toHaveProperty('preference-applied');
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
  });

  it('waits on a replay for the order the first request created, reading it at once', async () => {
    ddb.on(TransactWriteCommand).rejects(transactionCanceled('None', 'None', 'ConditionalCheckFailed'));
    const reads = orderReads(['CONFIRMED'], {
      requestHash: requestHash(PLACED_ORDER),
      orderId: ORDER_ID,
      expiresAt: Math.floor(NOW.getTime() / 1000) + 3600,
    });

    const { result, elapsed } = await post('wait=5');

    expect(result.statusCode).toBe(200);
    expect(result.headers).toMatchObject({ 'idempotent-replayed': 'true', 'preference-applied': 'wait=5' });
    expect(parseBody(result)).toMatchObject({ trackingId: ORDER_ID, status: 'CONFIRMED' });
    expect(reads).toEqual([ORDER_ID]);
    expect(elapsed).toBe(0);
  });
});

describe('GET /orders/{trackingId} with Prefer: wait', () => {
  it('answers the order once it has ended', async () => {
    const reads = orderReads(['PENDING', 'PENDING', 'CONFIRMED']);

    const { result, elapsed } = await get('wait=5');

    expect(result.statusCode).toBe(200);
    expect(result.headers).toMatchObject({ 'preference-applied': 'wait=5' });
    expect(parseBody(result)).toMatchObject({ trackingId: ORDER_ID, status: 'CONFIRMED' });
    // The first read is the ordinary one; the wait's reads follow 100 and 300 ms later.
    expect(reads).toHaveLength(3);
    expect(elapsed).toBe(300);
  });

  it('answers the current state when the wait is over', async () => {
    const reads = orderReads(['PENDING']);

    const { result, elapsed } = await get('wait=1');

    expect(result.statusCode).toBe(200);
    expect(result.headers).toMatchObject({ 'preference-applied': 'wait=1' });
    expect(parseBody(result)).toMatchObject({ status: 'PENDING' });
    expect(elapsed).toBe(1000);
    expect(reads).toHaveLength(1 + readGaps(1000).length);
  });

  it('answers an ended order at once, with one read', async () => {
    const reads = orderReads(['CANCELLED']);

    const { result, elapsed } = await get('wait=5');

    expect(parseBody(result)).toMatchObject({ status: 'CANCELLED' });
    expect(result.headers).toMatchObject({ 'preference-applied': 'wait=5' });
    expect(reads).toHaveLength(1);
    expect(elapsed).toBe(0);
  });

  it('keeps the last order it saw if the order disappears while it waits', async () => {
    orderReads(['PENDING', null]);

    const { result } = await get('wait=5');

    expect(result.statusCode).toBe(200);
    expect(parseBody(result)).toMatchObject({ trackingId: ORDER_ID, status: 'PENDING' });
  });

  it('ignores an unusable Prefer: one read, no Preference-Applied', async () => {
    const reads = orderReads(['PENDING']);

    const { result } = await get('wait=soon');

    expect(result.statusCode).toBe(200);
    expect(result.headers).not.toHaveProperty('preference-applied');
    expect(reads).toHaveLength(1);
  });

  it("answers 404 at once for another client's order, without waiting for it", async () => {
    const reads = orderReads(['PENDING']);

    const { result, elapsed } = await get('wait=5', 'client-b');

    expect(result.statusCode).toBe(404);
    expect(result.headers).not.toHaveProperty('preference-applied');
    expect(reads).toHaveLength(1);
    expect(elapsed).toBe(0);
  });
});
