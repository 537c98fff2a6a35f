import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { apiEvent, CLIENT_ID, context, ORDER_ID, parseBody, TABLE } from './helpers.ts';

const { handler } = await import('#functions/orders/get-order.ts');

const ddb = mockClient(DynamoDBDocumentClient);

const storedOrder = {
  pk: `ORDER#${ORDER_ID}`,
  sk: 'ORDER',
  entity: 'Order',
  orderId: ORDER_ID,
  clientId: CLIENT_ID,
  status: 'CONFIRMED',
  version: 5,
  customer: { id: 'cust-1', email: 'ada@example.com' },
  items: [{ sku: 'BEAN-1', quantity: 2 }],
  currency: 'EUR',
  paymentToken: 'tok_ok',
  amount: 2598,
  paymentRef: 'ch_1',
  timeline: [
    { step: 'Accepted', status: 'SUCCEEDED', at: '2026-05-01T12:00:00.000Z' },
    {
      step: 'ReserveStock',
      status: 'SUCCEEDED',
      at: '2026-05-01T12:00:01.000Z',
      detail: 'reserved 2 units of 1 SKU',
    },
  ],
  correlationId: 'corr-1',
  createdAt: '2026-05-01T12:00:00.000Z',
  updatedAt: '2026-05-01T12:00:03.000Z',
  gsi1pk: `CLIENT#${CLIENT_ID}`,
};

const get = (trackingId: string, clientId = CLIENT_ID) =>
  handler(
    apiEvent({ method: 'GET', path: `/orders/${trackingId}`, pathParameters: { trackingId }, clientId }),
    context,
  );

beforeEach(() => {
  ddb.reset();
});

describe('GET /orders/{trackingId}', () => {
  it("answers the caller's order with status and timeline, read consistently, without the payment token", async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder });

    const result = await get(ORDER_ID);

    expect(result.statusCode).toBe(200);
    expect(parseBody(result)).toEqual({
      trackingId: ORDER_ID,
      status: 'CONFIRMED',
      version: 5,
      items: storedOrder.items,
      amount: 2598,
      currency: 'EUR',
      paymentRef: 'ch_1',
      failureReason: null,
      hold: null,
      createdAt: storedOrder.createdAt,
      updatedAt: storedOrder.updatedAt,
      timeline: storedOrder.timeline,
    });
    expect(result.body).not.toContain('tok_ok');
    expect(ddb).toHaveReceivedNthCommandWith(GetCommand, 1, {
      TableName: TABLE,
      Key: { pk: `ORDER#${ORDER_ID}`, sk: 'ORDER' },
      ConsistentRead: true,
    });
  });

  it('shows a pending order with nulls for what is not known yet', async () => {
    ddb.on(GetCommand).resolves({
      Item: { ...storedOrder, status: 'PENDING', version: 1, amount: undefined, paymentRef: undefined },
    });

    const body = parseBody(await get(ORDER_ID));

    expect(body).toMatchObject({ status: 'PENDING', amount: null, paymentRef: null, failureReason: null });
  });

  it('shows why, since when and until when a pending order waits for the payment provider', async () => {
    const hold = {
      reason: 'payment provider unavailable since 2026-05-01T11:58:00.000Z',
      since: '2026-05-01T12:00:01.000Z',
      until: '2026-05-01T12:15:01.000Z',
    };
    ddb.on(GetCommand).resolves({
      Item: { ...storedOrder, status: 'PENDING', paymentRef: undefined, hold, heldAt: hold.since },
    });

    expect(parseBody(await get(ORDER_ID))).toMatchObject({ status: 'PENDING', hold });
    expect(parseBody(await get(ORDER_ID))).not.toHaveProperty('heldAt');
  });

  it("answers 404 for another client's order, exactly as for an unknown one", async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder });
    const foreign = await get(ORDER_ID, 'client-b');
    ddb.on(GetCommand).resolves({});
    const unknown = await get(ORDER_ID);

    expect(foreign.statusCode).toBe(404);
    expect(unknown.statusCode).toBe(404);
    expect(foreign.body).toBe(unknown.body);
  });

  it('answers 400 for a tracking id that cannot be one, without reading the table', async () => {
    const result = await get('ORDER#x');

    expect(result.statusCode).toBe(400);
    expect(parseBody(result)).toMatchObject({
      error: {
        code: 'validation_failed',
        details: [{ path: 'trackingId', message: 'must be a tracking id (UUID)' }],
      },
    });
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});
