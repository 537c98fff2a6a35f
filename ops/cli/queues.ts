/** SQS helpers for looking into queues without consuming them. */
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return {
    visible: Number(Attributes?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(Attributes?.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

export interface ReceiveOptions {
  /** Stop after this many distinct messages. */
  max: number;
  /** How long received messages stay hidden from others while we look at them. */
  visibilitySeconds: number;
  /** The queue's depth when known: once this many are in hand there is nothing left to wait for. */
  expected?: number;
  onProgress?(received: number): void;
}

/**
 * Receives up to `max` distinct messages. SQS samples servers on each receive, so one empty answer does not mean
 * the queue is empty: it stops after a few answers in a row bring nothing new.
 */
export async function receiveMessages(
  sqs: SQSClient,
  queueUrl: string,
  options: ReceiveOptions,
): Promise<Message[]> {
  const seen = new Map<string, Message>();
  let idle = 0;
  const expected = options.expected ?? Number.POSITIVE_INFINITY;
  while (seen.size < options.max && idle < 3) {
    // Past the expected depth (an approximate count), one quick look for stragglers replaces the idle waits.
    const settled = seen.size >= expected;
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, options.max - seen.size),
        VisibilityTimeout: options.visibilitySeconds,
        WaitTimeSeconds: settled ? 0 : 1,
        // Some engines only read the older AttributeNames; AWS reads both.
        AttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const fresh = (Messages ?? []).filter((m) => m.MessageId && !seen.has(m.MessageId));
    for (const message of fresh) seen.set(message.MessageId ?? '', message);
    if (fresh.length > 0) options.onProgress?.(seen.size);
    if (fresh.length === 0 && settled) break;
    idle = fresh.length === 0 ? idle + 1 : 0;
  }
  return [...seen.values()];
}

/** Makes received messages visible again at once (we only looked). */
export async function releaseMessages(sqs: SQSClient, queueUrl: string, messages: Message[]): Promise<void> {
  for (let start = 0; start < messages.length; start += 10) {
    const chunk = messages.slice(start, start + 10);
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle ?? '',
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}

/** When the message was first sent (SQS keeps the original time when it moves a message to a DLQ). */
export function sentAt(message: Message): Date | undefined {
  const ms = Number(message.Attributes?.SentTimestamp);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms) : undefined;
}

export function receiveCount(message: Message): number | undefined {
  const count = Number(message.Attributes?.ApproximateReceiveCount);
  return Number.isFinite(count) ? count : undefined;
}
