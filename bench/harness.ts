/**
 * The running system under benchmark: a local runtime started from the synthesized template, plus what the bench
 * needs to observe it without changing it — the functions' log lines (hop timestamps), the events each function
 * received first (replayed by the cold-start runs), a way to hold a function's invocations back, and waits for
 * sagas and queues to settle.
 */

import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { BuildOptions } from 'esbuild';
import { MAX_CLIENT_BURST_LIMIT, MAX_CLIENT_RATE_LIMIT } from '#contracts/api.ts';
import { setClientLimits } from '#functions/clients/limits.ts';
import type { PlaceOrder } from '#functions/orders/order.ts';
import { type BuzzerRuntime, startBuzzer } from '#local/buzzer/start.ts';
import type { LambdaInvokeResult } from '#local/engines/lambda/service.ts';
import type { RequestMeter } from '#local/engines/metering.ts';
import { LOCAL_QUEUES_TARGET, type QueueStatsResponse } from '#local/engines/sqs-stats.ts';
import { type HttpLoadRequest, LoadGenerator } from './load.ts';

/**
 * The esbuild options the bench bundles a handler with, as Lambda runs it (one CommonJS file for Node 24, minified,
 * with a source map): the cold-start section and the synchronous baseline must measure bundles built alike.
 */
/** The template the bench's latency runtime (and the profile) run: STANDARD saga, synthesized for the bench. */
export const BENCH_CDK_OUT = '.buzzer/cdk.out-bench';

export const LAMBDA_BUNDLE = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node24',
  minify: true,
  sourcemap: true,
  logLevel: 'error',
} as const satisfies BuildOptions;

export interface PublishedRecord {
  messageId: string;
  messageType: string;
  /** Epoch ms of the relay's log line, written after PutEvents and the PUBLISHED mark. */
  at: number;
}

/** The log lines the hop breakdown needs, indexed as they arrive; and log volume per function. */
export class LogCollector {
  readonly published = new Map<string, PublishedRecord[]>();
  readonly sagaStarted = new Map<string, number>();
  /** Order id → epoch ms the mail sink recorded the order's (first) mail. */
  readonly mailRecorded = new Map<string, number>();
  /** Idempotency key → epoch ms the mail sink first recorded a mail under it (a campaign's mails have no order). */
  readonly mailRecordedByKey = new Map<string, number>();
  /** Order ids whose mail a sender held behind the open mail circuit at least once. */
  readonly mailHeld = new Set<string>();
  readonly bytesByFunction = new Map<string, number>();

  accept(functionName: string, line: string): void {
    this.bytesByFunction.set(functionName, (this.bytesByFunction.get(functionName) ?? 0) + line.length + 1);
    if (!line.startsWith('{')) return;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const at = typeof record.timestamp === 'string' ? Date.parse(record.timestamp) : Number.NaN;
    if (record.message === 'outbox message published' && typeof record.correlationId === 'string') {
      const list = this.published.get(record.correlationId) ?? [];
      list.push({ messageId: String(record.messageId), messageType: String(record.messageType), at });
      this.published.set(record.correlationId, list);
    } else if (record.message === 'saga started' && typeof record.orderId === 'string') {
      this.sagaStarted.set(record.orderId, at);
    } else if (record.message === 'mail held: the mail circuit is open') {
      if (typeof record.orderId === 'string') this.mailHeld.add(record.orderId);
    } else if (record.message === 'mail recorded') {
      if (typeof record.orderId === 'string' && !this.mailRecorded.has(record.orderId)) {
        this.mailRecorded.set(record.orderId, at);
      }
      if (typeof record.idempotencyKey === 'string' && !this.mailRecordedByKey.has(record.idempotencyKey)) {
        this.mailRecordedByKey.set(record.idempotencyKey, at);
      }
    }
  }

  totalBytes(): number {
    return [...this.bytesByFunction.values()].reduce((sum, bytes) => sum + bytes, 0);
  }
}

/** `arn:aws:lambda:…:function:NAME[:qualifier]` or `NAME` → `NAME`. */
export function functionNameOf(nameOrArn: string): string {
  const parts = nameOrArn.split(':');
  const at = parts.indexOf('function');
  return at >= 0 ? (parts[at + 1] ?? nameOrArn) : (parts[0] ?? nameOrArn);
}

