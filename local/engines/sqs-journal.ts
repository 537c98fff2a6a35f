/**
 * Durable local queues (`--persist`): an append-only journal of every change local-aws-sqs makes to its messages, so
 * queued, delayed, in-flight and dead-lettered messages survive a SIGKILL of the runtime. local-aws-sqs has no
 * persistence of its own and keeps its messages in private fields, so the engine is observed from the outside through
 * the methods every change passes through (the same seam `sqs-stats.ts` uses):
 * - `newRecord` stores every message: a send, a delayed send, a move to the dead-letter queue (its record then carries
 *   `DeadLetterQueueSourceArn` and keeps its MessageId, so the journal records a move out of the source queue);
 * - `receive` raises the receive count and `changeVisibility` moves the end of a message's invisibility (the count the
 *   journal records after it is the one `sqs-receive-count.ts` put back: SQS counts receives only);
 * - `delete` removes one message; `clearRecords` empties a queue (PurgeQueue, DeleteQueue).
 * A message dropped when its retention period ends is not journalled: it is dropped again on load, or left out by
 * the next compaction.
 *
 * Crash safety. Each record is one line, `<crc32 hex> <json>\n`. Records are appended in groups: everything changed
 * in one turn of the event loop goes out in one `write`, and the SQS API's answer to a request that changed something
 * waits for that write (`written()`), so a message the engine acknowledged is in the kernel before its sender hears
 * back. A killed process therefore loses nothing it acknowledged; its last line may be torn, and loading stops at the
 * first line that is incomplete or fails its checksum. The file is fsynced every `syncIntervalMs` (default 1 s), so a
 * crash of the host (power loss, kernel panic) can lose at most that last interval of changes. On open, and whenever
 * the journal has grown well past what it describes, it is compacted: the live messages are written to a temporary
 * file that is fsynced and renamed over the journal (the directory fsynced too), so the journal always starts with a
 * snapshot and a crash mid-compaction leaves either the old journal or the new one.
 *
 * On restart every queue gets its messages back when the template creates it: bodies, attributes, message attributes,
 * MessageIds, receive counts, group and deduplication ids, and what is left of a delay. A message that was in flight
 * stays invisible for what is left of its visibility timeout, as on AWS when a consumer dies: consumers size their
 * claims (`functions/shared/effects.ts`, a 60 s lease) on that, so a message whose handler died mid-effect must not
 * come back before its claim runs out. Then it is visible again with its receive count, or goes to the dead-letter
 * queue if that count has reached `maxReceiveCount`, as local-aws-sqs does when a visibility timeout ends. (A FIFO
 * message in flight is visible again at once: local-aws-sqs takes visibility changes only with its current handle.)
 */

import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import type { RuntimeLogger } from '../types.ts';
import { messageIdOf } from './sqs-stats.ts';

/** The journal's file name inside its directory. */
export const JOURNAL_FILE = 'messages.journal';

/** The parts of a local-aws-sqs message record that are the message (never its current receipt handle). */
export interface MessageRecord {
  MessageId: string;
  MessageBody: string;
  MD5OfBody?: string;
  MD5OfMessageBody?: string;
  MD5OfMessageAttributes?: string;
  MessageAttributes?: Record<string, unknown>;
  /** Includes ApproximateReceiveCount, SentTimestamp, MessageGroupId, MessageDeduplicationId, SequenceNumber. */
  attributes: Record<string, string>;
  ReceiptHandle?: string;
}

/** What local-aws-sqs keeps per message (the parts used here). */
interface EngineEntry {
  record: MessageRecord;
  tmRetention?: { _destroyed?: boolean };
}

