/**
 * The cost model: what one order makes the system do on AWS (measured in the local runtime by the request meter
 * and the engines' own counters), priced with bench/prices.ts. Pure functions, so the arithmetic is unit-tested.
 */
import { PREFER_WAIT_MAX_SECONDS } from '#contracts/api.ts';
import { readGaps } from '#functions/orders/wait.ts';
import type {
  MeterSnapshot,
  RequestCount,
  TableCapacity,
  WriteBreakdownRow,
} from '#local/engines/metering.ts';
import type { CfnTemplate } from '#local/types.ts';
import type { PriceTable } from './prices.ts';

/** What a batch of orders caused, as measured (totals, not per order). */
export interface MeasuredUsage {
  orders: number;
  /** Client requests to the HTTP API (POST /orders; status polls are priced separately by the caller if wanted). */
  httpApiRequests: number;
  /** Per function: invocations and billed GB-seconds (Lambda bills the init phase too). */
  lambda: Array<{ functionName: string; invocations: number; gbSeconds: number }>;
  requests: RequestCount[];
  capacity: Record<string, TableCapacity>;
  stepFunctions: {
    standardTransitions: number;
    expressExecutions: number;
    /** Durations of the EXPRESS executions, for the 100 ms billing steps. */
    expressDurationsMs: number[];
  };
}

/** Resources that stand in for third parties (the sandbox payment provider and mail sink): not Buzzer's bill. */
export interface Exclusions {
  tables: readonly string[];
  functions: readonly string[];
}

/** Billable quantities per order. */
export interface OrderUsage {
  httpApiRequests: number;
  lambdaInvocations: number;
  lambdaGbSeconds: number;
  dynamodbWriteUnits: number;
  dynamodbReadUnits: number;
  eventBridgeEvents: number;
  sqsRequests: number;
  stepFunctionsTransitions: number;
  expressRequests: number;
  expressGbSeconds: number;
}

export interface CostLine {
  service: string;
  quantity: number;
  unit: string;
  /** Dollars per order. */
  usd: number;
}

/** What happened between two snapshots of the request meter. */
export function meterDelta(before: MeterSnapshot, after: MeterSnapshot): MeterSnapshot {
  const key = (row: RequestCount) => `${row.service}\u0000${row.operation}\u0000${row.resource}`;
  const earlier = new Map(before.requests.map((row) => [key(row), row]));
  const requests = after.requests
    .map((row) => {
      const was = earlier.get(key(row));
      return {
        ...row,
        requests: row.requests - (was?.requests ?? 0),
        entries: row.entries - (was?.entries ?? 0),
        errors: row.errors - (was?.errors ?? 0),
      };
    })
    .filter((row) => row.requests > 0);
  const capacity: Record<string, TableCapacity> = {};
  for (const [table, units] of Object.entries(after.capacity)) {
    const was = before.capacity[table];
    capacity[table] = {
      readUnits: units.readUnits - (was?.readUnits ?? 0),
      writeUnits: units.writeUnits - (was?.writeUnits ?? 0),
      indexWriteUnits: units.indexWriteUnits - (was?.indexWriteUnits ?? 0),
    };
  }
  const rowKey = (row: WriteBreakdownRow) => `${row.table}\u0000${row.item}\u0000${row.index}`;
  const earlierWrites = new Map(before.writes.map((row) => [rowKey(row), row]));
  const writes = after.writes
    .map((row) => {
      const was = earlierWrites.get(rowKey(row));
      return { ...row, writes: row.writes - (was?.writes ?? 0), units: row.units - (was?.units ?? 0) };
    })
    .filter((row) => row.writes > 0 || row.units > 0);
  return { requests, capacity, writes, emptyReceives: after.emptyReceives - before.emptyReceives };
}

/** One line of the write breakdown of an order: an item kind, where it was written, and how much per order. */
export interface WriteLine {
  item: string;
  /** `table` for the item itself, else the index name. */
  index: string;
  writesPerOrder: number;
  unitsPerOrder: number;
}

/**
 * The write units of a batch, per order, by item kind and by target (the table, each index), largest first;
 * excluded tables (third parties' stand-ins) left out. Its units add up to `dynamodbWriteUnits`.
 */
