import { DEFAULT_ACCOUNT, type LocalAccount, type RuntimeLogger, silentLogger } from '../types.ts';
import { type AuthorizerDecision, AuthorizerRunner } from './http-api/authorizer.ts';
import { type EventScope, type GatewayRequest, integrationEventV1 } from './http-api/events.ts';
import {
  FORBIDDEN,
  type GatewayResponse,
  gatewayError,
  integrationResponse,
  MalformedIntegrationResponseError,
} from './http-api/responses.ts';
import { type RouteMatch, RouteTable } from './http-api/routes.ts';
import {
  type GatewayHandler,
  type GatewayServerOptions,
  invokeWithTimeout,
  type ListeningServer,
  serveGateway,
} from './http-api/server.ts';
import { verifySigV4 } from './http-api/sigv4.ts';
import type { RestApiDefinition, RestAuthorizer, RestMethod, RestStage } from './rest-api/definition.ts';
import { type GatewayResponseType, gatewayResponse, type ResponseContext } from './rest-api/responses.ts';
import { Buckets, type UsagePlans } from './rest-api/usage-plans.ts';

/**
 * The local API Gateway for one REST API (v1): an HTTP server on 127.0.0.1 that serves each stage under its name as
 * the first path segment (`http://127.0.0.1:<port>/<stage>/...`, as the execute-api URL does), routes by the resource
 * tree, runs Lambda TOKEN/REQUEST authorizers (policy answers, result cache, `usageIdentifierKey`), meters keyed
 * methods with the usage plans (403 / 429), applies stage throttles, builds the Lambda proxy event and maps the
 * answer back; its own answers follow the template's gateway responses.
 *
 * Input is one {@link RestApiDefinition}; `collectRestApis` (rest-api/definition.ts) builds those from the resolved
 * template.
 */

export {
  collectRestApis,
  collectUsagePlans,
  RestApiConfigError,
  type RestApiDefinition,
} from './rest-api/definition.ts';
export { UsagePlans } from './rest-api/usage-plans.ts';

export interface StartRestApiOptions extends RestApiDefinition, GatewayServerOptions {
  /** The account's usage plans and keys (shared by every REST API of the runtime). */
  usagePlans: UsagePlans;
}

export type RunningRestApi = ListeningServer;

/** The request's route within a stage: what gateway responses and events are told about it. */
interface Routed {
  request: GatewayRequest;
  stage: RestStage;
  /** The path after the stage segment. */
  path: string;
  match?: RouteMatch<RestMethod>;
}

type Access = { outcome: 'open' } | { outcome: 'iam'; accessKey: string } | AuthorizerDecision;

export function startRestApi(options: StartRestApiOptions): Promise<RunningRestApi> {
  return serveGateway(new RestGateway(options), { ...options, kind: 'REST API' });
}

/** A REST API hands the authorizer's context on with every value as a string (`123` → `"123"`), `null` kept. */
function stringified(context: Record<string, unknown> | null): Record<string, string | null> {
  return Object.fromEntries(
    Object.entries(context ?? {}).map(([key, value]) => [key, value === null ? null : String(value)]),
  );
}

function contextFor(routed: Routed): ResponseContext {
  return {
    request: routed.request,
    stage: routed.stage.name,
    ...(routed.match
      ? { resourcePath: routed.match.resourcePath, pathParameters: routed.match.pathParameters }
      : {}),
    stageVariables: routed.stage.variables,
  };
}

class RestGateway implements GatewayHandler {
  private readonly options: StartRestApiOptions;
  private readonly routes: RouteTable<RestMethod>;
  private readonly authorizers: AuthorizerRunner;
  private readonly stageBuckets = new Buckets();
  private readonly logger: RuntimeLogger;
  private readonly account: LocalAccount;
  private readonly now: () => number;

  constructor(options: StartRestApiOptions) {
    this.options = options;
    this.routes = new RouteTable(options.methods);
    this.now = options.clock ?? Date.now;
    this.authorizers = new AuthorizerRunner(options.invoker, this.now);
    this.logger = options.logger ?? silentLogger;
    this.account = options.account ?? DEFAULT_ACCOUNT;
  }

