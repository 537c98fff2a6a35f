import { readFile } from 'node:fs/promises';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { CLIENT_TYPES_FILE, clientTypesText } from '#client/generate.ts';
import { buildOpenApiDocument, OPENAPI_FILE, openApiText } from '#functions/api/openapi.ts';
import { apiEvent, context } from '../functions/helpers.ts';

const { handler } = await import('#functions/api/get-openapi-document.ts');

const STALE = 'is stale: run `npm run openapi` and commit the result';

describe('the OpenAPI document', () => {
  it('is what the code generates (committed openapi.json is current)', async () => {
    const committed = await readFile(OPENAPI_FILE, 'utf8');
    expect(committed, `${OPENAPI_FILE} ${STALE}`).toBe(openApiText());
  });

  it('is valid OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(buildOpenApiDocument());
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('the typed client types are generated from the committed document', async () => {
    const committed = await readFile(CLIENT_TYPES_FILE, 'utf8');
    expect(committed, `${CLIENT_TYPES_FILE} ${STALE}`).toBe(await clientTypesText(buildOpenApiDocument()));
  });

  it('describes every error status of an authenticated route with the error body, and 2xx bodies by $ref', () => {
    const document = buildOpenApiDocument() as {
      paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
    };
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (operation.security?.length === 0) continue;
        const statuses = Object.keys(operation.responses);
        expect(statuses, `${method} ${path}`).toEqual(
          expect.arrayContaining(['401', '403', '429', '500', '503']),
        );
      }
    }
  });

  it('describes the Standard Webhooks headers on every webhook', () => {
    const document = buildOpenApiDocument() as {
      webhooks: Record<
        string,
        { post: { parameters: Array<{ name: string; in: string; required: boolean }> } }
      >;
    };
    expect(Object.keys(document.webhooks)).toEqual(['OrderPlaced', 'OrderConfirmed', 'OrderCancelled']);
    for (const webhook of Object.values(document.webhooks)) {
      expect(webhook.post.parameters.map((p) => [p.name, p.in, p.required])).toEqual([
        ['webhook-id', 'header', true],
        ['webhook-timestamp', 'header', true],
        ['webhook-signature', 'header', true],
      ]);
    }
  });
});

describe('GET /openapi.json', () => {
  it('answers the committed document to a caller without an API key, cacheable', async () => {
    const result = await handler(apiEvent({ method: 'GET', path: '/openapi.json', clientId: null }), context);
    expect(result.statusCode).toBe(200);
    expect(result.headers).toMatchObject({
      'content-type': 'application/json',
      'cache-control': 'public, max-age=300',
    });
    expect(JSON.parse(String(result.body))).toEqual(buildOpenApiDocument());
  });
});
