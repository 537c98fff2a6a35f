/** `buzzer dlq peek|redrive|purge <queue>`: what failed, and putting it back. */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  ListMessageMoveTasksCommand,
  type Message,
  type MessageAttributeValue,
  PurgeQueueCommand,
  SendMessageBatchCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import type { Command } from 'commander';
import { failureKey } from '#shared/middleware/retry-backoff.ts';
import { OperatorError, type OperatorQueue, type OpsContext, resolveQueue } from './context.ts';
import { type Filter, humanAge, matchesFilters, parseFilter, parseJson, table } from './format.ts';
import { queueDepth, receiveCount, receiveMessages, releaseMessages, sentAt } from './queues.ts';
import { redact, redactText } from './redact.ts';
import type { CommandRunner } from './runner.ts';

export interface PeekedMessage {
  messageId: string;
  sentAt?: string;
  ageSeconds?: number;
  receiveCount?: number;
  /** Which queue's consumer gave up on it (or who put it here). */
  consumer: string;
  lastError?: string;
  orderId?: string;
  correlationId?: string;
  messageType?: string;
  /** The body, with personal data redacted. */
  body: unknown;
}

export interface PeekResult {
  queue: string;
  depth: number;
  messages: PeekedMessage[];
}

/** Error attributes EventBridge puts on events it could not deliver to a target. */
const EVENTBRIDGE_ERROR_ATTRIBUTES = [
  'ERROR_CODE',
  'ERROR_MESSAGE',
  'RULE_ARN',
  'TARGET_ARN',
  'EXHAUSTED_RETRY_CONDITION',
  'RETRY_ATTEMPTS',
];

function attribute(message: Message, name: string): string | undefined {
  return message.MessageAttributes?.[name]?.StringValue;
}

interface Described {
  orderId?: string;
  correlationId?: string;
  messageType?: string;
  error?: string;
}

/** What the body says about itself: an EventBridge event, a relay DLQ record, a Lambda failure record. */
function describeBody(body: unknown): Described {
  if (!body || typeof body !== 'object') return {};
  const b = body as Record<string, unknown>;
  const detail = (b.detail ?? (b.item as Record<string, unknown> | undefined)) as
    | Record<string, unknown>
    | undefined;
  const described: Described = {};
  const orderId = detail?.orderId ?? detail?.aggregateId ?? b.orderId;
  if (typeof orderId === 'string') described.orderId = orderId;
  const correlationId = detail?.correlationId ?? b.correlationId;
  if (typeof correlationId === 'string') described.correlationId = correlationId;
  const type = b['detail-type'] ?? detail?.messageType ?? b.type;
  if (typeof type === 'string') described.messageType = type;
  if (typeof b.reason === 'string') {
    described.error = `${b.reason}${typeof b.error === 'string' ? `: ${b.error}` : ''}`;
  } else if (b.DDBStreamBatchInfo || b.requestContext) {
    const condition = (b.requestContext as Record<string, unknown> | undefined)?.condition;
    described.messageType = 'StreamBatch';
    described.error = `the relay gave up on a stream batch${typeof condition === 'string' ? ` (${condition})` : ''}`;
  }
  return described;
}

interface RecordedFailure {
  error: string;
  receiveCount: number;
}

async function failureRecords(ctx: OpsContext, messageIds: string[]): Promise<Map<string, RecordedFailure>> {
  const failures = new Map<string, RecordedFailure>();
  for (let start = 0; start < messageIds.length; start += 100) {
    const keys = messageIds.slice(start, start + 100).map(failureKey);
    const { Responses } = await ctx.clients.doc.send(
      new BatchGetCommand({ RequestItems: { [ctx.target.tableName]: { Keys: keys } } }),
    );
    for (const item of Responses?.[ctx.target.tableName] ?? []) {
      failures.set(String(item.messageId), {
        error: `${String(item.errorName)}: ${String(item.errorMessage)} (${String(item.consumer)}, ${String(item.at)})`,
        receiveCount: Number(item.receiveCount),
      });
    }
  }
  return failures;
}

