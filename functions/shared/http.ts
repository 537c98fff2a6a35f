import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithLambdaAuthorizer,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';
import * as z from '#shared/zod.ts';

/**
 * What the authorizer (`functions/clients/authorizer.ts`) puts into `requestContext.authorizer.lambda`: the client
 * and its request limits (`functions/shared/middleware/rate-limit.ts`). A REST API passes context values as strings.
 */
export interface AuthorizerContext {
  clientId?: string;
  rateLimit?: number | string;
  burstLimit?: number | string;
}

export type ApiEvent = APIGatewayProxyEventV2WithLambdaAuthorizer<AuthorizerContext>;
/** Any HTTP API (payload 2.0) request: the client API's (with the authorizer's context) or the sandbox's (IAM). */
export type HttpEvent = APIGatewayProxyEventV2 | ApiEvent;
export type ApiResult = APIGatewayProxyStructuredResultV2;

/** One problem of a `validation_failed` request: where (`items[0].quantity`, `(body)`) and what. */
export const issueDetailSchema = z.object({ path: z.string(), message: z.string() });
export type IssueDetail = z.infer<typeof issueDetailSchema>;

/** The body of every error the client API's handlers answer (`ApiError.toBody`), described once for the OpenAPI document. */
export const errorBodySchema = z.object({
  error: z.object({
    /** Stable, for code to branch on (`validation_failed`, `not_found`, `rate_limited`, ...). */
    code: z.string(),
    /** For humans; never echoes the request. */
    message: z.string(),
    details: z.array(issueDetailSchema).optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/**
 * An error the client caused or must know about; `code` is stable, `message` is for humans. The HTTP edge's error
 * mapper (`functions/shared/middleware/errors.ts`) answers every one of them with its status, headers and `toBody()`;
 * an API with another error dialect (the sandbox provider's Stripe-like bodies) overrides `toBody`.
 */
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

  toBody(): unknown {
    const body: ErrorBody = {
      error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) },
    };
    return body;
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
  return jsonResponse(error.statusCode, error.toBody(), error.headers);
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
export function getHeader(event: Pick<HttpEvent, 'headers'>, name: string): string | undefined {
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
export function correlationIdOf(event: HttpEvent): string {
  const supplied = getHeader(event, 'x-correlation-id');
  if (supplied !== undefined && CORRELATION_ID.test(supplied)) return supplied;
  return event.requestContext.requestId;
}