  async respond(
    request: GatewayRequest,
    tooLarge: boolean,
  ): Promise<{ response: GatewayResponse; routeKey?: string }> {
    const routed = this.routeOf(request);
    // No such stage: API Gateway answers a bare 403, before anything of the API applies.
    if (!routed) return { response: FORBIDDEN() };
    const routeKey = routed.match?.route.routeKey;
    if (tooLarge) return { response: this.reply('REQUEST_TOO_LARGE', routed), routeKey };
    return { response: await this.answer(routed), routeKey };
  }

  internalError(): GatewayResponse {
    return gatewayError(500, 'Internal server error');
  }

  requestIdHeaders(requestId: string): Array<[string, string]> {
    return [
      ['x-amzn-requestid', requestId],
      ['x-amz-apigw-id', requestId],
    ];
  }

  private routeOf(request: GatewayRequest): Routed | undefined {
    const [, stageName = '', ...rest] = request.rawPath.split('/');
    const stage = this.options.stages[stageName];
    if (!stage) return undefined;
    const path = `/${rest.join('/')}`;
    const match = this.routes.match(request.method, path);
    return { request, stage, path, ...(match ? { match } : {}) };
  }

  private reply(type: GatewayResponseType, routed: Routed, message?: string | null): GatewayResponse {
    return gatewayResponse(type, this.options.gatewayResponses, contextFor(routed), message);
  }

  private async answer(routed: Routed): Promise<GatewayResponse> {
    const { match } = routed;
    if (!match) return this.reply('MISSING_AUTHENTICATION_TOKEN', routed);
    const method = match.route;
    const access = await this.authorize(routed, method);
    switch (access.outcome) {
      case 'unauthorized':
        return this.reply('UNAUTHORIZED', routed);
      case 'forbidden':
        return access.explicitDeny
          ? this.reply(
              'ACCESS_DENIED',
              routed,
              'User is not authorized to access this resource with an explicit deny',
            )
          : this.reply('ACCESS_DENIED', routed);
      case 'error':
        this.logger.error('authorizer failed', {
          api: this.options.name,
          method: method.routeKey,
          reason: access.reason,
        });
        return this.reply('AUTHORIZER_FAILURE', routed);
      case 'missing-token':
        return this.reply('MISSING_AUTHENTICATION_TOKEN', routed);
      case 'invalid-signature':
        return this.reply('INVALID_SIGNATURE', routed, access.reason);
      case 'allow':
        if (
          Object.values(access.context ?? {}).some((value) => typeof value === 'object' && value !== null)
        ) {
          this.logger.error('authorizer context values must be strings, numbers or booleans', {
            api: this.options.name,
            method: method.routeKey,
          });
          return this.reply('AUTHORIZER_CONFIGURATION_ERROR', routed);
        }
        break;
      default:
    }

    let apiKey: { value: string; id: string } | undefined;
    const methodName = `${method.resourcePath}/${routed.request.method}`;
    if (method.apiKeyRequired) {
      const keyValue =
        this.options.apiKeySource === 'AUTHORIZER'
          ? access.outcome === 'allow'
            ? access.usageIdentifierKey
            : undefined
          : routed.request.headers['x-api-key']?.at(-1);
      const admission = this.options.usagePlans.admit({
        apiId: this.options.apiId,
        stage: routed.stage.name,
        method: methodName,
        keyValue,
      });
      if (admission.outcome === 'forbidden') {
        this.logger.warn('API key refused', {
          api: this.options.name,
          method: method.routeKey,
          reason: admission.reason,
        });
        return this.reply('INVALID_API_KEY', routed);
      }
      if (admission.outcome === 'throttled') return this.reply('THROTTLED', routed);
      if (admission.outcome === 'quota-exceeded') return this.reply('QUOTA_EXCEEDED', routed);
      apiKey = { value: admission.key.value, id: admission.key.id };
    }
    if (!this.stageAdmits(routed.stage, methodName)) return this.reply('THROTTLED', routed);
    return this.integrate(routed, match, access, apiKey);
  }

