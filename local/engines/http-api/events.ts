import type {
  APIGatewayEventRequestContextV2,
  APIGatewayProxyEvent,
  APIGatewayProxyEventV2,
  APIGatewayRequestAuthorizerEventV2,
} from 'aws-lambda';
import type { RouteMatch } from './routes.ts';

/**
 * The events API Gateway sends to Lambda: payload format 2.0 and 1.0 for integrations, and the REQUEST
 * authorizer events. Field by field as in "Create AWS Lambda proxy integrations for HTTP APIs" and
 * "Lambda authorizers for HTTP APIs" in the API Gateway developer guide.
 */

/** One HTTP request as the gateway received it. */
export interface GatewayRequest {
  method: string;
  /** The path as sent (percent-encoded), without the query string. */
  rawPath: string;
  rawQueryString: string;
  /** Lower-cased names; every value of repeated headers, in order. */
  headers: Record<string, string[]>;
  body: Buffer;
  sourceIp: string;
  protocol: string;
  requestId: string;
  receivedAt: Date;
  /** Host (and port) the client called: the local stand-in for the execute-api domain name. */
  domainName: string;
}

export interface EventScope {
  accountId: string;
  apiId: string;
  match: RouteMatch<{ routeKey: string }>;
  /** REST APIs (payload 1.0 only): the stage and what the request context says about it. @default `$default` */
  stage?: string;
  stageVariables?: Record<string, string>;
  /** `requestContext.resourceId`. @default the route key */
  resourceId?: string;
  /** `requestContext.path`: a REST API's includes the stage. @default the request path */
  contextPath?: string;
  /** The API key the request was metered under (REST APIs with usage plans). */
  apiKey?: { value: string; id: string };
  /**
   * REST APIs pass a body base64-encoded only when its content type is one of the API's `BinaryMediaTypes`.
   * @default HTTP APIs' rule: anything not textual is base64-encoded
   */
  binaryMediaType?: (contentType: string | undefined) => boolean;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000`, the format of `requestContext.time`. */
export function requestTime(date: Date): string {
  const pad = (value: number): string => String(value).padStart(2, '0');
  return (
    `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

/**
 * Whether API Gateway passes the body as text. HTTP APIs have no binary media type setting: everything
 * that is not textual arrives base64-encoded, form posts included.
 */
export function isTextContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type === 'application/javascript' ||
    type === 'application/xml' ||
    type.endsWith('+json') ||
    type.endsWith('+xml')
  );
}

function encodedBody(
  request: GatewayRequest,
  scope?: EventScope,
): { body: string; isBase64Encoded: boolean } | undefined {
  if (request.body.length === 0) return undefined;
  const contentType = request.headers['content-type']?.[0];
  const text = scope?.binaryMediaType ? !scope.binaryMediaType(contentType) : isTextContentType(contentType);
  return text
    ? { body: request.body.toString('utf8'), isBase64Encoded: false }
    : { body: request.body.toString('base64'), isBase64Encoded: true };
}

function decodePath(rawPath: string): string {
  try {
    return decodeURI(rawPath);
  } catch {
    return rawPath;
  }
}

/** Format 2.0 joins repeated headers with commas and moves cookies to `cookies`. */
function joinedHeaders(request: GatewayRequest): { headers: Record<string, string>; cookies: string[] } {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, values] of Object.entries(request.headers)) {
    if (name === 'cookie') {
      cookies.push(
        ...values.flatMap((value) => value.split(';').map((cookie) => cookie.trim())).filter(Boolean),
      );
    } else {
      headers[name] = values.join(',');
    }
  }
  return { headers, cookies };
}

function queryParameters(rawQueryString: string): Map<string, string[]> {
  const parameters = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    parameters.set(name, [...(parameters.get(name) ?? []), value]);
  }
  return parameters;
}

function requestContextV2(request: GatewayRequest, scope: EventScope): APIGatewayEventRequestContextV2 {
  return {
    accountId: scope.accountId,
    apiId: scope.apiId,
    domainName: request.domainName,
    domainPrefix: request.domainName.split('.')[0]?.split(':')[0] ?? request.domainName,
    http: {
      method: request.method,
      path: decodePath(request.rawPath),
      protocol: request.protocol,
      sourceIp: request.sourceIp,
      userAgent: request.headers['user-agent']?.join(',') ?? '',
    },
    requestId: request.requestId,
    routeKey: scope.match.route.routeKey,
    stage: '$default',
    time: requestTime(request.receivedAt),
    timeEpoch: request.receivedAt.getTime(),
  };
}

