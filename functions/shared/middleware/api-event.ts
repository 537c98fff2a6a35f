import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { HttpEvent } from '#shared/http.ts';
import * as z from '#shared/zod.ts';

/**
 * The client API comes in two flavours (README, "Deploying"): the HTTP API sends its routes payload format 2.0, the
 * REST API's Lambda proxy integration sends format 1.0. The handlers read one shape, 2.0's; this middleware turns a
 * 1.0 event into it before anything reads the request, so a handler cannot tell the flavours apart:
 * - header names lower-cased, repeated headers and query parameters joined with commas (what 2.0 does);
 * - the authorizer's context moved from `requestContext.authorizer.<key>` to `requestContext.authorizer.lambda`;
 * - `routeKey`, `rawPath`, `requestContext.http` built from the method, the resource and the path.
 * A 2.0 event passes untouched. A 1.0 event is checked with zod first: one that is not what API Gateway sends is a
 * fault of the deployment, thrown (500), never guessed at.
 */

/** REST API proxy events: optional maps arrive as null. */
const restEventSchema = z.object({
  httpMethod: z.string().min(1),
  resource: z.string(),
  path: z.string(),
  headers: z.record(z.string(), z.string().optional()).nullish(),
  multiValueHeaders: z.record(z.string(), z.array(z.string()).optional()).nullish(),
  queryStringParameters: z.record(z.string(), z.string().optional()).nullish(),
  multiValueQueryStringParameters: z.record(z.string(), z.array(z.string()).optional()).nullish(),
  pathParameters: z.record(z.string(), z.string().optional()).nullish(),
  stageVariables: z.record(z.string(), z.string().optional()).nullish(),
  body: z.string().nullish(),
  isBase64Encoded: z.boolean().nullish(),
  requestContext: z.looseObject({
    accountId: z.string(),
    apiId: z.string(),
    requestId: z.string(),
    stage: z.string(),
    domainName: z.string().optional(),
    domainPrefix: z.string().optional(),
    protocol: z.string().optional(),
    requestTimeEpoch: z.number().optional(),
    requestTime: z.string().optional(),
    identity: z.looseObject({ sourceIp: z.string().nullish(), userAgent: z.string().nullish() }).optional(),
    authorizer: z.record(z.string(), z.unknown()).nullish(),
  }),
});

/** A REST API (payload 1.0) event: it has `httpMethod`, which 2.0 events do not. */
export function isRestEvent(event: unknown): boolean {
  return typeof event === 'object' && event !== null && 'httpMethod' in event;
}

/** Values of one name joined as API Gateway joins them in 2.0 (`a,b`); single values when there is no list. */
function joined(
  single: Record<string, string | undefined> | null | undefined,
  multi: Record<string, string[] | undefined> | null | undefined,
  lowerCase: boolean,
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(single ?? {})) {
    if (value !== undefined) out[lowerCase ? name.toLowerCase() : name] = value;
  }
  for (const [name, values] of Object.entries(multi ?? {})) {
    if (values && values.length > 0) out[lowerCase ? name.toLowerCase() : name] = values.join(',');
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

const defined = (map: Record<string, string | undefined> | null | undefined) => {
  const entries = Object.entries(map ?? {}).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
};

/** The 2.0 shape of a REST API proxy event. */
export function toHttpApiEvent(event: APIGatewayProxyEvent): HttpEvent {
  const rest = restEventSchema.parse(event);
  const context = rest.requestContext;
  const method = rest.httpMethod.toUpperCase();
  const routeKey = `${method} ${rest.resource}`;
  const query = joined(rest.queryStringParameters, rest.multiValueQueryStringParameters, false);
  const pathParameters = defined(rest.pathParameters);
  const stageVariables = defined(rest.stageVariables);
  // principalId and integrationLatency are API Gateway's, the other keys the authorizer's context.
  const { principalId: _p, integrationLatency: _l, ...lambda } = context.authorizer ?? {};
  const timeEpoch = context.requestTimeEpoch ?? Date.now();
  return {
    version: '2.0',
    routeKey,
    rawPath: rest.path,
    rawQueryString: query ? new URLSearchParams(query).toString() : '',
    headers: joined(rest.headers, rest.multiValueHeaders, true) ?? {},
    ...(query ? { queryStringParameters: query } : {}),
    ...(pathParameters ? { pathParameters } : {}),
    ...(stageVariables ? { stageVariables } : {}),
    ...(rest.body !== undefined && rest.body !== null ? { body: rest.body } : {}),
    isBase64Encoded: rest.isBase64Encoded ?? false,
    requestContext: {
      accountId: context.accountId,
      apiId: context.apiId,
      domainName: context.domainName ?? '',
      domainPrefix: context.domainPrefix ?? '',
      http: {
        method,
        path: rest.path,
        protocol: context.protocol ?? 'HTTP/1.1',
        sourceIp: context.identity?.sourceIp ?? '',
        userAgent: context.identity?.userAgent ?? '',
      },
      requestId: context.requestId,
      routeKey,
      stage: context.stage,
      time: context.requestTime ?? new Date(timeEpoch).toISOString(),
      timeEpoch,
      ...(context.authorizer ? { authorizer: { lambda } } : {}),
    },
  } as HttpEvent;
}

/** First in the HTTP chain after the error mapper: every later middleware and the handler see a 2.0 event. */
export function restEventNormalizer(): MiddlewareObj<HttpEvent> {
  return {
    before: (request) => {
      if (isRestEvent(request.event)) {
        request.event = toHttpApiEvent(request.event as unknown as APIGatewayProxyEvent);
      }
    },
  };
}