  /**
   * `MethodSettings` throttles: the method's own setting, else the stage-wide `/*\/*` one; either way each method has
   * its own bucket, as API Gateway applies a stage's default method throttling to every method separately.
   */
  private stageAdmits(stage: RestStage, methodName: string): boolean {
    const throttle = stage.methodThrottles[methodName] ?? stage.methodThrottles['/*/*'];
    return !throttle || this.stageBuckets.take(`${stage.name}\u0000${methodName}`, throttle, this.now());
  }

  private isBinary(contentType: string | undefined): boolean {
    const type = contentType?.split(';')[0]?.trim().toLowerCase();
    if (!type) return false;
    return this.options.binaryMediaTypes.some((pattern) => {
      const [major, minor] = pattern.toLowerCase().split('/');
      const [typeMajor, typeMinor] = type.split('/');
      return (major === '*' || major === typeMajor) && (minor === '*' || minor === typeMinor);
    });
  }

  private methodArn(routed: Routed): string {
    const { region, accountId } = this.account;
    return `arn:aws:execute-api:${region}:${accountId}:${this.options.apiId}/${routed.stage.name}/${routed.request.method}${routed.path}`;
  }

  private scopeOf(
    routed: Routed,
    match: RouteMatch<RestMethod>,
    apiKey?: { value: string; id: string },
  ): EventScope {
    return {
      accountId: this.account.accountId,
      apiId: this.options.apiId,
      match,
      stage: routed.stage.name,
      stageVariables: routed.stage.variables,
      resourceId: match.route.resourceId,
      contextPath: decodeURI(`/${routed.stage.name}${routed.path}`),
      binaryMediaType: (contentType) => this.isBinary(contentType),
      ...(apiKey ? { apiKey } : {}),
    };
  }

  /** The Lambda proxy event of a REST API: payload 1.0 as HTTP APIs send it, without the `version` field. */
  private proxyEvent(
    routed: Routed,
    match: RouteMatch<RestMethod>,
    authorizer: Record<string, unknown> | undefined,
    apiKey?: { value: string; id: string },
  ): Record<string, unknown> {
    const { version: _version, ...event } = integrationEventV1(
      { ...routed.request, rawPath: routed.path },
      this.scopeOf(routed, match, apiKey),
      authorizer,
    );
    return event;
  }

  private async authorize(
    routed: Routed,
    method: RestMethod,
  ): Promise<Access | { outcome: 'missing-token' } | { outcome: 'invalid-signature'; reason: string }> {
    switch (method.authorizationType) {
      case 'NONE':
        return { outcome: 'open' };
      case 'COGNITO_USER_POOLS':
        return { outcome: 'error', reason: 'Cognito user pool authorizers cannot run locally' };
      case 'AWS_IAM': {
        if (!routed.request.headers.authorization) return { outcome: 'missing-token' };
        const verdict = await verifySigV4(
          { ...routed.request },
          { credentials: this.options.iamCredentials ?? [], region: this.account.region },
        );
        return verdict.ok
          ? { outcome: 'iam', accessKey: verdict.accessKeyId }
          : { outcome: 'invalid-signature', reason: verdict.reason };
      }
      case 'CUSTOM': {
        const authorizer = this.options.authorizers[method.authorizerId ?? ''];
        if (!authorizer) return { outcome: 'error', reason: `unknown authorizer ${method.authorizerId}` };
        return this.runAuthorizer(routed, authorizer);
      }
    }
  }

