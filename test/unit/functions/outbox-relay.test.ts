import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { BatchGetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { captureStdout } from '../support/emf.ts';
import { context, frozenClock, NOW, sentInput, sentInputs, streamInsert, TABLE } from './helpers.ts';
import { ddb, dlqBody, eventBridge, handler, outboxItem, sqs } from './outbox-relay-support.ts';

const seq = (n: number) => `1000${n}`;
const records = (...ns: number[]) => ns.map((n) => streamInsert(outboxItem(n), seq(n)));
const relay = (recs: DynamoDBRecord[]) => handler({ Records: recs }, context);

/** The table answers "still PENDING" for every key asked, unless told otherwise. */
function currentState(statusOf: (pk: string) => string | undefined = () => 'PENDING') {
  ddb
    .on(BatchGetCommand)
    .callsFake((input: { RequestItems: Record<string, { Keys: { pk: string }[] }> }) => ({
      Responses: {
        [TABLE]: (input.RequestItems[TABLE]?.Keys ?? []).flatMap(({ pk }) => {
          const status = statusOf(pk);
          return status ? [{ pk, status, attempts: 0 }] : [];
        }),
      },
    }));
}

function putEventsAccepting(failing: Record<number, string> = {}) {
  eventBridge.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
    FailedEntryCount: Object.keys(failing).length,
    Entries: input.Entries.map((_, index) =>
      failing[index] ? { ErrorCode: failing[index], ErrorMessage: 'try later' } : { EventId: `ev-${index}` },
    ),
  }));
}

/** The updates of the n-th item: the relay settles items concurrently, so only the order per item is fixed. */
const updatesOf = (n: number) =>
  sentInputs(ddb, UpdateCommand).filter((input) => input.Key?.pk === outboxItem(n).pk);

beforeEach(() => {
  ddb.reset();
  eventBridge.reset();
  sqs.reset();
  currentState();
  putEventsAccepting();
  ddb.on(UpdateCommand).resolves({ Attributes: { attempts: 1 } });
  sqs.on(SendMessageCommand).resolves({ MessageId: 'dlq-1' });
});

frozenClock();

