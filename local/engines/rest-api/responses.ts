import type { GatewayRequest } from '../http-api/events.ts';
import type { GatewayResponse } from '../http-api/responses.ts';
import type { RestGatewayResponse } from './definition.ts';

/**
 * The answers a REST API gives itself (no integration ran), by gateway response type, with the template's
 * `AWS::ApiGateway::GatewayResponse` customisations applied: its status code, its response headers (static values and
 * request parameters) and its body template. A type the template does not customise falls back to `DEFAULT_4XX` /
 * `DEFAULT_5XX` when customised, then to API Gateway's own answer.
 */

export type GatewayResponseType =
  | 'ACCESS_DENIED'
  | 'API_CONFIGURATION_ERROR'
  | 'AUTHORIZER_CONFIGURATION_ERROR'
  | 'AUTHORIZER_FAILURE'
  | 'BAD_GATEWAY'
  | 'INTEGRATION_TIMEOUT'
  | 'INVALID_API_KEY'
  | 'INVALID_SIGNATURE'
  | 'MISSING_AUTHENTICATION_TOKEN'
  | 'QUOTA_EXCEEDED'
  | 'REQUEST_TOO_LARGE'
  | 'THROTTLED'
  | 'UNAUTHORIZED';

/** API Gateway's default status and message per type (`null` where it answers `{"message": null}`). */
const DEFAULTS: Record<GatewayResponseType, { statusCode: number; message: string | null }> = {
  ACCESS_DENIED: { statusCode: 403, message: 'User is not authorized to access this resource' },
  API_CONFIGURATION_ERROR: { statusCode: 500, message: 'Internal server error' },
  AUTHORIZER_CONFIGURATION_ERROR: { statusCode: 500, message: null },
  AUTHORIZER_FAILURE: { statusCode: 500, message: null },
  // A Lambda proxy answer API Gateway cannot use, or a function that failed: 502, not a type of its own on AWS.
  BAD_GATEWAY: { statusCode: 502, message: 'Internal server error' },
  INTEGRATION_TIMEOUT: { statusCode: 504, message: 'Endpoint request timed out' },
  INVALID_API_KEY: { statusCode: 403, message: 'Forbidden' },
  INVALID_SIGNATURE: { statusCode: 403, message: 'Forbidden' },
  MISSING_AUTHENTICATION_TOKEN: { statusCode: 403, message: 'Missing Authentication Token' },
  QUOTA_EXCEEDED: { statusCode: 429, message: 'Limit Exceeded' },
  REQUEST_TOO_LARGE: { statusCode: 413, message: 'Request Too Long' },
  THROTTLED: { statusCode: 429, message: 'Too Many Requests' },
  UNAUTHORIZED: { statusCode: 401, message: 'Unauthorized' },
};

export interface ResponseContext {
  request: GatewayRequest;
  stage: string;
  resourcePath?: string;
  pathParameters?: Record<string, string>;
  stageVariables?: Record<string, string>;
}

/** A response parameter's value: `'static'`, `method.request.{header,querystring,path}.<name>`, `stageVariables.<name>`. */
function parameterValue(expression: string, context: ResponseContext): string | undefined {
  const literal = /^'(.*)'$/s.exec(expression);
  if (literal) return literal[1];
  const parameter = /^method\.request\.(header|querystring|path)\.(.+)$/.exec(expression);
  if (parameter?.[2]) {
    const name = parameter[2];
    if (parameter[1] === 'header') return context.request.headers[name.toLowerCase()]?.at(-1);
    if (parameter[1] === 'querystring') {
      return new URLSearchParams(context.request.rawQueryString).getAll(name).at(-1);
    }
    return context.pathParameters?.[name];
  }
  const variable = /^stageVariables\.(.+)$/.exec(expression)?.[1];
  return variable ? context.stageVariables?.[variable] : undefined;
}

/** The few `$context` variables gateway response templates use; others render empty, as unknown ones do on AWS. */
function renderTemplate(
  template: string,
  type: GatewayResponseType,
  message: string | null,
  context: ResponseContext,
): string {
  const variables: Record<string, string> = {
    'context.error.messageString': JSON.stringify(message),
    'context.error.message': message ?? '',
    'context.error.responseType': type,
    'context.requestId': context.request.requestId,
    'context.extendedRequestId': context.request.requestId,
    'context.stage': context.stage,
    'context.resourcePath': context.resourcePath ?? '',
    'context.httpMethod': context.request.method,
  };
  return template.replace(/\$(?:\{([a-zA-Z.]+)\}|([a-zA-Z]+(?:\.[a-zA-Z]+)*))/g, (_match, braced, bare) => {
    return variables[(braced ?? bare) as string] ?? '';
  });
}

export function gatewayResponse(
  type: GatewayResponseType,
  customised: Record<string, RestGatewayResponse>,
  context: ResponseContext,
  message: string | null = DEFAULTS[type].message,
): GatewayResponse {
  const defaults = DEFAULTS[type];
  const custom = customised[type] ?? customised[defaults.statusCode >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX'];
  const statusCode = customised[type]?.statusCode ?? defaults.statusCode;
  const headers: Array<[string, string]> = [['content-type', 'application/json']];
  for (const [name, expression] of Object.entries(custom?.headers ?? {})) {
    const value = parameterValue(expression, context);
    if (value !== undefined) headers.push([name, value]);
  }
  const template = custom?.templates['application/json'];
  const body =
    template === undefined ? JSON.stringify({ message }) : renderTemplate(template, type, message, context);
  return { statusCode, headers, body: Buffer.from(body) };
}
