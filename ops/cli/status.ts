/** `buzzer status`: everything that failed or is stuck, on one screen. */
import {
  DescribeStateMachineCommand,
  type ExecutionListItem,
  type ExecutionStatus,
} from '@aws-sdk/client-sfn';
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import type { Command } from 'commander';
import { BREAKERS, type BreakerName, type CircuitStateName } from '#contracts/circuit.ts';
import { timelineOf } from '#functions/orders/order.ts';
import { readBreaker } from '#functions/resilience/circuit-breaker.ts';
import { queryOpenItemsWhole } from '#shared/open-index.ts';
import { keys, OPEN_ORDER, OPEN_OUTBOX_FAILED } from '#shared/table-keys.ts';
import { type OpsContext, resolveQueue } from './context.ts';
import { executionPages } from './executions.ts';
import { humanAge, parseDuration, table } from './format.ts';
import { type MetricsSummary, readMetrics, renderMetricsSection } from './metrics.ts';
import { queueDepth, receiveMessages, releaseMessages, sentAt } from './queues.ts';
import type { CommandRunner } from './runner.ts';
import { readWorkQueues, renderWorkQueues, type WorkQueuesReport } from './work-queues.ts';

export interface StatusOptions {
  /** An order PENDING longer than this is stuck. @default 5 minutes */
  olderThanMs?: number;
  /** How far back to look for failed executions. @default 24 hours */
  sinceMs?: number;
  /** At most this many items per list. @default 50 */
  limit?: number;
  now?: Date;
}

export interface DlqStatus {
  alias: string;
  depth: number;
  /** Age of the oldest message among those sampled (up to 10), in seconds. */
  oldestAgeSeconds: number | null;
  source: string | null;
}

/** A provider's circuit breaker as stored (`BREAKER#<name>`): OPEN or HALF_OPEN means its calls are held. */
export interface CircuitStatus {
  name: BreakerName;
  state: CircuitStateName;
  /** Failed calls in a row so far. */
  failures: number;
  /** When the outage began (the circuit opened from CLOSED); null while closed. */
  since: string | null;
  /** When an open circuit lets one probe through; null unless OPEN. */
  nextProbeAt: string | null;
  lastFailureAt: string | null;
  lastError: string | null;
}

export interface ExecutionStatusRow {
  name: string;
  executionArn: string;
  status: string;
  startDate?: string;
  stopDate?: string;
  orderId: string | null;
  /** PENDING means the order is still waiting for this saga: it needs attention. */
  orderStatus: string | null;
}

export interface StatusReport {
  generatedAt: string;
  target: { kind: string; stackName: string; region: string };
  healthy: boolean;
  dlqs: DlqStatus[];
  /** Back-pressure: each work queue's depth, oldest message against its age alarm threshold, consumption. */
  workQueues: WorkQueuesReport;
  /** The circuit breakers of the payment provider and the mail transport. */
  circuits: CircuitStatus[];
  saga: {
    workflowType: string;
    failed: ExecutionStatusRow[];
    stuck: ExecutionStatusRow[];
    note?: string;
  };
  /**
   * What the relay could not publish: FAILED items (the Open index), and the relay DLQ's depth, which also counts the
   * stream batches its event source mapping gave up on (their items stay PENDING, and only the stream names them;
   * `buzzer relay replay` publishes both). A relay that lags without giving up raises the RelayIteratorAge alarm.
   */
  outbox: {
    relayDlqDepth: number;
    failed: Array<{
      messageId: string;
      messageType: string;
      orderId: string;
      createdAt: string;
      lastError?: string;
    }>;
  };
  orders: {
    olderThanSeconds: number;
    stuck: Array<{ orderId: string; createdAt: string; ageSeconds: number; lastStep: string | null }>;
  };
  /** The business counts (`buzzer metrics` has them all); informational, not part of `healthy`. */
  metrics: { summary: MetricsSummary | null; note?: string };
}

const ORDER_NAME = /^order-([0-9a-f-]{36})(?:-r\d+)?$/i;

export const orderIdOfExecution = (name: string | undefined): string | null =>
  ORDER_NAME.exec(name ?? '')?.[1] ?? null;

