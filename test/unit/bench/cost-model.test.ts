import { describe, expect, it } from 'vitest';
import {
  costLines,
  expressBilledGbSeconds,
  functionMemoryMb,
  type MeasuredUsage,
  meterDelta,
  perMillionOrders,
  totalUsd,
  usagePerOrder,
  type WaitCost,
  waitCostPerSecond,
  writeLines,
} from '#bench/cost-model.ts';
import { PRICES } from '#bench/prices.ts';
import { renderMarkdown, waitCostLine } from '#bench/report.ts';
import type { MeterSnapshot } from '#local/engines/metering.ts';
import { benchResults } from './results.ts';

const measured = (overrides: Partial<MeasuredUsage> = {}): MeasuredUsage => ({
  orders: 10,
  httpApiRequests: 10,
  lambda: [
    { functionName: 'Buzzer-Accept', invocations: 10, gbSeconds: 0.5 },
    { functionName: 'Buzzer-SandboxProvider', invocations: 20, gbSeconds: 9 },
  ],
  requests: [
    { service: 'events', operation: 'PutEvents', resource: 'bus', requests: 15, entries: 20, errors: 0 },
    { service: 'sqs', operation: 'SendMessage', resource: 'q', requests: 40, entries: 40, errors: 0 },
    { service: 'sqs', operation: 'ReceiveMessage', resource: 'q', requests: 30, entries: 40, errors: 0 },
    { service: 'sqs', operation: 'DeleteMessageBatch', resource: 'q', requests: 30, entries: 40, errors: 0 },
    { service: 'sqs', operation: 'GetQueueAttributes', resource: 'q', requests: 5, entries: 5, errors: 0 },
    {
      service: 'states',
      operation: 'StartExecution',
      resource: 'saga',
      requests: 10,
      entries: 10,
      errors: 0,
    },
  ],
  capacity: {
    'Buzzer-Data': { readUnits: 90, writeUnits: 300, indexWriteUnits: 100 },
    'Buzzer-SandboxLedger': { readUnits: 1000, writeUnits: 1000, indexWriteUnits: 0 },
  },
  stepFunctions: { standardTransitions: 40, expressExecutions: 0, expressDurationsMs: [] },
  ...overrides,
});

const exclusions = { tables: ['Buzzer-SandboxLedger'], functions: ['Buzzer-SandboxProvider'] };

describe('usagePerOrder', () => {
  it('divides by the orders and leaves the third-party stand-ins out', () => {
    const usage = usagePerOrder(measured(), exclusions, PRICES);
    expect(usage).toEqual({
      httpApiRequests: 1,
      lambdaInvocations: 1,
      lambdaGbSeconds: 0.05,
      dynamodbWriteUnits: 40,
      dynamodbReadUnits: 9,
      eventBridgeEvents: 2,
      sqsRequests: 10,
      stepFunctionsTransitions: 4,
      expressRequests: 0,
      expressGbSeconds: 0,
    });
  });

  it('bills EXPRESS executions by request and by 100 ms steps of 64 MB', () => {
    const usage = usagePerOrder(
      measured({
        stepFunctions: {
          standardTransitions: 0,
          expressExecutions: 10,
          expressDurationsMs: Array(10).fill(250),
        },
      }),
      exclusions,
      PRICES,
    );
    expect(usage.expressRequests).toBe(1);
    expect(usage.expressGbSeconds).toBeCloseTo((64 / 1024) * 0.3, 12);
  });
});

describe('expressBilledGbSeconds', () => {
  it('rounds the duration up to 100 ms and bills at least one step', () => {
    expect(expressBilledGbSeconds(0, PRICES)).toBeCloseTo(0.0625 * 0.1, 12);
    expect(expressBilledGbSeconds(100, PRICES)).toBeCloseTo(0.0625 * 0.1, 12);
    expect(expressBilledGbSeconds(101, PRICES)).toBeCloseTo(0.0625 * 0.2, 12);
    expect(expressBilledGbSeconds(1999, PRICES)).toBeCloseTo(0.0625 * 2, 12);
  });
});

