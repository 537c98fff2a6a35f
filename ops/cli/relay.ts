/**
 * `buzzer relay replay`: publish outbox items the relay gave up on.
 *
 * Where they are found: the relay DLQ holds the relay's own records (a full outbox item it could not publish) and its
 * event source mapping's on-failure records (a stream batch it gave up, named by shard and sequence numbers: its items
 * are read back from the stream, ops/cli/stream-batch.ts); items the relay left FAILED are in the Open index. Items
 * still PENDING are in no index: when a batch's range is gone from the stream (24 h), `--pending-older-than` finds them
 * with a full table scan, the last resort.
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
import { GetCommand, paginateScan, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Command } from 'commander';
import { EVENT_SOURCE } from '#contracts/events.ts';
import { type OutboxItem, outboxItemSchema, toEventDetail } from '#functions/outbox/outbox.ts';
import { epochSeconds, isConditionalCheckFailed } from '#shared/dynamodb.ts';
import { EFFECT_RETENTION_SECONDS, SAFE_REPLAY_AGE_SECONDS } from '#shared/effects.ts';
import { queryOpenItemsWhole } from '#shared/open-index.ts';
import { keys, OPEN_OUTBOX_FAILED } from '#shared/table-keys.ts';
import { OperatorError, type OpsContext, resolveQueue, streamsClient } from './context.ts';
import { humanAge, parseDuration, parseJson, table } from './format.ts';
import { queueDepth, receiveMessages, releaseMessages } from './queues.ts';
import type { CommandRunner } from './runner.ts';
import { batchLabel, isStreamFailureRecord, readStreamBatch, streamBatchOf } from './stream-batch.ts';

/** As the relay keeps published items: a week for audits and replays, then TTL. */
const PUBLISHED_RETENTION_SECONDS = 7 * 24 * 60 * 60;

/** Finds the PENDING outbox items created before `before` (`scanPendingOutbox`). */
export type PendingOutboxFinder = (ctx: OpsContext, before: Date) => Promise<Record<string, unknown>[]>;

export interface ReplayOptions {
  dryRun?: boolean;
  /**
   * Refuse items created longer ago than this. @default SAFE_REPLAY_AGE_SECONDS (14 days): older ones may have been
   * delivered before, and their consumers' duplicate markers may expire before a copy is processed.
   */
  maxAgeMs?: number;
  /**
   * Also publish PENDING items created more than `olderThanMs` ago, found by `find`: the last resort for a stream
   * batch whose range the stream no longer has. The CLI passes `scanPendingOutbox`, a full table scan; it is passed
   * in rather than imported, so the operator API's function, whose role may not Scan the table, has no scan in its
   * bundle. @default none
   */
  pending?: { olderThanMs: number; find: PendingOutboxFinder };
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
  /** Relay DLQ messages deleted because their items are now published. */
  dlqMessagesDeleted: number;
}

interface Candidate {
  item: OutboxItem;
  /** Where it was found: `relay DLQ`, `stream batch <shard> <first>..<last>`, `FAILED item`, `stale PENDING item`. */
  from: string;
}

/** What replay found to publish, and which relay DLQ messages stand for which items. */
interface Found {
  /** By outbox message id: an item found twice (a DLQ record and the FAILED index, say) is published once. */
  candidates: Map<string, Candidate>;
  /**
   * The outbox message ids each DLQ message stands for: it is deleted once all of them are published. A message
   * that is not here (an invalid item, a batch that could not be read) stays in the DLQ for a decision by hand.
   */
  itemsOf: Map<Message, string[]>;
  skipped: ReplayResult['skipped'];
}

