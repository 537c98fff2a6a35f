/**
 * S3 on the file system: s3rver (the most used S3 server on the npm registry) on 127.0.0.1, with the objects under
 * the runtime's data directory (`<persistDir>/s3`, kept across restarts) or a temporary directory removed at stop.
 * The functions reach it through `AWS_ENDPOINT_URL_S3` in path style, signing with the runtime's local credentials,
 * which s3rver is told to accept.
 */
import type { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import S3rver from 's3rver';
import accounts from 's3rver/lib/models/account.js';
import type { RuntimeLogger } from '../types.ts';
import { LOCAL_CREDENTIALS } from './dynamodb-local.ts';
import { LOOPBACK } from './ports.ts';

/** An object created or deleted in a bucket that sends its events to EventBridge. */
export interface S3ObjectEvent {
  detailType: 'Object Created' | 'Object Deleted';
  bucket: string;
  key: string;
  size?: number;
  etag?: string;
  sequencer: string;
  /** The API call, as AWS's EventBridge events name it (`PutObject`, `CopyObject`, …). */
  reason: string;
  sourceIp: string;
  requestId: string;
}

export interface S3Engine {
  endpoint: string;
  /** Where the buckets' objects are on disk: `<directory>/<bucket>/<key>`. */
  directory: string;
  createBucket(name: string): Promise<void>;
  /**
   * The bucket sends its object events to EventBridge (`NotificationConfiguration.EventBridgeConfiguration`, what
   * CDK's `eventBridgeEnabled` sets through its `Custom::S3BucketNotifications`): each goes to `listener`.
   */
  sendEventsToEventBridge(bucket: string, listener: (event: S3ObjectEvent) => void): void;
  stop(): Promise<void>;
}

/** What s3rver emits after a PUT, POST, COPY, multipart completion or DELETE (lib/models/event.js). */
interface S3rverEvent {
  Records?: Array<{
    eventName?: string;
    requestParameters?: { sourceIPAddress?: string };
    responseElements?: { 'x-amz-request-id'?: string };
    s3?: {
      bucket?: { name?: string };
      object?: { key?: string; size?: number; eTag?: string; sequencer?: string };
    };
  }>;
}

const REASONS: Record<string, string> = {
  'ObjectCreated:Put': 'PutObject',
  'ObjectCreated:Copy': 'CopyObject',
  'ObjectCreated:Post': 'PostObject',
  'ObjectRemoved:Delete': 'DeleteObject',
};

/** s3rver's notification record as the fields of AWS's EventBridge S3 event (undefined for other kinds). */
export function objectEventOf(
  record: NonNullable<S3rverEvent['Records']>[number],
): S3ObjectEvent | undefined {
  const reason = REASONS[record.eventName ?? ''];
  const bucket = record.s3?.bucket?.name;
  const key = record.s3?.object?.key;
  if (!reason || !bucket || key === undefined) return undefined;
  return {
    detailType: record.eventName?.startsWith('ObjectRemoved') ? 'Object Deleted' : 'Object Created',
    bucket,
    key,
    ...(record.s3?.object?.size === undefined ? {} : { size: record.s3.object.size }),
    ...(record.s3?.object?.eTag ? { etag: record.s3.object.eTag } : {}),
    sequencer: record.s3?.object?.sequencer ?? Date.now().toString(16).toUpperCase(),
    reason,
    sourceIp: record.requestParameters?.sourceIPAddress ?? LOOPBACK,
    requestId: record.responseElements?.['x-amz-request-id'] ?? '',
  };
}

export async function startS3(options: { persistDir?: string; logger: RuntimeLogger }): Promise<S3Engine> {
  const directory = options.persistDir ?? (await mkdtemp(path.join(tmpdir(), 'buzzer-s3-')));
  await mkdir(directory, { recursive: true });
  accounts.DUMMY_ACCOUNT.createKeyPair(LOCAL_CREDENTIALS.accessKeyId, LOCAL_CREDENTIALS.secretAccessKey);
  const server = new S3rver({ address: LOOPBACK, port: 0, directory, silent: true });
  const listeners = new Map<string, (event: S3ObjectEvent) => void>();
  // s3rver emits a notification after every object write or delete (a Koa app event).
  (server as unknown as EventEmitter).on('event', (event: S3rverEvent) => {
    for (const record of event.Records ?? []) {
      const objectEvent = objectEventOf(record);
      const listener = objectEvent && listeners.get(objectEvent.bucket);
      if (!objectEvent || !listener) continue;
      try {
        listener(objectEvent);
      } catch (error) {
        options.logger.warn('s3: event notification failed', {
          bucket: objectEvent.bucket,
          error: String(error),
        });
      }
    }
  });
  const { port } = await server.run();
  const endpoint = `http://${LOOPBACK}:${port}`;
  options.logger.debug('s3: s3rver listening', { endpoint, directory });
  return {
    endpoint,
    directory,
    async createBucket(name) {
      await server.store.putBucket(name);
    },
    sendEventsToEventBridge(bucket, listener) {
      listeners.set(bucket, listener);
    },
    async stop() {
      await server.close();
      if (!options.persistDir) await rm(directory, { recursive: true, force: true });
    },
  };
}
