import { KMSClient } from '@aws-sdk/client-kms';
import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { jsonResponse, requireClientId } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import { httpChain } from '#shared/middleware/http.ts';
import * as z from '#shared/zod.ts';
import { rotateSecret } from './endpoint-lifecycle.ts';
import {
  DEFAULT_SECRET_GRACE_SECONDS,
  type RotatedSecretBody,
  rotateSecretBodySchema,
  webhookPathSchema,
} from './route-schemas.ts';
import { KmsSecretBox } from './secret-box.ts';
import { secretsKeyIdFromEnv } from './settings.ts';

const config = loadConfig(
  z.object({
    [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
    [ENV.WEBHOOK_SECRETS_KEY_ID]: secretsKeyIdFromEnv,
  }),
);
const deps = {
  doc: documentClient,
  tableName: config.TABLE_NAME,
  secretBox: new KmsSecretBox(new KMSClient({}), config.WEBHOOK_SECRETS_KEY_ID),
};

const MAX_BODY_BYTES = 1024;

export const handler = httpChain({
  rateLimit: deps,
  path: webhookPathSchema,
  // The body is optional: no body means the default grace period.
  body: { schema: rotateSecretBodySchema, limitBytes: MAX_BODY_BYTES, whenEmpty: {} },
}).handler(async (event) => {
  const clientId = requireClientId(event);
  const { path, body } = event.parsed;
  const rotated = await rotateSecret(
    deps,
    clientId,
    path.id,
    body.gracePeriodSeconds ?? DEFAULT_SECRET_GRACE_SECONDS,
  );
  logger.info('webhook secret rotated', {
    webhookId: path.id,
    clientId,
    previousSecretExpiresAt: rotated.previousSecretExpiresAt,
  });
  // Like at registration, the new secret is shown here and never again.
  return jsonResponse(200, rotated satisfies RotatedSecretBody);
});
