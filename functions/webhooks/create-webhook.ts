import { KMSClient } from '@aws-sdk/client-kms';
import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { jsonResponse, requireClientId } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import { httpChain } from '#shared/middleware/http.ts';
import * as z from '#shared/zod.ts';
import { createWebhook } from './endpoints.ts';
import { webhookRegistrationSchema } from './registration.ts';
import type { CreatedWebhookBody } from './route-schemas.ts';
import { KmsSecretBox } from './secret-box.ts';
import { allowLoopbackHttpFromEnv, secretsKeyIdFromEnv } from './settings.ts';

const config = loadConfig(
  z.object({
    [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
    [ENV.WEBHOOK_ALLOW_LOOPBACK_HTTP]: allowLoopbackHttpFromEnv,
    [ENV.WEBHOOK_SECRETS_KEY_ID]: secretsKeyIdFromEnv,
  }),
);
const deps = {
  doc: documentClient,
  tableName: config.TABLE_NAME,
  secretBox: new KmsSecretBox(new KMSClient({}), config.WEBHOOK_SECRETS_KEY_ID),
};
const registrationSchema = webhookRegistrationSchema({
  allowLoopbackHttp: config.WEBHOOK_ALLOW_LOOPBACK_HTTP,
});

const MAX_BODY_BYTES = 8 * 1024;

export const handler = httpChain({
  rateLimit: deps,
  body: { schema: registrationSchema, limitBytes: MAX_BODY_BYTES },
}).handler(async (event) => {
  const clientId = requireClientId(event);
  // WebhookLimitReached (409) and ConcurrentModification (503, try again) are answered by the edge's error mapper.
  const created = await createWebhook(deps, clientId, event.parsed.body);
  logger.info('webhook registered', { webhookId: created.id, clientId, events: created.events });
  // The secret is shown here and never again: the client must store it now.
  return jsonResponse(201, created satisfies CreatedWebhookBody, { location: `/webhooks/${created.id}` });
});
