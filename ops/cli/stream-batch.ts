/**
 * The stream batches the outbox relay's event source mapping gave up on, read back from the table's stream.
 *
 * When the mapping gives up a batch (retries exhausted, records too old) it sends its on-failure destination, the relay
 * DLQ, a record that names the batch (shard and sequence-number range) without its data: the records stay in the
 * stream for its 24 h retention and must be read from there (local/engines/pollers/failure-destination.ts builds the
 * same record locally). Outbox items are in no index while PENDING, so the stream is the cheap way back to them.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  type _Record as StreamRecord,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from '#shared/zod.ts';

/** GetRecords returns at most 1,000 records per call. */
const GET_RECORDS_LIMIT = 1_000;
/**
 * GetRecords may answer an empty page before it reaches records further on in a shard, so one empty page proves
 * nothing; this many in a row on an open shard means the range's last record is not there (a record naming a range
 * the stream never held), and the read stops instead of waiting at the shard's tip for ever.
 */
const MAX_EMPTY_PAGES = 10;

/** Sequence numbers are decimal strings of up to 40 digits (compared as BigInt). */
const sequenceNumber = z.string().regex(/^\d{1,40}$/);

/** The part of an on-failure record that names the batch (AWS's shape: `DDBStreamBatchInfo`). */
const streamBatchSchema = z.object({
  shardId: z.string().min(1),
  startSequenceNumber: sequenceNumber,
  endSequenceNumber: sequenceNumber,
  streamArn: z.string().min(1),
});
export type StreamBatch = z.infer<typeof streamBatchSchema>;

/** A relay DLQ body the mapping sent (it names a batch) rather than the relay (it carries an item). */
export function isStreamFailureRecord(body: unknown): body is { DDBStreamBatchInfo: unknown } {
  return typeof body === 'object' && body !== null && 'DDBStreamBatchInfo' in body;
}

/** The batch an on-failure record names, or undefined when it names none that can be read. */
export function streamBatchOf(record: { DDBStreamBatchInfo: unknown }): StreamBatch | undefined {
  const parsed = streamBatchSchema.safeParse(record.DDBStreamBatchInfo);
  return parsed.success ? parsed.data : undefined;
}

/** How replay names where an item came from, and a batch it skips. */
export const batchLabel = (batch: StreamBatch): string =>
  `stream batch ${batch.shardId} ${batch.startSequenceNumber}..${batch.endSequenceNumber}`;

export type BatchRead =
  /** The range was read to its last record: the outbox items inserted in it, in stream order. */
  | { items: Record<string, unknown>[] }
  /** It could not be: why, and what the operator can do instead. */
  | { unreadable: string };

/**
 * The outbox items inserted in the batch's range: from its first record (`AT_SEQUENCE_NUMBER`) page by page until
 * its last one, or to the end of the shard when the shard is closed. Other records of the range (the changes to
 * orders and everything else the mapping's INSERT filter dropped) are passed over.
 */
export async function readStreamBatch(
  streams: DynamoDBStreamsClient,
  batch: StreamBatch,
): Promise<BatchRead> {
  const end = BigInt(batch.endSequenceNumber);
  const items: Record<string, unknown>[] = [];
  try {
    let iterator = await firstIterator(streams, batch);
    let emptyPages = 0;
    while (iterator) {
      const page = await streams.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: GET_RECORDS_LIMIT }),
      );
      for (const record of page.Records ?? []) {
        const sequence = record.dynamodb?.SequenceNumber;
        if (sequence === undefined) continue;
        if (BigInt(sequence) > end) return { items };
        const item = outboxInsert(record);
        if (item) items.push(item);
        // The last record of the range: on an open shard no later record may have been written yet.
        if (BigInt(sequence) === end) return { items };
      }
      emptyPages = (page.Records ?? []).length === 0 ? emptyPages + 1 : 0;
      if (emptyPages >= MAX_EMPTY_PAGES) {
        return {
          unreadable:
            `the shard has no record up to ${batch.endSequenceNumber} (the range's last one): ` +
            'check the record with buzzer dlq peek relay',
        };
      }
      // No next iterator: the shard is closed and every record of it was read.
      iterator = page.NextShardIterator;
    }
    return { items };
  } catch (error) {
    const reason = unreadableReason(error);
    if (reason === undefined) throw error;
    return { unreadable: reason };
  }
}

async function firstIterator(
  streams: DynamoDBStreamsClient,
  batch: StreamBatch,
): Promise<string | undefined> {
  const { ShardIterator } = await streams.send(
    new GetShardIteratorCommand({
      StreamArn: batch.streamArn,
      ShardId: batch.shardId,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      SequenceNumber: batch.startSequenceNumber,
    }),
  );
  return ShardIterator;
}

/** The new image of an outbox item's INSERT (what the relay would have published), else undefined. */
function outboxInsert(record: StreamRecord): Record<string, unknown> | undefined {
  const image = record.dynamodb?.NewImage;
  if (record.eventName !== 'INSERT' || !image) return undefined;
  // The streams client and the DynamoDB client type the same wire format apart.
  const item = unmarshall(image as Record<string, AttributeValue>);
  return typeof item.pk === 'string' && item.pk.startsWith('OUTBOX#') ? item : undefined;
}

/** What the operator can do when the stream no longer has the range (its items may still be PENDING). */
const LAST_RESORT =
  'publish what is still PENDING with --pending-older-than <less than the batch’s age> (a full table scan), ' +
  'then delete this record (buzzer dlq purge relay --yes, once nothing else in that DLQ needs a replay)';

function unreadableReason(error: unknown): string | undefined {
  if (error instanceof TrimmedDataAccessException) {
    return `its records are no longer in the stream (it keeps them 24 h): ${LAST_RESORT}`;
  }
  if (error instanceof ResourceNotFoundException) {
    return `its stream or shard is gone (the stream was switched off, or the table replaced): ${LAST_RESORT}`;
  }
  if (error instanceof ExpiredIteratorException) {
    return 'the shard iterator expired while the range was read (after 15 min): run relay replay again';
  }
  return undefined;
}
