import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { EventSourceMappingDeps } from './types.ts';

/**
 * The record Lambda sends to a stream mapping's on-failure destination when it gives up on a batch. It
 * describes the batch (shard and sequence-number range) without its data, exactly as Lambda does: the
 * records stay in the stream for their retention period and must be read from there.
 */

export type FailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

export interface DiscardedBatch {
  condition: FailureCondition;
  approximateInvokeCount: number;
  /** `Unhandled` when the last invocation threw; null when it returned (a partial or invalid response). */
  functionError: string | null;
  shardId: string;
  streamArn: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  firstArrivalMs: number;
  lastArrivalMs: number;
  batchSize: number;
}

export interface StreamFailureRecord {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: FailureCondition;
    approximateInvokeCount: number;
  };
  responseContext: { statusCode: number; executedVersion: string; functionError: string | null };
  version: '1.0';
  timestamp: string;
  DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

/** DynamoDB arrival times carry whole seconds (`2019-11-14T00:13:19Z`); the record timestamp has milliseconds. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function functionArnOf(functionName: string, region: string, accountId: string): string {
  return functionName.startsWith('arn:')
    ? functionName
    : `arn:aws:lambda:${region}:${accountId}:function:${functionName}`;
}

export function streamFailureRecord(
  batch: DiscardedBatch,
  functionArn: string,
  nowMs: number,
): StreamFailureRecord {
  return {
    requestContext: {
      requestId: randomUUID(),
      functionArn,
      condition: batch.condition,
      approximateInvokeCount: batch.approximateInvokeCount,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: batch.functionError },
    version: '1.0',
    timestamp: new Date(nowMs).toISOString(),
    DDBStreamBatchInfo: {
      shardId: batch.shardId,
      startSequenceNumber: batch.startSequenceNumber,
      endSequenceNumber: batch.endSequenceNumber,
      approximateArrivalOfFirstRecord: isoSeconds(batch.firstArrivalMs),
      approximateArrivalOfLastRecord: isoSeconds(batch.lastArrivalMs),
      batchSize: batch.batchSize,
      streamArn: batch.streamArn,
    },
  };
}

/**
 * Sends the failure record to an SQS destination (the only kind with a local engine). A delivery that
 * keeps failing is logged; the records are discarded either way, as Lambda does once a batch is given up.
 */
export async function deliverFailureRecord(
  destinationArn: string,
  record: StreamFailureRecord,
  deps: Pick<EventSourceMappingDeps, 'sqs' | 'queueUrlForArn' | 'logger'>,
): Promise<void> {
  if (!/^arn:[^:]+:sqs:/.test(destinationArn)) {
    deps.logger.error('on-failure destination is not an SQS queue; only SQS destinations work locally', {
      destinationArn,
      failure: record,
    });
    return;
  }
  const body = JSON.stringify(record);
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.sqs.send(
        new SendMessageCommand({ QueueUrl: deps.queueUrlForArn(destinationArn), MessageBody: body }),
      );
      return;
    } catch (error) {
      if (attempt >= 3) {
        deps.logger.error('could not deliver a failure record to the on-failure destination', {
          destinationArn,
          failure: record,
          error: error instanceof Error ? error.message : String(error),
        });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
