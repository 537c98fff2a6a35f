/**
 * The e2e suite's client of the public API: the typed client every client developer gets (`createBuzzerClient`,
 * openapi-fetch over the OpenAPI document), with a thin layer for the scenarios that send what a typed call cannot
 * (bodies that are not JSON, hostile paths, extra headers), and the sandbox's client.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, expect } from 'vitest';
import {
  type AcceptedOrder,
  type BuzzerClient,
  createBuzzerClient,
  type ErrorBody,
  type OrderView,
  type PlaceOrder,
  retryingFetch,
} from '#client/index.ts';
import {
  type AuthenticatedInit,
  authenticatedFetch,
  type RequestAuthenticator,
} from '#shared/request-auth.ts';
import { assertConformance, conformanceRecorder } from './conformance.ts';

// Every file that talks to the API through ApiClient checks, once its scenarios are done, that each answer it got is
// one the OpenAPI document describes (conformance.ts). Only inside Vitest: scripts/console-screenshot.ts uses these
// clients too, and Vitest's hooks throw outside a test file.
if (process.env.VITEST) afterAll(() => assertConformance(expect.getState().testPath));

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

/** The body as given when it is a string (malformed JSON on purpose), else its JSON. */
const asSent = (body: unknown) => (typeof body === 'string' ? body : JSON.stringify(body));

/** Any answer as `{status, headers, body}`: the parsed JSON, the text when it is not JSON, undefined when empty. */
async function read<T>(response: Response): Promise<HttpResult<T>> {
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: parseBody(text) as T };
}

function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** An openapi-fetch answer read as text (so a non-JSON error page is kept, not thrown on), as an `HttpResult`. */
async function answerOf<T>(
  call: Promise<{ data?: unknown; error?: unknown; response: Response }>,
): Promise<HttpResult<T>> {
  const { data, error, response } = await call;
  const text = (data ?? error) as string | undefined;
  return { status: response.status, headers: response.headers, body: parseBody(text ?? '') as T };
}

/**
 * `wait`: ask the server to hold the answer up to that many seconds until the order has ended (`Prefer: wait=N`,
 * RFC 7240; README, "API"). The answer is then the order itself (200) if it ended in time.
 */
export interface WaitOption {
  wait?: number;
}

export class ApiClient {
  /**
   * The typed client (client/index.ts) this one is built on: scenarios call its routes directly where they send what
   * the document describes. Every answer it gets is recorded for the conformance check (conformance.ts).
   */
  readonly api: BuzzerClient;

  constructor(
    readonly baseUrl: string,
    readonly apiKey: string,
  ) {
    this.api = createBuzzerClient(baseUrl, apiKey);
    this.api.use(conformanceRecorder(baseUrl));
  }

  /** 202 `{trackingId, status, statusUrl}`, or with `wait` 200 and the order (`OrderView`) when it ended in time. */
  placeOrder(
    body: unknown,
    idempotencyKey: string = randomUUID(),
    extra: Record<string, string> = {},
    options: WaitOption = {},
  ) {
    return answerOf<PlaceOrderAnswer>(
      this.api.POST('/orders', {
        params: {
          header: {
            'Idempotency-Key': idempotencyKey,
            ...(options.wait === undefined ? {} : { Prefer: `wait=${options.wait}` }),
            // Last, so a scenario's own header (another Prefer) is the one sent.
            ...extra,
          },
        },
        // Scenarios send bodies the schema refuses (that is what they test): the typed body is the usual case.
        body: body as PlaceOrder,
        bodySerializer: asSent,
        parseAs: 'text',
      }),
    );
  }

  getOrder(trackingId: string, options: WaitOption = {}) {
    return answerOf<OrderView>(
      this.api.GET('/orders/{trackingId}', {
        params: {
          path: { trackingId },
          ...(options.wait === undefined ? {} : { header: { Prefer: `wait=${options.wait}` } }),
        },
        parseAs: 'text',
      }),
    );
  }

  /**
   * Polls until the order is CONFIRMED or CANCELLED (or the predicate holds): at once, 100 ms later, then a quarter
   * longer apart each time up to 500 ms. A saga that ends within a second is seen as soon as with a steady 150 ms;
   * an order that waits on purpose (a hold, a slow provider, a restart) costs two reads a second, not seven: each
   * read is a Lambda invocation and a DynamoDB request on the runtime's two cores, which a dozen orders polled at
   * once for a minute turned into a core of their own.
   */
  async waitForOrder(
    trackingId: string,
    done: (o: OrderView) => boolean = (o) => o.status !== 'PENDING',
    timeoutMs = 30_000,
  ): Promise<OrderView> {
    const deadline = Date.now() + timeoutMs;
    let last: OrderView | undefined;
    let gap = 100;
    while (Date.now() < deadline) {
      const result = await this.getOrder(trackingId);
      if (result.status === 200) {
        last = result.body;
        if (done(last)) return last;
      }
      await new Promise((r) => setTimeout(r, gap));
      gap = Math.min(gap * 1.25, 500);
    }
    throw new Error(
      `order ${trackingId} did not finish in ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`,
    );
  }

  /**
   * Any method on any path (a query string included, sent as written), through the typed client's transport: for
   * the scenarios that probe routes with what the document does not allow.
   */
  request<T = unknown>(method: string, path: string, body?: unknown, extra: Record<string, string> = {}) {
    type AnyRoute = Parameters<BuzzerClient['request']>;
    return answerOf<T>(
      this.api.request(
        method as AnyRoute[0],
        path as AnyRoute[1],
        {
          headers: extra,
          ...(body === undefined ? {} : { body: body as never, bodySerializer: asSent }),
          parseAs: 'text',
        } as never,
      ),
    );
  }
}

export interface LedgerEntry {
  charge?: { id: string; status: string; amount: number; currency: string };
  refunds: unknown[];
  calls: number;
}

/** The sandbox provider's receiving side: where effects are counted. Its API takes SigV4-signed calls only. */
export class SandboxClient {
  /** Its reads are tried again after a reset connection, as the typed client's are. */
  private readonly send = retryingFetch((request) => fetch(request));

  constructor(
    readonly baseUrl: string,
    private readonly auth: RequestAuthenticator,
  ) {}

  private async call<T>(path: string, init: AuthenticatedInit = {}): Promise<HttpResult<T>> {
    return read<T>(await authenticatedFetch(this.auth, `${this.baseUrl}${path}`, init, this.send));
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
