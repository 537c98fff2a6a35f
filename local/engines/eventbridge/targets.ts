/**
 * Delivery of one payload to one rule/schedule target (SQS queue, Lambda function, state machine, event bus),
 * with the target's RetryPolicy and dead-letter queue as EventBridge applies them:
 * - retryable failures are retried with exponential backoff until `MaximumRetryAttempts` or
 *   `MaximumEventAgeInSeconds` is exhausted; a missing target resource is not retried (AWS sends it straight on);
 * - then the event goes to the DLQ with the attributes AWS adds (RULE_ARN, TARGET_ARN, ERROR_CODE,
 *   ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS), or is dropped (logged) without a DLQ.
 * AWS's defaults (185 attempts over 24 h) would keep a laptop retrying all day, so the runtime may pass a
 * shorter `defaultRetryPolicy` for targets whose template sets none.
 * A Lambda target is invoked asynchronously on AWS: delivery succeeds once Lambda accepts the event, so a
 * function error is the function's (logged here), not a failed delivery.
 */
import { randomUUID } from 'node:crypto';
import { type MessageAttributeValue, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { LambdaInvoker, RuntimeLogger } from '../../types.ts';

export type TargetType = 'sqs' | 'lambda' | 'states' | 'event-bus';

export interface RetryPolicy {
  MaximumRetryAttempts?: number;
  MaximumEventAgeInSeconds?: number;
}

export interface DeliveryTarget {
  arn: string;
  /** `SqsParameters.MessageGroupId` for FIFO queues. */
  messageGroupId?: string;
  retryPolicy?: RetryPolicy;
  deadLetterArn?: string;
}

export interface Delivery {
  /** What the target receives (the rendered target input). */
  payload: string;
  /** What the DLQ receives if delivery fails for good (EventBridge puts the event there). */
  deadLetterBody: string;
  /** Time the event entered the bus / the schedule fired: `MaximumEventAgeInSeconds` counts from here. */
  eventTime: number;
  /** FIFO deduplication id (EventBridge uses the event id). */
  deduplicationId?: string;
  /** Extra DLQ attributes, e.g. `RULE_ARN` or the scheduler's `X-Amz-Scheduler-*`. */
  deadLetterAttributes?: Record<string, string>;
  /** Name used in logs: the rule or schedule. */
  source: string;
}

export interface ExecutionStarter {
  startExecution(input: { stateMachineArn: string; input?: string; name?: string }): Promise<unknown>;
}

export interface TargetDeps {
  sqs: SQSClient;
  /** Maps a queue ARN to its URL; undefined when the queue does not exist. */
  resolveQueueUrl(queueArn: string): string | undefined;
  lambda: LambdaInvoker;
  stepFunctions?: ExecutionStarter;
  /** Re-publishes an event on another bus (bus-to-bus targets); provided by the bus engine. */
  forwardToBus?(busArn: string, event: unknown): Promise<void>;
  logger: RuntimeLogger;
}

export interface DispatcherOptions {
  /** Used for targets whose template sets no RetryPolicy (AWS: 185 attempts, 86 400 s). */
  defaultRetryPolicy?: Required<RetryPolicy>;
  /** Delay before retry `attempt` (1-based); AWS backs off exponentially with jitter. */
  retryDelayMs?(attempt: number): number;
}

export interface DeliveryMetrics {
  delivered: Record<TargetType, number>;
  failedAttempts: number;
  deadLettered: number;
  dropped: number;
}

const AWS_DEFAULT_RETRY_POLICY: Required<RetryPolicy> = {
  MaximumRetryAttempts: 185,
  MaximumEventAgeInSeconds: 86_400,
};

/** A delivery failure with the ERROR_CODE EventBridge reports for it. */
export class TargetDeliveryError extends Error {
  override name = 'TargetDeliveryError';
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, retryable: boolean) {
    super(message);
    this.code = code;
    this.retryable = retryable;
  }
}

export function targetTypeOf(arn: string): TargetType | undefined {
  const service = arn.split(':')[2];
  if (service === 'sqs') return 'sqs';
  if (service === 'lambda') return 'lambda';
  if (service === 'states' && arn.includes(':stateMachine:')) return 'states';
  if (service === 'events' && arn.includes(':event-bus/')) return 'event-bus';
  return undefined;
}

export class TargetDispatcher {
  private readonly deps: TargetDeps;
  private readonly defaultRetryPolicy: Required<RetryPolicy>;
  private readonly retryDelayMs: (attempt: number) => number;
  private readonly inFlight = new Set<Promise<void>>();
  /** Pending retry back-offs: stop() wakes them so no delivery stays parked forever. */
  private readonly sleepers = new Map<NodeJS.Timeout, () => void>();
  private readonly counters: DeliveryMetrics = {
    delivered: { sqs: 0, lambda: 0, states: 0, 'event-bus': 0 },
    failedAttempts: 0,
    deadLettered: 0,
    dropped: 0,
  };
  private stopped = false;

