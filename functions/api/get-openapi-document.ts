import type { HttpEvent } from '#shared/http.ts';
import { httpChain } from '#shared/middleware/http.ts';
// The committed document, not its generator: zod's JSON Schema emitter and every feature's schemas would triple this
// bundle for a file that only changes with a deployment. test/unit/api/openapi.test.ts keeps it current.
import document from '../../openapi.json' with { type: 'json' };

/** Serialized once per execution environment. */
const body = JSON.stringify(document);

/**
 * `GET /openapi.json`: the client API's OpenAPI 3.1 document, without authentication (tools read the contract before
 * anyone holds a key) and without the rate limit (whose bucket is per client). Cacheable: it changes only when the
 * stack is deployed.
 */
export const handler = httpChain<undefined, undefined, undefined, HttpEvent>().handler(async () => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' },
  body,
}));
