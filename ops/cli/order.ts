/** `buzzer order <trackingId>`: the whole story of one order, from the 202 to the last mail. */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { BatchGetCommand, GetCommand, paginateScan, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Command } from 'commander';
import { POINTS_CONSUMER } from '#functions/loyalty/points.ts';
import { NOTIFY_CONSUMER } from '#functions/notifications/notify-customer.ts';
import { executionArnFor } from '#functions/operations/recovery.ts';
import { orderIdSchema, timelineOf } from '#functions/orders/order.ts';
import { executionName } from '#functions/saga/starter.ts';
import { keys } from '#shared/table-keys.ts';
import { OperatorError, type OpsContext } from './context.ts';
import { table } from './format.ts';
import { redact } from './redact.ts';
import type { CommandRunner } from './runner.ts';

type Item = Record<string, unknown>;

export interface SagaStep {
  state: string;
  type: string;
  enteredAt: string;
  exitedAt?: string;
  outcome: 'SUCCEEDED' | 'FAILED' | 'RUNNING';
  retries: number;
  error?: string;
}

export interface ExecutionStory {
  name: string;
  executionArn: string;
  status: string;
  startDate?: string;
  stopDate?: string;
  error?: string;
  cause?: string;
  redriveCount?: number;
  steps: SagaStep[];
}

export interface StoryEvent {
  at: string;
  source: string;
  what: string;
}

export interface OrderStory {
  orderId: string;
  correlationId: string | null;
  status: string | null;
  /** The order item, personal data redacted. */
  order: Item | null;
  reservation: Item | null;
  recovery: Item | null;
  outbox: Item[];
  executions: ExecutionStory[];
  effects: Item[];
  failures: Item[];
  points: Item | null;
  webhookDeliveries: Item[];
  /** Everything above, in time order. */
  events: StoryEvent[];
  notes: string[];
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * The reservation as the order records it (functions/saga/stock.ts): older orders have a `RESERVATION` item of their
 * own, newer ones keep the same fields on the order, in the shape that item had.
 */
function reservationOnOrder(order: Item): Item | null {
  if (order.reservedAt === undefined) return null;
  return {
    orderId: order.orderId,
    items: order.items,
    amount: order.amount,
    currency: order.currency,
    points: order.points,
    reservedAt: order.reservedAt,
    ...(order.stockReleasedAt === undefined ? {} : { releasedAt: order.stockReleasedAt }),
  };
}

function errorOf(event: HistoryEvent): string | undefined {
  for (const [key, value] of Object.entries(event)) {
    if (!key.endsWith('FailedEventDetails') && !key.endsWith('TimedOutEventDetails')) continue;
    const details = value as { error?: string; cause?: string } | undefined;
    if (details?.error) return `${details.error}${details.cause ? `: ${details.cause.slice(0, 200)}` : ''}`;
  }
  return undefined;
}

/** Top-level states as they ran: entered, retried, left or failed (a summary of the history, not all of it). */
export function stepsFromHistory(events: HistoryEvent[]): SagaStep[] {
  const steps: SagaStep[] = [];
  let open: SagaStep | undefined;
  for (const event of events) {
    const type = event.type ?? '';
    const at = event.timestamp?.toISOString() ?? '';
    if (type.endsWith('StateEntered')) {
      // Left without an exit event: a Catch moved on from it.
      if (open) {
        open.outcome = open.error ? 'FAILED' : 'SUCCEEDED';
        open.exitedAt = at;
      }
      open = {
        state: event.stateEnteredEventDetails?.name ?? '?',
        type: type.replace(/StateEntered$/, ''),
        enteredAt: at,
        outcome: 'RUNNING',
        retries: 0,
      };
      steps.push(open);
    } else if (type.endsWith('StateExited') && open) {
      open.exitedAt = at;
      open.outcome = 'SUCCEEDED';
      open = undefined;
    } else if (open) {
      const error = errorOf(event);
      if (error) {
        if (open.error) open.retries += 1;
        open.error = error;
        if (type === 'ExecutionFailed' || type === 'ExecutionTimedOut' || type === 'ExecutionAborted') {
          open.outcome = 'FAILED';
          open.exitedAt = at;
        }
      }
    }
  }
  for (const step of steps) if (step.type === 'Fail') step.outcome = 'FAILED';
  return steps;
}

async function executionStory(ctx: OpsContext, executionArn: string): Promise<ExecutionStory | undefined> {
  let execution: DescribeExecutionCommandOutput;
  try {
    execution = await ctx.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    if (error instanceof Error && error.name === 'ExecutionDoesNotExist') return undefined;
    throw error;
  }
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ctx.clients.sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        maxResults: 1000,
        nextToken,
        includeExecutionData: false,
      }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return {
    name: execution.name ?? '',
    executionArn,
    status: execution.status ?? 'UNKNOWN',
    startDate: execution.startDate?.toISOString(),
    stopDate: execution.stopDate?.toISOString(),
    ...(execution.error ? { error: execution.error } : {}),
    ...(execution.cause ? { cause: execution.cause.slice(0, 500) } : {}),
    redriveCount: execution.redriveCount,
    steps: stepsFromHistory(events),
  };
}

