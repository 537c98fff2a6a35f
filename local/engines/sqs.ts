import { createServer, type ServerResponse } from 'node:http';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type QueueAttributeName,
  QueueNameExists,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { createRequestHandler } from 'local-aws-sqs';
import { InvalidPropertyError, isRecord, Props } from '#local/template/props.ts';
import { DEFAULT_ACCOUNT, type RuntimeLogger, silentLogger } from '../types.ts';
import { isPortFree, LOOPBACK } from './ports.ts';
import { type QueueSignals, type RingableQueue, ringQueues } from './sqs-doorbell.ts';
import { type JournalledQueue, QueueJournal, type QueueJournalOptions } from './sqs-journal.ts';
import { type CountedQueue, countReceivesOnly } from './sqs-receive-count.ts';
import { type QueueStats, type WatchableQueue, watchQueues } from './sqs-stats.ts';

/**
 * SQS for the local runtime: the `local-aws-sqs` engine served in-process on loopback. It keeps queues
 * and messages in memory only (it has no persistence), so queues are re-created from the template on
 * every start. With `persistDir`, a journal beside the engine (`sqs-journal.ts`) keeps the messages: they
 * come back into their queues when the template creates them again. Without it nothing is written to disk.
 */

export class SqsEngineError extends Error {
  override name = 'SqsEngineError';
}

export interface SqsEngineOptions {
  /** Port to listen on; the kernel picks a free one when omitted. */
  port?: number;
  logger?: RuntimeLogger;
  /** Used in queue ARNs; must match the runtime's account so template-resolved ARNs and URLs line up. */
  region?: string;
  accountId?: string;
  /** Keep queued, delayed, in-flight and dead-lettered messages in this directory across restarts. */
  persistDir?: string;
  /** Journal tuning (`persistDir` only): fsync interval (what a crash of the host can lose), compaction threshold. */
  journal?: Pick<QueueJournalOptions, 'syncIntervalMs' | 'compactAfterBytes'>;
}

export interface SqsEngine {
  /** `http://127.0.0.1:<port>`; queue URLs are `<endpoint>/<accountId>/<queueName>`. */
  endpoint: string;
  port: number;
  /** Per queue: counts, age of the oldest message and messages deleted (see `sqs-stats.ts`). */
  stats(): QueueStats[];
  /** Rings a queue's subscribers when it may have a message to receive (see `sqs-doorbell.ts`). */
  signals: QueueSignals;
  /**
   * Resolves once every message change so far is in the journal (at once without `persistDir`). An in-process caller
   * that changes queues without going through the HTTP API awaits it before acting on the change.
   */
  written(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSqs(options: SqsEngineOptions = {}): Promise<SqsEngine> {
  const logger = options.logger ?? silentLogger;
  if (options.port !== undefined && !(await isPortFree(options.port))) {
    throw new SqsEngineError(`cannot start SQS: port ${options.port} is already in use`);
  }
  // The request handler rather than `createSqsServer`: it hands out the engine's queues, which `watchQueues` needs
  // (and `createSqsServer` never settles when listen fails).
  const { service, requestHandler } = createRequestHandler({
    port: options.port ?? 0,
    hostname: LOOPBACK,
    region: options.region ?? DEFAULT_ACCOUNT.region,
    accountId: options.accountId ?? DEFAULT_ACCOUNT.accountId,
    // Both emulate AWS delays (60 s before a deleted name can be reused, 1 s before a new queue is usable)
    // that only slow local starts and tests down.
    emulateQueueCreationLifecycle: false,
    emulateLazyQueues: false,
    validateDlqDestination: true,
  });
  const watch = watchQueues(service.Queues as unknown as WatchableQueue[]);
  const signals = ringQueues(service.Queues as unknown as RingableQueue[]);
  // AWS's receive counts: before the journal, so that it records the count as put back.
  countReceivesOnly(service.Queues as unknown as CountedQueue[]);
  const journal = options.persistDir
    ? await QueueJournal.open(options.persistDir, { ...options.journal, logger })
    : undefined;
  // After the watch, so the watch sees the messages the journal hands back.
  journal?.attach(service.Queues as unknown as JournalledQueue[]);
  const server = createServer((req, res) => {
    if (journal) answerOnceWritten(res, journal);
    requestHandler(req, res).catch((error: unknown) => {
      logger.error('SQS: unhandled failure', { error: String(error) });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address !== 'object')
    throw new Error('local-aws-sqs did not report its port');
  // Queue URLs carry the port the engine was told; with port 0 that is the one the kernel picked.
  service.PORT = address.port;
  const endpoint = `http://${LOOPBACK}:${address.port}`;
  logger.info('SQS started', { endpoint });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      // Long polls (up to 20 s) would otherwise hold close() open.
      server.closeAllConnections();
    })
      .then(() => journal?.close())
      .then(() => logger.debug('SQS stopped', { endpoint }));
    return stopping;
  };
  return {
    endpoint,
    port: address.port,
    stats: () => watch.stats(),
    signals,
    written: () => journal?.written() ?? Promise.resolve(),
    stop,
  };
}

/**
 * Holds the end of an answer until the journal has written what the request changed (a few hundred microseconds, one
 * write shared by every request of the same turn of the event loop): a sender that heard "sent" has its message in
 * the kernel, which a killed process cannot take back.
 */
function answerOnceWritten(res: ServerResponse, journal: QueueJournal): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    const written = journal.written();
    if (!written) return end(...args);
    void written.then(() => end(...args));
    return res;
  }) as ServerResponse['end'];
}

