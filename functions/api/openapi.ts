/**
 * The client API's OpenAPI 3.1 document, generated from the zod schemas the handlers validate their requests with and
 * type their answers with, so no shape is written twice. `npm run openapi` writes it to `openapi.json` (committed;
 * test/unit/api/openapi.test.ts fails when it is stale), and `GET /openapi.json` serves that file.
 *
 * Not bundled into any function: the serving route imports the committed JSON, not this module (zod's JSON Schema
 * emitter alone would double its bundle).
 */

import { OPENAPI_ROUTE, PREFER_WAIT_MAX_SECONDS } from '#contracts/api.ts';
import { ORDER_EVENT_TYPES } from '#contracts/events.ts';
import { IDEMPOTENCY_KEY_PATTERN } from '#functions/orders/idempotency.ts';
import {
  acceptedOrderSchema,
  orderPathSchema,
  orderViewSchema,
  placeOrderSchema,
} from '#functions/orders/order.ts';
import { webhookPayloadSchema } from '#functions/webhooks/payload.ts';
import { webhookRegistrationSchema } from '#functions/webhooks/registration.ts';
import {
  createdWebhookSchema,
  DEFAULT_DELIVERIES_LIMIT,
  DEFAULT_SECRET_GRACE_SECONDS,
  deliveriesPageSchema,
  deliveriesQuerySchema,
  enabledWebhookSchema,
  rotatedSecretSchema,
  rotateSecretBodySchema,
  webhookListSchema,
  webhookPathSchema,
} from '#functions/webhooks/route-schemas.ts';
import { BUSY_RETRY_AFTER_SECONDS, errorBodySchema } from '#shared/http.ts';
import * as z from '#shared/zod.ts';
import packageJson from '../../package.json' with { type: 'json' };

/** Where `npm run openapi` writes the document, relative to the repository root. */
export const OPENAPI_FILE = 'openapi.json';

type Json = Record<string, unknown>;

/** A zod schema as the JSON Schema (2020-12, OpenAPI 3.1's dialect) of what a client sends or receives. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as Json;
  return rest;
}

/** The properties of an object schema as OpenAPI parameters (`in: path` or `in: query`). */
function parametersOf(
  schema: z.ZodType,
  where: 'path' | 'query',
  descriptions: Record<string, string>,
): Json[] {
  const object = jsonSchema(schema, 'input') as { properties: Record<string, Json>; required?: string[] };
  return Object.entries(object.properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (object.required ?? []).includes(name),
    ...(descriptions[name] ? { description: descriptions[name] } : {}),
    schema: property,
  }));
}

const ref = (kind: 'schemas' | 'responses' | 'headers' | 'parameters', name: string) => ({
  $ref: `#/components/${kind}/${name}`,
});
const json = (schema: Json, examples?: Record<string, unknown>) => ({
  'application/json': {
    schema,
    ...(examples
      ? { examples: Object.fromEntries(Object.entries(examples).map(([k, value]) => [k, { value }])) }
      : {}),
  },
});
const apiError = (code: string, message: string, details?: Array<{ path: string; message: string }>) => ({
  error: { code, message, ...(details ? { details } : {}) },
});
/**
 * An error answer of the handlers: the shared body, the codes this status carries, an example of each. `orGateway`:
 * API Gateway may answer the same status itself (`{message}`), when the function failed or timed out.
 */
function errorResponse(
  description: string,
  examples: Record<string, unknown>,
  headers: Json = {},
  { orGateway = false }: { orGateway?: boolean } = {},
): Json {
  const schema = orGateway
    ? { anyOf: [ref('schemas', 'Error'), ref('schemas', 'GatewayError')] }
    : ref('schemas', 'Error');
  return {
    description,
    headers: { 'x-correlation-id': ref('headers', 'CorrelationId'), ...headers },
    content: json(schema, examples),
  };
}

const TRACKING_ID = '0b0d5a57-3c1e-4a53-9c55-7f2e8f0c2a11';
const WEBHOOK_ID = '6f1c2e0a-8d3b-4b7a-a1e2-5c9d0f4b3e21';
const AT = '2026-12-07T10:15:30.000Z';

