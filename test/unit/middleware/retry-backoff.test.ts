import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityBatchCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { sqsRecords } from '#shared/middleware/batch.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import {
  BackoffConfigurationError,
  backoffDelaySeconds,
  type RetryBackoffOptions,
  retryBackoff,
} from '#shared/middleware/retry-backoff.ts';
import { context, sqsEvent, sqsRecord, TABLE } from '../functions/helpers.ts';

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

/** The chain of the notify worker: records handled one by one, failed ones delayed. */
function backoffHandler(processRecord: (record: SQSRecord) => Promise<void>, options: RetryBackoffOptions) {
  return lambdaChain<SQSEvent, SQSBatchResponse>()
    .use(retryBackoff(options))
    .handler(sqsRecords(processRecord));
}

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

describe('retryBackoff middleware', () => {
  it('delays only the failed messages by their receive count and records their errors', async () => {
    const handler = backoffHandler(
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
    expect(sqsMock).toHaveReceivedCommandExactlyOnceWith(GetQueueUrlCommand, {
      QueueName: 'queue',
      QueueOwnerAWSAccountId: '000000000000',
    });
    expect(sqsMock).toHaveReceivedCommandExactlyOnceWith(ChangeMessageVisibilityBatchCommand, {
      QueueUrl: 'https://sqs.local/000000000000/queue',
      Entries: [
        expect.objectContaining({
          ReceiptHandle: 'rh-m1',
          VisibilityTimeout: expect.toSatisfy(within(5, 10)),
        }),
        expect.objectContaining({
          ReceiptHandle: 'rh-m3',
          VisibilityTimeout: expect.toSatisfy(within(20, 40)),
        }),
      ],
    });
    expect(ddbMock).toHaveReceivedCommandTimes(PutCommand, 2);
    expect(ddbMock).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE,
      Item: expect.objectContaining({
        pk: 'FAILURE#m3',
        entity: 'Failure',
        consumer: 'notify',
        receiveCount: 3,
        errorName: 'TypeError',
        errorMessage: 'mail sink down for m3',
        orderId: 'o-1',
        correlationId: 'c-1',
      }),
    });
  });

  it('still reports the failures when SQS and the table are unreachable', async () => {
    sqsMock.on(GetQueueUrlCommand).rejects(new Error('network down'));
    ddbMock.on(PutCommand).rejects(new Error('throttled'));
    const handler = backoffHandler(
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
    const handler = backoffHandler(async () => {}, {
      sqs: new SQSClient({ region: 'us-east-1' }),
    });

    await handler(sqsEvent(withReceiveCount('m1', 1)), context);

    expect(sqsMock).not.toHaveReceivedAnyCommand();
    expect(ddbMock).not.toHaveReceivedAnyCommand();
  });

  it('delays the failed messages when every message of the batch failed (reported, not thrown)', async () => {
    const handler = backoffHandler(
      async () => {
        throw new Error('down');
      },
      { sqs: new SQSClient({ region: 'us-east-1' }), policy: { baseSeconds: 10, maxSeconds: 100 } },
    );

    const result = await handler(sqsEvent(withReceiveCount('m1', 1), withReceiveCount('m2', 2)), context);

    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['m1', 'm2']);
    expect(sqsMock).toHaveReceivedCommandWith(ChangeMessageVisibilityBatchCommand, {
      Entries: [
        expect.objectContaining({ ReceiptHandle: 'rh-m1' }),
        expect.objectContaining({ ReceiptHandle: 'rh-m2' }),
      ],
    });
  });
});

function within(low: number, high: number) {
  return (value: unknown) => typeof value === 'number' && value >= low && value <= high;
}
