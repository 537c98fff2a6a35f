import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { type DetailType, EVENT_SOURCE } from '#contracts/events.ts';
import { BuzzerFunction, type BuzzerFunctionProps } from './buzzer-function.ts';
import { DeadLetteredQueue } from './queues.ts';

/**
 * The batching window of the consumers that act on an order's end (mail, points, webhook fan-out). Each receive and
 * each delete is a billed SQS request, and each batch an invocation: gathering for up to a second turns about 1.5
 * messages a receive into several at a few orders a second, which takes about $1 per million orders off SQS and
 * Lambda requests (docs/writes-per-order.md). The second is added to the mail, the credit and the webhook, none of
 * which the client waits on; the saga-start queue, which the order's time to terminal waits on, has no window.
 */
export const AFTER_ORDER_BATCHING_WINDOW = Duration.seconds(1);

export interface QueueWorkerProps {
  /** The bus whose events this worker consumes. */
  readonly bus: events.IEventBus;
  /** Which events (by `detail-type`) land on the worker's queue. */
  readonly detailTypes: DetailType[];
  /** The `source` of those events. @default 'buzzer.orders' */
  readonly source?: string;
  /** The consuming function. */
  readonly handler: Omit<BuzzerFunctionProps, 'timeout'>;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 10 */
  readonly batchSize?: number;
  /** How long the poller may gather a batch; SQS requires at least 1 s for a batch size above 10. @default none */
  readonly maxBatchingWindow?: Duration;
  /** @default 5 */
  readonly maxReceiveCount?: number;
  /** Concurrent batches the event source mapping may run (back-pressure on the downstream). @default 5 */
  readonly maxConcurrency?: number;
}

/**
 * Events → SQS queue (+DLQ) → Lambda with partial batch responses. The queue decouples the consumer from the bus: a
 * slow or broken downstream piles up in its own queue and never affects the order or other consumers.
 */
export class QueueWorker extends Construct {
  public readonly queue: DeadLetteredQueue;
  public readonly handler: BuzzerFunction;
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: QueueWorkerProps) {
    super(scope, id);
    if (props.detailTypes.length === 0) throw new Error(`QueueWorker ${id}: detailTypes must not be empty`);
    const timeout = props.timeout ?? Duration.seconds(30);

    this.handler = new BuzzerFunction(this, 'Handler', { ...props.handler, timeout });
    // AWS guidance: visibility timeout at least six times the function timeout, so a retried batch is not redelivered
    // while a slow invocation is still working on it.
    this.queue = new DeadLetteredQueue(this, 'Queue', {
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      maxReceiveCount: props.maxReceiveCount,
    });
    this.handler.function.addEventSource(
      new SqsEventSource(this.queue.queue, {
        batchSize: props.batchSize ?? 10,
        ...(props.maxBatchingWindow ? { maxBatchingWindow: props.maxBatchingWindow } : {}),
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency ?? 5,
      }),
    );

    this.rule = new events.Rule(this, 'Rule', {
      eventBus: props.bus,
      eventPattern: { source: [props.source ?? EVENT_SOURCE], detailType: props.detailTypes },
    });
    // If SQS refuses delivery, EventBridge keeps the event in the same DLQ as failed messages, for one redrive path.
    this.rule.addTarget(
      new targets.SqsQueue(this.queue.queue, {
        deadLetterQueue: this.queue.deadLetterQueue,
        retryAttempts: 185,
        maxEventAge: Duration.hours(24),
      }),
    );
  }
}