const ORDER_EXAMPLE = {
  customer: { id: 'c-1', email: 'ada@example.com', name: 'Ada' },
  items: [{ sku: 'espresso', quantity: 2 }],
  currency: 'EUR',
  paymentToken: 'tok_ok',
};
const ACCEPTED_EXAMPLE = { trackingId: TRACKING_ID, status: 'PENDING', statusUrl: `/orders/${TRACKING_ID}` };
const ORDER_VIEW_EXAMPLE = {
  trackingId: TRACKING_ID,
  status: 'CONFIRMED',
  version: 5,
  items: [{ sku: 'espresso', quantity: 2 }],
  amount: 500,
  currency: 'EUR',
  paymentRef: 'ch_3f9a1c',
  failureReason: null,
  hold: null,
  createdAt: AT,
  updatedAt: '2026-12-07T10:15:31.200Z',
  timeline: [
    { step: 'ReserveStock', status: 'SUCCEEDED', at: '2026-12-07T10:15:30.400Z' },
    { step: 'AuthorizePayment', status: 'SUCCEEDED', at: '2026-12-07T10:15:30.900Z' },
    { step: 'ConfirmOrder', status: 'SUCCEEDED', at: '2026-12-07T10:15:31.200Z' },
  ],
};
const PENDING_VIEW_EXAMPLE = {
  ...ORDER_VIEW_EXAMPLE,
  status: 'PENDING',
  version: 1,
  amount: null,
  paymentRef: null,
  updatedAt: AT,
  timeline: [],
};
const CANCELLED_VIEW_EXAMPLE = {
  ...ORDER_VIEW_EXAMPLE,
  status: 'CANCELLED',
  paymentRef: null,
  failureReason: 'PAYMENT_DECLINED',
  timeline: [
    { step: 'ReserveStock', status: 'SUCCEEDED', at: '2026-12-07T10:15:30.400Z' },
    { step: 'AuthorizePayment', status: 'FAILED', at: '2026-12-07T10:15:30.900Z', detail: 'card declined' },
    { step: 'ReleaseStock', status: 'SUCCEEDED', at: '2026-12-07T10:15:31.000Z' },
    { step: 'CancelOrder', status: 'SUCCEEDED', at: '2026-12-07T10:15:31.100Z' },
  ],
};
const WEBHOOK_URL = 'https://hooks.example.com/buzzer';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** The answers any authenticated route may give before or beside its own: the gateway's and the edge's. */
const COMMON_ERRORS = {
  '401': ref('responses', 'Unauthenticated'),
  '403': ref('responses', 'Forbidden'),
  '429': ref('responses', 'RateLimited'),
  '500': ref('responses', 'InternalError'),
  '502': ref('responses', 'GatewayFailure'),
  '503': ref('responses', 'TemporarilyUnavailable'),
  '504': ref('responses', 'GatewayFailure'),
};
const BODY_ERRORS = { '413': ref('responses', 'PayloadTooLarge') };

const invalidPath = (name: string, message: string) =>
  errorResponse('The path is not valid: `validation_failed`.', {
    validation_failed: apiError('validation_failed', `invalid path: ${name}: ${message}`, [
      { path: name, message },
    ]),
  });
const invalidBody = (extra: Record<string, unknown> = {}) => ({
  invalid_json: apiError('invalid_json', 'request body is not valid JSON (at position 12)'),
  validation_failed: apiError(
    'validation_failed',
    'invalid request body: items[0].quantity: must be at least 1',
    [{ path: 'items[0].quantity', message: 'must be at least 1' }],
  ),
  ...extra,
});
const webhookNotFound = errorResponse(
  'No such webhook for this client (another client\u2019s id answers the same).',
  {
    not_found: apiError('not_found', 'webhook not found'),
  },
);

