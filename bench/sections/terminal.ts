/**
 * Time to terminal: orders arrive at a fixed rate; for each, the time from the client's 202 to the saga's end
 * (CONFIRMED or CANCELLED committed), and where that time went, hop by hop, from timestamps the system already
 * records: the outbox item's `createdAt`/`publishedAt`, the relay's and the starter's log lines (matched by
 * correlation id and order id), and the Step Functions history.
 */
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import {
  type BenchSystem,
  type ExecutionOutcome,
  log,
  orderRequest,
  quiesce,
  trackingIdOf,
  waitForSagas,
  warmupRequests,
} from '../harness.ts';
import type { LoadRun } from '../load.ts';
import { type LatencySummary, serviceRate, summarize } from '../stats.ts';

export const HOPS = [
  'DynamoDB stream → relay invoked',
  'relay PutEvents → bus → rule → SQS',
  'SQS → starter invoked (poller)',
  'starter → StartExecution',
  'ReserveStock task',
  'AuthorizePayment task',
  'ConfirmOrder task',
  'Step Functions between states',
] as const;
export type Hop = (typeof HOPS)[number];

/** Published AWS figures for comparable hops (design brief), p50/p99 ms. */
export const AWS_HOP_FIGURES: Partial<Record<Hop, string>> = {
  'DynamoDB stream → relay invoked': '213 / 552',
  'SQS → starter invoked (poller)': '16 / 105',
  'ReserveStock task': '142 / 313 (Standard → Lambda)',
};

/** When the starter's SQS message was sent (by the bus) and when the starter was invoked with it, by order id. */
export class StarterObserver {
  readonly byOrder = new Map<string, { sentAt: number; invokedAt: number }>();

  constructor(system: BenchSystem) {
    system.tap.observe(system.functionNamed('SagaStarter'), (event, at) => {
      const records = (event as { Records?: unknown[] }).Records ?? [];
      for (const record of records) {
        const { body, attributes } = record as { body?: string; attributes?: { SentTimestamp?: string } };
        try {
          const orderId = (JSON.parse(body ?? '{}') as { detail?: { orderId?: string } }).detail?.orderId;
          if (orderId && !this.byOrder.has(orderId)) {
            this.byOrder.set(orderId, { sentAt: Number(attributes?.SentTimestamp), invokedAt: at });
          }
        } catch {
          // Not an order event: nothing to time.
        }
      }
    });
  }
}

export interface TerminalRun {
  ratePerSecond: number;
  offered: number;
  /** Arrival rate the load generator achieved (it fires on schedule unless its own thread is starved). */
  achievedRate: number;
  accepted: number;
  acceptLatency: LatencySummary;
  /** From the 202 at the client to the saga's end. */
  timeToTerminal: LatencySummary;
  /** First and last fifth of the run: a queue that builds up shows as a rising time to terminal. */
  firstFifthP50: number;
  lastFifthP50: number;
  confirmed: number;
  cancelled: number;
  unfinished: number;
  /** From the last 202 to the last saga's end. */
  drainMs: number;
  /** Sagas ended per second between the 20th and the 80th percentile of end times: the rate the system kept up. */
  completionRate: number;
  saturated: boolean;
  hops: Array<{ hop: Hop; summary: LatencySummary }>;
}

interface Placed {
  orderId: string;
  correlationId: string;
  receivedAt: number;
}

async function batchGet(
  system: BenchSystem,
  keys: Array<{ pk: string; sk: string }>,
): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < keys.length; i += 100) {
    let pending: Array<Record<string, unknown>> = keys.slice(i, i + 100);
    for (let attempt = 0; pending.length > 0 && attempt < 10; attempt++) {
      const result = await system.runtime.clients.doc.send(
        new BatchGetCommand({ RequestItems: { [system.tableName]: { Keys: pending } } }),
      );
      for (const item of result.Responses?.[system.tableName] ?? []) found.set(String(item.pk), item);
      pending = result.UnprocessedKeys?.[system.tableName]?.Keys ?? [];
    }
  }
  return found;
}

