/**
 * The four-case experiment under bursts (issue 16): a burst of orders arrives open loop at each case, with the
 * sandbox payment provider slow and/or flaky, and every order is followed to its end and its mail.
 * - case 1, `sync`: the synchronous flow `-c orderFlow=sync` deploys (functions/orders/place-order-sync.ts: charge,
 *   then every local write in one transaction, then the mail; the saga's retries of the charge) behind the same HTTP
 *   API engine and authorizer;
 * - case 2, `async`: `POST /orders` → 202, the saga does the rest;
 * - case 3, `burstmail`: case 2 deployed with `-c mailService=burst` (a runtime of its own), and with each burst an
 *   operator's campaign of `campaignMails` mails through the same mail request queue (its Lambda invoked as an
 *   operator would);
 * - case 4, `hybrid`: `POST /orders` with `Prefer: wait=N`.
 * Time to terminal is measured from the request's send to the order item's terminal commit (`updatedAt`) for all
 * three, so the synchronous answer and the saga are compared on the same clock; mail latency from that commit to
 * the mail sink's `mail recorded` log line.
 */

import { randomUUID } from 'node:crypto';
import { BatchGetCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { breakerKey } from '#functions/resilience/circuit-breaker.ts';
import {
  aggregateCell,
  type BurstCase,
  type BurstCell,
  type BurstCellResult,
  burstCellLabel,
  type CampaignSummary,
  type DownstreamUse,
  type MailPathUse,
  type OrderSample,
  peakOf,
  type ResourcePeak,
} from '../burst-model.ts';
import {
  type BenchSystem,
  drainQueues,
  log,
  orderRequest,
  trackingIdOf,
  warmupRequests,
} from '../harness.ts';
import type { HttpLoadRequest, LoadResult } from '../load-types.ts';
import { summarize } from '../stats.ts';
import type { SyncBaseline } from '../sync-baseline.ts';

export interface BurstSettings {
  cells: Array<BurstCell & { cases: readonly BurstCase[] }>;
  /** `Prefer: wait=N` of the hybrid. */
  waitSeconds: number;
  /** How long a cell may take to end its orders after the burst before the rest count as lost. */
  drainMs: number;
  /** Mails of the campaign started with each case 3 burst. */
  campaignMails: number;
}

/** The logical id prefixes of the mail path's function in each deployment: the notify worker, the burst sender. */
const MAIL_FUNCTIONS = ['NotifierHandler', 'MailSenderHandler'];

/** The system's mail function (whichever variant it runs), or undefined. */
function mailFunctionOf(system: BenchSystem): string | undefined {
  for (const prefix of MAIL_FUNCTIONS) {
    try {
      return system.functionNamed(prefix);
    } catch {}
  }
  return undefined;
}

function functionOrUndefined(system: BenchSystem, prefix: string): string | undefined {
  try {
    return system.functionNamed(prefix);
  } catch {
    return undefined;
  }
}

/**
 * Watches the payment provider and the mail transport during a cell: the payment circuit's item read once a second,
 * and the sandbox functions' invocations that waited for an environment (the local pool's `throttles`).
 */
class DownstreamWatch {
  private readonly timer: NodeJS.Timeout;
  private readonly provider?: string;
  private readonly mailSink?: string;
  private readonly start: Record<string, { throttles: number; invocations: number }> = {};
  private openSamples = 0;
  private openings = 0;
  private lastState = 'CLOSED';
  private reading = false;

  constructor(
    private readonly system: BenchSystem,
    /** The table of the case's orders (the sync baseline writes to a copy, its circuit item included). */
    private readonly tableName: string,
  ) {
    this.provider = functionOrUndefined(system, 'SandboxProvider');
    this.mailSink = functionOrUndefined(system, 'SandboxMailSink');
    const metrics = system.runtime.engines.lambda.metrics();
    for (const name of [this.provider, this.mailSink]) {
      if (name) {
        this.start[name] = {
          throttles: metrics[name]?.throttles ?? 0,
          invocations: metrics[name]?.invocations ?? 0,
        };
      }
    }
    this.timer = setInterval(() => void this.sample(), 1000);
  }

  private async sample(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      const { Item } = await this.system.runtime.clients.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: breakerKey('payment'),
          ProjectionExpression: '#state',
          ExpressionAttributeNames: { '#state': 'state' },
        }),
      );
      const state = typeof Item?.state === 'string' ? Item.state : 'CLOSED';
      if (state !== 'CLOSED') this.openSamples++;
      if (state !== 'CLOSED' && this.lastState === 'CLOSED') this.openings++;
      this.lastState = state;
    } catch {
      // A missed sample under load: the count is a lower bound.
    } finally {
      this.reading = false;
    }
  }

  stop(): DownstreamUse {
    clearInterval(this.timer);
    const metrics = this.system.runtime.engines.lambda.metrics();
    const delta = (name: string | undefined, key: 'throttles' | 'invocations') =>
      name ? (metrics[name]?.[key] ?? 0) - (this.start[name]?.[key] ?? 0) : 0;
    return {
      paymentCircuitOpenSeconds: this.openSamples,
      paymentCircuitOpenings: this.openings,
      providerWaits: delta(this.provider, 'throttles'),
      providerInvocations: delta(this.provider, 'invocations'),
      ...(this.mailSink
        ? {
            mailSinkWaits: delta(this.mailSink, 'throttles'),
            mailSinkInvocations: delta(this.mailSink, 'invocations'),
          }
        : {}),
    };
  }
}

