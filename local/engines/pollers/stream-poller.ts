import {
  DescribeStreamCommand,
  ExpiredIteratorException,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  type _Record as SdkStreamRecord,
  type Shard,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, StreamRecord } from 'aws-lambda';
import { DEFAULT_ACCOUNT, type InvokeResult } from '../../types.ts';
import { toWireImage } from './attribute-values.ts';
import { interpretBatchResponse } from './batch-response.ts';
import type { StreamSettings } from './config.ts';
import {
  deliverFailureRecord,
  type FailureCondition,
  functionArnOf,
  streamFailureRecord,
} from './failure-destination.ts';
import { FINISHED_SHARD } from './positions.ts';
import { Alarm, pause, until } from './timing.ts';
import {
  type Clock,
  DEFAULT_TUNING,
  type EventSourceMappingDeps,
  type EventSourceMappingHandle,
  type PollerTuning,
  systemClock,
} from './types.ts';

/**
 * A DynamoDB stream event source mapping, polled the way the Lambda service does it: every shard is read
 * in order with at most one batch in flight, a child shard only after its parent is finished, and a
 * failed batch holds its shard until it succeeds, is bisected, or is given up (retry cap or record age)
 * and reported to the on-failure destination. Checkpoints live in memory, and in `deps.positions` when the
 * runtime persists its state: a restarted mapping then resumes every shard right after the last record that was
 * done and skips the shards it had finished; a shard it has no position for is read from its start (it is newer
 * than the last save, or nothing of it was done yet), so no record is skipped. Without saved positions the mapping
 * starts from its `StartingPosition`.
 */

/** GetRecords returns at most 1,000 records per call. */
const GET_RECORDS_LIMIT = 1_000;
/**
 * DynamoDB Local truncates `ApproximateCreationDateTime` to the minute, so a record may be up to this much
 * younger than it claims. Ages are measured from the latest moment the record can have been written, so
 * that `MaximumRecordAgeInSeconds` never gives up on a record early.
 */
const ARRIVAL_GRANULARITY_MS = 60_000;

interface PendingRecord {
  record: DynamoDBRecord;
  sequenceNumber: string;
  arrivalMs: number;
  /** Clock time when the poller read it (a record cannot be younger than that). */
  seenAtMs: number;
}

type Outcome =
  | { kind: 'success' }
  | {
      kind: 'failed';
      /** Index of the first failed record: records before it succeeded. */
      from: number;
      /** The whole batch failed (function error or unusable response), as opposed to reported item failures. */
      wholeBatch: boolean;
      functionError: string | null;
      reason: string;
    };

/** Retry bookkeeping for the record at the head of the shard. */
interface RetryState {
  head: string | undefined;
  /** Failed invocations that count against `MaximumRetryAttempts` (bisecting does not). */
  failures: number;
  invocations: number;
  functionError: string | null;
}

interface StreamContext {
  settings: StreamSettings;
  deps: EventSourceMappingDeps;
  tuning: PollerTuning;
  clock: Clock;
  region: string;
  functionArn: string;
  /** The mapping's key in `deps.positions`. */
  positionKey: string;
}

