import { setTimeout as sleep } from 'node:timers/promises';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { EVENT_SOURCE } from '#contracts/events.ts';
import { METRICS } from '#contracts/metrics.ts';
import { conditionHeld, epochSeconds, isConditionalCheckFailed, type TableDeps } from '#shared/dynamodb.ts';
import { logger } from '#shared/logger.ts';
import { metrics } from '#shared/metrics.ts';
import { failedOutboxExpiry } from '#shared/retention.ts';
import { type ItemKey, OPEN_OUTBOX_FAILED } from '#shared/table-keys.ts';
import { type OutboxItem, outboxItemSchema, toEventDetail } from './outbox.ts';

export interface RelayDeps extends TableDeps {
  eventBridge: EventBridgeClient;
  sqs: SQSClient;
  eventBusName: string;
  dlqUrl: string;
  maxAttempts: number;
}

/** PutEvents accepts at most 10 entries per call. */
const PUT_EVENTS_CHUNK = 10;
/** BatchGetItem accepts at most 100 keys per call. */
const BATCH_GET_CHUNK = 100;
const BATCH_GET_RETRIES = 4;
/** Published outbox items stay a week for audits and replays, then TTL removes them. */
const PUBLISHED_RETENTION_SECONDS = 7 * 24 * 60 * 60;

type RelayOutcome = 'done' | 'retry';

interface Candidate {
  index: number;
  record: DynamoDBRecord;
  item: OutboxItem;
}

export type DlqReason = 'INVALID_OUTBOX_ITEM' | 'PUBLISH_FAILED';

/**
 * Publishes the outbox items of a stream batch to EventBridge. Returns the first record (in stream
 * order) that must be retried: Lambda checkpoints everything before it and redelivers from it, and
 * the records after it that did get published are skipped on redelivery because they are no longer
 * PENDING.
 */
export async function relayOutbox(
  deps: RelayDeps,
  records: DynamoDBRecord[],
  now = new Date(),
): Promise<DynamoDBBatchResponse> {
  const outcomes = new Map<number, RelayOutcome>();
  const candidates: Candidate[] = [];

  for (const [index, record] of records.entries()) {
    const image = outboxImage(record);
    if (!image) continue;
    const parsed = outboxItemSchema.safeParse(image);
    if (parsed.success) {
      candidates.push({ index, record, item: parsed.data });
    } else {
      const reason = parsed.error.issues
        .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
        .join('; ');
      outcomes.set(index, await quarantinePoison(deps, record, image, reason, now));
    }
  }

  const current = await readCurrentState(
    deps,
    candidates.map(({ item }) => ({ pk: item.pk, sk: item.sk })),
  );
  const pending = candidates.filter(({ item }) => {
    const state = current.get(item.pk);
    // Gone (TTL, operator) or already PUBLISHED/FAILED: a duplicate delivery must not publish again.
    return state !== undefined && state.status === 'PENDING';
  });

  for (let start = 0; start < pending.length; start += PUT_EVENTS_CHUNK) {
    const chunk = pending.slice(start, start + PUT_EVENTS_CHUNK);
    const errors = await publish(deps, chunk, now);
    const settled = await Promise.all(
      chunk.map(async (candidate, position) => {
        const error = errors[position];
        try {
          return error === undefined
            ? await markPublished(deps, candidate, now)
            : await recordFailure(deps, candidate, error, now);
        } catch (updateError) {
          logger.error('outbox bookkeeping failed', {
            messageId: candidate.item.messageId,
            correlationId: candidate.item.correlationId,
            error: updateError,
          });
          return 'retry' as const;
        }
      }),
    );
    settled.forEach((outcome, position) => {
      const candidate = chunk[position];
      if (candidate) outcomes.set(candidate.index, outcome);
    });
  }

  const firstRetry = [...outcomes.entries()]
    .filter(([, outcome]) => outcome === 'retry')
    .sort(([a], [b]) => a - b)[0];
  if (firstRetry === undefined) return { batchItemFailures: [] };
  const sequenceNumber = records[firstRetry[0]]?.dynamodb?.SequenceNumber;
  // Without a sequence number Lambda cannot checkpoint; failing the invocation retries the batch instead.
  if (!sequenceNumber) throw new Error('stream record without SequenceNumber cannot be reported for retry');
  return { batchItemFailures: [{ itemIdentifier: sequenceNumber }] };
}

