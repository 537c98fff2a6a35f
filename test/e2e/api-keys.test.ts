/**
 * API key lifecycle through the real authorizer and its cache on the local runtime: a key revoked, rotated away or
 * expired while API Gateway still holds an "allow" for it is refused within the stated bound (README, "API keys":
 * the authorizer cache TTL, 60 s), and `keys list` shows each key's state. The runtime's gateway reads a clock this
 * file moves, so the TTL passes without a minute of waiting. Per-client limits: a client given low limits with
 * `clients limits` gets 429s while another client's requests all pass. The CLI runs in-process against this file's
 * runtime (discovery injected), so the transactions run on DynamoDB Local, not on mocks.
 *
 * Local target only (vitest.config.ts): it drives the CLI through the local runtime's description.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeySummary } from '#functions/clients/api-keys.ts';
import type { RuntimeFile } from '#ops/cli/context.ts';
import type { CreatedKey, RevokedKey, RotatedKey } from '#ops/cli/keys.ts';
import { buzzerJson } from './cli-support.ts';
import { ApiClient } from './client.ts';
import { burst, expectOverItsBucket, NOISY_LIMITS } from './rate-limits.ts';
import { startTarget, type Target } from './target.ts';

/** What README promises; test/infra/stack.test.ts pins the template's TTL to it. */
const REVOCATION_BOUND_MS = 60_000;

/**
 * How far this file has moved the clock of the API's authorizer cache ahead of real time. Passing the TTL this way
 * tests the bound without waiting it out; the scenarios run one after another because they share the clock.
 */
let cacheClockAheadMs = 0;

let target: Target;
let runtimeFile: RuntimeFile;

const buzzer = <T>(...args: string[]) => buzzerJson<T>(runtimeFile, ...args);

/** Any authorized call: an unknown order is 404 to a valid key, 403 to a refused one. */
async function statusWith(apiKey: string): Promise<number> {
  return (await new ApiClient(target.apiUrl, apiKey).getOrder(randomUUID())).status;
}

/** Moves the authorizer cache's clock on by `ms`. */
function advanceCacheClock(ms: number): void {
  cacheClockAheadMs += ms;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The key's "allow" is cached: the gateway still lets it through halfway into the TTL (as API Gateway does), and
 * refuses it once the TTL has passed since it was cached, which is the bound README states.
 */
async function expectRefusedWithinBound(apiKey: string): Promise<void> {
  expect(await statusWith(apiKey)).toBe(404);
  advanceCacheClock(REVOCATION_BOUND_MS / 2);
  expect(await statusWith(apiKey)).toBe(404);
  advanceCacheClock(REVOCATION_BOUND_MS / 2);
  expect(await statusWith(apiKey)).toBe(403);
}

beforeAll(async () => {
  target = await startTarget({
    clients: ['alice'],
    gatewayClock: () => Date.now() + cacheClockAheadMs,
  });
  const runtime = target.runtime;
  if (!runtime) throw new Error('the local target has no runtime');
  runtimeFile = { ...runtime.info, clientEnvironment: runtime.clientEnvironment };
});

afterAll(async () => {
  await target?.stop();
});

describe('API key lifecycle on the local runtime', () => {
  it('refuses a revoked key within the bound although its "allow" was cached', async () => {
    const key = await buzzer<CreatedKey>('keys', 'create', '--client', 'erin', '--label', 'e2e');
    expect(await statusWith(key.apiKey)).toBe(404);

    const revoked = await buzzer<RevokedKey>('keys', 'revoke', key.keyId);

    expect(revoked).toMatchObject({ keyId: key.keyId, state: 'REVOKED', alreadyRevoked: false });
    await expectRefusedWithinBound(key.apiKey);
    const listed = await buzzer<ApiKeySummary[]>('keys', 'list', '--client', 'erin');
    expect(listed.map((k) => [k.keyId, k.state])).toEqual([[key.keyId, 'REVOKED']]);
  });

  it('refuses an expired key: at once if never used, within the bound if its "allow" was cached', async () => {
    const unused = await buzzer<CreatedKey>('keys', 'create', '--client', 'frank', '--expires-in', '1s');
    // Long enough for its first call to be allowed even behind a cold start on a loaded machine.
    const used = await buzzer<CreatedKey>('keys', 'create', '--client', 'frank', '--expires-in', '8s');
    expect(await statusWith(used.apiKey)).toBe(404);
    // Past the expiry the CLI reported: a key's expiry is stored in whole seconds, rounded up, so "1s" can be almost 2.
    await sleep(Math.max(0, Date.parse(unused.expiresAt ?? '') - Date.now() + 200));

    expect(await statusWith(unused.apiKey)).toBe(403);
    await sleep(Math.max(0, Date.parse(used.expiresAt ?? '') - Date.now() + 200));
    await expectRefusedWithinBound(used.apiKey);
    const listed = await buzzer<ApiKeySummary[]>('keys', 'list', '--client', 'frank');
    expect(listed.map((k) => k.state)).toEqual(['EXPIRED', 'EXPIRED']);
  });

  it('rotates a key: the new one works at once, the old one ends after the grace period', async () => {
    const old = await buzzer<CreatedKey>('keys', 'create', '--client', 'grace', '--expires-in', 'never');
    expect(await statusWith(old.apiKey)).toBe(404);

    const rotated = await buzzer<RotatedKey>('keys', 'rotate', old.keyId, '--grace', '2s');
    expect(await statusWith(rotated.issued.apiKey)).toBe(404);
    await sleep(Math.max(0, Date.parse(rotated.previous.expiresAt ?? '') - Date.now() + 200));

    await expectRefusedWithinBound(old.apiKey);
    expect(await statusWith(rotated.issued.apiKey)).toBe(404);
    const listed = await buzzer<ApiKeySummary[]>('keys', 'list', '--client', 'grace');
    expect(listed.map((k) => [k.keyId, k.state, k.rotatedTo ?? k.rotatedFrom])).toEqual([
      [old.keyId, 'EXPIRED', rotated.issued.keyId],
      [rotated.issued.keyId, 'ACTIVE', old.keyId],
    ]);
  });

  it.concurrent('limits each client to its own rate: a client over its burst gets 429s with Retry-After, another none', async ({
    expect,
  }) => {
    // Both clients new, their limits set before their first request (the authorizer's answer carries them).
    const noisy = await buzzer<CreatedKey>('keys', 'create', '--client', 'noisy');
    const quiet = await buzzer<CreatedKey>('keys', 'create', '--client', 'quiet');
    await buzzer(
      'clients',
      'limits',
      'noisy',
      '--rate',
      String(NOISY_LIMITS.rateLimit),
      '--burst',
      String(NOISY_LIMITS.burstLimit),
    );

    const [loud, calm] = await Promise.all([
      burst(target.apiUrl, noisy.apiKey),
      burst(target.apiUrl, quiet.apiKey),
    ]);

    expectOverItsBucket(expect, loud, calm);
  }, 30_000);

  it('refuses to revoke an unknown key id', async () => {
    await expect(buzzer('keys', 'revoke', 'nobody:0123456789ab')).rejects.toThrow(
      /no API key nobody:0123456789ab/,
    );
  });
});