export function toLambdaRecord(record: SdkStreamRecord, streamArn: string, region: string): DynamoDBRecord {
  const change = record.dynamodb ?? {};
  const created = change.ApproximateCreationDateTime;
  const dynamodb: StreamRecord = {
    ...(created ? { ApproximateCreationDateTime: Math.floor(created.getTime() / 1000) } : {}),
    ...(change.Keys ? { Keys: toWireImage(change.Keys) } : {}),
    ...(change.NewImage ? { NewImage: toWireImage(change.NewImage) } : {}),
    ...(change.OldImage ? { OldImage: toWireImage(change.OldImage) } : {}),
    ...(change.SequenceNumber ? { SequenceNumber: change.SequenceNumber } : {}),
    ...(change.SizeBytes !== undefined ? { SizeBytes: change.SizeBytes } : {}),
    ...(change.StreamViewType ? { StreamViewType: change.StreamViewType } : {}),
  };
  return {
    ...(record.eventID ? { eventID: record.eventID } : {}),
    ...(record.eventName ? { eventName: record.eventName } : {}),
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    // DynamoDB Local reports its region as "ddblocal"; Lambda reports the table's region.
    awsRegion: region,
    dynamodb,
    eventSourceARN: streamArn,
    // Present on TTL deletions: { type: 'Service', principalId: 'dynamodb.amazonaws.com' }.
    ...(record.userIdentity
      ? { userIdentity: { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId } }
      : {}),
  };
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

class ShardWorker {
  private readonly ctx: StreamContext;
  readonly shardId: string;
  private position: 'TRIM_HORIZON' | 'LATEST';
  private iterator: string | undefined;
  private lastReadSequence: string | undefined;
  /** The shard is closed and every record of it has been read. */
  private exhausted = false;
  /** Read and filtered, not yet checkpointed, in shard order. */
  private pending: PendingRecord[] = [];
  /** Sizes the next batches must have (set by bisecting and by retries); empty means `BatchSize`. */
  private limits: number[] = [];
  private retry: RetryState = { head: undefined, failures: 0, invocations: 0, functionError: null };
  private busy = false;
  private lastCaughtUpAt = Number.NEGATIVE_INFINITY;

  constructor(
    ctx: StreamContext,
    shardId: string,
    position: 'TRIM_HORIZON' | 'LATEST',
    resumeAfter?: string,
  ) {
    this.ctx = ctx;
    this.shardId = shardId;
    this.position = position;
    this.lastReadSequence = resumeAfter;
  }

  /** Read to the end of its closed shard, with every record done. */
  get completed(): boolean {
    return this.exhausted && this.pending.length === 0;
  }

  /** Nothing pending, nothing in flight, and a read since `since` found no new records. */
  idleSince(since: number): boolean {
    return !this.busy && this.pending.length === 0 && (this.exhausted || this.lastCaughtUpAt >= since);
  }

  async run(signal: AbortSignal): Promise<void> {
    const { deps, settings, tuning } = this.ctx;
    while (!signal.aborted) {
      try {
        await this.fill(signal);
        if (signal.aborted) return;
        if (this.pending.length > 0) await this.processBatch(signal);
        else if (this.exhausted) return;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ResourceNotFoundException) {
          deps.logger.warn('stream shard is gone; it is no longer polled', {
            streamArn: settings.eventSourceArn,
            shardId: this.shardId,
          });
          return;
        }
        deps.logger.warn('reading the stream failed; retrying', {
          streamArn: settings.eventSourceArn,
          shardId: this.shardId,
          error: describeError(error),
        });
        await pause(tuning.errorBackoffMs, signal);
      }
    }
  }

  private batchLimit(): number {
    return Math.min(this.limits[0] ?? this.ctx.settings.batchSize, this.ctx.settings.batchSize);
  }

  /**
   * Reads until a full batch is pending, the batching window (which opens with the first pending record)
   * closes, or the shard ends.
   */
  private async fill(signal: AbortSignal): Promise<void> {
    const { settings, tuning } = this.ctx;
    const limit = this.batchLimit();
    // Records already pending (a retry, or the rest of a large read) go out at once.
    let deadline = this.pending.length > 0 ? Date.now() : undefined;
    while (!signal.aborted && !this.exhausted && this.pending.length < limit) {
      if (deadline !== undefined && Date.now() >= deadline) return;
      const read = await this.read(signal);
      if (read === 0) {
        if (this.exhausted) return;
        const wait = deadline === undefined ? tuning.streamPollIntervalMs : deadline - Date.now();
        await pause(Math.min(wait, tuning.streamPollIntervalMs), signal);
      } else if (deadline === undefined && this.pending.length > 0) {
        deadline = Date.now() + settings.maxBatchingWindowMs;
      }
    }
  }

  /** One GetRecords call; returns how many records the shard gave (before filtering). */
  private async read(signal: AbortSignal): Promise<number> {
    const { deps, settings, clock, region } = this.ctx;
    if (!this.iterator) this.iterator = await this.newIterator(signal);
    if (!this.iterator) {
      this.exhausted = true;
      return 0;
    }
    let response: GetRecordsCommandOutput;
    try {
      response = await this.getRecords(this.iterator, signal);
    } catch (error) {
      if (error instanceof ExpiredIteratorException) {
        this.iterator = undefined;
        return this.read(signal);
      }
      if (error instanceof TrimmedDataAccessException) {
        deps.logger.warn('stream records expired before they were read; continuing from the oldest left', {
          streamArn: settings.eventSourceArn,
          shardId: this.shardId,
        });
        this.iterator = undefined;
        this.lastReadSequence = undefined;
        this.position = 'TRIM_HORIZON';
        return this.read(signal);
      }
      throw error;
    }
    const records = response.Records ?? [];
    this.iterator = response.NextShardIterator;
    if (!this.iterator) this.exhausted = true;
    if (records.length === 0) this.lastCaughtUpAt = Date.now();

    const seenAtMs = clock.now();
    for (const raw of records) {
      const sequenceNumber = raw.dynamodb?.SequenceNumber;
      if (!sequenceNumber) continue;
      this.lastReadSequence = sequenceNumber;
      const record = toLambdaRecord(raw, settings.eventSourceArn, region);
      // Lambda drops records that match no filter: they are checkpointed without an invocation.
      if (settings.filter && !settings.filter(record)) continue;
      const arrivalMs = raw.dynamodb?.ApproximateCreationDateTime?.getTime() ?? seenAtMs;
      this.pending.push({ record, sequenceNumber, arrivalMs, seenAtMs });
    }
    return records.length;
  }

  private getRecords(iterator: string, signal: AbortSignal): Promise<GetRecordsCommandOutput> {
    return this.ctx.deps.dynamodbStreams.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: GET_RECORDS_LIMIT }),
      { abortSignal: signal },
    );
  }

  private async newIterator(signal: AbortSignal): Promise<string | undefined> {
    const position = this.lastReadSequence
      ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, SequenceNumber: this.lastReadSequence }
      : { ShardIteratorType: this.position };
    const { ShardIterator } = await this.ctx.deps.dynamodbStreams.send(
      new GetShardIteratorCommand({
        StreamArn: this.ctx.settings.eventSourceArn,
        ShardId: this.shardId,
        ...position,
      }),
      { abortSignal: signal },
    );
    return ShardIterator;
  }

  /** Removes the first `count` records: they are done (processed, filtered out or given up). */
  private checkpoint(count: number): void {
    const done = this.pending.splice(0, count);
    // With nothing pending, everything read is done, the records filtered out after the last batch included.
    const position =
      this.pending.length === 0 ? this.lastReadSequence : done[done.length - 1]?.sequenceNumber;
    if (position) this.ctx.deps.positions?.save(this.ctx.positionKey, this.shardId, position);
    let left = count;
    while (left > 0 && this.limits.length > 0) {
      const head = this.limits[0] ?? 0;
      if (head <= left) {
        this.limits.shift();
        left -= head;
      } else {
        this.limits[0] = head - left;
        left = 0;
      }
    }
  }

  /** The next batch holds exactly `size` records (a retry of the records that failed). */
  private pin(size: number): void {
    if (this.limits.length > 0) this.limits[0] = size;
    else this.limits.unshift(size);
  }

  private bisect(size: number): void {
    if (this.limits.length > 0) this.limits.shift();
    const first = Math.ceil(size / 2);
    this.limits.unshift(first, size - first);
  }

  private async processBatch(signal: AbortSignal): Promise<void> {
    const { deps, settings, tuning } = this.ctx;
    if (await this.discardExpired()) return;
    const batch = this.pending.slice(0, this.batchLimit());
    const head = batch[0];
    if (!head) return;
    if (this.retry.head !== head.sequenceNumber) {
      this.retry = { head: head.sequenceNumber, failures: 0, invocations: 0, functionError: null };
    }

    this.busy = true;
    let result: InvokeResult;
    try {
      this.retry.invocations++;
      // A clone per invocation: an in-process handler that mutates its event must not alter the retry.
      result = await deps.invoker.invoke(
        deps.functionName,
        structuredClone({ Records: batch.map((r) => r.record) }),
      );
    } catch (error) {
      // The function could not be invoked at all: retried without counting against MaximumRetryAttempts.
      this.retry.invocations--;
      this.busy = false;
      deps.logger.error('could not invoke the function for a stream batch; retrying', {
        functionName: deps.functionName,
        error: describeError(error),
      });
      await pause(tuning.errorBackoffMs, signal);
      return;
    }

    try {
      const outcome = this.evaluate(result, batch);
      if (outcome.kind === 'success') {
        this.checkpoint(batch.length);
        return;
      }
      const failedHead = batch[outcome.from];
      if (!failedHead) return;
      if (outcome.from > 0) {
        this.checkpoint(outcome.from);
        this.retry = { head: failedHead.sequenceNumber, failures: 0, invocations: 1, functionError: null };
      }
      this.retry.functionError = outcome.functionError;
      const failed = batch.slice(outcome.from);
      const context = {
        functionName: deps.functionName,
        streamArn: settings.eventSourceArn,
        shardId: this.shardId,
        reason: outcome.reason,
      };

      if (outcome.wholeBatch && settings.bisectOnError && failed.length > 1) {
        deps.logger.debug('stream batch failed; bisecting it', { ...context, batchSize: failed.length });
        this.bisect(failed.length);
        return;
      }
      this.retry.failures++;
      if (settings.maxRetryAttempts >= 0 && this.retry.failures > settings.maxRetryAttempts) {
        await this.discard(failed, 'RetryAttemptsExhausted');
        return;
      }
      deps.logger.warn('stream batch failed; retrying', {
        ...context,
        batchSize: failed.length,
        attempt: this.retry.failures,
      });
      this.pin(failed.length);
      await pause(tuning.retryDelayMs, signal);
    } finally {
      this.busy = false;
    }
  }

  private evaluate(result: InvokeResult, batch: PendingRecord[]): Outcome {
    if (result.error) {
      return {
        kind: 'failed',
        from: 0,
        wholeBatch: true,
        functionError: 'Unhandled',
        reason: `${result.error.errorType}: ${result.error.errorMessage}`,
      };
    }
    if (!this.ctx.settings.reportBatchItemFailures) return { kind: 'success' };
    const response = interpretBatchResponse(
      result.payload,
      batch.map((r) => r.sequenceNumber),
    );
    if (response.kind === 'success') return { kind: 'success' };
    if (response.kind === 'invalid') {
      return { kind: 'failed', from: 0, wholeBatch: true, functionError: null, reason: response.reason };
    }
    // Lambda checkpoints before the lowest failed sequence number; within a shard sequence numbers grow,
    // so that is the first failed record of the batch.
    const from = batch.findIndex((r) => response.failed.has(r.sequenceNumber));
    return {
      kind: 'failed',
      from,
      wholeBatch: false,
      functionError: null,
      reason: 'the function reported item failures',
    };
  }

  private ageMs(record: PendingRecord, now: number): number {
    return now - Math.min(record.seenAtMs, record.arrivalMs + ARRIVAL_GRANULARITY_MS);
  }

  /** Gives up the leading records older than `MaximumRecordAgeInSeconds`; true when it did. */
  private async discardExpired(): Promise<boolean> {
    const maxAgeMs = this.ctx.settings.maxRecordAgeSeconds * 1000;
    if (maxAgeMs < 0) return false;
    const now = this.ctx.clock.now();
    const candidates = this.pending.slice(0, this.batchLimit());
    let count = 0;
    while (count < candidates.length && this.ageMs(candidates[count] as PendingRecord, now) > maxAgeMs)
      count++;
    if (count === 0) return false;
    await this.discard(candidates.slice(0, count), 'RecordAgeExceeded');
    return true;
  }

  private async discard(records: PendingRecord[], condition: FailureCondition): Promise<void> {
    const { deps, settings, clock, functionArn } = this.ctx;
    const first = records[0];
    const last = records[records.length - 1];
    if (!first || !last) return;
    const invoked = this.retry.head === first.sequenceNumber;
    const failure = streamFailureRecord(
      {
        condition,
        approximateInvokeCount: invoked ? this.retry.invocations : 0,
        functionError: invoked ? this.retry.functionError : null,
        shardId: this.shardId,
        streamArn: settings.eventSourceArn,
        startSequenceNumber: first.sequenceNumber,
        endSequenceNumber: last.sequenceNumber,
        firstArrivalMs: first.arrivalMs,
        lastArrivalMs: last.arrivalMs,
        batchSize: records.length,
      },
      functionArn,
      clock.now(),
    );
    if (settings.onFailureDestination) {
      deps.logger.warn('giving up on stream records; reporting them to the on-failure destination', {
        condition,
        destination: settings.onFailureDestination,
        batch: failure.DDBStreamBatchInfo,
      });
      await deliverFailureRecord(settings.onFailureDestination, failure, deps);
    } else {
      deps.logger.warn('giving up on stream records (no on-failure destination)', {
        condition,
        batch: failure.DDBStreamBatchInfo,
      });
    }
    this.checkpoint(records.length);
  }
}

