import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdempotencyKeyReused, IdempotentRequestInProgress } from '#functions/orders/acceptance.ts';
import { OrderLimitExceeded } from '#functions/orders/errors.ts';
import { CardDeclined } from '#functions/sandbox/provider-errors.ts';
import { WebhookNotFound } from '#functions/webhooks/endpoints.ts';
import { ConcurrentModification } from '#shared/errors.ts';
import { ApiError, type ApiEvent, type ApiResult, jsonResponse } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import { httpChain } from '#shared/middleware/http.ts';
import * as z from '#shared/zod.ts';
import { apiEvent, lambdaContext, parseBody } from '../functions/helpers.ts';

const LIMIT = 64;

const bodySchema = z.strictObject({
  items: z.array(z.object({ sku: z.string(), quantity: z.number().int().positive() })).min(1),
});
const pathSchema = z.object({ id: z.uuid({ error: 'must be an id (UUID)' }) });
const querySchema = z.object({ limit: z.string().regex(/^\d+$/, { error: 'must be a number' }).optional() });

/** A route behind the edge that answers with what it was handed, or throws what the test gives it. */
let fail: unknown;
const seen: ApiEvent[] = [];
const handler = httpChain({ body: { schema: bodySchema, limitBytes: LIMIT } }).handler(async (event) => {
  seen.push(event);
  if (fail !== undefined) throw fail;
  return jsonResponse(200, { body: event.parsed.body, correlationId: event.parsed.correlationId });
});

const optionalBody = httpChain({
  path: pathSchema,
  query: querySchema,
  body: { schema: z.strictObject({ grace: z.number().optional() }), limitBytes: LIMIT, whenEmpty: {} },
}).handler(async (event) => jsonResponse(200, event.parsed));

const ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const valid = { items: [{ sku: 'A', quantity: 1 }] };
const call = (event: ApiEvent) => handler(event, lambdaContext());

function errorOf(result: ApiResult) {
  return (parseBody(result) as { error: { code: string; message: string; details?: unknown } }).error;
}

beforeEach(() => {
  fail = undefined;
  seen.length = 0;
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the error mapper', () => {
  it('answers an ApiError with its status, code, message and headers', async () => {
    fail = new ApiError(409, 'request_in_progress', 'still working', undefined, { 'retry-after': '1' });

    const result = await call(apiEvent({ body: valid }));

    expect(result.statusCode).toBe(409);
    expect(result.headers).toMatchObject({ 'content-type': 'application/json', 'retry-after': '1' });
    expect(parseBody(result)).toEqual({ error: { code: 'request_in_progress', message: 'still working' } });
  });

  it('answers an ApiError of another dialect with its own body (the sandbox provider)', async () => {
    fail = new CardDeclined();

    const result = await call(apiEvent({ body: valid }));

    expect(result.statusCode).toBe(402);
    expect(parseBody(result)).toEqual({
      error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' },
    });
  });

  it.each([
    [new IdempotencyKeyReused(), 422, 'idempotency_key_reused'],
    [new OrderLimitExceeded('over the cap'), 422, 'order_limit_exceeded'],
    [new WebhookNotFound('w-1'), 404, 'not_found'],
    [new ConcurrentModification('quota kept moving'), 503, 'try_again'],
  ])('maps the domain error %s to its status in one place', async (error, status, code) => {
    fail = error;

    const result = await call(apiEvent({ body: valid }));

    expect(result.statusCode).toBe(status);
    expect(errorOf(result).code).toBe(code);
  });

  it('keeps Retry-After on a domain error that asks the client to come back', async () => {
    fail = new IdempotentRequestInProgress();

    const result = await call(apiEvent({ body: valid }));

    expect(result.statusCode).toBe(409);
    expect(result.headers).toMatchObject({ 'retry-after': '1' });
    expect(errorOf(result)).toEqual({
      code: 'request_in_progress',
      message: 'a request with this Idempotency-Key is still being processed; retry shortly',
    });
  });

  it('answers a busy table with 503 temporarily_unavailable and Retry-After', async () => {
    fail = new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} });
    const warn = vi.spyOn(logger, 'warn');

    const result = await call(apiEvent({ body: valid }));

    expect(result.statusCode).toBe(503);
    expect(result.headers).toMatchObject({ 'retry-after': '1' });
    expect(errorOf(result).code).toBe('temporarily_unavailable');
    expect(warn).toHaveBeenCalledWith('request refused: table busy', expect.anything());
  });

  it('answers anything else with an opaque 500 and logs the error', async () => {
    const error = new Error('connection to 10.0.0.7 reset; secret=hunter2');
    fail = error;
    const logged = vi.spyOn(logger, 'error');

    const result = await call(apiEvent({ body: valid }));

    expect(result.statusCode).toBe(500);
    expect(parseBody(result)).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
    expect(result.body).not.toContain('hunter2');
    expect(logged).toHaveBeenCalledWith('request failed', { error });
  });
});

