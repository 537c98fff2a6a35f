import { BatchGetCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { documentClient } from '#shared/dynamodb.ts';
import { queryOpenItems, queryOpenItemsWhole } from '#shared/open-index.ts';
import { TABLE } from './helpers.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const deps = { doc: documentClient, tableName: TABLE };

const entry = (n: number) => ({
  pk: `ORDER#o-${n}`,
  sk: 'ORDER',
  openPk: 'ORDER#PENDING',
  openSk: `2026-12-07T00:00:0${n}.000Z`,
  orderId: `o-${n}`,
});
const order = (n: number) => ({ ...entry(n), status: 'PENDING', timeline: [{ step: 'Accepted' }] });

beforeEach(() => {
  ddb.reset();
  ddb.on(QueryCommand).resolves({ Items: [entry(1), entry(2), entry(3)] });
});

describe('the Open index', () => {
  it('answers the index entries alone: the order id and the hold, no read of the orders', async () => {
    const entries = await queryOpenItems(deps, 'ORDER#PENDING');

    expect(entries.map((e) => e.orderId)).toEqual(['o-1', 'o-2', 'o-3']);
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 0);
  });

  it('reads the whole items by key for operators, oldest first, leaving out one that left the table meanwhile', async () => {
    // The table answers in its own order, one key unprocessed at first, and o-2 is gone.
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [order(3)] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ pk: 'ORDER#o-1', sk: 'ORDER' }] } },
      })
      .resolvesOnce({ Responses: { [TABLE]: [order(1)] } });

    const items = await queryOpenItemsWhole(deps, 'ORDER#PENDING');

    expect(items).toEqual([order(1), order(3)]);
    expect(ddb.commandCalls(BatchGetCommand)[0]?.args[0].input.RequestItems?.[TABLE]?.Keys).toEqual([
      { pk: 'ORDER#o-1', sk: 'ORDER' },
      { pk: 'ORDER#o-2', sk: 'ORDER' },
      { pk: 'ORDER#o-3', sk: 'ORDER' },
    ]);
  });
});