/** The public surface of a local-aws-sqs queue the journal observes. */
export interface JournalledQueue {
  readonly QueueName: string;
  readonly MessageRetentionPeriod: number;
  readonly DelaySeconds: number;
  readonly RedrivePolicy?: { deadLetterTargetArn: string; maxReceiveCount: number };
  readonly VisibilityTimeout: number;
  readonly FifoQueue: boolean;
  newRecord: (message: Record<string, unknown>, delay?: number) => unknown;
  setRecord: (input: Record<string, unknown>, messageId?: string) => unknown;
  receive(params: Record<string, unknown>): Promise<MessageRecord[]>;
  delete(receiptHandle: string): boolean;
  changeVisibility(receiptHandle: string, visibilityTimeout: string): boolean;
  clearRecords(): void;
}

interface StoredMessage {
  record: MessageRecord;
  /** Epoch ms at which a delayed message becomes receivable. */
  delayUntil?: number;
  /** Epoch ms at which the visibility timeout of its last receive ends (in the past once it is visible again). */
  invisibleUntil?: number;
  entry?: EngineEntry;
}

type Operation =
  /** A message stored in `q` (and, for a dead-letter move, taken out of `f`); `v`: in flight until then. */
  | { t: 'P'; q: string; m: MessageRecord; d?: number; v?: number; f?: string }
  /**
   * Receive counts after a receive or a visibility change: [MessageId, count, first receive timestamp, end of the
   * visibility timeout (epoch ms)].
   */
  | { t: 'R'; q: string; c: Array<[string, string, string, number]> }
  | { t: 'D'; q: string; i: string }
  | { t: 'X'; q: string };

export interface QueueJournalOptions {
  logger: RuntimeLogger;
  /** fsync the journal this often while it changes (the window a host crash can lose). @default 1000 */
  syncIntervalMs?: number;
  /** Compact once the journal is this many bytes larger than its last snapshot. @default 8 MiB */
  compactAfterBytes?: number;
  now?: () => number;
}

export interface LoadReport {
  /** Messages read back, per queue. */
  messages: number;
  /** Lines dropped at the end of the file: a torn or corrupt last write. */
  discardedBytes: number;
}

