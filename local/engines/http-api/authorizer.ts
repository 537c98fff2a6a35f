import type { LambdaInvoker } from '../../types.ts';
import type { HttpApiAuthorizer } from './definition.ts';
import { authorizerEventV1, authorizerEventV2, type EventScope, type GatewayRequest } from './events.ts';

/**
 * Lambda authorizers: the result cache keyed by identity values, both response forms (simple
 * `{isAuthorized, context}` and IAM policy) and how a policy applies to a route. HTTP APIs (REQUEST authorizers,
 * identity sources and events here) and REST APIs (TOKEN and REQUEST, `#local/engines/rest-api/`) share it.
 */

export type AuthorizerDecision =
  /**
   * `context` is what integrations see under `requestContext.authorizer`; `usageIdentifierKey` is the API key a
   * REST API with `ApiKeySourceType: AUTHORIZER` meters the request under.
   */
  | {
      outcome: 'allow';
      context: Record<string, unknown> | null;
      principalId?: string;
      usageIdentifierKey?: string;
    }
  /** No identity, or the authorizer failed with `Unauthorized` (401). */
  | { outcome: 'unauthorized' }
  /** The authorizer said no (403); `explicitDeny` when a Deny statement matched. */
  | { outcome: 'forbidden'; explicitDeny?: boolean }
  /** The authorizer failed or answered something unusable (500). */
  | { outcome: 'error'; reason: string };

/** What an authorizer answered, before it is applied to a route (IAM policies depend on the route ARN). */
type AuthorizerVerdict =
  | { form: 'simple'; isAuthorized: boolean; context: Record<string, unknown> | null }
  | {
      form: 'policy';
      principalId?: string;
      statements: PolicyStatement[];
      context: Record<string, unknown> | null;
      usageIdentifierKey?: string;
    };

interface PolicyStatement {
  effect: 'Allow' | 'Deny';
  actions: string[];
  resources: string[];
}

/** Thrown inside verdict parsing; becomes an `error` decision. */
class AuthorizerResponseError extends Error {
  override name = 'AuthorizerResponseError';
}

interface CacheEntry {
  verdict: AuthorizerVerdict;
  expiresAt: number;
}

export interface AuthorizeInput {
  authorizer: HttpApiAuthorizer;
  request: GatewayRequest;
  scope: EventScope;
  routeArn: string;
}

/** One authorizer run, whatever the API flavour: who to invoke, with what, and how to read the answer. */
export interface AuthorizerCall {
  /** Keys the cache together with the identity values. */
  id: string;
  name: string;
  functionArn: string;
  /** 0 disables caching. */
  resultTtlSeconds: number;
  /** The identity source values; a missing or empty one is a 401 without invoking. */
  identity: Array<string | undefined>;
  event(identity: string[]): unknown;
  simpleResponses: boolean;
  /** REST APIs answer 401 when the function fails with the message `Unauthorized`. */
  unauthorizedError?: boolean;
}

export class AuthorizerRunner {
  private readonly invoker: LambdaInvoker;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly now: () => number;
  /** Authorizer Lambda invocations so far (cache hits do not count). */
  invocations = 0;

  constructor(invoker: LambdaInvoker, now: () => number = Date.now) {
    this.invoker = invoker;
    this.now = now;
  }

  /** An HTTP API REQUEST authorizer. */
  authorize(input: AuthorizeInput): Promise<AuthorizerDecision> {
    const { authorizer, request, scope, routeArn } = input;
    return this.run(
      {
        id: authorizer.id,
        name: authorizer.name,
        functionArn: authorizer.functionArn,
        resultTtlSeconds: authorizer.resultTtlSeconds,
        identity: authorizer.identitySource.map((source) => identityValue(source, request, scope)),
        event: (identity) =>
          authorizer.payloadFormatVersion === '2.0'
            ? authorizerEventV2(request, scope, routeArn, identity)
            : authorizerEventV1(request, scope, routeArn, identity),
        simpleResponses: authorizer.payloadFormatVersion === '2.0' && authorizer.enableSimpleResponses,
      },
      routeArn,
    );
  }

  async run(call: AuthorizerCall, routeArn: string): Promise<AuthorizerDecision> {
    if (call.identity.some((value) => value === undefined || value === ''))
      return { outcome: 'unauthorized' };
    const values = call.identity as string[];
    // Without identity sources API Gateway cannot key a cache, so it does not cache.
    const cacheKey =
      call.resultTtlSeconds > 0 && values.length > 0 ? `${call.id}\u0000${values.join('\u0000')}` : undefined;
    const cached = cacheKey ? this.cache.get(cacheKey) : undefined;
    let verdict: AuthorizerVerdict;
    if (cached && cached.expiresAt > this.now()) {
      verdict = cached.verdict;
    } else {
      const answered = await this.invokeAuthorizer(call, values);
      if (answered === 'unauthorized') return { outcome: 'unauthorized' };
      if ('reason' in answered) return { outcome: 'error', reason: answered.reason };
      verdict = answered;
      if (cacheKey)
        this.cache.set(cacheKey, { verdict, expiresAt: this.now() + call.resultTtlSeconds * 1000 });
    }
    return decide(verdict, routeArn);
  }