export function writeLines(
  rows: readonly WriteBreakdownRow[],
  exclude: Exclusions,
  orders: number,
): WriteLine[] {
  const n = Math.max(1, orders);
  const excluded = new Set(exclude.tables);
  const merged = new Map<string, WriteLine>();
  for (const row of rows) {
    if (excluded.has(row.table)) continue;
    const index = row.index || 'table';
    const key = `${row.item}\u0000${index}`;
    const line = merged.get(key) ?? { item: row.item, index, writesPerOrder: 0, unitsPerOrder: 0 };
    line.writesPerOrder += row.writes / n;
    line.unitsPerOrder += row.units / n;
    merged.set(key, line);
  }
  return [...merged.values()].sort(
    (a, b) =>
      b.unitsPerOrder - a.unitsPerOrder || a.item.localeCompare(b.item) || a.index.localeCompare(b.index),
  );
}

/** GB-seconds Express bills for one execution: memory in 64 MB chunks, duration rounded up to 100 ms. */
export function expressBilledGbSeconds(durationMs: number, prices: PriceTable): number {
  const step = prices.stepFunctionsExpressDurationStepMs;
  const billedMs = Math.max(step, Math.ceil(durationMs / step) * step);
  return (prices.stepFunctionsExpressMemoryMb / 1024) * (billedMs / 1000);
}

/** Billable SQS requests: every request that did work (idle empty receives are counted apart by the meter). */
const SQS_BILLABLE = new Set([
  'SendMessage',
  'SendMessageBatch',
  'ReceiveMessage',
  'DeleteMessage',
  'DeleteMessageBatch',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
]);

export function usagePerOrder(measured: MeasuredUsage, exclude: Exclusions, prices: PriceTable): OrderUsage {
  const n = Math.max(1, measured.orders);
  const excludedTables = new Set(exclude.tables);
  const excludedFunctions = new Set(exclude.functions);
  const lambda = measured.lambda.filter((fn) => !excludedFunctions.has(fn.functionName));
  const capacity = Object.entries(measured.capacity).filter(([table]) => !excludedTables.has(table));
  const sum = (values: number[]) => values.reduce((total, v) => total + v, 0);
  const rows = (service: string) => measured.requests.filter((row) => row.service === service);
  return {
    httpApiRequests: measured.httpApiRequests / n,
    lambdaInvocations: sum(lambda.map((fn) => fn.invocations)) / n,
    lambdaGbSeconds: sum(lambda.map((fn) => fn.gbSeconds)) / n,
    dynamodbWriteUnits: sum(capacity.map(([, c]) => c.writeUnits + c.indexWriteUnits)) / n,
    dynamodbReadUnits: sum(capacity.map(([, c]) => c.readUnits)) / n,
    eventBridgeEvents:
      sum(
        rows('events')
          .filter((r) => r.operation === 'PutEvents')
          .map((r) => r.entries),
      ) / n,
    sqsRequests:
      sum(
        rows('sqs')
          .filter((r) => SQS_BILLABLE.has(r.operation))
          .map((r) => r.requests),
      ) / n,
    stepFunctionsTransitions: measured.stepFunctions.standardTransitions / n,
    expressRequests: measured.stepFunctions.expressExecutions / n,
    expressGbSeconds:
      sum(measured.stepFunctions.expressDurationsMs.map((d) => expressBilledGbSeconds(d, prices))) / n,
  };
}

export function costLines(usage: OrderUsage, prices: PriceTable): CostLine[] {
  const perMillion = (quantity: number, price: number) => (quantity * price) / 1e6;
  const lines: CostLine[] = [
    {
      service: 'API Gateway HTTP API',
      quantity: usage.httpApiRequests,
      unit: 'requests',
      usd: perMillion(usage.httpApiRequests, prices.httpApiPerMillionRequests),
    },
    {
      service: 'Lambda requests',
      quantity: usage.lambdaInvocations,
      unit: 'invocations',
      usd: perMillion(usage.lambdaInvocations, prices.lambdaPerMillionRequests),
    },
    {
      service: 'Lambda duration (arm64)',
      quantity: usage.lambdaGbSeconds,
      unit: 'GB-s',
      usd: usage.lambdaGbSeconds * prices.lambdaPerGbSecondArm64,
    },
    {
      service: 'DynamoDB writes',
      quantity: usage.dynamodbWriteUnits,
      unit: 'WRU',
      usd: perMillion(usage.dynamodbWriteUnits, prices.dynamodbPerMillionWriteUnits),
    },
    {
      service: 'DynamoDB reads',
      quantity: usage.dynamodbReadUnits,
      unit: 'RRU',
      usd: perMillion(usage.dynamodbReadUnits, prices.dynamodbPerMillionReadUnits),
    },
    {
      service: 'EventBridge',
      quantity: usage.eventBridgeEvents,
      unit: 'events',
      usd: perMillion(usage.eventBridgeEvents, prices.eventBridgePerMillionEvents),
    },
    {
      service: 'SQS',
      quantity: usage.sqsRequests,
      unit: 'requests',
      usd: perMillion(usage.sqsRequests, prices.sqsPerMillionRequests),
    },
  ];
  if (usage.stepFunctionsTransitions > 0) {
    lines.push({
      service: 'Step Functions STANDARD',
      quantity: usage.stepFunctionsTransitions,
      unit: 'transitions',
      usd: (usage.stepFunctionsTransitions * prices.stepFunctionsStandardPerThousandTransitions) / 1000,
    });
  }
  if (usage.expressRequests > 0) {
    lines.push(
      {
        service: 'Step Functions EXPRESS requests',
        quantity: usage.expressRequests,
        unit: 'executions',
        usd: perMillion(usage.expressRequests, prices.stepFunctionsExpressPerMillionRequests),
      },
      {
        service: 'Step Functions EXPRESS duration',
        quantity: usage.expressGbSeconds,
        unit: 'GB-s',
        usd: usage.expressGbSeconds * prices.stepFunctionsExpressPerGbSecond,
      },
    );
  }
  return lines;
}

