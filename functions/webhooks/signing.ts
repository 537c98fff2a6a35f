/**
 * Standard Webhooks 1.0 signing (https://www.standardwebhooks.com): a receiver verifies our deliveries with any
 * Standard Webhooks library, so we sign exactly as the spec says and nothing more.
 *
 * - signed content: `<webhook-id>.<webhook-timestamp>.<body>` (timestamp in whole seconds since the epoch);
 * - signature: `v1,<base64 HMAC-SHA256(secret bytes, signed content)>`;
 * - secrets: `whsec_<base64 of 24-64 random bytes>`;
 * - rotation: one `v1,…` per active secret, space-separated, so receivers holding the old or the new secret
 *   both accept the delivery while the rotation is in progress.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;
// The spec's bounds for the decoded key.
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const HEADER_TOKEN = /^[\x21-\x7e]{1,255}$/;

export interface SignPayloadInput {
  /** The message id; stays the same on every retry so receivers can deduplicate. */
  id: string;
  timestamp: Date;
  /** The exact bytes sent as the request body: signing a re-serialised object would break verification. */
  body: string;
  /** Active `whsec_…` secrets, newest first. */
  secrets: readonly string[];
}

export interface WebhookSignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export class InvalidWebhookSecret extends Error {
  override name = 'InvalidWebhookSecret';
}

export class InvalidWebhookMessage extends Error {
  override name = 'InvalidWebhookMessage';
}

export function signPayload(input: SignPayloadInput): WebhookSignatureHeaders {
  if (!HEADER_TOKEN.test(input.id)) {
    // It travels in a header and receivers sign what they received: whitespace would be trimmed on the way.
    throw new InvalidWebhookMessage('The webhook id must be 1-255 printable ASCII characters without spaces');
  }
  const millis = input.timestamp.getTime();
  if (Number.isNaN(millis)) throw new InvalidWebhookMessage('The webhook timestamp is not a valid date');
  if (input.secrets.length === 0)
    throw new InvalidWebhookSecret('At least one active secret is needed to sign');

  const timestamp = String(Math.floor(millis / 1000));
  const content = `${input.id}.${timestamp}.${input.body}`;
  const signatures = [...new Set(input.secrets)].map(
    (secret) => `v1,${createHmac('sha256', secretKey(secret)).update(content, 'utf8').digest('base64')}`,
  );
  return {
    'webhook-id': input.id,
    'webhook-timestamp': timestamp,
    'webhook-signature': signatures.join(' '),
  };
}

/** A new `whsec_` secret of 32 random bytes (within the spec's 24-64). */
export function generateSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64')}`;
}

function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) {
    throw new InvalidWebhookSecret(`A webhook secret must start with ${SECRET_PREFIX}`);
  }
  const encoded = secret.slice(SECRET_PREFIX.length);
  // Buffer.from(…, 'base64') skips characters it does not know; check first so a typo is not a silently shorter key.
  if (!BASE64.test(encoded)) throw new InvalidWebhookSecret('A webhook secret must be base64 after whsec_');
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw new InvalidWebhookSecret(
      `A webhook secret must decode to ${MIN_SECRET_BYTES}-${MAX_SECRET_BYTES} bytes, not ${key.length}`,
    );
  }
  return key;
}
