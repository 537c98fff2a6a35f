import { createHash } from 'node:crypto';
import * as z from '#shared/zod.ts';

/** `Idempotency-Key`: 1 to 255 printable ASCII characters (the IETF draft and Stripe allow the same). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7E]{1,255}$/;

/** How long a key protects against a duplicate order. Clients retry within minutes, not days. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

/** JSON with object keys sorted at every level, so the same request hashes the same whatever its key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, entry]) => entry !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${canonicalJson(entry)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function requestHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

export const idempotencyRecordSchema = z.object({
  requestHash: z.string(),
  orderId: z.string(),
  expiresAt: z.number().int(),
});
export type IdempotencyRecord = z.infer<typeof idempotencyRecordSchema>;
