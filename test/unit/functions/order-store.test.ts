import {
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type OrderRecord,
  orderRecordSchema,
  storedTimelineEntry,
  type TimelineEntry,
  timelineOf,
} from '#functions/orders/order.ts';
import {
  applyChange,
  commit,
  getOrder,
  orderUpdate,
  RETRY,
  requireOrder,
  withOptimisticRetry,
} from '#functions/orders/order-store.ts';
import { documentClient } from '#shared/dynamodb.ts';
import {
  conditionFailed,
  NOW,
  ORDER_ID,
  orderKey,
  sentInput,
  sentInputs,
  storedOrder,
  TABLE,
  transactionCanceled,
} from './helpers.ts';

/** Every order change goes through these: one version per change, guarded by the version read. */

const ddb = mockClient(DynamoDBDocumentClient);
const deps = { doc: documentClient, tableName: TABLE };
const order = storedOrder({ version: 3 }) as unknown as OrderRecord;
const entry = { step: 'ReserveStock', status: 'SUCCEEDED' as const, at: NOW.toISOString() };

beforeEach(() => {
  ddb.reset();
});

describe('orderUpdate', () => {
  it('bumps the version, stamps updatedAt, appends to the timeline, sets and removes, guarded by the version read', () => {
    const item = orderUpdate(
      TABLE,
      order,
      {
        set: { amount: 3448, paymentRef: undefined, reservedAt: 'r' },
        remove: ['openPk', 'openSk'],
        timeline: [entry],
      },
      NOW,
    );

    expect(item).toEqual({
      Update: {
        TableName: TABLE,
        Key: orderKey,
        UpdateExpression:
          'SET #version = :next, #updatedAt = :now, #timeline = list_append(#timeline, :entries), #s0 = :s0, #s1 = :s1 REMOVE #r0, #r1',
        ConditionExpression: '#version = :expected',
        ExpressionAttributeNames: {
          '#version': 'version',
          '#updatedAt': 'updatedAt',
          '#timeline': 'timeline',
          '#s0': 'amount',
          '#s1': 'reservedAt',
          '#r0': 'openPk',
          '#r1': 'openSk',
        },
        ExpressionAttributeValues: {
          ':expected': 3,
          ':next': 4,
          ':now': NOW.toISOString(),
          // Stored compactly, the status left out when SUCCEEDED (functions/orders/order.ts).
          ':entries': [`${NOW.toISOString()} ReserveStock`],
          ':s0': 3448,
          ':s1': 'r',
        },
      },
    });
  });

  it('has no REMOVE clause when nothing is removed', () => {
    const item = orderUpdate(TABLE, order, { timeline: [entry] }, NOW);

    expect(item.Update?.UpdateExpression).toBe(
      'SET #version = :next, #updatedAt = :now, #timeline = list_append(#timeline, :entries)',
    );
  });
});

describe('applyChange', () => {
  it('is the order as the change leaves it', () => {
    const after = applyChange(order, { set: { amount: 3448 }, timeline: [entry] }, NOW);

    expect(after).toMatchObject({ amount: 3448, version: 4, updatedAt: NOW.toISOString() });
    expect(after.timeline).toEqual([...order.timeline, entry]);
  });
});

describe('getOrder / requireOrder', () => {
  it('reads the order consistently, and requireOrder throws OrderNotFound when there is none', async () => {
    ddb.on(GetCommand).resolvesOnce({ Item: storedOrder() }).resolves({});

    expect((await getOrder(deps, ORDER_ID))?.orderId).toBe(ORDER_ID);
    expect(sentInput(ddb, GetCommand)).toEqual({
      TableName: TABLE,
      Key: orderKey,
      ConsistentRead: true,
    });
    await expect(requireOrder(deps, ORDER_ID)).rejects.toMatchObject({ name: 'OrderNotFound' });
  });
});

describe('a corrupt order', () => {
  it('is reported as CorruptRecord naming the order', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...storedOrder(), version: 'two' } });

    await expect(getOrder(deps, ORDER_ID)).rejects.toMatchObject({
      name: 'CorruptRecord',
      message: expect.stringContaining(`order ${ORDER_ID}`),
    });
  });
});

