import { GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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
 * The message attribute a held copy carries: the id of the delivery that sent it, which the hold ticket names while
 * the copy waits (`holdOnQueue`).
 */
export const HELD_COPY_ATTRIBUTE = 'BuzzerHeldCopyOf';

/**
 * Puts a message that must wait (its downstream's circuit is open) back on its own queue as a new message, delayed.
 * A failed receive would wait too, but each one uses up the message's receive count and the queue's `maxReceiveCount`
 * would move a message that is merely waiting to the DLQ; a new message starts from zero. The caller lets the
 * original succeed only after this returns, so the message is never lost (at worst it exists twice, which the
 * consumers' idempotency absorbs). The copy names the delivery that sent it (`HELD_COPY_ATTRIBUTE`).
 */
async function requeueLater(
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
      MessageAttributes: { [HELD_COPY_ATTRIBUTE]: { DataType: 'String', StringValue: record.messageId } },
    }),
  );
}

/** Tickets outlive their wait by a day, then DynamoDB's TTL removes them. */
const TICKET_RETENTION_SECONDS = 24 * 60 * 60;

/**
 * How late the waiting copy may come back before another copy may take its place. A queue with a backlog (a burst of
 * held orders, a consumer at its concurrency) hands a delayed message out well after its delay: were the ticket free
 * at the delay's end, every copy arriving after it would send one more, and the copies would multiply with the
 * backlog they make (a chaos run on a loaded machine had 700 copies waiting for 190 held orders). Past this, the
 * named copy is taken to be gone (in a DLQ, where an operator's redrive brings it back).
 */
export const LATE_COPY_GRACE_SECONDS = 300;

export interface HoldDeps extends TableDeps {
  sqs: SQSClient;
  queueUrls: QueueUrlCache;
}

/** The delivery that sent `record` back to wait, when it is a held copy. */
const sentBy = (record: SQSRecord): string | undefined =>
  record.messageAttributes?.[HELD_COPY_ATTRIBUTE]?.stringValue;

/**
 * Puts a held message back on its queue unless another copy of it is already waiting (`requeueLater`). Copies could
 * otherwise multiply: a duplicate delivery, or a duplicate EXPRESS execution parking the same order, would each send
 * one, and each copy would send one again every interval of a long outage. The ticket (`ticket`, one item per held
 * thing) names the delivery whose copy waits. That copy, when it comes back however late, may wait again; so may the
 * same delivery again (it failed before its copy was sent, and came back); any other copy is surplus and is dropped,
 * until the named copy is `LATE_COPY_GRACE_SECONDS` overdue. A copy is dropped only while another one is sure to
 * come, so nothing is lost. A consumer whose work may park the same thing again releases the ticket first
 * (`releaseHold`).
 */
export async function holdOnQueue(
  deps: HoldDeps,
  record: SQSRecord,
  ticket: ItemKey,
  waitSeconds: number,
  now = new Date(),
): Promise<'requeued' | 'superseded'> {
  const due = now.getTime() + Math.max(1, waitSeconds) * 1000;
  const until = due + LATE_COPY_GRACE_SECONDS * 1000;
  const copyOf = sentBy(record);
  const mine = await conditionHeld(
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: ticket,
        UpdateExpression: 'SET entity = :entity, heldBy = :me, heldUntil = :until, expiresAt = :expiresAt',
        ConditionExpression: `attribute_not_exists(pk) OR heldUntil <= :now OR heldBy = :me${copyOf ? ' OR heldBy = :copyOf' : ''}`,
        ExpressionAttributeValues: {
          ':entity': 'HoldTicket',
          ':me': record.messageId,
          ':until': until,
          ':now': now.getTime(),
          ':expiresAt': epochSeconds(new Date(until)) + TICKET_RETENTION_SECONDS,
          ...(copyOf ? { ':copyOf': copyOf } : {}),
        },
      }),
    ),
  );
  if (!mine) return 'superseded';
  await requeueLater(deps.sqs, deps.queueUrls, record, waitSeconds);
  return 'requeued';
}

/**
 * The waiting copy `record` goes on to its work: its ticket no longer names a copy that is sure to come, so a copy the
 * work itself parks again (a saga that finds the circuit open once more) may take it. Done before the work, so such a
 * copy never finds the ticket still held; a copy that is not the named one (or not a held copy) leaves it alone.
 */
export async function releaseHold(deps: TableDeps, record: SQSRecord, ticket: ItemKey): Promise<void> {
  const copyOf = sentBy(record);
  if (!copyOf) return;
  await conditionHeld(
    deps.doc.send(
      new DeleteCommand({
        TableName: deps.tableName,
        Key: ticket,
        ConditionExpression: 'heldBy = :copyOf',
        ExpressionAttributeValues: { ':copyOf': copyOf },
      }),
    ),
  );
}
