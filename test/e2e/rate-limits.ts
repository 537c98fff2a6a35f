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

/**
 * The limits `buzzer clients limits` gives the noisy client of the bucket scenarios: a slow rate, so that however
 * long a loaded machine takes to serve the burst, most of it is refused (at 2 a second, a burst served in 10 s was
 * admitted whole).
 */
export const NOISY_LIMITS = { rateLimit: 0.2, burstLimit: 4 } as const;

/**
 * The 429s of a burst, each with the API's `rate_limited` error and a `Retry-After` of whole seconds from 1 to
 * `maxRetryAfter` (the usage plan's is a fixed 1; the handlers' is the wait for the bucket's next token); the rest
 * admitted (404).
 */
export function expectRateLimited(
  expect: ExpectStatic,
  results: readonly HttpResult[],
  maxRetryAfter = 1,
): HttpResult[] {
  const refused = results.filter((result) => result.status === 429);
  const admitted = results.filter((result) => result.status === 404);
  expect(refused.length + admitted.length).toBe(results.length);
  for (const result of refused) {
    const retryAfter = Number(result.headers.get('retry-after'));
    expect(
      Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= maxRetryAfter,
      `${retryAfter}`,
    ).toBe(true);
    expect(result.body).toMatchObject({ error: { code: 'rate_limited' } });
  }
  return refused;
}

/**
 * A client on `NOISY_LIMITS` (rate 0.2 a second, burst 4), 20 requests at once: the handlers' bucket admits 4 at once
 * and one more every 5 s for as long as the 20 take to be served, and tells the others to come back within 5 s; a
 * client on generous limits, at the same time, is admitted every time.
 */
export function expectOverItsBucket(
  expect: ExpectStatic,
  loud: readonly HttpResult[],
  calm: readonly HttpResult[],
): void {
  const refused = expectRateLimited(expect, loud, Math.ceil(1 / NOISY_LIMITS.rateLimit));
  expect(loud.length - refused.length).toBeGreaterThanOrEqual(NOISY_LIMITS.burstLimit);
  expect(refused.length).toBeGreaterThanOrEqual(10);
  expect(calm.map((result) => result.status)).toEqual(Array(calm.length).fill(404));
}
