import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerResult,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import type { AuthorizerContext } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { correlation } from '#shared/middleware/http.ts';
import * as z from '#shared/zod.ts';
import { apiKeyVerdict, bearerApiKey, findApiKeyItem } from './api-keys.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));

type AuthorizerResult =
  | APIGatewaySimpleAuthorizerResult
  | APIGatewaySimpleAuthorizerWithContextResult<Required<AuthorizerContext>>;

const DENY: APIGatewaySimpleAuthorizerResult = { isAuthorized: false };

function authorizationHeader(event: APIGatewayRequestAuthorizerEventV2): string | undefined {
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (name.toLowerCase() === 'authorization') return value;
  }
  return undefined;
}

/**
 * HTTP API REQUEST authorizer with simple responses. A lookup failure is thrown, not denied: API
 * Gateway then answers 500, which tells the client to retry instead of telling it its key is wrong.
 * API Gateway caches the decision per Authorization header for the authorizer's result TTL, which bounds how long
 * a revoked or expired key keeps working (README, "API keys"). Logs name the key by its public id, never the key.
 */
export const handler = lambdaChain<APIGatewayRequestAuthorizerEventV2, AuthorizerResult>()
  // Not the HTTP edge: an authorizer answers allow or deny, never a 4xx, and a thrown error stays thrown.
  .use(correlation((event: APIGatewayRequestAuthorizerEventV2) => event.requestContext?.requestId))
  .handler(async (event) => {
    const apiKey = bearerApiKey(authorizationHeader(event));
    if (!apiKey) {
      logger.info('denied: missing or malformed bearer key', { routeKey: event.routeKey });
      return DENY;
    }
    const verdict = apiKeyVerdict(
      await findApiKeyItem(documentClient, config.TABLE_NAME, apiKey),
      new Date(),
    );
    if (!verdict.allowed) {
      const { allowed: _, reason, ...about } = verdict;
      const fields = { routeKey: event.routeKey, ...about };
      // A key item the code cannot read is our data gone wrong: louder than a client using an old key.
      if (reason === 'unreadable') logger.error(`denied: ${reason} key`, fields);
      else logger.info(`denied: ${reason} key`, fields);
      return DENY;
    }
    return { isAuthorized: true, context: { clientId: verdict.clientId } };
  });
