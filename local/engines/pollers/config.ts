import { InvalidPropertyError, Props } from '#local/template/props.ts';
import type { RuntimeLogger } from '../../types.ts';
import { compileFilters, type RecordFilter } from './filter.ts';

/** Reads resolved `AWS::Lambda::EventSourceMapping` properties into the settings the pollers use. */

export class UnsupportedEventSourceError extends Error {
  override name = 'UnsupportedEventSourceError';
}

interface CommonSettings {
  eventSourceArn: string;
  batchSize: number;
  maxBatchingWindowMs: number;
  filter: RecordFilter | undefined;
  reportBatchItemFailures: boolean;
}

export interface StreamSettings extends CommonSettings {
  kind: 'dynamodb-stream';
  startingPosition: 'TRIM_HORIZON' | 'LATEST';
  bisectOnError: boolean;
  /** -1: retry until the record expires. */
  maxRetryAttempts: number;
  /** -1: no age limit. */
  maxRecordAgeSeconds: number;
  onFailureDestination: string | undefined;
}

export interface QueueSettings extends CommonSettings {
  kind: 'sqs';
  maxConcurrency: number;
}

export type MappingSettings = StreamSettings | QueueSettings;

/** Concurrent batches of an SQS mapping without `ScalingConfig` (small: the machine is a laptop). */
export const DEFAULT_SQS_CONCURRENCY = 2;

function sourceKind(arn: string): MappingSettings['kind'] {
  if (/^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/[^/]+\/stream\//.test(arn)) return 'dynamodb-stream';
  if (/^arn:[^:]+:sqs:/.test(arn)) return 'sqs';
  throw new UnsupportedEventSourceError(
    `event source ${arn} is not supported locally (only DynamoDB streams and SQS queues are)`,
  );
}

function bounded(props: Props, key: string, fallback: number, min: number, max: number): number {
  const value = props.number(key) ?? fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidPropertyError(
      `${props.where}.${key} must be an integer from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}

export interface ParsedMapping {
  enabled: boolean;
  settings: MappingSettings;
}

export function parseMapping(properties: Record<string, unknown>, logger: RuntimeLogger): ParsedMapping {
  const where = 'AWS::Lambda::EventSourceMapping';
  const props = Props.of(properties, where);
  const eventSourceArn = props.requiredString('EventSourceArn');
  const kind = sourceKind(eventSourceArn);
  const patterns = (props.props('FilterCriteria')?.list('Filters') ?? []).map((filter) =>
    filter.requiredString('Pattern'),
  );
  const common: CommonSettings = {
    eventSourceArn,
    batchSize: bounded(props, 'BatchSize', kind === 'sqs' ? 10 : 100, 1, 10_000),
    maxBatchingWindowMs: bounded(props, 'MaximumBatchingWindowInSeconds', 0, 0, 300) * 1000,
    filter: compileFilters(patterns, where),
    reportBatchItemFailures: (props.strings('FunctionResponseTypes') ?? []).includes(
      'ReportBatchItemFailures',
    ),
  };
  const enabled = props.boolean('Enabled') ?? true;

  if (kind === 'sqs') {
    const scaling = props.props('ScalingConfig');
    const maxConcurrency = scaling
      ? bounded(scaling, 'MaximumConcurrency', DEFAULT_SQS_CONCURRENCY, 2, 1000)
      : DEFAULT_SQS_CONCURRENCY;
    return { enabled, settings: { ...common, kind, maxConcurrency } };
  }

  const startingPosition = props.requiredString('StartingPosition');
  if (startingPosition !== 'TRIM_HORIZON' && startingPosition !== 'LATEST') {
    throw new InvalidPropertyError(
      `${where}.StartingPosition must be TRIM_HORIZON or LATEST for a DynamoDB stream`,
    );
  }
  if ((props.number('ParallelizationFactor') ?? 1) > 1) {
    logger.debug('ParallelizationFactor is ignored locally: one batch per shard at a time', {
      eventSourceArn,
    });
  }
  if (props.has('TumblingWindowInSeconds')) {
    logger.warn(
      'TumblingWindowInSeconds is not supported locally; records are delivered without window state',
      {
        eventSourceArn,
      },
    );
  }
  const maxRecordAgeSeconds = props.number('MaximumRecordAgeInSeconds') ?? -1;
  if (maxRecordAgeSeconds !== -1 && (maxRecordAgeSeconds < 60 || maxRecordAgeSeconds > 604_800)) {
    throw new InvalidPropertyError(`${where}.MaximumRecordAgeInSeconds must be -1 or 60 to 604800`);
  }
  return {
    enabled,
    settings: {
      ...common,
      kind,
      startingPosition,
      bisectOnError: props.boolean('BisectBatchOnFunctionError') ?? false,
      maxRetryAttempts: bounded(props, 'MaximumRetryAttempts', -1, -1, 10_000),
      maxRecordAgeSeconds,
      onFailureDestination: props.props('DestinationConfig')?.props('OnFailure')?.string('Destination'),
    },
  };
}
