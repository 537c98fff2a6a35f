import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { namedError } from '#shared/named-error.ts';

/** S3 answered an object request with an error status. */
export class ObjectStoreError extends namedError('ObjectStoreError') {}

/**
 * The few S3 object calls the settlement export makes (put, get as a stream, head), signed with SigV4 over `fetch`:
 * the functions' dependencies have no S3 client. Requests go to `AWS_ENDPOINT_URL_S3` in path style when it is set
 * (the local runtime's S3 server), else to the bucket's virtual-hosted regional endpoint. Bodies are not hashed into
 * the signature (`UNSIGNED-PAYLOAD`, which S3 accepts over https), so a file streams from disk without a second read.
 */
export class ObjectStore {
  private readonly signer: SignatureV4;

  constructor(
    private readonly bucket: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
    this.signer = new SignatureV4({
      service: 's3',
      region,
      credentials: defaultProvider(),
      sha256: Hash.bind(null, 'sha256'),
      uriEscapePath: false,
    });
  }

  private url(key: string): URL {
    const path = key.split('/').map(encodeURIComponent).join('/');
    const endpoint = this.env.AWS_ENDPOINT_URL_S3;
    if (endpoint) return new URL(`${endpoint.replace(/\/+$/, '')}/${this.bucket}/${path}`);
    const region = this.env.AWS_REGION ?? this.env.AWS_DEFAULT_REGION ?? 'us-east-1';
    return new URL(`https://${this.bucket}.s3.${region}.amazonaws.com/${path}`);
  }

  private async send(
    method: string,
    key: string,
    body?: { data: string | Readable; length: number; contentType?: string },
  ): Promise<Response> {
    const url = this.url(key);
    const headers: Record<string, string> = { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
    if (body) {
      headers['content-length'] = String(body.length);
      if (body.contentType) headers['content-type'] = body.contentType;
    }
    const signed = await this.signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      headers,
    });
    const { host: _host, ...sendHeaders } = signed.headers;
    const response = await fetch(url, {
      method,
      headers: sendHeaders,
      ...(body
        ? {
            body: typeof body.data === 'string' ? body.data : (Readable.toWeb(body.data) as ReadableStream),
            duplex: 'half',
          }
        : {}),
    } as RequestInit);
    if (
      !response.ok &&
      !(method === 'HEAD' && response.status === 404) &&
      !(method === 'GET' && response.status === 404)
    ) {
      const text = method === 'HEAD' ? '' : await response.text().catch(() => '');
      throw new ObjectStoreError(`S3 ${method} ${key} answered ${response.status} ${text.slice(0, 300)}`);
    }
    return response;
  }

  async putText(key: string, text: string, contentType = 'text/plain; charset=utf-8'): Promise<void> {
    const response = await this.send('PUT', key, {
      data: text,
      length: Buffer.byteLength(text),
      contentType,
    });
    await response.arrayBuffer();
  }

  async putFile(key: string, file: string, contentType = 'text/plain; charset=utf-8'): Promise<void> {
    const { size } = await stat(file);
    const response = await this.send('PUT', key, { data: createReadStream(file), length: size, contentType });
    await response.arrayBuffer();
  }

  /** The object as a stream, or undefined when there is none. */
  async getStream(key: string): Promise<Readable | undefined> {
    const response = await this.send('GET', key);
    if (response.status === 404 || !response.body) {
      await response.arrayBuffer().catch(() => undefined);
      return undefined;
    }
    return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
  }

  async getText(key: string): Promise<string | undefined> {
    const response = await this.send('GET', key);
    if (response.status === 404) {
      await response.arrayBuffer().catch(() => undefined);
      return undefined;
    }
    return response.text();
  }

  async exists(key: string): Promise<boolean> {
    const response = await this.send('HEAD', key);
    return response.ok;
  }
}
