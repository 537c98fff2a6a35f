import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createQueueFromCfn,
  queueAttributes,
  type SqsEngine,
  SqsEngineError,
  startSqs,
} from '#local/engines/sqs.ts';
import { createQueueStatsService, type QueueStatsResponse } from '#local/engines/sqs-stats.ts';

async function receiveOne(client: SQSClient, queueUrl: string, visibilityTimeout?: number) {
  const { Messages } = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      WaitTimeSeconds: 2,
      AttributeNames: ['All'],
      ...(visibilityTimeout === undefined ? {} : { VisibilityTimeout: visibilityTimeout }),
    }),
  );
  return Messages?.[0];
}

describe('SQS engine (local-aws-sqs behind the real SDK)', () => {
  let sqs: SqsEngine;
  let client: SQSClient;

  beforeAll(async () => {
    sqs = await startSqs();
    client = new SQSClient({
      endpoint: sqs.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    client?.destroy();
    await sqs?.stop();
  });

  it('creates queues with URLs and ARNs in the runtime’s account and region', async () => {
    // Act
    const queue = await createQueueFromCfn(client, 'Buzzer-Plain', { VisibilityTimeout: 30 });

    // Assert
    expect(sqs.endpoint).toBe(`http://127.0.0.1:${sqs.port}`);
    expect(queue).toEqual({
      queueUrl: `${sqs.endpoint}/000000000000/Buzzer-Plain`,
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:Buzzer-Plain',
    });
  });

  it('maps CloudFormation properties to queue attributes and ignores encryption settings', async () => {
    // Arrange
    const dlq = await createQueueFromCfn(client, 'Buzzer-Fifo-DLQ.fifo', { FifoQueue: true });

    // Act
    const queue = await createQueueFromCfn(client, 'Buzzer-Fifo.fifo', {
      FifoQueue: 'true',
      ContentBasedDeduplication: true,
      VisibilityTimeout: '45',
      MessageRetentionPeriod: 3600,
      DelaySeconds: 2,
      ReceiveMessageWaitTimeSeconds: 5,
      MaximumMessageSize: 2048,
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: '4' }),
      KmsMasterKeyId: 'alias/aws/sqs',
      SqsManagedSseEnabled: true,
    });
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queue.queueUrl, AttributeNames: ['All'] }),
    );

    // Assert
    expect(Attributes).toMatchObject({
      FifoQueue: 'true',
      ContentBasedDeduplication: 'true',
      VisibilityTimeout: '45',
      MessageRetentionPeriod: '3600',
      DelaySeconds: '2',
      ReceiveMessageWaitTimeSeconds: '5',
      MaximumMessageSize: '2048',
    });
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: dlq.queueArn,
      maxReceiveCount: 4,
    });
    expect(Attributes?.KmsMasterKeyId).toBeUndefined();
  });

  it('leaves out FifoQueue=false, which SQS rejects on CreateQueue', () => {
    // Act
    const attributes = queueAttributes('Standard', { FifoQueue: false, VisibilityTimeout: 10 });

    // Assert
    expect(attributes).toEqual({ VisibilityTimeout: '10' });
  });

  it('redrives to the DLQ after maxReceiveCount and moves messages back with StartMessageMoveTask', async () => {
    // Arrange
    const dlq = await createQueueFromCfn(client, 'Buzzer-Work-DLQ', {});
    const queue = await createQueueFromCfn(client, 'Buzzer-Work', {
      VisibilityTimeout: 1,
      RedrivePolicy: { deadLetterTargetArn: dlq.queueArn, maxReceiveCount: 2 },
    });
    await client.send(new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: 'poison' }));

    // Act: receive without deleting until SQS gives up on the message.
    const first = await receiveOne(client, queue.queueUrl);
    const second = await receiveOne(client, queue.queueUrl);
    const third = await receiveOne(client, queue.queueUrl);
    // A peek (visibility 0) leaves the message available for the move task below.
    const dead = await receiveOne(client, dlq.queueUrl, 0);
    const sources = await client.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq.queueUrl }));

    // Assert
    expect(first?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(second?.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(third).toBeUndefined();
    expect(dead?.Body).toBe('poison');
    expect(dead?.Attributes?.DeadLetterQueueSourceArn).toBe(queue.queueArn);
    expect(sources.queueUrls).toEqual([queue.queueUrl]);

    // Act: an operator redrives the DLQ to its source.
    await client.send(new StartMessageMoveTaskCommand({ SourceArn: dlq.queueArn }));
    const redriven = await receiveOne(client, queue.queueUrl);
    const tasks = await client.send(new ListMessageMoveTasksCommand({ SourceArn: dlq.queueArn }));

    // Assert
    expect(redriven?.Body).toBe('poison');
    expect(redriven?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(tasks.Results?.[0]?.ApproximateNumberOfMessagesToMove).toBe(1);
  });

  it('counts receives only, as SQS does: a visibility change (a worker backing off) leaves the count alone', async () => {
    // Arrange: three receives before the DLQ.
    const dlq = await createQueueFromCfn(client, 'Buzzer-Backoff-DLQ', {});
    const queue = await createQueueFromCfn(client, 'Buzzer-Backoff', {
      VisibilityTimeout: 30,
      RedrivePolicy: { deadLetterTargetArn: dlq.queueArn, maxReceiveCount: 3 },
    });
    await client.send(new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: 'retried' }));

    // Act: each delivery fails and is backed off with a visibility change, as retry-backoff.ts does.
    const counts: Array<string | undefined> = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const message = await receiveOne(client, queue.queueUrl);
      counts.push(message?.Attributes?.ApproximateReceiveCount);
      if (message?.ReceiptHandle) {
        await client.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queue.queueUrl,
            ReceiptHandle: message.ReceiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
    }

    // Assert: delivered three times (local-aws-sqs alone moved it to the DLQ after two, counting each change).
    expect(counts).toEqual(['1', '2', '3']);
  });

  it('rejects a redrive policy whose dead-letter queue does not exist yet', async () => {
    // Act / Assert
    await expect(
      createQueueFromCfn(client, 'Buzzer-Orphan', {
        RedrivePolicy: {
          deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:missing',
          maxReceiveCount: 3,
        },
      }),
    ).rejects.toThrow();
  });

  it('stops promptly even while a long poll is waiting', async () => {
    // Arrange
    const other = await startSqs();
    const otherClient = new SQSClient({
      endpoint: other.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const queue = await createQueueFromCfn(otherClient, 'Idle', {});
    const poll = otherClient
      .send(new ReceiveMessageCommand({ QueueUrl: queue.queueUrl, WaitTimeSeconds: 20 }))
      .catch((error: unknown) => error);

    // Act
    const started = Date.now();
    await other.stop();
    const outcome = await poll;
    otherClient.destroy();

    // Assert
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(outcome).toBeInstanceOf(Error);
  });

  describe('back-pressure figures (what SQS publishes to CloudWatch)', () => {
    const statsOf = (queueName: string) => sqs.stats().find((q) => q.queueName === queueName);

    it('counts waiting, in-flight and delayed messages apart, and ages the oldest message not delayed', async () => {
      // Arrange
      const queue = await createQueueFromCfn(client, 'Buzzer-Stats', { VisibilityTimeout: 30 });
      for (const body of ['a', 'b', 'c'])
        await client.send(new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: body }));
      await client.send(
        new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: 'later', DelaySeconds: 60 }),
      );
      const empty = await createQueueFromCfn(client, 'Buzzer-Stats-Empty', {});

      // Act
      await receiveOne(client, queue.queueUrl);
      await new Promise((resolve) => setTimeout(resolve, 1_100));

      // Assert
      expect(statsOf('Buzzer-Stats')).toMatchObject({
        queueUrl: queue.queueUrl,
        visible: 2,
        inFlight: 1,
        delayed: 1,
        deletedLastMinute: 0,
      });
      expect(statsOf('Buzzer-Stats')?.oldestAgeSeconds).toBeGreaterThanOrEqual(1);
      expect(statsOf('Buzzer-Stats')?.oldestAgeSeconds).toBeLessThan(10);
      expect(statsOf('Buzzer-Stats-Empty')).toMatchObject({
        queueUrl: empty.queueUrl,
        visible: 0,
        inFlight: 0,
        oldestAgeSeconds: null,
      });
    });

    it('counts each consumed message once, repeated deletes and moves to the DLQ not at all', async () => {
      // Arrange
      const dlq = await createQueueFromCfn(client, 'Buzzer-Consumed-DLQ', {});
      const queue = await createQueueFromCfn(client, 'Buzzer-Consumed', {
        VisibilityTimeout: 1,
        RedrivePolicy: { deadLetterTargetArn: dlq.queueArn, maxReceiveCount: 1 },
      });
      for (const body of ['a', 'b', 'poison'])
        await client.send(new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: body }));

      // Act
      for (let i = 0; i < 3; i++) {
        const message = await receiveOne(client, queue.queueUrl);
        if (message?.Body === 'poison') continue;
        const handle = { QueueUrl: queue.queueUrl, ReceiptHandle: message?.ReceiptHandle };
        await client.send(new DeleteMessageCommand(handle));
        await client.send(new DeleteMessageCommand(handle));
      }
      await expect.poll(() => statsOf('Buzzer-Consumed-DLQ')?.visible).toBe(1);

      // Assert
      expect(statsOf('Buzzer-Consumed')).toMatchObject({
        visible: 0,
        inFlight: 0,
        oldestAgeSeconds: null,
        deletedLastMinute: 2,
        deletedTotal: 2,
      });
      expect(statsOf('Buzzer-Consumed-DLQ')?.deletedTotal).toBe(0);
    });
  });

  it('serves the figures as BuzzerLocalQueues.GetQueueStats and refuses other operations', async () => {
    // Arrange
    const service = createQueueStatsService(sqs);

    // Act
    const answer = (await service('GetQueueStats', {})) as QueueStatsResponse;

    // Assert
    expect(answer.queues.map((q) => q.queueName)).toContain('Buzzer-Plain');
    await expect(service('PurgeEverything', {})).rejects.toThrow(
      'BuzzerLocalQueues has no operation PurgeEverything',
    );
  });

  it('refuses a port that is already taken instead of hanging', async () => {
    // Act / Assert
    await expect(startSqs({ port: sqs.port })).rejects.toThrow(SqsEngineError);
  });
});