/** The new image of an outbox INSERT, or undefined for anything else (the mapping filter should drop those). */
function outboxImage(record: DynamoDBRecord): Record<string, unknown> | undefined {
  const image = record.dynamodb?.NewImage;
  if (record.eventName !== 'INSERT' || !image) return undefined;
  // The Lambda event types and the SDK types describe the same wire format differently.
  const item = unmarshall(image as Record<string, AttributeValue>);
  const isOutbox = item.entity === 'Outbox' || (typeof item.pk === 'string' && item.pk.startsWith('OUTBOX#'));
  return isOutbox ? item : undefined;
}

async function readCurrentState(
  deps: RelayDeps,
  itemKeys: ItemKey[],
): Promise<Map<string, { status: string; attempts: number }>> {
  const state = new Map<string, { status: string; attempts: number }>();
  for (let start = 0; start < itemKeys.length; start += BATCH_GET_CHUNK) {
    let requested: ItemKey[] = itemKeys.slice(start, start + BATCH_GET_CHUNK);
    for (let attempt = 0; requested.length > 0; attempt++) {
      if (attempt > BATCH_GET_RETRIES) throw new Error('BatchGetItem kept returning unprocessed keys');
      if (attempt > 0) await sleep(50 * 2 ** attempt);
      const result = await deps.doc.send(
        new BatchGetCommand({
          RequestItems: {
            [deps.tableName]: {
              Keys: requested,
              ConsistentRead: true,
              ProjectionExpression: 'pk, #status, attempts',
              ExpressionAttributeNames: { '#status': 'status' },
            },
          },
        }),
      );
      for (const item of result.Responses?.[deps.tableName] ?? []) {
        state.set(String(item.pk), { status: String(item.status), attempts: Number(item.attempts ?? 0) });
      }
      requested = (result.UnprocessedKeys?.[deps.tableName]?.Keys ?? []) as ItemKey[];
    }
  }
  return state;
}

/** Puts one chunk on the bus. Returns, per entry, the error message, or undefined when it was accepted. */
async function publish(deps: RelayDeps, chunk: Candidate[], now: Date): Promise<(string | undefined)[]> {
  const entries: PutEventsRequestEntry[] = chunk.map(({ item }) => ({
    EventBusName: deps.eventBusName,
    Source: EVENT_SOURCE,
    DetailType: item.messageType,
    Detail: JSON.stringify(toEventDetail(item)),
    Time: new Date(item.createdAt),
  }));
  try {
    const result = await deps.eventBridge.send(new PutEventsCommand({ Entries: entries }));
    // FailedEntryCount alone cannot say which entries failed; each result entry carries its own ErrorCode.
    return chunk.map((_, position) => {
      const entry = result.Entries?.[position];
      if (!entry) return 'PutEvents returned no result for this entry';
      if (entry.ErrorCode) return `${entry.ErrorCode}: ${entry.ErrorMessage ?? ''}`.trim();
      return undefined;
    });
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    logger.warn('PutEvents failed', { error, entries: entries.length, at: now.toISOString() });
    return chunk.map(() => message);
  }
}

async function markPublished(deps: RelayDeps, { item }: Candidate, now: Date): Promise<RelayOutcome> {
  // A concurrent delivery of the same record finished it first: nothing left to do. The REMOVE takes items written
  // before PENDING ones left the Open index out of it; on the others it changes nothing (and writes no index entry).
  await conditionHeld(
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: { pk: item.pk, sk: item.sk },
        UpdateExpression:
          'SET #status = :published, publishedAt = :now, expiresAt = :expiresAt REMOVE openPk, openSk',
        ConditionExpression: '#status = :pending',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':published': 'PUBLISHED',
          ':pending': 'PENDING',
          ':now': now.toISOString(),
          ':expiresAt': epochSeconds(now) + PUBLISHED_RETENTION_SECONDS,
        },
      }),
    ),
  );
  logger.info('outbox message published', {
    messageId: item.messageId,
    messageType: item.messageType,
    correlationId: item.correlationId,
  });
  return 'done';
}

