import { ArnFormat, CfnOutput, Duration, Names, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, type IConstruct } from 'constructs';
import { ENV } from '#contracts/environment.ts';
import type { Api } from './api.ts';
import { BusinessMetrics } from './business-metrics.ts';
import { BuzzerFunction } from './buzzer-function.ts';
import type { OutboxRelay } from './outbox-relay.ts';
import { standaloneDeadLetterQueue } from './queues.ts';
import type { Saga } from './saga.ts';

export interface OperationsProps {
  readonly table: dynamodb.ITable;
  readonly saga: Saga;
  readonly relay: OutboxRelay;
  readonly api: Api;
  /** The settlement export's state machine: a failed export raises `SettlementExportsFailed`. @default no alarm */
  readonly settlementStateMachine?: sfn.IStateMachine;
  /**
   * The settlement import's state machine: a failed import raises `SettlementImportsFailed`, a reconciled file with
   * mismatches `SettlementMismatches`. @default no alarms
   */
  readonly settlementImportStateMachine?: sfn.IStateMachine;
  /**
   * Friendlier operator names for dead-letter queues, keyed by the derived alias (see `deadLetterQueuesOf`), e.g.
   * `{ notifier: 'notify' }`. Queues without an entry keep the derived alias.
   */
  readonly queueAliases?: Record<string, string>;
  /** How often the stuck-order reconciler runs. @default Duration.minutes(5) */
  readonly reconcileEvery?: Duration;
  /**
   * How long an order may stay PENDING before the reconciler drives it on. Must outlive an EXPRESS execution
   * (5 minutes), so a restart never races a live execution. @default Duration.minutes(10)
   */
  readonly stuckAfter?: Duration;
  /** A DLQ message older than this raises the age alarm (DLQs keep messages 14 days). @default Duration.days(1) */
  readonly dlqMaxAge?: Duration;
  /**
   * Per work queue (a queue with a DLQ, by alias): the age of its oldest message that raises its age alarm. Every
   * work queue must have one, and every entry must name a work queue (lib/back-pressure.ts keeps the two in step).
   * @default 5 minutes for every work queue
   */
  readonly workQueueMaxAge?: Record<string, Duration>;
  /** Subscribes this address to the alarm topic. @default no subscription (subscribe to the AlarmTopicArn output) */
  readonly alarmEmail?: string;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Period of the business metrics (EMF) on the dashboard and in their alarms. @default Duration.minutes(5) */
  readonly metricsPeriod?: Duration;
}

/** A dead-letter queue found in the stack, with the queue it catches failures of (none for the relay's own DLQ). */
export interface FoundDeadLetterQueue {
  alias: string;
  deadLetterQueue: sqs.Queue;
  source?: sqs.Queue;
}

/** `webhooks-fan-out` → `WebhooksFanOut` (alarm ids). */
const pascal = (alias: string): string =>
  alias.replace(/(^|-)([a-z0-9])/g, (_, _dash: string, c: string) => c.toUpperCase());

/** Construct ids that say "queue" and nothing about what the queue is for. */
const GENERIC_IDS = /^(queue|dlq|deadletterqueue|resource|default)$/i;
const DLQ_ID = /(dlq|dead-?letter)/i;

/** `Saga/StartQueue/Dlq` → `saga-start`; `OutboxRelay/Dlq` → `outbox-relay`. */
export function aliasFromPath(scopes: string[]): string {
  const words = scopes
    .filter((id) => !GENERIC_IDS.test(id))
    .map((id) => id.replace(/(Queue|Dlq|DeadLetterQueue)$/, ''))
    .filter((id) => id !== '')
    .flatMap((id) => id.split(/(?<=[a-z0-9])(?=[A-Z])/));
  return words.join('-').toLowerCase();
}

/**
 * Every dead-letter queue of the stack: queues other queues redrive to, and queues whose construct id says they are
 * one (the outbox relay's DLQ, fed by its function, and schedule target DLQs). A new `DeadLetteredQueue` anywhere in
 * the stack is found without code here.
 */