/** Finds the items that name an order but live elsewhere (outbox items, failure records, webhook deliveries). */
export type RelatedItemsFinder = (ctx: OpsContext, orderId: string) => Promise<Item[]>;

/** Items that name the order but live elsewhere: outbox items, failure records, webhook deliveries (a table scan). */
export async function scanForOrder(ctx: OpsContext, orderId: string): Promise<Item[]> {
  const found: Item[] = [];
  let pages = 0;
  const scan = paginateScan(
    { client: ctx.clients.doc },
    {
      TableName: ctx.target.tableName,
      FilterExpression: 'aggregateId = :id OR (orderId = :id AND NOT begins_with(pk, :orderPk))',
      ExpressionAttributeValues: { ':id': orderId, ':orderPk': 'ORDER#' },
    },
  );
  for await (const page of scan) {
    found.push(...(page.Items ?? []));
    pages += 1;
    if (pages % 10 === 0) ctx.progress(`scanned ${pages} pages of the table`);
  }
  return found;
}

export async function orderStory(
  ctx: OpsContext,
  trackingId: string,
  options: { scan?: boolean } = {},
): Promise<OrderStory> {
  return storyOfOrder(ctx, trackingId, (options.scan ?? true) ? scanForOrder : undefined);
}

/**
 * The story with the related items `findRelated` finds, or without them. The operator API's function calls this
 * without a finder, so no Scan is in its bundle (its role may not Scan: lib/constructs/table-access.ts).
 */