export async function replayRelay(ctx: OpsContext, options: ReplayOptions = {}): Promise<ReplayResult> {
  const now = options.now ?? new Date();
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
  const found: Found = { candidates: new Map(), itemsOf: new Map(), skipped: result.skipped };

  ctx.progress('reading the relay DLQ');
  const depth = await queueDepth(ctx.clients.sqs, dlq.url);
  const messages = await receiveMessages(ctx.clients.sqs, dlq.url, {
    max: 10_000,
    visibilitySeconds: 300,
    expected: depth.visible,
  });
  let done: Message[] = [];
  try {
    for (const message of messages) {
      const body = parseJson(message.Body);
      if (isStreamFailureRecord(body)) await addStreamBatch(ctx, found, message, body);
      else addRelayRecord(found, message, body as Record<string, unknown> | undefined);
    }

    ctx.progress('reading FAILED outbox items');
    const table_ = { doc: ctx.clients.doc, tableName: ctx.target.tableName };
    addTableItems(found, await queryOpenItemsWhole(table_, OPEN_OUTBOX_FAILED), 'FAILED item');
    if (options.pending) {
      ctx.progress('scanning the whole table for stale PENDING outbox items');
      const before = new Date(now.getTime() - options.pending.olderThanMs);
      addTableItems(found, await options.pending.find(ctx, before), 'stale PENDING item');
    }

    /** Outbox message ids published, now or before. */
    const published = new Set<string>();
    const publishable: Candidate[] = [];
    for (const candidate of found.candidates.values()) {
      const ageMs = now.getTime() - Date.parse(candidate.item.createdAt);
      if (!(ageMs <= maxAgeMs)) {
        // Its DLQ message stays in the DLQ (released below) for a decision by hand.
        result.tooOld += 1;
        result.skipped.push({ messageId: candidate.item.messageId, reason: tooOldReason(ageMs, maxAgeMs) });
      } else if ((await currentStatus(ctx, candidate.item)) === 'PUBLISHED') {
        published.add(candidate.item.messageId);
        result.skipped.push({ messageId: candidate.item.messageId, reason: 'already published' });
      } else {
        publishable.push(candidate);
      }
    }

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
          published.add(candidate.item.messageId);
          result.replayed.push(entry(candidate));
        }
        ctx.progress(`published ${result.replayed.length}/${publishable.length}`);
      } else {
        result.replayed.push(...chunk.map(entry));
      }
    }
    if (!options.dryRun) {
      done = messagesDone(found, published);
      result.dlqMessagesDeleted = await deleteMessages(ctx, dlq.url, done);
    }
  } finally {
    const handled = new Set(done);
    await releaseMessages(
      ctx.clients.sqs,
      dlq.url,
      messages.filter((m) => !handled.has(m)),
    );
  }
  return result;
}

function addCandidate(found: Found, item: OutboxItem, from: string, message?: Message): void {
  if (!found.candidates.has(item.messageId)) found.candidates.set(item.messageId, { item, from });
  if (message) found.itemsOf.set(message, [...(found.itemsOf.get(message) ?? []), item.messageId]);
}

/** The relay's own record: the outbox item it gave up publishing. */
function addRelayRecord(found: Found, message: Message, body: Record<string, unknown> | undefined): void {
  const parsed = outboxItemSchema.safeParse(body?.item);
  if (!parsed.success) {
    found.skipped.push({
      messageId:
        typeof body?.item === 'object' ? String((body.item as Record<string, unknown>).messageId) : undefined,
      reason: `invalid outbox item (${String(body?.reason ?? 'unknown')}): fix the item, then replay`,
    });
    return;
  }
  addCandidate(found, parsed.data, 'relay DLQ', message);
}

/**
 * The mapping's on-failure record: the outbox items inserted in the stream batch it gave up, read back from the
 * stream. The relay never saw them, so they are still PENDING (or published since by a replay).
 */
