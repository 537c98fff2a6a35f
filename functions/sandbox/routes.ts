/**
 * The sandbox API's routes (see docs/architecture.md, "Sandbox provider HTTP contract"): one Lambda behind
 * `ANY /{proxy+}`, so it routes by method and path itself. The HTTP edge (correlation id, error mapper, body and
 * query parsing) is the shared one (`functions/shared/middleware/`), in the provider's error dialect.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { parseBody, validatePart } from '#shared/middleware/request.ts';
import type * as z from '#shared/zod.ts';
import { createCharge, getCharge, listChargesOfOrder } from './charges.ts';
import type { SandboxContext } from './context.ts';
import { readFaults, writeFaults } from './faults.ts';
import { getLedger, listCalls } from './ledger.ts';
import { listMail, sendMail } from './mail-sink.ts';
import { InvalidRequest, MethodNotAllowed, RouteNotFound, SANDBOX_ERRORS } from './provider-errors.ts';
import { createRefund } from './refunds.ts';
import {
  CallsQuery,
  ChargeQuery,
  ChargeRequest,
  FaultsInput,
  MailQuery,
  MailRequest,
  RefundRequest,
} from './schemas.ts';

/** A mail's text is at most 100 000 characters; escaped as JSON that stays below 1 MiB. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface SandboxRequest {
  method: string;
  /** Path without the stage prefix and without a trailing slash, e.g. `/v1/charges/abc`. */
  path: string;
  /** Header names lower-cased (HTTP headers are case-insensitive; API Gateway v2 already lower-cases them). */
  headers: Record<string, string>;
  event: APIGatewayProxyEventV2;
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
  return { method: event.requestContext.http.method.toUpperCase(), path: routePath(event), headers, event };
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

const body = <T>(request: SandboxRequest, schema: z.ZodType<T>): Promise<T> =>
  parseBody(request.event, { schema, limitBytes: MAX_BODY_BYTES }, SANDBOX_ERRORS);

const query = <T>(request: SandboxRequest, schema: z.ZodType<T>): Promise<T> =>
  validatePart(schema, request.event.queryStringParameters ?? {}, 'query', SANDBOX_ERRORS);

interface Route {
  method: 'GET' | 'POST' | 'PUT';
  /** Anchored; a named group `key` captures a path parameter. */
  path: RegExp;
  handle(ctx: SandboxContext, request: SandboxRequest, key: string): Promise<Reply>;
}

const ROUTES: readonly Route[] = [
  {
    method: 'POST',
    path: /^\/v1\/charges$/,
    handle: async (ctx, request) =>
      createCharge(ctx, idempotencyKey(request), await body(request, ChargeRequest)),
  },
  {
    method: 'GET',
    path: /^\/v1\/charges$/,
    handle: async (ctx, request) => listChargesOfOrder(ctx, (await query(request, ChargeQuery)).orderId),
  },
  {
    method: 'GET',
    path: /^\/v1\/charges\/(?<key>[^/]+)$/,
    handle: (ctx, _request, key) => getCharge(ctx, key),
  },
  {
    method: 'POST',
    path: /^\/v1\/refunds$/,
    handle: async (ctx, request) =>
      createRefund(ctx, idempotencyKey(request), await body(request, RefundRequest)),
  },
  {
    method: 'POST',
    path: /^\/v1\/mail$/,
    handle: async (ctx, request) => sendMail(ctx, idempotencyKey(request), await body(request, MailRequest)),
  },
  {
    method: 'GET',
    path: /^\/v1\/mail$/,
    handle: async (ctx, request) => listMail(ctx, await query(request, MailQuery)),
  },
  {
    method: 'GET',
    path: /^\/v1\/ledger$/,
    handle: (ctx) => getLedger(ctx),
  },
  {
    method: 'GET',
    path: /^\/v1\/calls$/,
    handle: async (ctx, request) => listCalls(ctx, await query(request, CallsQuery)),
  },
  {
    method: 'GET',
    path: /^\/v1\/faults$/,
    handle: async (ctx) => ({ statusCode: 200, body: await readFaults(ctx) }),
  },
  {
    method: 'PUT',
    path: /^\/v1\/faults$/,
    handle: async (ctx, request) => ({
      statusCode: 200,
      body: await writeFaults(ctx, await body(request, FaultsInput)),
    }),
  },
];

export async function route(ctx: SandboxContext, request: SandboxRequest): Promise<Reply> {
  const matching = ROUTES.map((candidate) => ({
    candidate,
    match: candidate.path.exec(request.path),
  })).filter((entry) => entry.match !== null);
  const found = matching.find((entry) => entry.candidate.method === request.method);
  if (!found) {
    if (matching.length === 0) throw new RouteNotFound(request.method, request.path);
    throw new MethodNotAllowed(
      request.method,
      request.path,
      matching.map((entry) => entry.candidate.method),
    );
  }
  return found.candidate.handle(ctx, request, decodeKey(found.match?.groups?.key));
}

function decodeKey(raw: string | undefined): string {
  if (raw === undefined) return '';
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidRequest('path_invalid', 'The path parameter is not valid percent-encoding');
  }
}
