/**
 * What the client API promises that both the stack and the handlers must agree on.
 */

/** The route serving the client API's OpenAPI document (functions/api/openapi.ts), the one route without an API key. */
export const OPENAPI_ROUTE = '/openapi.json';

/**
 * The longest `Prefer: wait=N` (RFC 7240) the order routes honour, in seconds; a larger N is served as this. A
 * waiting request holds a Lambda execution environment (one unit of the account's concurrency) for the whole wait,
 * so the cap bounds what one client can tie up; 10 s covers a saga on a healthy provider (well under a second) and a
 * slow payment (the sandbox's slowest answer that still succeeds takes 1 s, a real provider a few), while anything
 * slower is better followed by polling or a webhook. The two functions' timeouts (lib/constructs/api.ts) are sized
 * from it, and they must stay under the HTTP API's 30 s integration limit.
 */
export const PREFER_WAIT_MAX_SECONDS = 10;

/**
 * Each client's default request limits (a token bucket: `rate` requests a second on average, at most `burst` at
 * once), unless `buzzer clients limits` gives it its own; stack settings `clientRateLimit` and `clientBurstLimit`.
 * Well under the stage's throttle (500/s, burst 1000), so a handful of busy clients cannot take the whole API.
 */
export const DEFAULT_CLIENT_RATE_LIMIT = 50;
export const DEFAULT_CLIENT_BURST_LIMIT = 100;
/** Requests a day per client in the REST flavour's `standard` usage plan (stack setting `clientDailyQuota`). */
export const DEFAULT_CLIENT_DAILY_QUOTA = 100_000;
/** The client API's flavours: `http` (API Gateway HTTP API, the default, cheaper) or `rest` (REST API + usage plans). */
export const API_FLAVOURS = ['http', 'rest'] as const;
export type ApiFlavour = (typeof API_FLAVOURS)[number];

/**
 * How `POST /orders` is served (`-c orderFlow=…`). `async`: accepted at once (202 and a tracking id), finished by the
 * saga behind the outbox and the bus. `sync`: placed within the request (functions/orders/place-order-sync.ts): stock,
 * payment and the customer's mail before the answer, 200 with the order CONFIRMED or CANCELLED; its outbox message is
 * the terminal `OrderConfirmed` / `OrderCancelled`, never `OrderPlaced`, so no saga starts for it. Case 1 of the
 * four-case experiment under bursts (issue 16, bench/README.md).
 */
export const ORDER_FLOWS = ['async', 'sync'] as const;
export type OrderFlow = (typeof ORDER_FLOWS)[number];
export const DEFAULT_ORDER_FLOW: OrderFlow = 'async';

/** A client's request limits: a token bucket of `burstLimit` requests refilled at `rateLimit` a second. */
export interface ClientLimits {
  rateLimit: number;
  burstLimit: number;
}

/** The largest limits a client may be given (API Gateway's account default is 10 000/s, burst 5 000). */
export const MAX_CLIENT_RATE_LIMIT = 10_000;
export const MAX_CLIENT_BURST_LIMIT = 5_000;
/** Fractions are allowed (0.5 is a request every 2 s), as in a usage plan, down to 1/100 of a request a second. */
export const MIN_CLIENT_RATE_LIMIT = 0.01;

/** What is wrong with `limits`, named as the caller calls them (CLI options, context keys), or undefined. */
export function clientLimitsProblem(
  { rateLimit, burstLimit }: ClientLimits,
  names: { rate: string; burst: string },
): string | undefined {
  if (
    !Number.isFinite(rateLimit) ||
    rateLimit < MIN_CLIENT_RATE_LIMIT ||
    rateLimit > MAX_CLIENT_RATE_LIMIT ||
    Math.round(rateLimit * 100) !== rateLimit * 100
  ) {
    return (
      `${names.rate} must be requests a second from ${MIN_CLIENT_RATE_LIMIT} to ${MAX_CLIENT_RATE_LIMIT} ` +
      `(at most 2 decimals), got ${rateLimit}`
    );
  }
  if (!Number.isInteger(burstLimit) || burstLimit < 1 || burstLimit > MAX_CLIENT_BURST_LIMIT) {
    return `${names.burst} must be a whole number of requests from 1 to ${MAX_CLIENT_BURST_LIMIT}, got ${burstLimit}`;
  }
  return undefined;
}
