import { z } from 'zod';
import {
  type EventSourceMappingHandle,
  startEventSourceMapping,
} from '#local/engines/event-source-mappings.ts';
import { cfnBoolean, cfnNumber, defineResource } from './module.ts';

/**
 * `AWS::Lambda::EventSourceMapping` → the runtime's pollers. The pollers read the batching, retry, filter and
 * destination settings themselves (`#local/engines/pollers/config.ts`); this schema checks what every mapping has.
 */
export const eventSourceMapping = defineResource({
  types: ['AWS::Lambda::EventSourceMapping'],
  engine:
    'runtime pollers for DynamoDB streams and SQS (batching, partial failures, bisect, retries, filters)',
  properties: z.looseObject({
    FunctionName: z.string(),
    EventSourceArn: z.string(),
    BatchSize: cfnNumber.optional(),
    Enabled: cfnBoolean.optional(),
  }),
  // Consumers start last, when every queue, function and bus they feed exists.
  startAll(mappings, { engines, logger, account, pollerTuning, streamPositions, queueByArn, onStop }) {
    const handles: EventSourceMappingHandle[] = [];
    onStop('event source mappings', async () => {
      await Promise.all(handles.map((h) => h.stop()));
    });
    for (const { logicalId, properties } of mappings) {
      handles.push(
        startEventSourceMapping(properties, {
          invoker: engines.lambda,
          functionName: properties.FunctionName,
          dynamodbStreams: engines.streams,
          sqs: engines.sqs,
          queueSignals: engines.queueSignals,
          queueUrlForArn: (arn) => {
            const queue = queueByArn(arn);
            if (!queue) throw new Error(`event source mapping ${logicalId}: no local queue with ARN ${arn}`);
            return queue.url;
          },
          logger,
          account,
          tuning: pollerTuning,
          ...(streamPositions ? { positions: streamPositions } : {}),
        }),
      );
    }
  },
});