describe('costLines', () => {
  it('prices each service from the price table', () => {
    const lines = costLines(usagePerOrder(measured(), exclusions, PRICES), PRICES);
    const usd = Object.fromEntries(lines.map((l) => [l.service, l.usd]));
    expect(usd['API Gateway HTTP API']).toBeCloseTo(1e-6, 15);
    expect(usd['Lambda requests']).toBeCloseTo(0.2e-6, 15);
    expect(usd['Lambda duration (arm64)']).toBeCloseTo(0.05 * 0.0000133334, 15);
    expect(usd['DynamoDB writes']).toBeCloseTo(40 * 0.625e-6, 15);
    expect(usd['DynamoDB reads']).toBeCloseTo(9 * 0.125e-6, 15);
    expect(usd.EventBridge).toBeCloseTo(2e-6, 15);
    expect(usd.SQS).toBeCloseTo(10 * 0.4e-6, 15);
    expect(usd['Step Functions STANDARD']).toBeCloseTo((4 * 0.025) / 1000, 15);
    expect(usd['Step Functions EXPRESS requests']).toBeUndefined();
    expect(totalUsd(lines)).toBeCloseTo(
      lines.reduce((sum, l) => sum + l.usd, 0),
      15,
    );
    expect(perMillionOrders(lines)).toBeCloseTo(totalUsd(lines) * 1e6, 9);
  });

  it('shows EXPRESS lines instead of transitions for an Express saga', () => {
    const lines = costLines(
      usagePerOrder(
        measured({
          stepFunctions: {
            standardTransitions: 0,
            expressExecutions: 10,
            expressDurationsMs: Array(10).fill(50),
          },
        }),
        exclusions,
        PRICES,
      ),
      PRICES,
    );
    const services = lines.map((l) => l.service);
    expect(services).not.toContain('Step Functions STANDARD');
    expect(services).toContain('Step Functions EXPRESS requests');
    expect(lines.find((l) => l.service === 'Step Functions EXPRESS duration')?.usd).toBeCloseTo(
      0.0625 * 0.1 * 0.00001667,
      15,
    );
  });
});

describe('meterDelta', () => {
  it('subtracts counters and drops operations that did not happen in between', () => {
    const before: MeterSnapshot = {
      requests: [
        { service: 'sqs', operation: 'SendMessage', resource: 'q', requests: 3, entries: 3, errors: 0 },
        { service: 'sqs', operation: 'CreateQueue', resource: 'q', requests: 1, entries: 1, errors: 0 },
      ],
      capacity: { t: { readUnits: 1, writeUnits: 2, indexWriteUnits: 3 } },
      writes: [
        { table: 't', item: 'Order', index: '', writes: 1, units: 2 },
        { table: 't', item: 'Order', index: 'Open', writes: 1, units: 1 },
      ],
      emptyReceives: 5,
    };
    const after: MeterSnapshot = {
      requests: [
        { service: 'sqs', operation: 'SendMessage', resource: 'q', requests: 5, entries: 5, errors: 1 },
        { service: 'sqs', operation: 'CreateQueue', resource: 'q', requests: 1, entries: 1, errors: 0 },
        { service: 'events', operation: 'PutEvents', resource: 'b', requests: 1, entries: 2, errors: 0 },
      ],
      capacity: {
        t: { readUnits: 2, writeUnits: 6, indexWriteUnits: 3 },
        u: { readUnits: 1, writeUnits: 0, indexWriteUnits: 0 },
      },
      writes: [
        { table: 't', item: 'Order', index: '', writes: 3, units: 6 },
        { table: 't', item: 'Order', index: 'Open', writes: 1, units: 1 },
      ],
      emptyReceives: 9,
    };
    expect(meterDelta(before, after)).toEqual({
      requests: [
        { service: 'sqs', operation: 'SendMessage', resource: 'q', requests: 2, entries: 2, errors: 1 },
        { service: 'events', operation: 'PutEvents', resource: 'b', requests: 1, entries: 2, errors: 0 },
      ],
      capacity: {
        t: { readUnits: 1, writeUnits: 4, indexWriteUnits: 0 },
        u: { readUnits: 1, writeUnits: 0, indexWriteUnits: 0 },
      },
      writes: [{ table: 't', item: 'Order', index: '', writes: 2, units: 4 }],
      emptyReceives: 4,
    });
  });
});

describe('writeLines', () => {
  it('gives write units per order by item and target, largest first, without the excluded tables', () => {
    const lines = writeLines(
      [
        { table: 'Buzzer', item: 'Order', index: '', writes: 40, units: 80 },
        { table: 'Buzzer', item: 'Order', index: 'Open', writes: 20, units: 20 },
        { table: 'Buzzer', item: 'Outbox', index: '', writes: 30, units: 60 },
        { table: 'Other', item: 'Order', index: '', writes: 10, units: 20 },
        { table: 'Sandbox', item: 'Charge', index: '', writes: 1000, units: 1000 },
      ],
      { tables: ['Sandbox'], functions: [] },
      10,
    );
    expect(lines).toEqual([
      { item: 'Order', index: 'table', writesPerOrder: 5, unitsPerOrder: 10 },
      { item: 'Outbox', index: 'table', writesPerOrder: 3, unitsPerOrder: 6 },
      { item: 'Order', index: 'Open', writesPerOrder: 2, unitsPerOrder: 2 },
    ]);
  });
});