export async function storyOfOrder(
  ctx: OpsContext,
  trackingId: string,
  findRelated: RelatedItemsFinder | undefined,
): Promise<OrderStory> {
  const parsedId = orderIdSchema.safeParse(trackingId);
  if (!parsedId.success) throw new OperatorError(`"${trackingId}" is not a tracking id (a UUID)`);
  const orderId = parsedId.data;
  const { doc } = ctx.clients;
  const tableName = ctx.target.tableName;
  const notes: string[] = [];

  const { Items: partition = [] } = await doc.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.order(orderId).pk },
      ConsistentRead: true,
    }),
  );
  const bySk = (sk: string) => partition.find((item) => item.sk === sk);
  const order = bySk('ORDER');
  if (!order) throw new OperatorError(`no order ${orderId}`);
  const reservation = bySk('RESERVATION') ?? reservationOnOrder(order);
  const recovery = bySk('RECOVERY') ?? null;

  let related: Item[] = [];
  if (findRelated) {
    ctx.progress('scanning the table for the order’s outbox items, failures and webhook deliveries');
    related = await findRelated(ctx, orderId);
  } else {
    notes.push('table scan skipped (--no-scan): outbox items, failures and webhook deliveries not shown');
  }
  const outbox = related
    .filter((item) => item.entity === 'Outbox')
    .sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)));
  const failures = related.filter((item) => item.entity === 'Failure');
  const webhookDeliveries = related.filter((item) => str(item.sk)?.startsWith('DELIVERY#'));

  // Points credited before the ledger line became the points worker's marker have an effect item of their own too.
  const effectKeys = outbox.flatMap((item) =>
    [NOTIFY_CONSUMER, POINTS_CONSUMER].map((consumer) => keys.effect(consumer, String(item.messageId))),
  );
  const effects: Item[] = [];
  for (let start = 0; start < effectKeys.length; start += 100) {
    const { Responses } = await doc.send(
      new BatchGetCommand({ RequestItems: { [tableName]: { Keys: effectKeys.slice(start, start + 100) } } }),
    );
    effects.push(...(Responses?.[tableName] ?? []));
  }
  const customerId = str((order.customer as Item | undefined)?.id);
  const clientId = str(order.clientId);
  const points =
    customerId && clientId
      ? ((
          await doc.send(
            new GetCommand({
              TableName: tableName,
              Key: keys.pointsLedger(clientId, customerId, orderId),
            }),
          )
        ).Item ?? null)
      : null;
  // The ledger line is the points worker's effect: it names the event that credited the order.
  if (points && !effects.some((e) => e.consumer === POINTS_CONSUMER && e.eventId === points.messageId)) {
    effects.push({
      consumer: POINTS_CONSUMER,
      eventId: points.messageId,
      status: 'DONE',
      at: points.createdAt,
    });
  }

  const executionArns = [
    executionArnFor(ctx.target.stateMachineArn, executionName(orderId)),
    ...(Array.isArray(recovery?.executions) ? recovery.executions.map(String) : []),
  ];
  const executions: ExecutionStory[] = [];
  for (const arn of [...new Set(executionArns)]) {
    try {
      const story = await executionStory(ctx, arn);
      if (story) executions.push(story);
    } catch (error) {
      // AWS keeps no describable history of EXPRESS executions (it is in CloudWatch Logs).
      notes.push(
        `execution ${arn.split(':').at(-1)}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  if (executions.length === 0) notes.push('no saga execution found (never started, or EXPRESS on AWS)');

  const events: StoryEvent[] = [];
  const timeline = timelineOf(order.timeline);
  for (const entry of timeline) {
    events.push({
      at: entry.at,
      source: 'order',
      what: `${entry.step} ${entry.status}${entry.detail ? `: ${entry.detail}` : ''}`,
    });
  }
  for (const item of outbox) {
    events.push({
      at: String(item.createdAt),
      source: 'outbox',
      what: `${String(item.messageType)} written`,
    });
    if (item.publishedAt) {
      events.push({
        at: String(item.publishedAt),
        source: 'relay',
        what: `${String(item.messageType)} published${item.replayedAt ? ' (replayed by an operator)' : ''}`,
      });
    }
    if (item.status === 'FAILED') {
      events.push({
        at: String(item.failedAt ?? item.createdAt),
        source: 'relay',
        what: `${String(item.messageType)} FAILED: ${String(item.lastError ?? '')}`,
      });
    }
  }
  for (const execution of executions) {
    for (const step of execution.steps) {
      events.push({
        at: step.enteredAt,
        source: `saga ${execution.name}`,
        what: `${step.state} ${step.outcome}${step.retries ? ` after ${step.retries} retries` : ''}${step.error && step.outcome === 'FAILED' ? `: ${step.error}` : ''}`,
      });
    }
  }
  for (const effect of effects) {
    events.push({
      at: String(effect.at),
      source: `${String(effect.consumer)} worker`,
      what: `effect ${String(effect.status)}`,
    });
  }
  for (const failure of failures) {
    events.push({
      at: String(failure.at),
      source: `${String(failure.consumer)} worker`,
      what: `message failed (receive ${String(failure.receiveCount)}): ${String(failure.errorName)}: ${String(failure.errorMessage)}`,
    });
  }
  for (const delivery of webhookDeliveries) {
    events.push({
      at: String(delivery.updatedAt ?? delivery.createdAt ?? ''),
      source: 'webhooks',
      what: `${String(delivery.eventType)} delivery ${String(delivery.status)} (attempt ${String(delivery.attempt)})`,
    });
  }
  if (recovery) {
    events.push({
      at: String(recovery.updatedAt),
      source: 'recovery',
      what: `${String(recovery.lastAction)} (${String(recovery.attempts)} so far): ${String(recovery.lastReason)}`,
    });
  }
  events.sort((a, b) => a.at.localeCompare(b.at));

  const { paymentToken: _token, ...shown } = order;
  return {
    orderId,
    correlationId: str(order.correlationId) ?? null,
    status: str(order.status) ?? null,
    // The timeline as entries, whichever form the item stores it in (functions/orders/order.ts).
    order: redact({ ...shown, timeline }) as Item,
    reservation,
    recovery,
    outbox: outbox.map((item) => redact(item) as Item),
    executions,
    effects,
    failures,
    points,
    webhookDeliveries: webhookDeliveries.map(({ body: _body, ...rest }) => rest),
    events,
    notes,
  };
}

function renderStory(story: OrderStory): string {
  const order = story.order ?? {};
  const lines = [
    `order ${story.orderId}  ${story.status}  correlation id ${story.correlationId}`,
    `client ${String(order.clientId)}  customer ${String((order.customer as Item | undefined)?.id)}  amount ${String(order.amount ?? '-')} ${String(order.currency)}  created ${String(order.createdAt)}`,
    '',
    'story',
    table(
      ['at', 'who', 'what'],
      story.events.map((e) => [e.at, e.source, e.what]),
    ),
    'outbox',
    table(
      ['message', 'type', 'status', 'created', 'published'],
      story.outbox.map((o) => [
        str(o.messageId),
        str(o.messageType),
        str(o.status),
        str(o.createdAt),
        str(o.publishedAt),
      ]),
    ),
    'saga executions',
    table(
      ['execution', 'status', 'started', 'stopped', 'error'],
      story.executions.map((e) => [e.name, e.status, e.startDate, e.stopDate, e.error]),
    ),
    'effects',
    table(
      ['consumer', 'event', 'status', 'at'],
      story.effects.map((e) => [str(e.consumer), str(e.eventId), str(e.status), str(e.at)]),
    ),
    `points: ${story.points ? `${String(story.points.points)} credited to customer ${String(story.points.customerId)} at ${String(story.points.createdAt)}` : 'none credited'}`,
    `webhook deliveries: ${story.webhookDeliveries.length}`,
    ...story.notes.map((note) => `note: ${note}`),
    '',
  ];
  return lines.join('\n');
}

export function registerOrderCommand(program: Command, run: CommandRunner): void {
  program
    .command('order')
    .description(
      'The full story of one order: item and timeline, outbox events, saga history, worker effects, webhooks',
    )
    .argument('<trackingId>', 'the tracking id the client got with its 202')
    .option(
      '--no-scan',
      'skip the table scan that finds outbox items, failures and webhook deliveries (large tables)',
    )
    .action((trackingId: string, options: { scan: boolean }, command: Command) =>
      run(command, (ctx) => orderStory(ctx, trackingId, { scan: options.scan }), renderStory),
    );
}
