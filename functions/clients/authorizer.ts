import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerResult,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { DEFAULT_CLIENT_BURST_LIMIT, DEFAULT_CLIENT_RATE_LIMIT } from '#contracts/api.ts';
import { ENV } from '#contracts/environment.ts';
import { loadConfig, positiveIntFromEnv, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { CorruptRecord } from '#shared/errors.ts';
import { logger } from '#shared/logger.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { correlation } from '#shared/middleware/http.ts';
import * as z from '#shared/zod.ts';
import { apiKeyVerdict, bearerApiKey, findApiKeyItem } from './api-keys.ts';
import { findClientLimits, usageIdentifierOf } from './limits.ts';

const config = loadConfig(
  z.object({
    [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
    [ENV.CLIENT_RATE_LIMIT]: z
      .string()
      .regex(/^\d+(\.\d{1,2})?$/, {
        error: `${ENV.CLIENT_RATE_LIMIT} must be requests a second, e.g. 50 or 0.5`,
      })
      .transform(Number)
      .pipe(z.number().positive({ error: `${ENV.CLIENT_RATE_LIMIT} must be more than 0` }))
      .optional()
      .transform((value) => value ?? DEFAULT_CLIENT_RATE_LIMIT),
    [ENV.CLIENT_BURST_LIMIT]: positiveIntFromEnv(ENV.CLIENT_BURST_LIMIT, DEFAULT_CLIENT_BURST_LIMIT),
  }),
);

/** What the routes get in their context: the client and the limits the rate limiter applies to it. */
export interface ClientContext {
  [key: string]: string | number;
  clientId: string;
  rateLimit: number;
  burstLimit: number;
}

/** The REST API's answer: an IAM policy and, when allowed, the context and the usage plan's key for this client. */
export type RestAuthorizerResult = Omit<APIGatewayAuthorizerResult, 'context'> & {
  context?: ClientContext;
  usageIdentifierKey?: string;
};

type AuthorizerEvent = APIGatewayRequestAuthorizerEventV2 | APIGatewayRequestAuthorizerEvent;
type AuthorizerResult =
  | APIGatewaySimpleAuthorizerResult
  | APIGatewaySimpleAuthorizerWithContextResult<ClientContext>
  | RestAuthorizerResult;

/** A REST API (payload 1.0) REQUEST authorizer event names the method it guards (`methodArn`); 2.0's a route. */
const isRestEvent = (event: AuthorizerEvent): event is APIGatewayRequestAuthorizerEvent =>
  'methodArn' in event;

function authorizationHeader(event: AuthorizerEvent): string | undefined {
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (name.toLowerCase() === 'authorization') return value ?? undefined;
  }
  return undefined;
}

/**
 * The policy's resource: every method of the stage (`arn:…:<apiId>/<stage>/*`), not only the one asked for. API
 * Gateway caches the answer per Authorization header and reuses it for the client's other routes; a policy naming one
 * method would refuse them all until the cache ran out.
 */
export function stageWideArn(methodArn: string): string {
  // arn:<partition>:execute-api:<region>:<account>:<apiId>/<stage>/<method>/<path>; the path may hold colons.
  const parts = methodArn.split(':');
  const [apiId, stage] = parts.slice(5).join(':').split('/');
  return `${parts.slice(0, 5).join(':')}:${apiId}/${stage}/*`;
}

function restAnswer(
  event: APIGatewayRequestAuthorizerEvent,
  effect: 'Allow' | 'Deny',
  principalId: string,
  context?: ClientContext,
): RestAuthorizerResult {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: stageWideArn(event.methodArn) }],
    },
    ...(context ? { context, usageIdentifierKey: usageIdentifierOf(context.clientId) } : {}),
  };
}

function deny(event: AuthorizerEvent): AuthorizerResult {
  return isRestEvent(event) ? restAnswer(event, 'Deny', 'anonymous') : { isAuthorized: false };
}

const routeOf = (event: AuthorizerEvent) =>
  isRestEvent(event) ? `${event.httpMethod} ${event.resource}` : event.routeKey;

/** The client's own limits; an item the code cannot read leaves the client on the defaults rather than locked out. */
async function ownLimits(clientId: string) {
  try {
    return await findClientLimits(documentClient, config.TABLE_NAME, clientId);
  } catch (error) {
    if (!(error instanceof CorruptRecord)) throw error;
    logger.error('unreadable client limits: the defaults apply', { clientId, error });
    return undefined;
  }
}

/**
 * The client API's REQUEST authorizer, for both flavours: the HTTP API gets a simple response (`isAuthorized`), the
 * REST API an IAM policy plus `usageIdentifierKey`, the value of the client's API Gateway API key, which picks the
 * usage plan whose throttle and quota apply (`apiKeySource: AUTHORIZER`). Both carry the same context: the client id
 * and its request limits, its own (`LIMITS#<clientId>`, read after the key) or the stack's defaults.
 * A lookup failure is thrown, not denied: API Gateway then answers 500, which tells the client to retry instead of
 * telling it its key is wrong. API Gateway caches the decision per Authorization header for the authorizer's result
 * TTL, which bounds how long a revoked or expired key, or an old limit, keeps applying (README, "API keys"). Logs
 * name the key by its public id, never the key.
 */
export const handler = lambdaChain<AuthorizerEvent, AuthorizerResult>()
  // Not the HTTP edge: an authorizer answers allow or deny, never a 4xx, and a thrown error stays thrown.
  .use(correlation((event: AuthorizerEvent) => event.requestContext?.requestId))
  .handler(async (event) => {
    const routeKey = routeOf(event);
    const apiKey = bearerApiKey(authorizationHeader(event));
    if (!apiKey) {
      logger.info('denied: missing or malformed bearer key', { routeKey });
      return deny(event);
    }
    const verdict = apiKeyVerdict(
      await findApiKeyItem(documentClient, config.TABLE_NAME, apiKey),
      new Date(),
    );
    if (!verdict.allowed) {
      const { allowed: _, reason, ...about } = verdict;
      const fields = { routeKey, ...about };
      // A key item the code cannot read is our data gone wrong: louder than a client using an old key.
      if (reason === 'unreadable') logger.error(`denied: ${reason} key`, fields);
      else logger.info(`denied: ${reason} key`, fields);
      return deny(event);
    }
    const own = await ownLimits(verdict.clientId);
    const context: ClientContext = {
      clientId: verdict.clientId,
      rateLimit: own?.rateLimit ?? config.CLIENT_RATE_LIMIT,
      burstLimit: own?.burstLimit ?? config.CLIENT_BURST_LIMIT,
    };
    if (isRestEvent(event)) return restAnswer(event, 'Allow', verdict.clientId, context);
    return { isAuthorized: true, context };
  });