/** Parents before children, so a split shard's children start from a finished parent. */
function parentsFirst(shards: Shard[]): Shard[] {
  const ordered: Shard[] = [];
  const remaining = new Map(
    shards.flatMap((shard) => (shard.ShardId ? [[shard.ShardId, shard] as const] : [])),
  );
  while (remaining.size > 0) {
    const ready = [...remaining.values()].filter((s) => !s.ParentShardId || !remaining.has(s.ParentShardId));
    // A parent cycle cannot happen in a real stream; taking everything left guarantees progress anyway.
    const next = ready.length > 0 ? ready : [...remaining.values()];
    for (const shard of next) {
      ordered.push(shard);
      remaining.delete(shard.ShardId ?? '');
    }
  }
  return ordered;
}

export class DynamoDbStreamMapping implements EventSourceMappingHandle {
  private readonly ctx: StreamContext;
  private readonly abort = new AbortController();
  private readonly alarm = new Alarm();
  private readonly active = new Map<string, ShardWorker>();
  private readonly finished = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private discovered = false;
  /** Shard positions saved by an earlier run on the same persisted state. */
  private readonly saved: ReadonlyMap<string, string> | undefined;
  private lastDiscoveryAt = Number.NEGATIVE_INFINITY;
  private lastShardFinishedAt = Number.NEGATIVE_INFINITY;
  private readonly loop: Promise<void>;