/**
 * Sits in front of the Lambda service's `invoke` (every caller — HTTP API, pollers, Step Functions — goes through
 * it): keeps the first event each function received, and can hold a function's invocations until released.
 */
export class InvocationTap {
  readonly firstEvents = new Map<string, unknown>();
  private readonly gates = new Map<string, Promise<void>>();
  private readonly observers = new Map<string, (event: unknown, at: number) => void>();

  constructor(runtime: BuzzerRuntime) {
    const lambda = runtime.engines.lambda;
    const invoke = lambda.invoke.bind(lambda);
    lambda.invoke = async (nameOrArn: string, event: unknown): Promise<LambdaInvokeResult> => {
      const name = functionNameOf(nameOrArn);
      if (!this.firstEvents.has(name)) this.firstEvents.set(name, structuredClone(event));
      this.observers.get(name)?.(event, Date.now());
      const gate = this.gates.get(name);
      if (gate) await gate;
      return invoke(nameOrArn, event);
    };
  }

  /** Calls `observer` with every event `functionName` is invoked with, when the invocation is requested. */
  observe(functionName: string, observer: (event: unknown, at: number) => void): void {
    this.observers.set(functionName, observer);
  }

  /** Holds every invocation of `functionName` until the returned function is called. */
  hold(functionName: string): () => void {
    let release: () => void = () => {};
    this.gates.set(
      functionName,
      new Promise<void>((resolve) => {
        release = resolve;
      }),
    );
    return () => {
      this.gates.delete(functionName);
      release();
    };
  }
}

export interface BenchSystem {
  runtime: BuzzerRuntime;
  apiUrl: string;
  apiKey: string;
  /** Every client's API key, `bench` included. */
  apiKeys: Record<string, string>;
  sandboxUrl: string;
  tableName: string;
  stateMachineArn: string;
  logs: LogCollector;
  tap: InvocationTap;
  /** The clients' load generator: one worker thread whose HTTP and SDK clients stay warm from run to run. */
  load: LoadGenerator;
  /** Function names by the short logical prefix (`ApiAcceptOrder`, `OutboxRelayHandler`, …). */
  functionNamed(prefix: string): string;
  /** What a deployed function name is: its template logical id without CDK's hash (`SettlementPageFunction`). */
  logicalIdOf(functionName: string): string;
  /** The ARN of an order's saga execution, once it has started. */
  executionArn(orderId: string): string | undefined;
  stop(): Promise<void>;
}

export interface BenchSystemOptions {
  cdkOut?: string;
  /** Synthesize first (skipped by the runtime when nothing changed). @default true */
  synth?: boolean;
  context?: Record<string, string>;
  meter?: RequestMeter;
  /** Execution environments per function without reserved concurrency. @default the runtime's (4) */
  lambdaConcurrency?: number;
  /** Function environment over the template's (the resilience sections compress the breaker's times). */
  environment?: Record<string, string>;
  /** API clients besides `bench` (each gets a key in `apiKeys`, with the default limits). */
  otherClients?: string[];
}

