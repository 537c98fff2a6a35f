import { STEP_ERRORS } from '#contracts/saga.ts';
import { ApiError, InvalidRequest, ResourceNotFound } from '#shared/http.ts';

/**
 * Domain error → HTTP answer, in one place for every client API route. Keyed by the error's `name` (each domain
 * error class sets one; the saga's are contracts), so the HTTP edge maps them without importing the domain modules
 * into every bundle. A domain error missing here is an opaque 500, as anything unexpected.
 */
export const DOMAIN_ANSWERS: Readonly<Record<string, (error: Error) => ApiError>> = {
  IdempotencyKeyReused: (error) => new ApiError(422, 'idempotency_key_reused', error.message),
  IdempotentRequestInProgress: (error) =>
    new ApiError(409, 'request_in_progress', error.message, undefined, { 'retry-after': '1' }),
  [STEP_ERRORS.PriceUnavailable]: (error) => new ApiError(422, 'price_unavailable', error.message),
  [STEP_ERRORS.OrderLimitExceeded]: (error) => new ApiError(422, 'order_limit_exceeded', error.message),
  WebhookLimitReached: (error) => new ApiError(409, 'webhook_limit_reached', error.message),
  // Another client's endpoint has a different key, so it is "not found" too: ids cannot be probed.
  WebhookNotFound: () => new ResourceNotFound('webhook'),
  InvalidCursor: (error) => new InvalidRequest('invalid_cursor', error.message),
  // Many writes of one client at once kept conflicting (e.g. on its webhook quota): nothing was stored, try again.
  [STEP_ERRORS.ConcurrentModification]: () =>
    new ApiError(503, 'try_again', 'too many concurrent registrations; try again', undefined, {
      'retry-after': '1',
    }),
};
