import { beforeAll, describe, expect, it } from 'vitest';
import { aliasFromPath } from '#lib/constructs/operations.ts';
import { type SynthResult, synthBuzzer } from './synth.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Resources = Record<string, Resource>;

let synth: SynthResult;
let resources: Resources;
let outputs: Record<string, { Value: unknown }>;

beforeAll(() => {
  synth = synthBuzzer();
  const json = synth.template.toJSON() as {
    Resources: Resources;
    Outputs: Record<string, { Value: unknown }>;
  };
  resources = json.Resources;
  outputs = json.Outputs;
});

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

/** DLQs as the template shows them: redrive targets, and queues whose logical id says so. */
function deadLetterQueueIds(): string[] {
  const ids = new Set<string>();
  for (const [id, queue] of ofType('AWS::SQS::Queue')) {
    const target = (queue.Properties.RedrivePolicy as { deadLetterTargetArn?: { 'Fn::GetAtt'?: string[] } })
      ?.deadLetterTargetArn?.['Fn::GetAtt']?.[0];
    if (target) ids.add(target);
    if (/Dlq/.test(id)) ids.add(id);
  }
  return [...ids].sort();
}

/** The queue (logical id) an alarm watches and the metric, from its QueueName dimension. */
function queueAlarms(): Array<{ queue: string; metric: string; alarm: Resource }> {
  return ofType('AWS::CloudWatch::Alarm').flatMap(([, alarm]) => {
    const dimensions = (alarm.Properties.Dimensions ?? []) as Array<{ Name: string; Value: unknown }>;
    const queueName = dimensions.find((d) => d.Name === 'QueueName')?.Value as { 'Fn::GetAtt'?: string[] };
    const queue = queueName?.['Fn::GetAtt']?.[0];
    return queue ? [{ queue, metric: String(alarm.Properties.MetricName), alarm }] : [];
  });
}

describe('dead-letter queue alarms', () => {
  it('gives every DLQ a depth alarm (> 0) and an oldest-message alarm', () => {
    const alarms = queueAlarms();
    const dlqs = deadLetterQueueIds();

    expect(dlqs.length).toBeGreaterThanOrEqual(5);
    for (const dlq of dlqs) {
      const depth = alarms.find((a) => a.queue === dlq && a.metric === 'ApproximateNumberOfMessagesVisible');
      const age = alarms.find((a) => a.queue === dlq && a.metric === 'ApproximateAgeOfOldestMessage');
      expect(depth, `${dlq} has no depth alarm`).toBeDefined();
      expect(depth?.alarm.Properties).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
      expect(age, `${dlq} has no age alarm`).toBeDefined();
    }
  });

  it('names every DLQ for the CLI in the OperatorQueues output, with its source queue', () => {
    const value = outputs.OperatorQueues?.Value;
    expect(typeof value).toBe('string');
    const queues = JSON.parse(String(value)) as Record<string, { dlq: string; source?: string }>;

    expect(
      Object.values(queues)
        .map((q) => q.dlq)
        .sort(),
    ).toEqual(deadLetterQueueIds());
    expect(queues.notify?.source).toMatch(/^NotifierQueue/);
    expect(queues.relay?.source).toBeUndefined();
    expect(Object.keys(queues)).toEqual(expect.arrayContaining(['notify', 'points', 'saga-start', 'relay']));
  });

  it('derives aliases from construct paths without the generic words', () => {
    expect(aliasFromPath(['Saga', 'StartQueue', 'Dlq'])).toBe('saga-start');
    expect(aliasFromPath(['OutboxRelay', 'Dlq'])).toBe('outbox-relay');
    expect(aliasFromPath(['Webhooks', 'FanOut', 'Queue', 'Dlq'])).toBe('webhooks-fan-out');
  });
});

describe('alarms', () => {
  const byMetric = (namespace: string, metric: string) =>
    ofType('AWS::CloudWatch::Alarm').filter(
      ([, a]) => a.Properties.Namespace === namespace && a.Properties.MetricName === metric,
    );

  it('covers saga failures and time-outs, failed settlement exports and imports, settlement mismatches, relay errors and API 5xx', () => {
    const failed = byMetric('AWS/States', 'ExecutionsFailed').map(([, a]) =>
      JSON.stringify(a.Properties.Dimensions),
    );
    expect(failed).toHaveLength(3);
    expect(failed.some((d) => d.includes('SagaStateMachine'))).toBe(true);
    expect(failed.some((d) => d.includes('SettlementStateMachine'))).toBe(true);
    expect(failed.some((d) => d.includes('SettlementImportStateMachine'))).toBe(true);
    expect(byMetric('Buzzer', 'SettlementMismatches')).toHaveLength(1);
    expect(byMetric('AWS/States', 'ExecutionsTimedOut')).toHaveLength(1);
    expect(byMetric('AWS/ApiGateway', '5xx')).toHaveLength(1);
    const lambdaErrors = byMetric('AWS/Lambda', 'Errors').map(([, a]) =>
      JSON.stringify(a.Properties.Dimensions),
    );
    expect(lambdaErrors.some((d) => d.includes('OutboxRelayHandler'))).toBe(true);
    expect(byMetric('Buzzer', 'StuckOrdersNeedingOperator')).toHaveLength(1);
  });

  it('sends every alarm to one encrypted, TLS-only topic', () => {
    const [[topicId, topic] = ['', undefined]] = ofType('AWS::SNS::Topic');
    expect(topic?.Properties.KmsMasterKeyId).toBeDefined();
    const policy = JSON.stringify(ofType('AWS::SNS::TopicPolicy')[0]?.[1].Properties);
    expect(policy).toContain('"aws:SecureTransport":"false"');
    for (const [id, alarm] of ofType('AWS::CloudWatch::Alarm')) {
      expect(alarm.Properties.AlarmActions, id).toEqual([{ Ref: topicId }]);
    }
  });
});

