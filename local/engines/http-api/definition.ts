import type { CfnResource } from '../../types.ts';

/**
 * An HTTP API (API Gateway v2) as the local gateway needs it, read from the resolved template: the
 * `AWS::ApiGatewayV2::Api` with its routes, integrations and authorizers. Stages are not modelled: the
 * local gateway serves the `$default` stage (auto-deployed) at its root, as CDK's HttpApi creates it.
 */

export type RouteAuthorizationType = 'NONE' | 'CUSTOM' | 'AWS_IAM' | 'JWT';
export type PayloadFormatVersion = '1.0' | '2.0';

export interface HttpApiRoute {
  /** `POST /orders`, `GET /orders/{trackingId}`, `ANY /{proxy+}` or `$default`. */
  routeKey: string;
  /** Integration id from the route's `Target` (`integrations/<id>`). */
  integrationId?: string;
  authorizationType: RouteAuthorizationType;
  authorizerId?: string;
}

export interface HttpApiIntegration {
  id: string;
  /** ARN of the Lambda function behind this `AWS_PROXY` integration. */
  functionArn: string;
  payloadFormatVersion: PayloadFormatVersion;
  /** `TimeoutInMillis`; HTTP APIs default to (and cap at) 30 s. */
  timeoutMs: number;
}

export interface HttpApiAuthorizer {
  id: string;
  name: string;
  /** ARN of the authorizer's Lambda function (taken from `AuthorizerUri`). */
  functionArn: string;
  /** Identity source expressions such as `$request.header.Authorization`. */
  identitySource: string[];
  payloadFormatVersion: PayloadFormatVersion;
  enableSimpleResponses: boolean;
  /** `AuthorizerResultTtlInSeconds`; 0 disables caching. */
  resultTtlSeconds: number;
}

/** A JWT authorizer: who issues the tokens and for which audience (`JwtConfiguration`). */
export interface HttpApiJwtAuthorizer {
  id: string;
  name: string;
  issuer: string;
  audience: string[];
  /** Where the token is, e.g. `$request.header.Authorization`. */
  identitySource: string[];
}

