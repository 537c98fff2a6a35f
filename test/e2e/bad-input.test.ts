/**
 * Bad input, property-based: malformed, oversized, wrongly typed and hostile bodies, headers and ids at every route of
 * the client API. Whatever arrives, the system answers 4xx with a message, writes nothing, and keeps serving. On the
 * local target junk events at every consumer (bad-input.local.ts) run too, on the same runtime, before the last check
 * that it still serves; on a deployed target they are not registered at all rather than reported as skipped.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_ROUTE } from '#contracts/api.ts';
import { SUPPORTED_CURRENCIES } from '#functions/orders/currency.ts';
import { loadCloudAssembly } from '#local/template/assembly.ts';
import { describeJunkEvents } from './bad-input.local.ts';
import {
  CLIENT,
  HOSTILE,
  hostileString,
  notString,
  RUNS,
  useBadInputTarget,
  writesNothingIn,
} from './bad-input-support.ts';
import { type HttpResult, orderBody, SandboxClient } from './client.ts';
import { targetName } from './target.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Route keys of the client API when no synthesized template is at hand (a deployed target without cdk.out). */
const DOCUMENTED_ROUTES = [
  'POST /orders',
  'GET /orders/{trackingId}',
  'POST /webhooks',
  'GET /webhooks',
  'DELETE /webhooks/{id}',
];

const ctx = useBadInputTarget();
let routes: string[];

beforeAll(async () => {
  routes = await clientRoutes();
});

/**
 * Every route of the client API in the template that takes an API key (the sandbox's catch-all `ANY /{proxy+}` is not
 * the product, and `GET /openapi.json` serves a file to anyone: order-api.ts checks it).
 */
async function clientRoutes(): Promise<string[]> {
  const cdkOut = path.join(PROJECT_ROOT, 'cdk.out');
  if (!existsSync(cdkOut)) return DOCUMENTED_ROUTES;
  const { template } = await loadCloudAssembly(cdkOut, ctx.target.runtime?.info.stackName);
  const routes = Object.values(template.Resources).filter(
    (resource) => resource.Type === 'AWS::ApiGatewayV2::Route',
  );
  // The client API is the one that serves POST /orders; the operator API and the sandbox's routes are not its own.
  const apiOf = (route: (typeof routes)[number]) => JSON.stringify(route.Properties?.ApiId);
  const orders = routes.find((route) => route.Properties?.RouteKey === 'POST /orders');
  if (!orders) throw new Error('the template has no POST /orders route');
  return routes
    .filter((route) => apiOf(route) === apiOf(orders))
    .map((route) => String(route.Properties?.RouteKey))
    .filter((key) => !key.includes('{proxy+}') && key !== `GET ${OPENAPI_ROUTE}`)
    .sort();
}

/** Runs `property` and proves the table holds the same items afterwards (scoped to CLIENT on a deployed stack). */
const writesNothing = (property: () => Promise<void>) =>
  writesNothingIn(ctx.table, ctx.target.runtime === undefined, property);

function expectRejected(result: HttpResult, allowed: number[], what: string): void {
  expect(allowed, `${what} → ${result.status} ${JSON.stringify(result.body)}`).toContain(result.status);
  const body = result.body as { error?: { message?: unknown }; message?: unknown } | undefined;
  const message = body?.error?.message ?? body?.message;
  expect(
    typeof message === 'string' && message.trim().length > 0,
    `${what}: no message in ${JSON.stringify(body)}`,
  ).toBe(true);
}

// ----- generators --------------------------------------------------------------------------------------------------

/** The same without lone surrogates, which cannot be put into a URL at all. */
const hostilePathSegment = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
);

const notNumber = fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.integer()), fc.object());
const notObject = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue()),
);
/** The API's rule for ids that end up in table keys: a string that breaks it can never be valid. */
const KEY_SAFE = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const unsafeId = hostileString.filter((s) => !KEY_SAFE.test(s) || s.length > 64);

/** Control and bidirectional formatting characters, refused in anything that goes into customer mail. */
const UNSAFE_IN_MAIL = [
  '\u0000',
  '\t',
  '\n',
  '\r',
  '\u001B',
  '\u007F',
  '\u0085',
  '\u009B',
  '\u061C',
  '\u200E',
  '\u200F',
];
const UNSAFE_BIDI = [
  '\u2028',
  '\u2029',
  '\u202A',
  '\u202B',
  '\u202C',
  '\u202D',
  '\u202E',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
];
/** A name with one such character between printable text (trimming cannot remove it). */
const nameWithUnsafeText = fc
  .tuple(
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 }).map((s) => `N${s}`),
    fc.constantFrom(...UNSAFE_IN_MAIL, ...UNSAFE_BIDI),
    fc.string({ unit: 'grapheme-ascii', maxLength: 20 }).map((s) => `${s}x`),
  )
  .map(([before, char, after]) => `${before}${char}${after}`);

