import { App, Duration, Stack } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  backPressureFromContext,
  DEFAULT_MAX_AGE_SECONDS,
  DEFAULT_MAX_CONCURRENCY,
  DeploymentConfigError,
  deployedWorkQueue,
  WORK_QUEUES,
  type WorkQueueName,
} from '#lib/back-pressure.ts';
import { BuzzerStack } from '#lib/buzzer-stack.ts';
import { deadLetterQueuesOf, workQueuesOf } from '#lib/constructs/operations.ts';
import { DeadLetteredQueue } from '#lib/constructs/queues.ts';
import { type SynthResult, synthApp, synthBuzzer } from './synth.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Resources = Record<string, Resource>;

let synth: SynthResult;
let resources: Resources;
/** Work queue alias → logical id of the queue, from the OperatorQueues output the CLI reads. */
let operatorQueues: Record<string, { dlq: string; source?: string; maxAgeSeconds?: number }>;

const SETTINGS = {
  maxConcurrency: { 'saga-start': 3, notify: 2 },
  maxAge: { notify: Duration.minutes(7) },
} as const;
const expectedConcurrency = (queue: WorkQueueName): number =>
  (SETTINGS.maxConcurrency as Partial<Record<WorkQueueName, number>>)[queue] ??
  DEFAULT_MAX_CONCURRENCY[queue];
const expectedMaxAge = (queue: WorkQueueName): number =>
  (SETTINGS.maxAge as Partial<Record<WorkQueueName, Duration>>)[queue]?.toSeconds() ??
  DEFAULT_MAX_AGE_SECONDS[queue];

beforeAll(() => {
  synth = synthBuzzer({ backPressure: SETTINGS });
  const json = synth.template.toJSON() as {
    Resources: Resources;
    Outputs: Record<string, { Value: unknown }>;
  };
  resources = json.Resources;
  operatorQueues = JSON.parse(String(json.Outputs.OperatorQueues?.Value));
});

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const workQueueId = (queue: WorkQueueName): string => {
  const id = operatorQueues[queue]?.source;
  if (!id) throw new Error(`OperatorQueues names no source queue for ${queue}`);
  return id;
};
const getAttTarget = (value: unknown): string | undefined =>
  (value as { 'Fn::GetAtt'?: string[] } | undefined)?.['Fn::GetAtt']?.[0];

/** The work queues of the default stack (the notify worker; the burst mail service's lanes are not deployed). */
const DEPLOYED = WORK_QUEUES.filter((queue) => deployedWorkQueue(queue, 'notify'));
describe('consumer maximum concurrency (stack setting)', () => {
  it('puts each work queue consumer’s setting, or its default, on its event source mapping', () => {
    for (const queue of DEPLOYED) {
      const mappings = ofType('AWS::Lambda::EventSourceMapping').filter(
        ([, m]) => getAttTarget(m.Properties.EventSourceArn) === workQueueId(queue),
      );
      expect(mappings, `${queue} has one consumer`).toHaveLength(1);
      expect(mappings[0]?.[1].Properties.ScalingConfig, queue).toEqual({
        MaximumConcurrency: expectedConcurrency(queue),
      });
    }
  });

  it('refuses values the event source mapping would refuse, and unknown queues, before building', () => {
    const build = (backPressure: ConstructorParameters<typeof BuzzerStack>[2]) => () =>
      new BuzzerStack(new App(), 'Buzzer', { sandbox: true, ...backPressure });
    expect(build({ backPressure: { maxConcurrency: { notify: 1 } } })).toThrow(DeploymentConfigError);
    expect(build({ backPressure: { maxConcurrency: { notify: 1 } } })).toThrow(
      'Buzzer: consumerMaxConcurrency of notify must be a whole number from 2 to 1000, got 1',
    );
    expect(build({ backPressure: { maxConcurrency: { points: 2.5 } } })).toThrow(
      /points must be a whole number/,
    );
    expect(
      build({ backPressure: { maxConcurrency: { mails: 3 } as unknown as Record<WorkQueueName, number> } }),
    ).toThrow(/names no work queue "mails"; the work queues are saga-start, notify, points/);
    expect(build({ backPressure: { maxAge: { notify: Duration.seconds(30) } } })).toThrow(
      'Buzzer: queueMaxAgeSeconds of notify must be a whole number from 60 to 1209600, got 30',
    );
  });
});

