import { GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { conditionHeld, epochSeconds, type TableDeps } from '#shared/dynamodb.ts';
import type { ItemKey } from '#shared/table-keys.ts';

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

/** Tickets outlive their wait by a day, then DynamoDB's TTL removes them. */
const TICKET_RETENTION_SECONDS = 24 * 60 * 60;

export interface HoldDeps extends TableDeps {
  sqs: SQSClient;
  queueUrls: QueueUrlCache;
}

/**
 * Puts a held message back on its queue unless another copy of it is already waiting (`requeueLater`). Copies could
 * otherwise multiply: a duplicate delivery, or a duplicate EXPRESS execution parking the same order, would each send
 * one, and each copy would send one again every interval of a long outage. The ticket (`ticket`, one item per held
 * thing) names the delivery whose copy waits and until when: another delivery within that time is a surplus copy and
 * is dropped; the same delivery again (it failed before its copy was sent, and came back) may send it; after that time
 * the next delivery takes the ticket. A copy is dropped only while another one is sure to come, so nothing is lost.
 */
export async function holdOnQueue(
  deps: HoldDeps,
  record: SQSRecord,
  ticket: ItemKey,
  waitSeconds: number,
  now = new Date(),
): Promise<'requeued' | 'superseded'> {
  const until = now.getTime() + Math.max(1, waitSeconds) * 1000;
  const mine = await conditionHeld(
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: ticket,
        UpdateExpression: 'SET entity = :entity, heldBy = :me, heldUntil = :until, expiresAt = :expiresAt',
        ConditionExpression: 'attribute_not_exists(pk) OR heldUntil <= :now OR heldBy = :me',
        ExpressionAttributeValues: {
          ':entity': 'HoldTicket',
          ':me': record.messageId,
          ':until': until,
          ':now': now.getTime(),
          ':expiresAt': epochSeconds(new Date(until)) + TICKET_RETENTION_SECONDS,
        },
      }),
    ),
  );
  if (!mine) return 'superseded';
  await requeueLater(deps.sqs, deps.queueUrls, record, waitSeconds);
  return 'requeued';
}