export function totalUsd(lines: readonly CostLine[]): number {
  return lines.reduce((sum, line) => sum + line.usd, 0);
}

/** Dollars per million orders. */
export function perMillionOrders(lines: readonly CostLine[]): number {
  return totalUsd(lines) * 1e6;
}

/** What one second of a `Prefer: wait` costs on AWS (functions/orders/wait.ts), per waited second. */
export interface WaitCost {
  /** Memory of the function that holds the request (the template's). */
  memoryMb: number;
  /** Lambda bills the function for every millisecond it waits, at its memory. */
  gbSeconds: number;
  /** The backoff's reads per second, averaged over the longest wait (quick ones first, then one a second). */
  readsPerSecond: number;
  readUnits: number;
  lines: CostLine[];
  usd: number;
}

/**
 * The cost of one waited second: the function's GB-seconds for that second plus the read units of the backoff reads
 * in it, averaged over a wait of `PREFER_WAIT_MAX_SECONDS` that never sees the order end (the reads are densest at
 * the start, so a shorter wait reads a little more per second; 1.6 a second over 5 s against 1.3 over 10 s). Each
 * read is a strongly consistent GetItem of the order, 1 RRU while the item is under 4 KB (a 20-line order with its
 * timeline is under 3 KB). What the request costs whether it waits or not (the HTTP API request, the Lambda
 * request, the accept itself) is in the cost per order.
 */
export function waitCostPerSecond(memoryMb: number, prices: PriceTable, readUnitsPerRead = 1): WaitCost {
  const gbSeconds = memoryMb / 1024;
  const readsPerSecond = readGaps(PREFER_WAIT_MAX_SECONDS * 1000).length / PREFER_WAIT_MAX_SECONDS;
  const readUnits = readsPerSecond * readUnitsPerRead;
  const lines: CostLine[] = [
    {
      service: 'Lambda duration (arm64)',
      quantity: gbSeconds,
      unit: 'GB-s',
      usd: gbSeconds * prices.lambdaPerGbSecondArm64,
    },
    {
      service: 'DynamoDB reads',
      quantity: readUnits,
      unit: 'RRU',
      usd: (readUnits * prices.dynamodbPerMillionReadUnits) / 1e6,
    },
  ];
  return { memoryMb, gbSeconds, readsPerSecond, readUnits, lines, usd: totalUsd(lines) };
}

/**
 * The memory of the function `service` (its `POWERTOOLS_SERVICE_NAME`, e.g. `api-AcceptOrder`) as the template deploys
 * it; Lambda's default of 128 MB when the template leaves it out.
 */
export function functionMemoryMb(template: CfnTemplate, service: string): number {
  const found = Object.values(template.Resources).filter((resource) => {
    if (resource.Type !== 'AWS::Lambda::Function') return false;
    const environment = resource.Properties?.Environment as
      | { Variables?: Record<string, unknown> }
      | undefined;
    return environment?.Variables?.POWERTOOLS_SERVICE_NAME === service;
  });
  const [fn] = found;
  if (!fn || found.length > 1) {
    throw new Error(`expected one function of service ${service} in the template, found ${found.length}`);
  }
  const memory = fn.Properties?.MemorySize;
  return typeof memory === 'number' ? memory : 128;
}
