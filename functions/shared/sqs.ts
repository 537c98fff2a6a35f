import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { beginInvocation, logger } from '#shared/logger.ts';

/** Best effort, for the failure log only: the body may be exactly what failed to parse. */
function correlationIdOf(body: string): string | undefined {
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
 * An SQS-triggered handler with partial batch responses: a failed record goes back to the queue (and,
 * after `maxReceiveCount`, to its DLQ) without failing the records that succeeded.
 */
export function sqsBatchHandler(processRecord: (record: SQSRecord) => Promise<void>) {
  const processor = new BatchProcessor(EventType.SQS);
  const recordHandler = async (record: SQSRecord): Promise<void> => {
    try {
      await processRecord(record);
    } catch (error) {
      logger.error('message failed', {
        messageId: record.messageId,
        correlationId: correlationIdOf(record.body),
        receiveCount: record.attributes?.ApproximateReceiveCount,
        error,
      });
      throw error;
    }
  };
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    beginInvocation(context);
    // Reported, not thrown, when every record fails: Lambda then retries exactly those records.
    return processPartialResponse(event, recordHandler, processor, {
      ...(context ? { context } : {}),
      throwOnFullBatchFailure: false,
    });
  };
}
