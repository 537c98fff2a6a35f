import { ChangeMessageVisibilityBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { MiddlewareObj } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { epochSeconds, type TableDeps } from '#shared/dynamodb.ts';
import { logger } from '#shared/logger.ts';
import { queueUrlFor } from '#shared/requeue.ts';
import { failuresOf } from './batch.ts';

/**
 * Exponential backoff for failed SQS messages. Lambda leaves a failed message invisible for the queue's whole
 * visibility timeout (six times the function timeout, 3 minutes for a 30 s worker), so a downstream blip costs
 * minutes and a long outage is retried at the same steady pace. Changing the visibility of each failed message to a
 * growing delay retries a blip within seconds and backs off from a real outage; the queue's `maxReceiveCount` still
 * decides when a message gives up and moves to the DLQ.
 */
export interface BackoffPolicy {
  /** Delay after the first failed receive. */
  baseSeconds: number;
  /** Longest delay. */
  maxSeconds: number;
}

/** 30 s, 60 s, 2 min, 4 min, 8 min: the same patience as 5 × 180 s, front-loaded so blips recover quickly. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseSeconds: 30, maxSeconds: 900 };

/** SQS refuses a visibility timeout above 12 hours. */
const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;
const SQS_BATCH_LIMIT = 10;

/** Failure records outlive the longest DLQ retention (14 days), so every dead-lettered message still has its error. */
export const FAILURE_RETENTION_SECONDS = 15 * 24 * 60 * 60;
const MAX_ERROR_MESSAGE = 500;

export class BackoffConfigurationError extends Error {
  override name = 'BackoffConfigurationError';
}

/**
 * The visibility delay after the `receiveCount`-th failed receive: `base · 2^(n-1)` capped at `max`, with "equal
 * jitter" (half fixed, half random) so the messages of one outage do not all come back in the same second.
 */
export function backoffDelaySeconds(
  receiveCount: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  if (policy.baseSeconds < 1 || policy.maxSeconds < policy.baseSeconds) {
    throw new BackoffConfigurationError(
      `backoff needs 1 <= baseSeconds <= maxSeconds, got ${policy.baseSeconds}..${policy.maxSeconds}`,
    );
  }
  const attempt = Math.max(1, Math.floor(receiveCount));
  const exponential = Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** Math.min(attempt - 1, 30));
  const delay = Math.ceil(exponential / 2 + random() * (exponential / 2));
  return Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, delay));
}

/** Where the last error of a failed message is kept, so `buzzer dlq peek` can show why a message died. */
export interface FailureLog extends TableDeps {
  /** The consumer's name, as in its effect markers (`notify`, `points`). */
  consumer: string;
}

export const failureKey = (messageId: string) => ({ pk: `FAILURE#${messageId}`, sk: 'FAILURE' });

export interface RetryBackoffOptions {
  sqs: SQSClient;
  policy?: BackoffPolicy;
  failureLog?: FailureLog;
}

/**
 * Backoff for an `sqsRecords` handler: after the batch, every failed message gets its visibility changed to the
 * backoff delay (and, when a failure log is given, its error recorded). Both are best effort: if they fail, the
 * message simply comes back after the queue's visibility timeout, as it would without backoff.
 */
export function retryBackoff(
  options: RetryBackoffOptions,
): MiddlewareObj<SQSEvent, SQSBatchResponse, Error, Context> {
  const policy = options.policy ?? DEFAULT_BACKOFF;
  const queueUrls = new Map<string, Promise<string>>();
  return {
    after: async (request): Promise<void> => {
      const failedIds = new Set(
        (request.response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier),
      );
      const failed = request.event.Records.filter((record) => failedIds.has(record.messageId));
      if (failed.length === 0) return;
      await Promise.all([
        delayRetries(options.sqs, queueUrls, failed, policy),
        options.failureLog
          ? recordFailures(options.failureLog, failed, failuresOf(request.event))
          : Promise.resolve(),
      ]);
    },
  };
}

function receiveCountOf(record: SQSRecord): number {
  const count = Number(record.attributes?.ApproximateReceiveCount ?? 1);
  return Number.isFinite(count) && count >= 1 ? count : 1;
}

async function delayRetries(
  sqs: SQSClient,
  cache: Map<string, Promise<string>>,
  records: SQSRecord[],
  policy: BackoffPolicy,
): Promise<void> {
  const byQueue = new Map<string, SQSRecord[]>();
  for (const record of records) {
    byQueue.set(record.eventSourceARN, [...(byQueue.get(record.eventSourceARN) ?? []), record]);
  }
  for (const [queueArn, queued] of byQueue) {
    try {
      const queueUrl = await queueUrlFor(sqs, cache, queueArn);
      for (let start = 0; start < queued.length; start += SQS_BATCH_LIMIT) {
        const chunk = queued.slice(start, start + SQS_BATCH_LIMIT);
        const result = await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((record, index) => ({
              Id: String(index),
              ReceiptHandle: record.receiptHandle,
              VisibilityTimeout: backoffDelaySeconds(receiveCountOf(record), policy),
            })),
          }),
        );
        if (result.Failed && result.Failed.length > 0) {
          logger.warn('could not delay some failed messages; they return after the visibility timeout', {
            queueArn,
            failed: result.Failed.map((entry) => entry.Code),
          });
        }
      }
    } catch (error) {
      logger.warn('could not delay failed messages; they return after the visibility timeout', {
        queueArn,
        error,
      });
    }
  }
}

function orderContext(body: string): { orderId?: string; correlationId?: string } {
  try {
    const parsed = JSON.parse(body) as { detail?: { orderId?: unknown; correlationId?: unknown } } | null;
    const detail = parsed?.detail;
    return {
      ...(typeof detail?.orderId === 'string' ? { orderId: detail.orderId } : {}),
      ...(typeof detail?.correlationId === 'string' ? { correlationId: detail.correlationId } : {}),
    };
  } catch {
    return {};
  }
}

async function recordFailures(
  log: FailureLog,
  records: SQSRecord[],
  errors: ReadonlyMap<string, unknown>,
): Promise<void> {
  const now = new Date();
  await Promise.all(
    records.map(async (record) => {
      const error = errors.get(record.messageId);
      const message = error instanceof Error ? error.message : String(error ?? 'reported as failed');
      try {
        await log.doc.send(
          new PutCommand({
            TableName: log.tableName,
            Item: {
              ...failureKey(record.messageId),
              entity: 'Failure',
              consumer: log.consumer,
              messageId: record.messageId,
              queueArn: record.eventSourceARN,
              receiveCount: receiveCountOf(record),
              errorName: error instanceof Error ? error.name : 'Error',
              errorMessage: message.slice(0, MAX_ERROR_MESSAGE),
              ...orderContext(record.body),
              at: now.toISOString(),
              expiresAt: epochSeconds(now) + FAILURE_RETENTION_SECONDS,
            },
          }),
        );
      } catch (putError) {
        logger.warn('could not record the failure of a message', {
          messageId: record.messageId,
          error: putError,
        });
      }
    }),
  );
}
