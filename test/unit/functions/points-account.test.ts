import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { creditPoints, readPoints } from '#functions/loyalty/points.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { NOW, ORDER_ID, orderEvent, TABLE } from './helpers.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const deps = { doc: documentClient, tableName: TABLE };

const confirmed = orderEvent({}, { amount: 2599, points: 25 });

beforeEach(() => {
  ddb.reset();
});

describe('creditPoints', () => {
  it('writes the ledger line alone (the lasting duplicate guard), and answers the points it credited', async () => {
    ddb.on(PutCommand).resolves({});

    const result = await creditPoints(deps, confirmed, NOW);

    expect(result).toEqual({ status: 'credited', points: expect.any(Number) });
    const points = result.status === 'credited' ? result.points : undefined;
    expect(points).toBeGreaterThan(0);
    // One conditional put, 1 write unit: no balance item beside it, no transaction.
    expect(ddb.commandCalls(PutCommand)).toHaveLength(1);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 0);
    expect(ddb).toHaveReceivedNthCommandWith(PutCommand, 1, {
      TableName: TABLE,
      // The points it answers are the points it wrote; no expiresAt: the guard lasts as long as the ledger.
      Item: expect.objectContaining({ entity: 'Points', orderId: ORDER_ID, amount: 2599, points }),
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input.Item).not.toHaveProperty('expiresAt');
  });

  it('refuses a confirmation without amount, naming the event', async () => {
    const { amount: _amount, ...order } = confirmed.order;

    await expect(creditPoints(deps, { ...confirmed, order }, NOW)).rejects.toMatchObject({
      name: 'InvalidMessage',
      message: 'OrderConfirmed msg-1 has no amount',
    });
  });

  it('is a duplicate when the ledger line of the order exists (the event, or its fact, was handled)', async () => {
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'exists', $metadata: {} }));

    expect(await creditPoints(deps, confirmed, NOW)).toEqual({ status: 'duplicate' });
  });

  it('rethrows a failure that is not a duplicate', async () => {
    ddb
      .on(PutCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }));

    await expect(creditPoints(deps, confirmed, NOW)).rejects.toMatchObject({
      name: 'ProvisionedThroughputExceededException',
    });
  });
});

describe('readPoints', () => {
  it("reads one customer's ledger lines with a consistent query of their partition; the balance is their sum", async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        { pk: 'POINTS#client-a#cust-1', sk: `LEDGER#${ORDER_ID}`, orderId: ORDER_ID, points: 25 },
        // Written before the balance became the lines' sum: not read.
        { pk: 'POINTS#client-a#cust-1', sk: 'BALANCE', balance: 99 },
        { pk: 'POINTS#client-a#cust-1', sk: 'LEDGER#order-2', orderId: 'order-2', points: 12 },
        { pk: 'POINTS#client-a#cust-1', sk: 'OTHER', orderId: 'x', points: 99 },
      ],
    });

    const account = await readPoints(deps, 'client-a', 'cust-1');

    expect(account).toEqual({
      balance: 37,
      ledger: [
        { orderId: ORDER_ID, points: 25 },
        { orderId: 'order-2', points: 12 },
      ],
    });
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': 'POINTS#client-a#cust-1' },
      ConsistentRead: true,
    });
  });

  it('has no balance before the first credit', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });

    expect(await readPoints(deps, 'client-a', 'cust-1')).toEqual({ balance: undefined, ledger: [] });
  });
});