export interface CreatedQueue {
  queueUrl: string;
  queueArn: string;
}

/** Attributes SQS takes as plain numbers, passed through as CreateQueue strings. */
const NUMERIC_ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
] as const;

/** CloudFormation gives redrive policies as objects (CDK) or as JSON strings (hand-written templates). */
function policyObject(props: Props, key: string): Record<string, unknown> | undefined {
  let value = props.raw(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      throw new InvalidPropertyError(`${props.where}.${key} is a string but not JSON: ${value}`);
    }
  }
  if (!isRecord(value)) throw new InvalidPropertyError(`${props.where}.${key} must be an object`);
  return value;
}

/** Maps resolved `AWS::SQS::Queue` properties to CreateQueue attributes (exported for inspection and tests). */
export function queueAttributes(
  queueName: string,
  properties: Record<string, unknown>,
): Partial<Record<QueueAttributeName, string>> {
  const props = Props.of(properties, `AWS::SQS::Queue "${queueName}"`);
  const attributes: Partial<Record<QueueAttributeName, string>> = {};
  // FifoQueue=false is rejected by SQS on CreateQueue; a standard queue is the default anyway.
  if (props.boolean('FifoQueue')) attributes.FifoQueue = 'true';
  const contentDedup = props.boolean('ContentBasedDeduplication');
  if (contentDedup !== undefined) attributes.ContentBasedDeduplication = String(contentDedup);
  const dedupScope = props.string('DeduplicationScope');
  if (dedupScope) attributes.DeduplicationScope = dedupScope;
  const throughputLimit = props.string('FifoThroughputLimit');
  if (throughputLimit) attributes.FifoThroughputLimit = throughputLimit;
  for (const name of NUMERIC_ATTRIBUTES) {
    const value = props.number(name);
    if (value !== undefined) attributes[name] = String(value);
  }

  const redrive = policyObject(props, 'RedrivePolicy');
  if (redrive) {
    const policy = Props.of(redrive, `${props.where}.RedrivePolicy`);
    attributes.RedrivePolicy = JSON.stringify({
      deadLetterTargetArn: policy.requiredString('deadLetterTargetArn'),
      maxReceiveCount: policy.number('maxReceiveCount') ?? 10,
    });
  }
  const allow = policyObject(props, 'RedriveAllowPolicy');
  if (allow) attributes.RedriveAllowPolicy = JSON.stringify(allow);
  // KmsMasterKeyId, KmsDataKeyReusePeriodSeconds and SqsManagedSseEnabled have no local meaning.
  return attributes;
}

function queueTags(properties: Record<string, unknown>, where: string): Record<string, string> | undefined {
  const tags = Props.of(properties, where).list('Tags');
  if (!tags || tags.length === 0) return undefined;
  return Object.fromEntries(tags.map((tag) => [tag.requiredString('Key'), tag.string('Value') ?? '']));
}

/**
 * Creates the queue and returns its URL and ARN. Dead-letter queues named in `RedrivePolicy` must exist
 * first (the engine validates the target, as SQS does); the caller creates queues in dependency order.
 * A queue that already exists with other attributes gets them updated instead.
 */
export async function createQueueFromCfn(
  client: SQSClient,
  queueName: string,
  props: Record<string, unknown>,
): Promise<CreatedQueue> {
  const attributes = queueAttributes(queueName, props);
  const tags = queueTags(props, `AWS::SQS::Queue "${queueName}"`);
  let queueUrl: string | undefined;
  try {
    ({ QueueUrl: queueUrl } = await client.send(
      new CreateQueueCommand({ QueueName: queueName, Attributes: attributes, ...(tags ? { tags } : {}) }),
    ));
  } catch (error) {
    if (!(error instanceof QueueNameExists)) throw error;
    ({ QueueUrl: queueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: queueName })));
    const { FifoQueue: _immutable, ...mutable } = attributes;
    if (queueUrl)
      await client.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: mutable }));
  }
  if (!queueUrl) throw new Error(`CreateQueue returned no URL for "${queueName}"`);
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const queueArn = Attributes?.QueueArn;
  if (!queueArn) throw new Error(`GetQueueAttributes returned no QueueArn for "${queueName}"`);
  return { queueUrl, queueArn };
}