export function deadLetterQueuesOf(
  stack: Stack,
  aliases: Record<string, string> = {},
): FoundDeadLetterQueue[] {
  const queues = stack.node.findAll().filter((c: IConstruct): c is sqs.Queue => c instanceof sqs.Queue);
  const sources = new Map<sqs.IQueue, sqs.Queue>();
  for (const queue of queues) {
    if (queue.deadLetterQueue) sources.set(queue.deadLetterQueue.queue, queue);
  }
  const found: FoundDeadLetterQueue[] = [];
  for (const queue of queues) {
    if (!sources.has(queue) && !DLQ_ID.test(queue.node.id)) continue;
    const scopes = queue.node.scopes.slice(queue.node.scopes.indexOf(stack) + 1).map((s) => s.node.id);
    const derived = aliasFromPath(scopes) || Names.uniqueId(queue).toLowerCase();
    found.push({ alias: aliases[derived] ?? derived, deadLetterQueue: queue, source: sources.get(queue) });
  }
  const seen = new Set<string>();
  for (const { alias } of found) {
    if (seen.has(alias)) throw new Error(`Operations: two dead-letter queues share the alias "${alias}"`);
    seen.add(alias);
  }
  return found.sort((a, b) => a.alias.localeCompare(b.alias));
}

/**
 * The work queues (the sources of the DLQs found) with their age thresholds. Every work queue needs a threshold and
 * every threshold must name a work queue, so a new queue or a renamed alias cannot go without its alarm.
 */
export function workQueuesOf(
  deadLetterQueues: FoundDeadLetterQueue[],
  maxAges: Record<string, Duration> | undefined,
): Array<{ alias: string; queue: sqs.Queue; maxAge: Duration }> {
  const found = deadLetterQueues.flatMap(({ alias, source }) => (source ? [{ alias, queue: source }] : []));
  for (const name of Object.keys(maxAges ?? {})) {
    if (!found.some((w) => w.alias === name)) {
      throw new Error(
        `Operations: an age threshold names no work queue "${name}" (work queues: ${found.map((w) => w.alias).join(', ')})`,
      );
    }
  }
  return found.map(({ alias, queue }) => {
    const maxAge = maxAges ? maxAges[alias] : Duration.minutes(5);
    if (!maxAge) {
      throw new Error(
        `Operations: the work queue "${alias}" has no age alarm threshold: add it to WORK_QUEUES in lib/back-pressure.ts`,
      );
    }
    return { alias, queue, maxAge };
  });
}

/**
 * What operators need to see failures, recover from them and be told about them:
 *
 * - the stuck-order reconciler (`functions/operations/reconcile-orders.ts`) on an EventBridge Scheduler schedule;
 * - alarms on every DLQ (depth > 0, oldest message too old), saga failures and time-outs, relay crashes, relay
 *   publish failures (the relay's `RelayPublishFailures` metric) and lag, API 5xx, reconciler errors and orders the
 *   reconciler had to leave to an operator (`StuckOrdersNeedingOperator`), all sent to one encrypted, TLS-only SNS
 *   topic;
 * - back-pressure per work queue (a queue with a DLQ and a consumer): depth, age of the oldest message and messages
 *   deleted (consumed) per minute on the dashboard, from SQS's own metrics, and an alarm on the age;
 * - one dashboard: orders accepted / confirmed / cancelled (by reason), saga step durations, relay publish failures,
 *   webhook deliveries by outcome, cold starts by function, DLQ depths, API and saga latencies.
 *
 * The business and health metrics are the EMF metrics of contracts/metrics.ts, which the handlers write through
 * Powertools Metrics (`BusinessMetrics` builds them); no alarm or widget reads the wording of a log line.
 * - the `OperatorQueues` output the `buzzer` CLI reads to name queues (`notify`, `relay`, …).
 *
 * Instantiate it last in the stack: it finds the dead-letter queues that exist when it is created.
 */
