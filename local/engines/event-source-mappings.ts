import { parseMapping } from './pollers/config.ts';
import { SqsQueueMapping } from './pollers/queue-poller.ts';
import { DynamoDbStreamMapping } from './pollers/stream-poller.ts';
import type { EventSourceMappingDeps, EventSourceMappingHandle } from './pollers/types.ts';

/**
 * The runtime's stand-in for the Lambda service's event source mappings: from the resolved properties of
 * an `AWS::Lambda::EventSourceMapping`, poll a DynamoDB stream or an SQS queue and invoke the function
 * with the exact events Lambda sends. See `pollers/stream-poller.ts` and `pollers/queue-poller.ts` for the rules.
 *
 * Not modelled locally: `ParallelizationFactor` (one batch per shard at a time), tumbling windows, SNS
 * on-failure destinations, and event sources other than DynamoDB streams and SQS.
 */

export { InvalidPropertyError } from '#local/template/props.ts';
export { DEFAULT_SQS_CONCURRENCY, UnsupportedEventSourceError } from './pollers/config.ts';
export type { StreamFailureRecord } from './pollers/failure-destination.ts';
export type {
  Clock,
  EventSourceMappingDeps,
  EventSourceMappingHandle,
  PollerTuning,
} from './pollers/types.ts';

const idle: EventSourceMappingHandle = {
  stop: async () => {},
  drain: async () => {},
};

/**
 * Starts polling at once and returns the handle that stops it. A mapping with `Enabled: false` is not
 * started (its handle does nothing). Throws `InvalidPropertyError` / `UnsupportedEventSourceError` for
 * properties the local runtime cannot honour.
 */
export function startEventSourceMapping(
  props: Record<string, unknown>,
  deps: EventSourceMappingDeps,
): EventSourceMappingHandle {
  const { enabled, settings } = parseMapping(props, deps.logger);
  if (!enabled) {
    deps.logger.info('event source mapping is disabled; not polling', {
      functionName: deps.functionName,
      eventSourceArn: settings.eventSourceArn,
    });
    return idle;
  }
  deps.logger.debug('event source mapping started', {
    functionName: deps.functionName,
    eventSourceArn: settings.eventSourceArn,
  });
  return settings.kind === 'sqs'
    ? new SqsQueueMapping(settings, deps)
    : new DynamoDbStreamMapping(settings, deps);
}