describe('price source', () => {
  it('names where the prices come from without a path of the machine a report was made on', () => {
    expect(PRICES.source.length).toBeGreaterThan(0);
    // The source is copied into committed reports (bench/results): a local path there means nothing to a reader.
    expect(PRICES.source).not.toMatch(/(^|[\s("'])(\/(work|home|tmp|Users|root)\/|[A-Za-z]:\\)/);
  });
});

describe('waitCostPerSecond', () => {
  it('prices a waited second as the function held open plus the backoff reads in it', () => {
    const cost = waitCostPerSecond(256, PRICES);

    expect(cost.gbSeconds).toBe(0.25);
    // 13 reads in the longest wait (10 s): 100, 300, 700, 1500, 2500, … 9500, 10000 ms.
    expect(cost.readsPerSecond).toBeCloseTo(1.3, 12);
    expect(cost.readUnits).toBeCloseTo(1.3, 12);
    expect(cost.lines.map((l) => l.service)).toEqual(['Lambda duration (arm64)', 'DynamoDB reads']);
    expect(cost.usd).toBeCloseTo(0.25 * 0.0000133334 + 1.3 * 0.125e-6, 15);
    // About $3.50 per million waited seconds, nearly all of it the function's duration.
    expect(cost.usd * 1e6).toBeCloseTo(3.5, 1);
    expect(cost.lines[0]?.usd ?? 0).toBeGreaterThan(0.95 * cost.usd);
  });

  it('follows the memory of the function and the size of the order item', () => {
    const base = waitCostPerSecond(256, PRICES);
    expect(waitCostPerSecond(512, PRICES).gbSeconds).toBe(0.5);
    expect(waitCostPerSecond(256, PRICES, 2).readUnits).toBeCloseTo(2 * base.readUnits, 12);
  });

  it('is printed in the report with its figures', () => {
    const line = waitCostLine(waitCostPerSecond(256, PRICES));
    expect(line).toContain('Cost per waited second of `Prefer: wait`:** $0.00000350');
    expect(line).toContain('($3.50 per million waited seconds)');
    expect(line).toContain('at 256 MB (0.250 GB-s');
    expect(line).toContain('1.3 consistent GetItem a second');
    expect(line).toContain('95 % of it is Lambda duration');
  });
});

describe('functionMemoryMb', () => {
  const fn = (service: string, memory?: number) => ({
    Type: 'AWS::Lambda::Function',
    Properties: {
      ...(memory === undefined ? {} : { MemorySize: memory }),
      Environment: { Variables: { POWERTOOLS_SERVICE_NAME: service } },
    },
  });

  it("reads the memory of the service's function from the template, 128 MB when it is left out", () => {
    const template = {
      Resources: { A: fn('api-AcceptOrder', 512), B: fn('api-GetOrder'), Q: { Type: 'AWS::SQS::Queue' } },
    };
    expect(functionMemoryMb(template, 'api-AcceptOrder')).toBe(512);
    expect(functionMemoryMb(template, 'api-GetOrder')).toBe(128);
  });

  it('refuses a template without that function, or with two', () => {
    expect(() => functionMemoryMb({ Resources: {} }, 'api-AcceptOrder')).toThrow(/found 0/);
    expect(() => functionMemoryMb({ Resources: { A: fn('x', 256), B: fn('x', 256) } }, 'x')).toThrow(
      /found 2/,
    );
  });
});

describe('the report', () => {
  const results = (waitCost?: WaitCost) => benchResults(waitCost ? { waitCost } : {});

  it('prints the cost per waited second in its cost section, and leaves it out of results made before it', () => {
    const waitCost = waitCostPerSecond(256, PRICES);
    const markdown = renderMarkdown(results(waitCost));
    const section = markdown.slice(markdown.indexOf('## 5. Cost per order'));
    expect(section).toContain(waitCostLine(waitCost));
    expect(renderMarkdown(results())).not.toContain('Cost per waited second');
  });

  it('leaves out the sections a partial run (`--only`) has no figures for, rather than print empty tables', () => {
    const markdown = renderMarkdown(results());
    for (const title of [
      '## 1. Accept path',
      '## 2. Synchronous',
      '## 3. Time to terminal',
      '## 4. Cold starts',
    ]) {
      expect(markdown).not.toContain(title);
    }
    expect(markdown).toContain('## How this was measured');
  });
});
