/** `buzzer status`: back-pressure of the work queues (depth, oldest message against its alarm, consumption). */
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { QueueStats } from '#local/engines/sqs-stats.ts';
import { type OpsContext, targetFromRuntime } from '#ops/cli/context.ts';
import { isHealthy, renderStatus, type StatusReport } from '#ops/cli/status.ts';
import { readWorkQueues, renderWorkQueues, type WorkQueueStatus } from '#ops/cli/work-queues.ts';
import { opsContext, runtimeFile } from './helpers.ts';

const sqsMock = mockClient(SQSClient);
const sqs = new SQSClient({ region: 'us-east-1' });
const GATEWAY = 'http://127.0.0.1:2';

beforeEach(() => {
  sqsMock.reset();
});

function localContext(): OpsContext {
  return {
    ...opsContext({ sqs }),
    target: targetFromRuntime({ ...runtimeFile, endpoints: { gateway: GATEWAY } }),
  };
}

const figures = (queueName: string, values: Partial<QueueStats>): QueueStats => ({
  queueName,
  queueUrl: `http://127.0.0.1:1/000000000000/${queueName}`,
  visible: 0,
  inFlight: 0,
  delayed: 0,
  oldestAgeSeconds: null,
  deletedLastMinute: 0,
  deletedTotal: 0,
  ...values,
});

/** A gateway that answers GetQueueStats with these figures, and records what it was asked. */
function gateway(queues: QueueStats[]) {
  const asked: Array<{ url: string; target: string | null }> = [];
  const fetchImpl = (async (url: string | URL | Request, init?: RequestInit) => {
    asked.push({ url: String(url), target: new Headers(init?.headers).get('x-amz-target') });
    return new Response(JSON.stringify({ queues }), { status: 200 });
  }) as typeof fetch;
  return { asked, fetchImpl };
}

