/**
 * Buzzer's typed client, for client developers (and the e2e suite, the demo and the chaos run): the routes and shapes
 * of the OpenAPI document (`openapi.json`, types in `api-types.ts`, both from `npm run openapi`) over openapi-fetch,
 * the 202 → poll flow (`waitForTerminal`) and webhook verification (`verifyWebhook`, Standard Webhooks).
 *
 * ```ts
 * const buzzer = createBuzzerClient(process.env.API!, process.env.KEY!);
 * const { data, response } = await buzzer.POST('/orders', {
 *   params: { header: { 'Idempotency-Key': crypto.randomUUID() } },
 *   body: { customer: { id: 'c-1', email: 'ada@example.com' }, items: [{ sku: 'espresso', quantity: 2 }],
 *           currency: 'EUR', paymentToken: 'tok_ok' },
 * });
 * if (response.status === 202) console.log((await buzzer.waitForTerminal(data.trackingId)).status);
 * ```
 */
import createClient, { type Client } from 'openapi-fetch';
import { Webhook } from 'standardwebhooks';
import type { components, paths } from './api-types.ts';

export type { components, paths };
export type OrderView = components['schemas']['OrderView'];
export type PlaceOrder = components['schemas']['PlaceOrder'];
export type AcceptedOrder = components['schemas']['AcceptedOrder'];
export type OrderStatus = OrderView['status'];
export type ErrorBody = components['schemas']['Error'];
export type WebhookPayload = components['schemas']['WebhookPayload'];
export type CreatedWebhook = components['schemas']['CreatedWebhook'];
export type WebhookList = components['schemas']['WebhookList'];
export type RotatedSecret = components['schemas']['RotatedSecret'];
export type DeliveriesPage = components['schemas']['DeliveriesPage'];

export interface WaitOptions {
  /** Give up after this long (a `WaitTimeout` holding the order as last seen). @default 30 000 */
  timeoutMs?: number;
  /** The first pause between polls; it doubles up to `maxDelayMs`. @default 250 */
  initialDelayMs?: number;
  /** @default 5 000 */
  maxDelayMs?: number;
  /**
   * Ask the server to hold each poll up to this many seconds (`Prefer: wait=N`, capped at 10 by the server), so an
   * order that ends is seen at once instead of at the next poll. @default no wait: plain polling
   */
  waitSeconds?: number;
  /** Called with the order each time a poll reads it (e.g. to show its timeline as it grows). */
  onProgress?: (order: OrderView) => void;
  /** For tests. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** The order did not end within the wait; `last` is the order as last seen (undefined if never read). */
export class WaitTimeout extends Error {
  override name = 'WaitTimeout';
  constructor(
    readonly trackingId: string,
    readonly last: OrderView | undefined,
  ) {
    super(`order ${trackingId} did not end in time; last seen ${last ? last.status : 'never'}`);
  }
}

/** The API refused the poll for good (404: no such order for this key; another 4xx: a bug worth seeing). */
export class OrderLookupFailed extends Error {
  override name = 'OrderLookupFailed';
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`GET /orders answered ${status}: ${JSON.stringify(body)}`);
  }
}

export type BuzzerClient = Client<paths> & {
  /** Polls `GET /orders/{trackingId}` until the order is `CONFIRMED` or `CANCELLED`. */
  waitForTerminal(trackingId: string, options?: WaitOptions): Promise<OrderView>;
};

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Seconds of a `Retry-After` header (RFC 9110: whole seconds, or an HTTP date), as milliseconds. */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Socket errors a request can meet before any answer came back, worth one more try: the server closed a kept-alive
 * connection just as the request went out on it (the keep-alive race every HTTP client meets sooner or later), or
 * refused the connection while it restarts.
 */
const TRANSIENT_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'UND_ERR_SOCKET']);

/** fetch rejects with a TypeError ("fetch failed") whose cause names the socket error. */
export function isTransientNetworkError(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && TRANSIENT_SOCKET_ERRORS.has(code);
}

/**
 * A request that may be sent again without doing twice what it asks: a read, or a write under an `Idempotency-Key`
 * (the server answers a repeat with the first answer). A reset can come after the server acted, so a plain `DELETE`
 * is not retried: its repeat would answer 404 for a delete that worked.
 */
function isRepeatable(request: Request): boolean {
  return ['GET', 'HEAD', 'OPTIONS'].includes(request.method) || request.headers.has('idempotency-key');
}