/** Samples the runtime's resources every 100 ms until stopped. */
class ResourceSampler {
  private readonly samples: ResourcePeak[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly startInvocations: number;
  private mailConcurrent = 0;
  private mailEnvironments = 0;

  constructor(
    private readonly system: BenchSystem,
    private readonly mailFunction?: string,
  ) {
    this.startInvocations = this.mailInvocations();
    const sample = () => {
      const byName = system.runtime.engines.lambda.metrics();
      const functions = Object.values(byName);
      const mail = mailFunction ? byName[mailFunction] : undefined;
      if (mail) {
        this.mailConcurrent = Math.max(this.mailConcurrent, mail.concurrentExecutions);
        this.mailEnvironments = Math.max(this.mailEnvironments, mail.environments);
      }
      this.samples.push({
        concurrentExecutions: functions.reduce((sum, f) => sum + f.concurrentExecutions, 0),
        environments: functions.reduce((sum, f) => sum + f.environments, 0),
        runningExecutions: system.runtime.engines.stepFunctions.metrics().executions.RUNNING,
        rssMb: process.memoryUsage.rss() / 1024 ** 2,
      });
    };
    sample();
    this.timer = setInterval(sample, 100);
  }

  private mailInvocations(): number {
    return this.mailFunction
      ? (this.system.runtime.engines.lambda.metrics()[this.mailFunction]?.invocations ?? 0)
      : 0;
  }

  stop(): ResourcePeak {
    clearInterval(this.timer);
    return peakOf(this.samples);
  }

  /** The mail function's share, once the cell drained (`mails`: what it sent meanwhile). */
  mailPath(mails: number): MailPathUse | undefined {
    if (!this.mailFunction) return undefined;
    return {
      invocations: this.mailInvocations() - this.startInvocations,
      mails,
      peakConcurrent: this.mailConcurrent,
      peakEnvironments: this.mailEnvironments,
    };
  }
}

/** Starts an operator's campaign of `mails` synthetic recipients, as `buzzer mail campaign` does. */
async function startCampaign(
  system: BenchSystem,
  mails: number,
): Promise<{ campaignId: string; at: number }> {
  const campaignId = `bench-${randomUUID().slice(0, 8)}`;
  const at = Date.now();
  const result = await system.runtime.engines.lambda.invoke(system.functionNamed('MailStartCampaign'), {
    campaignId,
    count: mails,
  });
  if (result.error) {
    throw new Error(`the campaign function failed: ${result.error.errorType}: ${result.error.errorMessage}`);
  }
  return { campaignId, at };
}

function campaignSummary(
  system: BenchSystem,
  campaign: { campaignId: string; at: number },
  mails: number,
): CampaignSummary {
  const recorded = [...system.logs.mailRecordedByKey]
    .filter(([key]) => key.startsWith(`${campaign.campaignId}-`))
    .map(([, at]) => at);
  const last = recorded.length > 0 ? Math.max(...recorded) : Number.NaN;
  return {
    mails,
    sent: recorded.length,
    latency: summarize(recorded.map((at) => at - campaign.at)),
    mailsPerSecond: recorded.length / Math.max(0.001, (last - campaign.at) / 1000),
  };
}

interface OrderItem {
  status: string;
  updatedAt: string;
  /** The end of the order's hold by the payment circuit, if it has one. */
  holdUntil?: string;
}

async function readOrders(
  system: BenchSystem,
  tableName: string,
  orderIds: readonly string[],
): Promise<Map<string, OrderItem>> {
  const found = new Map<string, OrderItem>();
  for (let i = 0; i < orderIds.length; i += 100) {
    let pending: Array<Record<string, unknown>> = orderIds
      .slice(i, i + 100)
      .map((orderId) => ({ pk: `ORDER#${orderId}`, sk: 'ORDER' }));
    for (let attempt = 0; pending.length > 0 && attempt < 10; attempt++) {
      const result = await system.runtime.clients.doc.send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: {
              Keys: pending,
              ProjectionExpression: 'orderId, #status, updatedAt, #hold',
              ExpressionAttributeNames: { '#status': 'status', '#hold': 'hold' },
            },
          },
        }),
      );
      for (const item of result.Responses?.[tableName] ?? []) {
        const hold = item.hold as { until?: unknown } | undefined;
        found.set(String(item.orderId), {
          status: String(item.status),
          updatedAt: String(item.updatedAt),
          ...(typeof hold?.until === 'string' ? { holdUntil: hold.until } : {}),
        });
      }
      pending = result.UnprocessedKeys?.[tableName]?.Keys ?? [];
    }
  }
  return found;
}