/** `<crc32 hex> <json>\n` */
export function encodeRecord(operation: Operation): string {
  const json = JSON.stringify(operation);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** The message fields worth keeping: a receipt handle is only good for the receive that issued it. */
function persistable(record: MessageRecord): MessageRecord {
  const { ReceiptHandle: _handle, ...rest } = record;
  return { ...rest, attributes: { ...record.attributes } };
}

const dropped = (entry: EngineEntry | undefined): boolean => entry?.tmRetention?._destroyed === true;

const queueNameOfArn = (arn: string): string => arn.slice(arn.lastIndexOf(':') + 1);

/** Replays journal text into per-queue message maps; stops at the first torn or corrupt line. */
export function replayJournal(text: string): {
  queues: Map<string, Map<string, StoredMessage>>;
  discardedBytes: number;
} {
  const queues = new Map<string, Map<string, StoredMessage>>();
  const queue = (name: string) => {
    let messages = queues.get(name);
    if (!messages) {
      messages = new Map();
      queues.set(name, messages);
    }
    return messages;
  };
  let offset = 0;
  while (offset < text.length) {
    const end = text.indexOf('\n', offset);
    if (end === -1) break;
    const line = text.slice(offset, end);
    const space = line.indexOf(' ');
    const json = line.slice(space + 1);
    if (space !== 8 || Number.parseInt(line.slice(0, 8), 16) !== crc32(json)) break;
    let operation: Operation;
    try {
      operation = JSON.parse(json) as Operation;
    } catch {
      break;
    }
    offset = end + 1;
    switch (operation.t) {
      case 'P':
        if (operation.f !== undefined) queues.get(operation.f)?.delete(operation.m.MessageId);
        queue(operation.q).set(operation.m.MessageId, {
          record: operation.m,
          ...(operation.d === undefined ? {} : { delayUntil: operation.d }),
          ...(operation.v === undefined ? {} : { invisibleUntil: operation.v }),
        });
        break;
      case 'R': {
        const messages = queues.get(operation.q);
        for (const [id, count, first, until] of operation.c) {
          const message = messages?.get(id);
          if (!message) continue;
          message.record.attributes.ApproximateReceiveCount = count;
          message.record.attributes.ApproximateFirstReceiveTimestamp = first;
          message.invisibleUntil = until;
        }
        break;
      }
      case 'D':
        queues.get(operation.q)?.delete(operation.i);
        break;
      case 'X':
        queues.get(operation.q)?.clear();
        break;
    }
  }
  // Text.length counts UTF-16 units; the figure is for the log only.
  return { queues, discardedBytes: Buffer.byteLength(text.slice(offset)) };
}

export class QueueJournal {
  private readonly file: string;
  private readonly logger: RuntimeLogger;
  private readonly now: () => number;
  private readonly syncIntervalMs: number;
  private readonly compactAfterBytes: number;
  /** The live messages per queue name: what a compaction writes. */
  private readonly queues: Map<string, Map<string, StoredMessage>>;
  private readonly attached = new WeakSet<JournalledQueue>();
  private handle: FileHandle | undefined;
  private pending: string[] = [];
  private pendingWaiters: Array<() => void> = [];
  private flushing: Promise<void> | undefined;
  private flushScheduled = false;
  private unsynced = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private bytesSinceSnapshot = 0;
  private snapshotBytes = 0;
  private restoring = false;
  private closed = false;
  readonly loaded: LoadReport;

  private constructor(dir: string, options: QueueJournalOptions) {
    this.file = path.join(dir, JOURNAL_FILE);
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.syncIntervalMs = options.syncIntervalMs ?? 1_000;
    this.compactAfterBytes = options.compactAfterBytes ?? 8 * 1024 * 1024;
    mkdirSync(dir, { recursive: true });
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const { queues, discardedBytes } = replayJournal(text);
    this.queues = queues;
    let messages = 0;
    for (const queue of queues.values()) messages += queue.size;
    this.loaded = { messages, discardedBytes };
    if (discardedBytes > 0) {
      this.logger.warn('SQS journal: dropped a torn last write', { file: this.file, bytes: discardedBytes });
    }
    // Start from a snapshot: the torn tail is gone and the file is as small as it gets.
    this.snapshotBytes = this.writeSnapshotSync();
  }

  /** Opens (or creates) the journal in `dir` and reads back what it holds. */
  static async open(dir: string, options: QueueJournalOptions): Promise<QueueJournal> {
    const journal = new QueueJournal(dir, options);
    journal.handle = await open(journal.file, 'a');
    return journal;
  }

  /**
   * Observes `queues` (the engine's `service.Queues`), those created later included; each queue gets its persisted
   * messages back when it is created.
   */
  attach(queues: JournalledQueue[]): void {
    for (const queue of queues) this.attachQueue(queue, queues);
    const push = queues.push.bind(queues);
    queues.push = (...added: JournalledQueue[]) => {
      const length = push(...added);
      for (const queue of added) this.attachQueue(queue, queues);
      return length;
    };
  }

  /**
   * Resolves once every change recorded so far has been written to the kernel; undefined when nothing is waiting,
   * so the caller can answer at once.
   */
  written(): Promise<void> | undefined {
    if (this.pending.length === 0 && this.flushing === undefined) return undefined;
    return new Promise((resolve) => this.pendingWaiters.push(resolve));
  }

  /** Writes and fsyncs everything, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.syncTimer);
    await this.flush();
    const handle = this.handle;
    this.handle = undefined;
    if (handle) {
      await handle.datasync();
      await handle.close();
    }
  }

  private attachQueue(queue: JournalledQueue, all: JournalledQueue[]): void {
    if (this.attached.has(queue)) return;
    this.attached.add(queue);
    const name = queue.QueueName;
    const messagesOf = () => {
      let messages = this.queues.get(name);
      if (!messages) {
        messages = new Map();
        this.queues.set(name, messages);
      }
      return messages;
    };

    const newRecord = queue.newRecord;
    queue.newRecord = (message, delay) => {
      const entry = newRecord(message, delay) as EngineEntry;
      const record = entry?.record;
      if (!record?.MessageId) return entry;
      const delaySeconds = delay === undefined || Number.isNaN(delay) ? queue.DelaySeconds : delay;
      const delayUntil = delaySeconds > 0 ? this.now() + delaySeconds * 1000 : undefined;
      const stored: StoredMessage = { record, entry, ...(delayUntil === undefined ? {} : { delayUntil }) };
      if (this.restoring) {
        messagesOf().set(record.MessageId, stored);
        return entry;
      }
      const sourceArn = record.attributes.DeadLetterQueueSourceArn;
      const source = sourceArn ? queueNameOfArn(sourceArn) : undefined;
      const moved =
        source !== undefined && source !== name && this.queues.get(source)?.delete(record.MessageId);
      messagesOf().set(record.MessageId, stored);
      this.append({
        t: 'P',
        q: name,
        m: persistable(record),
        ...(delayUntil === undefined ? {} : { d: delayUntil }),
        ...(moved ? { f: source } : {}),
      });
      return entry;
    };

    const receive = queue.receive.bind(queue);
    queue.receive = async (params) => {
      const received = await receive(params);
      if (received.length > 0) {
        const timeout = Number(params.VisibilityTimeout ?? Number.NaN);
        const until = this.now() + (Number.isNaN(timeout) ? queue.VisibilityTimeout : timeout) * 1000;
        const messages = this.queues.get(name);
        for (const record of received) {
          const stored = messages?.get(record.MessageId);
          if (stored) stored.invisibleUntil = until;
        }
        this.append({
          t: 'R',
          q: name,
          c: received.map((record) => [
            record.MessageId,
            record.attributes.ApproximateReceiveCount ?? '0',
            record.attributes.ApproximateFirstReceiveTimestamp ?? '',
            until,
          ]),
        });
      }
      return received;
    };

    const changeVisibility = queue.changeVisibility.bind(queue);
    queue.changeVisibility = (receiptHandle, visibilityTimeout) => {
      const changed = changeVisibility(receiptHandle, visibilityTimeout);
      const id = messageIdOf(receiptHandle);
      const stored = id === undefined ? undefined : this.queues.get(name)?.get(id);
      if (changed && id !== undefined && stored && !this.restoring) {
        const { attributes } = stored.record;
        const until = this.now() + Number(visibilityTimeout) * 1000;
        stored.invisibleUntil = until;
        this.append({
          t: 'R',
          q: name,
          c: [
            [
              id,
              attributes.ApproximateReceiveCount ?? '0',
              attributes.ApproximateFirstReceiveTimestamp ?? '',
              until,
            ],
          ],
        });
      }
      return changed;
    };

    const remove = queue.delete.bind(queue);
    queue.delete = (receiptHandle) => {
      const result = remove(receiptHandle);
      const id = messageIdOf(receiptHandle);
      const messages = this.queues.get(name);
      const stored = id === undefined ? undefined : messages?.get(id);
      // A repeated delete, or one with a stale receipt handle of a FIFO message, leaves the message stored.
      if (id !== undefined && stored && dropped(stored.entry)) {
        messages?.delete(id);
        this.append({ t: 'D', q: name, i: id });
      }
      return result;
    };

    const clearRecords = queue.clearRecords.bind(queue);
    queue.clearRecords = () => {
      clearRecords();
      this.queues.get(name)?.clear();
      this.append({ t: 'X', q: name });
    };

    this.restore(queue, all);
  }

  /** Hands a queue the messages read back for it (see the module comment for what comes back how). */
  private restore(queue: JournalledQueue, all: JournalledQueue[]): void {
    const messages = this.queues.get(queue.QueueName);
    if (!messages || messages.size === 0) return;
    const readBack = [...messages.values()].filter((message) => message.entry === undefined);
    if (readBack.length === 0) return;
    const now = this.now();
    const maxReceiveCount = queue.RedrivePolicy?.maxReceiveCount;
    const deadLetterName = queue.RedrivePolicy ? queueNameOfArn(queue.RedrivePolicy.deadLetterTargetArn) : '';
    const deadLetter = all.find((candidate) => candidate.QueueName === deadLetterName);
    let restored = 0;
    let inFlight = 0;
    let deadLettered = 0;
    let expired = 0;
    for (const message of readBack.sort(bySentTimestamp)) {
      const { record } = message;
      if (Number(record.attributes.SentTimestamp) + queue.MessageRetentionPeriod * 1000 <= now) {
        messages.delete(record.MessageId);
        this.append({ t: 'D', q: queue.QueueName, i: record.MessageId });
        expired++;
        continue;
      }
      const count = Number(record.attributes.ApproximateReceiveCount ?? 0);
      const inFlightFor = (message.invisibleUntil ?? 0) - now;
      if (inFlightFor <= 0 && maxReceiveCount !== undefined && deadLetter && count >= maxReceiveCount) {
        // As local-aws-sqs moves it when the visibility timeout of its last receive ends: same MessageId and body. The
        // dead-letter queue's hook journals the move (and takes the message out of this queue's map).
        deadLetter.setRecord(
          {
            MessageBody: record.MessageBody,
            MessageAttributes: record.MessageAttributes,
            MessageSystemAttributes: {
              DeadLetterQueueSourceArn: { DataType: 'String', StringValue: sourceArnOf(queue) },
            },
            MessageDeduplicationId: record.attributes.MessageDeduplicationId,
            MessageGroupId: record.attributes.MessageGroupId,
          },
          record.MessageId,
        );
        deadLettered++;
        continue;
      }
      // The hook puts it back in the map with its new engine entry, without journalling it again.
      this.restoring = true;
      try {
        const remaining = message.delayUntil === undefined ? 0 : Math.max(0, message.delayUntil - now);
        queue.newRecord({ ...record, ReceiptHandle: '' }, remaining / 1000);
        if (inFlightFor > 0 && !queue.FifoQueue) {
          this.keepInFlight(queue, message, inFlightFor);
          inFlight++;
        }
      } finally {
        this.restoring = false;
      }
      restored++;
    }
    this.logger.info('SQS: messages restored from the journal', {
      queue: queue.QueueName,
      restored,
      ...(inFlight > 0 ? { inFlight } : {}),
      ...(deadLettered > 0 ? { deadLettered } : {}),
      ...(expired > 0 ? { expired } : {}),
    });
  }

  /**
   * Makes a restored message invisible for `ms` through the engine's own visibility change, with a receipt handle in
   * the engine's format. local-aws-sqs treats the change as a receive (the count, and the first receive's time on a
   * message never received); both are put back, whether `sqs-receive-count.ts` is installed or not.
   */
  private keepInFlight(queue: JournalledQueue, message: StoredMessage, ms: number): void {
    const { attributes, MessageId } = message.record;
    const count = attributes.ApproximateReceiveCount;
    const first = attributes.ApproximateFirstReceiveTimestamp;
    const handle = Buffer.from(
      `${randomUUID()}${JSON.stringify({ date: this.now(), MessageId, QueueName: queue.QueueName })}`,
    ).toString('base64');
    queue.changeVisibility(handle, String(ms / 1000));
    const stored = this.queues.get(queue.QueueName)?.get(MessageId);
    if (!stored?.entry) return;
    if (count !== undefined) stored.entry.record.attributes.ApproximateReceiveCount = count;
    if (first !== undefined) stored.entry.record.attributes.ApproximateFirstReceiveTimestamp = first;
    stored.invisibleUntil = message.invisibleUntil;
  }

  private append(operation: Operation): void {
    if (this.closed) return;
    this.pending.push(encodeRecord(operation));
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // One write per turn of the event loop: changes made by concurrent requests share it (group commit).
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.length === 0) {
      this.wake(this.pendingWaiters.splice(0));
      return;
    }
    const lines = this.pending;
    const waiters = this.pendingWaiters;
    this.pending = [];
    this.pendingWaiters = [];
    this.flushing = this.writeLines(lines).finally(() => {
      this.flushing = undefined;
      this.wake(waiters);
    });
    await this.flushing;
    if (this.pending.length > 0 || this.pendingWaiters.length > 0) await this.flush();
  }

  private wake(waiters: Array<() => void>): void {
    for (const wake of waiters) wake();
  }

  private async writeLines(lines: string[]): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    const buffer = Buffer.from(lines.join(''));
    try {
      await handle.write(buffer);
    } catch (error) {
      this.logger.error('SQS journal: write failed; queue changes may be lost on a crash', {
        file: this.file,
        error: String(error),
      });
      return;
    }
    this.bytesSinceSnapshot += buffer.length;
    this.unsynced = true;
    this.syncTimer ??= setTimeout(() => void this.sync(), this.syncIntervalMs);
    this.syncTimer.unref();
    if (this.bytesSinceSnapshot > Math.max(this.compactAfterBytes, this.snapshotBytes)) await this.compact();
  }

  private async sync(): Promise<void> {
    this.syncTimer = undefined;
    if (!this.unsynced || !this.handle) return;
    this.unsynced = false;
    await this.handle.datasync().catch((error: unknown) => {
      this.logger.warn('SQS journal: fsync failed', { error: String(error) });
    });
  }

  /**
   * Replaces the journal by a snapshot of the live messages. Runs inside a flush, so no write is under way; the
   * changes recorded meanwhile stay pending and go to the new file.
   */
  private async compact(): Promise<void> {
    const old = this.handle;
    this.handle = undefined;
    await old?.close();
    this.snapshotBytes = this.writeSnapshotSync();
    this.bytesSinceSnapshot = 0;
    this.handle = await open(this.file, 'a');
  }

  /**
   * Writes the live messages to a temporary file, fsyncs it and renames it over the journal. Synchronous: it runs on
   * open and on compaction (rare, and no longer than serialising the messages).
   */
  private writeSnapshotSync(): number {
    const lines: string[] = [];
    for (const [queueName, messages] of this.queues) {
      for (const [id, message] of messages) {
        if (dropped(message.entry)) {
          messages.delete(id);
          continue;
        }
        lines.push(
          encodeRecord({
            t: 'P',
            q: queueName,
            m: persistable(message.record),
            ...(message.delayUntil === undefined ? {} : { d: message.delayUntil }),
            ...(message.invisibleUntil === undefined ? {} : { v: message.invisibleUntil }),
          }),
        );
      }
    }
    const buffer = Buffer.from(lines.join(''));
    const temporary = `${this.file}.tmp`;
    const fd = openSync(temporary, 'w');
    try {
      writeSync(fd, buffer);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.file);
    syncDirectory(path.dirname(this.file));
    return buffer.length;
  }
}

function bySentTimestamp(a: StoredMessage, b: StoredMessage): number {
  return Number(a.record.attributes.SentTimestamp) - Number(b.record.attributes.SentTimestamp);
}

/** A source queue's ARN: its dead-letter queue's ARN (same region and account) with its own name. */
function sourceArnOf(source: JournalledQueue): string {
  const target = source.RedrivePolicy?.deadLetterTargetArn ?? '';
  return `${target.slice(0, target.lastIndexOf(':') + 1)}${source.QueueName}`;
}

/** Makes a rename durable (Linux and macOS; Windows cannot open a directory and needs no such step). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not supported on this platform.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