async function recordFailure(
  deps: RelayDeps,
  { record, item }: Candidate,
  reason: string,
  now: Date,
): Promise<RelayOutcome> {
  let attempts: number;
  try {
    const result = await deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: { pk: item.pk, sk: item.sk },
        UpdateExpression: 'ADD attempts :one SET lastError = :reason, lastAttemptAt = :now',
        ConditionExpression: '#status = :pending',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':one': 1,
          ':reason': reason,
          ':now': now.toISOString(),
          ':pending': 'PENDING',
        },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    attempts = Number(result.Attributes?.attempts ?? item.attempts + 1);
  } catch (error) {
    if (isConditionalCheckFailed(error)) return 'done';
    throw error;
  }
  // No dimension beyond `service`: buffered with the invocation's metrics, flushed by the chain's logMetrics.
  metrics.addMetric(METRICS.RelayPublishFailures, MetricUnit.Count, 1);
  const fields = { messageId: item.messageId, correlationId: item.correlationId, attempts, reason };
  if (attempts < deps.maxAttempts) {
    logger.warn('outbox message not published, will retry', fields);
    return 'retry';
  }
  logger.error('outbox message failed too often, moving it to the relay DLQ', fields);
  await sendToDlq(deps, 'PUBLISH_FAILED', reason, record, { ...item, attempts }, now);
  await markFailed(deps, { pk: item.pk, sk: item.sk }, reason, now);
  return 'done';
}

/** An item the relay can never publish: keep the full record in the DLQ and take the item off the open list. */
async function quarantinePoison(
  deps: RelayDeps,
  record: DynamoDBRecord,
  image: Record<string, unknown>,
  reason: string,
  now: Date,
): Promise<RelayOutcome> {
  logger.error('invalid outbox item, moving it to the relay DLQ', {
    pk: image.pk,
    correlationId: image.correlationId,
    reason,
  });
  try {
    await sendToDlq(deps, 'INVALID_OUTBOX_ITEM', reason, record, image, now);
    if (typeof image.pk === 'string' && image.pk.startsWith('OUTBOX#') && image.sk === 'OUTBOX') {
      await markFailed(deps, { pk: image.pk, sk: image.sk }, reason, now);
    }
    return 'done';
  } catch (error) {
    logger.error('could not quarantine invalid outbox item', { pk: image.pk, error });
    return 'retry';
  }
}

async function sendToDlq(
  deps: RelayDeps,
  reason: DlqReason,
  error: string,
  record: DynamoDBRecord,
  item: Record<string, unknown>,
  now: Date,
): Promise<void> {
  await deps.sqs.send(
    new SendMessageCommand({
      QueueUrl: deps.dlqUrl,
      // Self-contained: the stream record and the item, so a redrive needs nothing that TTL may have removed.
      MessageBody: JSON.stringify({ reason, error, failedAt: now.toISOString(), record, item }),
      MessageAttributes: { reason: { DataType: 'String', StringValue: reason } },
    }),
  );
}

async function markFailed(deps: RelayDeps, key: ItemKey, reason: string, now: Date): Promise<void> {
  await conditionHeld(
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: key,
        UpdateExpression:
          // A PENDING item has no Open index keys (outbox.ts): a FAILED one enters the index here, oldest first.
          'SET #status = :failed, openPk = :openPk, openSk = if_not_exists(createdAt, :now), failedAt = :now, ' +
          'lastError = :reason, expiresAt = :expiresAt',
        ConditionExpression: 'attribute_exists(pk) AND #status <> :published',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':failed': 'FAILED',
          ':published': 'PUBLISHED',
          ':openPk': OPEN_OUTBOX_FAILED,
          ':now': now.toISOString(),
          ':reason': reason,
          ':expiresAt': failedOutboxExpiry(now),
        },
      }),
    ),
  );
}
