import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { acceptOrder } from '#functions/orders/acceptance.ts';
import { requestHash } from '#functions/orders/idempotency.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { CLIENT_ID, NOW, TABLE, transactItems, transactionCanceled } from './helpers.ts';

/** acceptOrder's idempotency decisions, at the module boundary (the handler's HTTP mapping is in accept-order.test.ts). */

const ddb = mockClient(DynamoDBDocumentClient);
const deps = { doc: documentClient, tableName: TABLE };
const nowSeconds = Math.floor(NOW.getTime() / 1000);

const order = {
  customer: { id: 'cust-1', email: 'ada@example.com', name: 'Ada' },
  items: [{ sku: 'BEAN-1', quantity: 2 }],
  currency: 'EUR' as const,
  paymentToken: 'tok_ok',
};
const command = { clientId: CLIENT_ID, idempotencyKey: 'key-1', correlationId: 'corr-1', order };
const keyTaken = () => transactionCanceled('None', 'None', 'ConditionalCheckFailed');
const record = (expiresAt: number, orderId = 'first-order') => ({
  Item: { requestHash: requestHash(order), orderId, expiresAt },
});
/** The order id the `nth` transaction wrote (its first item is the order). */
const writtenOrderId = (nth: number) => transactItems(ddb, nth)[0]?.Put?.Item?.orderId;

beforeEach(() => {
  ddb.reset();
  // An empty catalogue: the order's SKUs are unknown, which accept lets through for the saga to cancel.
  ddb.on(BatchGetCommand).resolves({ Responses: {} });
});

describe('acceptOrder', () => {
  it('lets an expired idempotency record go by its expiry, not by TTL deletion', async () => {
    ddb.on(TransactWriteCommand).resolves({});

    await acceptOrder(deps, command, NOW);

    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [
        { Put: expect.objectContaining({ ConditionExpression: 'attribute_not_exists(pk)' }) },
        expect.anything(),
        {
          Put: expect.objectContaining({
            ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
            ExpressionAttributeValues: { ':now': nowSeconds },
            Item: expect.objectContaining({
              entity: 'Idempotency',
              clientId: CLIENT_ID,
              idempotencyKey: 'key-1',
              createdAt: NOW.toISOString(),
              expiresAt: nowSeconds + 86_400,
            }),
          }),
        },
      ],
    });
  });

  it('replays the first order while its record lives, up to the second it expires', async () => {
    ddb.on(TransactWriteCommand).rejects(keyTaken());
    ddb.on(GetCommand).resolves(record(nowSeconds));

    expect(await acceptOrder(deps, command, NOW)).toEqual({ orderId: 'first-order', replayed: true });
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
  });

  it('takes the key when the record it collided with has expired (TTL has not deleted it yet)', async () => {
    ddb.on(TransactWriteCommand).rejectsOnce(keyTaken()).resolves({});
    ddb.on(GetCommand).resolves(record(nowSeconds - 1));

    const accepted = await acceptOrder(deps, command, NOW);

    expect(accepted.replayed).toBe(false);
    expect(accepted.orderId).not.toBe('first-order');
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    expect(writtenOrderId(2)).toBe(accepted.orderId);
  });

  it('writes a fresh order id on every attempt', async () => {
    ddb.on(TransactWriteCommand).rejectsOnce(keyTaken()).resolves({});
    ddb.on(GetCommand).resolves({});

    await acceptOrder(deps, command, NOW);

    expect(writtenOrderId(1)).not.toBe(writtenOrderId(2));
  });

  it('reads the record once, without waiting, when the condition failed (it is committed)', async () => {
    ddb.on(TransactWriteCommand).rejects(keyTaken());
    ddb.on(GetCommand).resolves({});

    await expect(acceptOrder(deps, command, NOW)).rejects.toMatchObject({
      name: 'IdempotentRequestInProgress',
      message: 'a request with this Idempotency-Key is still being processed; retry shortly',
    });
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 3);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
  });

  it('polls with backoff while a concurrent duplicate commits (TransactionConflict)', async () => {
    ddb.on(TransactWriteCommand).rejectsOnce(transactionCanceled('None', 'None', 'TransactionConflict'));
    ddb.on(GetCommand).resolves({});
    const started = performance.now();

    await expect(acceptOrder(deps, command, NOW)).resolves.toMatchObject({ replayed: false });

    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 5);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25 + 50 + 100 + 200 + 400 - 50);
  });

  it('fails on a cancellation of another item (the order or outbox put), without reading the key', async () => {
    ddb.on(TransactWriteCommand).rejects(transactionCanceled('ConditionalCheckFailed', 'None', 'None'));

    await expect(acceptOrder(deps, command, NOW)).rejects.toMatchObject({
      name: 'TransactionCanceledException',
    });
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 0);
  });

  it('reports a corrupt idempotency record as such, naming it', async () => {
    ddb.on(TransactWriteCommand).rejects(keyTaken());
    ddb.on(GetCommand).resolves({ Item: { requestHash: 7 } });

    await expect(acceptOrder(deps, command, NOW)).rejects.toMatchObject({
      name: 'CorruptRecord',
      message: expect.stringContaining('idempotency record'),
    });
  });

  it('says a reused key is reused', async () => {
    ddb.on(TransactWriteCommand).rejects(keyTaken());
    ddb.on(GetCommand).resolves({
      Item: {
        requestHash: requestHash({ ...order, currency: 'USD' }),
        orderId: 'x',
        expiresAt: nowSeconds + 5,
      },
    });

    await expect(acceptOrder(deps, command, NOW)).rejects.toMatchObject({
      name: 'IdempotencyKeyReused',
      message: 'this Idempotency-Key was already used with a different request body',
    });
  });
});
