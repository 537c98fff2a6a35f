import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DynamoDbLocal, LOCAL_CREDENTIALS, startDynamoDbLocal } from '#local/engines/dynamodb-local.ts';
import {
  type Clock,
  type EventSourceMappingHandle,
  type StreamFailureRecord,
  startEventSourceMapping,
  UnsupportedEventSourceError,
} from '#local/engines/event-source-mappings.ts';
import { FileStreamPositions, type StreamPositionStore } from '#local/engines/pollers/positions.ts';
import { createQueueFromCfn, type SqsEngine, startSqs } from '#local/engines/sqs.ts';
import { createTableFromCfn } from '#local/engines/tables.ts';
import { type InvokeResult, type LambdaInvoker, silentLogger } from '#local/types.ts';

const TUNING = {
  streamPollIntervalMs: 50,
  shardDiscoveryIntervalMs: 200,
  retryDelayMs: 10,
  sqsPollIntervalMs: 20,
  errorBackoffMs: 100,
};

type Respond = (event: unknown, call: number) => Partial<InvokeResult> | Promise<Partial<InvokeResult>>;

/** Stands in for the Lambda runtime: records every event and answers as the test says. */
class RecordingInvoker implements LambdaInvoker {
  readonly calls: { functionName: string; event: unknown }[] = [];
  private readonly respond: Respond;

  constructor(respond: Respond = () => ({})) {
    this.respond = respond;
  }

  async invoke(functionName: string, event: unknown): Promise<InvokeResult> {
    this.calls.push({ functionName, event });
    return { durationMs: 1, ...(await this.respond(event, this.calls.length)) };
  }
}

const failure = (message: string): Partial<InvokeResult> => ({
  error: { errorType: 'Error', errorMessage: message },
});

function streamRecords(event: unknown): DynamoDBRecord[] {
  return (event as DynamoDBStreamEvent).Records;
}

/** The `pk` of each record of a stream event. */
function keys(event: unknown): string[] {
  return streamRecords(event).map((record) => record.dynamodb?.Keys?.pk?.S ?? '?');
}

function bodies(event: unknown): string[] {
  return (event as SQSEvent).Records.map((record) => record.body);
}