/** The parts shared by the 2.0 integration event and the 2.0 authorizer event. */
function commonV2(request: GatewayRequest, scope: EventScope) {
  const { headers, cookies } = joinedHeaders(request);
  const query = queryParameters(request.rawQueryString);
  const hasPathParameters = Object.keys(scope.match.pathParameters).length > 0;
  return {
    version: '2.0',
    routeKey: scope.match.route.routeKey,
    rawPath: decodePath(request.rawPath),
    rawQueryString: request.rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(query.size > 0
      ? {
          queryStringParameters: Object.fromEntries(
            [...query].map(([name, values]) => [name, values.join(',')]),
          ),
        }
      : {}),
    requestContext: requestContextV2(request, scope),
    ...(hasPathParameters ? { pathParameters: { ...scope.match.pathParameters } } : {}),
  };
}

export function integrationEventV2(
  request: GatewayRequest,
  scope: EventScope,
  authorizer: Record<string, unknown> | undefined,
): APIGatewayProxyEventV2 {
  const common = commonV2(request, scope);
  const body = encodedBody(request);
  return {
    ...common,
    requestContext: { ...common.requestContext, ...(authorizer ? { authorizer } : {}) },
    ...(body ? { body: body.body } : {}),
    isBase64Encoded: body?.isBase64Encoded ?? false,
  };
}

export function authorizerEventV2(
  request: GatewayRequest,
  scope: EventScope,
  routeArn: string,
  identitySource: string[],
): APIGatewayRequestAuthorizerEventV2 {
  const common = commonV2(request, scope);
  return { ...common, type: 'REQUEST', routeArn, identitySource, cookies: common.cookies ?? [] };
}

export function integrationEventV1(
  request: GatewayRequest,
  scope: EventScope,
  authorizer: Record<string, unknown> | undefined,
): APIGatewayProxyEvent & { version: '1.0' } {
  const multiValueHeaders: Record<string, string[]> = {};
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(request.headers)) {
    multiValueHeaders[name] = [...values];
    const last = values.at(-1);
    if (last !== undefined) headers[name] = last;
  }
  const query = queryParameters(request.rawQueryString);
  const body = encodedBody(request, scope);
  const path = decodePath(request.rawPath);
  const hasPathParameters = Object.keys(scope.match.pathParameters).length > 0;
  return {
    version: '1.0',
    resource: scope.match.resourcePath,
    path,
    httpMethod: request.method,
    headers,
    multiValueHeaders,
    queryStringParameters:
      query.size > 0
        ? Object.fromEntries([...query].map(([name, values]) => [name, values.at(-1) ?? '']))
        : null,
    multiValueQueryStringParameters: query.size > 0 ? Object.fromEntries(query) : null,
    requestContext: {
      accountId: scope.accountId,
      apiId: scope.apiId,
      authorizer: authorizer ?? null,
      domainName: request.domainName,
      domainPrefix: request.domainName.split('.')[0]?.split(':')[0] ?? request.domainName,
      extendedRequestId: request.requestId,
      httpMethod: request.method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: scope.apiKey?.value ?? null,
        apiKeyId: scope.apiKey?.id ?? null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.sourceIp,
        user: null,
        userAgent: request.headers['user-agent']?.join(',') ?? null,
        userArn: null,
      },
      path: scope.contextPath ?? path,
      protocol: request.protocol,
      requestId: request.requestId,
      requestTime: requestTime(request.receivedAt),
      requestTimeEpoch: request.receivedAt.getTime(),
      resourceId: scope.resourceId ?? scope.match.route.routeKey,
      resourcePath: scope.match.resourcePath,
      stage: scope.stage ?? '$default',
    },
    pathParameters: hasPathParameters ? { ...scope.match.pathParameters } : null,
    stageVariables:
      scope.stageVariables && Object.keys(scope.stageVariables).length > 0
        ? { ...scope.stageVariables }
        : null,
    body: body?.body ?? null,
    isBase64Encoded: body?.isBase64Encoded ?? false,
  };
}

/** The 1.0 REQUEST authorizer event: the 1.0 proxy event without a body, plus the method ARN and identity. */
export function authorizerEventV1(
  request: GatewayRequest,
  scope: EventScope,
  routeArn: string,
  identitySource: string[],
): Record<string, unknown> {
  const { body: _body, isBase64Encoded: _encoded, ...event } = integrationEventV1(request, scope, undefined);
  const { authorizer: _authorizer, ...requestContext } = event.requestContext;
  return {
    ...event,
    requestContext,
    type: 'REQUEST',
    methodArn: routeArn,
    identitySource: identitySource.join(','),
    authorizationToken: identitySource.join(','),
  };
}
