import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '#contracts/environment.ts';
import { BuzzerFunction } from './buzzer-function.ts';
import { standaloneDeadLetterQueue } from './queues.ts';

export interface OutboxRelayProps {
  readonly table: dynamodb.ITable;
  readonly bus: events.IEventBus;
  /** Attempts per outbox item before its full record goes to the relay DLQ. @default 5 */
  readonly maxAttempts?: number;
  /** Stream records per invocation. @default 50 */
  readonly batchSize?: number;
}

/**
 * Publishes outbox items from the table's stream to the event bus. A Lambda rather than EventBridge Pipes because a
 * Pipe's DLQ keeps only stream metadata: the relay checks every PutEvents entry, reports batch item failures, caps
 * retries per item and puts the *full* record of a poison item into its own DLQ, where the ordinary redrive applies.
 */
export class OutboxRelay extends Construct {
  public readonly handler: BuzzerFunction;
  /** Full records of outbox items that could not be published, and stream batches the mapping gave up on. */
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: OutboxRelayProps) {
    super(scope, id);
    const maxAttempts = props.maxAttempts ?? 5;
    if (maxAttempts < 1) throw new Error(`OutboxRelay ${id}: maxAttempts must be at least 1`);
    if (!props.table.tableStreamArn) throw new Error(`OutboxRelay ${id}: the table needs a stream`);

    this.deadLetterQueue = standaloneDeadLetterQueue(
      this,
      'Dlq',
      'This queue is itself the dead-letter queue of the outbox relay (poison records and abandoned batches).',
    );

    this.handler = new BuzzerFunction(this, 'Handler', {
      entry: 'outbox/relay-outbox.ts',
      serviceName: 'outbox-relay',
      memorySize: 512,
      timeout: Duration.seconds(30),
      environment: {
        [ENV.TABLE_NAME]: props.table.tableName,
        [ENV.EVENT_BUS_NAME]: props.bus.eventBusName,
        [ENV.RELAY_DLQ_URL]: this.deadLetterQueue.queueUrl,
        [ENV.RELAY_MAX_ATTEMPTS]: String(maxAttempts),
      },
    });
    this.handler.grantTableAccess(props.table);
    props.bus.grantPutEventsTo(this.handler.function);
    this.deadLetterQueue.grantSendMessages(this.handler.function);

    this.handler.function.addEventSource(
      new DynamoEventSource(props.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: props.batchSize ?? 50,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        // The relay caps attempts per item itself; this cap is the backstop for a relay that cannot run at all.
        retryAttempts: maxAttempts * 2,
        maxRecordAge: Duration.days(1),
        parallelizationFactor: 1,
        onFailure: new SqsDlq(this.deadLetterQueue),
        filters: [
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.isEqual('INSERT'),
            dynamodb: { NewImage: { entity: { S: lambda.FilterRule.isEqual('Outbox') } } },
          }),
        ],
      }),
    );
  }
}
