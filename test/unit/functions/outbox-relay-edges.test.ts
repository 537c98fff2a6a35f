import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { BatchGetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { conditionFailed, context, frozenClock, NOW, sentInputs, streamInsert, TABLE } from './helpers.ts';
import { ddb, dlqBody, eventBridge, handler, outboxItem, sqs } from './outbox-relay-support.ts';

/** The relay's edge cases: bookkeeping races, lookups that do not finish, results that do not line up. */

const seq = (n: number) => `2000${n}`;
const records = (...ns: number[]) => ns.map((n) => streamInsert(outboxItem(n), seq(n)));
const relay = (recs: DynamoDBRecord[]) => handler({ Records: recs }, context);

function allPending() {
  ddb
    .on(BatchGetCommand)
    .callsFake((input: { RequestItems: Record<string, { Keys: { pk: string }[] }> }) => ({
      Responses: {
        [TABLE]: (input.RequestItems[TABLE]?.Keys ?? []).map(({ pk }) => ({
          pk,
          status: 'PENDING',
          attempts: 0,
        })),
      },
    }));
}

beforeEach(() => {
  ddb.reset();
  eventBridge.reset();
  sqs.reset();
  allPending();
  eventBridge.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
    FailedEntryCount: 0,
    Entries: input.Entries.map((_, index) => ({ EventId: `ev-${index}` })),
  }));
  ddb.on(UpdateCommand).resolves({ Attributes: { attempts: 1 } });
  sqs.on(SendMessageCommand).resolves({ MessageId: 'dlq-1' });
});

frozenClock();