async function oldestAge(ctx: OpsContext, url: string, visible: number, now: Date): Promise<number | null> {
  // SQS has no "oldest message" attribute (CloudWatch does, but not locally): sample and release at once.
  const sample = await receiveMessages(ctx.clients.sqs, url, {
    max: 10,
    visibilitySeconds: 5,
    expected: visible,
  });
  await releaseMessages(ctx.clients.sqs, url, sample);
  const times = sample.map((m) => sentAt(m)?.getTime()).filter((t): t is number => t !== undefined);
  return times.length === 0 ? null : Math.round((now.getTime() - Math.min(...times)) / 1000);
}

async function listExecutions(
  ctx: OpsContext,
  statusFilter: ExecutionStatus,
  limit: number,
  keep: (item: ExecutionListItem) => boolean,
): Promise<ExecutionListItem[]> {
  const found: ExecutionListItem[] = [];
  for await (const executions of executionPages(ctx.clients.sfn, {
    stateMachineArn: ctx.target.stateMachineArn,
    statusFilter,
    maxResults: 100,
  })) {
    found.push(...executions.filter(keep));
    if (found.length >= limit) break;
  }
  return found.slice(0, limit);
}

async function orderStatuses(ctx: OpsContext, orderIds: string[]): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  const unique = [...new Set(orderIds)];
  for (let start = 0; start < unique.length; start += 100) {
    const { Responses } = await ctx.clients.doc.send(
      new BatchGetCommand({
        RequestItems: {
          [ctx.target.tableName]: {
            Keys: unique.slice(start, start + 100).map((id) => keys.order(id)),
            ProjectionExpression: 'orderId, #status',
            ExpressionAttributeNames: { '#status': 'status' },
          },
        },
      }),
    );
    for (const item of Responses?.[ctx.target.tableName] ?? [])
      statuses.set(String(item.orderId), String(item.status));
  }
  return statuses;
}

const iso = (date: Date | undefined): string | undefined => date?.toISOString();

/** Every circuit breaker of the contract, closed when it has never failed (no item yet). */
export async function circuitStatuses(ctx: OpsContext): Promise<CircuitStatus[]> {
  const deps = { doc: ctx.clients.doc, tableName: ctx.target.tableName };
  return Promise.all(
    BREAKERS.map(async (name): Promise<CircuitStatus> => {
      const circuit = await readBreaker(deps, name);
      return {
        name,
        state: circuit.state,
        failures: circuit.failures,
        since: circuit.since ?? null,
        nextProbeAt:
          circuit.state === 'OPEN' && circuit.openUntil !== undefined
            ? new Date(circuit.openUntil).toISOString()
            : null,
        lastFailureAt: circuit.lastFailureAt ?? null,
        lastError: circuit.lastError ?? null,
      };
    }),
  );
}

/**
 * Every DLQ's depth; with `sampleAge`, the age of its oldest message too, found by receiving a sample and releasing it
 * at once (which counts as a receive: the console, which polls, leaves it off).
 */
export async function dlqStatuses(
  ctx: OpsContext,
  options: { sampleAge?: boolean; now?: Date } = {},
): Promise<DlqStatus[]> {
  const now = options.now ?? new Date();
  return Promise.all(
    ctx.target.queues.map(async (queue): Promise<DlqStatus> => {
      const depth = await queueDepth(ctx.clients.sqs, queue.dlq.url);
      const total = depth.visible + depth.inFlight + depth.delayed;
      return {
        alias: queue.alias,
        depth: total,
        oldestAgeSeconds:
          options.sampleAge && depth.visible > 0
            ? await oldestAge(ctx, queue.dlq.url, depth.visible, now)
            : null,
        source: queue.source?.logicalId ?? null,
      };
    }),
  );
}

