import type {
  APIGatewayProxyEventV2WithLambdaAuthorizer,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { isTableBusy } from '#shared/dynamodb.ts';
import { beginInvocation, logger } from '#shared/logger.ts';
import type * as z from '#shared/zod.ts';

/** What the authorizer (`functions/clients/authorizer.ts`) puts into `requestContext.authorizer.lambda`. */
export interface AuthorizerContext {
  clientId?: string;
}

export type ApiEvent = APIGatewayProxyEventV2WithLambdaAuthorizer<AuthorizerContext>;
export type ApiResult = APIGatewayProxyStructuredResultV2;

export interface IssueDetail {
  path: string;
  message: string;
}

/** An error the client caused or must know about; `code` is stable, `message` is for humans. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: IssueDetail[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class InvalidRequest extends ApiError {
  override name = 'InvalidRequest';
  constructor(code: string, message: string, details?: IssueDetail[]) {
    super(400, code, message, details);
  }
}

export class Unauthenticated extends ApiError {
  override name = 'Unauthenticated';
  constructor() {
    super(401, 'unauthenticated', 'missing client identity');
  }
}

export class ResourceNotFound extends ApiError {
  override name = 'ResourceNotFound';
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`);
  }
}

export class PayloadTooLarge extends ApiError {
  override name = 'PayloadTooLarge';
  constructor(limitBytes: number) {
    super(413, 'payload_too_large', `request body exceeds ${limitBytes} bytes`);
  }
}

/** Seconds a client waits after a 503 for a busy table: DynamoDB's throttling and transaction conflicts clear in that time. */
export const BUSY_RETRY_AFTER_SECONDS = 1;

/** DynamoDB refused for load, not for the request: the client retries the same request (same Idempotency-Key). */
export class TemporarilyUnavailable extends ApiError {
  override name = 'TemporarilyUnavailable';
  constructor() {
    super(
      503,
      'temporarily_unavailable',
      'the service is busy; retry the same request after the Retry-After delay',
      undefined,
      { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) },
    );
  }
}

export const JSON_HEADERS = { 'content-type': 'application/json' };

export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): ApiResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

export function errorResponse(error: ApiError): ApiResult {
  const body = {
    error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) },
  };
  return jsonResponse(error.statusCode, body, error.headers);
}

/** `items[0].quantity` from zod's `['items', 0, 'quantity']`, so messages say where the problem is. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out === '' ? '(body)' : out;
}

export function validationError(error: z.ZodError, what = 'request body'): InvalidRequest {
  const details = error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  const summary = details.map((detail) => `${detail.path}: ${detail.message}`).join('; ');
  return new InvalidRequest('validation_failed', `invalid ${what}: ${summary}`, details);
}

/** HTTP API lower-cases header names; other callers (tests, proxies) may not, so look both ways. */
export function getHeader(event: Pick<ApiEvent, 'headers'>, name: string): string | undefined {
  const headers = event.headers ?? {};
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

export function requireClientId(event: ApiEvent): string {
  const clientId = event.requestContext.authorizer?.lambda?.clientId;
  if (typeof clientId !== 'string' || clientId === '') throw new Unauthenticated();
  return clientId;
}

const CORRELATION_ID = /^[A-Za-z0-9._:=-]{1,128}$/;

/** The caller's `x-correlation-id` when it is safe to log and store, else the API request id. */
export function correlationIdOf(event: ApiEvent): string {
  const supplied = getHeader(event, 'x-correlation-id');
  if (supplied !== undefined && CORRELATION_ID.test(supplied)) return supplied;
  return event.requestContext.requestId;
}

/** The raw request body as text, bounded by `limitBytes`. */
export function readBody(event: ApiEvent, limitBytes: number): string | undefined {
  if (event.body === undefined || event.body === null) return undefined;
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(text, 'utf8') > limitBytes) throw new PayloadTooLarge(limitBytes);
  return text;
}

export function parseJsonBody(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') {
    throw new InvalidRequest('invalid_json', 'request body is required (a JSON object)');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text around the fault, which may be a payment token or an address: neither the
    // answer nor the log may carry it, so both get the position only.
    const position = error instanceof Error ? /at position (\d+)/.exec(error.message)?.[1] : undefined;
    logger.info('request body is not valid JSON', {
      bodyBytes: Buffer.byteLength(text, 'utf8'),
      ...(position === undefined ? {} : { position: Number(position) }),
    });
    throw new InvalidRequest(
      'invalid_json',
      position === undefined
        ? 'request body is not valid JSON'
        : `request body is not valid JSON (at position ${position})`,
    );
  }
}

export type ApiRoute = (event: ApiEvent, correlationId: string) => Promise<ApiResult>;

/**
 * Wraps a route: one log scope per request with its correlation id, the id echoed in the response,
 * client errors mapped to their status, and anything unexpected logged and answered with an opaque 500.
 */
export function apiHandler(route: ApiRoute): (event: ApiEvent, context?: Context) => Promise<ApiResult> {
  return async (event, context) => {
    const correlationId = correlationIdOf(event);
    beginInvocation(context, correlationId);
    let result: ApiResult;
    try {
      result = await route(event, correlationId);
    } catch (error) {
      if (error instanceof ApiError) {
        logger.info('request rejected', {
          statusCode: error.statusCode,
          code: error.code,
          reason: error.message,
        });
        result = errorResponse(error);
      } else if (isTableBusy(error)) {
        logger.warn('request refused: table busy', { error });
        result = errorResponse(new TemporarilyUnavailable());
      } else {
        logger.error('request failed', { error });
        result = jsonResponse(500, { error: { code: 'internal_error', message: 'internal error' } });
      }
    }
    return { ...result, headers: { ...result.headers, 'x-correlation-id': correlationId } };
  };
}
