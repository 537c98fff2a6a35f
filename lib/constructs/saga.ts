import { Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  DEFAULT_CIRCUIT_FAILURE_THRESHOLD,
  DEFAULT_CIRCUIT_OPEN_SECONDS,
  DEFAULT_PAYMENT_HOLD_SECONDS,
  DEFAULT_PAYMENT_RELEASE_PER_SECOND,
  PAYMENT_UNAVAILABLE_RETRIES,
} from '#contracts/circuit.ts';
import { ENV } from '#contracts/environment.ts';
import { DETAIL_TYPES, EVENT_SOURCE } from '#contracts/events.ts';
import { SAGA_RESUME_MESSAGE, STEP_ERRORS, VERDICTS } from '#contracts/saga.ts';
import { BuzzerFunction } from './buzzer-function.ts';
import { DeadLetteredQueue } from './queues.ts';
import { SANDBOX_PAYMENT_ROUTES, type Sandbox } from './sandbox.ts';

export type SagaWorkflowType = 'STANDARD' | 'EXPRESS';

/**
 * Where the payment steps charge and refund: the sandbox (SigV4-signed calls to its IAM-authorized API), or a real
 * provider over https with a bearer API key kept in AWS Secrets Manager.
 */
export type PaymentProvider =
  | { readonly kind: 'sandbox'; readonly sandbox: Sandbox }
  | { readonly kind: 'external'; readonly url: string; readonly secretArn: string };

