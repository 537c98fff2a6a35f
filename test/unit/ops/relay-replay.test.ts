import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import { PutEventsCommand, type PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import {
  BatchGetCommand,
  type BatchGetCommandInput,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  ScanCommand,
  type ScanCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerRelayCommands, replayRelay, scanPendingOutbox } from '#ops/cli/relay.ts';
import {
  EFFECT_RETENTION_SECONDS,
  SAFE_REPLAY_AGE_SECONDS,
  SQS_MAX_RETENTION_SECONDS,
} from '#shared/effects.ts';
import { fakeShard, opsContext, streamRecord } from './helpers.ts';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const DAY_MS = 24 * 3600 * 1000;
const STREAM_ARN =
  'arn:aws:dynamodb:us-east-1:000000000000:table/Buzzer-Table/stream/2026-05-01T00:00:00.000';

function outboxItem(n: number, ageDays: number, status = 'FAILED') {
  const messageId = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const createdAt = new Date(NOW.getTime() - ageDays * DAY_MS).toISOString();
  return {
    pk: `OUTBOX#${messageId}`,
    sk: 'OUTBOX',
    entity: 'Outbox',
    messageId,
    messageType: 'OrderConfirmed',
    aggregateId: `order-${n}`,
    clientId: 'client-a',
    correlationId: `corr-${n}`,
    version: 3,
    payload: { orderId: `order-${n}`, status: 'CONFIRMED' },
    status,
    attempts: status === 'FAILED' ? 3 : 0,
    createdAt,
    ...(status === 'FAILED' ? { openPk: 'OUTBOX#FAILED', openSk: createdAt } : {}),
  };
}

/** What a PENDING outbox item looks like in the table and in the stream: in no index. */
const pendingItem = (n: number, ageDays = 0.05) => outboxItem(n, ageDays, 'PENDING');

/** An on-failure record of the relay's mapping (AWS's shape) for the stream batch `start`..`end` of `shard-1`. */
function onFailureRecord(start: string, end: string) {
  return {
    requestContext: {
      requestId: 'r-1',
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:relay',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 11,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: NOW.toISOString(),
    DDBStreamBatchInfo: {
      shardId: 'shard-1',
      startSequenceNumber: start,
      endSequenceNumber: end,
      approximateArrivalOfFirstRecord: '2026-06-01T11:00:00Z',
      approximateArrivalOfLastRecord: '2026-06-01T11:00:01Z',
      batchSize: 2,
      streamArn: STREAM_ARN,
    },
  };
}

/**
 * A relay DLQ holding `dlq` (relay DLQ bodies) then `records` (other bodies: on-failure records), a table whose FAILED
 * partition holds `failed` and whose scan answers `scanPages`, and `streams` for the stream.
 */
function fakeContext({
  failed = [],
  dlq = [],
  records = [],
  scanPages = [],
  streams,
}: {
  failed?: object[];
  dlq?: object[];
  records?: object[];
  scanPages?: object[][];
  streams?: DynamoDBStreamsClient;
}) {
  const published: string[] = [];
  const deleted: string[] = [];
  const released: string[] = [];
  const bodies = [
    ...dlq.map((item) => ({ reason: 'PUBLISH_FAILED', error: 'InternalFailure', item })),
    ...records,
  ];
  const messages: Message[] = bodies.map((body, index) => ({
    MessageId: `dlq-${index}`,
    ReceiptHandle: `rh-${index}`,
    Body: JSON.stringify(body),
  }));
  let received = false;
  const sqs = {
    send: async (command: unknown) => {
      if (command instanceof ReceiveMessageCommand) {
        const batch = received ? [] : messages;
        received = true;
        return { Messages: batch };
      }
      if (command instanceof DeleteMessageBatchCommand) {
        const entries = command.input.Entries ?? [];
        deleted.push(...entries.map((entry) => entry.ReceiptHandle ?? ''));
        return { Successful: entries.map((entry) => ({ Id: entry.Id })) };
      }
      if (command instanceof ChangeMessageVisibilityBatchCommand) {
        released.push(...(command.input.Entries ?? []).map((entry) => entry.ReceiptHandle ?? ''));
        return { Successful: [] };
      }
      return { Attributes: { ApproximateNumberOfMessages: String(messages.length) } };
    },
  };
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const table = mockClient(doc);
  // The Open index answers keys (it projects no outbox attribute); the items come from the table by key.
  const stored = failed as Array<{ pk: string; sk: string; openPk: string; openSk: string }>;
  table.on(QueryCommand).callsFake((input: { ExpressionAttributeValues?: Record<string, unknown> }) => ({
    Items:
      input.ExpressionAttributeValues?.[':pk'] === 'OUTBOX#FAILED'
        ? stored.map(({ pk, sk, openPk, openSk }) => ({ pk, sk, openPk, openSk }))
        : [],
  }));
  table.on(BatchGetCommand).callsFake((input: BatchGetCommandInput) => {
    const [name, spec] = Object.entries(input.RequestItems ?? {})[0] ?? [];
    const wanted = new Set((spec?.Keys ?? []).map((key) => String(key.pk)));
    return { Responses: { [String(name)]: stored.filter((item) => wanted.has(item.pk)) } };
  });
  // Page n of the scan, its LastEvaluatedKey the start of page n + 1.
  table.on(ScanCommand).callsFake((input: ScanCommandInput) => {
    const page = Number(input.ExclusiveStartKey?.page ?? 0);
    return {
      Items: scanPages[page] ?? [],
      ...(page + 1 < scanPages.length ? { LastEvaluatedKey: { page: page + 1 } } : {}),
    };
  });
  table.on(GetCommand).resolves({ Item: { status: 'FAILED' } });
  table.on(UpdateCommand).resolves({});
  const eventBridge = {
    send: async (command: unknown) => {
      if (!(command instanceof PutEventsCommand)) throw new Error('unexpected bus call');
      const input: PutEventsCommandInput = command.input;
      const entries = input.Entries ?? [];
      published.push(...entries.map((entry) => JSON.parse(entry.Detail ?? '{}').messageId));
      return { FailedEntryCount: 0, Entries: entries.map((_, index) => ({ EventId: `ev-${index}` })) };
    },
  };
  const ctx = opsContext({ sqs, doc, eventBridge, streams } as unknown as Parameters<typeof opsContext>[0]);
  /** The Open index partitions queried. */
  const queried = () =>
    table.commandCalls(QueryCommand).map((call) => call.args[0].input.ExpressionAttributeValues?.[':pk']);
  return { ctx, published, deleted, released, table, queried };
}

describe('relay replay refuses events older than the consumers remember', () => {
  it('by default publishes items up to 14 days old and skips older ones, saying why and how to override', async () => {
    const fresh = outboxItem(1, 2);
    const edge = outboxItem(2, 14);
    const old = outboxItem(3, 20);
    const { ctx, published } = fakeContext({ failed: [fresh, edge, old] });

    const result = await replayRelay(ctx, { now: NOW });

    expect(published).toEqual([fresh.messageId, edge.messageId]);
    expect(result.replayed.map((r) => r.messageId)).toEqual([fresh.messageId, edge.messageId]);
    expect(result.tooOld).toBe(1);
    expect(result.maxAgeMs).toBe(14 * DAY_MS);
    expect(result.skipped).toEqual([
      {
        messageId: old.messageId,
        reason: expect.stringMatching(/^created 20d00h ago, over the 14d00h replay limit: .*--max-age$/),
      },
    ]);
  });

  it('keeps a too-old item from the relay DLQ in the DLQ instead of deleting it', async () => {
    const old = outboxItem(4, 16);
    const fresh = outboxItem(5, 1);
    const { ctx, published, deleted, released } = fakeContext({ dlq: [old, fresh] });

    const result = await replayRelay(ctx, { now: NOW });

    expect(published).toEqual([fresh.messageId]);
    expect(deleted).toEqual(['rh-1']);
    expect(released).toEqual(['rh-0']);
    expect(result.skipped.map((s) => s.messageId)).toEqual([old.messageId]);
  });

  it('publishes older items when the operator raises --max-age', async () => {
    const old = outboxItem(6, 20);
    const { ctx, published } = fakeContext({ failed: [old] });

    const result = await replayRelay(ctx, { now: NOW, maxAgeMs: 21 * DAY_MS });

    expect(published).toEqual([old.messageId]);
    expect(result.tooOld).toBe(0);
  });

  it('a dry run reports the same refusals', async () => {
    const { ctx, published } = fakeContext({ failed: [outboxItem(7, 30), outboxItem(8, 3)] });

    const result = await replayRelay(ctx, { now: NOW, dryRun: true });

    expect(published).toEqual([]);
    expect(result.replayed).toHaveLength(1);
    expect(result.tooOld).toBe(1);
  });

  it('the duplicate markers outlive the oldest default replay plus the longest wait in a queue', () => {
    // A copy published at the age limit may wait the SQS maximum before a consumer takes it; the consumer's marker
    // dates from the first delivery, which came after the item was created.
    expect(EFFECT_RETENTION_SECONDS).toBeGreaterThanOrEqual(
      SAFE_REPLAY_AGE_SECONDS + SQS_MAX_RETENTION_SECONDS,
    );
  });
});

describe('relay replay of a stream batch the mapping gave up on', () => {
  it('reads the range back from the stream and publishes its outbox inserts, then deletes the record', async () => {
    const first = pendingItem(11);
    const second = pendingItem(12);
    const order = { pk: 'ORDER#o-1', sk: 'ORDER', entity: 'Order', status: 'CONFIRMED' };
    // The last record of the range ends its page, on an open shard: nothing follows it yet.
    const { client: streams, mock } = fakeShard(
      [
        [streamRecord('INSERT', '100', first), streamRecord('MODIFY', '200', order)],
        [streamRecord('INSERT', '300', second)],
      ],
      { open: true },
    );
    const { ctx, published, deleted, released, table, queried } = fakeContext({
      records: [onFailureRecord('100', '300')],
      streams,
    });

    const result = await replayRelay(ctx, { now: NOW });

    expect(published).toEqual([first.messageId, second.messageId]);
    expect(result.replayed.map((r) => r.from)).toEqual([
      'stream batch shard-1 100..300',
      'stream batch shard-1 100..300',
    ]);
    expect(mock.commandCalls(GetShardIteratorCommand)[0]?.args[0].input).toEqual({
      StreamArn: STREAM_ARN,
      ShardId: 'shard-1',
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      SequenceNumber: '100',
    });
    expect(deleted).toEqual(['rh-0']);
    expect(released).toEqual([]);
    expect(result.skipped).toEqual([]);
    // No PENDING partition, no scan: the stream named the items.
    expect(queried()).toEqual(['OUTBOX#FAILED']);
    expect(table.commandCalls(ScanCommand)).toHaveLength(0);
  });

  it('keeps the record until every item of its range is published', async () => {
    const first = pendingItem(13, 20);
    const second = pendingItem(14);
    const { client: streams } = fakeShard([
      [streamRecord('INSERT', '100', first), streamRecord('INSERT', '200', second)],
    ]);
    const { ctx, published, deleted, released } = fakeContext({
      records: [onFailureRecord('100', '200')],
      streams,
    });

    // The first item is over the age limit: skipped, so the record stays for a decision by hand.
    const result = await replayRelay(ctx, { now: NOW });

    expect(published).toEqual([second.messageId]);
    expect(result.tooOld).toBe(1);
    expect(deleted).toEqual([]);
    expect(released).toEqual(['rh-0']);
  });

  it.each([
    [
      'TrimmedDataAccessException',
      new TrimmedDataAccessException({ message: 'trimmed', $metadata: {} }),
      /no longer in the stream \(it keeps them 24 h\): .*--pending-older-than .*full table scan/,
    ],
    [
      'ResourceNotFoundException',
      new ResourceNotFoundException({ message: 'gone', $metadata: {} }),
      /stream or shard is gone.*--pending-older-than/,
    ],
    [
      'ExpiredIteratorException',
      new ExpiredIteratorException({ message: 'expired', $metadata: {} }),
      /expired .*run relay replay again/,
    ],
  ])('keeps the record and says what to do when the range cannot be read (%s)', async (_, error, reason) => {
    const streams = new DynamoDBStreamsClient({ region: 'us-east-1' });
    mockClient(streams).on(GetShardIteratorCommand).rejects(error);
    const { ctx, published, deleted, released } = fakeContext({
      records: [onFailureRecord('100', '300')],
      streams,
    });

    const result = await replayRelay(ctx, { now: NOW });

    expect(published).toEqual([]);
    expect(deleted).toEqual([]);
    expect(released).toEqual(['rh-0']);
    expect(result.skipped).toEqual([{ reason: expect.stringMatching(/^stream batch shard-1 100\.\.300: /) }]);
    expect(result.skipped[0]?.reason).toMatch(reason);
  });

  it('keeps a record whose batch cannot be read from it, without touching the stream', async () => {
    const streams = new DynamoDBStreamsClient({ region: 'us-east-1' });
    const mock = mockClient(streams);
    const record = onFailureRecord('100', 'latest');
    const { ctx, deleted, released } = fakeContext({ records: [record], streams });

    const result = await replayRelay(ctx, { now: NOW });

    expect(mock.calls()).toHaveLength(0);
    expect(deleted).toEqual([]);
    expect(released).toEqual(['rh-0']);
    expect(result.skipped).toEqual([{ reason: expect.stringMatching(/names no readable stream batch/) }]);
  });

  it('publishes the valid items of a range that holds an invalid one, and keeps the record', async () => {
    const valid = pendingItem(15);
    const invalid = { ...pendingItem(16), messageType: 'NoSuchEvent' };
    const { client: streams } = fakeShard([
      [streamRecord('INSERT', '100', invalid), streamRecord('INSERT', '200', valid)],
    ]);
    const { ctx, published, deleted, released } = fakeContext({
      records: [onFailureRecord('100', '200')],
      streams,
    });

    const result = await replayRelay(ctx, { now: NOW });

    expect(published).toEqual([valid.messageId]);
    expect(deleted).toEqual([]);
    expect(released).toEqual(['rh-0']);
    expect(result.skipped).toEqual([
      { messageId: invalid.messageId, reason: expect.stringMatching(/^invalid outbox item in stream batch/) },
    ]);
  });

  it('deletes the record of a range that held no outbox item: there is nothing to publish for it', async () => {
    const order = { pk: 'ORDER#o-2', sk: 'ORDER', entity: 'Order', status: 'CONFIRMED' };
    const { client: streams } = fakeShard([[streamRecord('MODIFY', '100', order)]]);
    const { ctx, published, deleted } = fakeContext({ records: [onFailureRecord('100', '100')], streams });

    await replayRelay(ctx, { now: NOW });

    expect(published).toEqual([]);
    expect(deleted).toEqual(['rh-0']);
  });

  it('a dry run reads the range and deletes nothing', async () => {
    const item = pendingItem(17);
    const { client: streams } = fakeShard([[streamRecord('INSERT', '100', item)]]);
    const { ctx, published, deleted, released } = fakeContext({
      records: [onFailureRecord('100', '100')],
      streams,
    });

    const result = await replayRelay(ctx, { now: NOW, dryRun: true });

    expect(result.replayed.map((r) => r.messageId)).toEqual([item.messageId]);
    expect(published).toEqual([]);
    expect(deleted).toEqual([]);
    expect(released).toEqual(['rh-0']);
  });
});

describe('relay replay --pending-older-than', () => {
  it('finds PENDING items by a paginated table scan, not by an index', async () => {
    const stale = [pendingItem(21, 0.5), pendingItem(22, 0.5)];
    const { ctx, published, table, queried } = fakeContext({ scanPages: stale.map((item) => [item]) });

    const result = await replayRelay(ctx, {
      now: NOW,
      pending: { olderThanMs: 10 * 60_000, find: scanPendingOutbox },
    });

    expect(published).toEqual(stale.map((item) => item.messageId));
    expect(result.replayed.map((r) => r.from)).toEqual(['stale PENDING item', 'stale PENDING item']);
    const scans = table.commandCalls(ScanCommand).map((call) => call.args[0].input);
    expect(scans).toHaveLength(2);
    expect(scans[0]).toMatchObject({
      TableName: 'Buzzer-Table',
      FilterExpression: 'begins_with(pk, :outbox) AND #status = :pending AND createdAt < :before',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':outbox': 'OUTBOX#',
        ':pending': 'PENDING',
        ':before': new Date(NOW.getTime() - 10 * 60_000).toISOString(),
      },
    });
    expect(queried()).toEqual(['OUTBOX#FAILED']);
  });

  it('is what the command line option does, and its help says it scans the whole table', async () => {
    const { Command: CommanderCommand } = await import('commander');
    const { ctx, table } = fakeContext({});
    const program: Command = new CommanderCommand().exitOverride();
    registerRelayCommands(program, async (_command, work) => {
      await work(ctx);
    });

    await program.parseAsync(['node', 'buzzer', 'relay', 'replay', '--pending-older-than', '10m']);

    expect(table.commandCalls(ScanCommand)).toHaveLength(1);
    const replay = program.commands
      .find((c) => c.name() === 'relay')
      ?.commands.find((c) => c.name() === 'replay');
    expect(replay?.helpInformation().replace(/\s+/g, ' ')).toMatch(
      /--pending-older-than <duration>.*FULL TABLE SCAN/,
    );
  });

  it('is not run without the option', async () => {
    const { ctx, table } = fakeContext({ failed: [outboxItem(23, 1)] });

    await replayRelay(ctx, { now: NOW });

    expect(table.commandCalls(ScanCommand)).toHaveLength(0);
  });
});

describe('buzzer relay replay --help', () => {
  it('offers --max-age', async () => {
    const { Command: CommanderCommand } = await import('commander');
    const { registerRelayCommands } = await import('#ops/cli/relay.ts');
    const program: Command = new CommanderCommand();
    registerRelayCommands(program, () => Promise.resolve());
    const replay = program.commands
      .find((c) => c.name() === 'relay')
      ?.commands.find((c) => c.name() === 'replay');

    expect(replay?.options.map((option) => option.long)).toContain('--max-age');
    expect(replay?.helpInformation()).toMatch(/--max-age <duration>/);
  });
});
