/**
 * Cost per order: a runtime started with the request meter runs a batch of happy orders (tok_ok → CONFIRMED) and a
 * batch of compensated ones (tok_decline → VoidPayment, ReleaseStock, CancelOrder → CANCELLED); the requests,
 * request units, invocations, GB-seconds and state transitions each batch caused, divided by its orders, are
 * priced with bench/prices.ts. Run once per saga workflow type (STANDARD, EXPRESS).
 */
import { RequestMeter } from '#local/engines/metering.ts';
import {
  type CostLine,
  costLines,
  type MeasuredUsage,
  meterDelta,
  type OrderUsage,
  totalUsd,
  usagePerOrder,
  type WriteLine,
  writeLines,
} from '../cost-model.ts';
import {
  type BenchSystem,
  log,
  orderRequest,
  quiesce,
  startBenchSystem,
  trackingIdOf,
  waitForSagas,
} from '../harness.ts';
import { PRICES } from '../prices.ts';
import { orderStatuses } from './terminal.ts';

export type OrderPath = 'happy' | 'compensating';

export interface PathCost {
  workflowType: 'STANDARD' | 'EXPRESS';
  path: OrderPath;
  orders: number;
  /** How many of them ended as the path intends (CONFIRMED / CANCELLED). */
  asIntended: number;
  usage: OrderUsage;
  lines: CostLine[];
  usdPerOrder: number;
  usdPerMillion: number;
  /** Requests per order by `service operation`, Lambda invocations by function, as measured. */
  requestsPerOrder: Record<string, number>;
  /** DynamoDB write units per order by item kind and by table / index (absent from results made before it existed). */
  writesPerOrder?: WriteLine[];
  /** SQS messages per non-empty receive: how much the pollers batched at this arrival rate. */
  messagesPerReceive: number;
  /** Function log bytes per order (CloudWatch Logs ingestion is not in the price table). */
  logBytesPerOrder: number;
}

export interface CostSettings {
  orders: number;
  ratePerSecond: number;
}

const TOKENS: Record<OrderPath, string> = { happy: 'tok_ok', compensating: 'tok_decline' };
const INTENDED: Record<OrderPath, string> = { happy: 'CONFIRMED', compensating: 'CANCELLED' };

function shortName(functionName: string, stackName: string): string {
  return functionName
    .replace(`${stackName}-`, '')
    .replace(/[0-9A-F]{8}$/, '')
    .replace(/Function$/, '');
}

async function placeBatch(system: BenchSystem, path: OrderPath, settings: CostSettings): Promise<string[]> {
  const run = await system.load.run({
    mode: { type: 'open', ratePerSecond: settings.ratePerSecond },
    requests: Array.from({ length: settings.orders }, () =>
      orderRequest(system.apiUrl, system.apiKey, { paymentToken: TOKENS[path] }),
    ),
    timeoutMs: 30_000,
  });
  const orderIds = run.results
    .map((r) => (r.status === 202 ? trackingIdOf(r.body) : undefined))
    .filter((id): id is string => id !== undefined);
  await waitForSagas(system, orderIds, 120_000);
  await quiesce(system);
  return orderIds;
}