export async function peekDlq(ctx: OpsContext, name: string, options: { max: number }): Promise<PeekResult> {
  const queue = resolveQueue(ctx.target, name);
  const depth = await queueDepth(ctx.clients.sqs, queue.dlq.url);
  const messages = await receiveMessages(ctx.clients.sqs, queue.dlq.url, {
    max: options.max,
    visibilitySeconds: 30,
    expected: depth.visible,
    onProgress: (n) => ctx.progress(`peeked ${n} message(s)`),
  });
  try {
    const recorded = await failureRecords(ctx, messages.map((m) => m.MessageId ?? '').filter(Boolean));
    const now = Date.now();
    const sourceAliases = new Map(
      ctx.target.queues.flatMap((q) => (q.source ? [[q.source.arn, `${q.alias} consumer`] as const] : [])),
    );
    return {
      queue: queue.alias,
      depth: depth.visible + depth.inFlight,
      messages: messages.map((message) => {
        const body = parseJson(message.Body);
        const described = describeBody(body);
        const sent = sentAt(message);
        const eventBridgeError = attribute(message, 'ERROR_CODE');
        const sourceArn = message.Attributes?.DeadLetterQueueSourceArn;
        const consumer = eventBridgeError
          ? `EventBridge rule ${attribute(message, 'RULE_ARN')?.split('/').pop() ?? ''} (delivery failed)`
          : sourceArn
            ? (sourceAliases.get(sourceArn) ?? sourceArn)
            : queue.source
              ? `${queue.alias} consumer`
              : `${queue.alias} (sent directly)`;
        const failure = recorded.get(message.MessageId ?? '');
        const rawError = eventBridgeError
          ? `${eventBridgeError}: ${attribute(message, 'ERROR_MESSAGE') ?? ''}`
          : (failure?.error ?? described.error);
        // Error texts can quote the customer's address (an SES rejection, a validation message).
        const lastError = rawError ? redactText(rawError) : undefined;
        return {
          messageId: message.MessageId ?? '',
          ...(sent
            ? { sentAt: sent.toISOString(), ageSeconds: Math.round((now - sent.getTime()) / 1000) }
            : {}),
          // The consumer's count when it recorded the failure: on the DLQ, every peek adds a receive.
          receiveCount: failure?.receiveCount ?? receiveCount(message),
          consumer,
          ...(lastError ? { lastError } : {}),
          ...(described.orderId ? { orderId: described.orderId } : {}),
          ...(described.correlationId ? { correlationId: described.correlationId } : {}),
          ...(described.messageType ? { messageType: described.messageType } : {}),
          body: redact(body),
        };
      }),
    };
  } finally {
    await releaseMessages(ctx.clients.sqs, queue.dlq.url, messages);
  }
}

export interface RedriveOptions {
  /** Messages per second for the native move task (SQS default: as fast as it can). */
  rate?: number;
  filters?: Filter[];
  dryRun?: boolean;
  /** How long to wait for a native move task to finish. @default 5 minutes */
  timeoutMs?: number;
}

export interface RedriveResult {
  queue: string;
  mode: 'native' | 'selective';
  dryRun: boolean;
  /** Messages that went (or, in a dry run, would go) back to the source queue. */
  moved: number;
  examined?: number;
  status?: string;
  failureReason?: string;
  messages?: Array<{ messageId: string; orderId?: string; messageType?: string }>;
}

function requireSource(queue: OperatorQueue): NonNullable<OperatorQueue['source']> {
  if (queue.source) return queue.source;
  const hint =
    queue.alias === 'relay'
      ? 'its messages are outbox records, not queue messages: use buzzer relay replay'
      : 'nothing but a function or a schedule sends to it, so there is no queue to move its messages back to';
  throw new OperatorError(`the ${queue.alias} DLQ cannot be redriven: ${hint}`);
}