describe('the correlation id', () => {
  it('echoes a safe x-correlation-id, hands it to the handler and puts it on the log scope', async () => {
    const appended = vi.spyOn(logger, 'appendKeys');

    const result = await call(apiEvent({ body: valid, headers: { 'x-correlation-id': 'corr-42' } }));

    expect(result.headers?.['x-correlation-id']).toBe('corr-42');
    expect(parseBody(result).correlationId).toBe('corr-42');
    expect(appended).toHaveBeenCalledWith({ correlationId: 'corr-42' });
  });

  it('falls back to the API request id when the supplied id is unsafe to log', async () => {
    const result = await call(apiEvent({ body: valid, headers: { 'x-correlation-id': 'a b\nforged' } }));

    expect(result.headers?.['x-correlation-id']).toBe('api-request-1');
  });

  it('is on error answers too', async () => {
    fail = new Error('boom');

    const result = await call(apiEvent({ body: valid, headers: { 'x-correlation-id': 'corr-9' } }));

    expect(result.statusCode).toBe(500);
    expect(result.headers?.['x-correlation-id']).toBe('corr-9');
  });
});

describe('the request body', () => {
  it('refuses a body over the limit with 413 before parsing it', async () => {
    const result = await call(apiEvent({ rawBody: `{"items":[],"pad":"${'x'.repeat(LIMIT)}"}` }));

    expect(result.statusCode).toBe(413);
    expect(errorOf(result)).toEqual({
      code: 'payload_too_large',
      message: `request body exceeds ${LIMIT} bytes`,
    });
    expect(seen).toHaveLength(0);
  });

  it('counts the decoded bytes of a base64 body', async () => {
    const event = apiEvent({});
    event.body = Buffer.from(JSON.stringify(valid)).toString('base64');
    event.isBase64Encoded = true;

    const result = await call(event);

    expect(result.statusCode).toBe(200);
    expect(parseBody(result).body).toEqual(valid);
  });

  it.each([
    ['a position', '{"token": "tok_secret" x}', 'request body is not valid JSON (at position 23)'],
    ['no position', '{"token": tok_secret}', 'request body is not valid JSON'],
  ])('answers invalid JSON with %s only, never the text V8 quotes', async (_, rawBody, message) => {
    const info = vi.spyOn(logger, 'info');

    const result = await call(apiEvent({ rawBody }));

    expect(result.statusCode).toBe(400);
    expect(errorOf(result)).toEqual({ code: 'invalid_json', message });
    expect(result.body).not.toContain('tok_secret');
    expect(JSON.stringify(info.mock.calls)).not.toContain('tok_secret');
  });

  it('requires a body unless the route gives one for an empty request', async () => {
    const missing = await call(apiEvent({ rawBody: '  ' }));
    const defaulted = await optionalBody(apiEvent({ pathParameters: { id: ID } }), lambdaContext());

    expect(missing.statusCode).toBe(400);
    expect(errorOf(missing)).toEqual({
      code: 'invalid_json',
      message: 'request body is required (a JSON object)',
    });
    expect(defaulted.statusCode).toBe(200);
    expect(parseBody(defaulted).body).toEqual({});
  });

  it('answers a schema failure with 400 validation_failed and where each problem is', async () => {
    const result = await call(apiEvent({ body: { items: [{ sku: 'A', quantity: 0 }], extra: 1 } }));

    expect(result.statusCode).toBe(400);
    const error = errorOf(result);
    expect(error.code).toBe('validation_failed');
    expect(error.message).toMatch(/^invalid request body: /);
    expect(error.details).toEqual([
      { path: 'items[0].quantity', message: expect.any(String) },
      { path: '(body)', message: expect.stringContaining('extra') },
    ]);
  });
});

describe('path and query parameters', () => {
  it('hands the handler the validated parts and leaves the caller’s event as it was', async () => {
    const event = apiEvent({ pathParameters: { id: ID } });
    event.queryStringParameters = { limit: '5' };

    const result = await optionalBody(event, lambdaContext());

    expect(parseBody(result)).toMatchObject({ path: { id: ID }, query: { limit: '5' }, body: {} });
    expect(event).not.toHaveProperty('parsed');
  });

  it('answers a bad path parameter with invalid path details', async () => {
    const result = await optionalBody(apiEvent({ pathParameters: { id: 'nope' } }), lambdaContext());

    expect(result.statusCode).toBe(400);
    expect(errorOf(result)).toEqual({
      code: 'validation_failed',
      message: 'invalid path: id: must be an id (UUID)',
      details: [{ path: 'id', message: 'must be an id (UUID)' }],
    });
  });

  it('answers a bad query parameter with invalid query details', async () => {
    const event = apiEvent({ pathParameters: { id: ID } });
    event.queryStringParameters = { limit: 'many' };

    const result = await optionalBody(event, lambdaContext());

    expect(result.statusCode).toBe(400);
    expect(errorOf(result).message).toBe('invalid query: limit: must be a number');
  });
});
