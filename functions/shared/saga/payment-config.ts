import { httpUrl, loadConfig, positiveIntFromEnv, requiredString } from '../config.ts';
import { documentClient } from '../dynamodb.ts';
import { PaymentClient } from '../payment-client.ts';
import * as z from '../zod.ts';
import type { PaymentDeps } from './payment.ts';

/** Configuration shared by the two steps that talk to the payment provider. */
export function paymentStepDeps(env: NodeJS.ProcessEnv = process.env): PaymentDeps {
  const config = loadConfig(
    z.object({
      TABLE_NAME: requiredString('TABLE_NAME'),
      PAYMENT_PROVIDER_URL: httpUrl('PAYMENT_PROVIDER_URL'),
      // Below the task's own timeout, so a slow provider ends as PaymentProviderUnavailable (retried), not States.Timeout.
      PAYMENT_TIMEOUT_MS: positiveIntFromEnv('PAYMENT_TIMEOUT_MS', 3000),
      // The provider's promise (docs/payment-provider.md): a request lands within this time or never.
      PAYMENT_SETTLE_SECONDS: positiveIntFromEnv('PAYMENT_SETTLE_SECONDS', 30),
      PAYMENT_KEY_RETENTION_HOURS: positiveIntFromEnv('PAYMENT_KEY_RETENTION_HOURS', 24),
    }),
    env,
  );
  return {
    doc: documentClient,
    tableName: config.TABLE_NAME,
    payments: new PaymentClient({
      baseUrl: config.PAYMENT_PROVIDER_URL,
      timeoutMs: config.PAYMENT_TIMEOUT_MS,
    }),
    settleMs: config.PAYMENT_SETTLE_SECONDS * 1000,
    keyRetentionMs: config.PAYMENT_KEY_RETENTION_HOURS * 3_600_000,
  };
}