  constructor(deps: TargetDeps, options: DispatcherOptions = {}) {
    this.deps = deps;
    this.defaultRetryPolicy = options.defaultRetryPolicy ?? AWS_DEFAULT_RETRY_POLICY;
    this.retryDelayMs = options.retryDelayMs ?? ((attempt) => Math.min(1000 * 2 ** (attempt - 1), 60_000));
  }

  /** Wires bus-to-bus delivery (the bus engine creates the dispatcher before it can forward). */
  setForwarder(forward: (busArn: string, event: unknown) => Promise<void>): void {
    this.deps.forwardToBus = forward;
  }

  /**
   * Starts delivering in the background; `waitForIdle()` resolves once every delivery has ended. The answer resolves
   * once the first attempt has ended (delivered, or failed with its retries scheduled), for a caller that must not
   * acknowledge the event before it is on its target.
   */
  dispatch(target: DeliveryTarget, delivery: Delivery): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const { promise: firstTried, resolve } = Promise.withResolvers<void>();
    this.track(this.attempt(target, delivery, 0, resolve).finally(resolve));
    return firstTried;
  }

  async waitForIdle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  metrics(): DeliveryMetrics {
    return structuredClone(this.counters);
  }

  /** Drops pending retries; deliveries already under way finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const [timer, wake] of this.sleepers) {
      clearTimeout(timer);
      wake();
    }
    this.sleepers.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async attempt(
    target: DeliveryTarget,
    delivery: Delivery,
    retriesSoFar: number,
    tried: () => void = () => {},
  ): Promise<void> {
    try {
      await this.send(target, delivery);
      const type = targetTypeOf(target.arn);
      if (type) this.counters.delivered[type] += 1;
      return;
    } catch (thrown) {
      tried();
      this.counters.failedAttempts += 1;
      const error =
        thrown instanceof TargetDeliveryError
          ? thrown
          : new TargetDeliveryError(
              'SDK_CLIENT_ERROR',
              thrown instanceof Error ? thrown.message : String(thrown),
              true,
            );
      const policy = { ...this.defaultRetryPolicy, ...definedOnly(target.retryPolicy) };
      const delay = this.retryDelayMs(retriesSoFar + 1);
      const ageAtRetryMs = Date.now() + delay - delivery.eventTime;
      let exhausted: string | undefined;
      if (error.retryable && retriesSoFar >= policy.MaximumRetryAttempts)
        exhausted = 'MaximumRetryAttemptsExhausted';
      else if (error.retryable && ageAtRetryMs > policy.MaximumEventAgeInSeconds * 1000) {
        exhausted = 'MaximumEventAgeExhausted';
      }
      if (error.retryable && !exhausted && !this.stopped) {
        this.deps.logger.debug('eventbridge: delivery failed, retrying', {
          source: delivery.source,
          target: target.arn,
          attempt: retriesSoFar + 1,
          error: error.message,
        });
        await this.sleep(delay);
        if (!this.stopped) await this.attempt(target, delivery, retriesSoFar + 1);
        return;
      }
      await this.deadLetter(target, delivery, error, exhausted, retriesSoFar);
    }
  }

  private async send(target: DeliveryTarget, delivery: Delivery): Promise<void> {
    switch (targetTypeOf(target.arn)) {
      case 'sqs':
        return this.sendToQueue(target.arn, delivery.payload, {
          messageGroupId: target.messageGroupId,
          deduplicationId: target.messageGroupId ? delivery.deduplicationId : undefined,
        });
      case 'lambda':
        return this.invokeFunction(target.arn, delivery);
      case 'states':
        return this.startExecution(target.arn, delivery.payload);
      case 'event-bus': {
        const forward = this.deps.forwardToBus;
        if (!forward)
          throw new TargetDeliveryError('NO_RESOURCE', 'No event bus is available locally', false);
        return forward(target.arn, parsePayload(delivery.payload));
      }
      default:
        throw new TargetDeliveryError('NO_RESOURCE', `Target ${target.arn} is not supported locally`, false);
    }
  }

  private async sendToQueue(
    queueArn: string,
    body: string,
    fifo: { messageGroupId?: string; deduplicationId?: string },
    attributes?: Record<string, MessageAttributeValue>,
  ): Promise<void> {
    const queueUrl = this.deps.resolveQueueUrl(queueArn);
    if (!queueUrl) throw new TargetDeliveryError('NO_RESOURCE', `Queue ${queueArn} does not exist`, false);
    try {
      await this.deps.sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: body,
          MessageGroupId: fifo.messageGroupId,
          MessageDeduplicationId: fifo.deduplicationId,
          MessageAttributes: attributes,
        }),
      );
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      const message = error instanceof Error ? error.message : String(error);
      if (/QueueDoesNotExist|NonExistentQueue/.test(name))
        throw new TargetDeliveryError('NO_RESOURCE', message, false);
      if (/InvalidParameter|MissingParameter|InvalidMessageContents/.test(name)) {
        throw new TargetDeliveryError('INVALID_PARAMETER', message, false);
      }
      throw new TargetDeliveryError('SDK_CLIENT_ERROR', message, true);
    }
  }

  private async invokeFunction(functionArn: string, delivery: Delivery): Promise<void> {
    let result: Awaited<ReturnType<LambdaInvoker['invoke']>>;
    try {
      result = await this.deps.lambda.invoke(functionArn, parsePayload(delivery.payload));
    } catch (error) {
      // The local Lambda service names its API errors by the Lambda error codes.
      const name = error instanceof Error ? error.name : '';
      const message = error instanceof Error ? error.message : String(error);
      if (name === 'ResourceNotFoundException' || /not ?found|does not exist/i.test(message)) {
        throw new TargetDeliveryError('NO_RESOURCE', message, false);
      }
      if (name === 'TooManyRequestsException') throw new TargetDeliveryError('THROTTLING', message, true);
      if (name === 'RequestEntityTooLargeException')
        throw new TargetDeliveryError('INVALID_PARAMETER', message, false);
      throw new TargetDeliveryError('SDK_CLIENT_ERROR', message, true);
    }
    if (result.error) {
      this.deps.logger.warn('eventbridge: target function failed (asynchronous invocation)', {
        source: delivery.source,
        function: functionArn,
        errorType: result.error.errorType,
        errorMessage: result.error.errorMessage,
      });
    }
  }

  private async startExecution(stateMachineArn: string, input: string): Promise<void> {
    const engine = this.deps.stepFunctions;
    if (!engine) throw new TargetDeliveryError('NO_RESOURCE', 'No Step Functions engine is available', false);
    try {
      await engine.startExecution({ stateMachineArn, input, name: randomUUID() });
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      const message = error instanceof Error ? error.message : String(error);
      if (name === 'StateMachineDoesNotExist') throw new TargetDeliveryError('NO_RESOURCE', message, false);
      if (name === 'InvalidExecutionInput') throw new TargetDeliveryError('INVALID_JSON', message, false);
      throw new TargetDeliveryError('SDK_CLIENT_ERROR', message, true);
    }
  }

  private async deadLetter(
    target: DeliveryTarget,
    delivery: Delivery,
    error: TargetDeliveryError,
    exhausted: string | undefined,
    retries: number,
  ): Promise<void> {
    const fields = {
      source: delivery.source,
      target: target.arn,
      errorCode: error.code,
      error: error.message,
    };
    if (!target.deadLetterArn) {
      this.counters.dropped += 1;
      this.deps.logger.warn(
        'eventbridge: event dropped after failed delivery (no dead-letter queue)',
        fields,
      );
      return;
    }
    const attributes: Record<string, string> = {
      ...delivery.deadLetterAttributes,
      TARGET_ARN: target.arn,
      ERROR_CODE: error.code,
      ERROR_MESSAGE: error.message.slice(0, 1024),
      RETRY_ATTEMPTS: String(retries),
      ...(exhausted ? { EXHAUSTED_RETRY_CONDITION: exhausted } : {}),
    };
    try {
      await this.sendToQueue(
        target.deadLetterArn,
        delivery.deadLetterBody,
        {},
        Object.fromEntries(
          Object.entries(attributes).map(([key, value]) => [key, { DataType: 'String', StringValue: value }]),
        ),
      );
      this.counters.deadLettered += 1;
      this.deps.logger.warn('eventbridge: event sent to the dead-letter queue', {
        ...fields,
        dlq: target.deadLetterArn,
      });
    } catch (dlqError) {
      this.counters.dropped += 1;
      this.deps.logger.error('eventbridge: cannot write to the dead-letter queue; event dropped', {
        ...fields,
        dlq: target.deadLetterArn,
        dlqError: dlqError instanceof Error ? dlqError.message : String(dlqError),
      });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleepers.delete(timer);
        resolve();
      }, ms);
      this.sleepers.set(timer, resolve);
    });
  }
}

/** Lambda and buses take the payload as JSON; a plain-text InputTransformer result is passed on as a string. */
function parsePayload(payload: string): unknown {
  try {
    return JSON.parse(payload) as unknown;
  } catch {
    return payload;
  }
}

function definedOnly(policy: RetryPolicy | undefined): RetryPolicy {
  if (!policy) return {};
  return Object.fromEntries(
    Object.entries(policy).filter(([, value]) => typeof value === 'number'),
  ) as RetryPolicy;
}
