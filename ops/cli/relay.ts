/**
 * `buzzer relay replay`: publish outbox items the relay gave up on.
 *
 * Why publish directly instead of setting the items back to PENDING: the relay reads the table's stream with a
 * filter on INSERT, so an item flipped from FAILED to PENDING (a MODIFY) would never reach it; re-inserting it would
 * need a delete and a put, with a moment in which the item does not exist at all. Publishing from here puts exactly
 * the event the relay would have put (same source, detail-type, detail and message id, built by the same
 * `toEventDetail`), then marks the item PUBLISHED. If it crashes in between, running it again publishes again, and
 * the consumers drop the duplicate by `detail.messageId`.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DeleteMessageBatchCommand, type Message } from '@aws-sdk/client-sqs';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Command } from 'commander';
import { EVENT_SOURCE } from '#contracts/events.ts';
import { type OutboxItem, outboxItemSchema, toEventDetail } from '#functions/outbox/outbox.ts';
import { epochSeconds, isConditionalCheckFailed } from '#shared/dynamodb.ts';
import { EFFECT_RETENTION_SECONDS, SAFE_REPLAY_AGE_SECONDS } from '#shared/effects.ts';
import { queryOpenItemsWhole } from '#shared/open-index.ts';
import { keys, OPEN_OUTBOX_FAILED, OPEN_OUTBOX_PENDING } from '#shared/table-keys.ts';
import { OperatorError, type OpsContext, resolveQueue } from './context.ts';
import { humanAge, parseDuration, parseJson, table } from './format.ts';
import { queueDepth, receiveMessages, releaseMessages } from './queues.ts';
import type { CommandRunner } from './runner.ts';

/** As the relay keeps published items: a week for audits and replays, then TTL. */
const PUBLISHED_RETENTION_SECONDS = 7 * 24 * 60 * 60;

export interface ReplayOptions {
  dryRun?: boolean;
  /**
   * Refuse items created longer ago than this. @default SAFE_REPLAY_AGE_SECONDS (14 days): older ones may have been
   * delivered before, and their consumers' duplicate markers may expire before a copy is processed.
   */
  maxAgeMs?: number;
  /** Also publish PENDING items older than this (the relay never saw them, e.g. a stream batch it gave up on). */
  pendingOlderThanMs?: number;
  now?: Date;
}

export interface ReplayResult {
  dryRun: boolean;
  /** The age limit applied (ms). */
  maxAgeMs: number;
  /** How many candidates were skipped for being older than `maxAgeMs`. */
  tooOld: number;
  replayed: Array<{ messageId: string; messageType: string; orderId: string; from: string }>;
  skipped: Array<{ messageId?: string; reason: string }>;
  /** Relay DLQ messages deleted because their item is now published. */
  dlqMessagesDeleted: number;
}

interface Candidate {
  item: OutboxItem;
  from: string;
  dlqMessages: Message[];
}