function paths(): Json {
  const orderPath = parametersOf(orderPathSchema, 'path', {
    trackingId: 'The `trackingId` of the 202 (the last segment of `statusUrl`).',
  });
  const webhookPath = parametersOf(webhookPathSchema, 'path', {
    id: 'The webhook id `POST /webhooks` answered.',
  });
  const security = [{ apiKey: [] }];
  return {
    '/orders': {
      post: {
        operationId: 'placeOrder',
        summary: 'Place an order',
        description:
          'Accepts the order and answers `202` at once; the payment, stock, mail and loyalty work happens behind a ' +
          'queue. Follow the order with `GET /orders/{trackingId}` (poll, or `Prefer: wait=N`), or a webhook. ' +
          'The same `Idempotency-Key` and body answer the same 202 (`Idempotent-Replayed: true`); the same key ' +
          'with another body answers 422.',
        security,
        parameters: [ref('parameters', 'IdempotencyKey'), ref('parameters', 'Prefer')],
        requestBody: {
          required: true,
          content: json(ref('schemas', 'PlaceOrder'), { espresso: ORDER_EXAMPLE }),
        },
        responses: {
          '200': {
            description:
              'Only with `Prefer: wait=N`: the order ended (`CONFIRMED` or `CANCELLED`) within the wait; the body ' +
              '`GET /orders/{trackingId}` answers.',
            headers: {
              'Preference-Applied': ref('headers', 'PreferenceApplied'),
              'Content-Location': ref('headers', 'StatusLocation'),
              Location: ref('headers', 'StatusLocation'),
              'Idempotent-Replayed': ref('headers', 'IdempotentReplayed'),
              'x-correlation-id': ref('headers', 'CorrelationId'),
            },
            content: json(ref('schemas', 'OrderView'), {
              confirmed: ORDER_VIEW_EXAMPLE,
              cancelled: CANCELLED_VIEW_EXAMPLE,
            }),
          },
          '202': {
            description:
              'Accepted: the order is `PENDING`. With `Prefer: wait=N`, it had not ended within the wait ' +
              '(`Preference-Applied` says the wait granted).',
            headers: {
              Location: ref('headers', 'StatusLocation'),
              'Preference-Applied': ref('headers', 'PreferenceApplied'),
              'Idempotent-Replayed': ref('headers', 'IdempotentReplayed'),
              'x-correlation-id': ref('headers', 'CorrelationId'),
            },
            content: json(ref('schemas', 'AcceptedOrder'), { accepted: ACCEPTED_EXAMPLE }),
          },
          '400': errorResponse(
            'The request is not valid: `invalid_json`, `validation_failed` (with `details`), ' +
              '`idempotency_key_required`, `invalid_idempotency_key`.',
            invalidBody({
              idempotency_key_required: apiError(
                'idempotency_key_required',
                'header Idempotency-Key is required (1-255 printable ASCII)',
              ),
            }),
          ),
          '409': errorResponse(
            '`request_in_progress`: a request with this `Idempotency-Key` is still being accepted; send it again ' +
              'after `Retry-After`.',
            {
              request_in_progress: apiError('request_in_progress', 'a request with this key is in progress'),
            },
            { 'Retry-After': ref('headers', 'RetryAfter') },
          ),
          ...BODY_ERRORS,
          '422': errorResponse(
            'Refused: `idempotency_key_reused` (the key came with another body), `price_unavailable` (a known ' +
              'item has no price in the currency), `order_limit_exceeded` (README, "Money rules").',
            {
              idempotency_key_reused: apiError(
                'idempotency_key_reused',
                'Idempotency-Key was used with a different request body',
              ),
              price_unavailable: apiError('price_unavailable', 'no price in JPY for sku cheesecake'),
            },
          ),
          ...COMMON_ERRORS,
        },
      },
    },
    '/orders/{trackingId}': {
      get: {
        operationId: 'getOrder',
        summary: 'An order: status, timeline, outcome',
        description:
          'Read consistently, so a poll right after the 202 sees the order. With `Prefer: wait=N` the answer is ' +
          'held until the order has ended or N seconds (at most ' +
          `${PREFER_WAIT_MAX_SECONDS}) have passed; either way 200 with the order as it is then.`,
        security,
        parameters: [...orderPath, ref('parameters', 'Prefer')],
        responses: {
          '200': {
            description: 'The order. `PENDING` until the saga ends it `CONFIRMED` or `CANCELLED`.',
            headers: {
              'Preference-Applied': ref('headers', 'PreferenceApplied'),
              'x-correlation-id': ref('headers', 'CorrelationId'),
            },
            content: json(ref('schemas', 'OrderView'), {
              pending: PENDING_VIEW_EXAMPLE,
              confirmed: ORDER_VIEW_EXAMPLE,
              cancelled: CANCELLED_VIEW_EXAMPLE,
            }),
          },
          '400': invalidPath('trackingId', 'must be a tracking id (UUID)'),
          '404': errorResponse(
            'No such order for this client (another client\u2019s order answers the same).',
            {
              not_found: apiError('not_found', 'order not found'),
            },
          ),
          ...COMMON_ERRORS,
        },
      },
    },
    '/webhooks': {
      post: {
        operationId: 'createWebhook',
        summary: 'Register a webhook endpoint',
        description:
          'The URL must be public https (checked again before every delivery). The answer holds the signing ' +
          'secret, shown this once.',
        security,
        requestBody: {
          required: true,
          content: json(ref('schemas', 'WebhookRegistration'), {
            outcomes: { url: WEBHOOK_URL, events: ['OrderConfirmed', 'OrderCancelled'] },
          }),
        },
        responses: {
          '201': {
            description: 'Registered; `secret` is shown here and never again.',
            headers: {
              Location: { description: '`/webhooks/{id}`', schema: { type: 'string' } },
              'x-correlation-id': ref('headers', 'CorrelationId'),
            },
            content: json(ref('schemas', 'CreatedWebhook'), {
              created: {
                id: WEBHOOK_ID,
                url: WEBHOOK_URL,
                events: ['OrderConfirmed', 'OrderCancelled'],
                secret: SECRET,
                status: 'ENABLED',
                createdAt: AT,
              },
            }),
          },
          '400': errorResponse(
            'The request is not valid: `invalid_json`, `validation_failed` (e.g. a URL that is not public https).',
            {
              validation_failed: apiError('validation_failed', 'invalid request body: url: must use https', [
                { path: 'url', message: 'must use https' },
              ]),
            },
          ),
          '409': errorResponse('`webhook_limit_reached`: the client has the most endpoints it may have.', {
            webhook_limit_reached: apiError(
              'webhook_limit_reached',
              'a client can register at most 10 webhook endpoints',
            ),
          }),
          ...BODY_ERRORS,
          ...COMMON_ERRORS,
        },
      },
      get: {
        operationId: 'listWebhooks',
        summary: 'The client\u2019s webhook endpoints',
        security,
        responses: {
          '200': {
            description: 'Every endpoint of the client; a `DISABLED` one says why and since when.',
            headers: { 'x-correlation-id': ref('headers', 'CorrelationId') },
            content: json(ref('schemas', 'WebhookList'), {
              one: {
                webhooks: [
                  {
                    id: WEBHOOK_ID,
                    url: WEBHOOK_URL,
                    events: ['OrderConfirmed', 'OrderCancelled'],
                    status: 'ENABLED',
                    createdAt: AT,
                  },
                ],
              },
            }),
          },
          ...COMMON_ERRORS,
        },
      },
    },
    '/webhooks/{id}': {
      delete: {
        operationId: 'deleteWebhook',
        summary: 'Remove a webhook endpoint',
        security,
        parameters: webhookPath,
        responses: {
          '204': {
            description: 'Removed; nothing more is delivered to it.',
            headers: { 'x-correlation-id': ref('headers', 'CorrelationId') },
          },
          '400': invalidPath('id', 'must be a webhook id (UUID)'),
          '404': webhookNotFound,
          ...COMMON_ERRORS,
        },
      },
    },
    '/webhooks/{id}/rotate-secret': {
      post: {
        operationId: 'rotateWebhookSecret',
        summary: 'A new signing secret',
        description:
          'The previous secret keeps signing (deliveries carry both signatures) for `gracePeriodSeconds` ' +
          `(default ${DEFAULT_SECRET_GRACE_SECONDS}; 0 stops it at once). The body is optional.`,
        security,
        parameters: webhookPath,
        requestBody: {
          required: false,
          content: json(ref('schemas', 'RotateSecret'), { leaked: { gracePeriodSeconds: 0 } }),
        },
        responses: {
          '200': {
            description: 'The new secret, shown this once.',
            headers: { 'x-correlation-id': ref('headers', 'CorrelationId') },
            content: json(ref('schemas', 'RotatedSecret'), {
              rotated: {
                id: WEBHOOK_ID,
                secret: SECRET,
                previousSecretExpiresAt: '2026-12-08T10:15:30.000Z',
              },
            }),
          },
          '400': errorResponse('The request is not valid: `invalid_json`, `validation_failed`.', {
            validation_failed: apiError(
              'validation_failed',
              'invalid request body: gracePeriodSeconds: must not be negative',
              [{ path: 'gracePeriodSeconds', message: 'must not be negative' }],
            ),
          }),
          '404': webhookNotFound,
          ...BODY_ERRORS,
          ...COMMON_ERRORS,
        },
      },
    },
    '/webhooks/{id}/deliveries': {
      get: {
        operationId: 'listWebhookDeliveries',
        summary: 'Delivery attempts, newest first',
        security,
        parameters: [
          ...webhookPath,
          ...parametersOf(deliveriesQuerySchema, 'query', {
            limit: `Attempts per page, 1 to 100 (default ${DEFAULT_DELIVERIES_LIMIT}).`,
            cursor: 'The `nextCursor` of the previous page.',
          }),
        ],
        responses: {
          '200': {
            description: 'One page of attempts; `nextCursor` is null on the last page.',
            headers: { 'x-correlation-id': ref('headers', 'CorrelationId') },
            content: json(ref('schemas', 'DeliveriesPage'), {
              page: {
                attempts: [
                  {
                    deliveryId: 'msg_2f8b1e0c9a7d4c3b',
                    eventType: 'OrderConfirmed',
                    orderId: TRACKING_ID,
                    attempt: 1,
                    at: AT,
                    durationMs: 84,
                    outcome: 'succeeded',
                    statusCode: 204,
                  },
                ],
                nextCursor: null,
              },
            }),
          },
          '400': errorResponse('The request is not valid: `validation_failed`, `invalid_cursor`.', {
            invalid_cursor: apiError('invalid_cursor', 'cursor is not one this API returned'),
          }),
          '404': webhookNotFound,
          ...COMMON_ERRORS,
        },
      },
    },
    '/webhooks/{id}/enable': {
      post: {
        operationId: 'enableWebhook',
        summary: 'Enable an endpoint and replay its failed deliveries',
        description:
          'Replays go out with their original `webhook-id` and body; `more: true` means more failed deliveries ' +
          'wait: call again.',
        security,
        parameters: webhookPath,
        responses: {
          '200': {
            description: 'Enabled; `replayed` failed deliveries were queued again.',
            headers: { 'x-correlation-id': ref('headers', 'CorrelationId') },
            content: json(ref('schemas', 'EnabledWebhook'), {
              enabled: { id: WEBHOOK_ID, status: 'ENABLED', replayed: 3, more: false },
            }),
          },
          '400': invalidPath('id', 'must be a webhook id (UUID)'),
          '404': webhookNotFound,
          ...COMMON_ERRORS,
        },
      },
    },
    [OPENAPI_ROUTE]: {
      get: {
        operationId: 'getOpenApiDocument',
        summary: 'This document',
        description: 'Served without authentication, so tools can read the contract before holding a key.',
        security: [],
        responses: {
          '200': {
            description: 'The OpenAPI 3.1 document.',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
          '500': ref('responses', 'InternalError'),
        },
      },
    },
  };
}

/** One OpenAPI `webhooks` entry per event type: what Buzzer POSTs to a registered endpoint. */
function webhooks(): Json {
  return Object.fromEntries(
    ORDER_EVENT_TYPES.map((type) => [
      type,
      {
        post: {
          operationId: `on${type}`,
          summary: `${type}, delivered to endpoints registered for it`,
          description:
            'Signed per Standard Webhooks (https://www.standardwebhooks.com): verify `webhook-signature` over ' +
            '`<webhook-id>.<webhook-timestamp>.<body>` with the endpoint\u2019s secret (`verifyWebhook` of the ' +
            'typed client), refuse stale timestamps, and deduplicate on `webhook-id` (retries and replays keep ' +
            'it). Deliveries may arrive out of order: keep the highest `data.version` per order.',
          parameters: [
            {
              name: 'webhook-id',
              in: 'header',
              required: true,
              description: 'The delivery\u2019s id, the same on every attempt and replay.',
              schema: { type: 'string' },
            },
            {
              name: 'webhook-timestamp',
              in: 'header',
              required: true,
              description: 'When this attempt was signed, in whole seconds since the epoch.',
              schema: { type: 'string', pattern: '^[0-9]+$' },
            },
            {
              name: 'webhook-signature',
              in: 'header',
              required: true,
              description:
                'Space-separated `v1,<base64 HMAC-SHA256>` signatures: one per active secret (two during a ' +
                'rotation\u2019s grace period).',
              schema: { type: 'string' },
            },
          ],
          requestBody: {
            required: true,
            content: json(ref('schemas', 'WebhookPayload'), {
              [type]: {
                type,
                timestamp: AT,
                data: {
                  orderId: TRACKING_ID,
                  status:
                    type === 'OrderPlaced'
                      ? 'PENDING'
                      : type === 'OrderConfirmed'
                        ? 'CONFIRMED'
                        : 'CANCELLED',
                  version: type === 'OrderPlaced' ? 1 : 5,
                  customerId: 'c-1',
                  items: [{ sku: 'espresso', quantity: 2 }],
                  currency: 'EUR',
                  ...(type === 'OrderPlaced' ? {} : { amount: 500 }),
                  ...(type === 'OrderCancelled' ? { failureReason: 'PAYMENT_DECLINED' } : {}),
                  ...(type === 'OrderConfirmed' ? { paymentRef: 'ch_3f9a1c' } : {}),
                  createdAt: AT,
                },
              },
            }),
          },
          responses: {
            '2XX': { description: 'Received: the delivery is done.' },
            '410': { description: 'Gone: the endpoint is disabled at once, nothing more is sent to it.' },
            default: {
              description:
                'Any other answer, a time-out or no answer is retried with backoff; an endpoint failing for days ' +
                'is disabled (`POST /webhooks/{id}/enable` replays what failed).',
            },
          },
        },
      },
    ]),
  );
}

function components(): Json {
  const gatewayError = {
    type: 'object',
    description: 'An answer of API Gateway itself (no handler ran).',
    properties: { message: { type: ['string', 'null'] } },
    required: ['message'],
  };
  return {
    securitySchemes: {
      apiKey: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'bzk_…',
        description:
          '`Authorization: Bearer <api key>`. A key belongs to one client, which only ever sees its own orders ' +
          'and webhooks. A revoked or expired key is refused within 60 s.',
      },
    },
    schemas: {
      PlaceOrder: jsonSchema(placeOrderSchema, 'input'),
      AcceptedOrder: jsonSchema(acceptedOrderSchema, 'output'),
      OrderView: jsonSchema(orderViewSchema, 'output'),
      WebhookRegistration: jsonSchema(webhookRegistrationSchema(), 'input'),
      CreatedWebhook: jsonSchema(createdWebhookSchema, 'output'),
      WebhookList: jsonSchema(webhookListSchema, 'output'),
      RotateSecret: jsonSchema(rotateSecretBodySchema, 'input'),
      RotatedSecret: jsonSchema(rotatedSecretSchema, 'output'),
      DeliveriesPage: jsonSchema(deliveriesPageSchema, 'output'),
      EnabledWebhook: jsonSchema(enabledWebhookSchema, 'output'),
      WebhookPayload: jsonSchema(webhookPayloadSchema, 'output'),
      Error: jsonSchema(errorBodySchema, 'output'),
      GatewayError: gatewayError,
    },
    parameters: {
      IdempotencyKey: {
        name: 'Idempotency-Key',
        in: 'header',
        required: true,
        description:
          'Your id for this order (1-255 printable ASCII), e.g. a UUID. Retry with the same key and body: the ' +
          'order is created once.',
        schema: { type: 'string', minLength: 1, maxLength: 255, pattern: IDEMPOTENCY_KEY_PATTERN.source },
        example: 'first-order',
      },
      Prefer: {
        name: 'Prefer',
        in: 'header',
        required: false,
        description:
          `RFC 7240 \`wait=N\`: hold the answer until the order has ended or N seconds (at most ` +
          `${PREFER_WAIT_MAX_SECONDS}) have passed. Anything else is ignored.`,
        schema: { type: 'string' },
        example: 'wait=5',
      },
    },
    headers: {
      RetryAfter: {
        description: 'Whole seconds to wait before sending the same request again.',
        schema: { type: 'string', pattern: '^[0-9]+$' },
      },
      PreferenceApplied: {
        description: 'With `Prefer: wait=N`: the wait granted, `wait=<N or the cap>`.',
        schema: { type: 'string', pattern: '^wait=[0-9]+$' },
      },
      StatusLocation: {
        description: 'The order\u2019s URL, `/orders/{trackingId}` (the `statusUrl`).',
        schema: { type: 'string' },
      },
      IdempotentReplayed: {
        description: '`true` when this answers a retry of an earlier request with the same key.',
        schema: { type: 'string', enum: ['true'] },
      },
      CorrelationId: {
        description: 'Your `x-correlation-id` when safe, else the request id: quote it when asking for help.',
        schema: { type: 'string' },
      },
    },
    responses: {
      Unauthenticated: {
        description:
          'No `Authorization` header, or a key the authorizer could not read (API Gateway\u2019s answer).',
        content: {
          'application/json': {
            schema: { anyOf: [ref('schemas', 'GatewayError'), ref('schemas', 'Error')] },
            example: { message: 'Unauthorized' },
          },
        },
      },
      Forbidden: {
        description: 'The key is unknown, revoked or expired (API Gateway\u2019s answer).',
        content: {
          'application/json': { schema: ref('schemas', 'GatewayError'), example: { message: 'Forbidden' } },
        },
      },
      RateLimited: errorResponse(
        'Over the client\u2019s request limits: `rate_limited` with `Retry-After` (send the same request after ' +
          'it); on the REST flavour also `quota_exceeded` (the daily quota; renews at midnight UTC, no ' +
          '`Retry-After`).',
        {
          rate_limited: apiError(
            'rate_limited',
            'too many requests: this client may send 2 a second on average, at most 4 at once; retry after 1 s',
          ),
        },
        { 'Retry-After': ref('headers', 'RetryAfter') },
      ),
      PayloadTooLarge: errorResponse('`payload_too_large`: the body is over the route\u2019s limit.', {
        payload_too_large: apiError('payload_too_large', 'request body exceeds 16384 bytes'),
      }),
      InternalError: errorResponse(
        '`internal_error`: unexpected; logged with the correlation id. Or API Gateway\u2019s own ' +
          '`{"message": "Internal Server Error"}` when the function itself failed.',
        { internal_error: apiError('internal_error', 'internal error') },
        {},
        { orGateway: true },
      ),
      GatewayFailure: {
        description:
          'REST flavour: API Gateway\u2019s answer when the function failed (502) or did not answer in time (504). ' +
          'Safe to retry the same request (`POST /orders` with the same `Idempotency-Key`).',
        content: {
          'application/json': {
            schema: ref('schemas', 'GatewayError'),
            example: { message: 'Endpoint request timed out' },
          },
        },
      },
      TemporarilyUnavailable: errorResponse(
        '`temporarily_unavailable` (the table is busy) or `try_again` (concurrent registrations): send the same ' +
          `request again after \`Retry-After\` (${BUSY_RETRY_AFTER_SECONDS} s; \`POST /orders\` with the same ` +
          '`Idempotency-Key`). Or the HTTP API\u2019s own `{"message": "Service Unavailable"}` when the function did ' +
          'not answer in time (no `Retry-After`).',
        {
          temporarily_unavailable: apiError(
            'temporarily_unavailable',
            'the service is busy; retry the same request after the Retry-After delay',
          ),
        },
        { 'Retry-After': ref('headers', 'RetryAfter') },
        { orGateway: true },
      ),
    },
  };
}