/** Native SQS redrive: a message move task from the DLQ back to its source queue. */
async function nativeRedrive(
  ctx: OpsContext,
  queue: OperatorQueue,
  options: RedriveOptions,
): Promise<RedriveResult> {
  const source = requireSource(queue);
  const { sqs } = ctx.clients;
  const { TaskHandle } = await sqs.send(
    new StartMessageMoveTaskCommand({
      SourceArn: queue.dlq.arn,
      // Explicit: messages EventBridge put straight into the DLQ have no source queue of their own.
      DestinationArn: source.arn,
      ...(options.rate ? { MaxNumberOfMessagesPerSecond: options.rate } : {}),
    }),
  );
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  for (;;) {
    const { Results } = await sqs.send(
      new ListMessageMoveTasksCommand({ SourceArn: queue.dlq.arn, MaxResults: 10 }),
    );
    const task = Results?.find((t) => !TaskHandle || t.TaskHandle === TaskHandle) ?? Results?.[0];
    const moved = task?.ApproximateNumberOfMessagesMoved ?? 0;
    const status = task?.Status ?? 'UNKNOWN';
    ctx.progress(
      `move task ${status}: ${moved}${task?.ApproximateNumberOfMessagesToMove ? `/${task.ApproximateNumberOfMessagesToMove}` : ''} moved`,
    );
    if (status !== 'RUNNING' || Date.now() > deadline) {
      return {
        queue: queue.alias,
        mode: 'native',
        dryRun: false,
        moved,
        status,
        ...(task?.FailureReason ? { failureReason: task.FailureReason } : {}),
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Moves only the messages that match the filters: receive, send to the source, delete. The others are made visible
 * again at the end. A crash between send and delete leaves a copy in both queues; the consumers are idempotent.
 */
async function selectiveRedrive(
  ctx: OpsContext,
  queue: OperatorQueue,
  options: RedriveOptions,
): Promise<RedriveResult> {
  const source = options.dryRun ? queue.source : requireSource(queue);
  const { sqs } = ctx.clients;
  const depth = await queueDepth(sqs, queue.dlq.url);
  const messages = await receiveMessages(sqs, queue.dlq.url, {
    max: 10_000,
    visibilitySeconds: 300,
    expected: depth.visible,
    onProgress: (n) => ctx.progress(`examined ${n} message(s)`),
  });
  const selected = messages.filter((message) =>
    matchesFilters(parseJson(message.Body), options.filters ?? []),
  );
  const rest = messages.filter((message) => !selected.includes(message));
  let moved = 0;
  // `--rate` holds here as in a native move task: batches of at most `rate`, each followed by a wait that keeps the
  // moves at or under `rate` per second since the first.
  const batchSize = Math.min(10, options.rate ?? 10);
  const started = Date.now();
  try {
    if (!options.dryRun && source) {
      for (let start = 0; start < selected.length; start += batchSize) {
        if (options.rate && moved > 0) {
          const dueAt = started + (moved / options.rate) * 1000;
          if (dueAt > Date.now()) await sleep(dueAt - Date.now());
        }
        const chunk = selected.slice(start, start + batchSize);
        const sent = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: source.url,
            Entries: chunk.map((message, index) => ({
              Id: String(index),
              MessageBody: message.Body ?? '',
              MessageAttributes: keptAttributes(message),
            })),
          }),
        );
        const ok = new Set((sent.Successful ?? []).map((entry) => Number(entry.Id)));
        const done = chunk.filter((_, index) => ok.has(index));
        if (done.length > 0) {
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queue.dlq.url,
              Entries: done.map((message, index) => ({
                Id: String(index),
                ReceiptHandle: message.ReceiptHandle ?? '',
              })),
            }),
          );
        }
        rest.push(...chunk.filter((_, index) => !ok.has(index)));
        moved += done.length;
        ctx.progress(`moved ${moved}/${selected.length}`);
      }
    }
  } finally {
    await releaseMessages(sqs, queue.dlq.url, options.dryRun ? messages : rest);
  }
  return {
    queue: queue.alias,
    mode: 'selective',
    dryRun: options.dryRun ?? false,
    moved: options.dryRun ? selected.length : moved,
    examined: messages.length,
    messages: selected.map((message) => {
      const described = describeBody(parseJson(message.Body));
      return {
        messageId: message.MessageId ?? '',
        ...(described.orderId ? { orderId: described.orderId } : {}),
        ...(described.messageType ? { messageType: described.messageType } : {}),
      };
    }),
  };
}

