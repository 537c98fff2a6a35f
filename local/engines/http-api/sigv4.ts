import { createHash, timingSafeEqual } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { GatewayRequest } from './events.ts';

/**
 * Verifies the SigV4 signature of a request to an AWS_IAM route, as API Gateway does before any IAM policy is read:
 * the credential must be one the local account knows (the credentials the runtime gives its functions), the scope must
 * name this region and `execute-api`, the time must be within 15 minutes, and the signature recomputed over the
 * signed headers, path, query and body must match. IAM policies are not evaluated locally: a known, valid signature
 * is allowed.
 */

export interface IamCredential {
  accessKeyId: string;
  secretAccessKey: string;
}

export type SigV4Verdict = { ok: true; accessKeyId: string } | { ok: false; reason: string };

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;._-]+),\s*Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
/** API Gateway refuses a signature more than 15 minutes off its clock. */
const MAX_SKEW_MS = 15 * 60 * 1000;
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export interface VerifyOptions {
  credentials: readonly IamCredential[];
  region: string;
  /** @default new Date() */
  now?: Date;
}

function refuse(reason: string): SigV4Verdict {
  return { ok: false, reason };
}

function parseAmzDate(value: string): Date | undefined {
  const parts = AMZ_DATE.exec(value);
  if (!parts) return undefined;
  const [, year, month, day, hour, minute, second] = parts.map(Number) as number[];
  const date = new Date(Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function queryOf(rawQueryString: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return query;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export async function verifySigV4(request: GatewayRequest, options: VerifyOptions): Promise<SigV4Verdict> {
  const authorization = request.headers.authorization;
  if (authorization?.length !== 1 || !authorization[0]) return refuse('no Authorization header');
  const parts = AUTHORIZATION.exec(authorization[0]);
  if (!parts) return refuse('the Authorization header is not AWS4-HMAC-SHA256');
  const [, accessKeyId = '', scopeDate, region, service, signedHeaderList = '', signature = ''] = parts;
  const credential = options.credentials.find((known) => known.accessKeyId === accessKeyId);
  if (!credential) return refuse(`unknown access key ${accessKeyId}`);
  if (service !== 'execute-api') return refuse(`signed for service ${service}, not execute-api`);
  if (region !== options.region) return refuse(`signed for region ${region}, not ${options.region}`);

  const amzDate = request.headers['x-amz-date']?.[0] ?? '';
  const signedAt = parseAmzDate(amzDate);
  if (!signedAt || amzDate.slice(0, 8) !== scopeDate) return refuse('missing or inconsistent X-Amz-Date');
  const now = options.now ?? new Date();
  if (Math.abs(now.getTime() - signedAt.getTime()) > MAX_SKEW_MS) return refuse('signature expired');

  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) {
    return refuse('host and x-amz-date must be signed');
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const values = request.headers[name];
    if (!values) return refuse(`signed header ${name} is missing`);
    headers[name] = values.join(',');
  }
  const contentHash = headers['x-amz-content-sha256'];
  if (
    contentHash !== undefined &&
    contentHash !== UNSIGNED_PAYLOAD &&
    !sameText(contentHash, createHash('sha256').update(request.body).digest('hex'))
  ) {
    return refuse('the body does not match X-Amz-Content-Sha256');
  }

  const signer = new SignatureV4({
    service: 'execute-api',
    region: options.region,
    credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey },
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
  });
  const host = headers.host ?? '';
  const expected = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: host.replace(/:\d+$/, ''),
      path: request.rawPath,
      query: queryOf(request.rawQueryString),
      headers,
      ...(request.body.length > 0 ? { body: request.body } : {}),
    },
    { signingDate: signedAt },
  );
  const expectedSignature = /Signature=([0-9a-f]{64})$/.exec(expected.headers.authorization ?? '')?.[1] ?? '';
  if (!sameText(expectedSignature, signature)) return refuse('signature mismatch');
  return { ok: true, accessKeyId };
}
