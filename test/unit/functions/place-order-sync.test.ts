/**
 * `POST /orders` of the synchronous flow as a handler: what it reads from the request, and that its answer is the
 * ended order. The flow's outcomes are tested on DynamoDB Local in sync-placement.test.ts.
 */
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { syncOrderId } from '#functions/orders/sync-placement.ts';
import {
  apiEvent,
  CLIENT_ID,
  context,
  httpStub,
  PLACED_ORDER,
  parseBody,
  type RecordedRequest,
  type StubReply,
  TABLE,
  transactItems,
} from './helpers.ts';

vi.hoisted(() => {
  process.env.MAIL_TRANSPORT = 'sink';
  process.env.PAYMENT_PROVIDER_AUTH = 'sigv4';
  process.env.SYNC_CHARGE_RETRIES = '0';
  process.env.AWS_REGION = 'eu-west-1';
  process.env.AWS_ACCESS_KEY_ID = 'AKIDSYNC';
  process.env.AWS_SECRET_ACCESS_KEY = 'sync-secret';
});

const ddb = mockClient(DynamoDBDocumentClient);
let reply: (request: RecordedRequest) => StubReply = () => ({ status: 500 });
// The sandbox serves both the charges and the mail.
const sandbox = await httpStub((request) => reply(request));
process.env.PAYMENT_PROVIDER_URL = sandbox.url;
process.env.MAIL_SINK_URL = sandbox.url;
const { handler } = await import('#functions/orders/place-order-sync.ts');

const post = (body: unknown, headers: Record<string, string> = { 'idempotency-key': 'key-1' }) =>
  handler(apiEvent({ body, headers }), context);

beforeEach(() => {
  ddb.reset();
  ddb.on(GetCommand).resolves({});
  ddb.on(PutCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(BatchGetCommand).resolves({
    Responses: {
      [TABLE]: [
        { pk: 'STOCK#BEAN-1', sk: 'STOCK', sku: 'BEAN-1', available: 10, prices: { EUR: 1299 }, points: 12 },
        { pk: 'STOCK#MUG-7', sk: 'STOCK', sku: 'MUG-7', available: 5, prices: { EUR: 850 }, points: 8 },
      ],
    },
  });
  sandbox.requests.length = 0;
  reply = (request) =>
    request.path === '/v1/charges'
      ? { status: 201, body: { id: 'ch_9', status: 'authorized', amount: 3448, currency: 'EUR' } }
      : { status: 202, body: { id: 'ml_1' } };
});

afterAll(async () => {
  await sandbox.close();
});

describe('POST /orders (orderFlow=sync)', () => {
  it('answers 200 with the confirmed order, charged under the id its key derives, mailed before the answer', async () => {
    const result = await post(PLACED_ORDER);

    expect(result.statusCode).toBe(200);
    const orderId = syncOrderId(CLIENT_ID, 'key-1');
    expect(parseBody(result)).toMatchObject({ trackingId: orderId, status: 'CONFIRMED', paymentRef: 'ch_9' });
    expect(result.headers).toMatchObject({
      location: `/orders/${orderId}`,
      'content-location': `/orders/${orderId}`,
    });
    expect(sandbox.requests.map((request) => request.path)).toEqual(['/v1/charges', '/v1/mail']);
    expect(sandbox.requests[0]?.headers['idempotency-key']).toBe(orderId);
    expect(transactItems(ddb).map((item) => Object.keys(item)[0])).toEqual([
      'Put',
      'Put',
      'Put',
      'Update',
      'Update',
    ]);
  });

  it('answers a cancelled order with 200 too: the order is the answer, its status says how it ended', async () => {
    reply = (request) =>
      request.path === '/v1/charges'
        ? { status: 402, body: { error: { code: 'card_declined', message: 'declined' } } }
        : { status: 202, body: { id: 'ml_1' } };

    const result = await post(PLACED_ORDER);

    expect(result.statusCode).toBe(200);
    expect(parseBody(result)).toMatchObject({ status: 'CANCELLED', failureReason: 'PAYMENT_DECLINED' });
  });

  it('refuses a request without an Idempotency-Key before anything is charged', async () => {
    const result = await post(PLACED_ORDER, {});

    expect(result.statusCode).toBe(400);
    expect(parseBody(result)).toMatchObject({ error: { code: 'idempotency_key_required' } });
    expect(sandbox.requests).toEqual([]);
  });

  it('refuses a body that is not an order with 400 and a message, charging nothing', async () => {
    const result = await post({ ...PLACED_ORDER, items: [] });

    expect(result.statusCode).toBe(400);
    expect(parseBody(result).error).toMatchObject({ message: expect.stringContaining('items') });
    expect(sandbox.requests).toEqual([]);
    expect(ddb.commandCalls(TransactWriteCommand)).toEqual([]);
  });
});