async function measurePath(
  system: BenchSystem,
  meter: RequestMeter,
  workflowType: PathCost['workflowType'],
  path: OrderPath,
  settings: CostSettings,
): Promise<PathCost> {
  log(`cost: ${workflowType} ${path} (${settings.orders} orders)`);
  const { lambda, stepFunctions } = system.runtime.engines;
  const meterBefore = meter.snapshot();
  const lambdaBefore = lambda.metrics();
  const executionsBefore = new Set(Object.keys(stepFunctions.metrics().byExecution));
  const transitionsBefore = stepFunctions.metrics().standardStateTransitions;
  const logBytesBefore = system.logs.totalBytes();

  const orderIds = await placeBatch(system, path, settings);

  const delta = meterDelta(meterBefore, meter.snapshot());
  const lambdaAfter = lambda.metrics();
  const sfn = stepFunctions.metrics();
  const newExecutions = Object.entries(sfn.byExecution).filter(([arn]) => !executionsBefore.has(arn));
  const measured: MeasuredUsage = {
    orders: orderIds.length,
    httpApiRequests: orderIds.length,
    lambda: Object.entries(lambdaAfter).map(([name, after]) => ({
      functionName: name,
      invocations: after.invocations - (lambdaBefore[name]?.invocations ?? 0),
      gbSeconds: after.gbSeconds - (lambdaBefore[name]?.gbSeconds ?? 0),
    })),
    requests: delta.requests,
    capacity: delta.capacity,
    stepFunctions: {
      standardTransitions: sfn.standardStateTransitions - transitionsBefore,
      expressExecutions: newExecutions.filter(([, e]) => e.type === 'EXPRESS').length,
      expressDurationsMs: newExecutions
        .filter(([, e]) => e.type === 'EXPRESS')
        .map(([, e]) => e.durationMs ?? 0),
    },
  };
  const sandboxIds = Object.keys(system.runtime.info.functions).filter((id) => id.startsWith('Sandbox'));
  const exclusions = {
    functions: sandboxIds.map((id) => system.runtime.info.functions[id] ?? ''),
    tables: Object.entries(system.runtime.info.tables)
      .filter(([id]) => id.startsWith('Sandbox'))
      .map(([, name]) => name),
  };
  const usage = usagePerOrder(measured, exclusions, PRICES);
  const lines = costLines(usage, PRICES);
  const n = Math.max(1, orderIds.length);
  const stack = system.runtime.info.stackName;
  const requestsPerOrder: Record<string, number> = {};
  for (const row of delta.requests) {
    if (row.service === 'dynamodb' && exclusions.tables.includes(row.resource)) continue;
    const key = `${row.service} ${row.operation}`;
    requestsPerOrder[key] = (requestsPerOrder[key] ?? 0) + row.requests / n;
  }
  for (const fn of measured.lambda) {
    if (fn.invocations === 0 || exclusions.functions.includes(fn.functionName)) continue;
    requestsPerOrder[`lambda Invoke ${shortName(fn.functionName, stack)}`] = fn.invocations / n;
  }
  const receives = delta.requests.filter((r) => r.service === 'sqs' && r.operation === 'ReceiveMessage');
  const received = receives.reduce((sum, r) => sum + r.entries, 0);
  const receiveCalls = receives.reduce((sum, r) => sum + r.requests, 0);
  const statuses = await orderStatuses(system, orderIds);
  return {
    workflowType,
    path,
    orders: orderIds.length,
    asIntended: orderIds.filter((id) => statuses.get(id) === INTENDED[path]).length,
    usage,
    lines,
    usdPerOrder: totalUsd(lines),
    usdPerMillion: totalUsd(lines) * 1e6,
    requestsPerOrder,
    writesPerOrder: writeLines(delta.writes, exclusions, orderIds.length),
    messagesPerReceive: receiveCalls > 0 ? received / receiveCalls : 0,
    logBytesPerOrder: (system.logs.totalBytes() - logBytesBefore) / n,
  };
}

/**
 * `synth: false` runs the assembly synthesized at the start of the benchmark, so the cost runs measure the same
 * code as the latency runs even if the sources change meanwhile.
 */
export async function runCost(
  workflowType: PathCost['workflowType'],
  cdkOut: string,
  settings: CostSettings,
  synth: boolean,
): Promise<PathCost[]> {
  const meter = new RequestMeter();
  log(`cost: starting a metered ${workflowType} runtime (${cdkOut})`);
  const system = await startBenchSystem({
    cdkOut,
    meter,
    synth,
    ...(workflowType === 'EXPRESS' ? { context: { workflowType: 'EXPRESS' } } : {}),
  });
  try {
    const type = system.runtime.engines.stepFunctions.describeStateMachine({
      stateMachineArn: system.stateMachineArn,
    }).type;
    if (type !== workflowType) throw new Error(`expected a ${workflowType} saga, the template has ${type}`);
    // Warm-up: environments started and first-call costs paid before anything is counted.
    await placeBatch(system, 'happy', { orders: 4, ratePerSecond: settings.ratePerSecond });
    await placeBatch(system, 'compensating', { orders: 4, ratePerSecond: settings.ratePerSecond });
    const happy = await measurePath(system, meter, workflowType, 'happy', settings);
    const compensating = await measurePath(system, meter, workflowType, 'compensating', settings);
    return [happy, compensating];
  } finally {
    await system.stop();
    await meter.stop();
  }
}