export class Operations extends Construct {
  public readonly topic: sns.Topic;
  public readonly reconciler: BuzzerFunction;
  public readonly reconcilerDeadLetterQueue: sqs.Queue;
  public readonly schedule: scheduler.Schedule;
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly deadLetterQueues: FoundDeadLetterQueue[];
  /** The sources of those DLQs with their age alarm thresholds (the operator API reads them too). */
  public readonly workQueues: Array<{ alias: string; queue: sqs.Queue; maxAge: Duration }>;
  /** The contract's metrics as CloudWatch metrics (what the dashboard and the business alarms read). */
  public readonly metrics: BusinessMetrics;
  /** The cold starts widget: a function built after this construct is charted with `chartColdStarts`. */
  private readonly coldStarts: cloudwatch.GraphWidget;

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const stuckAfter = props.stuckAfter ?? Duration.minutes(10);
    const dlqMaxAge = props.dlqMaxAge ?? Duration.days(1);
    const stateMachine = props.saga.stateMachine;
    this.metrics = new BusinessMetrics({ period: props.metricsPeriod });
    const business = this.metrics;

    // --- the alarm channel --------------------------------------------------------------------------------------
    // A customer managed key: CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key.
    const key = new kms.Key(this, 'AlarmTopicKey', {
      enableKeyRotation: true,
      description: 'Encrypts the Buzzer operator alarm topic',
    });
    const cloudwatchService = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    key.grant(cloudwatchService, 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Buzzer operator alarms',
      masterKey: key,
      enforceSSL: true,
    });
    // The topic's own policy replaces the default one, so CloudWatch (of this account only) is allowed explicitly.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        actions: ['sns:Publish'],
        principals: [cloudwatchService],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const alarmAction = new cwActions.SnsAction(this.topic);
    const alarm = (alarmId: string, alarmProps: cloudwatch.AlarmProps): cloudwatch.Alarm => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...alarmProps,
      });
      created.addAlarmAction(alarmAction);
      created.addOkAction(alarmAction);
      this.alarms.push(created);
      return created;
    };

    // --- the stuck-order reconciler -----------------------------------------------------------------------------
    this.reconciler = new BuzzerFunction(this, 'Reconciler', {
      entry: 'operations/reconcile-orders.ts',
      serviceName: 'stuck-order-reconciler',
      timeout: Duration.minutes(2),
      // One run at a time: two runs would only race each other on the same orders.
      reservedConcurrentExecutions: 1,
      logRetention: props.logRetention,
      environment: {
        [ENV.TABLE_NAME]: props.table.tableName,
        [ENV.STATE_MACHINE_ARN]: stateMachine.stateMachineArn,
        [ENV.SAGA_WORKFLOW_TYPE]: props.saga.workflowType,
        [ENV.STUCK_AFTER_SECONDS]: String(stuckAfter.toSeconds()),
      },
    });
    this.reconciler.grantTableAccess(props.table);
    stateMachine.grantStartExecution(this.reconciler.role);
    // Describe, history and redrive act on executions, whose names are per order: only a wildcard on the execution
    // name of this one state machine can name them.
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.reconciler.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution', 'states:GetExecutionHistory', 'states:RedriveExecution'],
        resources: [executions],
      }),
    );
    const placeholder = (value: string, pseudo: string) =>
      Token.isUnresolved(value) ? `<${pseudo}>` : value;
    const stateMachineId = stack.getLogicalId(stateMachine.node.defaultChild as sfn.CfnStateMachine);
    Validations.of(this.reconciler.role).acknowledge({
      id:
        `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${placeholder(stack.region, 'AWS::Region')}:` +
        `${placeholder(stack.account, 'AWS::AccountId')}:execution:<${stateMachineId}.Name>:*]`,
      reason:
        'Describe, history and redrive of the saga executions: execution names are per order, so only a ' +
        'wildcard on the execution name of this one state machine can name them.',
    });

    this.reconcilerDeadLetterQueue = standaloneDeadLetterQueue(
      this,
      'ReconcilerDlq',
      'This queue is itself the dead-letter queue of the reconciler schedule target.',
    );
    // An explicit role (instead of the stack-wide one the target would create) so its grants are reviewed here.
    const scheduleRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    });
    const reconcilerId = stack.getLogicalId(this.reconciler.function.node.defaultChild as lambda.CfnFunction);
    Validations.of(scheduleRole).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${reconcilerId}.Arn>:*]`,
      reason: 'lambda:InvokeFunction on the reconciler and its versions/aliases (ARN:*), nothing else.',
    });
    this.schedule = new scheduler.Schedule(this, 'ReconcileSchedule', {
      description: 'Drives orders stuck in PENDING on (buzzer stuck-order reconciler)',
      schedule: scheduler.ScheduleExpression.rate(props.reconcileEvery ?? Duration.minutes(5)),
      target: new schedulerTargets.LambdaInvoke(this.reconciler.function, {
        role: scheduleRole,
        deadLetterQueue: this.reconcilerDeadLetterQueue,
        retryAttempts: 2,
        // A run that could not start within one period is superseded by the next one.
        maxEventAge: props.reconcileEvery ?? Duration.minutes(5),
      }),
    });

    // --- alarms -------------------------------------------------------------------------------------------------
    // Found after the reconciler's own DLQ exists, so it gets its alarms like every other.
    this.deadLetterQueues = deadLetterQueuesOf(stack, props.queueAliases);
    for (const { alias, deadLetterQueue } of this.deadLetterQueues) {
      const name = pascal(alias);
      alarm(`${name}DlqDepth`, {
        alarmDescription: `Messages in the ${alias} DLQ. Runbook: docs/runbook.md#dlq-not-empty (buzzer dlq peek ${alias})`,
        metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });
      alarm(`${name}DlqAge`, {
        alarmDescription:
          `A message has waited in the ${alias} DLQ for over ${dlqMaxAge.toHumanString()}; DLQs drop messages ` +
          `after 14 days. Runbook: docs/runbook.md#dlq-message-too-old`,
        metric: deadLetterQueue.metricApproximateAgeOfOldestMessage({
          period: Duration.minutes(5),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: dlqMaxAge.toSeconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });
    }
    this.workQueues = workQueuesOf(this.deadLetterQueues, props.workQueueMaxAge);
    const workQueues = this.workQueues;
    for (const { alias, queue, maxAge } of workQueues) {
      alarm(`${pascal(alias)}QueueAge`, {
        alarmDescription:
          `The oldest message of the ${alias} queue has waited over ${maxAge.toHumanString()}: its consumer falls ` +
          `behind or takes nothing. Runbook: docs/runbook.md#work-queue-message-too-old (buzzer status)`,
        metric: queue.metricApproximateAgeOfOldestMessage({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: maxAge.toSeconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });
    }
    if (props.settlementStateMachine) {
      alarm('SettlementExportsFailed', {
        alarmDescription:
          'A settlement export failed: a partner has no file for a date. Runbook: docs/runbook.md#settlement-export-failed',
        metric: props.settlementStateMachine.metricFailed({
          period: Duration.minutes(5),
          statistic: cloudwatch.Stats.SUM,
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });
    }
    if (props.settlementImportStateMachine) {
      alarm('SettlementImportsFailed', {
        alarmDescription:
          "A settlement file's import failed and waits for a redrive. Runbook: docs/runbook.md#settlement-import-failed",
        metric: props.settlementImportStateMachine.metricFailed({
          period: Duration.minutes(5),
          statistic: cloudwatch.Stats.SUM,
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });
      alarm('SettlementMismatches', {
        alarmDescription:
          "The acquirer's settlement file and Buzzer's charges disagree (see the report under reports/). " +
          'Runbook: docs/runbook.md#settlement-mismatches',
        metric: business.count('SettlementMismatches'),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });
    }
    alarm('SagaExecutionsFailed', {
      alarmDescription: 'Saga executions failed. Runbook: docs/runbook.md#saga-executions-failed',
      metric: stateMachine.metricFailed({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });
    alarm('SagaExecutionsTimedOut', {
      alarmDescription: 'Saga executions timed out. Runbook: docs/runbook.md#saga-executions-timed-out',
      metric: stateMachine.metricTimedOut({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });
    const relayFunction: lambda.IFunction = props.relay.handler.function;
    alarm('RelayErrors', {
      alarmDescription:
        'The outbox relay Lambda crashed (invocation errors, not publish failures). Runbook: docs/runbook.md#relay-errors',
      metric: relayFunction.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });
    // The relay catches PutEvents exceptions and per-entry rejections and turns them into batch item failures, so
    // its invocations succeed and `Errors` stays at 0 while the bus refuses or throttles events. It counts them in
    // its `RelayPublishFailures` metric instead: one per outbox item and attempt.
    const publishFailures = business.count('RelayPublishFailures');
    alarm('RelayPublishFailures', {
      alarmDescription:
        'EventBridge refused or throttled outbox events; the relay retries them, then moves them to the relay DLQ. ' +
        'Runbook: docs/runbook.md#relay-publish-failures',
      metric: publishFailures,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('RelayIteratorAge', {
      alarmDescription:
        'Outbox events reach the bus late (stream iterator age over 5 minutes). Runbook: docs/runbook.md#relay-lag',
      metric: relayFunction.metric('IteratorAge', {
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: Duration.minutes(5).toMilliseconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
    });
    alarm('ApiServerErrors', {
      alarmDescription: 'The client API answers 5xx. Runbook: docs/runbook.md#api-5xx',
      metric: props.api.metricServerError({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.SUM,
      }),
      threshold: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
    });
    alarm('ReconcilerErrors', {
      alarmDescription: 'The stuck-order reconciler failed. Runbook: docs/runbook.md#reconciler-errors',
      metric: this.reconciler.function.metricErrors({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.SUM,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });

    const blocked = business.count('StuckOrdersNeedingOperator');
    alarm('StuckOrdersNeedOperator', {
      alarmDescription:
        'The reconciler found stuck orders it must not drive on by itself. Runbook: docs/runbook.md#stuck-orders-need-an-operator',
      metric: blocked,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });

    // --- the dashboard ------------------------------------------------------------------------------------------
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
    });
    const percentiles = (metric: (stat: string) => cloudwatch.IMetric) => [metric('p95'), metric('p99')];
    const per = business.period.toHumanString();
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `Orders per ${per}`,
        left: [
          business.count('OrdersAccepted', { label: 'accepted' }),
          business.count('OrdersConfirmed', { label: 'confirmed' }),
          business.cancelledTotal('cancelled'),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'DLQ depth (messages)',
        left: this.deadLetterQueues.map(({ alias, deadLetterQueue }) =>
          deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            label: alias,
            period: Duration.minutes(1),
            statistic: cloudwatch.Stats.MAXIMUM,
          }),
        ),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API latency (ms)',
        left: percentiles((statistic) =>
          props.api.metricLatency({
            statistic,
            label: `API ${statistic}`,
            period: Duration.minutes(5),
          }),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Saga duration (ms)',
        left: percentiles((statistic) =>
          stateMachine.metricTime({ statistic, label: `saga ${statistic}`, period: Duration.minutes(5) }),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Saga outcomes and relay health',
        left: [
          stateMachine.metricSucceeded({ statistic: cloudwatch.Stats.SUM, label: 'saga succeeded' }),
          stateMachine.metricFailed({ statistic: cloudwatch.Stats.SUM, label: 'saga failed' }),
          stateMachine.metricTimedOut({ statistic: cloudwatch.Stats.SUM, label: 'saga timed out' }),
          relayFunction.metricErrors({ statistic: cloudwatch.Stats.SUM, label: 'relay errors' }),
          publishFailures.with({ label: 'relay publish failures' }),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `Circuit breakers: opened, closed, calls held (per ${per})`,
        left: business.circuits(),
        width: 24,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `Settlement files: mismatches in reconciled files, failed imports (per ${per})`,
        left: [
          business.count('SettlementMismatches', { label: 'mismatches' }),
          ...(props.settlementImportStateMachine
            ? [
                props.settlementImportStateMachine.metricFailed({
                  statistic: cloudwatch.Stats.SUM,
                  label: 'imports failed',
                }),
              ]
            : []),
        ],
        leftAnnotations: [{ value: 0, label: 'alarm above', color: cloudwatch.Color.RED }],
        width: 24,
      }),
    );
    // Back-pressure, one row per work queue. Consumption is SQS's NumberOfMessagesDeleted: the mappings delete a
    // message only once its function succeeded with it (a held mail put back as a new message counts too).
    for (const { alias, queue, maxAge } of workQueues) {
      const minute = { period: Duration.minutes(1) };
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: `${alias} queue depth (messages)`,
          left: [
            queue.metricApproximateNumberOfMessagesVisible({
              ...minute,
              statistic: cloudwatch.Stats.MAXIMUM,
              label: 'waiting',
            }),
            queue.metricApproximateNumberOfMessagesNotVisible({
              ...minute,
              statistic: cloudwatch.Stats.MAXIMUM,
              label: 'in flight',
            }),
          ],
          stacked: true,
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: `${alias} oldest message (s)`,
          left: [
            queue.metricApproximateAgeOfOldestMessage({
              ...minute,
              statistic: cloudwatch.Stats.MAXIMUM,
              label: 'age of oldest',
            }),
          ],
          leftAnnotations: [{ value: maxAge.toSeconds(), label: 'alarm above', color: cloudwatch.Color.RED }],
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: `${alias} consumed per minute`,
          left: [
            queue.metricNumberOfMessagesDeleted({
              ...minute,
              statistic: cloudwatch.Stats.SUM,
              label: 'deleted',
            }),
            queue.metricNumberOfMessagesSent({ ...minute, statistic: cloudwatch.Stats.SUM, label: 'sent' }),
          ],
          width: 8,
        }),
      );
    }
    const stepNames = Object.keys(props.saga.steps);
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `Orders cancelled by reason (per ${per})`,
        left: business.cancelledByReason(),
        stacked: true,
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: `Webhook deliveries by outcome (per ${per})`,
        left: business.webhookDeliveriesByOutcome(),
        stacked: true,
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: `Relay publish failures (per ${per})`,
        left: [publishFailures.with({ label: 'relay publish failures' })],
        leftAnnotations: [{ value: 0, label: 'alarm above', color: cloudwatch.Color.RED }],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Saga step duration p50 (ms)',
        left: stepNames.map((step) => business.sagaStepDuration(step, 'p50')),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Saga step duration p99 (ms)',
        left: stepNames.map((step) => business.sagaStepDuration(step, 'p99')),
        width: 12,
      }),
    );
    // Every function of the stack (Operations is created last): Powertools names them by their physical name.
    const functions = stack.node
      .findAll()
      .filter((c): c is BuzzerFunction => c instanceof BuzzerFunction)
      .map((fn) => ({
        name: fn.function.functionName,
        label: fn.node.scopes
          .slice(fn.node.scopes.indexOf(stack) + 1)
          .map((s) => s.node.id)
          .join('/'),
      }));
    this.coldStarts = new cloudwatch.GraphWidget({
      title: `Cold starts by function (per ${per})`,
      left: functions.map(({ name, label }) => business.coldStarts(name, label)),
      stacked: true,
      width: 24,
    });
    this.dashboard.addWidgets(this.coldStarts);
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }),
    );

    // --- what the operator CLI reads ----------------------------------------------------------------------------
    const operatorQueues = Object.fromEntries(
      this.deadLetterQueues.map(({ alias, deadLetterQueue, source }) => [
        alias,
        {
          dlq: stack.getLogicalId(deadLetterQueue.node.defaultChild as sqs.CfnQueue),
          ...(source ? { source: stack.getLogicalId(source.node.defaultChild as sqs.CfnQueue) } : {}),
          ...(source ? { maxAgeSeconds: workQueues.find((w) => w.alias === alias)?.maxAge.toSeconds() } : {}),
        },
      ]),
    );
    new CfnOutput(stack, 'OperatorQueues', {
      value: stack.toJsonString(operatorQueues),
      description:
        'Dead-letter queues by operator alias (logical ids), with their work queue and its age alarm threshold, read by the buzzer CLI',
    });
    new CfnOutput(stack, 'AlarmTopicArn', {
      value: this.topic.topicArn,
      description: 'Subscribe operators here: every alarm and its recovery are published to it',
    });
    new CfnOutput(stack, 'DashboardName', { value: this.dashboard.dashboardName });
  }

  /** Charts the cold starts of a function built after this construct (the operator API, which reads its DLQs). */
  public chartColdStarts(fn: BuzzerFunction): void {
    const stack = Stack.of(this);
    const label = fn.node.scopes
      .slice(fn.node.scopes.indexOf(stack) + 1)
      .map((s) => s.node.id)
      .join('/');
    this.coldStarts.addLeftMetric(this.metrics.coldStarts(fn.function.functionName, label));
  }
}
