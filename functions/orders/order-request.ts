/** What both order-placing routes (`accept-order.ts`, `place-order-sync.ts`) read from a request besides its body. */
import { type ApiEvent, getHeader, InvalidRequest } from '#shared/http.ts';
import { IDEMPOTENCY_KEY_PATTERN } from './idempotency.ts';

/** An order is a few hundred bytes; 16 KB leaves room for 20 lines and rejects abuse before parsing. */
export const MAX_ORDER_BODY_BYTES = 16 * 1024;

export function idempotencyKeyOf(event: ApiEvent): string {
  const key = getHeader(event, 'idempotency-key');
  if (key === undefined || key === '') {
    throw new InvalidRequest(
      'idempotency_key_required',
      'header Idempotency-Key is required (1-255 printable ASCII)',
    );
  }
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new InvalidRequest(
      'invalid_idempotency_key',
      'header Idempotency-Key must be 1-255 printable ASCII characters',
    );
  }
  return key;
}