async function addStreamBatch(
  ctx: OpsContext,
  found: Found,
  message: Message,
  record: { DDBStreamBatchInfo: unknown },
): Promise<void> {
  const batch = streamBatchOf(record);
  if (!batch) {
    found.skipped.push({
      reason:
        'an on-failure record that names no readable stream batch (shard, sequence numbers, stream): ' +
        'look at it with buzzer dlq peek relay',
    });
    return;
  }
  const label = batchLabel(batch);
  ctx.progress(`reading ${label}`);
  const read = await readStreamBatch(streamsClient(ctx.clients), batch);
  if ('unreadable' in read) {
    found.skipped.push({ reason: `${label}: ${read.unreadable}` });
    return;
  }
  const valid: OutboxItem[] = [];
  for (const image of read.items) {
    const parsed = outboxItemSchema.safeParse(image);
    if (parsed.success) valid.push(parsed.data);
    else
      found.skipped.push({
        messageId: String(image.messageId),
        reason: `invalid outbox item in ${label}: fix the item, then replay`,
      });
  }
  // The record goes once its items are published, at once when its range held none; with an invalid item in its range
  // it stays in the DLQ (the valid items are still published).
  const standsFor = valid.length === read.items.length ? message : undefined;
  if (standsFor) found.itemsOf.set(standsFor, []);
  for (const item of valid) addCandidate(found, item, label, standsFor);
}

/** Items read from the table (FAILED, stale PENDING): no DLQ message stands for them. */
function addTableItems(found: Found, items: Record<string, unknown>[], from: string): void {
  for (const item of items) {
    const parsed = outboxItemSchema.safeParse(item);
    if (parsed.success) addCandidate(found, parsed.data, from);
    else
      found.skipped.push({ messageId: String(item.messageId), reason: 'invalid outbox item in the table' });
  }
}

/** The DLQ messages all of whose items are published. */
function messagesDone(found: Found, published: Set<string>): Message[] {
  return [...found.itemsOf]
    .filter(([, ids]) => ids.every((id) => published.has(id)))
    .map(([message]) => message);
}

/** The item's status in the table now (a consistent read: the relay or an earlier replay may have published it). */
async function currentStatus(ctx: OpsContext, item: OutboxItem): Promise<unknown> {
  const { Item } = await ctx.clients.doc.send(
    new GetCommand({
      TableName: ctx.target.tableName,
      Key: keys.outbox(item.messageId),
      ConsistentRead: true,
    }),
  );
  return Item?.status;
}

/**
 * PENDING outbox items created before `before`, by a FULL TABLE SCAN: it reads (and is billed for) every item of the
 * table. PENDING items are in no index (an index entry per item would cost a write on every order), and a stream
 * batch's items are normally read back from the stream; this is the last resort for a batch the stream no longer has.
 */
export async function scanPendingOutbox(ctx: OpsContext, before: Date): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  let pages = 0;
  const scan = paginateScan(
    { client: ctx.clients.doc },
    {
      TableName: ctx.target.tableName,
      FilterExpression: 'begins_with(pk, :outbox) AND #status = :pending AND createdAt < :before',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':outbox': 'OUTBOX#',
        ':pending': 'PENDING',
        ':before': before.toISOString(),
      },
    },
  );
  for await (const page of scan) {
    found.push(...(page.Items ?? []));
    pages += 1;
    if (pages % 10 === 0) ctx.progress(`scanned ${pages} pages of the table`);
  }
  return found;
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
      'Publish outbox items the relay gave up on (same event and message id; consumers dedupe), then mark them ' +
        "PUBLISHED: those in the relay DLQ, those of the stream batches its mapping gave up (read back from the table's " +
        'stream, which keeps them 24 h), and those left FAILED',
    )
    .option(
      '--pending-older-than <duration>',
      'also publish PENDING items created longer ago than this, found by a FULL TABLE SCAN (it reads, and is billed ' +
        'for, the whole table): the last resort for a given-up stream batch the stream no longer has',
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
            pending: options.pendingOlderThan
              ? { olderThanMs: parseDuration(options.pendingOlderThan), find: scanPendingOutbox }
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