/** A valid order with exactly one field replaced by a value that can never be valid there. */
const wronglyTypedOrder = fc
  .oneof(
    fc.record({ at: fc.constant(['customer']), value: notObject }),
    fc.record({ at: fc.constant(['customer', 'id']), value: fc.oneof(notString, unsafeId) }),
    fc.record({
      at: fc.constant(['customer', 'email']),
      value: fc.oneof(
        notString,
        hostileString.filter((s) => !s.includes('@')),
      ),
    }),
    fc.record({ at: fc.constant(['customer', 'name']), value: fc.oneof(notString, nameWithUnsafeText) }),
    fc.record({
      at: fc.constant(['items']),
      value: fc.oneof(
        notObject.filter((v) => !Array.isArray(v)),
        fc.constant([]),
      ),
    }),
    fc.record({ at: fc.constant(['items', '0', 'sku']), value: fc.oneof(notString, unsafeId) }),
    fc.record({
      at: fc.constant(['items', '0', 'quantity']),
      value: fc.oneof(notNumber, fc.integer({ max: 0 }), fc.double({ min: 0.01, max: 10, noInteger: true })),
    }),
    fc.record({
      at: fc.constant(['currency']),
      value: fc.oneof(
        notString,
        hostileString.filter((s) => !(SUPPORTED_CURRENCIES as string[]).includes(s)),
      ),
    }),
    fc.record({
      at: fc.constant(['paymentToken']),
      value: fc.oneof(notString, fc.constant(''), fc.constant('tok ok')),
    }),
    fc.record({ at: fc.constant(['unexpected']), value: fc.jsonValue() }),
  )
  .map(({ at, value }) => {
    const body = JSON.parse(JSON.stringify(orderBody())) as Record<string, unknown>;
    let node: Record<string, unknown> = body;
    for (const key of at.slice(0, -1)) node = node[key] as Record<string, unknown>;
    node[at.at(-1) ?? ''] = value;
    return JSON.stringify(body);
  });

const validOrderJson = JSON.stringify(orderBody());
const malformedJson = fc.oneof(
  fc.string({ maxLength: 200 }).filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }),
  fc.integer({ min: 1, max: validOrderJson.length - 1 }).map((cut) => validOrderJson.slice(0, cut)),
  fc.constantFrom(
    `${validOrderJson}}`,
    `${validOrderJson},`,
    `[${validOrderJson}]`,
    "{'single': 'quotes'}",
    '',
  ),
);
const notAnObjectJson = fc
  .oneof(fc.jsonValue(), fc.array(fc.jsonValue()))
  .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
  .map((v) => JSON.stringify(v) ?? 'null');
/** Just over the 16 KiB limit of POST /orders, up to a few times it. */
const oversized = fc.integer({ min: 17 * 1024, max: 100 * 1024 }).map((size) =>
  JSON.stringify({
    ...orderBody(),
    customer: { id: 'c-1', email: 'a@example.com', name: 'x'.repeat(size) },
  }),
);

const badOrderBody = fc.oneof(malformedJson, notAnObjectJson, wronglyTypedOrder, oversized);

/**
 * Idempotency keys that break the contract (1–255 printable ASCII) yet can travel in an HTTP header. HTTP drops the
 * whitespace around a header value (RFC 9110 §5.5; Node and API Gateway both do), so the server never sees it: an
 * over-long key is bracketed so that it is still over-long once trimmed.
 */
const badIdempotencyKey = fc.oneof(
  fc
    .string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      minLength: 254,
      maxLength: 400,
    })
    .map((key) => `[${key}]`),
  fc
    .tuple(fc.string({ maxLength: 20 }), fc.integer({ min: 0x80, max: 0xff }))
    .map(([prefix, code]) => `${prefix.replace(/[^\x20-\x7e]/g, '')}${String.fromCharCode(code)}`),
);

// ----- the client API ----------------------------------------------------------------------------------------------