export async function replayRelay(ctx: OpsContext, options: ReplayOptions = {}): Promise<ReplayResult> {
  const now = options.now ?? new Date();
  const table_ = { doc: ctx.clients.doc, tableName: ctx.target.tableName };
  const dlq = resolveQueue(ctx.target, 'relay').dlq;
  const maxAgeMs = options.maxAgeMs ?? SAFE_REPLAY_AGE_SECONDS * 1000;
  const result: ReplayResult = {
    dryRun: options.dryRun ?? false,
    maxAgeMs,
    tooOld: 0,
    replayed: [],
    skipped: [],
    dlqMessagesDeleted: 0,
  };
  const candidates = new Map<string, Candidate>();
  const add = (item: OutboxItem, from: string, message?: Message) => {
    const existing = candidates.get(item.messageId);
    if (existing) {
      if (message) existing.dlqMessages.push(message);
    } else {
      candidates.set(item.messageId, { item, from, dlqMessages: message ? [message] : [] });
    }
  };

  ctx.progress('reading the relay DLQ');
  const depth = await queueDepth(ctx.clients.sqs, dlq.url);
  const messages = await receiveMessages(ctx.clients.sqs, dlq.url, {
    max: 10_000,
    visibilitySeconds: 300,
    expected: depth.visible,
  });
  let pendingOlderThanMs = options.pendingOlderThanMs;
  for (const message of messages) {
    const body = parseJson(message.Body) as Record<string, unknown> | undefined;
    if (body && typeof body === 'object' && 'DDBStreamBatchInfo' in body) {
      // The mapping gave up on a whole batch: its items are still PENDING in the table, so publish those.
      pendingOlderThanMs ??= 5 * 60_000;
      continue;
    }
    const parsed = outboxItemSchema.safeParse(body?.item);
    if (!parsed.success) {
      result.skipped.push({
        messageId:
          typeof body?.item === 'object'
            ? String((body.item as Record<string, unknown>).messageId)
            : undefined,
        reason: `invalid outbox item (${String(body?.reason ?? 'unknown')}): fix the item, then replay`,
      });
      continue;
    }
    add(parsed.data, 'relay DLQ', message);
  }

  ctx.progress('reading FAILED and stale PENDING outbox items');
  const open = [
    ...(await queryOpenItemsWhole(table_, OPEN_OUTBOX_FAILED)).map((item) => ({ item, from: 'FAILED item' })),
    ...(pendingOlderThanMs === undefined
      ? []
      : (
          await queryOpenItemsWhole(table_, OPEN_OUTBOX_PENDING, {
            createdBefore: new Date(now.getTime() - pendingOlderThanMs),
          })
        ).map((item) => ({ item, from: 'stale PENDING item' }))),
  ];
  for (const { item, from } of open) {
    const parsed = outboxItemSchema.safeParse(item);
    if (parsed.success) add(parsed.data, from);
    else
      result.skipped.push({ messageId: String(item.messageId), reason: 'invalid outbox item in the table' });
  }

  const publishable: Candidate[] = [];
  const finished: Message[] = [];
  for (const candidate of candidates.values()) {
    const ageMs = now.getTime() - Date.parse(candidate.item.createdAt);
    if (!(ageMs <= maxAgeMs)) {
      // Its DLQ message stays in the DLQ (released below) for a decision by hand.
      result.tooOld += 1;
      result.skipped.push({ messageId: candidate.item.messageId, reason: tooOldReason(ageMs, maxAgeMs) });
      continue;
    }
    const { Item } = await ctx.clients.doc.send(
      new GetCommand({
        TableName: ctx.target.tableName,
        Key: keys.outbox(candidate.item.messageId),
        ConsistentRead: true,
      }),
    );
    if (Item?.status === 'PUBLISHED') {
      finished.push(...candidate.dlqMessages);
      result.skipped.push({ messageId: candidate.item.messageId, reason: 'already published' });
    } else {
      publishable.push(candidate);
    }
  }

  try {
    for (let start = 0; start < publishable.length; start += 10) {
      const chunk = publishable.slice(start, start + 10);
      if (!options.dryRun) {
        const errors = await publish(ctx, chunk);
        for (const [index, candidate] of chunk.entries()) {
          const error = errors[index];
          if (error) {
            result.skipped.push({
              messageId: candidate.item.messageId,
              reason: `PutEvents failed: ${error}`,
            });
            continue;
          }
          await markPublished(ctx, candidate.item, now);
          finished.push(...candidate.dlqMessages);
          result.replayed.push(entry(candidate));
        }
        ctx.progress(`published ${result.replayed.length}/${publishable.length}`);
      } else {
        result.replayed.push(...chunk.map(entry));
      }
    }
    if (!options.dryRun) result.dlqMessagesDeleted = await deleteMessages(ctx, dlq.url, finished);
  } finally {
    const handled = new Set(options.dryRun ? [] : finished);
    await releaseMessages(
      ctx.clients.sqs,
      dlq.url,
      messages.filter((m) => !handled.has(m)),
    );
  }
  return result;
}

function tooOldReason(ageMs: number, maxAgeMs: number): string {
  const age = Number.isNaN(ageMs) ? 'of unknown age' : `created ${humanAge(ageMs / 1000)} ago`;
  return (
    `${age}, over the ${humanAge(maxAgeMs / 1000)} replay limit: consumers forget duplicates after ` +
    `${humanAge(EFFECT_RETENTION_SECONDS)}, so a copy could mail or credit twice if it was delivered before; ` +
    'check its order, then replay with --max-age'
  );
}

const entry = (candidate: Candidate) => ({
  messageId: candidate.item.messageId,
  messageType: candidate.item.messageType,
  orderId: candidate.item.aggregateId,
  from: candidate.from,
});

