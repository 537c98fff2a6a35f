import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerResult,
  APIGatewaySimpleAuthorizerWithContextResult,
  Context,
} from 'aws-lambda';
import { bearerApiKey, findClientId } from '#shared/api-keys.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import type { AuthorizerContext } from '#shared/http.ts';
import { beginInvocation, logger } from '#shared/logger.ts';
import * as z from '#shared/zod.ts';

const config = loadConfig(z.object({ TABLE_NAME: requiredString('TABLE_NAME') }));

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
 */
export const handler = async (
  event: APIGatewayRequestAuthorizerEventV2,
  context?: Context,
): Promise<AuthorizerResult> => {
  beginInvocation(context, event.requestContext?.requestId);
  const apiKey = bearerApiKey(authorizationHeader(event));
  if (!apiKey) {
    logger.info('denied: missing or malformed bearer key', { routeKey: event.routeKey });
    return DENY;
  }
  const clientId = await findClientId(documentClient, config.TABLE_NAME, apiKey);
  if (!clientId) {
    logger.info('denied: unknown key', { routeKey: event.routeKey });
    return DENY;
  }
  return { isAuthorized: true, context: { clientId } };
};
