import { GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';

/** SQS delays a message by at most 15 minutes. */
export const MAX_DELAY_SECONDS = 900;

/** Queue URLs by ARN, asked once per queue and execution environment. */
export type QueueUrlCache = Map<string, Promise<string>>;

/** `arn:aws:sqs:<region>:<account>:<name>` → the queue's URL, asked once per queue (works on AWS and locally). */
export function queueUrlFor(sqs: SQSClient, cache: QueueUrlCache, queueArn: string): Promise<string> {
  let url = cache.get(queueArn);
  if (!url) {
    const [, , , , account, name] = queueArn.split(':');
    url = sqs
      .send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }))
      .then(({ QueueUrl }) => {
        if (!QueueUrl) throw new Error(`GetQueueUrl returned no URL for ${queueArn}`);
        return QueueUrl;
      });
    // A failed lookup is not cached: the next caller asks again.
    url.catch(() => cache.delete(queueArn));
    cache.set(queueArn, url);
  }
  return url;
}

/**
 * Puts a message that must wait (its downstream's circuit is open) back on its own queue as a new message, delayed.
 * A failed receive would wait too, but each one uses up the message's receive count and the queue's `maxReceiveCount`
 * would move a message that is merely waiting to the DLQ; a new message starts from zero. The caller lets the
 * original succeed only after this returns, so the message is never lost (at worst it exists twice, which the
 * consumers' idempotency absorbs).
 */
export async function requeueLater(
  sqs: SQSClient,
  cache: QueueUrlCache,
  record: SQSRecord,
  delaySeconds: number,
): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: await queueUrlFor(sqs, cache, record.eventSourceARN),
      MessageBody: record.body,
      DelaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(delaySeconds))),
    }),
  );
}
