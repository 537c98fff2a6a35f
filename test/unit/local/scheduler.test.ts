import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBridgeEngine } from '#local/engines/eventbridge/bus.ts';
import { TargetDispatcher } from '#local/engines/eventbridge/targets.ts';
import {
  CronSchedule,
  InvalidScheduleExpressionError,
  type PersistedSchedules,
  parseScheduleExpression,
  Scheduler,
} from '#local/engines/scheduler.ts';
import { JsonStateFile } from '#local/engines/state-file.ts';
import { type InvokeResult, type LambdaInvoker, silentLogger } from '#local/types.ts';

const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:reconciler';

class RecordingLambda implements LambdaInvoker {
  readonly events: unknown[] = [];

  async invoke(_fn: string, event: unknown): Promise<InvokeResult> {
    this.events.push(event);
    return { payload: null, durationMs: 1 };
  }
}

const cleanups: Array<() => Promise<void>> = [];
// Last in, first out: a scheduler stops and writes its state file before its directory is removed.
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setup(
  options: {
    timeScale?: number;
    intervalOverrideMs?: number;
    stateFile?: JsonStateFile<PersistedSchedules>;
  } = {},
) {
  const lambda = new RecordingLambda();
  // Never called: these schedules target Lambda only.
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });
  const dispatcher = new TargetDispatcher({
    sqs,
    resolveQueueUrl: () => undefined,
    lambda,
    logger: silentLogger,
  });
  const scheduler = new Scheduler({ dispatcher, logger: silentLogger, ...options });
  cleanups.push(async () => {
    await scheduler.stop();
    await scheduler.flush();
    await dispatcher.stop();
    sqs.destroy();
  });
  return { lambda, dispatcher, scheduler };
}

const utc = (iso: string) => Date.parse(iso);
const next = (expression: string, after: string) => {
  const at = new CronSchedule(expression).nextAfter(utc(after));
  return at === undefined ? undefined : new Date(at).toISOString();
};

describe('schedule expressions', () => {
  it('computes the next firing of AWS cron expressions', () => {
    expect(next('0 12 * * ? *', '2024-01-01T13:00:00Z')).toBe('2024-01-02T12:00:00.000Z');
    expect(next('0/15 * * * ? *', '2024-01-01T10:07:30Z')).toBe('2024-01-01T10:15:00.000Z');
    expect(next('0 9 ? * MON-FRI *', '2024-01-05T10:00:00Z')).toBe('2024-01-08T09:00:00.000Z');
    expect(next('0 0 L * ? *', '2024-02-01T00:00:00Z')).toBe('2024-02-29T00:00:00.000Z');
    expect(next('0 8 15W * ? *', '2024-06-01T00:00:00Z')).toBe('2024-06-14T08:00:00.000Z');
    expect(next('0 8 ? * 2#1 *', '2024-07-02T00:00:00Z')).toBe('2024-08-05T08:00:00.000Z');
    expect(next('15 10 ? * 6L 2022-2023', '2022-01-01T00:00:00Z')).toBe('2022-01-28T10:15:00.000Z');
    expect(next('0 0 1 1 ? 2020', '2024-01-01T00:00:00Z')).toBeUndefined();
  });

  it('parses rate and at expressions and rejects what AWS rejects', () => {
    expect(parseScheduleExpression('rate(5 minutes)')).toEqual({ kind: 'rate', everyMs: 300_000 });
    expect(parseScheduleExpression('rate(1 day)')).toEqual({ kind: 'rate', everyMs: 86_400_000 });
    expect(parseScheduleExpression('at(2030-01-02T03:04:05)')).toEqual({
      kind: 'at',
      at: utc('2030-01-02T03:04:05Z'),
    });
    for (const bad of [
      'rate(0 minutes)',
      'rate(5 weeks)',
      'cron(0 12 * * * *)',
      'cron(0 12 * *)',
      'every 5 min',
    ]) {
      expect(() => parseScheduleExpression(bad), bad).toThrow(InvalidScheduleExpressionError);
    }
  });
});

