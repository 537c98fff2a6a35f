/**
 * The settlement object store on the S3 SDK client: the calls it makes (ranged GETs for a resumed read, a streamed
 * upload with its length, copy-then-delete moves), "no such object" as nothing, and other S3 errors as
 * ObjectStoreError naming the key. The same store against s3rver: test/unit/local/s3-secrets.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/core/serde';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ObjectStore, objectStoreClient } from '#functions/settlement/object-store.ts';
import { sentInput } from './helpers.ts';

const s3 = mockClient(S3Client);
const store = new ObjectStore('files', new S3Client({ region: 'eu-west-1' }));
const body = (text: string) =>
  sdkStreamMixin(Readable.from([Buffer.from(text)])) as unknown as NonNullable<
    Awaited<ReturnType<S3Client['send']>>
  >;

beforeEach(() => s3.reset());
afterAll(() => s3.restore());

describe('ObjectStore', () => {
  it('reads from a byte offset with a ranged GET, and the whole object without a Range', async () => {
    s3.on(GetObjectCommand).resolves({ Body: body('b\n') } as never);
    const stream = await store.getStream('inbox/f.csv', 2);
    let text = '';
    for await (const chunk of stream ?? []) text += String(chunk);
    expect(text).toBe('b\n');
    expect(sentInput(s3, GetObjectCommand)).toEqual({
      Bucket: 'files',
      Key: 'inbox/f.csv',
      Range: 'bytes=2-',
    });
    await store.getStream('inbox/f.csv');
    expect(sentInput(s3, GetObjectCommand, 2)).toEqual({ Bucket: 'files', Key: 'inbox/f.csv' });
  });

  it('answers a missing object with nothing, and any other S3 error with ObjectStoreError naming the key', async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: { httpStatusCode: 404 } }));
    s3.on(HeadObjectCommand).rejects(new NotFound({ message: 'gone', $metadata: { httpStatusCode: 404 } }));
    expect(await store.getStream('x')).toBeUndefined();
    expect(await store.getText('x')).toBeUndefined();
    expect(await store.exists('x')).toBe(false);
    s3.on(PutObjectCommand).rejects(
      new S3ServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        message: 'denied',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    await expect(store.putText('exports/a', 'a')).rejects.toMatchObject({
      name: 'ObjectStoreError',
      message: expect.stringContaining('files/exports/a failed (403): AccessDenied'),
    });
  });

  it('streams a file from disk with its length', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'store-'));
    try {
      const file = path.join(dir, 'f.csv');
      await writeFile(file, 'hello\n');
      s3.on(PutObjectCommand).resolves({});
      await store.putFile('exports/f.csv', file);
      const input = sentInput(s3, PutObjectCommand);
      expect(input).toMatchObject({ Bucket: 'files', Key: 'exports/f.csv', ContentLength: 6 });
      expect(input.Body).toBeInstanceOf(Readable);
      (input.Body as Readable).destroy();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('moves by copy then delete, and a move whose source is gone and target there is done', async () => {
    s3.on(HeadObjectCommand, { Key: 'inbox/a b.csv' })
      .resolvesOnce({ ContentLength: 1 })
      .rejects(new NotFound({ message: 'gone', $metadata: { httpStatusCode: 404 } }));
    s3.on(HeadObjectCommand, { Key: 'processed/a b.csv' }).resolves({ ContentLength: 1 });
    s3.on(CopyObjectCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});
    await store.move('inbox/a b.csv', 'processed/a b.csv');
    expect(sentInput(s3, CopyObjectCommand)).toEqual({
      Bucket: 'files',
      Key: 'processed/a b.csv',
      CopySource: 'files/inbox/a%20b.csv',
    });
    expect(sentInput(s3, DeleteObjectCommand)).toEqual({ Bucket: 'files', Key: 'inbox/a b.csv' });
    await store.move('inbox/a b.csv', 'processed/a b.csv');
    expect(s3.commandCalls(CopyObjectCommand)).toHaveLength(1);
  });
});

describe('objectStoreClient', () => {
  it('uses path style and required-only checksums against a local endpoint, the defaults on AWS', async () => {
    const local = objectStoreClient({
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569',
    });
    expect(await local.config.forcePathStyle).toBe(true);
    expect(await local.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    const endpoint = await local.config.endpoint?.();
    expect(endpoint?.hostname).toBe('127.0.0.1');
    const aws = objectStoreClient({ AWS_REGION: 'eu-west-1' });
    expect(aws.config.forcePathStyle).toBeFalsy();
    expect(await aws.config.requestChecksumCalculation()).toBe('WHEN_SUPPORTED');
  });
});
