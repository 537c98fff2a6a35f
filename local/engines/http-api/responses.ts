import type { PayloadFormatVersion } from './definition.ts';

/**
 * Turns a Lambda function's answer into the HTTP response API Gateway would send, and the gateway's own
 * error responses (`{"message": "..."}` bodies, as HTTP APIs write them).
 */

export interface GatewayResponse {
  statusCode: number;
  /** Name/value pairs; a name may repeat (`set-cookie`). */
  headers: Array<[string, string]>;
  body: Buffer;
}

export function gatewayError(statusCode: number, message: string): GatewayResponse {
  return {
    statusCode,
    headers: [['content-type', 'application/json']],
    body: Buffer.from(JSON.stringify({ message })),
  };
}

export const NOT_FOUND = (): GatewayResponse => gatewayError(404, 'Not Found');
export const UNAUTHORIZED = (): GatewayResponse => gatewayError(401, 'Unauthorized');
export const FORBIDDEN = (): GatewayResponse => gatewayError(403, 'Forbidden');
export const INTERNAL_ERROR = (): GatewayResponse => gatewayError(500, 'Internal Server Error');
export const SERVICE_UNAVAILABLE = (): GatewayResponse => gatewayError(503, 'Service Unavailable');
export const PAYLOAD_TOO_LARGE = (): GatewayResponse => gatewayError(413, 'Request Entity Too Large');

/** The integration answered something API Gateway cannot turn into a response (it answers 500). */
export class MalformedIntegrationResponseError extends Error {
  override name = 'MalformedIntegrationResponseError';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function headerValue(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

function structuredResponse(payload: Record<string, unknown>): GatewayResponse {
  const statusCode = Number(payload.statusCode);
  if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    throw new MalformedIntegrationResponseError(
      `statusCode ${JSON.stringify(payload.statusCode)} is not an HTTP status`,
    );
  }
  const headers: Array<[string, string]> = [];
  const single = isRecord(payload.headers) ? payload.headers : {};
  const multi = isRecord(payload.multiValueHeaders) ? payload.multiValueHeaders : {};
  for (const [name, value] of Object.entries(single)) {
    if (value !== null && value !== undefined && !(name in multi)) headers.push([name, headerValue(value)]);
  }
  for (const [name, values] of Object.entries(multi)) {
    for (const value of Array.isArray(values) ? values : [values]) headers.push([name, headerValue(value)]);
  }
  if (Array.isArray(payload.cookies)) {
    for (const cookie of payload.cookies) headers.push(['set-cookie', headerValue(cookie)]);
  }
  const rawBody = payload.body;
  const text =
    rawBody === undefined || rawBody === null
      ? ''
      : typeof rawBody === 'string'
        ? rawBody
        : JSON.stringify(rawBody);
  const base64 = payload.isBase64Encoded === true || payload.isBase64Encoded === 'true';
  return { statusCode, headers, body: base64 ? Buffer.from(text, 'base64') : Buffer.from(text) };
}

/**
 * Format 2.0: an object with `statusCode` is a structured response; anything else is the body of a
 * 200 `application/json` response (a string as is, other values as JSON). Format 1.0 requires the
 * structured form.
 */
export function integrationResponse(payload: unknown, version: PayloadFormatVersion): GatewayResponse {
  if (isRecord(payload) && 'statusCode' in payload) return structuredResponse(payload);
  if (version === '1.0') {
    throw new MalformedIntegrationResponseError('payload format 1.0 responses need a statusCode');
  }
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload ?? null);
  return { statusCode: 200, headers: [['content-type', 'application/json']], body: Buffer.from(body) };
}