describe('outbox relay edges', () => {
  it('reads the current status of each item with a projection, and puts each event at its creation time', async () => {
    await relay(records(1));

    expect(ddb).toHaveReceivedNthCommandWith(BatchGetCommand, 1, {
      RequestItems: {
        [TABLE]: {
          Keys: [{ pk: outboxItem(1).pk, sk: 'OUTBOX' }],
          ConsistentRead: true,
          ProjectionExpression: 'pk, #status, attempts',
          ExpressionAttributeNames: { '#status': 'status' },
        },
      },
    });
    expect(eventBridge).toHaveReceivedNthCommandWith(PutEventsCommand, 1, {
      Entries: [expect.objectContaining({ Time: new Date('2026-05-01T11:59:00.000Z') })],
    });
  });

  it('reads state in chunks of 100 keys', async () => {
    await relay(records(...Array.from({ length: 101 }, (_, i) => i + 1)));

    const sizes = sentInputs(ddb, BatchGetCommand).map((input) => input.RequestItems?.[TABLE]?.Keys?.length);
    expect(sizes).toEqual([100, 1]);
  });

  it('fails the batch after 5 lookups that keep leaving keys unprocessed, publishing nothing', async () => {
    ddb.on(BatchGetCommand).resolves({
      Responses: { [TABLE]: [] },
      UnprocessedKeys: { [TABLE]: { Keys: [{ pk: outboxItem(1).pk, sk: 'OUTBOX' }] } },
    });

    const started = performance.now();

    await expect(relay(records(1))).rejects.toThrow('BatchGetItem kept returning unprocessed keys');
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 5);
    // Backs off between lookups: 100 + 200 + 400 + 800 ms.
    expect(performance.now() - started).toBeGreaterThanOrEqual(1400);
    expect(eventBridge).not.toHaveReceivedAnyCommand();
  });

  it('publishes an item even when the state read does not say its attempts', async () => {
    ddb
      .on(BatchGetCommand)
      .resolves({ Responses: { [TABLE]: [{ pk: outboxItem(1).pk, status: 'PENDING' }] } });

    expect(await relay(records(1))).toEqual({ batchItemFailures: [] });
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1);
  });

  it('retries an entry PutEvents returned no result for', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'ev-0' }] });

    const result = await relay(records(1, 2));

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: seq(2) }] });
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 2, {
      ExpressionAttributeValues: expect.objectContaining({
        ':reason': 'PutEvents returned no result for this entry',
      }),
    });
  });

  it('records the error code of an entry that has no message', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] });

    await relay(records(1));

    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: expect.objectContaining({
        ':reason': expect.stringMatching(/^InternalFailure/),
        ':now': NOW.toISOString(),
        ':pending': 'PENDING',
      }),
    });
  });

  it('counts the next attempt itself when the update does not return it, and retries below the limit', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('socket hang up'));
    ddb.on(UpdateCommand).resolves({});
    const item = outboxItem(1, { attempts: 1 });

    const result = await relay([streamInsert(item, seq(1))]);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: seq(1) }] });
    expect(sqs).not.toHaveReceivedAnyCommand();
  });

  it('dead-letters when the counted attempt reaches the limit, even without a returned count', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('socket hang up'));
    ddb.on(UpdateCommand).resolves({});
    const item = outboxItem(1, { attempts: 2 });

    const result = await relay([streamInsert(item, seq(1))]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sqs).toHaveReceivedNthCommandWith(SendMessageCommand, 1, {
      MessageAttributes: { reason: { DataType: 'String', StringValue: 'PUBLISH_FAILED' } },
    });
    expect(dlqBody().error).toBe('Error: socket hang up');
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 2, {
      TableName: TABLE,
      Key: { pk: item.pk, sk: 'OUTBOX' },
      UpdateExpression: expect.stringContaining(
        'SET #status = :failed, openPk = :openPk, openSk = if_not_exists(createdAt, :now), failedAt = :now',
      ),
      ConditionExpression: 'attribute_exists(pk) AND #status <> :published',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: expect.objectContaining({
        ':failed': 'FAILED',
        ':published': 'PUBLISHED',
        ':openPk': 'OUTBOX#FAILED',
        ':now': NOW.toISOString(),
        ':reason': 'Error: socket hang up',
      }),
    });
  });

  it('takes a failure on an item a concurrent delivery already settled as done', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('socket hang up'));
    ddb.on(UpdateCommand).rejects(conditionFailed());

    expect(await relay(records(1))).toEqual({ batchItemFailures: [] });
    expect(sqs).not.toHaveReceivedAnyCommand();
  });

  it('takes a lost race to mark PUBLISHED as done, and retries when the bookkeeping itself fails', async () => {
    ddb.on(UpdateCommand).rejectsOnce(conditionFailed()).rejects(new Error('throttled'));

    const result = await relay(records(1, 2));

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: seq(2) }] });
  });

  it('fails the invocation when the record to retry has no sequence number', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('socket hang up'));
    const [record] = records(1);
    const withoutSequence = { ...record, dynamodb: { ...record?.dynamodb, SequenceNumber: undefined } };

    await expect(relay([withoutSequence as DynamoDBRecord])).rejects.toThrow(
      'stream record without SequenceNumber cannot be reported for retry',
    );
  });

  it('treats an item with an outbox key but no entity as a broken outbox item, and dead-letters it', async () => {
    const { entity: _entity, ...noEntity } = outboxItem(1);

    await relay([streamInsert(noEntity, seq(1))]);

    expect(sqs).toHaveReceivedNthCommandWith(SendMessageCommand, 1, {
      MessageAttributes: { reason: { DataType: 'String', StringValue: 'INVALID_OUTBOX_ITEM' } },
    });
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      Key: { pk: outboxItem(1).pk, sk: 'OUTBOX' },
    });
  });

  it('dead-letters an Outbox entity with a foreign key but never marks that key FAILED', async () => {
    await relay([
      streamInsert(outboxItem(1, { pk: 'ORDER#1' }), seq(1)),
      streamInsert(outboxItem(2, { sk: 'OTHER' }), seq(2)),
    ]);

    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 2);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 0);
  });

  it('reports the earliest record to retry in stream order, whatever order the outcomes came in', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('socket hang up'));
    sqs.on(SendMessageCommand).rejects(new Error('queue unavailable'));
    const poison = streamInsert(outboxItem(3, { version: 0 }), seq(3));

    const result = await relay([...records(1, 2), poison]);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: seq(1) }] });
  });

  it('says why an item is poison, one problem after the other', async () => {
    await relay([streamInsert(outboxItem(1, { version: 0, attempts: -1 }), seq(1))]);

    expect(dlqBody().error).toMatch(/^version: .+; attempts: .+$/);
  });

  it('retries every entry of a PutEvents answer without results', async () => {
    eventBridge.on(PutEventsCommand).resolves({});

    expect(await relay(records(1))).toEqual({ batchItemFailures: [{ itemIdentifier: seq(1) }] });
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      ExpressionAttributeValues: expect.objectContaining({
        ':reason': 'PutEvents returned no result for this entry',
      }),
    });
  });

  it('publishes nothing when the state read answers without Responses (the items are gone)', async () => {
    ddb.on(BatchGetCommand).resolves({});

    expect(await relay(records(1))).toEqual({ batchItemFailures: [] });
    expect(eventBridge).not.toHaveReceivedAnyCommand();
  });

  it('ignores a record without a dynamodb section', async () => {
    const [record] = records(1);

    expect(await relay([{ ...record, dynamodb: undefined } as DynamoDBRecord])).toEqual({
      batchItemFailures: [],
    });
    expect(ddb).not.toHaveReceivedAnyCommand();
  });

  it('neither publishes nor dead-letters an INSERT of another entity', async () => {
    const order = streamInsert({ pk: 'ORDER#1', sk: 'ORDER', entity: 'Order', status: 'PENDING' }, seq(1));

    expect(await relay([order])).toEqual({ batchItemFailures: [] });
    expect(sqs).not.toHaveReceivedAnyCommand();
    expect(eventBridge).not.toHaveReceivedAnyCommand();
  });

  it('dead-letters an Outbox entity whose key is not even a string, and goes on', async () => {
    const result = await relay([streamInsert(outboxItem(1, { pk: 42 }), seq(1))]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 1);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 0);
  });

  it('retries when counting a failed attempt fails for another reason than a settled item', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('socket hang up'));
    ddb.on(UpdateCommand).rejects(new Error('throttled'));

    expect(await relay(records(1))).toEqual({ batchItemFailures: [{ itemIdentifier: seq(1) }] });
  });

  it('ignores an INSERT without a new image', async () => {
    const [record] = records(1);
    const bare = { ...record, dynamodb: { ...record?.dynamodb, NewImage: undefined } };

    expect(await relay([bare as DynamoDBRecord])).toEqual({ batchItemFailures: [] });
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});