  private runAuthorizer(routed: Routed, authorizer: RestAuthorizer): Promise<AuthorizerDecision> {
    const methodArn = this.methodArn(routed);
    const identity = authorizer.identitySource.map((source) => this.identityValue(source, routed));
    const token = identity[0];
    if (
      authorizer.type === 'TOKEN' &&
      token !== undefined &&
      authorizer.identityValidationExpression &&
      !authorizer.identityValidationExpression.test(token)
    ) {
      return Promise.resolve({ outcome: 'unauthorized' });
    }
    return this.authorizers.run(
      {
        id: authorizer.id,
        name: authorizer.name,
        functionArn: authorizer.functionArn,
        resultTtlSeconds: authorizer.resultTtlSeconds,
        identity,
        simpleResponses: false,
        unauthorizedError: true,
        event: () => {
          if (authorizer.type === 'TOKEN') return { type: 'TOKEN', authorizationToken: token, methodArn };
          const match = routed.match;
          if (!match) throw new Error('a REQUEST authorizer runs for a matched method only');
          const {
            body: _body,
            isBase64Encoded: _encoded,
            requestContext,
            ...event
          } = this.proxyEvent(routed, match, undefined);
          const { authorizer: _none, ...context } = requestContext as Record<string, unknown>;
          return { type: 'REQUEST', methodArn, ...event, requestContext: context };
        },
      },
      methodArn,
    );
  }

  /** `method.request.header.X`, `method.request.querystring.X`, `stageVariables.X` or `context.X`. */
  private identityValue(source: string, routed: Routed): string | undefined {
    const { request } = routed;
    const parameter = /^method\.request\.(header|querystring)\.(.+)$/i.exec(source);
    if (parameter?.[2]) {
      if (parameter[1]?.toLowerCase() === 'header')
        return request.headers[parameter[2].toLowerCase()]?.join(',');
      const values = new URLSearchParams(request.rawQueryString).getAll(parameter[2]);
      return values.length > 0 ? values.join(',') : undefined;
    }
    const variable = /^stageVariables\.(.+)$/.exec(source)?.[1];
    if (variable) return routed.stage.variables[variable];
    const context: Record<string, string> = {
      'context.httpMethod': request.method,
      'context.stage': routed.stage.name,
      'context.identity.sourceIp': request.sourceIp,
      'context.requestId': request.requestId,
      'context.path': routed.path,
    };
    return context[source];
  }

  private async integrate(
    routed: Routed,
    match: RouteMatch<RestMethod>,
    access: Access,
    apiKey: { value: string; id: string } | undefined,
  ): Promise<GatewayResponse> {
    const { integration } = match.route;
    if (integration.type === 'MOCK') {
      return {
        statusCode: integration.statusCode,
        headers: [['content-type', 'application/json'], ...integration.headers],
        body: Buffer.from(integration.body),
      };
    }
    const authorizer =
      access.outcome === 'allow'
        ? { ...stringified(access.context), principalId: access.principalId ?? '', integrationLatency: 0 }
        : undefined;
    const event = this.proxyEvent(routed, match, authorizer, apiKey);
    if (access.outcome === 'iam') {
      const identity = (event.requestContext as { identity: Record<string, unknown> }).identity;
      Object.assign(identity, {
        accessKey: access.accessKey,
        accountId: this.account.accountId,
        caller: access.accessKey,
        user: access.accessKey,
        userArn: `arn:aws:iam::${this.account.accountId}:user/${access.accessKey}`,
      });
    }
    const where = { api: this.options.name, function: integration.functionArn };
    try {
      const result = await invokeWithTimeout(
        this.options.invoker,
        integration.functionArn,
        event,
        integration.timeoutMs,
      );
      if (result === 'timeout') {
        this.logger.warn('integration timed out', { ...where, timeoutMs: integration.timeoutMs });
        return this.reply('INTEGRATION_TIMEOUT', routed);
      }
      if (result.error) {
        this.logger.warn('integration function failed', { ...where, errorType: result.error.errorType });
        return this.reply('BAD_GATEWAY', routed);
      }
      const payload = result.payload as Record<string, unknown> | undefined;
      // Unlike HTTP APIs, a REST API takes only a string body from a Lambda proxy answer.
      if (payload?.body !== undefined && payload.body !== null && typeof payload.body !== 'string') {
        throw new MalformedIntegrationResponseError('body must be a string');
      }
      return integrationResponse(result.payload, '1.0');
    } catch (error) {
      this.logger.warn('integration answered something API Gateway cannot use: 502', {
        ...where,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
      return this.reply('BAD_GATEWAY', routed);
    }
  }
}
