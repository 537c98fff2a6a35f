/** A local runtime description with every operator queue, and an operator context over fake clients. */
import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  type GetRecordsCommandInput,
  GetShardIteratorCommand,
  type AttributeValue as StreamAttributeValue,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { type OpsContext, type RuntimeFile, targetFromRuntime } from '#ops/cli/context.ts';

export const queue = (logicalId: string) => ({
  logicalId,
  url: `http://127.0.0.1:1/000000000000/Buzzer-${logicalId}`,
  arn: `arn:aws:sqs:us-east-1:000000000000:Buzzer-${logicalId}`,
});

export const runtimeFile: RuntimeFile = {
  stackName: 'Buzzer',
  outputs: {
    TableName: 'Buzzer-Table',
    StateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Saga',
    EventBusName: 'Buzzer-Bus',
    OperatorQueues: JSON.stringify({
      notify: { dlq: 'NotifierQueueDlq1', source: 'NotifierQueue1', maxAgeSeconds: 900 },
      relay: { dlq: 'OutboxRelayDlq1' },
      'saga-start': { dlq: 'SagaStartQueueDlq1', source: 'SagaStartQueue1', maxAgeSeconds: 300 },
      'webhooks-delivery': { dlq: 'WebhooksDeliveryDlq1', source: 'WebhooksDelivery1' },
      'webhooks-fan-out': { dlq: 'WebhooksFanOutDlq1', source: 'WebhooksFanOut1' },
    }),
  },
  queues: Object.fromEntries(
    [
      'NotifierQueueDlq1',
      'NotifierQueue1',
      'OutboxRelayDlq1',
      'SagaStartQueueDlq1',
      'SagaStartQueue1',
      'WebhooksDeliveryDlq1',
      'WebhooksDelivery1',
      'WebhooksFanOutDlq1',
      'WebhooksFanOut1',
    ].map((id) => [id, queue(id)]),
  ),
  clientEnvironment: { AWS_REGION: 'us-east-1' },
};

/** The context the CLI commands get, with the given SDK clients and no progress output. */
export function opsContext(clients: Partial<OpsContext['clients']>): OpsContext {
  return {
    target: targetFromRuntime(runtimeFile),
    clients: clients as OpsContext['clients'],
    progress: () => {},
    close: () => {},
  };
}

/** A stream record of `item` as GetRecords returns it (only what the replay reads). */
export function streamRecord(
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  sequenceNumber: string,
  item: Record<string, unknown>,
): StreamRecord {
  return {
    eventName,
    dynamodb: {
      SequenceNumber: sequenceNumber,
      Keys: marshall({ pk: item.pk, sk: item.sk }) as Record<string, StreamAttributeValue>,
      NewImage: marshall(item, { removeUndefinedValues: true }) as Record<string, StreamAttributeValue>,
    },
  };
}

/**
 * A streams client over one shard read as `pages`, each answered to the iterator the one before it handed out: the
 * first to the iterator GetShardIterator returns. After the last page the shard is closed (no next iterator) or, if
 * `open`, at its tip: empty pages for ever, as DynamoDB answers on an open shard with nothing new.
 */
export function fakeShard(pages: StreamRecord[][], options: { open?: boolean } = {}) {
  const client = new DynamoDBStreamsClient({ region: 'us-east-1' });
  const mock = mockClient(client);
  mock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'iterator-0' });
  mock.on(GetRecordsCommand).callsFake((input: GetRecordsCommandInput) => {
    const at = Number(String(input.ShardIterator).replace('iterator-', ''));
    const last = at >= pages.length - 1;
    return {
      Records: pages[at] ?? [],
      ...(last && !options.open ? {} : { NextShardIterator: `iterator-${Math.min(at + 1, pages.length)}` }),
    };
  });
  return { client, mock };
}
