import { DEFAULT_ACCOUNT, type LocalAccount, type RuntimeLogger, silentLogger } from '../types.ts';
import { type AuthorizerDecision, AuthorizerRunner } from './http-api/authorizer.ts';
import { isPreflight, preflightResponse, withCorsHeaders } from './http-api/cors.ts';
import type {
  HttpApiDefinition,
  HttpApiIntegration,
  HttpApiRoute,
  PayloadFormatVersion,
} from './http-api/definition.ts';
import {
  type EventScope,
  type GatewayRequest,
  integrationEventV1,
  integrationEventV2,
} from './http-api/events.ts';
import type { LocalJwtIssuer } from './http-api/jwt.ts';
import {
  FORBIDDEN,
  type GatewayResponse,
  INTERNAL_ERROR,
  integrationResponse,
  NOT_FOUND,
  PAYLOAD_TOO_LARGE,
  SERVICE_UNAVAILABLE,
  UNAUTHORIZED,
} from './http-api/responses.ts';
import { RouteTable } from './http-api/routes.ts';
import {
  type GatewayHandler,
  type GatewayServerOptions,
  invokeWithTimeout,
  type ListeningServer,
  serveGateway,
} from './http-api/server.ts';
import { verifySigV4 } from './http-api/sigv4.ts';

/**
 * The local API Gateway for one HTTP API: an HTTP server on 127.0.0.1 that routes requests the way
 * API Gateway v2 does, runs Lambda REQUEST authorizers, builds the payload format 2.0 (or 1.0) event,
 * invokes the integration's function and maps its answer back to HTTP.
 *
 * Input is one {@link HttpApiDefinition}; `collectHttpApis` (http-api/definition.ts) builds those from
 * the resolved template resources, grouped per `AWS::ApiGatewayV2::Api`.
 */

export {
  collectHttpApis,
  type HttpApiAuthorizer,
  HttpApiConfigError,
  type HttpApiCors,
  type HttpApiDefinition,
  type HttpApiIntegration,
  type HttpApiRoute,
  lambdaArnFromUri,
} from './http-api/definition.ts';
export type { IamCredential } from './http-api/sigv4.ts';

export interface StartHttpApiOptions extends HttpApiDefinition, GatewayServerOptions {
  /**
   * Signs and checks the tokens of JWT routes in place of their issuer (http-api/jwt.ts).
   * @default none: JWT routes answer 500, as with an issuer API Gateway cannot reach
   */
  jwtIssuer?: LocalJwtIssuer;
}

export type RunningHttpApi = ListeningServer;

/** What the route's authorization decided: no authorization, an authorizer's decision, or an IAM caller. */
type RouteAccess =
  | { outcome: 'open' }
  | { outcome: 'iam'; iam: Record<string, unknown> }
  | { outcome: 'jwt'; claims: Record<string, string>; scopes: string[] }
  | AuthorizerDecision;

/**
 * `requestContext.authorizer` of the integration event: `{lambda: context}` in format 2.0; in format 1.0
 * the context keys themselves plus `principalId` and `integrationLatency`.
 */
function authorizerContext(
  access: RouteAccess,
  version: PayloadFormatVersion,
): Record<string, unknown> | undefined {
  if (access.outcome === 'iam') return { iam: access.iam };
  if (access.outcome === 'jwt') {
    const jwt = { claims: access.claims, scopes: access.scopes };
    return version === '2.0' ? { jwt, principalId: '', integrationLatency: 0 } : jwt;
  }
  if (access.outcome !== 'allow') return undefined;
  if (version === '2.0') return { lambda: access.context };
  return { ...access.context, principalId: access.principalId ?? '', integrationLatency: 0 };
}

export function startHttpApi(options: StartHttpApiOptions): Promise<RunningHttpApi> {
  return serveGateway(new Gateway(options), { ...options, kind: 'HTTP API' });
}

class Gateway implements GatewayHandler {
  private readonly options: StartHttpApiOptions;
  private readonly routes: RouteTable;
  private readonly authorizers: AuthorizerRunner;
  private readonly logger: RuntimeLogger;
  private readonly account: LocalAccount;

  constructor(options: StartHttpApiOptions) {
    this.options = options;
    this.routes = new RouteTable(options.routes);
    this.authorizers = new AuthorizerRunner(options.invoker, options.clock);
    this.logger = options.logger ?? silentLogger;
    this.account = options.account ?? DEFAULT_ACCOUNT;
    for (const route of options.routes) {
      if (route.authorizationType === 'JWT' && !options.jwtIssuer) {
        this.logger.warn('JWT authorizers cannot run locally; the route will answer 500', {
          api: options.name,
          routeKey: route.routeKey,
        });
      }
    }
  }

  respond(
    request: GatewayRequest,
    tooLarge: boolean,
  ): Promise<{ response: GatewayResponse; routeKey?: string }> {
    if (tooLarge) return Promise.resolve({ response: PAYLOAD_TOO_LARGE() });
    return this.withCors(request);
  }

  internalError(): GatewayResponse {
    return INTERNAL_ERROR();
  }

  requestIdHeaders(requestId: string): Array<[string, string]> {
    return [['apigw-requestid', requestId]];
  }

  private async withCors(request: GatewayRequest): Promise<{ response: GatewayResponse; routeKey?: string }> {
    const cors = this.options.cors;
    if (!cors) return this.route(request);
    if (isPreflight(request)) return { response: preflightResponse(cors, request) };
    const outcome = await this.route(request);
    return { ...outcome, response: withCorsHeaders(cors, request, outcome.response) };
  }

