import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { LambdaInvoker, LocalAccount, RuntimeLogger } from '../../types.ts';
import type { QueueSignals } from '../sqs-doorbell.ts';
import type { StreamPositionStore } from './positions.ts';

/** Time source for record ages and failure timestamps; tests move it forward to expire records. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Polling cadence. The defaults follow the Lambda service; tests shorten them. */
export interface PollerTuning {
  /** Pause after an empty GetRecords (Lambda polls each shard four times a second). */
  streamPollIntervalMs: number;
  /** How often the stream is described again to find new shards after a split. */
  shardDiscoveryIntervalMs: number;
  /** Pause before retrying a failed stream batch. */
  retryDelayMs: number;
  /** Pause after an empty ReceiveMessage (the pollers short-poll; see `pollers/queue-poller.ts`). */
  sqsPollIntervalMs: number;
  /**
   * With `queueSignals`, the longest an idle SQS poller waits for its queue's bell before it looks anyway: a safety
   * net, since the bell rings for every way a message becomes receivable.
   */
  sqsIdleLookMs: number;
  /** Pause after an API error of the event source itself (not of the function). */
  errorBackoffMs: number;
}

export const DEFAULT_TUNING: PollerTuning = {
  streamPollIntervalMs: 250,
  shardDiscoveryIntervalMs: 1_000,
  retryDelayMs: 200,
  sqsPollIntervalMs: 100,
  sqsIdleLookMs: 2_000,
  errorBackoffMs: 1_000,
};

export interface EventSourceMappingDeps {
  invoker: LambdaInvoker;
  /** The target function's resolved name or ARN. */
  functionName: string;
  dynamodbStreams: DynamoDBStreamsClient;
  sqs: SQSClient;
  /**
   * Tells an SQS poller when its queue may have a message (the local engine's bells, `#local/engines/sqs-doorbell.ts`),
   * so it waits instead of polling every `sqsPollIntervalMs` while the queue is empty.
   */
  queueSignals?: QueueSignals;
  /** Queue URL of a queue ARN (event source queues and on-failure destinations). */
  queueUrlForArn(arn: string): string;
  logger: RuntimeLogger;
  clock?: Clock;
  /** Region and account for `awsRegion` and the function ARN in failure records; `DEFAULT_ACCOUNT` if omitted. */
  account?: LocalAccount;
  tuning?: Partial<PollerTuning>;
  /** Where stream mappings keep their shard positions across restarts (`--persist`); in memory only when omitted. */
  positions?: StreamPositionStore;
}

export interface EventSourceMappingHandle {
  /** Stops polling and waits for the invocations in flight. */
  stop(): Promise<void>;
  /**
   * Resolves once everything available at the source has been handled: for a stream, every shard has
   * been read to its end with nothing pending; for a queue, it holds no messages (visible, in flight or
   * delayed) and no batch is being processed. Also resolves when the mapping stops.
   */
  drain(): Promise<void>;
}
