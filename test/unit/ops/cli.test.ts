import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import {
  clientsForAws,
  clientsForRuntime,
  contextFor,
  OperatorError,
  type OpsTarget,
  queueArnFromUrl,
  resolveQueue,
  streamsClient,
  targetFromRuntime,
} from '#ops/cli/context.ts';
import { humanAge, matchesFilters, parseDuration, parseFilter, parseTime, table } from '#ops/cli/format.ts';
import { stepsFromHistory } from '#ops/cli/order.ts';
import { runCli } from '#ops/cli/program.ts';
import { maskEmail, redact } from '#ops/cli/redact.ts';
import { queue, runtimeFile } from './helpers.ts';

describe('discovery', () => {
  it('builds the target from a runtime description and its OperatorQueues output', () => {
    const target = targetFromRuntime(runtimeFile);

    expect(target).toMatchObject({ kind: 'local', tableName: 'Buzzer-Table', eventBusName: 'Buzzer-Bus' });
    expect(target.queues.find((q) => q.alias === 'notify')).toEqual({
      alias: 'notify',
      dlq: queue('NotifierQueueDlq1'),
      source: queue('NotifierQueue1'),
      maxAgeSeconds: 900,
    });
    expect(target.queues.find((q) => q.alias === 'relay')?.source).toBeUndefined();
  });

  it('says what to do when the stack predates the outputs', () => {
    const { OperatorQueues: _gone, ...outputs } = runtimeFile.outputs;
    expect(() => targetFromRuntime({ ...runtimeFile, outputs })).toThrow(/OperatorQueues output/);
  });

  it('resolves aliases, unique prefixes, words and logical ids, and refuses ambiguity', () => {
    const target: OpsTarget = targetFromRuntime(runtimeFile);

    expect(resolveQueue(target, 'notify').alias).toBe('notify');
    expect(resolveQueue(target, 'saga').alias).toBe('saga-start');
    expect(resolveQueue(target, 'fan-out').alias).toBe('webhooks-fan-out');
    expect(resolveQueue(target, 'OutboxRelayDlq1').alias).toBe('relay');
    expect(() => resolveQueue(target, 'webhooks')).toThrow(/could be webhooks-delivery or webhooks-fan-out/);
    expect(() => resolveQueue(target, 'mail')).toThrow(OperatorError);
  });

  it('derives a queue ARN from an AWS queue URL', () => {
    expect(
      queueArnFromUrl('https://sqs.eu-west-1.amazonaws.com/123456789012/Buzzer-Dlq', 'eu-west-1', 'aws'),
    ).toBe('arn:aws:sqs:eu-west-1:123456789012:Buzzer-Dlq');
  });
});

describe('the DynamoDB Streams client (relay replay)', () => {
  const runtime = (env: Record<string, string>) => ({
    clientEnvironment: {
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8001',
      AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9324',
      AWS_ENDPOINT_URL_SFN: 'http://127.0.0.1:4000',
      AWS_ENDPOINT_URL_EVENTBRIDGE: 'http://127.0.0.1:4000',
      ...env,
    },
  });
  const endpointOf = async (clients: ReturnType<typeof clientsForAws>) =>
    (await streamsClient(clients).config.endpoint?.())?.port;

  it('is made on first use only, once, and closed with the other clients', () => {
    const clients = clientsForRuntime(runtime({}));
    expect(clients.streams).toBeUndefined();

    const streams = streamsClient(clients);
    expect(streamsClient(clients)).toBe(streams);
    let destroyed = 0;
    streams.destroy = () => {
      destroyed += 1;
    };
    contextFor(targetFromRuntime(runtimeFile), clients).close();
    expect(destroyed).toBe(1);
  });

  it("talks to the local runtime's DynamoDB Local: its streams endpoint, else its DynamoDB one", async () => {
    // The runtime's DynamoDB endpoint may be a metering proxy; it names DynamoDB Local's own for the streams.
    expect(
      await endpointOf(
        clientsForRuntime(runtime({ AWS_ENDPOINT_URL_DYNAMODB_STREAMS: 'http://127.0.0.1:8000' })),
      ),
    ).toBe(8000);
    expect(await endpointOf(clientsForRuntime(runtime({})))).toBe(8001);
  });

  it("uses the target's region on AWS", async () => {
    expect(await streamsClient(clientsForAws('eu-central-1')).config.region()).toBe('eu-central-1');
  });
});

