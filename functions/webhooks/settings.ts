/**
 * The webhook functions' environment knobs, parsed once at cold start (`loadConfig`). Each has a production default;
 * the local runtime and the e2e tests override them through the function environment, never through code paths.
 */
import * as z from '#shared/zod.ts';
import { RETRY_SCHEDULE_MS } from './retry.ts';

/** Longest single delay a schedule may ask for; past that a delivery is better parked for an operator. */
export const MAX_SCHEDULE_DELAY_SECONDS = 7 * 24 * 60 * 60;
const MAX_SCHEDULE_ATTEMPTS = 20;

/**
 * `WEBHOOK_RETRY_SCHEDULE_SECONDS=0,5,300,…`: the delay before each attempt in whole seconds, the first being the
 * immediate attempt (so it must be 0). Unset means the Svix schedule of `retry.ts`. Tests use `0,1,1,2`.
 */
export const retryScheduleFromEnv = z
  .string()
  .optional()
  .transform((raw, ctx): readonly number[] => {
    if (raw === undefined || raw.trim() === '') return RETRY_SCHEDULE_MS;
    const parts = raw.split(',').map((part) => part.trim());
    const valid = parts.every((part) => /^\d+$/.test(part) && Number(part) <= MAX_SCHEDULE_DELAY_SECONDS);
    if (!valid || parts.length > MAX_SCHEDULE_ATTEMPTS || parts[0] !== '0') {
      ctx.addIssue({
        code: 'custom',
        message:
          `WEBHOOK_RETRY_SCHEDULE_SECONDS must be 1-${MAX_SCHEDULE_ATTEMPTS} comma-separated whole seconds ` +
          `(each at most ${MAX_SCHEDULE_DELAY_SECONDS}), starting with 0 for the immediate first attempt`,
      });
      return z.NEVER;
    }
    return parts.map((part) => Number(part) * 1000);
  });

/** Local runtime only: lets tests register and call receivers on 127.0.0.1. Never set it in a deployed stack. */
export const allowLoopbackHttpFromEnv = z
  .enum(['true', 'false'], { error: 'WEBHOOK_ALLOW_LOOPBACK_HTTP must be "true" or "false"' })
  .optional()
  .transform((value) => value === 'true');

/** How long the dispatcher waits for a receiver (connect + answer), as Svix and Stripe do. */
export const DEFAULT_DELIVERY_TIMEOUT_MS = 10_000;

/**
 * `WEBHOOK_SECRETS_KEY_ID`: the KMS key (ARN) that seals webhook signing secrets (secret-box.ts). Required by the
 * functions that seal (registration, rotation) or open (dispatcher) them.
 */
export const secretsKeyIdFromEnv = z
  .string({ error: 'WEBHOOK_SECRETS_KEY_ID (the webhook secrets KMS key) is required' })
  .min(1, { error: 'WEBHOOK_SECRETS_KEY_ID (the webhook secrets KMS key) is required' });
