/**
 * The thin edge between API Gateway (payload format 2.0) and the sandbox's routes: a normalised request in, a reply
 * out. Everything that can be wrong with the input becomes an `InvalidRequest` (400) here, never a 500.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type * as z from '#shared/zod.ts';
import { InvalidRequest } from './provider-errors.ts';

export interface SandboxRequest {
  method: string;
  /** Path without the stage prefix and without a trailing slash, e.g. `/v1/charges/abc`. */
  path: string;
  /** Header names lower-cased (HTTP headers are case-insensitive; API Gateway v2 already lower-cases them). */
  headers: Record<string, string>;
  query: Record<string, string>;
  body: string | undefined;
}

export interface Reply {
  statusCode: number;
  body: unknown;
  headers?: Record<string, string>;
}

export function toRequest(event: APIGatewayProxyEventV2): SandboxRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[name] = value;
  }
  const body =
    event.body === undefined || event.body === null
      ? undefined
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
  return {
    method: event.requestContext.http.method.toUpperCase(),
    path: routePath(event),
    headers,
    query,
    body,
  };
}

/** On a named stage `rawPath` starts with `/<stage>`; routes are written without it. */
function routePath(event: APIGatewayProxyEventV2): string {
  const stage = event.requestContext.stage;
  let path = event.rawPath || '/';
  if (stage && stage !== '$default' && (path === `/${stage}` || path.startsWith(`/${stage}/`))) {
    path = path.slice(stage.length + 1) || '/';
  }
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

export function toResult(reply: Reply): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: reply.statusCode,
    headers: { 'content-type': 'application/json', ...reply.headers },
    body: JSON.stringify(reply.body),
  };
}

// Printable ASCII without spaces: keys end up inside DynamoDB keys and log lines, so keep them unambiguous.
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function idempotencyKey(request: SandboxRequest): string {
  const key = request.headers['idempotency-key'];
  if (key === undefined || key.trim() === '') {
    throw new InvalidRequest('idempotency_key_missing', 'The Idempotency-Key header is required');
  }
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new InvalidRequest(
      'idempotency_key_invalid',
      'The Idempotency-Key header must be 1-255 printable ASCII characters without spaces',
    );
  }
  return key;
}

export function parseJsonBody<T>(request: SandboxRequest, schema: z.ZodType<T>): T {
  if (request.body === undefined || request.body.trim() === '') {
    throw new InvalidRequest('body_missing', 'A JSON request body is required');
  }
  let json: unknown;
  try {
    json = JSON.parse(request.body);
  } catch {
    throw new InvalidRequest('invalid_json', 'The request body is not valid JSON');
  }
  return validate(schema, json, 'body');
}

export function parseQuery<T>(request: SandboxRequest, schema: z.ZodType<T>): T {
  return validate(schema, request.query, 'query');
}

function validate<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return `${path === '' ? where : `${where}.${path}`}: ${issue.message}`;
  });
  throw new InvalidRequest('parameter_invalid', problems.join('; '));
}
