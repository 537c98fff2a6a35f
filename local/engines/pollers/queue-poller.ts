import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import type { SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import { DEFAULT_ACCOUNT, type InvokeResult } from '../../types.ts';
import { interpretBatchResponse } from './batch-response.ts';
import type { QueueSettings } from './config.ts';
import { Doorbell, pause, until } from './timing.ts';
import {
  DEFAULT_TUNING,
  type EventSourceMappingDeps,
  type EventSourceMappingHandle,
  type PollerTuning,
} from './types.ts';

/**
 * An SQS event source mapping, polled the way the Lambda service does it: up to `MaximumConcurrency`
 * batches at once, each gathered by long polling. Messages are deleted only after the function succeeded
 * with them; failed ones are left alone, become visible again after the queue's visibility timeout, and
 * the queue's own RedrivePolicy moves them to its dead-letter queue after `maxReceiveCount` receives.
 */

/** ReceiveMessage and DeleteMessageBatch handle at most ten messages per call. */
const SQS_MAX_PER_CALL = 10;

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function toLambdaAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): SQSMessageAttributes {
  return Object.fromEntries(
    Object.entries(attributes ?? {}).map(([name, value]) => [
      name,
      {
        ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
        ...(value.BinaryValue !== undefined ? { binaryValue: base64(value.BinaryValue) } : {}),
        stringListValues: value.StringListValues ?? [],
        binaryListValues: (value.BinaryListValues ?? []).map(base64),
        dataType: value.DataType ?? 'String',
      },
    ]),
  );
}

export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: (message.Attributes ?? {}) as unknown as SQSRecordAttributes,
    messageAttributes: toLambdaAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/** Lambda filters on the body as JSON when it parses, and as the plain string otherwise. */
