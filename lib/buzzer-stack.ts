import { CfnOutput, type RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { Api } from './constructs/api.ts';
import { Data } from './constructs/data.ts';
import { EventBus } from './constructs/event-bus.ts';
import { Operations } from './constructs/operations.ts';
import { OutboxRelay } from './constructs/outbox-relay.ts';
import { QueueWorker } from './constructs/queue-worker.ts';
import { Saga, type SagaWorkflowType } from './constructs/saga.ts';
import { Sandbox } from './constructs/sandbox.ts';
import { Webhooks } from './constructs/webhooks.ts';

export interface BuzzerStackProps extends StackProps {
  /** @default 'STANDARD' (see SagaProps.workflowType) */
  readonly workflowType?: SagaWorkflowType;
  /**
   * The payment provider's base URL. When unset, the stack deploys the sandbox provider and uses it.
   * @default the sandbox provider
   */
  readonly paymentProviderUrl?: string;
  /**
   * How customer mail leaves: `ses` sends with Amazon SES from `mailFrom`; `sink` records it in the sandbox.
   * @default 'sink'
   */
  readonly mailTransport?: 'ses' | 'sink';
  /** Verified SES sender, required when mailTransport is `ses`. */
  readonly mailFrom?: string;
  /** @default 400 (see SagaProps.orderRetentionDays) */
  readonly orderRetentionDays?: number;
  /** @default RemovalPolicy.RETAIN */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/** Buzzer: accept work now (202 + tracking id), finish it behind queues, tell the client when it is done. */
export class BuzzerStack extends Stack {
  public readonly data: Data;
  public readonly bus: EventBus;
  public readonly api: Api;
  public readonly relay: OutboxRelay;
  public readonly saga: Saga;
  public readonly notifier: QueueWorker;
  public readonly points: QueueWorker;
  public readonly sandbox?: Sandbox;
  public readonly webhooks: Webhooks;
  public readonly operations: Operations;

  constructor(scope: Construct, id: string, props: BuzzerStackProps = {}) {
    super(scope, id, props);
    const mailTransport = props.mailTransport ?? 'sink';
    if (mailTransport === 'ses' && !props.mailFrom) {
      throw new Error(
        'BuzzerStack: mailFrom (a verified SES identity) is required when mailTransport is "ses"',
      );
    }
    const needsSandbox = !props.paymentProviderUrl || mailTransport === 'sink';

    this.data = new Data(this, 'Data', { removalPolicy: props.tableRemovalPolicy });
    const table = this.data.table;
    this.bus = new EventBus(this, 'Events');
    if (needsSandbox) this.sandbox = new Sandbox(this, 'Sandbox');
    const sandboxUrl = this.sandbox?.url ?? '';

    this.api = new Api(this, 'Api', { table, logRetention: props.logRetention });
    this.relay = new OutboxRelay(this, 'OutboxRelay', { table, bus: this.bus.bus });
    this.saga = new Saga(this, 'Saga', {
      table,
      bus: this.bus.bus,
      paymentProviderUrl: props.paymentProviderUrl ?? sandboxUrl,
      workflowType: props.workflowType,
      orderRetentionDays: props.orderRetentionDays,
      logRetention: props.logRetention,
    });

    this.notifier = new QueueWorker(this, 'Notifier', {
      bus: this.bus.bus,
      detailTypes: ['OrderConfirmed', 'OrderCancelled'],
      handler: {
        entry: 'workers/notify.ts',
        serviceName: 'notify-worker',
        environment: {
          TABLE_NAME: table.tableName,
          MAIL_TRANSPORT: mailTransport,
          MAIL_SINK_URL: mailTransport === 'sink' ? sandboxUrl : '',
          MAIL_FROM: props.mailFrom ?? 'orders@buzzer.invalid',
        },
      },
    });
    this.notifier.handler.grantTableAccess(table);
    if (mailTransport === 'ses' && props.mailFrom) {
      const domain = props.mailFrom.split('@')[1] ?? props.mailFrom;
      this.notifier.handler.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['ses:SendEmail'],
          resources: [
            this.formatArn({ service: 'ses', resource: 'identity', resourceName: props.mailFrom }),
            this.formatArn({ service: 'ses', resource: 'identity', resourceName: domain }),
          ],
        }),
      );
    }

    this.points = new QueueWorker(this, 'Points', {
      bus: this.bus.bus,
      detailTypes: ['OrderConfirmed'],
      handler: {
        entry: 'workers/points.ts',
        serviceName: 'points-worker',
        environment: { TABLE_NAME: table.tableName },
      },
    });
    this.points.handler.grantTableAccess(table);

    this.webhooks = new Webhooks(this, 'Webhooks', {
      table,
      bus: this.bus.bus,
      api: this.api,
      logRetention: props.logRetention,
    });

    // Last: it finds every dead-letter queue created above and gives each its alarms.
    this.operations = new Operations(this, 'Operations', {
      table,
      saga: this.saga,
      relay: this.relay,
      api: this.api,
      queueAliases: { notifier: 'notify', 'outbox-relay': 'relay', 'operations-reconciler': 'reconciler' },
      logRetention: props.logRetention,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Client API base URL' });
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'EventBusName', { value: this.bus.bus.eventBusName });
    new CfnOutput(this, 'StateMachineArn', { value: this.saga.stateMachine.stateMachineArn });
    new CfnOutput(this, 'WebhookDeliveryDlqUrl', {
      value: this.webhooks.deliveryQueue.deadLetterQueue.queueUrl,
      description: 'Webhook deliveries that used up their attempts (redrive to replay them)',
    });
    if (this.sandbox) new CfnOutput(this, 'SandboxUrl', { value: this.sandbox.url });
  }
}
