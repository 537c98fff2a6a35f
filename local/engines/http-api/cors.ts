import type { HttpApiCors } from './definition.ts';
import type { GatewayRequest } from './events.ts';
import type { GatewayResponse } from './responses.ts';

/**
 * CORS as HTTP APIs apply a `CorsConfiguration`: API Gateway answers preflight requests itself (no route
 * or authorizer runs) and sets the CORS headers on every response, replacing any the integration sent.
 */

const CORS_HEADER = /^access-control-/i;

function firstHeader(request: GatewayRequest, name: string): string | undefined {
  return request.headers[name]?.[0];
}

function allowedOrigin(cors: HttpApiCors, origin: string | undefined): string | undefined {
  if (!origin) return undefined;
  const lower = origin.toLowerCase();
  if (cors.allowOrigins.some((allowed) => allowed.toLowerCase() === lower)) return origin;
  if (cors.allowOrigins.includes('*')) return cors.allowCredentials ? origin : '*';
  return undefined;
}

export function isPreflight(request: GatewayRequest): boolean {
  return (
    request.method === 'OPTIONS' &&
    firstHeader(request, 'origin') !== undefined &&
    firstHeader(request, 'access-control-request-method') !== undefined
  );
}

export function preflightResponse(cors: HttpApiCors, request: GatewayRequest): GatewayResponse {
  const headers: Array<[string, string]> = [];
  const origin = allowedOrigin(cors, firstHeader(request, 'origin'));
  if (origin) {
    headers.push(['access-control-allow-origin', origin]);
    const requestedHeaders = firstHeader(request, 'access-control-request-headers');
    const allowHeaders = cors.allowHeaders.includes('*') ? requestedHeaders : cors.allowHeaders.join(',');
    if (allowHeaders) headers.push(['access-control-allow-headers', allowHeaders]);
    if (cors.allowMethods.length > 0)
      headers.push(['access-control-allow-methods', cors.allowMethods.join(',')]);
    if (cors.maxAgeSeconds !== undefined)
      headers.push(['access-control-max-age', String(cors.maxAgeSeconds)]);
    if (cors.allowCredentials) headers.push(['access-control-allow-credentials', 'true']);
    if (origin !== '*') headers.push(['vary', 'origin']);
  }
  return { statusCode: 204, headers, body: Buffer.alloc(0) };
}

export function withCorsHeaders(
  cors: HttpApiCors,
  request: GatewayRequest,
  response: GatewayResponse,
): GatewayResponse {
  const headers = response.headers.filter(([name]) => !CORS_HEADER.test(name));
  const origin = allowedOrigin(cors, firstHeader(request, 'origin'));
  if (origin) {
    headers.push(['access-control-allow-origin', origin]);
    if (cors.exposeHeaders.length > 0)
      headers.push(['access-control-expose-headers', cors.exposeHeaders.join(',')]);
    if (cors.allowCredentials) headers.push(['access-control-allow-credentials', 'true']);
    if (origin !== '*') headers.push(['vary', 'origin']);
  }
  return { ...response, headers };
}