/** Step name → [entered, exited] epoch ms, from the execution history. */
function stepTimes(system: BenchSystem, orderId: string): Map<string, [number, number]> {
  const times = new Map<string, [number, number]>();
  const executionArn = system.executionArn(orderId);
  if (!executionArn) return times;
  const { events } = system.runtime.engines.stepFunctions.getExecutionHistory({
    executionArn,
    maxResults: 1000,
    includeExecutionData: false,
  });
  for (const event of events) {
    const type = String(event.type);
    const at = event.timestamp instanceof Date ? event.timestamp.getTime() : Number.NaN;
    const details = (event.stateEnteredEventDetails ?? event.stateExitedEventDetails) as
      | { name?: string }
      | undefined;
    if (!details?.name || !type.startsWith('Task')) continue;
    const entry = times.get(details.name) ?? [Number.NaN, Number.NaN];
    if (type === 'TaskStateEntered') entry[0] = at;
    if (type === 'TaskStateExited') entry[1] = at;
    times.set(details.name, entry);
  }
  return times;
}

/** Order status by order id, read from the table. */
export async function orderStatuses(
  system: BenchSystem,
  orderIds: readonly string[],
): Promise<Map<string, string>> {
  const items = await batchGet(
    system,
    orderIds.map((orderId) => ({ pk: `ORDER#${orderId}`, sk: 'ORDER' })),
  );
  return new Map([...items.values()].map((item) => [String(item.orderId), String(item.status)]));
}

/** Hop durations of the orders that were confirmed (the happy path: the same hops for every order). */
export async function hopBreakdown(
  system: BenchSystem,
  starter: StarterObserver,
  placed: readonly Placed[],
  outcomes: ReadonlyMap<string, ExecutionOutcome>,
  statuses: ReadonlyMap<string, string>,
): Promise<Array<{ hop: Hop; summary: LatencySummary }>> {
  const samples = new Map<Hop, number[]>(HOPS.map((hop) => [hop, []]));
  const add = (hop: Hop, value: number) => {
    if (Number.isFinite(value) && value >= 0) samples.get(hop)?.push(value);
  };
  const placedMessages = new Map<string, { messageId: string; at: number }>();
  for (const order of placed) {
    const record = system.logs.published
      .get(order.correlationId)
      ?.find((p) => p.messageType === 'OrderPlaced');
    if (record) placedMessages.set(order.orderId, record);
  }
  const outbox = await batchGet(
    system,
    [...placedMessages.values()].map(({ messageId }) => ({ pk: `OUTBOX#${messageId}`, sk: 'OUTBOX' })),
  );
  for (const order of placed) {
    const outcome = outcomes.get(order.orderId);
    const message = placedMessages.get(order.orderId);
    if (!outcome || statuses.get(order.orderId) !== 'CONFIRMED' || !message) continue;
    const item = outbox.get(`OUTBOX#${message.messageId}`);
    const createdAt = Date.parse(String(item?.createdAt));
    const publishedAt = Date.parse(String(item?.publishedAt));
    const started = starter.byOrder.get(order.orderId);
    add('DynamoDB stream → relay invoked', publishedAt - createdAt);
    add('relay PutEvents → bus → rule → SQS', (started?.sentAt ?? Number.NaN) - publishedAt);
    add(
      'SQS → starter invoked (poller)',
      (started?.invokedAt ?? Number.NaN) - (started?.sentAt ?? Number.NaN),
    );
    add('starter → StartExecution', outcome.startDate - (started?.invokedAt ?? Number.NaN));
    const steps = stepTimes(system, order.orderId);
    let inSteps = 0;
    for (const name of ['ReserveStock', 'AuthorizePayment', 'ConfirmOrder'] as const) {
      const [entered, exited] = steps.get(name) ?? [Number.NaN, Number.NaN];
      add(`${name} task`, exited - entered);
      inSteps += exited - entered;
    }
    add('Step Functions between states', outcome.stopDate - outcome.startDate - inSteps);
  }
  return HOPS.map((hop) => ({ hop, summary: summarize(samples.get(hop) ?? []) }));
}