export async function startBenchSystem(options: BenchSystemOptions = {}): Promise<BenchSystem> {
  const logs = new LogCollector();
  const runtime = await startBuzzer({
    apiPort: 0,
    clients: ['bench', ...(options.otherClients ?? [])],
    // The warm-up registers a webhook on a receiver at 127.0.0.1 (one delivery, so the dispatcher is measured).
    allowLoopbackWebhooks: true,
    functionLogSink: (fn, line) => logs.accept(fn, line),
    synth: options.synth ?? true,
    ...(options.cdkOut ? { cdkOut: options.cdkOut } : {}),
    ...(options.context ? { context: options.context } : {}),
    ...(options.meter ? { meter: options.meter } : {}),
    ...(options.lambdaConcurrency ? { lambdaConcurrency: options.lambdaConcurrency } : {}),
    ...(options.environment ? { environment: options.environment } : {}),
  });
  const { apiUrl, sandboxUrl } = runtime.info;
  const tableName = runtime.info.outputs.TableName;
  const stateMachineArn = Object.values(runtime.info.stateMachines)[0];
  const apiKey = runtime.info.apiKeys.bench;
  if (!apiUrl || !sandboxUrl || typeof tableName !== 'string' || !stateMachineArn || !apiKey) {
    await runtime.stop();
    throw new Error('the synthesized stack lacks ApiUrl, SandboxUrl, TableName or a state machine');
  }
  // The bench measures the system, not the per-client limits (README, "Rate limits"): its one client may send as
  // much as a client can be allowed; every request still takes its token, so the bucket's write is measured.
  await setClientLimits({ doc: runtime.clients.doc, tableName }, 'bench', {
    rateLimit: MAX_CLIENT_RATE_LIMIT,
    burstLimit: MAX_CLIENT_BURST_LIMIT,
  });
  const tap = new InvocationTap(runtime);
  const load = new LoadGenerator();
  // EXPRESS execution ARNs end in a random id (`…:express:<machine>:<name>:<uuid>`), so they are looked up by name.
  const executions = new Map<string, string>();
  return {
    runtime,
    apiUrl,
    apiKey,
    apiKeys: runtime.info.apiKeys,
    sandboxUrl,
    tableName,
    stateMachineArn,
    logs,
    tap,
    load,
    logicalIdOf(functionName) {
      const entry = Object.entries(runtime.info.functions).find(([, name]) => name === functionName);
      return entry ? entry[0].replace(/[A-F0-9]{8}$/, '') : functionName;
    },
    functionNamed(prefix) {
      const entry = Object.entries(runtime.info.functions).find(([logicalId]) =>
        logicalId.startsWith(prefix),
      );
      if (!entry) throw new Error(`no function whose logical id starts with ${prefix}`);
      return entry[1];
    },
    executionArn(orderId) {
      const name = `order-${orderId}`;
      if (!executions.has(name)) {
        for (const arn of Object.keys(runtime.engines.stepFunctions.metrics().byExecution)) {
          executions.set(arn.split(':')[7] ?? '', arn);
        }
      }
      return executions.get(name);
    },
    async stop() {
      await load.close();
      await runtime.stop();
    },
  };
}

export interface OrderOptions {
  paymentToken?: string;
  correlationId?: string;
  idempotencyKey?: string;
}

/** The order every benchmark places: two espressos, the demo catalogue's cheapest line. */
export const orderPayload = (paymentToken = 'tok_ok'): PlaceOrder => ({
  customer: { id: `cust-${randomUUID().slice(0, 8)}`, email: 'ada@example.com', name: 'Ada' },
  items: [{ sku: 'espresso', quantity: 2 }],
  currency: 'EUR',
  paymentToken,
});

/** A `POST /orders` as a client sends it. */
export function orderRequest(baseUrl: string, apiKey: string, options: OrderOptions = {}): HttpLoadRequest {
  return {
    kind: 'http',
    url: `${baseUrl}/orders`,
    method: 'POST',
    headers: {
      authorization: `Bearer ${apiKey}`,
      'content-type': 'application/json',
      'idempotency-key': options.idempotencyKey ?? randomUUID(),
      'x-correlation-id': options.correlationId ?? `bench-${randomUUID()}`,
    },
    body: JSON.stringify(orderPayload(options.paymentToken)),
  };
}

/**
 * Requests that warm a load worker's HTTP client without placing orders: status reads of unknown orders (404).
 * They still run the API, its authorizer and the get-order function.
 */
export function warmupRequests(baseUrl: string, apiKey: string, count = 8): HttpLoadRequest[] {
  return Array.from({ length: count }, () => ({
    kind: 'http',
    url: `${baseUrl}/orders/${randomUUID()}`,
    method: 'GET',
    headers: { authorization: `Bearer ${apiKey}` },
  }));
}

export function trackingIdOf(body: string): string | undefined {
  return stringField(body, 'trackingId');
}

/** The order's status in an answer that carries the order (a synchronous or `Prefer: wait` 200). */
export function orderStatusOf(body: string): string | undefined {
  return stringField(body, 'status');
}