/** Saga executions that failed since `since`, and those running since before `runningBefore`, with their orders' status. */
export async function sagaExecutions(
  ctx: OpsContext,
  options: { since: Date; runningBefore: Date; limit: number },
): Promise<StatusReport['saga']> {
  const { type } = await ctx.clients.sfn.send(
    new DescribeStateMachineCommand({ stateMachineArn: ctx.target.stateMachineArn }),
  );
  const workflowType = type ?? 'STANDARD';
  const { since, runningBefore, limit } = options;
  let failed: ExecutionListItem[] = [];
  let running: ExecutionListItem[] = [];
  let note: string | undefined;
  try {
    for (const status of ['FAILED', 'TIMED_OUT', 'ABORTED'] as const) {
      failed.push(
        ...(await listExecutions(ctx, status, limit, (e) => (e.stopDate ?? e.startDate ?? since) >= since)),
      );
    }
    running = await listExecutions(
      ctx,
      'RUNNING',
      limit,
      (e) => (e.startDate ?? runningBefore) < runningBefore,
    );
  } catch (error) {
    // AWS lists no EXPRESS executions (they live in CloudWatch Logs); the stuck orders below still show them.
    if (!(error instanceof Error && error.name === 'StateMachineTypeNotSupported')) throw error;
    failed = [];
    running = [];
    note = 'EXPRESS executions cannot be listed: see the stuck orders';
  }
  const statuses = await orderStatuses(
    ctx,
    [...failed, ...running].map((e) => orderIdOfExecution(e.name)).filter((id): id is string => id !== null),
  );
  const row = (e: ExecutionListItem): ExecutionStatusRow => {
    const orderId = orderIdOfExecution(e.name);
    return {
      name: e.name ?? '',
      executionArn: e.executionArn ?? '',
      status: e.status ?? 'UNKNOWN',
      startDate: iso(e.startDate),
      stopDate: iso(e.stopDate),
      orderId,
      orderStatus: orderId ? (statuses.get(orderId) ?? null) : null,
    };
  };
  return { workflowType, failed: failed.map(row), stuck: running.map(row), ...(note ? { note } : {}) };
}

/** What the relay gave up on: every FAILED outbox item, and how many messages wait in the relay DLQ. */
export async function unpublishedOutbox(
  ctx: OpsContext,
  options: { limit: number },
): Promise<StatusReport['outbox']> {
  const table_ = { doc: ctx.clients.doc, tableName: ctx.target.tableName };
  const [depth, failed] = await Promise.all([
    queueDepth(ctx.clients.sqs, resolveQueue(ctx.target, 'relay').dlq.url),
    queryOpenItemsWhole(table_, OPEN_OUTBOX_FAILED, { limit: options.limit }),
  ]);
  return {
    relayDlqDepth: depth.visible + depth.inFlight,
    failed: failed.map((item) => ({
      messageId: String(item.messageId),
      messageType: String(item.messageType),
      orderId: String(item.aggregateId),
      createdAt: String(item.createdAt),
      ...(typeof item.lastError === 'string' ? { lastError: item.lastError } : {}),
    })),
  };
}

export async function statusReport(ctx: OpsContext, options: StatusOptions = {}): Promise<StatusReport> {
  const now = options.now ?? new Date();
  const olderThanMs = options.olderThanMs ?? 5 * 60_000;
  const limit = options.limit ?? 50;
  const since = new Date(now.getTime() - (options.sinceMs ?? 24 * 3_600_000));
  const cutoff = new Date(now.getTime() - olderThanMs);
  const table_ = { doc: ctx.clients.doc, tableName: ctx.target.tableName };

  ctx.progress('reading dead-letter queues');
  const dlqs = await dlqStatuses(ctx, { sampleAge: true, now });

  ctx.progress('reading work queues');
  const workQueues = await readWorkQueues(ctx);

  ctx.progress('reading circuit breakers');
  const circuits = await circuitStatuses(ctx);

  ctx.progress('reading saga executions');
  const saga = await sagaExecutions(ctx, { since, runningBefore: cutoff, limit });

  ctx.progress('reading the outbox items the relay gave up on and stuck orders');
  const [outbox, stuckOrders, metrics] = await Promise.all([
    unpublishedOutbox(ctx, { limit }),
    queryOpenItemsWhole(table_, OPEN_ORDER, { createdBefore: cutoff, limit }),
    readMetrics(ctx),
  ]);

  const report: StatusReport = {
    generatedAt: now.toISOString(),
    target: { kind: ctx.target.kind, stackName: ctx.target.stackName, region: ctx.target.region },
    healthy: false,
    dlqs,
    workQueues,
    circuits,
    saga,
    outbox,
    orders: {
      olderThanSeconds: Math.round(olderThanMs / 1000),
      stuck: stuckOrders.map((item) => {
        const last = timelineOf(item.timeline).at(-1);
        return {
          orderId: String(item.orderId),
          createdAt: String(item.createdAt),
          ageSeconds: Math.round((now.getTime() - Date.parse(String(item.createdAt))) / 1000),
          lastStep: last ? `${last.step}:${last.status}` : null,
        };
      }),
    },
    metrics: { summary: metrics.metrics, ...(metrics.note ? { note: metrics.note } : {}) },
  };
  report.healthy = isHealthy(report);
  return report;
}