async function publish(ctx: OpsContext, chunk: Candidate[]): Promise<Array<string | undefined>> {
  const response = await ctx.clients.eventBridge.send(
    new PutEventsCommand({
      Entries: chunk.map(({ item }) => ({
        EventBusName: ctx.target.eventBusName,
        Source: EVENT_SOURCE,
        DetailType: item.messageType,
        Detail: JSON.stringify(toEventDetail(item)),
        Time: new Date(item.createdAt),
      })),
    }),
  );
  return chunk.map((_, index) => {
    const result = response.Entries?.[index];
    if (!result) return 'no result for this entry';
    return result.ErrorCode ? `${result.ErrorCode}: ${result.ErrorMessage ?? ''}` : undefined;
  });
}

async function markPublished(ctx: OpsContext, item: OutboxItem, now: Date): Promise<void> {
  try {
    await ctx.clients.doc.send(
      new UpdateCommand({
        TableName: ctx.target.tableName,
        Key: keys.outbox(item.messageId),
        UpdateExpression:
          'SET #status = :published, publishedAt = :now, replayedAt = :now, expiresAt = :expiresAt REMOVE openPk, openSk',
        ConditionExpression: 'attribute_exists(pk) AND #status <> :published',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':published': 'PUBLISHED',
          ':now': now.toISOString(),
          ':expiresAt': epochSeconds(now) + PUBLISHED_RETENTION_SECONDS,
        },
      }),
    );
  } catch (error) {
    // Published meanwhile (the relay won a race), or the item is gone and only the DLQ copy was left: both fine.
    if (!isConditionalCheckFailed(error)) throw error;
  }
}

async function deleteMessages(ctx: OpsContext, url: string, messages: Message[]): Promise<number> {
  let deleted = 0;
  for (let start = 0; start < messages.length; start += 10) {
    const chunk = messages.slice(start, start + 10);
    const { Successful } = await ctx.clients.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: chunk.map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle ?? '' })),
      }),
    );
    deleted += Successful?.length ?? 0;
  }
  return deleted;
}

export function registerRelayCommands(program: Command, run: CommandRunner): void {
  const relay = program.command('relay').description('The outbox relay: events that never reached the bus');
  relay
    .command('replay')
    .description(
      'Publish outbox items from the relay DLQ and items left FAILED (same event and message id; consumers dedupe), ' +
        'then mark them PUBLISHED',
    )
    .option(
      '--pending-older-than <duration>',
      'also publish PENDING items older than this (the relay missed them)',
    )
    .option(
      '--max-age <duration>',
      `refuse items created longer ago than this (default ${humanAge(SAFE_REPLAY_AGE_SECONDS)}: older ones may ` +
        "outlive the consumers' duplicate markers)",
    )
    .option('--dry-run', 'only list what would be published')
    .action((options: { pendingOlderThan?: string; maxAge?: string; dryRun?: boolean }, command: Command) =>
      run(
        command,
        (ctx) => {
          if (!ctx.target.queues.some((q) => q.alias === 'relay')) {
            throw new OperatorError('this stack has no relay DLQ alias');
          }
          return replayRelay(ctx, {
            dryRun: options.dryRun,
            maxAgeMs: options.maxAge ? parseDuration(options.maxAge) : undefined,
            pendingOlderThanMs: options.pendingOlderThan
              ? parseDuration(options.pendingOlderThan)
              : undefined,
          });
        },
        (result) =>
          `${result.dryRun ? 'would publish' : 'published'} ${result.replayed.length} event(s)` +
          `${result.dlqMessagesDeleted ? `, removed ${result.dlqMessagesDeleted} relay DLQ message(s)` : ''}\n` +
          table(
            ['message', 'type', 'order', 'from'],
            result.replayed.map((r) => [r.messageId, r.messageType, r.orderId, r.from]),
          ) +
          (result.tooOld > 0
            ? `\nskipped ${result.tooOld} item(s) older than ${humanAge(result.maxAgeMs / 1000)} (see --max-age)`
            : '') +
          (result.skipped.length > 0
            ? `\nskipped\n${table(
                ['message', 'why'],
                result.skipped.map((s) => [s.messageId, s.reason]),
              )}`
            : ''),
      ),
    );
}
