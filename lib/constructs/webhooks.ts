import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '#contracts/environment.ts';
import { ORDER_EVENT_TYPES } from '#contracts/events.ts';
import { SECRET_PURPOSE } from '#functions/webhooks/secret-box.ts';
import type { Api } from './api.ts';
import { BuzzerFunction } from './buzzer-function.ts';
import { AFTER_ORDER_BATCHING_WINDOW, QueueWorker } from './queue-worker.ts';
import { DeadLetteredQueue } from './queues.ts';

export interface WebhooksProps {
  readonly table: dynamodb.ITable;
  readonly bus: events.IEventBus;
  /** The client API, which gets `POST /webhooks/{id}/enable` (it needs the delivery queue). */
  readonly api: Api;
  /**
   * Delay before each attempt in seconds, the first 0 (`WEBHOOK_RETRY_SCHEDULE_SECONDS`).
   * @default the Svix schedule: 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
   */
  readonly retryScheduleSeconds?: number[];
  /** Concurrent delivery batches (each up to 10 deliveries in parallel). @default 10 */
  readonly maxConcurrency?: number;
  /** Concurrent fan-out batches. @default 5 */
  readonly fanOutConcurrency?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the key sealing the webhook secrets when the stack is deleted. Deleting it makes every stored
   * secret unreadable, so it follows the table. @default RemovalPolicy.RETAIN
   */
  readonly secretsKeyRemovalPolicy?: RemovalPolicy;
}

/**
 * Signed webhook delivery, one stage per concern:
 *
 *   bus ─rule─▶ events queue (+DLQ) ─▶ fan-out ─▶ delivery queue (+DLQ) ─▶ dispatcher ─HTTPS─▶ client endpoints
 *                                                       ▲        │ retry: re-enqueue with DelaySeconds (hops ≤ 15 min)
 *                                                       └────────┘
 *
 * The fan-out writes one delivery record per subscribed endpoint and sends one message each; the dispatcher makes
 * one attempt per message. A dead endpoint therefore only ever delays its own messages: every request has a 10 s
 * deadline, the records of a batch run in parallel, retries wait in the queue, not in a function, and after five
 * failures in a row the endpoint's circuit opens so its new deliveries wait there too instead of taking slots.
 */
export class Webhooks extends Construct {
  public readonly fanOut: QueueWorker;
  public readonly deliveryQueue: DeadLetteredQueue;
  public readonly dispatcher: BuzzerFunction;
  public readonly enableRoute: BuzzerFunction;
  /** Seals the endpoints' signing secrets (functions/webhooks/secret-box.ts). */
  public readonly secretsKey: kms.Key;

  constructor(scope: Construct, id: string, props: WebhooksProps) {
    super(scope, id);
    const table = props.table;
    const dispatcherTimeout = Duration.seconds(30);

    // Visibility six times the dispatcher's timeout (AWS guidance for Lambda consumers). A message's receives are
    // counted per message and every retry is a new message, so maxReceiveCount only catches a failing dispatcher.
    this.deliveryQueue = new DeadLetteredQueue(this, 'DeliveryQueue', {
      visibilityTimeout: Duration.seconds(dispatcherTimeout.toSeconds() * 6),
      maxReceiveCount: 5,
    });

    this.fanOut = new QueueWorker(this, 'FanOut', {
      bus: props.bus,
      // Every order fact: which ones a client receives is its subscription, read at fan-out time.
      detailTypes: [...ORDER_EVENT_TYPES],
      maxConcurrency: props.fanOutConcurrency,
      maxBatchingWindow: AFTER_ORDER_BATCHING_WINDOW,
      handler: {
        entry: 'webhooks/fan-out-webhooks.ts',
        serviceName: 'webhook-fan-out',
        environment: {
          [ENV.TABLE_NAME]: table.tableName,
          [ENV.DELIVERY_QUEUE_URL]: this.deliveryQueue.queue.queueUrl,
        },
        logRetention: props.logRetention,
      },
    });
    this.fanOut.handler.grantTableAccess(table);
    this.deliveryQueue.queue.grantSendMessages(this.fanOut.handler.role);

    this.dispatcher = new BuzzerFunction(this, 'Dispatcher', {
      entry: 'webhooks/dispatch-webhook.ts',
      serviceName: 'webhook-dispatcher',
      timeout: dispatcherTimeout,
      logRetention: props.logRetention,
      environment: {
        [ENV.TABLE_NAME]: table.tableName,
        [ENV.DELIVERY_QUEUE_URL]: this.deliveryQueue.queue.queueUrl,
        [ENV.DELIVERY_DLQ_URL]: this.deliveryQueue.deadLetterQueue.queueUrl,
        ...(props.retryScheduleSeconds
          ? { [ENV.WEBHOOK_RETRY_SCHEDULE_SECONDS]: props.retryScheduleSeconds.join(',') }
          : {}),
      },
    });
    this.dispatcher.grantTableAccess(table);
    // Its own queue (the next attempt, hops) and its DLQ (deliveries out of attempts).
    this.deliveryQueue.queue.grantSendMessages(this.dispatcher.role);
    this.deliveryQueue.deadLetterQueue.grantSendMessages(this.dispatcher.role);
    this.dispatcher.function.addEventSource(
      new SqsEventSource(this.deliveryQueue.queue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency ?? 10,
      }),
    );

    this.secretsKey = new kms.Key(this, 'SecretsKey', {
      description: 'Buzzer: envelope encryption of webhook signing secrets',
      enableKeyRotation: true,
      removalPolicy: props.secretsKeyRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Registration and rotation seal new secrets; the dispatcher opens them, and seals the plaintext secrets of an
    // endpoint registered before sealing (migrate on read). Nobody else gets either action on this key.
    const sealers = [props.api.handlers.CreateWebhook, props.api.handlers.RotateWebhookSecret];
    for (const fn of sealers) {
      if (!fn)
        throw new Error('Webhooks: the Api must have its CreateWebhook and RotateWebhookSecret routes');
      this.grantSecretsKey(fn, 'kms:GenerateDataKey');
    }
    this.grantSecretsKey(this.dispatcher, 'kms:Decrypt', 'kms:GenerateDataKey');

    this.enableRoute = props.api.addRoute(
      'EnableWebhook',
      apigwv2.HttpMethod.POST,
      '/webhooks/{id}/enable',
      'webhooks/enable-webhook.ts',
      { [ENV.DELIVERY_QUEUE_URL]: this.deliveryQueue.queue.queueUrl },
    );
    this.deliveryQueue.queue.grantSendMessages(this.enableRoute.role);
  }

  /**
   * Lets `fn` use the secrets key for `actions`, only with the webhook-secret encryption context (so the grant cannot
   * be used to encrypt or decrypt anything else under this key), and tells it the key (`WEBHOOK_SECRETS_KEY_ID`).
   */
  private grantSecretsKey(fn: BuzzerFunction, ...actions: string[]): void {
    fn.function.addEnvironment(ENV.WEBHOOK_SECRETS_KEY_ID, this.secretsKey.keyArn);
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions,
        resources: [this.secretsKey.keyArn],
        conditions: {
          StringEquals: { 'kms:EncryptionContext:purpose': SECRET_PURPOSE },
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['purpose', 'clientId', 'webhookId'] },
        },
      }),
    );
  }
}