/** Nothing failed, nothing is stuck or held, and no work queue's oldest message is older than its alarm threshold. */
export function isHealthy(report: Omit<StatusReport, 'healthy'>): boolean {
  return (
    report.dlqs.every((d) => d.depth === 0) &&
    report.workQueues.queues.every((q) => !q.tooOld) &&
    report.circuits.every((c) => c.state === 'CLOSED') &&
    report.saga.failed.every((e) => e.orderStatus !== 'PENDING') &&
    report.saga.stuck.length === 0 &&
    report.outbox.failed.length === 0 &&
    report.orders.stuck.length === 0
  );
}

export function renderStatus(report: StatusReport): string {
  const sections = [
    `Buzzer ${report.target.stackName} (${report.target.kind}, ${report.target.region}) at ${report.generatedAt}: ${
      report.healthy ? 'healthy' : 'NEEDS ATTENTION'
    }\n`,
    '\nDead-letter queues\n',
    table(
      ['queue', 'messages', 'oldest', 'redrive'],
      report.dlqs.map((d) => [
        d.alias,
        d.depth,
        humanAge(d.oldestAgeSeconds),
        d.source ? 'dlq redrive' : 'see runbook',
      ]),
    ),
    '\nWork queues (TOO OLD: the oldest message is older than its alarm threshold)\n',
    renderWorkQueues(report.workQueues),
    '\nCircuit breakers (OPEN: calls held, orders and mail wait)\n',
    table(
      ['circuit', 'state', 'failures in a row', 'down since', 'next probe', 'last failure'],
      report.circuits.map((c) => [
        c.name,
        c.state,
        c.failures,
        c.since,
        c.nextProbeAt,
        c.lastFailureAt ? `${c.lastFailureAt} ${c.lastError ?? ''}`.trim() : null,
      ]),
    ),
    `\nSaga executions (${report.saga.workflowType}) failed in the window${report.saga.note ? ` — ${report.saga.note}` : ''}\n`,
    table(
      ['execution', 'status', 'stopped', 'order status'],
      report.saga.failed.map((e) => [e.name, e.status, e.stopDate, e.orderStatus]),
    ),
    `\nSaga executions running longer than ${humanAge(report.orders.olderThanSeconds)}\n`,
    table(
      ['execution', 'started', 'order status'],
      report.saga.stuck.map((e) => [e.name, e.startDate, e.orderStatus]),
    ),
    `\nOutbox items the relay gave up on (relay DLQ: ${report.outbox.relayDlqDepth} message(s), FAILED items and given-up stream batches; buzzer relay replay)\n`,
    table(
      ['message', 'type', 'order', 'created', 'state'],
      [
        ...report.outbox.failed.map((o) => [
          o.messageId,
          o.messageType,
          o.orderId,
          o.createdAt,
          `FAILED ${o.lastError ?? ''}`,
        ]),
      ],
    ),
    `\nOrders PENDING for more than ${humanAge(report.orders.olderThanSeconds)}\n`,
    table(
      ['order', 'created', 'age', 'last step'],
      report.orders.stuck.map((o) => [o.orderId, o.createdAt, humanAge(o.ageSeconds), o.lastStep]),
    ),
    `\nMetrics${report.metrics.summary ? ` since ${report.metrics.summary.since}` : ''} (buzzer metrics for all)\n`,
    renderMetricsSection(report.metrics.summary, report.metrics.note),
  ];
  return sections.join('');
}

export function registerStatusCommand(program: Command, run: CommandRunner): void {
  program
    .command('status')
    .description(
      'DLQ depths and ages, work queue back-pressure (depth, oldest message, consumption), circuit breakers, failed or stuck saga executions, outbox items the relay gave up on, stuck orders',
    )
    .option('--older-than <duration>', 'how long PENDING counts as stuck', '5m')
    .option('--since <duration>', 'how far back to list failed executions', '24h')
    .option('--limit <count>', 'items per list', '50')
    .action((options: { olderThan: string; since: string; limit: string }, command: Command) =>
      run(
        command,
        (ctx) =>
          statusReport(ctx, {
            olderThanMs: parseDuration(options.olderThan),
            sinceMs: parseDuration(options.since),
            limit: Math.max(1, Number.parseInt(options.limit, 10) || 50),
          }),
        renderStatus,
      ),
    );
}
