/**
 * The per-client rate limit as a client sees it, shared by api-keys.test.ts (HTTP flavour, limits set with the CLI)
 * and rest-api.local.test.ts (REST flavour, where the usage plan throttles too).
 */
import { randomUUID } from 'node:crypto';
import type { ExpectStatic } from 'vitest';
import { ApiClient, type HttpResult } from './client.ts';

/** `count` look-ups of unknown orders at once: 404 to an admitted request, 429 to a refused one. */
export function burst(apiUrl: string, apiKey: string, count = 20): Promise<HttpResult[]> {
  return Promise.all(
    Array.from({ length: count }, () => new ApiClient(apiUrl, apiKey).getOrder(randomUUID())),
  );
}

/** The 429s of a burst, each with `Retry-After: 1` and the API's `rate_limited` error; the rest admitted (404). */
export function expectRateLimited(expect: ExpectStatic, results: readonly HttpResult[]): HttpResult[] {
  const refused = results.filter((result) => result.status === 429);
  const admitted = results.filter((result) => result.status === 404);
  expect(refused.length + admitted.length).toBe(results.length);
  for (const result of refused) {
    expect(result.headers.get('retry-after')).toBe('1');
    expect(result.body).toMatchObject({ error: { code: 'rate_limited' } });
  }
  return refused;
}

/**
 * A client whose own limits are rate 2, burst 4 (`buzzer clients limits … --rate 2 --burst 4`), 20 requests at once:
 * the handlers' bucket admits 4 at once and 2 more a second for as long as the 20 take to be served; a client on
 * generous limits, at the same time, is admitted every time.
 */
export function expectOverItsBucket(
  expect: ExpectStatic,
  loud: readonly HttpResult[],
  calm: readonly HttpResult[],
): void {
  const refused = expectRateLimited(expect, loud);
  expect(loud.length - refused.length).toBeGreaterThanOrEqual(4);
  expect(refused.length).toBeGreaterThanOrEqual(10);
  expect(calm.map((result) => result.status)).toEqual(Array(calm.length).fill(404));
}
