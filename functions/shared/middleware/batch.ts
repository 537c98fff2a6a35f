import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { recordLogger } from '#shared/logger.ts';

/** One message of an SQS batch, with a logger scoped to it (its correlation id, when the body carries one). */
export type SqsRecordHandler = (record: SQSRecord, log: Logger) => Promise<void>;

/** The errors of the failed records of one batch, by message id: read by `retryBackoff` after the handler. */
const batchErrors = new WeakMap<SQSEvent, Map<string, unknown>>();

/** The error each failed message of `event` threw (empty until `sqsRecords` handled it). */
export function failuresOf(event: SQSEvent): ReadonlyMap<string, unknown> {
  return batchErrors.get(event) ?? new Map();
}

/** Best effort: the body may be exactly what fails to parse. */
export function correlationIdOf(body: string): string | undefined {
  try {
    // EventBridge events carry it in `detail`; the project's own command messages (webhook deliveries) at the top.
    const parsed = JSON.parse(body) as {
      correlationId?: unknown;
      detail?: { correlationId?: unknown };
    } | null;
    const id = parsed?.detail?.correlationId ?? parsed?.correlationId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The handler of an SQS-triggered function, for the end of its chain: each record is handled on its own (Powertools
 * Batch, in parallel) and the answer is a partial batch response, so a failed record goes back to the queue (and,
 * after `maxReceiveCount`, to its DLQ) without failing the records that succeeded. When every record fails the
 * failures are reported, not thrown: Lambda then retries exactly those records.
 *
 * Records of one batch belong to different requests: each gets its own child logger with its correlation id (the
 * shared logger keeps the invocation's keys only), and a failed record is logged with it.
 */
export function sqsRecords(processRecord: SqsRecordHandler) {
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const errors = new Map<string, unknown>();
    batchErrors.set(event, errors);
    const recordHandler = async (record: SQSRecord): Promise<void> => {
      const log = recordLogger(correlationIdOf(record.body));
      try {
        await processRecord(record, log);
      } catch (error) {
        errors.set(record.messageId, error);
        log.error('message failed', {
          messageId: record.messageId,
          receiveCount: record.attributes?.ApproximateReceiveCount,
          error,
        });
        throw error;
      }
    };
    // A processor per invocation: its state is the batch's, and the local runtime may run two batches in one process.
    return processPartialResponse(event, recordHandler, new BatchProcessor(EventType.SQS), {
      context,
      throwOnFullBatchFailure: false,
    });
  };
}
