import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
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
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { replayRelay } from '#ops/cli/relay.ts';
import {
  EFFECT_RETENTION_SECONDS,
  SAFE_REPLAY_AGE_SECONDS,
  SQS_MAX_RETENTION_SECONDS,
} from '#shared/effects.ts';
import { opsContext } from './helpers.ts';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const DAY_MS = 24 * 3600 * 1000;

function outboxItem(n: number, ageDays: number) {
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
    status: 'FAILED',
    attempts: 3,
    createdAt,
    openPk: 'OUTBOX#FAILED',
    openSk: createdAt,
  };
}

/** A relay DLQ holding `dlq` (relay DLQ bodies) and a table whose FAILED partition holds `failed`. */
function fakeContext({ failed = [], dlq = [] }: { failed?: object[]; dlq?: object[] }) {
  const published: string[] = [];
  const deleted: string[] = [];
  const released: string[] = [];
  const messages: Message[] = dlq.map((item, index) => ({
    MessageId: `dlq-${index}`,
    ReceiptHandle: `rh-${index}`,
    Body: JSON.stringify({ reason: 'PUBLISH_FAILED', error: 'InternalFailure', item }),
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
  const ctx = opsContext({ sqs, doc, eventBridge } as unknown as Parameters<typeof opsContext>[0]);
  return { ctx, published, deleted, released };
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