/** The whole document, deterministic (no dates, no environment), so the committed file can be compared with it. */
export function buildOpenApiDocument(): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Buzzer client API',
      version: packageJson.version,
      summary: 'Accept now, finish later: orders with a tracking id, their outcome by poll, wait or webhook.',
      description:
        'Every route but this document needs `Authorization: Bearer <api key>`. Errors answer ' +
        '`{error: {code, message, details?}}` and never echo the request. On the REST flavour the base URL ends ' +
        'in the stage, `/api`.',
      license: { name: 'MIT-0', identifier: 'MIT-0' },
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    tags: [
      { name: 'orders', description: 'Place orders and follow them.' },
      { name: 'webhooks', description: 'Be called when an order ends.' },
    ],
    paths: tagged(paths()),
    webhooks: webhooks(),
    components: components(),
  };
}

/** Each operation tagged by its path's first segment. */
function tagged(all: Json): Json {
  return Object.fromEntries(
    Object.entries(all).map(([path, item]) => {
      const tag = path.startsWith('/orders')
        ? 'orders'
        : path.startsWith('/webhooks')
          ? 'webhooks'
          : undefined;
      if (!tag) return [path, item];
      const operations = Object.fromEntries(
        Object.entries(item as Json).map(([method, op]) => [method, { tags: [tag], ...(op as Json) }]),
      );
      return [path, operations];
    }),
  );
}

/** The document as `npm run openapi` writes it. */
export function openApiText(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}