describe('relay publish failures', () => {
  const alarmsOn = (metricName: string) =>
    ofType('AWS::CloudWatch::Alarm').filter(
      ([, a]) => a.Properties.Namespace === 'Buzzer' && a.Properties.MetricName === metricName,
    );

  it('alarms on the RelayPublishFailures metric within 5 minutes, to the alarm topic, and stays quiet without data', () => {
    const [[topicId] = ['']] = ofType('AWS::SNS::Topic');
    const alarms = alarmsOn('RelayPublishFailures');
    expect(alarms).toHaveLength(1);
    expect(alarms[0]?.[1].Properties).toMatchObject({
      Dimensions: [{ Name: 'service', Value: 'buzzer' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: topicId }],
      OKActions: [{ Ref: topicId }],
      AlarmDescription: expect.stringContaining('docs/runbook.md#relay-publish-failures'),
    });
  });

  it('keeps the Lambda Errors alarm for relay crashes and charts both on the dashboard', () => {
    const crashes = ofType('AWS::CloudWatch::Alarm').filter(
      ([, a]) =>
        a.Properties.Namespace === 'AWS/Lambda' &&
        a.Properties.MetricName === 'Errors' &&
        JSON.stringify(a.Properties.Dimensions).includes('OutboxRelayHandler'),
    );
    expect(crashes).toHaveLength(1);
    expect(crashes[0]?.[1].Properties.AlarmDescription).toContain('docs/runbook.md#relay-errors');
    const body = JSON.stringify(ofType('AWS::CloudWatch::Dashboard')[0]?.[1].Properties.DashboardBody);
    expect(body).toContain('RelayPublishFailures');
    expect(body).toContain('relay errors');
  });
});

describe('dashboard', () => {
  it('exists and charts orders, DLQ depths and latency percentiles', () => {
    const dashboards = ofType('AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]?.[1].Properties.DashboardBody);
    for (const text of [
      'OrdersAccepted',
      'OrdersConfirmed',
      'OrdersCancelled',
      'ApproximateNumberOfMessagesVisible',
    ]) {
      expect(body).toContain(text);
    }
    expect(body).toContain('p99');
    expect(body).toContain('ExecutionTime');
  });
});

describe('stuck-order reconciler', () => {
  it('runs on a schedule with its own role, retries and a DLQ', () => {
    // The settlement export's daily schedules are lib/constructs/settlement-export.ts's (test/infra/stack.test.ts).
    const schedules = ofType('AWS::Scheduler::Schedule').filter(([id]) => id.startsWith('Operations'));
    expect(schedules).toHaveLength(1);
    const target = schedules[0]?.[1].Properties.Target as Record<string, unknown>;
    expect(schedules[0]?.[1].Properties.ScheduleExpression).toBe('rate(5 minutes)');
    expect(JSON.stringify(target.Arn)).toContain('OperationsReconciler');
    expect(JSON.stringify(target.DeadLetterConfig)).toContain('OperationsReconcilerDlq');
    expect(target.RoleArn).toBeDefined();
    expect(target.RetryPolicy).toMatchObject({ MaximumRetryAttempts: 2 });
  });

  it('may start, describe and redrive saga executions and query only the Open index', () => {
    const [, policy] =
      ofType('AWS::IAM::Policy').find(([id]) => id.startsWith('OperationsReconcilerRole')) ?? [];
    const statements = JSON.stringify(policy?.Properties.PolicyDocument);
    for (const action of [
      'states:StartExecution',
      'states:DescribeExecution',
      'states:GetExecutionHistory',
      'states:RedriveExecution',
      'dynamodb:Query',
    ]) {
      expect(statements).toContain(action);
    }
    expect(statements).toContain('/index/Open');
    expect(statements).not.toContain('dynamodb:Scan');
  });

  it('leaves no cdk-nag finding unacknowledged', () => {
    const operations = synth.nag.violations.filter((v) =>
      v.violatingConstructs.some((c) => c.constructPath.includes('/Operations/')),
    );
    expect(operations).toEqual([]);
  });
});
