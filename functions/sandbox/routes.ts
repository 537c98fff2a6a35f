/** The sandbox API's routes (see docs/architecture.md, "Sandbox provider HTTP contract"). */
import { createCharge, getCharge, listChargesOfOrder } from './charges.ts';
import type { SandboxContext } from './context.ts';
import { readFaults, writeFaults } from './faults.ts';
import { idempotencyKey, parseJsonBody, parseQuery, type Reply, type SandboxRequest } from './http.ts';
import { getLedger } from './ledger.ts';
import { listMail, sendMail } from './mail-sink.ts';
import { InvalidRequest, MethodNotAllowed, RouteNotFound } from './provider-errors.ts';
import { createRefund } from './refunds.ts';
import { ChargeQuery, ChargeRequest, FaultsInput, MailQuery, MailRequest, RefundRequest } from './schemas.ts';

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
    handle: (ctx, request) =>
      createCharge(ctx, idempotencyKey(request), parseJsonBody(request, ChargeRequest)),
  },
  {
    method: 'GET',
    path: /^\/v1\/charges$/,
    handle: (ctx, request) => listChargesOfOrder(ctx, parseQuery(request, ChargeQuery).orderId),
  },
  {
    method: 'GET',
    path: /^\/v1\/charges\/(?<key>[^/]+)$/,
    handle: (ctx, _request, key) => getCharge(ctx, key),
  },
  {
    method: 'POST',
    path: /^\/v1\/refunds$/,
    handle: (ctx, request) =>
      createRefund(ctx, idempotencyKey(request), parseJsonBody(request, RefundRequest)),
  },
  {
    method: 'POST',
    path: /^\/v1\/mail$/,
    handle: (ctx, request) => sendMail(ctx, idempotencyKey(request), parseJsonBody(request, MailRequest)),
  },
  {
    method: 'GET',
    path: /^\/v1\/mail$/,
    handle: (ctx, request) => listMail(ctx, parseQuery(request, MailQuery)),
  },
  {
    method: 'GET',
    path: /^\/v1\/ledger$/,
    handle: (ctx) => getLedger(ctx),
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
      body: await writeFaults(ctx, parseJsonBody(request, FaultsInput)),
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