describe('commit', () => {
  const update = orderUpdate(TABLE, order, { timeline: [entry] }, NOW);
  const put = { Put: { TableName: TABLE, Item: { pk: 'OUTBOX#1', sk: 'OUTBOX' } } };

  it('writes a single update with UpdateItem and several items in one transaction', async () => {
    ddb.on(UpdateCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});

    expect(await commit(deps, [update])).toBeUndefined();
    expect(await commit(deps, [put])).toBeUndefined();
    expect(await commit(deps, [update, put])).toBeUndefined();

    expect(sentInputs(ddb, UpdateCommand)).toEqual([update.Update]);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, { TransactItems: [put] });
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 2, { TransactItems: [update, put] });
  });

  it('answers the reasons when a condition failed, and rethrows anything else', async () => {
    ddb.on(UpdateCommand).rejectsOnce(conditionFailed()).rejects(new Error('throttled'));
    ddb.on(TransactWriteCommand).rejects(transactionCanceled('ConditionalCheckFailed', 'None'));

    expect(await commit(deps, [update])).toEqual([{ Code: 'ConditionalCheckFailed' }]);
    await expect(commit(deps, [update])).rejects.toThrow('throttled');
    expect(await commit(deps, [update, put])).toEqual([{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }]);
  });

  it('does not take a failed condition in a transaction for a single-item one', async () => {
    ddb.on(TransactWriteCommand).rejects(conditionFailed());

    await expect(commit(deps, [update, put])).rejects.toMatchObject({
      name: 'ConditionalCheckFailedException',
    });
  });
});

describe('withOptimisticRetry', () => {
  it('runs again after RETRY and returns the first decision', async () => {
    const attempt = vi
      .fn<() => Promise<string | typeof RETRY>>()
      .mockResolvedValueOnce(RETRY)
      .mockResolvedValue('done');

    expect(await withOptimisticRetry(attempt)).toBe('done');
    expect(attempt).toHaveBeenCalledTimes(2);
  });

  it('gives up with ConcurrentModification after 5 lost races', async () => {
    const attempt = vi.fn(async () => RETRY);

    await expect(withOptimisticRetry(attempt)).rejects.toMatchObject({
      name: 'ConcurrentModification',
      message: 'gave up after 5 conflicting writes',
    });
    expect(attempt).toHaveBeenCalledTimes(5);
  });
});

describe('the stored timeline', () => {
  const at = NOW.toISOString();
  const entries: TimelineEntry[] = [
    { step: 'Accepted', status: 'SUCCEEDED', at },
    { step: 'ReserveStock', status: 'SUCCEEDED', at, detail: 'reserved 1 unit of 1 SKU' },
    { step: 'VoidPayment', status: 'SKIPPED', at, detail: 'no charge was made' },
    {
      step: 'AuthorizePayment',
      status: 'FAILED',
      at,
      detail: 'PaymentDeclined: card: declined\nsecond line',
    },
    { step: 'Held', status: 'WAITING', at, detail: '' },
    { step: 'CancelOrder', status: 'FAILED', at },
  ];

  it('stores an entry as one string, the status left out when SUCCEEDED, and reads every entry back the same', () => {
    expect(entries.slice(0, 3).map(storedTimelineEntry)).toEqual([
      `${at} Accepted`,
      `${at} ReserveStock reserved 1 unit of 1 SKU`,
      `${at} VoidPayment:SKIPPED no charge was made`,
    ]);
    const stored = entries.map(storedTimelineEntry);
    expect(stored.every((entry) => typeof entry === 'string')).toBe(true);
    expect(timelineOf(stored)).toEqual(entries);
    expect(orderRecordSchema.parse(storedOrder({ timeline: stored })).timeline).toEqual(entries);
  });

  it('reads entries stored as maps (orders written before) next to strings', () => {
    const old = { step: 'Accepted', status: 'SUCCEEDED', at: '2026-05-01T11:59:00.000Z' };
    const timeline = [old, `${at} ConfirmOrder`];

    expect(orderRecordSchema.parse(storedOrder({ timeline })).timeline).toEqual([
      old,
      { step: 'ConfirmOrder', status: 'SUCCEEDED', at },
    ]);
  });

  it('keeps an entry the string could not give back the same as a map', () => {
    const odd = { step: 'Two words', status: 'SUCCEEDED' as const, at };

    expect(storedTimelineEntry(odd)).toEqual(odd);
  });

  it('reports an unreadable stored entry as a corrupt order, and leaves it out of the operators’ views', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder({ timeline: ['not an entry'] }) });

    await expect(getOrder(deps, ORDER_ID)).rejects.toMatchObject({ name: 'CorruptRecord' });
    expect(timelineOf(['not an entry', `${at} Accepted`, 7])).toEqual([
      { step: 'Accepted', status: 'SUCCEEDED', at },
    ]);
    expect(timelineOf(undefined)).toEqual([]);
  });
});
