/**
 * What every sender of customer mail (the notify worker, the burst mail service's sender) reads from its environment
 * besides its own settings, and the mail circuit they share: one definition, so the two cannot drift apart.
 */

import type { SQSClient } from '@aws-sdk/client-sqs';
import { DEFAULT_CIRCUIT_FAILURE_THRESHOLD, DEFAULT_CIRCUIT_OPEN_SECONDS } from '#contracts/circuit.ts';
import { ENV } from '#contracts/environment.ts';
import { CircuitBreaker } from '#functions/resilience/circuit-breaker.ts';
import { positiveIntFromEnv, requiredString } from '#shared/config.ts';
import { documentClient, type TableDeps } from '#shared/dynamodb.ts';
import { DEFAULT_BACKOFF, retryBackoff } from '#shared/middleware/retry-backoff.ts';
import * as z from '#shared/zod.ts';
import { MAIL_TIMEOUT_MS } from './mail.ts';

export const mailSenderConfigSchema = z.object({
  [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
  [ENV.RETRY_BACKOFF_BASE_SECONDS]: positiveIntFromEnv(
    ENV.RETRY_BACKOFF_BASE_SECONDS,
    DEFAULT_BACKOFF.baseSeconds,
  ),
  [ENV.RETRY_BACKOFF_MAX_SECONDS]: positiveIntFromEnv(
    ENV.RETRY_BACKOFF_MAX_SECONDS,
    DEFAULT_BACKOFF.maxSeconds,
  ),
  [ENV.MAIL_CIRCUIT_FAILURE_THRESHOLD]: positiveIntFromEnv(
    ENV.MAIL_CIRCUIT_FAILURE_THRESHOLD,
    DEFAULT_CIRCUIT_FAILURE_THRESHOLD,
  ),
  [ENV.MAIL_CIRCUIT_OPEN_SECONDS]: positiveIntFromEnv(
    ENV.MAIL_CIRCUIT_OPEN_SECONDS,
    DEFAULT_CIRCUIT_OPEN_SECONDS,
  ),
});
export type MailSenderConfig = z.infer<typeof mailSenderConfigSchema>;

/** The mail transport's circuit (`BREAKER#mail`), shared by every sender of mail through the table. */
export function mailCircuit(table: TableDeps, config: MailSenderConfig): CircuitBreaker {
  return new CircuitBreaker(table, 'mail', {
    failureThreshold: config.MAIL_CIRCUIT_FAILURE_THRESHOLD,
    openMs: config.MAIL_CIRCUIT_OPEN_SECONDS * 1000,
    // The sender's own time limit for one mail, and some: a probe that crashed frees the circuit soon after.
    probeLeaseMs: MAIL_TIMEOUT_MS + 5000,
  });
}

/**
 * The retry backoff of a mail sender's queue: a broken mail provider is the typical failure, so a blip is retried
 * within seconds and an outage backed off from; failures are logged under the sender's `consumer`.
 */
export function mailRetryBackoff(config: MailSenderConfig, sqs: SQSClient, consumer: string) {
  return retryBackoff({
    sqs,
    policy: {
      baseSeconds: config.RETRY_BACKOFF_BASE_SECONDS,
      maxSeconds: Math.max(config.RETRY_BACKOFF_BASE_SECONDS, config.RETRY_BACKOFF_MAX_SECONDS),
    },
    failureLog: { doc: documentClient, tableName: config.TABLE_NAME, consumer },
  });
}
