import { describe, expect, it } from 'vitest';
import {
  costLines,
  expressBilledGbSeconds,
  type MeasuredUsage,
  meterDelta,
  perMillionOrders,
  totalUsd,
  usagePerOrder,
} from '#bench/cost-model.ts';
import { PRICES } from '#bench/prices.ts';
import type { MeterSnapshot } from '#local/engines/metering.ts';

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
      emptyReceives: 4,
    });
  });
});

describe('price source', () => {
  it('names where the prices come from without a path of the machine a report was made on', () => {
    expect(PRICES.source.length).toBeGreaterThan(0);
    // The source is copied into committed reports (bench/results): a local path there means nothing to a reader.
    expect(PRICES.source).not.toMatch(/(^|[\s("'])(\/(work|home|tmp|Users|root)\/|[A-Za-z]:\\)/);
  });
});