  private async route(request: GatewayRequest): Promise<{ response: GatewayResponse; routeKey?: string }> {
    const match = this.routes.match(request.method, request.rawPath);
    if (!match) return { response: NOT_FOUND() };
    const routeKey = match.route.routeKey;
    const scope: EventScope = { accountId: this.account.accountId, apiId: this.options.apiId, match };
    const integration = match.route.integrationId
      ? this.options.integrations[match.route.integrationId]
      : undefined;
    if (!integration) return { response: NOT_FOUND(), routeKey };

    const access = await this.authorize(request, scope, match.route);
    if (access.outcome === 'unauthorized') return { response: UNAUTHORIZED(), routeKey };
    if (access.outcome === 'forbidden') return { response: FORBIDDEN(), routeKey };
    if (access.outcome === 'error') {
      this.logger.error('authorizer failed', { api: this.options.name, routeKey, reason: access.reason });
      return { response: INTERNAL_ERROR(), routeKey };
    }
    const authorizer = authorizerContext(access, integration.payloadFormatVersion);
    return { response: await this.integrate(request, scope, integration, authorizer), routeKey };
  }

  private async authorize(
    request: GatewayRequest,
    scope: EventScope,
    route: HttpApiRoute,
  ): Promise<RouteAccess> {
    switch (route.authorizationType) {
      case 'NONE':
        return { outcome: 'open' };
      case 'JWT':
        return this.authorizeJwt(request, route);
      case 'AWS_IAM':
        return this.authorizeIam(request);
      case 'CUSTOM': {
        const authorizer = route.authorizerId ? this.options.authorizers[route.authorizerId] : undefined;
        if (!authorizer) {
          return {
            outcome: 'error',
            reason: `route ${route.routeKey} names unknown authorizer ${route.authorizerId}`,
          };
        }
        const { region, accountId } = this.account;
        const routeArn = `arn:aws:execute-api:${region}:${accountId}:${this.options.apiId}/$default/${request.method}${request.rawPath}`;
        return this.authorizers.authorize({ authorizer, request, scope, routeArn });
      }
    }
  }

  /** A token the runtime signed for this authorizer's issuer and audience (http-api/jwt.ts), else 401. */
  private authorizeJwt(request: GatewayRequest, route: HttpApiRoute): RouteAccess {
    const authorizer = route.authorizerId ? this.options.jwtAuthorizers?.[route.authorizerId] : undefined;
    if (!this.options.jwtIssuer || !authorizer) {
      return { outcome: 'error', reason: `JWT route ${route.routeKey} has no local issuer or authorizer` };
    }
    const header = /^\$request\.header\.(.+)$/.exec(authorizer.identitySource[0] ?? '')?.[1]?.toLowerCase();
    const verdict = this.options.jwtIssuer.verify(
      header ? request.headers[header]?.[0] : undefined,
      authorizer,
    );
    if (!verdict.ok) {
      this.logger.warn('JWT refused', {
        api: this.options.name,
        routeKey: route.routeKey,
        reason: verdict.reason,
      });
      return { outcome: 'unauthorized' };
    }
    return { outcome: 'jwt', claims: verdict.claims, scopes: verdict.scopes };
  }

  /**
   * Verifies the SigV4 signature against the credentials the local account knows; an unsigned, wrongly signed or
   * stale request gets 403 as from API Gateway. The verified access key becomes the caller identity.
   */
  private async authorizeIam(request: GatewayRequest): Promise<RouteAccess> {
    const verdict = await verifySigV4(request, {
      credentials: this.options.iamCredentials ?? [],
      region: this.account.region,
    });
    if (!verdict.ok) {
      this.logger.warn('IAM authorization refused', { api: this.options.name, reason: verdict.reason });
      return { outcome: 'forbidden' };
    }
    const { accessKeyId: accessKey } = verdict;
    const { accountId } = this.account;
    return {
      outcome: 'iam',
      iam: {
        accessKey,
        accountId,
        callerId: accessKey,
        cognitoIdentity: null,
        principalOrgId: null,
        userArn: `arn:aws:iam::${accountId}:user/${accessKey}`,
        userId: accessKey,
      },
    };
  }

  private async integrate(
    request: GatewayRequest,
    scope: EventScope,
    integration: HttpApiIntegration,
    authorizer: Record<string, unknown> | undefined,
  ): Promise<GatewayResponse> {
    const event =
      integration.payloadFormatVersion === '2.0'
        ? integrationEventV2(request, scope, authorizer)
        : integrationEventV1(request, scope, authorizer);
    try {
      const result = await invokeWithTimeout(
        this.options.invoker,
        integration.functionArn,
        event,
        integration.timeoutMs,
      );
      if (result === 'timeout') {
        this.logger.warn('integration timed out', {
          api: this.options.name,
          timeoutMs: integration.timeoutMs,
        });
        return SERVICE_UNAVAILABLE();
      }
      if (result.error) {
        this.logger.warn('integration function failed', {
          api: this.options.name,
          function: integration.functionArn,
          errorType: result.error.errorType,
          errorMessage: result.error.errorMessage,
        });
        return INTERNAL_ERROR();
      }
      return integrationResponse(result.payload, integration.payloadFormatVersion);
    } catch (error) {
      this.logger.error('integration failed', {
        api: this.options.name,
        function: integration.functionArn,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
      return INTERNAL_ERROR();
    }
  }
}