function filterView(record: SQSRecord): unknown {
  try {
    return { ...record, body: JSON.parse(record.body) as unknown };
  } catch {
    return record;
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export class SqsQueueMapping implements EventSourceMappingHandle {
  private readonly settings: QueueSettings;
  private readonly deps: EventSourceMappingDeps;
  private readonly tuning: PollerTuning;
  private readonly region: string;
  private readonly queueUrl: string;
  private readonly abort = new AbortController();
  private readonly workers: Promise<void>[] = [];
  /** Rung by the local engine when the queue may have a message; shared by this mapping's workers. */
  private readonly doorbell = new Doorbell();
  private readonly unsubscribe: () => void;
  private inFlight = 0;

  constructor(settings: QueueSettings, deps: EventSourceMappingDeps) {
    this.settings = settings;
    this.deps = deps;
    this.tuning = { ...DEFAULT_TUNING, ...deps.tuning };
    this.region = (deps.account ?? DEFAULT_ACCOUNT).region;
    this.queueUrl = deps.queueUrlForArn(settings.eventSourceArn);
    const queueName = this.queueUrl.slice(this.queueUrl.lastIndexOf('/') + 1);
    this.unsubscribe = deps.queueSignals?.subscribe(queueName, () => this.doorbell.ring()) ?? (() => {});
    for (let worker = 0; worker < settings.maxConcurrency; worker++) this.workers.push(this.work());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.unsubscribe();
    await Promise.allSettled(this.workers);
  }

  async drain(): Promise<void> {
    await until(async () => this.inFlight === 0 && (await this.queueIsEmpty()), this.abort.signal, 50);
  }

  private async queueIsEmpty(): Promise<boolean> {
    const counters = [
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateNumberOfMessagesDelayed',
    ] as const;
    try {
      const { Attributes } = await this.deps.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: [...counters] }),
      );
      return counters.every((counter) => Number(Attributes?.[counter] ?? 0) === 0);
    } catch {
      return false;
    }
  }

  private async work(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      let messages: Message[];
      try {
        messages = await this.collect(signal);
      } catch (error) {
        if (signal.aborted) return;
        this.deps.logger.warn('receiving from the queue failed; retrying', {
          queueUrl: this.queueUrl,
          error: describeError(error),
        });
        await pause(this.tuning.errorBackoffMs, signal);
        continue;
      }
      if (messages.length === 0) continue;
      if (signal.aborted) {
        await this.release(messages);
        return;
      }
      this.inFlight++;
      try {
        await this.process(messages);
      } catch (error) {
        this.deps.logger.error('processing an SQS batch failed', {
          queueUrl: this.queueUrl,
          error: describeError(error),
        });
      } finally {
        this.inFlight--;
      }
    }
  }

  /**
   * One short poll. Lambda long-polls, but local-aws-sqs holds a long poll open for its full wait time
   * unless it can fill MaxNumberOfMessages (AWS answers as soon as any message is available), and can
   * return one message twice in that response when its visibility timeout ends during the wait. Short
   * polls plus a client-side pause give AWS's latency without either effect.
   */
  private async receive(max: number, signal: AbortSignal): Promise<Message[]> {
    try {
      const { Messages } = await this.deps.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: 0,
          // local-aws-sqs reads only the older AttributeNames; AWS reads both.
          AttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: signal },
      );
      return Messages ?? [];
    } catch (error) {
      if (signal.aborted) return [];
      throw error;
    }
  }

  /**
   * Polls until messages arrive, then keeps receiving until the batch is full or the batching window
   * closes. A message received twice (visibility timeout shorter than the window) is kept once, with its
   * latest receipt handle, the only one that can still delete it.
   */
  private async collect(signal: AbortSignal): Promise<Message[]> {
    const { batchSize, maxBatchingWindowMs } = this.settings;
    const batch = new Map<string, Message>();
    const add = (messages: Message[]): void => {
      for (const message of messages) {
        const id = message.MessageId ?? message.ReceiptHandle ?? '';
        batch.delete(id);
        batch.set(id, message);
      }
    };
    let deadline: number | undefined;
    while (!signal.aborted && batch.size < batchSize) {
      if (deadline !== undefined && Date.now() >= deadline) break;
      const rings = this.doorbell.rings;
      const received = await this.receive(Math.min(SQS_MAX_PER_CALL, batchSize - batch.size), signal);
      add(received);
      if (batch.size > 0 && deadline === undefined) deadline = Date.now() + maxBatchingWindowMs;
      if (received.length > 0) continue;
      if (deadline === undefined && this.deps.queueSignals) {
        // Idle: wait for the queue's bell (a ring since the look above counts), looking anyway now and then.
        await this.doorbell.wait(rings, this.tuning.sqsIdleLookMs, signal);
      } else {
        const wait = deadline === undefined ? this.tuning.sqsPollIntervalMs : deadline - Date.now();
        await pause(Math.min(wait, this.tuning.sqsPollIntervalMs), signal);
      }
    }
    return [...batch.values()];
  }

  private async process(messages: Message[]): Promise<void> {
    const { deps, settings } = this;
    const records = messages.map((message) => toSqsRecord(message, settings.eventSourceArn, this.region));
    const matching = settings.filter
      ? records.filter((record) => settings.filter?.(filterView(record)))
      : records;
    if (matching.length < records.length) {
      // Lambda deletes messages that match no filter: they would otherwise come back forever.
      const dropped = records.filter((record) => !matching.includes(record));
      deps.logger.debug('deleting messages that match no filter', {
        queueUrl: this.queueUrl,
        count: dropped.length,
      });
      await this.delete(dropped);
    }
    if (matching.length === 0) return;

    let result: InvokeResult;
    try {
      result = await deps.invoker.invoke(deps.functionName, structuredClone({ Records: matching }));
    } catch (error) {
      deps.logger.error(
        'could not invoke the function for an SQS batch; the messages will be received again',
        {
          functionName: deps.functionName,
          error: describeError(error),
        },
      );
      return;
    }
    if (result.error) {
      deps.logger.warn('function failed on an SQS batch; its messages return after the visibility timeout', {
        functionName: deps.functionName,
        queueUrl: this.queueUrl,
        batchSize: matching.length,
        error: `${result.error.errorType}: ${result.error.errorMessage}`,
      });
      return;
    }
    if (!settings.reportBatchItemFailures) {
      await this.delete(matching);
      return;
    }
    const response = interpretBatchResponse(
      result.payload,
      matching.map((record) => record.messageId),
    );
    if (response.kind === 'success') {
      await this.delete(matching);
    } else if (response.kind === 'invalid') {
      deps.logger.warn('unusable batch item failure response: the whole batch counts as failed', {
        functionName: deps.functionName,
        queueUrl: this.queueUrl,
        reason: response.reason,
      });
    } else {
      deps.logger.debug('function reported failed messages; deleting the others', {
        functionName: deps.functionName,
        queueUrl: this.queueUrl,
        failed: response.failed.size,
        batchSize: matching.length,
      });
      await this.delete(matching.filter((record) => !response.failed.has(record.messageId)));
    }
  }

  private async delete(records: SQSRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += SQS_MAX_PER_CALL) {
      const chunk = records.slice(start, start + SQS_MAX_PER_CALL);
      const { Failed } = await this.deps.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
        }),
      );
      if (Failed && Failed.length > 0) {
        this.deps.logger.warn('some processed messages could not be deleted; they will be delivered again', {
          queueUrl: this.queueUrl,
          failed: Failed.map((entry) => entry.Message ?? entry.Code),
        });
      }
    }
  }

  /** Messages received while stopping go back to the queue at once instead of after the visibility timeout. */
  private async release(messages: Message[]): Promise<void> {
    for (let start = 0; start < messages.length; start += SQS_MAX_PER_CALL) {
      const chunk = messages.slice(start, start + SQS_MAX_PER_CALL);
      try {
        await this.deps.sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: chunk.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle ?? '',
              VisibilityTimeout: 0,
            })),
          }),
        );
      } catch {
        // The queue may already be gone on shutdown; the messages then simply time out.
      }
    }
  }
}
