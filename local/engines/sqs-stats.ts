/**
 * Back-pressure figures of the local queues, the ones SQS publishes to CloudWatch on AWS and local-aws-sqs has no
 * answer for: the age of the oldest message (`ApproximateAgeOfOldestMessage`) and the messages deleted, i.e. consumed
 * (`NumberOfMessagesDeleted`). Its counts are taken here too, because local-aws-sqs's `ApproximateNumberOfMessages`
 * includes the messages in flight.
 *
 * The engine's queues keep their messages in private fields, so each queue is watched from the outside: every
 * message it stores passes through its public `newRecord` (sends, delays, moves to a DLQ alike) and every delete
 * through its public `delete`. A message is still stored while its retention timer is alive: the engine clears that
 * timer whenever it drops the message (delete, move to the DLQ, purge), and a fired timer is the expiry itself.
 * Node marks a cleared or fired timer `_destroyed`.
 */

import { AwsServiceError, type ServiceHandler } from './gateway.ts';

/** What a local-aws-sqs queue keeps per message (the parts read here). */
interface StoredMessage {
  visible: boolean;
  delayed: boolean;
  record: { MessageId: string; attributes: { SentTimestamp?: string } };
  tmRetention?: { _destroyed?: boolean };
}

/** The public surface of a local-aws-sqs queue that the watch uses. */
export interface WatchableQueue {
  readonly QueueName: string;
  readonly QueueUrl: string;
  newRecord: (message: Record<string, unknown>, delay?: number) => unknown;
  delete(receiptHandle: string): boolean;
}

export interface QueueStats {
  queueName: string;
  queueUrl: string;
  /** Messages a consumer can receive now. */
  visible: number;
  /** Received and neither deleted nor back yet (being processed). */
  inFlight: number;
  /** Sent with a delay that has not ended. */
  delayed: number;
  /** Seconds since the oldest message that is not delayed was sent; null when there is none. */
  oldestAgeSeconds: number | null;
  /** Messages deleted in the last 60 seconds (`NumberOfMessagesDeleted` over one minute). */
  deletedLastMinute: number;
  /** Messages deleted since the queue was created. */
  deletedTotal: number;
}

const RATE_WINDOW_MS = 60_000;
/** Dropped messages are forgotten on every read and every this many stores, so the watch never grows unbounded. */
const PRUNE_EVERY = 1_000;

/** Whether the engine still holds a message: its retention timer is alive (see the module comment). */
export const isStored = (message: { tmRetention?: { _destroyed?: boolean } }): boolean =>
  message.tmRetention?._destroyed !== true;

/** The message id inside a local-aws-sqs receipt handle (base64 of a UUID and a JSON object); undefined if none. */
export function messageIdOf(receiptHandle: string): string | undefined {
  try {
    const text = Buffer.from(receiptHandle, 'base64').toString('utf8');
    const parsed = JSON.parse(text.slice(text.indexOf('{'))) as { MessageId?: unknown };
    return typeof parsed.MessageId === 'string' ? parsed.MessageId : undefined;
  } catch {
    return undefined;
  }
}

class QueueWatch {
  private readonly messages = new Map<string, StoredMessage>();
  private readonly deletions: number[] = [];
  private deletedTotal = 0;
  private storesSincePrune = 0;

  constructor(
    private readonly queue: WatchableQueue,
    private readonly now: () => number,
  ) {
    const newRecord = queue.newRecord;
    queue.newRecord = (message, delay) => {
      const entry = newRecord(message, delay) as StoredMessage;
      if (entry?.record?.MessageId) this.messages.set(entry.record.MessageId, entry);
      if (++this.storesSincePrune >= PRUNE_EVERY) this.prune();
      return entry;
    };
    const remove = queue.delete.bind(queue);
    queue.delete = (receiptHandle) => {
      const id = messageIdOf(receiptHandle);
      const entry = id === undefined ? undefined : this.messages.get(id);
      const wasStored = entry !== undefined && isStored(entry);
      const result = remove(receiptHandle);
      // A repeated delete (another receipt handle of a message already gone) consumes nothing.
      if (entry && wasStored && !isStored(entry)) this.recordDeletion();
      return result;
    };
  }

  private recordDeletion(): void {
    this.deletedTotal++;
    this.deletions.push(this.now());
    if (this.deletions.length > 10_000) this.trimDeletions();
  }

  private trimDeletions(): void {
    const since = this.now() - RATE_WINDOW_MS;
    let drop = 0;
    while (drop < this.deletions.length && (this.deletions[drop] ?? 0) < since) drop++;
    this.deletions.splice(0, drop);
  }

  private prune(): void {
    this.storesSincePrune = 0;
    for (const [id, entry] of this.messages) if (!isStored(entry)) this.messages.delete(id);
  }

  stats(): QueueStats {
    this.prune();
    this.trimDeletions();
    const now = this.now();
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (const entry of this.messages.values()) {
      if (entry.delayed) {
        delayed++;
        continue;
      }
      if (entry.visible) visible++;
      else inFlight++;
      const sent = Number(entry.record.attributes.SentTimestamp);
      if (Number.isFinite(sent) && sent < oldest) oldest = sent;
    }
    return {
      queueName: this.queue.QueueName,
      queueUrl: this.queue.QueueUrl,
      visible,
      inFlight,
      delayed,
      oldestAgeSeconds: Number.isFinite(oldest) ? Math.max(0, Math.floor((now - oldest) / 1000)) : null,
      deletedLastMinute: this.deletions.length,
      deletedTotal: this.deletedTotal,
    };
  }
}

/**
 * Watches every queue in `queues` (the engine's `service.Queues`), those created later included, and answers their
 * figures. Call before any message is sent: a message stored before the watch is not seen.
 */
export function watchQueues(
  queues: WatchableQueue[],
  now: () => number = Date.now,
): { stats(): QueueStats[] } {
  const watches = new WeakMap<WatchableQueue, QueueWatch>();
  const watch = (queue: WatchableQueue) => {
    if (!watches.has(queue)) watches.set(queue, new QueueWatch(queue, now));
  };
  for (const queue of queues) watch(queue);
  const push = queues.push.bind(queues);
  queues.push = (...added: WatchableQueue[]) => {
    for (const queue of added) watch(queue);
    return push(...added);
  };
  return {
    stats: () =>
      queues
        .filter((queue) => watches.has(queue))
        .map((queue) => (watches.get(queue) as QueueWatch).stats())
        .sort((a, b) => a.queueName.localeCompare(b.queueName)),
  };
}

/**
 * The X-Amz-Target prefix under which the runtime's gateway (`endpoints.gateway` in `.buzzer/runtime.json`) serves the
 * figures: `POST` with `X-Amz-Target: BuzzerLocalQueues.GetQueueStats` answers `{ queues: QueueStats[] }`.
 */
export const LOCAL_QUEUES_TARGET = 'BuzzerLocalQueues';

export interface QueueStatsResponse {
  queues: QueueStats[];
}

/** The gateway service over the engine's figures. */
export function createQueueStatsService(engine: { stats(): QueueStats[] }): ServiceHandler {
  return async (operation) => {
    if (operation === 'GetQueueStats') return { queues: engine.stats() } satisfies QueueStatsResponse;
    throw new AwsServiceError(
      'UnknownOperationException',
      `${LOCAL_QUEUES_TARGET} has no operation ${operation}`,
    );
  };
}
