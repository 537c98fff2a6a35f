import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DEFAULT_CIRCUIT_FAILURE_THRESHOLD,
  DEFAULT_CIRCUIT_OPEN_SECONDS,
  DEFAULT_PAYMENT_HOLD_SECONDS,
  DEFAULT_PAYMENT_RELEASE_PER_SECOND,
  MAX_UNAVAILABLE_ATTEMPTS,
} from '#contracts/circuit.ts';
import { ENV } from '#contracts/environment.ts';
import { CircuitBreaker } from '#functions/resilience/circuit-breaker.ts';
import { httpUrl, loadConfig, positiveIntFromEnv, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { type RequestAuthenticator, sigV4FromEnvironment } from '#shared/request-auth.ts';
import * as z from '#shared/zod.ts';
import type { PaymentDeps } from './charging.ts';
import { PaymentClient } from './payment-client.ts';
import { SecretBearerAuthenticator } from './provider-key.ts';

/**
 * How the steps reach the provider. `sigv4`: the sandbox, an API Gateway route with IAM authorization, signed with the
 * function's own role. `bearer`: a real provider, over https only, with its API key from Secrets Manager.
 */
export const paymentTransportSchema = z.discriminatedUnion(
  ENV.PAYMENT_PROVIDER_AUTH,
  [
    z.object({
      [ENV.PAYMENT_PROVIDER_AUTH]: z.literal('sigv4'),
      [ENV.PAYMENT_PROVIDER_URL]: httpUrl(ENV.PAYMENT_PROVIDER_URL),
    }),
    z.object({
      [ENV.PAYMENT_PROVIDER_AUTH]: z.literal('bearer'),
      // A bearer key and card tokens must never cross the network in the clear.
      [ENV.PAYMENT_PROVIDER_URL]: z
        .url({ protocol: /^https$/, error: 'PAYMENT_PROVIDER_URL must be an https URL for a real provider' })
        .transform((url) => url.replace(/\/+$/, '')),
      [ENV.PAYMENT_PROVIDER_SECRET_ARN]: z
        .string({ error: 'PAYMENT_PROVIDER_SECRET_ARN is required for a real provider' })
        .trim()
        .regex(/^arn:aws[a-z-]*:secretsmanager:/, {
          error: 'PAYMENT_PROVIDER_SECRET_ARN must be a Secrets Manager secret ARN',
        }),
    }),
  ],
  { error: 'PAYMENT_PROVIDER_AUTH must be "sigv4" (the sandbox) or "bearer" (a real provider)' },
);
export type PaymentTransport = z.infer<typeof paymentTransportSchema>;

export function paymentAuthenticator(
  transport: PaymentTransport,
  secrets: () => SecretsManagerClient,
  env: NodeJS.ProcessEnv = process.env,
): RequestAuthenticator {
  return transport.PAYMENT_PROVIDER_AUTH === 'bearer'
    ? new SecretBearerAuthenticator(secrets(), transport.PAYMENT_PROVIDER_SECRET_ARN)
    : sigV4FromEnvironment(env);
}

/** Configuration shared by the two steps that talk to the payment provider. */
export function paymentStepDeps(
  env: NodeJS.ProcessEnv = process.env,
  secrets: () => SecretsManagerClient = () => new SecretsManagerClient({}),
): PaymentDeps {
  const config = loadConfig(
    z
      .object({
        [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
        // Below the task's own timeout, so a slow provider ends as PaymentProviderUnavailable (retried), not States.Timeout.
        [ENV.PAYMENT_TIMEOUT_MS]: positiveIntFromEnv(ENV.PAYMENT_TIMEOUT_MS, 3000),
        // The provider's promise (docs/payment-provider.md): a request lands within this time or never.
        [ENV.PAYMENT_SETTLE_SECONDS]: positiveIntFromEnv(ENV.PAYMENT_SETTLE_SECONDS, 30),
        [ENV.PAYMENT_KEY_RETENTION_HOURS]: positiveIntFromEnv(ENV.PAYMENT_KEY_RETENTION_HOURS, 24),
        [ENV.PAYMENT_CIRCUIT_FAILURE_THRESHOLD]: positiveIntFromEnv(
          ENV.PAYMENT_CIRCUIT_FAILURE_THRESHOLD,
          DEFAULT_CIRCUIT_FAILURE_THRESHOLD,
        ),
        [ENV.PAYMENT_CIRCUIT_OPEN_SECONDS]: positiveIntFromEnv(
          ENV.PAYMENT_CIRCUIT_OPEN_SECONDS,
          DEFAULT_CIRCUIT_OPEN_SECONDS,
        ),
        [ENV.PAYMENT_HOLD_SECONDS]: positiveIntFromEnv(
          ENV.PAYMENT_HOLD_SECONDS,
          DEFAULT_PAYMENT_HOLD_SECONDS,
        ),
        [ENV.PAYMENT_RELEASE_PER_SECOND]: positiveIntFromEnv(
          ENV.PAYMENT_RELEASE_PER_SECOND,
          DEFAULT_PAYMENT_RELEASE_PER_SECOND,
        ),
      })
      .and(paymentTransportSchema),
    env,
  );
  const table = { doc: documentClient, tableName: config.TABLE_NAME };
  return {
    ...table,
    payments: new PaymentClient({
      baseUrl: config.PAYMENT_PROVIDER_URL,
      timeoutMs: config.PAYMENT_TIMEOUT_MS,
      auth: paymentAuthenticator(config, secrets, env),
    }),
    settleMs: config.PAYMENT_SETTLE_SECONDS * 1000,
    keyRetentionMs: config.PAYMENT_KEY_RETENTION_HOURS * 3_600_000,
    circuit: new CircuitBreaker(table, 'payment', {
      failureThreshold: config.PAYMENT_CIRCUIT_FAILURE_THRESHOLD,
      openMs: config.PAYMENT_CIRCUIT_OPEN_SECONDS * 1000,
      // As long as the step itself may run (its Lambda timeout is the payment timeout + 7 s): a probe that crashed
      // frees the circuit for the next one soon after.
      probeLeaseMs: config.PAYMENT_TIMEOUT_MS + 7000,
    }),
    holdMs: config.PAYMENT_HOLD_SECONDS * 1000,
    releasePerSecond: config.PAYMENT_RELEASE_PER_SECOND,
    maxUnavailableAttempts: MAX_UNAVAILABLE_ATTEMPTS,
  };
}