describe('Scheduler', () => {
  it('keeps a cron schedule at its time of day under the interval override (a daily job does not run every interval)', async () => {
    const { lambda, scheduler } = setup({ intervalOverrideMs: 30 });
    // Half a day away, whenever the test runs.
    const hour = (new Date().getUTCHours() + 12) % 24;
    scheduler.registerSchedule(
      {
        ScheduleExpression: `cron(30 ${hour} * * ? *)`,
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: FUNCTION_ARN, Input: '{}' },
      },
      'Buzzer-Daily',
    );
    scheduler.start();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(lambda.events).toHaveLength(0);
    const [job] = scheduler.listJobs();
    expect((job?.nextFireAt?.getTime() ?? 0) - Date.now()).toBeGreaterThan(1000);
    await scheduler.stop();
  });

  it('fires a schedule on the overridden interval with its Input and context attributes', async () => {
    const { lambda, dispatcher, scheduler } = setup({ intervalOverrideMs: 30 });
    const { arn } = scheduler.registerSchedule(
      {
        ScheduleExpression: 'rate(5 minutes)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: FUNCTION_ARN, Input: '{"job":"reconcile","schedule":"<aws.scheduler.schedule-arn>"}' },
      },
      'Buzzer-Reconcile',
    );

    scheduler.start();
    await waitUntil(() => lambda.events.length >= 2);
    await dispatcher.waitForIdle();

    expect(arn).toBe('arn:aws:scheduler:us-east-1:000000000000:schedule/default/Buzzer-Reconcile');
    expect(lambda.events[0]).toEqual({ job: 'reconcile', schedule: arn });
    expect(scheduler.listJobs()[0]?.fired).toBeGreaterThanOrEqual(2);
  });

  it('speeds real schedules up by the time scale and skips disabled ones', async () => {
    const { lambda, scheduler } = setup({ timeScale: 1200 });
    scheduler.registerSchedule(
      { ScheduleExpression: 'rate(1 minute)', Target: { Arn: FUNCTION_ARN } },
      'Fast',
    );
    scheduler.registerSchedule(
      {
        ScheduleExpression: 'rate(1 minute)',
        State: 'DISABLED',
        Target: { Arn: FUNCTION_ARN, Input: '"off"' },
      },
      'Off',
    );

    const started = Date.now();
    scheduler.start();
    await waitUntil(() => lambda.events.length >= 3);

    expect(Date.now() - started).toBeLessThan(1_000);
    expect(lambda.events).not.toContain('off');
    expect(lambda.events[0]).toEqual({});
  });

  it('fires an Events rule with a ScheduleExpression on demand with the Scheduled Event', async () => {
    const { lambda, dispatcher, scheduler } = setup();
    const bus = new EventBridgeEngine({ dispatcher, scheduler, logger: silentLogger });
    const { arn } = bus.registerRule({
      Name: 'Nightly',
      ScheduleExpression: 'cron(0 3 * * ? *)',
      Targets: [{ Id: 'fn', Arn: FUNCTION_ARN }],
    });

    await scheduler.fireNow('Nightly');
    await dispatcher.waitForIdle();

    expect(lambda.events).toEqual([
      expect.objectContaining({
        source: 'aws.events',
        'detail-type': 'Scheduled Event',
        resources: [arn],
        detail: {},
      }),
    ]);
    expect(scheduler.listJobs()).toEqual([
      expect.objectContaining({ name: 'Nightly', enabled: true, fired: 1 }),
    ]);
    await expect(scheduler.fireNow('Unknown')).rejects.toThrow(/No schedule/);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('scheduler with persisted firings (--persist)', () => {
  const MINUTE = 60_000;

  /** A state file as an earlier run of the runtime left it. */
  async function earlierRun(saved: PersistedSchedules): Promise<JsonStateFile<PersistedSchedules>> {
    const dir = await mkdtemp(path.join(tmpdir(), 'buzzer-scheduler-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'schedules.json');
    await writeFile(file, JSON.stringify(saved));
    return new JsonStateFile<PersistedSchedules>(file, silentLogger);
  }

  const every = (expression: string) => ({
    ScheduleExpression: expression,
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: { Arn: FUNCTION_ARN, Input: '{"job":"reconcile"}' },
  });

  it('keeps a recurring schedule’s rhythm: the next slot comes a period after the last firing, not after the start', async () => {
    // Arrange: it last fired a minute ago, less 300 ms.
    const lastScheduledAt = Date.now() - MINUTE + 300;
    const stateFile = await earlierRun({ Reconcile: { lastScheduledAt, fired: 3, knownSince: 0 } });
    const { lambda, scheduler } = setup({ stateFile });
    scheduler.registerSchedule(every('rate(1 minute)'), 'Reconcile');

    // Act
    scheduler.start();
    await waitUntil(() => lambda.events.length === 1, 3_000);
    await scheduler.flush();

    // Assert
    const saved = JSON.parse(await readFile(stateFile.file, 'utf8')) as PersistedSchedules;
    expect(saved.Reconcile).toEqual({ lastScheduledAt: lastScheduledAt + MINUTE, fired: 4, knownSince: 0 });
  });

  it('fires a slot missed while the runtime was down once at start, not once per missed slot', async () => {
    // Arrange
    const stateFile = await earlierRun({
      Reconcile: { lastScheduledAt: Date.now() - 10 * MINUTE, fired: 1, knownSince: 0 },
    });
    const { lambda, scheduler } = setup({ stateFile });
    scheduler.registerSchedule(every('rate(1 minute)'), 'Reconcile');

    // Act
    scheduler.start();
    await waitUntil(() => lambda.events.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Assert
    expect(lambda.events).toHaveLength(1);
    expect(scheduler.listJobs()[0]?.nextFireAt?.getTime()).toBeGreaterThan(Date.now() + MINUTE / 2);
  });

  it('fires a one-time schedule that came due while the runtime was down once, and never again', async () => {
    // Arrange: known for a minute, due five seconds ago, never fired.
    const due = new Date(Date.now() - 5_000).toISOString().slice(0, 19);
    const stateFile = await earlierRun({ Once: { fired: 0, knownSince: Date.now() - MINUTE } });
    const first = setup({ stateFile });
    first.scheduler.registerSchedule(every(`at(${due})`), 'Once');

    // Act
    first.scheduler.start();
    await waitUntil(() => first.lambda.events.length === 1);
    await first.scheduler.stop();
    await first.scheduler.flush();
    const second = setup({ stateFile: new JsonStateFile<PersistedSchedules>(stateFile.file, silentLogger) });
    second.scheduler.registerSchedule(every(`at(${due})`), 'Once');
    second.scheduler.start();
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Assert
    expect(second.lambda.events).toEqual([]);
  });
});