export interface SagaProps {
  readonly table: dynamodb.ITable;
  readonly bus: events.IEventBus;
  /** The payment provider the payment steps call, and how they authenticate to it. */
  readonly paymentProvider: PaymentProvider;
  /**
   * STANDARD: exactly-once state transitions, one-year executions, RedriveExecution. EXPRESS: at-least-once and about
   * two orders of magnitude cheaper per order. Every step is idempotent, so both are correct.
   * @default 'STANDARD'
   */
  readonly workflowType?: SagaWorkflowType;
  /** Client-side timeout of one payment call. @default Duration.seconds(3) */
  readonly paymentTimeout?: Duration;
  /**
   * How long after it was sent a charge request can still land at the provider (docs/payment-provider.md). A
   * compensation that finds no charge after an unanswered request waits this long before it decides none was made.
   * @default Duration.seconds(30)
   */
  readonly paymentSettleTime?: Duration;
  /**
   * How long the provider remembers an idempotency key. A charge retried later than this looks its first attempt
   * up instead of relying on the key. @default Duration.hours(24)
   */
  readonly paymentKeyRetention?: Duration;
  /**
   * The payment provider's circuit breaker (functions/resilience/circuit-breaker.ts): `failureThreshold` failed calls in
   * a row open it; it stays open `openInterval`, then one probe may try the provider.
   * @default { failureThreshold: 5, openInterval: Duration.seconds(30) }
   */
  readonly paymentCircuit?: { readonly failureThreshold?: number; readonly openInterval?: Duration };
  /**
   * How long an order waits for a payment provider whose circuit is open before it is cancelled
   * (PAYMENT_UNAVAILABLE). While it waits it stays PENDING with a `Held` timeline entry and a `hold` in its view.
   * @default Duration.minutes(15)
   */
  readonly paymentHold?: Duration;
  /**
   * How many orders held during an outage may go to the provider per second once its circuit has closed; they go in
   * arrival order (functions/payments/release-line.ts).
   * @default 20
   */
  readonly paymentReleasePerSecond?: number;
  /**
   * Concurrent batches (of up to 10 orders) the saga starter takes from its queue: the pace at which a burst of
   * orders reaches the payment step. @default 5
   */
  readonly startConcurrency?: number;
  /**
   * A STANDARD execution waits out a payment hold inside it, so its timeout must be longer than the hold.
   * @default Duration.minutes(15), plus the payment hold for STANDARD
   */
  readonly executionTimeout?: Duration;
  /**
   * Days an order (with the customer's e-mail and name) is kept after it is CONFIRMED or CANCELLED; DynamoDB's TTL
   * then deletes it. 1 to 1825 (TTL ignores expiries more than five years away). @default 400
   */
  readonly orderRetentionDays?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/** The payment steps' settings, resolved from SagaProps and their defaults. */
export interface PaymentStepSettings {
  readonly timeout: Duration;
  readonly settleTime: Duration;
  readonly keyRetention: Duration;
  readonly circuitFailureThreshold: number;
  readonly circuitOpenInterval: Duration;
  readonly hold: Duration;
  readonly releasePerSecond: number;
}

/**
 * What a function that charges or refunds through `paymentStepDeps()` (functions/payments/payment-config.ts) reads
 * from its environment: the provider, how to reach it, and the payment settings. AuthorizePayment, VoidPayment and the
 * synchronous `POST /orders` (`orderFlow: 'sync'`) get the one `Saga.paymentStepEnvironment`, so they cannot drift
 * apart; each also needs `grantPaymentProvider`.
 */
export function paymentStepEnvironment(
  provider: PaymentProvider,
  settings: PaymentStepSettings,
): Record<string, string> {
  return {
    ...paymentEnvironment(provider),
    [ENV.PAYMENT_TIMEOUT_MS]: String(settings.timeout.toMilliseconds()),
    [ENV.PAYMENT_SETTLE_SECONDS]: String(settings.settleTime.toSeconds()),
    [ENV.PAYMENT_KEY_RETENTION_HOURS]: String(settings.keyRetention.toHours()),
    [ENV.PAYMENT_CIRCUIT_FAILURE_THRESHOLD]: String(settings.circuitFailureThreshold),
    [ENV.PAYMENT_CIRCUIT_OPEN_SECONDS]: String(settings.circuitOpenInterval.toSeconds()),
    [ENV.PAYMENT_HOLD_SECONDS]: String(settings.hold.toSeconds()),
    [ENV.PAYMENT_RELEASE_PER_SECOND]: String(settings.releasePerSecond),
  };
}

function paymentEnvironment(provider: PaymentProvider): Record<string, string> {
  return provider.kind === 'sandbox'
    ? { [ENV.PAYMENT_PROVIDER_URL]: provider.sandbox.url, [ENV.PAYMENT_PROVIDER_AUTH]: 'sigv4' }
    : {
        [ENV.PAYMENT_PROVIDER_URL]: provider.url,
        [ENV.PAYMENT_PROVIDER_AUTH]: 'bearer',
        [ENV.PAYMENT_PROVIDER_SECRET_ARN]: provider.secretArn,
      };
}

/** Lets `fn` call the payment provider: the sandbox's payment routes (SigV4), or read the real provider's key. */
export function grantPaymentProvider(fn: BuzzerFunction, provider: PaymentProvider): void {
  if (provider.kind === 'sandbox') {
    provider.sandbox.grantInvoke(fn.role, SANDBOX_PAYMENT_ROUTES);
    return;
  }
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [provider.secretArn] }),
  );
}

/** The step Lambdas, in the order the happy path runs them, then the compensations in the order they run. */
const STEPS = {
  ReserveStock: 'saga/reserve-stock.ts',
  AuthorizePayment: 'saga/authorize-payment.ts',
  ConfirmOrder: 'saga/confirm-order.ts',
  VoidPayment: 'saga/void-payment.ts',
  ReleaseStock: 'saga/release-stock.ts',
  CancelOrder: 'saga/cancel-order.ts',
} as const;
type StepName = keyof typeof STEPS;

/**
 * The order saga: ReserveStock → AuthorizePayment → ConfirmOrder; a failure anywhere runs the compensations in
 * reverse (VoidPayment → ReleaseStock → CancelOrder), each a no-op when there is nothing to undo. It is started from
 * `OrderPlaced` through a queue and a starter function, because an EventBridge rule cannot choose the execution name,
 * and the name (derived from the order id) is what stops a duplicate event from starting a second saga.
 */
