/** A local runtime description with every operator queue, and an operator context over fake clients. */
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
