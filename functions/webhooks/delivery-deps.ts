import { SQSClient } from '@aws-sdk/client-sqs';
import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import * as z from '#shared/zod.ts';

/**
 * The table and delivery queue of a handler that writes deliveries and sends their messages (enable-webhook,
 * fan-out-webhooks), read from its environment. Called once at module load, so a missing variable fails the cold
 * start as before.
 */
export function deliveryDepsFromEnv() {
  const config = loadConfig(
    z.object({
      [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
      [ENV.DELIVERY_QUEUE_URL]: requiredString(ENV.DELIVERY_QUEUE_URL),
    }),
  );
  return {
    doc: documentClient,
    tableName: config.TABLE_NAME,
    queue: { sqs: new SQSClient({}), queueUrl: config.DELIVERY_QUEUE_URL },
  };
}