export interface HttpApiCors {
  allowOrigins: string[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
  allowCredentials: boolean;
}

export interface HttpApiDefinition {
  apiLogicalId: string;
  /** What `Ref` of the Api returns: the id inside `routeArn` and `requestContext.apiId`. */
  apiId: string;
  name: string;
  cors?: HttpApiCors;
  routes: HttpApiRoute[];
  /** By integration id (what `Ref` of the integration returns). */
  integrations: Record<string, HttpApiIntegration>;
  /** By authorizer id (what `Ref` of the authorizer returns). */
  authorizers: Record<string, HttpApiAuthorizer>;
  /** JWT authorizers by authorizer id. @default none */
  jwtAuthorizers?: Record<string, HttpApiJwtAuthorizer>;
}

/** The template describes an HTTP API the local gateway cannot serve. */
export class HttpApiConfigError extends Error {
  override name = 'HttpApiConfigError';
}

const MAX_INTEGRATION_TIMEOUT_MS = 30_000;

/**
 * Groups the resolved resources of a template into one definition per `AWS::ApiGatewayV2::Api` with
 * `ProtocolType: HTTP`. `resources` must have their intrinsics resolved already (ApiId, Target,
 * IntegrationUri, AuthorizerUri are plain strings); `refOf` answers what `Ref` of a logical id returns, which
 * is how routes name their integration and authorizer.
 */
export function collectHttpApis(
  resources: Record<string, CfnResource>,
  refOf: (logicalId: string) => string,
): HttpApiDefinition[] {
  const entries = Object.entries(resources);
  const ofType = (type: string, apiId: string): Array<[string, Record<string, unknown>]> =>
    entries
      .filter(([, resource]) => resource.Type === type && resource.Properties?.ApiId === apiId)
      .map(([logicalId, resource]) => [logicalId, resource.Properties ?? {}]);

  return entries
    .filter(([, resource]) => resource.Type === 'AWS::ApiGatewayV2::Api')
    .filter(([, resource]) => resource.Properties?.ProtocolType === 'HTTP')
    .map(([apiLogicalId, resource]) => {
      const apiId = refOf(apiLogicalId);
      const props = resource.Properties ?? {};
      const integrations: Record<string, HttpApiIntegration> = {};
      for (const [logicalId, properties] of ofType('AWS::ApiGatewayV2::Integration', apiId)) {
        const integration = integrationFrom(refOf(logicalId), logicalId, properties);
        integrations[integration.id] = integration;
      }
      const authorizers: Record<string, HttpApiAuthorizer> = {};
      const jwtAuthorizers: Record<string, HttpApiJwtAuthorizer> = {};
      for (const [logicalId, properties] of ofType('AWS::ApiGatewayV2::Authorizer', apiId)) {
        const authorizer = authorizerFrom(refOf(logicalId), logicalId, properties);
        if (authorizer) authorizers[authorizer.id] = authorizer;
        const jwt = jwtAuthorizerFrom(refOf(logicalId), logicalId, properties);
        if (jwt) jwtAuthorizers[jwt.id] = jwt;
      }
      const routes = ofType('AWS::ApiGatewayV2::Route', apiId).map(([logicalId, properties]) =>
        routeFrom(logicalId, properties),
      );
      const cors = corsFrom(props.CorsConfiguration);
      return {
        apiLogicalId,
        apiId,
        name: typeof props.Name === 'string' ? props.Name : apiLogicalId,
        ...(cors ? { cors } : {}),
        routes,
        integrations,
        authorizers,
        ...(Object.keys(jwtAuthorizers).length > 0 ? { jwtAuthorizers } : {}),
      };
    });
}

function routeFrom(logicalId: string, props: Record<string, unknown>): HttpApiRoute {
  const routeKey = requiredString(props.RouteKey, `route ${logicalId}: RouteKey`);
  const target = props.Target;
  let integrationId: string | undefined;
  if (target !== undefined) {
    const match = /^integrations\/(.+)$/.exec(requiredString(target, `route ${logicalId}: Target`));
    if (!match?.[1]) throw new HttpApiConfigError(`route ${logicalId}: Target must be "integrations/<id>"`);
    integrationId = match[1];
  }
  const authorizationType = (props.AuthorizationType ?? 'NONE') as RouteAuthorizationType;
  if (!['NONE', 'CUSTOM', 'AWS_IAM', 'JWT'].includes(authorizationType)) {
    throw new HttpApiConfigError(
      `route ${logicalId}: unknown AuthorizationType ${String(authorizationType)}`,
    );
  }
  return {
    routeKey,
    authorizationType,
    ...(integrationId ? { integrationId } : {}),
    ...(typeof props.AuthorizerId === 'string' ? { authorizerId: props.AuthorizerId } : {}),
  };
}

function integrationFrom(id: string, logicalId: string, props: Record<string, unknown>): HttpApiIntegration {
  if (props.IntegrationType !== 'AWS_PROXY') {
    throw new HttpApiConfigError(
      `integration ${logicalId}: IntegrationType ${String(props.IntegrationType)} is not supported locally (AWS_PROXY to Lambda only)`,
    );
  }
  const uri = requiredString(props.IntegrationUri, `integration ${logicalId}: IntegrationUri`);
  const timeout = Number(props.TimeoutInMillis ?? MAX_INTEGRATION_TIMEOUT_MS);
  return {
    id,
    functionArn: lambdaArnFromUri(uri),
    payloadFormatVersion: payloadVersion(props.PayloadFormatVersion, `integration ${logicalId}`),
    timeoutMs: Math.min(
      Number.isFinite(timeout) && timeout > 0 ? timeout : MAX_INTEGRATION_TIMEOUT_MS,
      MAX_INTEGRATION_TIMEOUT_MS,
    ),
  };
}

function authorizerFrom(
  id: string,
  logicalId: string,
  props: Record<string, unknown>,
): HttpApiAuthorizer | undefined {
  // JWT authorizers are read by jwtAuthorizerFrom: the gateway checks their tokens itself (http-api/jwt.ts).
  if (props.AuthorizerType !== 'REQUEST') return undefined;
  const identitySource = props.IdentitySource ?? [];
  if (!Array.isArray(identitySource) || !identitySource.every((source) => typeof source === 'string')) {
    throw new HttpApiConfigError(`authorizer ${logicalId}: IdentitySource must be a list of strings`);
  }
  const payloadFormatVersion = payloadVersion(
    props.AuthorizerPayloadFormatVersion,
    `authorizer ${logicalId}`,
  );
  return {
    id,
    name: typeof props.Name === 'string' ? props.Name : logicalId,
    functionArn: lambdaArnFromUri(
      requiredString(props.AuthorizerUri, `authorizer ${logicalId}: AuthorizerUri`),
    ),
    identitySource,
    payloadFormatVersion,
    enableSimpleResponses: props.EnableSimpleResponses === true || props.EnableSimpleResponses === 'true',
    resultTtlSeconds: Number(props.AuthorizerResultTtlInSeconds ?? 0) || 0,
  };
}

function jwtAuthorizerFrom(
  id: string,
  logicalId: string,
  props: Record<string, unknown>,
): HttpApiJwtAuthorizer | undefined {
  if (props.AuthorizerType !== 'JWT') return undefined;
  const config = (props.JwtConfiguration ?? {}) as { Issuer?: unknown; Audience?: unknown };
  const audience = config.Audience ?? [];
  if (!Array.isArray(audience) || !audience.every((a) => typeof a === 'string')) {
    throw new HttpApiConfigError(
      `authorizer ${logicalId}: JwtConfiguration.Audience must be a list of strings`,
    );
  }
  const identitySource = props.IdentitySource ?? ['$request.header.Authorization'];
  if (!Array.isArray(identitySource) || !identitySource.every((source) => typeof source === 'string')) {
    throw new HttpApiConfigError(`authorizer ${logicalId}: IdentitySource must be a list of strings`);
  }
  return {
    id,
    name: typeof props.Name === 'string' ? props.Name : logicalId,
    issuer: requiredString(config.Issuer, `authorizer ${logicalId}: JwtConfiguration.Issuer`),
    audience,
    identitySource,
  };
}

function corsFrom(value: unknown): HttpApiCors | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const config = value as Record<string, unknown>;
  const list = (entry: unknown): string[] =>
    Array.isArray(entry) ? entry.filter((item): item is string => typeof item === 'string') : [];
  const maxAge = Number(config.MaxAge);
  return {
    allowOrigins: list(config.AllowOrigins),
    allowMethods: list(config.AllowMethods),
    allowHeaders: list(config.AllowHeaders),
    exposeHeaders: list(config.ExposeHeaders),
    allowCredentials: config.AllowCredentials === true || config.AllowCredentials === 'true',
    ...(Number.isFinite(maxAge) && config.MaxAge !== undefined ? { maxAgeSeconds: maxAge } : {}),
  };
}

/**
 * A Lambda ARN from an integration or authorizer URI: either the ARN itself or the API Gateway service
 * path `arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<lambda arn>/invocations`.
 */
export function lambdaArnFromUri(uri: string): string {
  const match = /:lambda:path\/[^/]+\/functions\/(.+)\/invocations$/.exec(uri);
  if (match?.[1]) return match[1];
  if (/^arn:[^:]+:lambda:/.test(uri)) return uri;
  throw new HttpApiConfigError(`"${uri}" is not a Lambda function ARN or invocation URI`);
}

function payloadVersion(value: unknown, what: string): PayloadFormatVersion {
  const version = value === undefined ? '2.0' : String(value);
  if (version !== '1.0' && version !== '2.0') {
    throw new HttpApiConfigError(`${what}: payload format version must be 1.0 or 2.0, got ${version}`);
  }
  return version;
}

function requiredString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new HttpApiConfigError(`${what} must be a resolved string, got ${JSON.stringify(value)}`);
  }
  return value;
}