const isTerminal = (status: string | undefined): status is 'CONFIRMED' | 'CANCELLED' =>
  status === 'CONFIRMED' || status === 'CANCELLED';

/** Polls the orders until every one has ended or the time is up. */
async function drain(
  system: BenchSystem,
  tableName: string,
  orderIds: readonly string[],
  timeoutMs: number,
): Promise<Map<string, OrderItem>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const orders = await readOrders(system, tableName, orderIds);
    const open = orderIds.filter((id) => !isTerminal(orders.get(id)?.status));
    if (open.length === 0 || Date.now() >= deadline) return orders;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function requestsFor(
  kind: BurstCase,
  system: BenchSystem,
  baseline: SyncBaseline | undefined,
  count: number,
  waitSeconds: number,
): HttpLoadRequest[] {
  return Array.from({ length: count }, () => {
    if (kind === 'sync' && baseline) return orderRequest(baseline.urls.sagaRetries, system.apiKey);
    const request = orderRequest(system.apiUrl, system.apiKey);
    if (kind === 'hybrid') request.headers.prefer = `wait=${waitSeconds}`;
    return request;
  });
}

/** What the client's answer says: taken (a tracking id), and whether it already carried the order's end. */
function answerOf(kind: BurstCase, result: LoadResult): { orderId?: string; final: boolean } {
  const orderId = result.status > 0 ? trackingIdOf(result.body) : undefined;
  if (!orderId) return { final: false };
  const final = kind === 'sync' || (kind === 'hybrid' && result.status === 200);
  return { orderId, final };
}