describe('bad input at every route of the client API', () => {
  it('POST /orders: malformed, wrongly typed, oversized and hostile bodies answer 400/413 with a message', async () => {
    await writesNothing(() =>
      fc.assert(
        fc.asyncProperty(badOrderBody, async (body) => {
          const result = await ctx.mallory.placeOrder(body, randomUUID());
          expectRejected(result, [400, 413], body.slice(0, 200));
        }),
        { numRuns: RUNS },
      ),
    );
  });

  it('POST /orders: a customer name with a control or bidi character answers 400 naming customer.name', async () => {
    await writesNothing(() =>
      fc.assert(
        fc.asyncProperty(nameWithUnsafeText, async (name) => {
          const body = JSON.stringify({
            ...orderBody(),
            customer: { id: 'c-1', email: 'a@example.com', name },
          });
          const result = await ctx.mallory.placeOrder(body, randomUUID());
          expectRejected(result, [400], JSON.stringify(name));
          expect((result.body as { error?: { details?: unknown } }).error?.details).toContainEqual({
            path: 'customer.name',
            message: expect.stringMatching(
              /^must not contain control or bidirectional formatting characters/,
            ),
          });
        }),
        { numRuns: RUNS / 2 },
      ),
    );
  });

  it('POST /orders: missing or hostile Idempotency-Key on a valid body answers 400', async () => {
    await writesNothing(() =>
      fc.assert(
        fc.asyncProperty(fc.option(badIdempotencyKey, { nil: undefined }), async (key) => {
          const result = await ctx.mallory.request(
            'POST',
            '/orders',
            validOrderJson,
            key === undefined ? {} : { 'idempotency-key': key },
          );
          expectRejected(result, [400], `key ${JSON.stringify(key)}`);
        }),
        { numRuns: RUNS / 2 },
      ),
    );
  });

  it('every route: ids, bodies and query strings that are not ours answer 4xx with a message, never 5xx', async () => {
    const routeArb = fc.constantFrom(...routes);
    await writesNothing(() =>
      fc.assert(
        fc.asyncProperty(
          routeArb,
          hostilePathSegment,
          badOrderBody,
          hostilePathSegment,
          async (route, id, body, query) => {
            const [method = 'GET', template = '/'] = route.split(' ');
            const filled = template.replace(/\{[^}]+\}/g, () => encodeURIComponent(id));
            const url = `${filled}?q=${encodeURIComponent(query)}`;
            const result = await ctx.mallory.request(
              method,
              url,
              method === 'GET' || method === 'DELETE' ? undefined : body,
            );
            expect(result.status, `${method} ${url} → ${JSON.stringify(result.body)}`).toBeLessThan(500);
            // Listing one's own webhooks is the one route that succeeds whatever the query says.
            if (result.status >= 400 || route !== 'GET /webhooks') {
              expectRejected(result, [400, 404, 405, 409, 413, 415, 422], `${method} ${url}`);
            }
          },
        ),
        { numRuns: RUNS },
      ),
    );
  });

  it('every route: a junk or missing Authorization answers 401/403 and reaches no handler', async () => {
    const credentials = fc.oneof(
      fc.constant(undefined),
      hostilePathSegment.map((s) => `Bearer ${encodeURIComponent(s)}`),
      fc.constantFrom(
        'Bearer',
        'Basic YWxpY2U6c2VjcmV0',
        `bearer ${ctx.target.apiKeys[CLIENT] ?? ''}x`,
        'bzk_',
      ),
    );
    await writesNothing(() =>
      fc.assert(
        fc.asyncProperty(fc.constantFrom(...routes), credentials, async (route, authorization) => {
          const [method = 'GET', template = '/'] = route.split(' ');
          const url = `${ctx.target.apiUrl}${template.replace(/\{[^}]+\}/g, randomUUID())}`;
          const response = await fetch(url, {
            method,
            headers: {
              'content-type': 'application/json',
              'idempotency-key': randomUUID(),
              ...(authorization === undefined ? {} : { authorization }),
            },
            ...(method === 'GET' || method === 'DELETE' ? {} : { body: validOrderJson }),
          });
          const text = await response.text();
          expect(
            [401, 403],
            `${route} with ${JSON.stringify(authorization)} → ${response.status} ${text}`,
          ).toContain(response.status);
          expect(text).toMatch(/\w/);
        }),
        { numRuns: RUNS / 2 },
      ),
    );
  });
});

if (targetName() === 'local') describeJunkEvents(ctx);

describe('after all that', () => {
  it('still serves: a good order confirms and is mailed', async () => {
    const placed = await ctx.mallory.placeOrder(orderBody());

    const order = await ctx.mallory.waitForOrder(placed.body.trackingId);

    expect(order.status).toBe('CONFIRMED');
    const sandbox = new SandboxClient(ctx.target.sandboxUrl, ctx.target.sandboxAuth);
    await expect
      .poll(async () => (await sandbox.mailFor(placed.body.trackingId)).body.messages.length, {
        timeout: 15_000,
      })
      .toBe(1);
  });
});