describe('context keys consumerMaxConcurrency and queueMaxAgeSeconds', () => {
  const context = (values: Record<string, unknown>) => (key: string) => values[key];

  it('reads queue=number pairs from the command line, an object from cdk.json, or JSON', () => {
    const fromCli = backPressureFromContext(
      context({ consumerMaxConcurrency: 'notify=3, saga-start=4', queueMaxAgeSeconds: 'points=600' }),
    );
    expect(fromCli.maxConcurrency).toEqual({ notify: 3, 'saga-start': 4 });
    expect(fromCli.maxAge?.points?.toSeconds()).toBe(600);
    expect(
      backPressureFromContext(context({ consumerMaxConcurrency: { points: 7 } })).maxConcurrency,
    ).toEqual({
      points: 7,
    });
    expect(
      backPressureFromContext(context({ consumerMaxConcurrency: '{"points":"8"}' })).maxConcurrency,
    ).toEqual({
      points: 8,
    });
    expect(backPressureFromContext(context({}))).toEqual({});
  });

  it('says which key and which queue is wrong', () => {
    const read = (values: Record<string, unknown>) => () => backPressureFromContext(context(values));
    expect(read({ consumerMaxConcurrency: 'notify' })).toThrow(
      /-c consumerMaxConcurrency takes <queue>=<number> pairs separated by commas/,
    );
    expect(read({ consumerMaxConcurrency: 'notify=many' })).toThrow(
      '-c consumerMaxConcurrency: the value of notify must be a whole number, got "many"',
    );
    expect(read({ consumerMaxConcurrency: 'notfy=3' })).toThrow(/names no work queue "notfy"/);
    expect(read({ consumerMaxConcurrency: 'notify=0' })).toThrow(/from 2 to 1000, got 0/);
    expect(read({ queueMaxAgeSeconds: 'notify=-5' })).toThrow(
      'queueMaxAgeSeconds of notify must be a whole number from 60 to 1209600, got -5',
    );
    expect(read({ queueMaxAgeSeconds: '{notify' })).toThrow(/is not valid JSON/);
    expect(read({ consumerMaxConcurrency: 'notify=1' })).toThrow(DeploymentConfigError);
  });

  it('makes `cdk synth` of the app fail with the message alone', () => {
    const result = synthApp({ sandbox: true, consumerMaxConcurrency: 'notify=1' });

    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      'Buzzer: consumerMaxConcurrency of notify must be a whole number from 2 to 1000, got 1',
    );
  });
});

describe('work queue age alarms', () => {
  const ageAlarmOf = (queue: WorkQueueName) =>
    ofType('AWS::CloudWatch::Alarm').filter(([, alarm]) => {
      const dimensions = (alarm.Properties.Dimensions ?? []) as Array<{ Name: string; Value: unknown }>;
      return (
        alarm.Properties.MetricName === 'ApproximateAgeOfOldestMessage' &&
        getAttTarget(dimensions.find((d) => d.Name === 'QueueName')?.Value) === workQueueId(queue)
      );
    });

  it('alarms on each work queue’s oldest message above its threshold, to the operators’ topic', () => {
    const [topic] = ofType('AWS::SNS::Topic').map(([id]) => id);
    for (const queue of DEPLOYED) {
      const alarms = ageAlarmOf(queue);
      expect(alarms, `${queue} has one age alarm`).toHaveLength(1);
      expect(alarms[0]?.[1].Properties).toMatchObject({
        Threshold: expectedMaxAge(queue),
        ComparisonOperator: 'GreaterThanThreshold',
        Statistic: 'Maximum',
        Period: 60,
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: topic }],
        OKActions: [{ Ref: topic }],
      });
      expect(String(alarms[0]?.[1].Properties.AlarmDescription)).toContain(
        'docs/runbook.md#work-queue-message-too-old',
      );
    }
  });

  it('leaves no work queue without a threshold, and no threshold without its work queue', () => {
    const stack = new Stack(new App(), 'Queues');
    new DeadLetteredQueue(stack, 'Notifier');
    new DeadLetteredQueue(stack, 'Points');
    const found = deadLetterQueuesOf(stack);
    const minutes = Duration.minutes(10);

    expect(workQueuesOf(found, { notifier: minutes, points: minutes }).map((w) => w.alias)).toEqual([
      'notifier',
      'points',
    ]);
    expect(() => workQueuesOf(found, { notifier: minutes })).toThrow(
      'Operations: the work queue "points" has no age alarm threshold',
    );
    expect(() => workQueuesOf(found, { notifier: minutes, points: minutes, mail: minutes })).toThrow(
      'Operations: an age threshold names no work queue "mail" (work queues: notifier, points)',
    );
  });

  it('tells the CLI each work queue’s threshold through the OperatorQueues output', () => {
    for (const queue of DEPLOYED) expect(operatorQueues[queue]?.maxAgeSeconds).toBe(expectedMaxAge(queue));
    expect(operatorQueues.relay?.maxAgeSeconds).toBeUndefined();
  });
});

describe('dashboard', () => {
  it('charts depth, age of the oldest message and consumption of every work queue', () => {
    const [dashboard] = ofType('AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard?.[1].Properties.DashboardBody);
    for (const queue of DEPLOYED) {
      expect(body).toContain(`${queue} queue depth (messages)`);
      expect(body).toContain(`${queue} oldest message (s)`);
      expect(body).toContain(`${queue} consumed per minute`);
    }
    for (const metric of [
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateAgeOfOldestMessage',
      'NumberOfMessagesDeleted',
    ]) {
      expect(body).toContain(metric);
    }
  });
});