export interface RetryOptions {
  /** Tries in all, the first included. @default 3 */
  attempts?: number;
  /** The pause after the first failed try; it grows by as much each time. @default 100 */
  delayMs?: number;
  /** For tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** `send`, tried again after a transient socket error when the request is repeatable (`isRepeatable`). */
export function retryingFetch(
  send: (request: Request) => Promise<Response>,
  options: RetryOptions = {},
): (request: Request) => Promise<Response> {
  const attempts = options.attempts ?? 3;
  const delayMs = options.delayMs ?? 100;
  const sleep = options.sleep ?? sleepFor;
  return async (request) => {
    if (!isRepeatable(request)) return send(request);
    for (let attempt = 1; ; attempt++) {
      // Each try but the last sends a copy: a body can be read only once.
      const last = attempt >= attempts;
      try {
        return await send(last ? request : request.clone());
      } catch (error) {
        if (last || !isTransientNetworkError(error)) throw error;
        await sleep(delayMs * attempt);
      }
    }
  };
}

/**
 * A client of the Buzzer API at `baseUrl` (the `ApiUrl` output; on the REST flavour it ends in `/api`) with `apiKey`
 * as its bearer token. Every route of the document is a typed `GET`/`POST`/`DELETE` call of openapi-fetch; reads and
 * writes under an `Idempotency-Key` are tried again after a transient socket error (`retryingFetch`, `options.retry`).
 */
export function createBuzzerClient(
  baseUrl: string,
  apiKey: string,
  options: { fetch?: (request: Request) => Promise<Response>; retry?: RetryOptions } = {},
): BuzzerClient {
  const send = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const client = createClient<paths>({
    baseUrl: baseUrl.replace(/\/+$/, ''),
    headers: { authorization: `Bearer ${apiKey}` },
    fetch: retryingFetch(send, options.retry),
  });
  return Object.assign(client, {
    waitForTerminal: (trackingId: string, wait: WaitOptions = {}) =>
      waitForTerminal(client, trackingId, wait),
  });
}

/**
 * Polls until the order has ended, backing off from `initialDelayMs` (doubling to `maxDelayMs`). A 429 or 503 waits
 * what its `Retry-After` says (at least), a 5xx backs off and tries again, a 404 or another 4xx stops at once; past
 * `timeoutMs` it throws `WaitTimeout` (no sleep runs past the deadline).
 */
export async function waitForTerminal(
  client: Client<paths>,
  trackingId: string,
  options: WaitOptions = {},
): Promise<OrderView> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? sleepFor;
  const deadline = now() + (options.timeoutMs ?? 30_000);
  const maxDelay = options.maxDelayMs ?? 5_000;
  let delay = options.initialDelayMs ?? 250;
  let last: OrderView | undefined;
  for (;;) {
    const remainingS = Math.floor((deadline - now()) / 1000);
    const wait = options.waitSeconds === undefined ? undefined : Math.min(options.waitSeconds, remainingS);
    const { data, error, response } = await client.GET('/orders/{trackingId}', {
      params: {
        path: { trackingId },
        ...(wait !== undefined && wait > 0 ? { header: { Prefer: `wait=${wait}` } } : {}),
      },
    });
    let pause = delay;
    if (data) {
      last = data;
      options.onProgress?.(data);
      if (data.status !== 'PENDING') return data;
    } else if (response.status === 429 || response.status === 503) {
      pause = Math.max(delay, retryAfterMs(response.headers.get('retry-after'), now()) ?? delay);
    } else if (response.status < 500) {
      throw new OrderLookupFailed(response.status, error);
    }
    const remaining = deadline - now();
    if (remaining <= 0 || pause > remaining) throw new WaitTimeout(trackingId, last);
    await sleep(pause);
    delay = Math.min(delay * 2, maxDelay);
  }
}

/**
 * Verifies a delivery's Standard Webhooks signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the
 * endpoint's `whsec_…` secret over the raw body, as received (not re-serialized), and answers its payload. Throws
 * `WebhookVerificationError` when a header is missing, the signature does not match (any of the space-separated
 * ones, so both secrets of a rotation verify) or the timestamp is more than 5 minutes away (a replay).
 */
export function verifyWebhook(
  secret: string,
  headers: Headers | Record<string, string | undefined>,
  body: string | Buffer,
): WebhookPayload {
  const plain: Record<string, string> = {};
  const entries = headers instanceof Headers ? headers.entries() : Object.entries(headers);
  for (const [name, value] of entries) if (value !== undefined) plain[name.toLowerCase()] = value;
  return new Webhook(secret).verify(body, plain) as WebhookPayload;
}

export { WebhookVerificationError } from 'standardwebhooks';