  private async invokeAuthorizer(
    call: AuthorizerCall,
    identity: string[],
  ): Promise<AuthorizerVerdict | 'unauthorized' | { reason: string }> {
    this.invocations += 1;
    let result: Awaited<ReturnType<LambdaInvoker['invoke']>>;
    try {
      result = await this.invoker.invoke(call.functionArn, call.event(identity));
    } catch (error) {
      return { reason: `authorizer ${call.name} could not be invoked: ${String(error)}` };
    }
    if (result.error) {
      if (call.unauthorizedError && result.error.errorMessage === 'Unauthorized') return 'unauthorized';
      return {
        reason: `authorizer ${call.name} failed: ${result.error.errorType}: ${result.error.errorMessage}`,
      };
    }
    try {
      return call.simpleResponses ? simpleVerdict(result.payload) : policyVerdict(result.payload);
    } catch (error) {
      return { reason: `authorizer ${call.name} answered an unusable response: ${String(error)}` };
    }
  }
}

/**
 * The value of one identity source expression: `$request.header.<name>`, `$request.querystring.<name>`,
 * `$context.<variable>` or `$stageVariables.<name>` (no stage variables locally).
 */
export function identityValue(
  source: string,
  request: GatewayRequest,
  scope: EventScope,
): string | undefined {
  const header = /^\$request\.header\.(.+)$/i.exec(source);
  if (header?.[1]) return request.headers[header[1].toLowerCase()]?.join(',');
  const query = /^\$request\.querystring\.(.+)$/i.exec(source);
  if (query?.[1]) {
    const values = new URLSearchParams(request.rawQueryString).getAll(query[1]);
    return values.length > 0 ? values.join(',') : undefined;
  }
  const context = /^\$context\.(.+)$/.exec(source);
  if (context?.[1]) {
    const variables: Record<string, string> = {
      apiId: scope.apiId,
      domainName: request.domainName,
      httpMethod: request.method,
      'identity.sourceIp': request.sourceIp,
      'identity.userAgent': request.headers['user-agent']?.join(',') ?? '',
      path: request.rawPath,
      protocol: request.protocol,
      requestId: request.requestId,
      routeKey: scope.match.route.routeKey,
      stage: '$default',
    };
    return variables[context[1]];
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function contextOf(payload: Record<string, unknown>): Record<string, unknown> | null {
  if (payload.context === undefined || payload.context === null) return null;
  if (!isRecord(payload.context)) throw new AuthorizerResponseError('context must be an object');
  return payload.context;
}

function simpleVerdict(payload: unknown): AuthorizerVerdict {
  if (!isRecord(payload) || typeof payload.isAuthorized !== 'boolean') {
    throw new AuthorizerResponseError(
      'a simple response must be {"isAuthorized": boolean, "context"?: {...}}',
    );
  }
  return { form: 'simple', isAuthorized: payload.isAuthorized, context: contextOf(payload) };
}

function policyVerdict(payload: unknown): AuthorizerVerdict {
  if (!isRecord(payload) || !isRecord(payload.policyDocument)) {
    throw new AuthorizerResponseError('an IAM policy response needs "policyDocument"');
  }
  const rawStatements = payload.policyDocument.Statement;
  const statements = (Array.isArray(rawStatements) ? rawStatements : [rawStatements]).map(
    (statement): PolicyStatement => {
      if (!isRecord(statement) || (statement.Effect !== 'Allow' && statement.Effect !== 'Deny')) {
        throw new AuthorizerResponseError('each policy statement needs Effect Allow or Deny');
      }
      const list = (value: unknown): string[] =>
        (Array.isArray(value) ? value : [value]).filter((item): item is string => typeof item === 'string');
      return {
        effect: statement.Effect,
        actions: list(statement.Action),
        resources: list(statement.Resource),
      };
    },
  );
  return {
    form: 'policy',
    statements,
    context: contextOf(payload),
    ...(typeof payload.principalId === 'string' ? { principalId: payload.principalId } : {}),
    ...(typeof payload.usageIdentifierKey === 'string'
      ? { usageIdentifierKey: payload.usageIdentifierKey }
      : {}),
  };
}

function decide(verdict: AuthorizerVerdict, routeArn: string): AuthorizerDecision {
  if (verdict.form === 'simple') {
    return verdict.isAuthorized ? { outcome: 'allow', context: verdict.context } : { outcome: 'forbidden' };
  }
  const applies = (statement: PolicyStatement): boolean =>
    statement.actions.some((action) => wildcardMatch(action, 'execute-api:Invoke', true)) &&
    statement.resources.some((resource) => wildcardMatch(resource, routeArn));
  const matching = verdict.statements.filter(applies);
  // IAM evaluation: an explicit Deny wins, otherwise an Allow is needed.
  if (matching.some((statement) => statement.effect === 'Deny'))
    return { outcome: 'forbidden', explicitDeny: true };
  if (matching.length === 0) return { outcome: 'forbidden' };
  return {
    outcome: 'allow',
    context: verdict.context,
    ...(verdict.principalId !== undefined ? { principalId: verdict.principalId } : {}),
    ...(verdict.usageIdentifierKey !== undefined ? { usageIdentifierKey: verdict.usageIdentifierKey } : {}),
  };
}

/** IAM-style match: `*` any run of characters, `?` one character; action names ignore case, ARNs do not. */
function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}
