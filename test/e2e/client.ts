/** A small HTTP client for the public API and the sandbox, used by every e2e scenario. */
import { randomUUID } from 'node:crypto';
import { afterAll, expect } from 'vitest';
import type { AcceptedOrder, ErrorBody, OrderView, PlaceOrder } from '#client/index.ts';
import {
  type AuthenticatedInit,
  authenticatedFetch,
  type RequestAuthenticator,
} from '#shared/request-auth.ts';
import { assertConformance, recordResponse } from './conformance.ts';

// Every file that talks to the API through ApiClient checks, once its scenarios are done, that each answer it got is
// one the OpenAPI document describes (conformance.ts).
afterAll(() => assertConformance(expect.getState().testPath));

/** The shapes of the API, from the OpenAPI document (client/api-types.ts): no copy of its own. */
export type OrderBody = PlaceOrder;
export type { OrderView };

/** `POST /orders` answers 202 `AcceptedOrder`, 200 `OrderView` (with `Prefer: wait`) or an error. */
export type PlaceOrderAnswer = Pick<OrderView, 'trackingId' | 'status'> &
  Partial<Pick<AcceptedOrder, 'statusUrl'>> &
  Partial<ErrorBody>;

export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export function orderBody(overrides: Partial<OrderBody> = {}): OrderBody {
  return {
    customer: { id: `cust-${randomUUID().slice(0, 8)}`, email: 'ada@example.com', name: 'Ada' },
    items: [{ sku: 'espresso', quantity: 2 }],
    currency: 'EUR',
    paymentToken: 'tok_ok',
    ...overrides,
  };
}

/** A call of the client API: its answer is recorded for the conformance check against the OpenAPI document. */
async function call<T>(baseUrl: string, path: string, init: RequestInit): Promise<HttpResult<T>> {
  const result = await read<T>(await fetch(`${baseUrl}${path}`, init));
  recordResponse({
    method: init.method ?? 'GET',
    path: path.split('?')[0] ?? path,
    status: result.status,
    body: result.body,
    contentType: result.headers.get('content-type'),
  });
  return result;
}

async function read<T>(response: Response): Promise<HttpResult<T>> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

/**
 * `wait`: ask the server to hold the answer up to that many seconds until the order has ended (`Prefer: wait=N`,
 * RFC 7240; README, "API"). The answer is then the order itself (200) if it ended in time.
 */
export interface WaitOption {
  wait?: number;
}

const preferWait = ({ wait }: WaitOption): Record<string, string> =>
  wait === undefined ? {} : { prefer: `wait=${wait}` };

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly apiKey: string,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.apiKey}`, 'content-type': 'application/json', ...extra };
  }

  /** 202 `{trackingId, status, statusUrl}`, or with `wait` 200 and the order (`OrderView`) when it ended in time. */
  placeOrder(
    body: unknown,
    idempotencyKey: string = randomUUID(),
    extra: Record<string, string> = {},
    options: WaitOption = {},
  ) {
    return call<PlaceOrderAnswer>(this.baseUrl, '/orders', {
      method: 'POST',
      headers: this.headers({ 'idempotency-key': idempotencyKey, ...preferWait(options), ...extra }),
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  getOrder(trackingId: string, options: WaitOption = {}) {
    return call<OrderView>(this.baseUrl, `/orders/${encodeURIComponent(trackingId)}`, {
      headers: this.headers(preferWait(options)),
    });
  }

  /** Polls until the order is CONFIRMED or CANCELLED (or the predicate holds). */
  async waitForOrder(
    trackingId: string,
    done: (o: OrderView) => boolean = (o) => o.status !== 'PENDING',
    timeoutMs = 30_000,
  ): Promise<OrderView> {
    const deadline = Date.now() + timeoutMs;
    let last: OrderView | undefined;
    while (Date.now() < deadline) {
      const result = await this.getOrder(trackingId);
      if (result.status === 200) {
        last = result.body;
        if (done(last)) return last;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(
      `order ${trackingId} did not finish in ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`,
    );
  }

  request<T = unknown>(method: string, path: string, body?: unknown, extra: Record<string, string> = {}) {
    return call<T>(this.baseUrl, path, {
      method,
      headers: this.headers(extra),
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  }
}

export interface LedgerEntry {
  charge?: { id: string; status: string; amount: number; currency: string };
  refunds: unknown[];
  calls: number;
}

/** The sandbox provider's receiving side: where effects are counted. Its API takes SigV4-signed calls only. */
export class SandboxClient {
  constructor(
    readonly baseUrl: string,
    private readonly auth: RequestAuthenticator,
  ) {}

  private async call<T>(path: string, init: AuthenticatedInit = {}): Promise<HttpResult<T>> {
    return read<T>(await authenticatedFetch(this.auth, `${this.baseUrl}${path}`, init));
  }

  charge(idempotencyKey: string) {
    return this.call<LedgerEntry>(`/v1/charges/${encodeURIComponent(idempotencyKey)}`);
  }

  mailFor(orderId: string) {
    return this.call<{ messages: Array<{ id: string; to: string; subject: string; calls?: number }> }>(
      `/v1/mail?orderId=${encodeURIComponent(orderId)}`,
    );
  }

  ledger() {
    return this.call<{ charges: number; refunds: number; mails: number }>('/v1/ledger');
  }

  /** Every request that reached the sandbox since `since` (charges, look-ups, refunds, mails), oldest first. */
  calls(since: Date, kind?: 'CHARGE' | 'LOOKUP' | 'REFUND' | 'MAIL') {
    const query = new URLSearchParams({ since: since.toISOString(), ...(kind ? { kind } : {}) });
    return this.call<{ calls: Array<{ kind: string; key: string; at: string }> }>(`/v1/calls?${query}`);
  }

  setFaults(faults: Record<string, unknown>) {
    return this.call('/v1/faults', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(faults),
    });
  }
}
