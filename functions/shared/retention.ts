import { ENV } from '#contracts/environment.ts';
import { loadConfig, positiveIntFromEnv } from '#shared/config.ts';
import { epochSeconds } from '#shared/dynamodb.ts';
import * as z from '#shared/zod.ts';

/**
 * How long the table keeps what it keeps (README "Retention", docs/architecture.md). Every expiry is the table's TTL
 * attribute `expiresAt` (epoch seconds), which DynamoDB deletes some time after it passes (typically within days).
 */

const DAY_SECONDS = 24 * 60 * 60;

/** Orders (customer e-mail and name, items, amounts) stay this long after reaching CONFIRMED or CANCELLED. */
export const DEFAULT_ORDER_RETENTION_DAYS = 400;
/** The most `ORDER_RETENTION_DAYS` may say: DynamoDB ignores a TTL more than five years in the past or future. */
export const MAX_ORDER_RETENTION_DAYS = 5 * 365;

/**
 * Outbox items the relay gave up on stay this long after failing, so operators can see and replay them; their payload
 * holds the customer's e-mail and name. Longer than `buzzer relay replay`'s default age cap (ops/cli/relay.ts).
 */
export const FAILED_OUTBOX_RETENTION_SECONDS = 30 * DAY_SECONDS;

const retentionConfigSchema = z.object({
  [ENV.ORDER_RETENTION_DAYS]: positiveIntFromEnv(ENV.ORDER_RETENTION_DAYS, DEFAULT_ORDER_RETENTION_DAYS).pipe(
    z.number().max(MAX_ORDER_RETENTION_DAYS, {
      error: `ORDER_RETENTION_DAYS must be at most ${MAX_ORDER_RETENTION_DAYS}`,
    }),
  ),
});

/** Reads `ORDER_RETENTION_DAYS` (default 400); a bad value fails the cold start with the variable named. */
export function orderRetentionDays(env: NodeJS.ProcessEnv = process.env): number {
  return loadConfig(retentionConfigSchema, env).ORDER_RETENTION_DAYS;
}

const configuredOrderRetentionDays = orderRetentionDays();

/**
 * The attributes a terminal order transition (CONFIRMED, CANCELLED) sets so that TTL removes the order
 * `days` after it ended: spread it into the change's `set`.
 */
export function terminalRetention(now: Date, days = configuredOrderRetentionDays): { expiresAt: number } {
  return { expiresAt: epochSeconds(now) + days * DAY_SECONDS };
}

/** When TTL removes an outbox item that was marked FAILED at `now`. */
export function failedOutboxExpiry(now: Date): number {
  return epochSeconds(now) + FAILED_OUTBOX_RETENTION_SECONDS;
}