describe('outbox relay', () => {
  it('publishes each outbox item with the documented detail and marks it PUBLISHED with a 7-day TTL', async () => {
    const result = await relay(records(1, 2));

    expect(result).toEqual({ batchItemFailures: [] });
    expect(eventBridge).toHaveReceivedNthCommandWith(PutEventsCommand, 1, {
      Entries: [
        expect.objectContaining({
          EventBusName: 'buzzer-bus',
          Source: 'buzzer.orders',
          DetailType: 'OrderPlaced',
        }),
        expect.anything(),
      ],
    });
    const [entry] = sentInput(eventBridge, PutEventsCommand).Entries ?? [];
    expect(JSON.parse(entry?.Detail ?? '')).toEqual({
      messageId: outboxItem(1).messageId,
      messageType: 'OrderPlaced',
      orderId: 'order-1',
      clientId: 'client-a',
      correlationId: 'corr-1',
      version: 1,
      occurredAt: '2026-05-01T11:59:00.000Z',
      payload: { orderId: 'order-1', status: 'PENDING' },
    });
    expect(updatesOf(1)).toEqual([
      {
        TableName: TABLE,
        Key: { pk: outboxItem(1).pk, sk: 'OUTBOX' },
        UpdateExpression:
          'SET #status = :published, publishedAt = :now, expiresAt = :expiresAt REMOVE openPk, openSk',
        ConditionExpression: '#status = :pending',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':published': 'PUBLISHED',
          ':pending': 'PENDING',
          ':now': NOW.toISOString(),
          ':expiresAt': NOW.getTime() / 1000 + 7 * 24 * 3600,
        },
      },
    ]);
    expect(ddb).toHaveReceivedNthCommandWith(BatchGetCommand, 1, {
      RequestItems: { [TABLE]: expect.objectContaining({ ConsistentRead: true }) },
    });
  });

  it('puts events in chunks of 10', async () => {
    await relay(records(...Array.from({ length: 12 }, (_, i) => i + 1)));

    const sizes = sentInputs(eventBridge, PutEventsCommand).map((input) => input.Entries?.length);
    expect(sizes).toEqual([10, 2]);
  });

  it('checks every entry: a failed one counts an attempt and is reported for retry, the others are published', async () => {
    putEventsAccepting({ 1: 'ThrottlingException' });

    const result = await relay(records(1, 2, 3));

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: seq(2) }] });
    expect(updatesOf(1)[0]?.ExpressionAttributeValues?.[':published']).toBe('PUBLISHED');
    expect(updatesOf(3)[0]?.ExpressionAttributeValues?.[':published']).toBe('PUBLISHED');
    expect(updatesOf(2)).toEqual([
      expect.objectContaining({
        UpdateExpression: 'ADD attempts :one SET lastError = :reason, lastAttemptAt = :now',
        ConditionExpression: '#status = :pending',
        ExpressionAttributeValues: expect.objectContaining({
          ':one': 1,
          ':reason': 'ThrottlingException: try later',
        }),
        ReturnValues: 'UPDATED_NEW',
      }),
    ]);
    expect(sqs).not.toHaveReceivedAnyCommand();
  });

  it('reports only the first failed record in stream order', async () => {
    putEventsAccepting({ 1: 'InternalFailure', 2: 'InternalFailure' });

    const result = await relay(records(1, 2, 3));

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: seq(2) }]);
  });

  it('treats a failed PutEvents call as a failure of every entry in it', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('socket hang up'));

    const result = await relay(records(1, 2));

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: seq(1) }]);
    const countsAnAttempt = {
      UpdateExpression: 'ADD attempts :one SET lastError = :reason, lastAttemptAt = :now',
    };
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 2);
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, countsAnAttempt);
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 2, countsAnAttempt);
  });

  it('moves an item that reached RELAY_MAX_ATTEMPTS to the DLQ with the full record and marks it FAILED with a 30-day TTL', async () => {
    putEventsAccepting({ 0: 'InternalFailure' });
    ddb.on(UpdateCommand).resolves({ Attributes: { attempts: 3 } });
    const [record] = records(1);

    const result = await relay([record as DynamoDBRecord]);

    expect(result.batchItemFailures).toEqual([]);
    expect(sqs).toHaveReceivedCommandExactlyOnceWith(SendMessageCommand, {
      QueueUrl: 'http://127.0.0.1:9324/000000000000/relay-dlq',
      MessageBody: expect.any(String),
      MessageAttributes: { reason: { DataType: 'String', StringValue: 'PUBLISH_FAILED' } },
    });
    expect(dlqBody()).toEqual({
      reason: 'PUBLISH_FAILED',
      error: 'InternalFailure: try later',
      failedAt: NOW.toISOString(),
      record: JSON.parse(JSON.stringify(record)),
      item: expect.objectContaining({
        messageId: outboxItem(1).messageId,
        attempts: 3,
        payload: outboxItem(1).payload,
      }),
    });
    expect(updatesOf(1)[1]).toMatchObject({
      UpdateExpression:
        'SET #status = :failed, openPk = :openPk, openSk = if_not_exists(createdAt, :now), failedAt = :now, ' +
        'lastError = :reason, expiresAt = :expiresAt',
      ExpressionAttributeValues: expect.objectContaining({
        ':failed': 'FAILED',
        ':openPk': 'OUTBOX#FAILED',
        // Its payload holds the customer's e-mail and name: it may not stay forever.
        ':expiresAt': NOW.getTime() / 1000 + 30 * 24 * 3600,
      }),
    });
  });

  it('sends an invalid outbox item (poison) to the DLQ at once, marks it FAILED and goes on with the rest', async () => {
    const poison = streamInsert(
      outboxItem(2, { messageType: 'OrderShipped', payload: 'not an object' }),
      seq(2),
    );

    const result = await relay([...records(1), poison, ...records(3)]);

    expect(result.batchItemFailures).toEqual([]);
    const body = dlqBody();
    expect(body).toMatchObject({
      reason: 'INVALID_OUTBOX_ITEM',
      record: { dynamodb: { SequenceNumber: seq(2) } },
    });
    expect(body.error).toMatch(/messageType/);
    expect(body.error).toMatch(/payload/);
    expect(updatesOf(2)[0]?.ExpressionAttributeValues).toMatchObject({
      ':failed': 'FAILED',
      ':expiresAt': NOW.getTime() / 1000 + 30 * 24 * 3600,
    });
    expect(eventBridge).toHaveReceivedCommandExactlyOnceWith(PutEventsCommand, {
      Entries: [expect.anything(), expect.anything()],
    });
  });

  it('retries from a poison record when the DLQ cannot take it', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('queue unavailable'));
    const poison = streamInsert(outboxItem(2, { attempts: -1 }), seq(2));

    const result = await relay([...records(1), poison]);

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: seq(2) }]);
  });

  it('does not publish again what a duplicate delivery finds already PUBLISHED, FAILED or gone', async () => {
    currentState((pk) =>
      pk === outboxItem(1).pk ? 'PUBLISHED' : pk === outboxItem(2).pk ? 'FAILED' : undefined,
    );

    const result = await relay(records(1, 2, 3));

    expect(result.batchItemFailures).toEqual([]);
    expect(eventBridge).not.toHaveReceivedAnyCommand();
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 0);
  });

  it('ignores records that are not outbox inserts', async () => {
    const modify = { ...streamInsert(outboxItem(1), seq(1)), eventName: 'MODIFY' as const };
    const order = streamInsert({ pk: 'ORDER#1', sk: 'ORDER', entity: 'Order' }, seq(2));

    const result = await relay([modify, order]);

    expect(result.batchItemFailures).toEqual([]);
    expect(ddb).not.toHaveReceivedAnyCommand();
    expect(eventBridge).not.toHaveReceivedAnyCommand();
  });

  it('asks again for keys BatchGetItem left unprocessed', async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [{ pk: outboxItem(1).pk, status: 'PENDING', attempts: 0 }] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ pk: outboxItem(2).pk, sk: 'OUTBOX' }] } },
      })
      .resolvesOnce({ Responses: { [TABLE]: [{ pk: outboxItem(2).pk, status: 'PENDING', attempts: 0 }] } });

    await relay(records(1, 2));

    expect(ddb).toHaveReceivedNthCommandWith(BatchGetCommand, 2, {
      RequestItems: { [TABLE]: expect.objectContaining({ Keys: [{ pk: outboxItem(2).pk, sk: 'OUTBOX' }] }) },
    });
    expect(eventBridge).toHaveReceivedCommandExactlyOnceWith(PutEventsCommand, {
      Entries: [expect.anything(), expect.anything()],
    });
  });

  it('counts RelayPublishFailures once per refused or throttled item and attempt, and nothing for a clean batch', async () => {
    const out = captureStdout();
    try {
      await relay(records(1, 2));
      expect(out.metrics('RelayPublishFailures')).toEqual([]);

      putEventsAccepting({ 0: 'ThrottlingException', 2: 'InternalFailure' });
      await relay(records(1, 2, 3));

      expect(out.metrics('RelayPublishFailures')).toEqual([
        expect.objectContaining({
          unit: 'Count',
          value: [1, 1],
          namespace: 'Buzzer',
          dimensionNames: ['service'],
          dimensions: { service: 'buzzer' },
        }),
      ]);
    } finally {
      out.restore();
    }
  });

  it('fails fast at cold start on a bad RELAY_MAX_ATTEMPTS', async () => {
    vi.resetModules();
    process.env.RELAY_MAX_ATTEMPTS = 'five';
    try {
      await expect(import('#functions/outbox/relay-outbox.ts')).rejects.toThrow(
        'Invalid function configuration: RELAY_MAX_ATTEMPTS: RELAY_MAX_ATTEMPTS must be a positive integer',
      );
    } finally {
      process.env.RELAY_MAX_ATTEMPTS = '3';
    }
  });
});
