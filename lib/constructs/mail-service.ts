import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '#contracts/environment.ts';
import { DETAIL_TYPES } from '#contracts/events.ts';
import { DEFAULT_MAIL_SEND_CONCURRENCY, SENT_MAIL_KEY } from '#contracts/mail.ts';
import { BuzzerFunction } from './buzzer-function.ts';
import { QueueWorker } from './queue-worker.ts';
import { DeadLetteredQueue } from './queues.ts';

export interface MailServiceProps {
  readonly bus: events.IEventBus;
  /** The single table: the sender's idempotency markers, failure log, the mail circuit and held-copy tickets. */
  readonly table: dynamodb.ITable;
  /** The mail transport's settings (MAIL_TRANSPORT, MAIL_SINK_URL / MAIL_FROM, the mail circuit's). */
  readonly mailEnvironment: Record<string, string>;
  /** Mails one batch of the sender may take. @default 100 */
  readonly batchSize?: number;
  /** How long the sender's poller may gather a batch. @default Duration.seconds(1) (SQS's least above 10 a batch) */
  readonly maxBatchingWindow?: Duration;
  /** Batches sent at once from the transactional lane (order mail). @default 2 */
  readonly maxConcurrency?: number;
  /** Batches sent at once from the bulk lane (campaigns). @default 2 */
  readonly bulkMaxConcurrency?: number;
  /** Mails each batch has in flight at once. @default DEFAULT_MAIL_SEND_CONCURRENCY (8) */
  readonly sendConcurrency?: number;
  /** @default RemovalPolicy.RETAIN: sent mail is a record of what customers were told. */
  readonly removalPolicy?: RemovalPolicy;
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The mail service built for bursts from many producers (`-c mailService=burst`, case 3 of issue 16): mail request
 * queues (+DLQ) that producers write to, one sender that drains them in large batches, and a sent-mail table of its
 * own, keyed by recipient and send time for "the mails to X, newest first" in one Query. Two lanes of the same
 * requests: the transactional lane (`sender.queue`: the order events, through their EventBridge rule) and the bulk
 * lane (`bulkQueue`: operators' campaigns, through `StartCampaign`), each with its own event source mapping into the
 * same sender, so a campaign of thousands never queues ahead of a customer's order mail (the bench measured a single
 * queue first: order mail p99 went from 9 s to 41 s behind a 1,000-mail campaign).
 */
export class MailService extends Construct {
  /** The mail request queue, its DLQ, the order events' rule and the batched sender. */
  public readonly sender: QueueWorker;
  /** The bulk lane: campaigns' requests, drained by the same sender beside the order lane. */
  public readonly bulkQueue: DeadLetteredQueue;
  public readonly campaign: BuzzerFunction;
  public readonly sentMail: dynamodb.Table;

  constructor(scope: Construct, id: string, props: MailServiceProps) {
    super(scope, id);
    // Its own table, not the single one: the single table's stream feeds the outbox relay, and a campaign's thousand
    // records would each cross it; the sent mail is read by recipient and kept on its own retention.
    this.sentMail = new dynamodb.Table(this, 'SentMail', {
      partitionKey: { name: SENT_MAIL_KEY.partition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: SENT_MAIL_KEY.sort, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.sender = new QueueWorker(this, 'Sender', {
      bus: props.bus,
      detailTypes: [DETAIL_TYPES.OrderConfirmed, DETAIL_TYPES.OrderCancelled],
      // A batch of 100 mails, 8 in flight, each at most MAIL_TIMEOUT_MS (5 s): 60 s even if every one times out.
      timeout: Duration.seconds(90),
      batchSize: props.batchSize ?? 100,
      maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(1),
      // 2 batches × 8 mails: at most 16 sends at once, the transport's pace (SES quotas are sends a second); a
      // burst waits in the queue, not in the transport's time-outs.
      maxConcurrency: props.maxConcurrency ?? 2,
      handler: {
        entry: 'notifications/send-mail.ts',
        serviceName: 'mail-sender',
        memorySize: 512,
        logRetention: props.logRetention,
        environment: {
          [ENV.TABLE_NAME]: props.table.tableName,
          [ENV.SENT_MAIL_TABLE_NAME]: this.sentMail.tableName,
          [ENV.MAIL_SEND_CONCURRENCY]: String(props.sendConcurrency ?? DEFAULT_MAIL_SEND_CONCURRENCY),
          ...props.mailEnvironment,
        },
      },
    });
    const timeout = Duration.seconds(90);
    this.bulkQueue = new DeadLetteredQueue(this, 'BulkQueue', {
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
    });
    this.sender.handler.function.addEventSource(
      new SqsEventSource(this.bulkQueue.queue, {
        batchSize: props.batchSize ?? 100,
        maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(1),
        reportBatchItemFailures: true,
        maxConcurrency: props.bulkMaxConcurrency ?? 2,
      }),
    );
    this.sender.handler.grantTableAccess(props.table);
    // The transaction's Put of the sent-mail record; the sender reads nothing there.
    this.sentMail.grant(this.sender.handler.role, 'dynamodb:PutItem');
    // A mail held by the open circuit goes back on its own lane's queue as a new, delayed message.
    this.sender.queue.queue.grantSendMessages(this.sender.handler.function);
    this.bulkQueue.queue.grantSendMessages(this.sender.handler.function);

    this.campaign = new BuzzerFunction(this, 'StartCampaign', {
      entry: 'notifications/start-campaign.ts',
      serviceName: 'mail-campaign',
      timeout: Duration.minutes(2),
      logRetention: props.logRetention,
      environment: { [ENV.MAIL_REQUEST_QUEUE_URL]: this.bulkQueue.queue.queueUrl },
    });
    this.bulkQueue.queue.grantSendMessages(this.campaign.function);
  }
}