function stringField(body: string, field: 'trackingId' | 'status'): string | undefined {
  try {
    const value = (JSON.parse(body) as Record<string, unknown>)[field];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

export interface ExecutionOutcome {
  status: string;
  startDate: number;
  stopDate: number;
}

/** Waits until every order's saga has ended (or the time is up); returns the outcomes of those that did. */
export async function waitForSagas(
  system: BenchSystem,
  orderIds: readonly string[],
  timeoutMs: number,
): Promise<Map<string, ExecutionOutcome>> {
  const done = new Map<string, ExecutionOutcome>();
  const deadline = Date.now() + timeoutMs;
  let pending = [...orderIds];
  while (pending.length > 0 && Date.now() < deadline) {
    pending = pending.filter((orderId) => {
      const executionArn = system.executionArn(orderId);
      // Not started yet: the OrderPlaced event is still on its way.
      if (!executionArn) return true;
      const execution = system.runtime.engines.stepFunctions.describeExecution({ executionArn });
      if (execution.status === 'RUNNING' || !execution.stopDate) return true;
      done.set(orderId, {
        status: execution.status,
        startDate: execution.startDate.getTime(),
        stopDate: execution.stopDate.getTime(),
      });
      return false;
    });
    if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return done;
}

/**
 * Waits until the system is idle: no invocation running and the invocation count unchanged for `quietMs` (the
 * workers behind the sagas finish after them).
 */
export async function quiesce(system: BenchSystem, timeoutMs = 60_000, quietMs = 1200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    const metrics = Object.values(system.runtime.engines.lambda.metrics());
    const invocations = metrics.reduce((sum, m) => sum + m.invocations, 0);
    const busy = metrics.some((m) => m.concurrentExecutions > 0);
    const running = system.runtime.engines.stepFunctions.metrics().executions.RUNNING;
    if (invocations !== last || busy || running > 0) {
      last = invocations;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= quietMs) {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** Messages per queue that has any: visible, in flight or delayed (the engine's own figures, DLQs left out). */
export async function queuedMessages(system: BenchSystem): Promise<Map<string, number>> {
  const response = await fetch(system.runtime.info.endpoints.gateway, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `${LOCAL_QUEUES_TARGET}.GetQueueStats`,
    },
    body: '{}',
  });
  const { queues } = (await response.json()) as QueueStatsResponse;
  return new Map(
    queues
      .filter((q) => !/dlq|deadletter/i.test(q.queueName))
      .map((q) => [q.queueName, q.visible + q.inFlight + q.delayed] as const)
      .filter(([, messages]) => messages > 0),
  );
}

/**
 * `quiesce`, and the runtime's queues empty too: a message held back by a delay (a mail held by the open mail
 * circuit, a retry's backoff) keeps no function busy for up to 15 minutes, and the invocation count alone calls the
 * system idle while it waits. Answers the queues still holding messages when `timeoutMs` ran out (empty: drained).
 */
export async function drainQueues(system: BenchSystem, timeoutMs: number): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const idle = await quiesce(system, Math.max(1, deadline - Date.now()));
    const queued = await queuedMessages(system);
    if ((idle && queued.size === 0) || Date.now() >= deadline) return queued;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A table with the same keys, indexes and stream as `source` (the floor and the sync baseline write there). */
export async function cloneTable(system: BenchSystem, source: string, name: string): Promise<string> {
  const client = system.runtime.clients.dynamodb;
  const { Table } = await client.send(new DescribeTableCommand({ TableName: source }));
  if (!Table) throw new Error(`table ${source} not found`);
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: Table.KeySchema,
      AttributeDefinitions: Table.AttributeDefinitions,
      ...(Table.GlobalSecondaryIndexes?.length
        ? {
            GlobalSecondaryIndexes: Table.GlobalSecondaryIndexes.map((index) => ({
              IndexName: index.IndexName,
              KeySchema: index.KeySchema,
              Projection: index.Projection,
            })),
          }
        : {}),
      ...(Table.StreamSpecification ? { StreamSpecification: Table.StreamSpecification } : {}),
    }),
  );
  return name;
}

export const log = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};
