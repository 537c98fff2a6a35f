/**
 * Reading back a stream batch the relay's mapping gave up on (ops/cli/stream-batch.ts): the bounds of the range on
 * fake shards, then the whole path on DynamoDB Local's own stream, with an on-failure record built as the local
 * mapping builds it.
 */
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newOutboxItem } from '#functions/outbox/outbox.ts';
import { LOCAL_CREDENTIALS } from '#local/engines/dynamodb-local.ts';
import { streamFailureRecord } from '#local/engines/pollers/failure-destination.ts';
import { readStreamBatch, type StreamBatch, streamBatchOf } from '#ops/cli/stream-batch.ts';
import { type LocalTable, startLocalTable } from '#test/unit/support/local-table.ts';
import { fakeShard, streamRecord } from './helpers.ts';

const outbox = (n: number) => ({
  pk: `OUTBOX#m-${n}`,
  sk: 'OUTBOX',
  entity: 'Outbox',
  messageId: `m-${n}`,
  status: 'PENDING',
});
const batch = (start: string, end: string): StreamBatch => ({
  shardId: 'shard-1',
  startSequenceNumber: start,
  endSequenceNumber: end,
  streamArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/label',
});

describe('the range of a stream batch', () => {
  it('never reads past its end, even when no record carries the end number', async () => {
    const { client } = fakeShard([
      [streamRecord('INSERT', '100', outbox(1)), streamRecord('INSERT', '400', outbox(2))],
    ]);

    expect(await readStreamBatch(client, batch('100', '350'))).toEqual({ items: [outbox(1)] });
  });

  it('holds the inserts of outbox items only, not their changes nor other items', async () => {
    const order = { pk: 'ORDER#o-1', sk: 'ORDER', entity: 'Order' };
    const { client } = fakeShard([
      [
        streamRecord('INSERT', '100', outbox(1)),
        streamRecord('MODIFY', '101', { ...outbox(1), status: 'PUBLISHED' }),
        streamRecord('INSERT', '102', order),
        streamRecord('REMOVE', '103', outbox(0)),
      ],
    ]);

    expect(await readStreamBatch(client, batch('100', '103'))).toEqual({ items: [outbox(1)] });
  });

  it('compares sequence numbers as numbers, not as text', async () => {
    // As text "99" > "100": a string comparison would stop before the range's last record.
    const { client } = fakeShard([
      [streamRecord('INSERT', '99', outbox(1))],
      [streamRecord('INSERT', '100', outbox(2))],
    ]);

    expect(await readStreamBatch(client, batch('99', '100'))).toEqual({ items: [outbox(1), outbox(2)] });
  });

  it('ends with a closed shard that ends before the range does', async () => {
    const { client, mock } = fakeShard([[streamRecord('INSERT', '100', outbox(1))]]);

    expect(await readStreamBatch(client, batch('100', '900'))).toEqual({ items: [outbox(1)] });
    expect(mock.commandCalls(GetRecordsCommand)).toHaveLength(1);
  });

  it('gives up on an open shard that keeps answering nothing before the range ends', async () => {
    const { client, mock } = fakeShard([[streamRecord('INSERT', '100', outbox(1))]], { open: true });

    const read = await readStreamBatch(client, batch('100', '900'));

    expect(read).toEqual({ unreadable: expect.stringMatching(/^the shard has no record up to 900/) });
    expect(mock.commandCalls(GetRecordsCommand)).toHaveLength(11);
  });

  it('is named by the on-failure record only with numeric sequence numbers', () => {
    const info = batch('100', '200');
    expect(streamBatchOf({ DDBStreamBatchInfo: { ...info, batchSize: 2 } })).toEqual(info);
    expect(streamBatchOf({ DDBStreamBatchInfo: { ...info, endSequenceNumber: '2e3' } })).toBeUndefined();
    expect(streamBatchOf({ DDBStreamBatchInfo: { ...info, shardId: undefined } })).toBeUndefined();
  });
});

describe('a stream batch on DynamoDB Local', () => {
  let table: LocalTable;
  let streams: DynamoDBStreamsClient;

  beforeAll(async () => {
    table = await startLocalTable('stream-batch', { stream: 'NEW_AND_OLD_IMAGES' });
    streams = new DynamoDBStreamsClient({
      endpoint: table.endpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
  }, 60_000);

  afterAll(async () => {
    streams?.destroy();
    await table?.stop();
  });

  /** Every record of the stream so far, with its shard. */
  async function streamRecords(): Promise<Array<{ shardId: string; record: StreamRecord }>> {
    const streamArn = table.streamArn ?? '';
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const found: Array<{ shardId: string; record: StreamRecord }> = [];
    for (const { ShardId: shardId = '' } of StreamDescription?.Shards ?? []) {
      let { ShardIterator: iterator } = await streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      // An open shard hands out iterators for ever: stop at the first empty page (DynamoDB Local has no gaps).
      while (iterator) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
        if (!page.Records?.length) break;
        found.push(...page.Records.map((record) => ({ shardId, record })));
        iterator = page.NextShardIterator;
      }
    }
    return found;
  }

  it('holds exactly the outbox items inserted in the range the on-failure record names', async () => {
    const now = new Date();
    const message = (orderId: string) => ({
      messageType: 'OrderConfirmed' as const,
      orderId,
      clientId: 'client-a',
      correlationId: `corr-${orderId}`,
      version: 3,
      payload: { orderId, status: 'CONFIRMED' },
      now,
    });
    const first = newOutboxItem(message('o-1'));
    const second = newOutboxItem(message('o-2'));
    const after = newOutboxItem(message('o-3'));
    const put = (item: Record<string, unknown>) =>
      table.doc.send(new PutCommand({ TableName: 'stream-batch', Item: item }));
    // Between the two: an order's insert and change, which the relay's filter drops but the range holds.
    await put(first);
    await put({ pk: 'ORDER#o-1', sk: 'ORDER', entity: 'Order', status: 'PENDING' });
    await table.doc.send(
      new UpdateCommand({
        TableName: 'stream-batch',
        Key: { pk: 'ORDER#o-1', sk: 'ORDER' },
        UpdateExpression: 'SET #status = :confirmed',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':confirmed': 'CONFIRMED' },
      }),
    );
    await put(second);
    // After the range: not the batch's.
    await put(after);

    const records = await streamRecords();
    const insertOf = (item: { pk: string }) => {
      const found = records.find(
        ({ record }) => record.eventName === 'INSERT' && record.dynamodb?.Keys?.pk?.S === item.pk,
      );
      if (!found) throw new Error(`no INSERT of ${item.pk} in the stream`);
      return { shardId: found.shardId, sequenceNumber: found.record.dynamodb?.SequenceNumber ?? '' };
    };
    const start = insertOf(first);
    const end = insertOf(second);
    expect(end.shardId).toBe(start.shardId);
    const onFailure = streamFailureRecord(
      {
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 11,
        functionError: 'Unhandled',
        shardId: start.shardId,
        streamArn: table.streamArn ?? '',
        startSequenceNumber: start.sequenceNumber,
        endSequenceNumber: end.sequenceNumber,
        firstArrivalMs: now.getTime(),
        lastArrivalMs: now.getTime(),
        batchSize: 2,
      },
      'arn:aws:lambda:us-east-1:000000000000:function:relay',
      now.getTime(),
    );
    // As the replay gets it: the body of a relay DLQ message.
    const named = streamBatchOf(JSON.parse(JSON.stringify(onFailure)));
    if (!named) throw new Error('the on-failure record names no batch');

    expect(await readStreamBatch(streams, named)).toEqual({ items: [first, second] });
  });
});
