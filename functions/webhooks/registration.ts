import { ORDER_EVENT_TYPES } from '#functions/orders/events.ts';
import { logger } from '#shared/logger.ts';
import * as z from '#shared/zod.ts';
import { type AssertPublicUrlOptions, assertPublicUrl, MAX_URL_LENGTH, UnsafeWebhookUrl } from './ssrf.ts';

export const WEBHOOK_EVENT_TYPES = ORDER_EVENT_TYPES;

export class InvalidWebhookUrl extends Error {
  override name = 'InvalidWebhookUrl';
}

export type WebhookUrlOptions = AssertPublicUrlOptions;

/** A name that does not resolve within this long is refused: the API call must end well inside its own timeout. */
export const REGISTRATION_RESOLVE_TIMEOUT_MS = 5_000;

/**
 * The one place a webhook URL is judged at registration, with the same SSRF policy the dispatcher
 * applies before every delivery (https on 443, no credentials, no local names, every resolved address
 * public). Checking here too gives the client its error now instead of silently failing deliveries
 * later; the dispatcher still re-checks, because DNS can change after registration.
 */
export async function validateWebhookUrl(raw: string, options: WebhookUrlOptions = {}): Promise<string> {
  if (raw.includes('#')) throw new InvalidWebhookUrl('must not contain a fragment');
  try {
    const { url } = await assertPublicUrl(raw, {
      ...options,
      signal: options.signal ?? AbortSignal.timeout(REGISTRATION_RESOLVE_TIMEOUT_MS),
    });
    return url.toString();
  } catch (error) {
    if (!(error instanceof UnsafeWebhookUrl)) throw error;
    // The client gets the message; what DNS answered (private addresses of our network) stays in our log.
    logger.warn('webhook url refused', { reason: error.reason, detail: error.detail });
    throw new InvalidWebhookUrl(error.message);
  }
}

/** The body of `POST /webhooks`. Built per function because the URL policy has a local-runtime option. */
export function webhookRegistrationSchema(options: WebhookUrlOptions = {}) {
  return z.strictObject({
    url: z
      .string()
      .max(MAX_URL_LENGTH, { error: `must be at most ${MAX_URL_LENGTH} characters` })
      .transform(async (raw, ctx) => {
        try {
          return await validateWebhookUrl(raw, options);
        } catch (error) {
          if (!(error instanceof InvalidWebhookUrl)) throw error;
          ctx.addIssue({ code: 'custom', message: error.message });
          return z.NEVER;
        }
      }),
    events: z
      .array(z.enum(WEBHOOK_EVENT_TYPES, { error: `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` }))
      .min(1, { error: 'must name at least one event' })
      .refine((events) => new Set(events).size === events.length, { error: 'must not repeat an event' }),
  });
}

export type WebhookRegistration = z.infer<ReturnType<typeof webhookRegistrationSchema>>;