async function runCase(
  system: BenchSystem,
  baseline: SyncBaseline | undefined,
  cell: BurstCell,
  kind: BurstCase,
  settings: BurstSettings,
): Promise<BurstCellResult> {
  if (kind === 'sync' && !baseline) throw new Error('case 1 needs the sync baseline');
  const tableName = kind === 'sync' && baseline ? baseline.tableName : system.tableName;
  const sampler = new ResourceSampler(system, mailFunctionOf(system));
  const downstream = new DownstreamWatch(system, tableName);
  let peak: ResourcePeak | undefined;
  let watched: DownstreamUse | undefined;
  try {
    // The campaign starts with the burst: both producers fill the one mail request queue at once.
    const campaign =
      kind === 'burstmail' && settings.campaignMails > 0
        ? startCampaign(system, settings.campaignMails)
        : Promise.resolve(undefined);
    const run = await system.load.run({
      mode: { type: 'open', ratePerSecond: cell.orders / cell.seconds },
      warmup: warmupRequests(system.apiUrl, system.apiKey),
      requests: requestsFor(kind, system, baseline, cell.orders, settings.waitSeconds),
      // The HTTP API's integration limit is 30 s; past it the engine answers 503/504 itself.
      timeoutMs: 35_000,
    });
    const answers = run.results.map((result) => ({ result, ...answerOf(kind, result) }));
    const orderIds = answers.map((a) => a.orderId).filter((id): id is string => id !== undefined);
    const orders = await drain(system, tableName, orderIds, settings.drainMs);
    const drainedAt = Date.now();
    const started = await campaign;
    // The mails and the sagas' last transitions come after the orders' commits, and a mail held by the open mail
    // circuit waits on its queue with a delay while no function runs: the cell is over when the queues are empty.
    const left = await drainQueues(system, 60_000);
    if (left.size > 0) {
      log(`burst:   still queued after 60 s: ${[...left].map(([q, n]) => `${q} ${n}`).join(', ')}`);
    }
    peak = sampler.stop();
    watched = downstream.stop();
    const campaignResult = started ? campaignSummary(system, started, settings.campaignMails) : undefined;
    const orderMails = orderIds.filter((id) => system.logs.mailRecorded.has(id)).length;
    const mailPath = sampler.mailPath(orderMails + (campaignResult?.sent ?? 0));
    const samples: OrderSample[] = answers.map(({ result, orderId, final }) => {
      const order = orderId ? orders.get(orderId) : undefined;
      const ended = isTerminal(order?.status) ? Date.parse(order.updatedAt) : undefined;
      const mailed = orderId ? system.logs.mailRecorded.get(orderId) : undefined;
      const held =
        ended === undefined && order?.holdUntil !== undefined && Date.parse(order.holdUntil) > drainedAt;
      // Not ended and not held: still in the works if its saga runs, or has not started yet (its start message
      // queued behind the burst's); lost only if its saga ended without ending it (or, synchronously, the request
      // died without ending it).
      const open = orderId !== undefined && ended === undefined && !held && kind !== 'sync';
      const execution = open ? system.executionArn(orderId) : undefined;
      const running =
        open &&
        (execution === undefined ||
          system.runtime.engines.stepFunctions.describeExecution({ executionArn: execution }).status ===
            'RUNNING');
      return {
        status: result.status,
        clientLatencyMs: result.latencyMs,
        accepted: orderId !== undefined,
        answeredFinal: final,
        ...(ended !== undefined && isTerminal(order?.status)
          ? { timeToTerminalMs: ended - result.sentAt, terminalStatus: order.status }
          : {}),
        ...(ended !== undefined && mailed !== undefined ? { mailLatencyMs: mailed - ended } : {}),
        ...(held ? { heldByCircuit: true } : {}),
        ...(running ? { sagaRunning: true } : {}),
        ...(orderId && system.logs.mailHeld.has(orderId) ? { mailHeld: true } : {}),
      };
    });
    const sent = run.results.map((r) => r.sentAt);
    const span = (Math.max(...sent) - Math.min(...sent)) / 1000;
    return {
      ...aggregateCell(
        {
          ...cell,
          case: kind,
          ...(kind === 'hybrid' ? { waitSeconds: settings.waitSeconds } : {}),
          achievedRate: span > 0 ? (sent.length - 1) / span : Number.NaN,
        },
        samples,
        peak,
      ),
      ...(campaignResult ? { campaign: campaignResult } : {}),
      ...(mailPath ? { mailPath } : {}),
      downstream: watched,
    };
  } finally {
    if (!peak) sampler.stop();
    if (!watched) downstream.stop();
  }
}

/**
 * Runs `settings.cells` on `system`, each cell's cases in turn (only those `system` serves: the caller passes case 3's
 * cells to the runtime of the burst mail variant, the others to the default one, which has the sync baseline).
 */
export async function runBursts(
  system: BenchSystem,
  baseline: SyncBaseline | undefined,
  settings: BurstSettings,
): Promise<BurstCellResult[]> {
  const results: BurstCellResult[] = [];
  try {
    for (const cell of settings.cells) {
      await system.runtime.setSandboxFaults({
        paymentLatencyMs: cell.paymentLatencyMs,
        paymentFailureRate: cell.paymentFailureRate,
      });
      for (const kind of cell.cases) {
        log(`burst: ${burstCellLabel(cell)}: ${kind}, ${cell.orders} orders in ${cell.seconds} s`);
        const result = await runCase(system, baseline, cell, kind, settings);
        log(
          `burst:   accepted ${result.accepted}/${result.n}, client p99 ${Math.round(result.clientLatency.p99)} ms, ` +
            `terminal p99 ${Math.round(result.timeToTerminal.p99)} ms, held ${result.held ?? 0}, running ${result.running ?? 0}, lost ${result.lost}, ` +
            `mail p99 ${Math.round(result.mailLatency.p99)} ms (missing ${result.mailMissing}, held ${result.mailHeld ?? 0}), ` +
            `payment circuit open ${result.downstream?.paymentCircuitOpenSeconds ?? 0} s, provider waits ` +
            `${result.downstream?.providerWaits ?? 0}` +
            (result.campaign
              ? `, campaign ${result.campaign.sent}/${result.campaign.mails} at ${result.campaign.mailsPerSecond.toFixed(0)}/s`
              : ''),
        );
        results.push(result);
      }
    }
  } finally {
    await system.runtime.setSandboxFaults({});
  }
  return results;
}
