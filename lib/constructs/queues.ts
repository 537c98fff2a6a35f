import { Duration, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface DeadLetteredQueueProps {
  /** How often a message may be received before it moves to the DLQ. @default 5 */
  readonly maxReceiveCount?: number;
  /** @default Duration.seconds(60) */
  readonly visibilityTimeout?: Duration;
  /** How long failed messages wait in the DLQ for an operator. @default Duration.days(14) (the SQS maximum) */
  readonly dlqRetention?: Duration;
}

/**
 * An SQS queue with its dead-letter queue: encrypted (SSE-SQS), TLS-only, and redrive back from the DLQ allowed
 * only to its own source queue.
 */
export class DeadLetteredQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: DeadLetteredQueueProps = {}) {
    super(scope, id);
    this.maxReceiveCount = props.maxReceiveCount ?? 5;
    if (this.maxReceiveCount < 1 || this.maxReceiveCount > 1000) {
      throw new Error(
        `DeadLetteredQueue ${id}: maxReceiveCount must be 1..1000, got ${this.maxReceiveCount}`,
      );
    }
    this.deadLetterQueue = new sqs.Queue(this, 'Dlq', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.dlqRetention ?? Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout ?? Duration.seconds(60),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    });
  }
}

/**
 * A queue that only ever is a dead-letter queue (of a schedule target, of a stream's poison records): encrypted,
 * TLS-only, kept 14 days (the SQS maximum). cdk-nag asks every queue for a DLQ of its own (SQS3); `why` says whose
 * DLQ this one is instead.
 */
export function standaloneDeadLetterQueue(scope: Construct, id: string, why: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({ id: 'AwsSolutions::AwsSolutions-SQS3', reason: why });
  return queue;
}