/** The message's own attributes, without the error annotations EventBridge added when it dead-lettered it. */
function keptAttributes(message: Message): Record<string, MessageAttributeValue> | undefined {
  const kept = Object.entries(message.MessageAttributes ?? {}).filter(
    ([name]) => !EVENTBRIDGE_ERROR_ATTRIBUTES.includes(name),
  );
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

export async function redriveDlq(
  ctx: OpsContext,
  name: string,
  options: RedriveOptions = {},
): Promise<RedriveResult> {
  const queue = resolveQueue(ctx.target, name);
  if ((options.filters?.length ?? 0) > 0 || options.dryRun) return selectiveRedrive(ctx, queue, options);
  return nativeRedrive(ctx, queue, options);
}

export async function purgeDlq(ctx: OpsContext, name: string): Promise<{ queue: string; purged: number }> {
  const queue = resolveQueue(ctx.target, name);
  const depth = await queueDepth(ctx.clients.sqs, queue.dlq.url);
  await ctx.clients.sqs.send(new PurgeQueueCommand({ QueueUrl: queue.dlq.url }));
  return { queue: queue.alias, purged: depth.visible + depth.inFlight };
}

const positive = (label: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new OperatorError(`${label} must be a whole number ≥ 1`);
  return n;
};

export function registerDlqCommands(program: Command, run: CommandRunner): void {
  const dlq = program
    .command('dlq')
    .description('Look into dead-letter queues and send their messages back')
    .addHelpText(
      'after',
      '\n<queue> is an alias from `buzzer status` (notify, points, saga-start, relay, …).',
    );

  dlq
    .command('peek')
    .description('Show DLQ messages with their error context (personal data redacted); leaves them in place')
    .argument('<queue>', 'queue alias')
    .option('-n, --max <count>', 'messages to show', positive('--max'), 10)
    .action((name: string, options: { max: number }, command: Command) =>
      run(command, async (ctx) => peekDlq(ctx, name, options), renderPeek),
    );

  dlq
    .command('redrive')
    .description('Move DLQ messages back to the queue they came from (native SQS redrive unless filtered)')
    .argument('<queue>', 'queue alias')
    .option('--rate <perSecond>', 'maximum messages per second', positive('--rate'))
    .option(
      '--filter <jsonpath=value>',
      'move only messages whose body matches (repeatable; all must match), e.g. detail.orderId=…',
      (value: string, previous: Filter[] = []) => [...previous, parseFilter(value)],
    )
    .option('--dry-run', 'only list what would move')
    .addHelpText(
      'after',
      '\nExamples:\n  buzzer dlq redrive notify\n  buzzer dlq redrive notify --rate 10\n' +
        "  buzzer dlq redrive points --filter 'detail-type=OrderConfirmed' --dry-run\n",
    )
    .action(
      (name: string, options: { rate?: number; filter?: Filter[]; dryRun?: boolean }, command: Command) =>
        run(
          command,
          async (ctx) =>
            redriveDlq(ctx, name, { rate: options.rate, filters: options.filter, dryRun: options.dryRun }),
          (result) =>
            `${result.dryRun ? 'would move' : 'moved'} ${result.moved} message(s) from the ${result.queue} DLQ back to its queue` +
            `${result.mode === 'native' ? ` (move task ${result.status}${result.failureReason ? `: ${result.failureReason}` : ''})` : ` (${result.examined} examined)`}\n` +
            (result.messages && result.messages.length > 0
              ? table(
                  ['message', 'type', 'order'],
                  result.messages.map((m) => [m.messageId, m.messageType, m.orderId]),
                )
              : ''),
        ),
    );

  dlq
    .command('purge')
    .description('Delete every message of a DLQ (after its cause is fixed and nothing needs a replay)')
    .argument('<queue>', 'queue alias')
    .option('--yes', 'really delete them')
    .action((name: string, options: { yes?: boolean }, command: Command) =>
      run(
        command,
        async (ctx) => {
          if (!options.yes) throw new OperatorError('purging deletes messages for good: add --yes');
          return purgeDlq(ctx, name);
        },
        (result) => `purged ${result.purged} message(s) from the ${result.queue} DLQ\n`,
      ),
    );
}

function renderPeek(result: PeekResult): string {
  const header = `${result.queue} DLQ: ${result.depth} message(s), showing ${result.messages.length}\n`;
  const rows = result.messages.map((m) => [
    m.messageId,
    humanAge(m.ageSeconds),
    m.receiveCount,
    m.messageType,
    m.orderId,
    m.consumer,
    m.lastError,
  ]);
  const bodies = result.messages.map((m) => `  ${m.messageId}: ${JSON.stringify(m.body)}`).join('\n');
  return `${header}${table(['message', 'age', 'receives', 'type', 'order', 'consumer', 'last error'], rows)}${
    bodies ? `\nbodies (redacted):\n${bodies}\n` : ''
  }`;
}
