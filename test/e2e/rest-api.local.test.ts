/**
 * The client API's scenarios on its REST flavour (`-c apiFlavour=rest`: an API Gateway REST API whose `standard` usage
 * plan throttles each client), on a local runtime started from that variant (`REST_CDK_OUT`, synthesized by
 * global-setup.ts). The same scenarios as on the HTTP API (order-api.ts, prefer-wait.ts: registered by
 * orders.test.ts), and the per-client rate limit from both of its sources: the usage plan at the gateway, and the
 * handlers' bucket behind it (rate-limits.ts, as api-keys.test.ts checks it on the HTTP API).
 *
 * Local target only (vitest.config.ts): a deployed target has one flavour, which orders.test.ts runs against.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_BURST_LIMIT } from '#contracts/api.ts';
import { setClientLimits } from '#functions/clients/limits.ts';
import { REST_CDK_OUT } from '#local/buzzer/synth.ts';
import { ApiClient, SandboxClient } from './client.ts';
import { describeOrderApi } from './order-api.ts';
import { describePreferWait } from './prefer-wait.ts';
import { burst, expectOverItsBucket, expectRateLimited, NOISY_LIMITS } from './rate-limits.ts';
import { startTarget, type Target } from './target.ts';

let target: Target;
let alice: ApiClient;
let bob: ApiClient;
let sandbox: SandboxClient;

/**
 * The gateway's clock (its usage plans' buckets, its authorizer cache): real time, except that it stands still while
 * `frozenAt` is set, so a burst is measured against the plan's burst alone, not against a refill that depends on how
 * fast a loaded machine delivers the requests (the local gateway serves about as many a second as the plan refills).
 */
let frozenAt: number | undefined;
let clockBehindMs = 0;
const gatewayClock = () => frozenAt ?? Date.now() - clockBehindMs;
function freezeGatewayClock(): void {
  frozenAt = gatewayClock();
}
function thawGatewayClock(): void {
  if (frozenAt === undefined) return;
  clockBehindMs = Date.now() - frozenAt;
  frozenAt = undefined;
}

/** The key of a client seeded by `startTarget`, whose usage key the runtime attached to the standard plan. */
const keyOf = (clientId: string): string => target.apiKeys[clientId] ?? '';

beforeAll(async () => {
  target = await startTarget({
    cdkOut: REST_CDK_OUT,
    clients: ['alice', 'bob', 'noisy', 'quiet', 'flood', 'calm'],
    gatewayClock,
  });
  alice = new ApiClient(target.apiUrl, keyOf('alice'));
  bob = new ApiClient(target.apiUrl, keyOf('bob'));
  sandbox = new SandboxClient(target.sandboxUrl, target.sandboxAuth);
});

afterAll(async () => {
  await target?.stop();
});

describe('REST flavour', () => {
  it('serves the API and the sandbox under their stage', () => {
    expect(new URL(target.apiUrl).pathname).toBe('/api');
    expect(new URL(target.sandboxUrl).pathname).toBe('/sandbox');
  });

  describeOrderApi(() => ({ target, alice, bob, sandbox }));

  describe('Prefer: wait (RFC 7240)', () => {
    describePreferWait(() => alice);
  });

  describe('per-client rate limit', () => {
    it('refuses a client over its own limits in the handlers (429, Retry-After), another client none', async () => {
      const runtime = target.runtime;
      const tableName = runtime?.info.outputs.TableName;
      if (!runtime || typeof tableName !== 'string') throw new Error('the local target has no table');
      // Before its first request: the authorizer's answer, cached, carries the limits.
      await setClientLimits({ doc: runtime.clients.doc, tableName }, 'noisy', NOISY_LIMITS);

      const [loud, calm] = await Promise.all([
        burst(target.apiUrl, keyOf('noisy')),
        burst(target.apiUrl, keyOf('quiet')),
      ]);

      // 20 at once is within the usage plan's burst: every 429 is the handlers'.
      expectOverItsBucket(expect, loud, calm);
      for (const result of loud.filter((r) => r.status === 429)) {
        expect(result.body).not.toMatchObject({ error: { message: 'Too Many Requests' } });
      }
    });

    it("throttles a client over the usage plan's burst at the gateway (429, Retry-After), another client none", async () => {
      // flood's own limits are the largest (startTarget): only the plan (the stack's default burst) can refuse it.
      // Its first request (the plan's bucket starts full) caches the authorizer's answer before the burst.
      const count = DEFAULT_CLIENT_BURST_LIMIT + 20;
      freezeGatewayClock();
      const [loud, calm] = await (async () => {
        expect((await burst(target.apiUrl, keyOf('flood'), 1))[0]?.status).toBe(404);
        return Promise.all([
          burst(target.apiUrl, keyOf('flood'), count),
          burst(target.apiUrl, keyOf('calm')),
        ]);
      })().finally(thawGatewayClock);

      const refused = expectRateLimited(expect, loud);
      // The plan's bucket, not refilled while the clock stands still: its burst less the warm-up, then 429s.
      expect(refused.length).toBe(count - (DEFAULT_CLIENT_BURST_LIMIT - 1));
      for (const result of refused) {
        expect(result.body).toEqual({ error: { code: 'rate_limited', message: 'Too Many Requests' } });
      }
      // The plan's bucket is per client (per usage key): calm's requests, at the same time, all pass.
      expect(calm.map((result) => result.status)).toEqual(Array(calm.length).fill(404));
    });
  });
});
