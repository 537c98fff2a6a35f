import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityBatchCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BackoffConfigurationError,
  backoffDelaySeconds,
  sqsBatchHandlerWithBackoff,
} from '#shared/sqs-backoff.ts';
import { context, sqsEvent, sqsRecord, TABLE } from './helpers.ts';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

const sqsMock = mockClient(SQSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));

beforeEach(() => {
  sqsMock.reset();
  ddbMock.reset();
  sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: 'https://sqs.local/000000000000/queue' });
  sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
  ddbMock.on(PutCommand).resolves({});
});

function withReceiveCount(messageId: string, count: number) {
  const record = sqsRecord(JSON.stringify({ detail: { orderId: 'o-1', correlationId: 'c-1' } }), messageId);
  return { ...record, attributes: { ...record.attributes, ApproximateReceiveCount: String(count) } };
}

describe('backoffDelaySeconds', () => {
  const policy = { baseSeconds: 30, maxSeconds: 900 };

  it('doubles per receive within equal-jitter bounds and stops at the maximum', () => {
    const low = [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelaySeconds(n, policy, () => 0));
    const high = [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelaySeconds(n, policy, () => 1));

    expect(low).toEqual([15, 30, 60, 120, 240, 450, 450]);
    expect(high).toEqual([30, 60, 120, 240, 480, 900, 900]);
  });

  it('never returns less than a second and rejects an inverted policy', () => {
    expect(backoffDelaySeconds(1, { baseSeconds: 1, maxSeconds: 1 }, () => 0)).toBe(1);
    expect(() => backoffDelaySeconds(1, { baseSeconds: 10, maxSeconds: 5 })).toThrow(
      BackoffConfigurationError,
    );
  });
});

describe('sqsBatchHandlerWithBackoff', () => {
  it('delays only the failed messages by their receive count and records their errors', async () => {
    const handler = sqsBatchHandlerWithBackoff(
      async (record) => {
        if (record.messageId !== 'ok') throw new TypeError(`mail sink down for ${record.messageId}`);
      },
      {
        sqs: new SQSClient({ region: 'us-east-1' }),
        policy: { baseSeconds: 10, maxSeconds: 100 },
        failureLog: { doc, tableName: TABLE, consumer: 'notify' },
      },
    );

    const result = await handler(
      sqsEvent(withReceiveCount('ok', 1), withReceiveCount('m1', 1), withReceiveCount('m3', 3)),
      context,
    );

    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['m1', 'm3']);
    expect(sqsMock.commandCalls(GetQueueUrlCommand)[0]?.args[0].input).toEqual({
      QueueName: 'queue',
      QueueOwnerAWSAccountId: '000000000000',
    });
    const entries = sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand)[0]?.args[0].input.Entries ?? [];
    expect(entries.map((e) => e.ReceiptHandle)).toEqual(['rh-m1', 'rh-m3']);
    expect(entries[0]?.VisibilityTimeout).toBeGreaterThanOrEqual(5);
    expect(entries[0]?.VisibilityTimeout).toBeLessThanOrEqual(10);
    expect(entries[1]?.VisibilityTimeout).toBeGreaterThanOrEqual(20);
    expect(entries[1]?.VisibilityTimeout).toBeLessThanOrEqual(40);
    const failures = ddbMock.commandCalls(PutCommand).map((call) => call.args[0].input.Item);
    expect(failures).toContainEqual(
      expect.objectContaining({
        pk: 'FAILURE#m3',
        entity: 'Failure',
        consumer: 'notify',
        receiveCount: 3,
        errorName: 'TypeError',
        errorMessage: 'mail sink down for m3',
        orderId: 'o-1',
        correlationId: 'c-1',
      }),
    );
  });

  it('still reports the failures when SQS and the table are unreachable', async () => {
    sqsMock.on(GetQueueUrlCommand).rejects(new Error('network down'));
    ddbMock.on(PutCommand).rejects(new Error('throttled'));
    const handler = sqsBatchHandlerWithBackoff(
      async () => {
        throw new Error('boom');
      },
      {
        sqs: new SQSClient({ region: 'us-east-1' }),
        failureLog: { doc, tableName: TABLE, consumer: 'notify' },
      },
    );

    const result = await handler(sqsEvent(withReceiveCount('m1', 1)), context);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
  });

  it('makes no SQS call when the whole batch succeeds', async () => {
    const handler = sqsBatchHandlerWithBackoff(async () => {}, {
      sqs: new SQSClient({ region: 'us-east-1' }),
    });

    await handler(sqsEvent(withReceiveCount('m1', 1)), context);

    expect(sqsMock.calls()).toHaveLength(0);
  });
});