  constructor(settings: StreamSettings, deps: EventSourceMappingDeps) {
    const account = deps.account ?? DEFAULT_ACCOUNT;
    this.ctx = {
      settings,
      deps,
      tuning: { ...DEFAULT_TUNING, ...deps.tuning },
      clock: deps.clock ?? systemClock,
      region: account.region,
      functionArn: functionArnOf(deps.functionName, account.region, account.accountId),
      positionKey: `${deps.functionName} ${settings.eventSourceArn}`,
    };
    this.saved = deps.positions?.load(this.ctx.positionKey);
    deps.positions?.started(this.ctx.positionKey);
    this.loop = this.discoverLoop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await Promise.allSettled([...this.running]);
  }

  async drain(): Promise<void> {
    const since = Date.now();
    this.alarm.wake();
    await until(() => this.drained(since), this.abort.signal);
  }

  private drained(since: number): boolean {
    if (this.lastDiscoveryAt < since || this.lastDiscoveryAt < this.lastShardFinishedAt) return false;
    return [...this.active.values()].every((worker) => worker.idleSince(since));
  }

  private async discoverLoop(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      try {
        await this.discover(signal);
      } catch (error) {
        if (signal.aborted) return;
        this.ctx.deps.logger.warn('could not describe the stream; retrying', {
          streamArn: this.ctx.settings.eventSourceArn,
          error: describeError(error),
        });
      }
      await this.alarm.wait(this.ctx.tuning.shardDiscoveryIntervalMs, signal);
    }
  }

  private async describeShards(signal: AbortSignal): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStart: string | undefined;
    do {
      const { StreamDescription } = await this.ctx.deps.dynamodbStreams.send(
        new DescribeStreamCommand({
          StreamArn: this.ctx.settings.eventSourceArn,
          ExclusiveStartShardId: exclusiveStart,
        }),
        { abortSignal: signal },
      );
      shards.push(...(StreamDescription?.Shards ?? []));
      exclusiveStart = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStart);
    return shards;
  }

  private async discover(signal: AbortSignal): Promise<void> {
    const { settings } = this.ctx;
    const shards = await this.describeShards(signal);
    const listed = new Set(shards.map((shard) => shard.ShardId));
    // The starting position applies to the shards that exist when the mapping starts; shards created
    // later hold only newer records and are read from their beginning.
    const initial = !this.discovered;
    for (const shard of parentsFirst(shards)) {
      const id = shard.ShardId;
      if (!id || this.active.has(id) || this.finished.has(id)) continue;
      const parent = shard.ParentShardId;
      if (parent && listed.has(parent) && !this.finished.has(parent)) continue;
      const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
      if (this.saved) {
        const position = this.saved.get(id);
        if (position === FINISHED_SHARD) this.finished.add(id);
        else this.startWorker(id, 'TRIM_HORIZON', position);
        continue;
      }
      if (initial && settings.startingPosition === 'LATEST' && closed) {
        this.finished.add(id);
        continue;
      }
      this.startWorker(id, initial ? settings.startingPosition : 'TRIM_HORIZON');
    }
    this.discovered = true;
    this.lastDiscoveryAt = Date.now();
  }

  private startWorker(shardId: string, position: 'TRIM_HORIZON' | 'LATEST', resumeAfter?: string): void {
    const worker = new ShardWorker(this.ctx, shardId, position, resumeAfter);
    this.active.set(shardId, worker);
    const done = worker
      .run(this.abort.signal)
      .catch((error: unknown) => {
        this.ctx.deps.logger.error('stream shard poller stopped on an error', {
          shardId,
          error: describeError(error),
        });
      })
      .finally(() => {
        this.active.delete(shardId);
        this.finished.add(shardId);
        // Only a shard read to its end is finished for good; one stopped by an error is polled again next start.
        if (worker.completed) this.ctx.deps.positions?.save(this.ctx.positionKey, shardId, FINISHED_SHARD);
        this.running.delete(done);
        this.lastShardFinishedAt = Date.now();
        this.alarm.wake();
      });
    this.running.add(done);
  }
}