describe('filters', () => {
  const body = {
    'detail-type': 'OrderConfirmed',
    detail: { orderId: 'o-1', version: 3, payload: { items: [{ sku: 'espresso' }] } },
  };

  it('match dotted paths, indexes, quoted keys and non-string values', () => {
    expect(matchesFilters(body, [parseFilter('detail.orderId=o-1')])).toBe(true);
    expect(matchesFilters(body, [parseFilter('$.detail.payload.items[0].sku=espresso')])).toBe(true);
    expect(matchesFilters(body, [parseFilter("$['detail-type']=OrderConfirmed")])).toBe(true);
    expect(matchesFilters(body, [parseFilter('detail.version=3')])).toBe(true);
    expect(matchesFilters(body, [parseFilter('detail.orderId=o-1'), parseFilter('detail.version=4')])).toBe(
      false,
    );
    expect(matchesFilters(body, [parseFilter('detail.missing=x')])).toBe(false);
  });

  it('reject what is not path=value', () => {
    expect(() => parseFilter('detail.orderId')).toThrow(OperatorError);
    expect(() => parseFilter('detail[x]=1')).toThrow(OperatorError);
  });
});

describe('times and tables', () => {
  it('parses durations and times', () => {
    const now = new Date('2026-05-01T12:00:00.000Z');
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseTime('2h', now).toISOString()).toBe('2026-05-01T10:00:00.000Z');
    expect(parseTime('2026-04-30T00:00:00Z', now).toISOString()).toBe('2026-04-30T00:00:00.000Z');
    expect(() => parseDuration('soon')).toThrow(OperatorError);
    expect(humanAge(75)).toBe('1m15s');
    expect(humanAge(90_000)).toBe('1d01h');
  });

  it('pads columns and right-aligns numbers', () => {
    expect(
      table(
        ['queue', 'messages'],
        [
          ['notify', 3],
          ['saga-start', 12],
        ],
      ),
    ).toBe(
      '  queue       messages\n  ----------  --------\n  notify             3\n  saga-start        12\n',
    );
    expect(table(['a'], [])).toBe('  (none)\n');
  });
});

describe('redaction', () => {
  it('masks e-mail addresses and personal fields of customers, nothing else', () => {
    const redacted = redact({
      detail: {
        payload: {
          customer: { id: 'c-1', email: 'ada@example.com', name: 'Ada Lovelace' },
          items: [{ name: 'cup' }],
        },
      },
      to: 'grace@example.org',
    });

    expect(redacted).toEqual({
      detail: {
        payload: {
          customer: { id: 'c-1', email: 'a***@example.com', name: '[redacted]' },
          items: [{ name: 'cup' }],
        },
      },
      to: 'g***@example.org',
    });
    expect(maskEmail('not-an-address')).toBe('[redacted]');
  });
});

describe('saga history summary', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 4, 1, 12, 0, s));
  it('turns history events into steps with retries, catches and the Fail state', () => {
    const events: HistoryEvent[] = [
      { id: 1, type: 'ExecutionStarted', timestamp: at(0) },
      {
        id: 2,
        type: 'TaskStateEntered',
        timestamp: at(1),
        stateEnteredEventDetails: { name: 'ReserveStock' },
      },
      { id: 3, type: 'TaskStateExited', timestamp: at(2), stateExitedEventDetails: { name: 'ReserveStock' } },
      {
        id: 4,
        type: 'TaskStateEntered',
        timestamp: at(3),
        stateEnteredEventDetails: { name: 'AuthorizePayment' },
      },
      {
        id: 5,
        type: 'TaskFailed',
        timestamp: at(4),
        taskFailedEventDetails: {
          error: 'PaymentProviderUnavailable',
          resource: 'invoke',
          resourceType: 'lambda',
        },
      },
      {
        id: 6,
        type: 'TaskFailed',
        timestamp: at(5),
        taskFailedEventDetails: {
          error: 'PaymentProviderUnavailable',
          resource: 'invoke',
          resourceType: 'lambda',
        },
      },
      {
        id: 7,
        type: 'FailStateEntered',
        timestamp: at(6),
        stateEnteredEventDetails: { name: 'CompensationFailed' },
      },
      {
        id: 8,
        type: 'ExecutionFailed',
        timestamp: at(6),
        executionFailedEventDetails: { error: 'CompensationFailed' },
      },
    ];

    const steps = stepsFromHistory(events);

    expect(steps.map((s) => [s.state, s.outcome, s.retries])).toEqual([
      ['ReserveStock', 'SUCCEEDED', 0],
      ['AuthorizePayment', 'FAILED', 1],
      ['CompensationFailed', 'FAILED', 0],
    ]);
  });
});

describe('the program', () => {
  it('prints help and fails on unknown commands without touching any system', async () => {
    let out = '';
    const append = (text: string): void => {
      out += text;
    };
    const io = { out: append, err: append };
    const discover = async () => {
      throw new Error('discovery must not run for --help');
    };

    expect(await runCli(['dlq', 'redrive', '--help'], { io, discover })).toBe(0);
    expect(out).toContain('--filter <jsonpath=value>');
    expect(await runCli(['nope'], { io, discover })).not.toBe(0);
    expect(await runCli(['status'], { io, discover })).toBe(1);
    expect(out).toContain('discovery must not run');
  });
});