describe('buzzer status: work queues', () => {
  it('reads every work queue’s figures from the local runtime and flags an oldest message older than its alarm', async () => {
    // Arrange
    const { asked, fetchImpl } = gateway([
      figures('Buzzer-NotifierQueue1', {
        visible: 12,
        inFlight: 2,
        delayed: 1,
        oldestAgeSeconds: 901,
        deletedLastMinute: 0,
      }),
      figures('Buzzer-SagaStartQueue1', { visible: 1, oldestAgeSeconds: 4, deletedLastMinute: 40 }),
      figures('Buzzer-NotifierQueueDlq1', { visible: 3, oldestAgeSeconds: 5000 }),
    ]);

    // Act
    const report = await readWorkQueues(localContext(), fetchImpl);

    // Assert
    expect(asked).toEqual([{ url: GATEWAY, target: 'BuzzerLocalQueues.GetQueueStats' }]);
    expect(report.note).toBeUndefined();
    expect(report.queues.map((q) => q.alias)).toEqual([
      'notify',
      'saga-start',
      'webhooks-delivery',
      'webhooks-fan-out',
    ]);
    expect(report.queues[0]).toEqual({
      alias: 'notify',
      waiting: 12,
      inFlight: 2,
      delayed: 1,
      oldestAgeSeconds: 901,
      maxAgeSeconds: 900,
      consumedLastMinute: 0,
      tooOld: true,
    } satisfies WorkQueueStatus);
    expect(report.queues[1]).toMatchObject({ alias: 'saga-start', oldestAgeSeconds: 4, tooOld: false });
    // No threshold from the stack: shown, never flagged.
    expect(report.queues[2]).toMatchObject({ maxAgeSeconds: null, oldestAgeSeconds: null, tooOld: false });
    expect(sqsMock).not.toHaveReceivedAnyCommand();
  });

  it('does not flag an oldest message exactly at the threshold (the alarm is "greater than")', async () => {
    const { fetchImpl } = gateway([figures('Buzzer-NotifierQueue1', { visible: 1, oldestAgeSeconds: 900 })]);

    const report = await readWorkQueues(localContext(), fetchImpl);

    expect(report.queues[0]).toMatchObject({ alias: 'notify', tooOld: false });
  });

  it('falls back to the counts, saying why, when the runtime serves no figures; never receives from the queue', async () => {
    // Arrange
    sqsMock.on(GetQueueAttributesCommand).resolves({
      Attributes: {
        ApproximateNumberOfMessages: '5',
        ApproximateNumberOfMessagesNotVisible: '1',
        ApproximateNumberOfMessagesDelayed: '0',
      },
    });
    const old = (async () => new Response('', { status: 400 })) as unknown as typeof fetch;

    // Act
    const report = await readWorkQueues(localContext(), old);

    // Assert
    expect(report.note).toMatch(/serves no queue figures .*restart npm start/);
    expect(report.queues[0]).toMatchObject({
      alias: 'notify',
      waiting: 5,
      inFlight: 1,
      oldestAgeSeconds: null,
      consumedLastMinute: null,
      tooOld: false,
    });
    expect(sqsMock).not.toHaveReceivedCommand(ReceiveMessageCommand);
  });

  it('on AWS shows the counts and sends operators to the dashboard for age and consumption', async () => {
    sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '7' } });
    const ctx = localContext();

    const report = await readWorkQueues({ ...ctx, target: { ...ctx.target, kind: 'aws' } });

    expect(report.note).toMatch(/CloudWatch metrics: see the dashboard/);
    expect(report.queues.every((q) => q.waiting === 7 && q.oldestAgeSeconds === null)).toBe(true);
    expect(sqsMock).toHaveReceivedCommandWith(GetQueueAttributesCommand, {
      QueueUrl: 'http://127.0.0.1:1/000000000000/Buzzer-NotifierQueue1',
    });
  });

  it('renders one row per queue with its threshold and a TOO OLD flag', () => {
    const text = renderWorkQueues({
      queues: [
        {
          alias: 'notify',
          waiting: 12,
          inFlight: 2,
          delayed: 1,
          oldestAgeSeconds: 1_000,
          maxAgeSeconds: 900,
          consumedLastMinute: 0,
          tooOld: true,
        },
        {
          alias: 'points',
          waiting: 0,
          inFlight: 0,
          delayed: 0,
          oldestAgeSeconds: null,
          maxAgeSeconds: 900,
          consumedLastMinute: 31,
          tooOld: false,
        },
      ],
      note: 'a note',
    });

    expect(text).toMatch(/queue +waiting +in flight +delayed +oldest +alarm above +consumed last min +state/);
    expect(text).toMatch(
      /notify +12 +2 +1 +16m40s +15m00s +0 +TOO OLD \(runbook: work-queue-message-too-old\)/,
    );
    expect(text).toMatch(/points +0 +0 +0 +- +15m00s +31 +ok/);
    expect(text).toContain('  a note\n');
  });

  it('makes the system not healthy while a work queue’s oldest message is too old, and only then', () => {
    const queue: WorkQueueStatus = {
      alias: 'notify',
      waiting: 40,
      inFlight: 10,
      delayed: 0,
      oldestAgeSeconds: 120,
      maxAgeSeconds: 900,
      consumedLastMinute: 0,
      tooOld: false,
    };
    const report = (queues: WorkQueueStatus[]): Omit<StatusReport, 'healthy'> => ({
      generatedAt: '2026-12-06T10:05:10.000Z',
      target: { kind: 'local', stackName: 'Buzzer', region: 'us-east-1' },
      dlqs: [],
      workQueues: { queues },
      circuits: [],
      saga: { workflowType: 'STANDARD', failed: [], stuck: [] },
      outbox: { relayDlqDepth: 0, failed: [] },
      orders: { olderThanSeconds: 300, stuck: [] },
      metrics: { summary: null },
    });

    // A backlog within its threshold is back-pressure doing its job, not a failure.
    expect(isHealthy(report([queue]))).toBe(true);
    expect(
      isHealthy(report([queue, { ...queue, alias: 'points', oldestAgeSeconds: 901, tooOld: true }])),
    ).toBe(false);
  });

  it('puts the section in buzzer status', () => {
    const report: StatusReport = {
      generatedAt: '2026-12-06T10:05:10.000Z',
      target: { kind: 'local', stackName: 'Buzzer', region: 'us-east-1' },
      healthy: false,
      dlqs: [],
      workQueues: { queues: [] },
      circuits: [],
      saga: { workflowType: 'STANDARD', failed: [], stuck: [] },
      outbox: { relayDlqDepth: 0, failed: [] },
      orders: { olderThanSeconds: 300, stuck: [] },
      metrics: { summary: null },
    };

    expect(renderStatus(report)).toContain(
      '\nWork queues (TOO OLD: the oldest message is older than its alarm threshold)\n  (none)\n',
    );
  });
});
