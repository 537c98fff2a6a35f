/**
 * Response conformance: every answer the e2e scenarios get from the client API through `ApiClient` (client.ts, built
 * on the typed client of client/index.ts) is checked against the OpenAPI document (openapi.json) by route and status:
 * the status must be one the operation describes, and the body must validate against that response's schema (JSON
 * Schema 2020-12, Ajv). client.ts records each answer with `conformanceRecorder`, an openapi-fetch middleware, and
 * registers `assertConformance` as an `afterAll` of every file that imports it, so a handler answering a status or
 * shape the document does not describe fails the scenario file that saw it.
 *
 * Requests to a route the document does not have (a scenario probing an unknown path) are the gateway's answers, not
 * a handler's: they are counted as unmatched, not judged.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Middleware } from 'openapi-fetch';
import document from '../../openapi.json' with { type: 'json' };

type Json = Record<string, unknown>;

export interface RecordedResponse {
  method: string;
  /** The request path relative to the API's base URL, without the query. */
  path: string;
  status: number;
  /** The parsed JSON body, the text when it was not JSON, or undefined when empty. */
  body: unknown;
  contentType: string | null;
}

interface Route {
  template: string;
  pattern: RegExp;
  operations: Record<string, Json>;
}

const ROUTES: Route[] = Object.entries(document.paths as Record<string, Record<string, Json>>).map(
  ([template, operations]) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.')}$`),
    operations,
  }),
);

/** `#/components/...` references inlined (the document has no recursive schema), so Ajv sees one schema. */
function resolve(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolve);
  if (value === null || typeof value !== 'object') return value;
  const ref = (value as { $ref?: unknown }).$ref;
  if (typeof ref === 'string' && ref.startsWith('#/')) {
    const target = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((node, key) => (node as Json)[key], document);
    return resolve(target);
  }
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, resolve(inner)]));
}

// Formats are not checked: zod writes a pattern beside each format it emits, and the patterns are.
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
const validators = new Map<string, ValidateFunction>();

function validatorFor(key: string, schema: Json): ValidateFunction {
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    validators.set(key, validate);
  }
  return validate;
}

/** The route template of `path`, e.g. `/orders/{trackingId}`, or undefined when the document has no such path. */
export function routeOf(pathname: string): Route | undefined {
  return ROUTES.find((route) => route.pattern.test(pathname));
}

/** What is wrong with `response` against the document, or undefined when it conforms or is not a documented route. */
export function problemOf(response: RecordedResponse): string | undefined {
  const route = routeOf(response.path);
  const operation = route?.operations[response.method.toLowerCase()];
  if (!route || !operation) return undefined;
  const where = `${response.method} ${route.template} → ${response.status}`;
  const responses = operation.responses as Record<string, unknown>;
  const statusKey = [String(response.status), `${String(response.status)[0]}XX`, 'default'].find(
    (key) => key in responses,
  );
  if (!statusKey) return `${where}: the document describes no such status for this operation`;
  const described = resolve(responses[statusKey]) as { content?: Record<string, { schema: Json }> };
  const media = described.content?.['application/json'];
  if (!media) {
    return response.body === undefined ? undefined : `${where}: the document describes no body, got one`;
  }
  if (response.body === undefined || typeof response.body === 'string') {
    return `${where}: expected a JSON body, got ${JSON.stringify(response.body)?.slice(0, 200)}`;
  }
  const validate = validatorFor(`${response.method} ${route.template} ${statusKey}`, media.schema);
  if (validate(response.body)) return undefined;
  const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message}`).join('; ');
  return `${where}: body does not match the document (${errors}): ${JSON.stringify(response.body).slice(0, 400)}`;
}

const recorded: RecordedResponse[] = [];

export function recordResponse(response: RecordedResponse): void {
  recorded.push(response);
}

/**
 * openapi-fetch middleware that records every answer of a client at `baseUrl` (its path relative to the base URL, as
 * requested) before the client reads it: the e2e `ApiClient` registers it on the typed client it is built on.
 */
export function conformanceRecorder(baseUrl: string): Middleware {
  const basePath = new URL(baseUrl).pathname.replace(/\/+$/, '');
  return {
    async onResponse({ request, response }) {
      const pathname = new URL(request.url).pathname;
      const text = await response.clone().text();
      let body: unknown = text === '' ? undefined : text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // Not JSON: keep the text.
      }
      recordResponse({
        method: request.method,
        path: pathname.startsWith(basePath) ? pathname.slice(basePath.length) || '/' : pathname,
        status: response.status,
        body,
        contentType: response.headers.get('content-type'),
      });
      return undefined;
    },
  };
}

/** `METHOD /template → status` of every documented answer recorded so far, with how often each was seen. */
export function exercisedPairs(responses: readonly RecordedResponse[] = recorded): Record<string, number> {
  const pairs: Record<string, number> = {};
  for (const response of responses) {
    const route = routeOf(response.path);
    if (!route?.operations[response.method.toLowerCase()]) continue;
    const key = `${response.method} ${route.template} ${response.status}`;
    pairs[key] = (pairs[key] ?? 0) + 1;
  }
  return pairs;
}

/**
 * Fails with every non-conforming answer recorded in this file. With `BUZZER_CONFORMANCE_DIR` set, also writes the
 * route × status pairs the file exercised there (`<file>.json`), which is how the README's list was counted.
 */
export function assertConformance(file: string | undefined): void {
  const problems = [...new Set(recorded.map(problemOf).filter((p): p is string => p !== undefined))];
  const dir = process.env.BUZZER_CONFORMANCE_DIR;
  if (dir && file) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, `${path.basename(file)}.json`),
      `${JSON.stringify({ pairs: exercisedPairs(), problems }, null, 2)}\n`,
    );
  }
  if (problems.length > 0) {
    throw new Error(
      `${problems.length} API answer(s) the OpenAPI document does not describe:\n- ${problems.join('\n- ')}`,
    );
  }
}