describe('event source mappings against DynamoDB Local and local-aws-sqs', () => {
  let ddb: DynamoDbLocal;
  let sqsEngine: SqsEngine;
  let dynamodb: DynamoDBClient;
  let streams: DynamoDBStreamsClient;
  let sqs: SQSClient;
  const running: EventSourceMappingHandle[] = [];
  let tables = 0;
  let queues = 0;

  beforeAll(async () => {
    [ddb, sqsEngine] = await Promise.all([startDynamoDbLocal(), startSqs()]);
    const local = { region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
    dynamodb = new DynamoDBClient({ ...local, endpoint: ddb.endpoint });
    streams = new DynamoDBStreamsClient({ ...local, endpoint: ddb.endpoint });
    sqs = new SQSClient({ ...local, endpoint: sqsEngine.endpoint });
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((handle) => handle.stop()));
  });

  afterAll(async () => {
    for (const client of [dynamodb, streams, sqs]) client?.destroy();
    await Promise.all([ddb?.stop(), sqsEngine?.stop()]);
  });

  function start(
    props: Record<string, unknown>,
    invoker: LambdaInvoker,
    options: { clock?: Clock; functionName?: string; bells?: boolean; positions?: StreamPositionStore } = {},
  ): EventSourceMappingHandle {
    const handle = startEventSourceMapping(props, {
      invoker,
      functionName: options.functionName ?? 'relay',
      dynamodbStreams: streams,
      sqs,
      queueUrlForArn: (arn) => `${sqsEngine.endpoint}/000000000000/${arn.split(':').pop()}`,
      logger: silentLogger,
      // With the engine's bells, an idle poller would not look again within a test: only a ring can wake it.
      tuning: options.bells ? { ...TUNING, sqsPollIntervalMs: 60_000, sqsIdleLookMs: 60_000 } : TUNING,
      ...(options.bells ? { queueSignals: sqsEngine.signals } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.positions ? { positions: options.positions } : {}),
    });
    running.push(handle);
    return handle;
  }

  async function streamTable(): Promise<{ tableName: string; streamArn: string }> {
    const tableName = `Stream-${++tables}`;
    const { streamArn } = await createTableFromCfn(dynamodb, tableName, {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    if (!streamArn) throw new Error('table has no stream');
    return { tableName, streamArn };
  }

  async function put(tableName: string, ...ids: string[]): Promise<void> {
    for (const id of ids) {
      await dynamodb.send(
        new PutItemCommand({ TableName: tableName, Item: { pk: { S: id }, kind: { S: id } } }),
      );
    }
  }

  async function queue(options: { redrive?: boolean } = {}) {
    const name = `Queue-${++queues}`;
    const dlq = await createQueueFromCfn(sqs, `${name}-DLQ`, {});
    const source = await createQueueFromCfn(sqs, name, {
      VisibilityTimeout: 1,
      ...(options.redrive
        ? { RedrivePolicy: { deadLetterTargetArn: dlq.queueArn, maxReceiveCount: 2 } }
        : {}),
    });
    return { ...source, dlq };
  }

  async function receiveAll(queueUrl: string): Promise<Message[]> {
    const { Messages } = await sqs.send(
      // A short poll: local-aws-sqs holds long polls open for their whole wait time.
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }),
    );
    return Messages ?? [];
  }

  async function queueCounts(queueUrl: string): Promise<number[]> {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return [
      Number(Attributes?.ApproximateNumberOfMessages),
      Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
    ];
  }

  describe('DynamoDB stream source', () => {
    it('delivers the DynamoDBStreamEvent Lambda sends', async () => {
      // Arrange
      const { tableName, streamArn } = await streamTable();
      await dynamodb.send(
        new PutItemCommand({
          TableName: tableName,
          Item: { pk: { S: 'a' }, n: { N: '1' }, bin: { B: new Uint8Array([1, 2, 3]) } },
        }),
      );
      await dynamodb.send(
        new PutItemCommand({ TableName: tableName, Item: { pk: { S: 'a' }, n: { N: '2' } } }),
      );
      const invoker = new RecordingInvoker();

      // Act
      const handle = start(
        { EventSourceArn: streamArn, FunctionName: 'relay', StartingPosition: 'TRIM_HORIZON' },
        invoker,
      );
      await handle.drain();

      // Assert
      expect(invoker.calls).toHaveLength(1);
      expect(invoker.calls[0]?.functionName).toBe('relay');
      const [insert, modify] = streamRecords(invoker.calls[0]?.event);
      expect(insert).toEqual({
        eventID: expect.any(String),
        eventName: 'INSERT',
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: 'us-east-1',
        dynamodb: {
          ApproximateCreationDateTime: expect.any(Number),
          Keys: { pk: { S: 'a' } },
          NewImage: { pk: { S: 'a' }, n: { N: '1' }, bin: { B: 'AQID' } },
          SequenceNumber: expect.stringMatching(/^\d+$/),
          SizeBytes: expect.any(Number),
          StreamViewType: 'NEW_AND_OLD_IMAGES',
        },
        eventSourceARN: streamArn,
      });
      expect(Object.keys(insert ?? {})).toEqual([
        'eventID',
        'eventName',
        'eventVersion',
        'eventSource',
        'awsRegion',
        'dynamodb',
        'eventSourceARN',
      ]);
      expect(Math.abs((insert?.dynamodb?.ApproximateCreationDateTime ?? 0) - Date.now() / 1000)).toBeLessThan(
        120,
      );
      expect(modify?.eventName).toBe('MODIFY');
      expect(modify?.dynamodb?.OldImage?.n).toEqual({ N: '1' });
      expect(modify?.dynamodb?.NewImage?.n).toEqual({ N: '2' });
      expect(BigInt(modify?.dynamodb?.SequenceNumber ?? 0)).toBeGreaterThan(
        BigInt(insert?.dynamodb?.SequenceNumber ?? 0),
      );
    });

    it('delivers in shard order in batches of at most BatchSize', async () => {
      // Arrange
      const { tableName, streamArn } = await streamTable();
      await put(tableName, 'r1', 'r2', 'r3', 'r4', 'r5');
      const invoker = new RecordingInvoker();

      // Act
      const handle = start(
        { EventSourceArn: streamArn, StartingPosition: 'TRIM_HORIZON', BatchSize: 2 },
        invoker,
      );
      await handle.drain();

      // Assert
      expect(invoker.calls.map((call) => keys(call.event))).toEqual([['r1', 'r2'], ['r3', 'r4'], ['r5']]);
    });

    it('with persisted positions, a restarted mapping resumes after the last record whose batch succeeded', async () => {
      // Arrange: [a, b] succeeds, [c, d] keeps failing when the runtime goes down.
      const dir = await mkdtemp(path.join(tmpdir(), 'buzzer-positions-'));
      try {
        const { tableName, streamArn } = await streamTable();
        await put(tableName, 'a', 'b', 'c', 'd');
        const props = { EventSourceArn: streamArn, StartingPosition: 'TRIM_HORIZON', BatchSize: 2 };
        const before = new RecordingInvoker((event) => (keys(event)[0] === 'a' ? {} : failure('down')));
        const firstStore = new FileStreamPositions(dir, silentLogger);
        const first = start(props, before, { positions: firstStore });
        await expect
          .poll(() => before.calls.length, { timeout: 5_000, interval: 20 })
          .toBeGreaterThanOrEqual(2);
        await first.stop();
        await firstStore.flush();
        await put(tableName, 'e');
        const after = new RecordingInvoker();

        // Act: a new store reads the file, as the next start of the runtime does.
        const secondStore = new FileStreamPositions(dir, silentLogger);
        const second = start(props, after, { positions: secondStore });
        await second.drain();
        // The second store writes its file too: it must be done before the directory is removed.
        await second.stop();
        await secondStore.flush();

        // Assert
        expect(after.calls.map((call) => keys(call.event))).toEqual([['c', 'd'], ['e']]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('waits up to MaximumBatchingWindowInSeconds to fill a batch', async () => {
      // Arrange
      const { tableName, streamArn } = await streamTable();
      const invoker = new RecordingInvoker();
      const handle = start(
        {
          EventSourceArn: streamArn,
          StartingPosition: 'TRIM_HORIZON',
          BatchSize: 10,
          MaximumBatchingWindowInSeconds: 1,
        },
        invoker,
      );
      await handle.drain();

      // Act
      await put(tableName, 'w1');
      await new Promise((resolve) => setTimeout(resolve, 300));
      await put(tableName, 'w2', 'w3');
      await handle.drain();

      // Assert
      expect(invoker.calls.map((call) => keys(call.event))).toEqual([['w1', 'w2', 'w3']]);
    });

    it('starts at LATEST without delivering older records', async () => {
      // Arrange
      const { tableName, streamArn } = await streamTable();
      await put(tableName, 'before');
      const invoker = new RecordingInvoker();
      const handle = start({ EventSourceArn: streamArn, StartingPosition: 'LATEST' }, invoker);
      await handle.drain();

      // Act
      await put(tableName, 'after');
      await handle.drain();

      // Assert
      expect(invoker.calls.map((call) => keys(call.event))).toEqual([['after']]);
    });

    it('drops records that match no filter', async () => {
      // Arrange
      const { tableName, streamArn } = await streamTable();
      await put(tableName, 'keep-1', 'drop-1', 'keep-2');
      const invoker = new RecordingInvoker();
      const pattern = {
        eventName: ['INSERT'],
        dynamodb: { NewImage: { kind: { S: [{ prefix: 'keep' }] } } },
      };

      // Act
      const handle = start(
        {
          EventSourceArn: streamArn,
          StartingPosition: 'TRIM_HORIZON',
          FilterCriteria: { Filters: [{ Pattern: JSON.stringify(pattern) }] },
        },
        invoker,
      );
      await handle.drain();

      // Assert
      expect(invoker.calls.map((call) => keys(call.event))).toEqual([['keep-1', 'keep-2']]);
    });

    it('retries a partial batch failure from the lowest failed sequence number only', async () => {
      // Arrange
      const { tableName, streamArn } = await streamTable();
      await put(tableName, 'a', 'b', 'c', 'd');
      const invoker = new RecordingInvoker((event, call) => {
        if (call > 1) return { payload: { batchItemFailures: [] } };
        const [, b, c] = streamRecords(event);
        // Reported out of order: Lambda checkpoints before the lowest one (b).
        return {
          payload: {
            batchItemFailures: [
              { itemIdentifier: c?.dynamodb?.SequenceNumber },
              { itemIdentifier: b?.dynamodb?.SequenceNumber },
            ],
          },
        };
      });

      // Act
      const handle = start(
        {
          EventSourceArn: streamArn,
          StartingPosition: 'TRIM_HORIZON',
          FunctionResponseTypes: ['ReportBatchItemFailures'],
        },
        invoker,
      );
      await handle.drain();

      // Assert
      expect(invoker.calls.map((call) => keys(call.event))).toEqual([
        ['a', 'b', 'c', 'd'],
        ['b', 'c', 'd'],
      ]);
    });

    it('retries the whole batch when the item failure response names no record of the batch', async () => {
      // Arrange
      const { tableName, streamArn } = await streamTable();
      await put(tableName, 'a', 'b');
      const invoker = new RecordingInvoker((_event, call) =>
        call === 1 ? { payload: { batchItemFailures: [{ itemIdentifier: '42' }] } } : { payload: null },
      );

      // Act
      const handle = start(
        {
          EventSourceArn: streamArn,
          StartingPosition: 'TRIM_HORIZON',
          FunctionResponseTypes: ['ReportBatchItemFailures'],
        },
        invoker,
      );
      await handle.drain();

      // Assert
      expect(invoker.calls.map((call) => keys(call.event))).toEqual([
        ['a', 'b'],
        ['a', 'b'],
      ]);
    });

    it('bisects failing batches to isolate a poison record, then reports it and moves on', async () => {
      // Arrange
      const { tableName, streamArn } = await streamTable();
      const destination = await queue();
      await put(tableName, 'a', 'b', 'poison', 'c');
      const invoker = new RecordingInvoker((event) =>
        keys(event).includes('poison') ? failure('cannot parse') : {},
      );

      // Act
      const handle = start(
        {
          EventSourceArn: streamArn,
          StartingPosition: 'TRIM_HORIZON',
          BisectBatchOnFunctionError: true,
          MaximumRetryAttempts: 1,
          DestinationConfig: { OnFailure: { Destination: destination.queueArn } },
        },
        invoker,
      );
      await handle.drain();
      const [reported] = await receiveAll(destination.queueUrl);

      // Assert: splitting is free; only the single-record batch uses the retry quota (1 retry).
      expect(invoker.calls.map((call) => keys(call.event))).toEqual([
        ['a', 'b', 'poison', 'c'],
        ['a', 'b'],
        ['poison', 'c'],
        ['poison'],
        ['poison'],
        ['c'],
      ]);
      const poisonSequence = streamRecords(invoker.calls[3]?.event)[0]?.dynamodb?.SequenceNumber;
      const record = JSON.parse(reported?.Body ?? '{}') as StreamFailureRecord;
      expect(record.requestContext.condition).toBe('RetryAttemptsExhausted');
      expect(record.requestContext.approximateInvokeCount).toBe(3);
      expect(record.DDBStreamBatchInfo).toMatchObject({
        startSequenceNumber: poisonSequence,
        endSequenceNumber: poisonSequence,
        batchSize: 1,
        streamArn,
      });
    });

    it('gives up after MaximumRetryAttempts, sends Lambda’s failure record to the destination and moves on', async () => {
      // Arrange
      const { tableName, streamArn } = await streamTable();
      const destination = await queue();
      await put(tableName, 'a', 'b');
      const invoker = new RecordingInvoker((_event, call) =>
        call <= 3 ? failure('downstream unavailable') : {},
      );
      const handle = start(
        {
          EventSourceArn: streamArn,
          StartingPosition: 'TRIM_HORIZON',
          MaximumRetryAttempts: 2,
          DestinationConfig: { OnFailure: { Destination: destination.queueArn } },
        },
        invoker,
      );
      await handle.drain();

      // Act
      await put(tableName, 'c');
      await handle.drain();
      const messages = await receiveAll(destination.queueUrl);

      // Assert
      expect(invoker.calls.map((call) => keys(call.event))).toEqual([
        ['a', 'b'],
        ['a', 'b'],
        ['a', 'b'],
        ['c'],
      ]);
      const [a, b] = streamRecords(invoker.calls[0]?.event);
      expect(messages).toHaveLength(1);
      expect(JSON.parse(messages[0]?.Body ?? '{}')).toEqual({
        requestContext: {
          requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
          functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:relay',
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: 3,
        },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        version: '1.0',
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        DDBStreamBatchInfo: {
          shardId: expect.stringMatching(/^shardId-/),
          startSequenceNumber: a?.dynamodb?.SequenceNumber,
          endSequenceNumber: b?.dynamodb?.SequenceNumber,
          approximateArrivalOfFirstRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
          approximateArrivalOfLastRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
          batchSize: 2,
          streamArn,
        },
      });
    });

    it('skips records older than MaximumRecordAgeInSeconds without invoking the function', async () => {
      // Arrange: the mapping's clock runs five minutes ahead, so every record is already too old.
      const { tableName, streamArn } = await streamTable();
      const destination = await queue();
      await put(tableName, 'stale');
      const invoker = new RecordingInvoker();
      const clock: Clock = { now: () => Date.now() + 5 * 60_000 };

      // Act
      const handle = start(
        {
          EventSourceArn: streamArn,
          StartingPosition: 'TRIM_HORIZON',
          MaximumRecordAgeInSeconds: 60,
          DestinationConfig: { OnFailure: { Destination: destination.queueArn } },
        },
        invoker,
        { clock },
      );
      await handle.drain();
      const [reported] = await receiveAll(destination.queueUrl);

      // Assert
      expect(invoker.calls).toHaveLength(0);
      const record = JSON.parse(reported?.Body ?? '{}') as StreamFailureRecord;
      expect(record.requestContext).toMatchObject({
        condition: 'RecordAgeExceeded',
        approximateInvokeCount: 0,
      });
      expect(record.DDBStreamBatchInfo.batchSize).toBe(1);
    });
  });

  describe('SQS source', () => {
    it('delivers the SQSEvent Lambda sends, deletes successes and redrives failed messages to the DLQ', async () => {
      // Arrange
      const { queueUrl, queueArn, dlq } = await queue({ redrive: true });
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: 'good-1',
          MessageAttributes: { trace: { DataType: 'String', StringValue: 't-1' } },
        }),
      );
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'bad' }));
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'good-2' }));
      const invoker = new RecordingInvoker((event) => ({
        payload: {
          batchItemFailures: (event as SQSEvent).Records.filter((record) => record.body === 'bad').map(
            (record) => ({
              itemIdentifier: record.messageId,
            }),
          ),
        },
      }));

      // Act
      const handle = start(
        { EventSourceArn: queueArn, FunctionResponseTypes: ['ReportBatchItemFailures'] },
        invoker,
        { functionName: 'worker' },
      );
      await handle.drain();
      const dead = await receiveAll(dlq.queueUrl);

      // Assert
      const delivered = invoker.calls.flatMap((call) => (call.event as SQSEvent).Records);
      expect(delivered.map((record) => record.body).sort()).toEqual(['bad', 'bad', 'good-1', 'good-2']);
      expect(
        delivered
          .filter((record) => record.body === 'bad')
          .map((record) => record.attributes.ApproximateReceiveCount),
      ).toEqual(['1', '2']);
      expect(dead.map((message) => message.Body)).toEqual(['bad']);
      const first = delivered.find((record) => record.body === 'good-1');
      expect(first).toEqual({
        messageId: expect.any(String),
        receiptHandle: expect.any(String),
        body: 'good-1',
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: expect.stringMatching(/^\d+$/),
          SenderId: expect.any(String),
          ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
        },
        messageAttributes: {
          trace: { stringValue: 't-1', stringListValues: [], binaryListValues: [], dataType: 'String' },
        },
        md5OfBody: createHash('md5').update('good-1').digest('hex'),
        md5OfMessageAttributes: expect.stringMatching(/^[0-9a-f]{32}$/),
        eventSource: 'aws:sqs',
        eventSourceARN: queueArn,
        awsRegion: 'us-east-1',
      });
      expect(await queueCounts(queueUrl)).toEqual([0, 0]);
    });

    it('deletes none of the batch when the function fails, so the messages come back', async () => {
      // Arrange
      const { queueUrl, queueArn } = await queue();
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'retry-me' }));
      const invoker = new RecordingInvoker((_event, call) => (call === 1 ? failure('transient') : {}));

      // Act
      const handle = start({ EventSourceArn: queueArn }, invoker);
      await handle.drain();

      // Assert
      expect(invoker.calls.map((call) => bodies(call.event))).toEqual([['retry-me'], ['retry-me']]);
      expect(await queueCounts(queueUrl)).toEqual([0, 0]);
    });

    it('deletes messages that match no filter, matching JSON bodies as JSON', async () => {
      // Arrange
      const { queueUrl, queueArn } = await queue();
      for (const body of [
        JSON.stringify({ type: 'OrderConfirmed' }),
        JSON.stringify({ type: 'Other' }),
        'plain text',
      ]) {
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
      }
      const invoker = new RecordingInvoker();

      // Act
      const handle = start(
        {
          EventSourceArn: queueArn,
          FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ body: { type: ['OrderConfirmed'] } }) }] },
        },
        invoker,
      );
      await handle.drain();

      // Assert
      expect(invoker.calls.flatMap((call) => bodies(call.event))).toEqual([
        JSON.stringify({ type: 'OrderConfirmed' }),
      ]);
      expect(await queueCounts(queueUrl)).toEqual([0, 0]);
    });

    it('runs at most ScalingConfig.MaximumConcurrency batches at once', async () => {
      // Arrange
      const { queueUrl, queueArn } = await queue();
      for (let i = 0; i < 8; i++)
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `m${i}` }));
      let current = 0;
      let peak = 0;
      const invoker = new RecordingInvoker(async () => {
        peak = Math.max(peak, ++current);
        await new Promise((resolve) => setTimeout(resolve, 150));
        current--;
        return {};
      });

      // Act
      const handle = start(
        { EventSourceArn: queueArn, BatchSize: 1, ScalingConfig: { MaximumConcurrency: 3 } },
        invoker,
      );
      await handle.drain();

      // Assert
      expect(invoker.calls).toHaveLength(8);
      expect(peak).toBeLessThanOrEqual(3);
      expect(peak).toBeGreaterThanOrEqual(2);
    });

    it('with a cap of 2 and a slow function: never more than 2 in flight, the rest waits in the queue, all processed', async () => {
      // Arrange
      const { queueUrl, queueArn } = await queue();
      for (let i = 0; i < 10; i++)
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `m${i}` }));
      let current = 0;
      let peak = 0;
      const invoker = new RecordingInvoker(async () => {
        peak = Math.max(peak, ++current);
        await new Promise((resolve) => setTimeout(resolve, 100));
        current--;
        return {};
      });
      // Received but not yet deleted: what the mapping holds out of the queue at any moment.
      let heldOut = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          heldOut = Math.max(heldOut, (await queueCounts(queueUrl))[1] ?? 0);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();

      // Act
      const handle = start(
        { EventSourceArn: queueArn, BatchSize: 1, ScalingConfig: { MaximumConcurrency: 2 } },
        invoker,
      );
      await handle.drain();
      sampling = false;
      await sampler;

      // Assert
      expect(invoker.calls.flatMap((call) => bodies(call.event)).sort()).toEqual(
        Array.from({ length: 10 }, (_, i) => `m${i}`).sort(),
      );
      expect(peak).toBe(2);
      expect(heldOut).toBeGreaterThan(0);
      expect(heldOut).toBeLessThanOrEqual(2);
      expect(await queueCounts(queueUrl)).toEqual([0, 0]);
    });

    it('waits for the invocation in flight when stopped', async () => {
      // Arrange
      const { queueUrl, queueArn } = await queue();
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'slow' }));
      let finished = false;
      let started: () => void = () => {};
      const invocationStarted = new Promise<void>((resolve) => {
        started = resolve;
      });
      const invoker = new RecordingInvoker(async () => {
        started();
        await new Promise((resolve) => setTimeout(resolve, 300));
        finished = true;
        return {};
      });
      const handle = start({ EventSourceArn: queueArn }, invoker);
      await invocationStarted;

      // Act
      await handle.stop();

      // Assert
      expect(finished).toBe(true);
      expect(await queueCounts(queueUrl)).toEqual([0, 0]);
    });

    it('does not poll a disabled mapping', async () => {
      // Arrange
      const { queueUrl, queueArn } = await queue();
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'waiting' }));
      const invoker = new RecordingInvoker();

      // Act
      start({ EventSourceArn: queueArn, Enabled: false }, invoker);
      await new Promise((resolve) => setTimeout(resolve, 300));

      // Assert
      expect(invoker.calls).toHaveLength(0);
      expect(await queueCounts(queueUrl)).toEqual([1, 0]);
    });

    describe("waiting for the engine's bell while the queue is empty", () => {
      const idle = () => new Promise((resolve) => setTimeout(resolve, 200));
      const delivered = (invoker: RecordingInvoker) => invoker.calls.flatMap((call) => bodies(call.event));

      it('wakes for a message sent to its queue', async () => {
        // Arrange
        const { queueUrl, queueArn } = await queue();
        const invoker = new RecordingInvoker();
        start({ EventSourceArn: queueArn }, invoker, { bells: true });
        await idle();

        // Act
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'hello' }));

        // Assert
        await expect.poll(() => delivered(invoker), { timeout: 3_000 }).toEqual(['hello']);
      });

      it('wakes when a delayed message becomes receivable', async () => {
        // Arrange
        const { queueUrl, queueArn } = await queue();
        const invoker = new RecordingInvoker();
        start({ EventSourceArn: queueArn }, invoker, { bells: true });

        // Act
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'later', DelaySeconds: 1 }));

        // Assert
        await expect.poll(() => delivered(invoker), { timeout: 4_000 }).toEqual(['later']);
      });

      it('wakes when a failed message comes back after its visibility timeout', async () => {
        // Arrange
        const { queueUrl, queueArn } = await queue();
        const invoker = new RecordingInvoker((_event, call) => (call === 1 ? failure('transient') : {}));
        start({ EventSourceArn: queueArn }, invoker, { bells: true });

        // Act
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'again' }));

        // Assert
        await expect.poll(() => delivered(invoker), { timeout: 4_000 }).toEqual(['again', 'again']);
      });

      it('wakes when a message in flight is made visible sooner', async () => {
        // Arrange
        const { queueUrl, queueArn } = await queue();
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'taken' }));
        const [taken] = await receiveAll(queueUrl);
        const invoker = new RecordingInvoker();
        start({ EventSourceArn: queueArn }, invoker, { bells: true });
        await idle();

        // Act
        await sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: taken?.ReceiptHandle,
            VisibilityTimeout: 1,
          }),
        );

        // Assert
        await expect.poll(() => delivered(invoker), { timeout: 4_000 }).toEqual(['taken']);
      });
    });
  });

  it('refuses event sources the local runtime cannot poll', () => {
    // Act / Assert
    expect(() =>
      start(
        {
          EventSourceArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/clicks',
          StartingPosition: 'LATEST',
        },
        new RecordingInvoker(),
      ),
    ).toThrow(UnsupportedEventSourceError);
  });
});