export class Saga extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly steps: Record<StepName, BuzzerFunction>;
  public readonly starter: BuzzerFunction;
  public readonly startQueue: DeadLetteredQueue;
  public readonly workflowType: SagaWorkflowType;
  /** The payment steps' environment (`paymentStepEnvironment`), for any other function that charges the same way. */
  public readonly paymentStepEnvironment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: SagaProps) {
    super(scope, id);
    this.workflowType = props.workflowType ?? 'STANDARD';
    if (this.workflowType !== 'STANDARD' && this.workflowType !== 'EXPRESS') {
      throw new Error(
        `Saga ${id}: workflowType must be STANDARD or EXPRESS, got ${String(this.workflowType)}`,
      );
    }
    const paymentTimeout = props.paymentTimeout ?? Duration.seconds(3);
    const retentionDays = props.orderRetentionDays ?? 400;
    if (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > 1825) {
      throw new Error(
        `Saga ${id}: orderRetentionDays must be a whole number from 1 to 1825, got ${retentionDays}`,
      );
    }
    const settleTime = props.paymentSettleTime ?? Duration.seconds(30);
    const keyRetention = props.paymentKeyRetention ?? Duration.hours(24);
    if (settleTime.toSeconds() <= paymentTimeout.toSeconds()) {
      throw new Error(`Saga ${id}: paymentSettleTime must be longer than paymentTimeout`);
    }
    const hold = props.paymentHold ?? Duration.seconds(DEFAULT_PAYMENT_HOLD_SECONDS);
    const failureThreshold = props.paymentCircuit?.failureThreshold ?? DEFAULT_CIRCUIT_FAILURE_THRESHOLD;
    const openInterval = props.paymentCircuit?.openInterval ?? Duration.seconds(DEFAULT_CIRCUIT_OPEN_SECONDS);
    if (!Number.isInteger(failureThreshold) || failureThreshold < 1) {
      throw new Error(`Saga ${id}: paymentCircuit.failureThreshold must be a whole number of at least 1`);
    }
    const releasePerSecond = props.paymentReleasePerSecond ?? DEFAULT_PAYMENT_RELEASE_PER_SECOND;
    if (!Number.isInteger(releasePerSecond) || releasePerSecond < 1) {
      throw new Error(`Saga ${id}: paymentReleasePerSecond must be a whole number of at least 1`);
    }
    if (openInterval.toSeconds() < 1 || hold.toSeconds() < 1) {
      throw new Error(`Saga ${id}: paymentCircuit.openInterval and paymentHold must be at least 1 second`);
    }
    const executionTimeout =
      props.executionTimeout ??
      (this.workflowType === 'STANDARD' ? Duration.minutes(15).plus(hold) : Duration.minutes(15));
    if (this.workflowType === 'STANDARD' && executionTimeout.toSeconds() <= hold.toSeconds()) {
      throw new Error(
        `Saga ${id}: executionTimeout must be longer than paymentHold (a STANDARD execution waits it out)`,
      );
    }

    this.paymentStepEnvironment = paymentStepEnvironment(props.paymentProvider, {
      timeout: paymentTimeout,
      settleTime,
      keyRetention,
      circuitFailureThreshold: failureThreshold,
      circuitOpenInterval: openInterval,
      hold,
      releasePerSecond,
    });

    const steps = {} as Record<StepName, BuzzerFunction>;
    for (const [name, entry] of Object.entries(STEPS) as [StepName, string][]) {
      const isPayment = name === 'AuthorizePayment' || name === 'VoidPayment';
      const fn = new BuzzerFunction(this, name, {
        entry,
        serviceName: `saga-${name}`,
        // A payment step must outlive its own HTTP timeout to report it as a retryable error.
        timeout: isPayment ? Duration.seconds(paymentTimeout.toSeconds() + 7) : Duration.seconds(10),
        environment: {
          [ENV.TABLE_NAME]: props.table.tableName,
          ...(name === 'ConfirmOrder' || name === 'CancelOrder'
            ? { [ENV.ORDER_RETENTION_DAYS]: String(retentionDays) }
            : {}),
          ...(isPayment ? this.paymentStepEnvironment : {}),
        },
      });
      fn.grantTableAccess(props.table);
      if (isPayment) grantPaymentProvider(fn, props.paymentProvider);
      steps[name] = fn;
    }
    this.steps = steps;

    const task = (name: StepName, resultPath: string): tasks.LambdaInvoke =>
      new tasks.LambdaInvoke(this, `${name}Task`, {
        stateName: name,
        lambdaFunction: steps[name].function,
        payload: sfn.TaskInput.fromJsonPathAt('$'),
        resultSelector: { 'value.$': '$.Payload' },
        resultPath,
        retryOnServiceExceptions: true,
      });

    const cancelled = new sfn.Succeed(this, 'Cancelled', { comment: 'Compensated: the order is CANCELLED' });
    const compensate = (name: StepName, waitFor?: { error: string; state: sfn.Wait }): tasks.LambdaInvoke => {
      const t = task(name, sfn.JsonPath.DISCARD);
      if (waitFor) {
        // Not a failure: the step cannot decide yet. Wait (in real time, also locally) and ask again, so the retries
        // below stay for faults.
        t.addRetry({ errors: [waitFor.error], maxAttempts: 0 });
        t.addCatch(waitFor.state, { errors: [waitFor.error], resultPath: sfn.JsonPath.DISCARD });
        waitFor.state.next(t);
      }
      // Compensations must eventually succeed: retry long, then fail *in this task* (no Catch), so that
      // RedriveExecution resumes exactly here and the remaining compensations run (buzzer saga redrive).
      t.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(2), maxAttempts: 5, backoffRate: 2 });
      return t;
    };
    // An unanswered charge request may still land: VoidPayment waits for it rather than miss its refund.
    const chargeSettle = new sfn.Wait(this, 'AwaitChargeSettlement', {
      time: sfn.WaitTime.duration(Duration.seconds(5)),
    });
    const compensation = compensate('VoidPayment', {
      error: STEP_ERRORS.ChargeMayBeInFlight,
      state: chargeSettle,
    })
      .next(compensate('ReleaseStock'))
      .next(compensate('CancelOrder'))
      .next(cancelled);

    const reserve = task('ReserveStock', '$.reservation');
    const authorize = task('AuthorizePayment', '$.payment');
    authorize.addRetry({
      errors: [STEP_ERRORS.PaymentProviderUnavailable, sfn.Errors.TIMEOUT],
      interval: Duration.seconds(1),
      maxAttempts: PAYMENT_UNAVAILABLE_RETRIES,
      backoffRate: 2,
      maxDelay: Duration.seconds(10),
      jitterStrategy: sfn.JitterType.FULL,
    });
    const confirm = task('ConfirmOrder', '$.confirmation');
    // The queue the saga starts from is also where a held EXPRESS saga parks its order (see `waitForProvider`).
    this.startQueue = new DeadLetteredQueue(this, 'StartQueue', { visibilityTimeout: Duration.seconds(60) });
    // A held order (`$.payment.value.held`) goes on to ConfirmOrder like a paid one, which throws PaymentHeld before
    // any effect; the catch keeps the state input (the hold's `waitSeconds`) and waits or parks. A Choice after
    // AuthorizePayment would be one more billed STANDARD transition on every confirmed order ($25 per million); this
    // costs one more ConfirmOrder invocation per wait, during a payment outage only. Both come before the clauses
    // below: the first matching retrier and catcher win, and States.ALL must neither retry nor compensate a hold.
    confirm.addRetry({ errors: [STEP_ERRORS.PaymentHeld], maxAttempts: 0 });
    confirm.addCatch(this.waitForProvider(authorize), {
      errors: [STEP_ERRORS.PaymentHeld],
      resultPath: sfn.JsonPath.DISCARD,
    });
    for (const step of [reserve, authorize, confirm]) {
      // A verdict on the order: straight to the compensation (MaxAttempts 0 ends the retrier search here).
      step.addRetry({ errors: [...VERDICTS], maxAttempts: 0 });
      // Anything else is a passing fault until proven otherwise: a raced write (ConcurrentModification), a crash, a
      // timeout, a throttle. Every step is idempotent, so a retry after a crash that came *after* the effect
      // converges on the same result instead of cancelling an order that could have been confirmed.
      step.addRetry({
        errors: [sfn.Errors.ALL],
        interval: Duration.seconds(1),
        maxAttempts: 3,
        backoffRate: 2,
        jitterStrategy: sfn.JitterType.FULL,
      });
      step.addCatch(compensation, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    }
    // ConfirmOrder ends the execution itself: a Succeed state after it would be one more state transition on every
    // confirmed order ($25 per million orders on STANDARD) and tell nothing the task's end does not.
    const definition = reserve.next(authorize).next(confirm);

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType:
        this.workflowType === 'EXPRESS' ? sfn.StateMachineType.EXPRESS : sfn.StateMachineType.STANDARD,
      timeout: executionTimeout,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });

    for (const fn of Object.values(steps)) {
      Validations.of(this.stateMachine).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(fn.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason: 'lambda:InvokeFunction on the step function and its versions/aliases (ARN:*), nothing else.',
      });
    }
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray tracing and CloudWatch Logs delivery actions support no resource-level scoping.',
    });

    this.starter = new BuzzerFunction(this, 'Starter', {
      entry: 'saga/start-saga.ts',
      serviceName: 'saga-starter',
      environment: {
        [ENV.STATE_MACHINE_ARN]: this.stateMachine.stateMachineArn,
        [ENV.TABLE_NAME]: props.table.tableName,
        // A parked order waits its turn in the line of held orders on the queue, not in an execution.
        [ENV.PAYMENT_RELEASE_PER_SECOND]: String(releasePerSecond),
      },
    });
    this.stateMachine.grantStartExecution(this.starter.function);
    this.starter.grantTableAccess(props.table);
    // A parked order that comes back while the circuit is still open goes back on the queue as a new message.
    this.startQueue.queue.grantSendMessages(this.starter.function);
    if (this.workflowType === 'EXPRESS') this.startQueue.queue.grantSendMessages(this.stateMachine);
    this.starter.function.addEventSource(
      new SqsEventSource(this.startQueue.queue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: props.startConcurrency ?? 5,
      }),
    );
    const rule = new events.Rule(this, 'OrderPlacedRule', {
      eventBus: props.bus,
      eventPattern: { source: [EVENT_SOURCE], detailType: [DETAIL_TYPES.OrderPlaced] },
    });
    rule.addTarget(
      new targets.SqsQueue(this.startQueue.queue, {
        deadLetterQueue: this.startQueue.deadLetterQueue,
        retryAttempts: 185,
        maxEventAge: Duration.hours(24),
      }),
    );
  }

  /**
   * What a held saga does (ConfirmOrder's catch of PaymentHeld) until the payment provider's circuit may let a call
   * through (`$.payment.value.held.waitSeconds`, never past the order's hold). STANDARD waits inside the execution and
   * runs AuthorizePayment again: an execution may last a year, and redrive and exactly-once transitions keep. EXPRESS
   * cannot: its executions end after 5 minutes and may run more than once, so it parks the order on the saga-start
   * queue with that delay (a new message: no receive count is used up) and ends; the starter runs the saga again when
   * the message comes back and the circuit may be probed, or puts it back again while the circuit is open. Every step
   * is idempotent, so the rerun converges.
   */
  private waitForProvider(authorize: tasks.LambdaInvoke): sfn.IChainable {
    if (this.workflowType === 'STANDARD') {
      return new sfn.Wait(this, 'AwaitPaymentProvider', {
        comment: 'The payment circuit is open: wait, then try the payment again',
        time: sfn.WaitTime.secondsPath('$.payment.value.held.waitSeconds'),
      }).next(authorize);
    }
    const park = new sfn.CustomState(this, 'ParkOrder', {
      stateJson: {
        Type: 'Task',
        Comment: 'The payment circuit is open: the saga-start queue brings the order back after the delay',
        Resource: `arn:${Aws.PARTITION}:states:::sqs:sendMessage`,
        Parameters: {
          QueueUrl: this.startQueue.queue.queueUrl,
          MessageBody: {
            kind: SAGA_RESUME_MESSAGE,
            'orderId.$': '$.orderId',
            'correlationId.$': '$.correlationId',
            'holdUntil.$': '$.payment.value.held.until',
          },
          'DelaySeconds.$': '$.payment.value.held.waitSeconds',
        },
        ResultPath: null,
      },
    });
    park.addRetry({
      errors: [sfn.Errors.ALL],
      interval: Duration.seconds(1),
      maxAttempts: 5,
      backoffRate: 2,
    });
    return park.next(
      new sfn.Succeed(this, 'Parked', {
        comment: 'The order is PENDING on hold; the start queue resumes it',
      }),
    );
  }
}
