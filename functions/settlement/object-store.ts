import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
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
import { namedError } from '#shared/named-error.ts';

/** S3 answered an object request with an error (other than "no such object", which the reads answer with nothing). */
export class ObjectStoreError extends namedError('ObjectStoreError') {}

/**
 * The S3 client of the settlement functions. With `AWS_ENDPOINT_URL_S3` set (the local runtime's s3rver, LocalStack)
 * it addresses buckets in path style, since those servers answer on one host name, and it sends and checks checksums
 * only where S3 requires them: s3rver does not understand the `aws-chunked` checksum trailers the SDK adds to uploads
 * by default. On AWS the SDK's defaults stand.
 */
export function objectStoreClient(env: NodeJS.ProcessEnv = process.env): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  // An environment other than the process's (a tool talking to the local runtime) brings its own credentials.
  const credentials =
    env !== process.env && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY }
      : undefined;
  return new S3Client({
    ...(region ? { region } : {}),
    ...(credentials ? { credentials } : {}),
    ...(endpoint
      ? {
          endpoint,
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        }
      : {}),
  });
}

const missing = (error: unknown): boolean =>
  error instanceof NoSuchKey ||
  error instanceof NotFound ||
  (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404);

/**
 * The few S3 object calls the settlement jobs make: put (text, or a file streamed from disk), get as a stream (whole
 * or from a byte offset), head, copy and delete. Errors come out as `ObjectStoreError` naming the call and the key.
 */
export class ObjectStore {
  constructor(
    private readonly bucket: string,
    private readonly client: S3Client = objectStoreClient(),
  ) {}

  private async call<T>(what: string, key: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof ObjectStoreError) throw error;
      const status = error instanceof S3ServiceException ? ` (${error.$metadata.httpStatusCode ?? '?'})` : '';
      const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new ObjectStoreError(`S3 ${what} ${this.bucket}/${key} failed${status}: ${detail}`);
    }
  }

  async putText(key: string, text: string, contentType = 'text/plain; charset=utf-8'): Promise<void> {
    await this.call('PutObject', key, () =>
      this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: text, ContentType: contentType }),
      ),
    );
  }

  /** Streams `file` from disk: the body is never in memory whole. */
  async putFile(key: string, file: string, contentType = 'text/plain; charset=utf-8'): Promise<void> {
    const { size } = await stat(file);
    await this.call('PutObject', key, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: createReadStream(file),
          ContentLength: size,
          ContentType: contentType,
        }),
      ),
    );
  }

  /** The object as a stream (from byte `from` on, a ranged GET), or undefined when there is none. */
  async getStream(key: string, from?: number): Promise<Readable | undefined> {
    return this.call('GetObject', key, async () => {
      try {
        const answer = await this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: key,
            ...(from ? { Range: `bytes=${from}-` } : {}),
          }),
        );
        return answer.Body as Readable | undefined;
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    });
  }

  async getText(key: string): Promise<string | undefined> {
    return this.call('GetObject', key, async () => {
      try {
        const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
        return answer.Body ? await answer.Body.transformToString('utf8') : '';
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    });
  }

  /** Size and ETag of the object, or undefined when there is none. */
  async head(key: string): Promise<{ size: number; etag: string } | undefined> {
    return this.call('HeadObject', key, async () => {
      try {
        const answer = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
        return { size: answer.ContentLength ?? 0, etag: answer.ETag ?? '' };
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    });
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  /**
   * Moves an object inside the bucket: a copy, then the delete. A move interrupted between the two leaves both; run
   * again, it copies the same bytes again and deletes the source, and a source already gone with the target there is a
   * move already done.
   */
  async move(from: string, to: string): Promise<void> {
    if (!(await this.exists(from))) {
      if (await this.exists(to)) return;
      throw new ObjectStoreError(
        `S3 move ${this.bucket}/${from}: no such object, and ${to} is not there either`,
      );
    }
    await this.call('CopyObject', to, () =>
      this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: to,
          CopySource: `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`,
        }),
      ),
    );
    await this.call('DeleteObject', from, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: from })),
    );
  }
}