export function placedOrders(run: LoadRun, correlationIds: readonly string[]): Placed[] {
  const placed: Placed[] = [];
  for (const result of run.results) {
    const orderId = result.status === 202 ? trackingIdOf(result.body) : undefined;
    const correlationId = correlationIds[result.index];
    if (orderId && correlationId) {
      placed.push({ orderId, correlationId, receivedAt: result.sentAt + result.latencyMs });
    }
  }
  return placed;
}

export async function runTimeToTerminal(
  system: BenchSystem,
  starter: StarterObserver,
  ratePerSecond: number,
  durationSeconds: number,
): Promise<TerminalRun> {
  const offered = Math.round(ratePerSecond * durationSeconds);
  log(`time to terminal: ${offered} orders at ${ratePerSecond}/s`);
  const correlationIds = Array.from({ length: offered }, (_, i) => `ttt-${ratePerSecond}-${i}-${Date.now()}`);
  const run = await system.load.run({
    mode: { type: 'open', ratePerSecond },
    warmup: warmupRequests(system.apiUrl, system.apiKey),
    requests: correlationIds.map((correlationId) =>
      orderRequest(system.apiUrl, system.apiKey, { correlationId }),
    ),
    timeoutMs: 30_000,
  });
  const placed = placedOrders(run, correlationIds);
  const outcomes = await waitForSagas(
    system,
    placed.map((p) => p.orderId),
    // Time for the backlog too: this machine completes a few orders a second when saturated.
    Math.max(60_000, offered * 500),
  );
  const ttt = placed
    .map((p) => ({ at: p.receivedAt, ms: (outcomes.get(p.orderId)?.stopDate ?? Number.NaN) - p.receivedAt }))
    .filter((sample) => Number.isFinite(sample.ms))
    .sort((a, b) => a.at - b.at);
  const fifth = Math.max(1, Math.floor(ttt.length / 5));
  const firstFifthP50 = summarize(ttt.slice(0, fifth).map((s) => s.ms)).p50;
  const lastFifthP50 = summarize(ttt.slice(-fifth).map((s) => s.ms)).p50;
  const lastReceived = Math.max(...placed.map((p) => p.receivedAt));
  const lastStop = Math.max(...[...outcomes.values()].map((o) => o.stopDate));
  const sendWindow =
    Math.max(...run.results.map((r) => r.sentAt)) - Math.min(...run.results.map((r) => r.sentAt));
  const statuses = await orderStatuses(
    system,
    placed.map((p) => p.orderId),
  );
  const hops = await hopBreakdown(system, starter, placed, outcomes, statuses);
  await quiesce(system);
  const unfinished = placed.length - outcomes.size;
  const achievedRate = sendWindow > 0 ? ((offered - 1) / sendWindow) * 1000 : offered;
  const completionRate = serviceRate([...outcomes.values()].map((o) => o.stopDate));
  return {
    ratePerSecond,
    offered,
    achievedRate,
    accepted: placed.length,
    acceptLatency: summarize(run.results.map((r) => r.latencyMs)),
    timeToTerminal: summarize(ttt.map((s) => s.ms)),
    firstFifthP50,
    lastFifthP50,
    confirmed: placed.filter((p) => outcomes.has(p.orderId) && statuses.get(p.orderId) === 'CONFIRMED')
      .length,
    cancelled: placed.filter((p) => outcomes.has(p.orderId) && statuses.get(p.orderId) === 'CANCELLED')
      .length,
    unfinished,
    drainMs: lastStop - lastReceived,
    completionRate,
    // A queue that keeps growing: sagas never finished, the system completed far fewer orders per second than
    // arrived, or the end of the run waited far longer than its start.
    saturated:
      unfinished > 0 || completionRate < 0.5 * achievedRate || lastFifthP50 > 2 * firstFifthP50 + 1000,
    hops,
  };
}
