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
import { burst, expectOverItsBucket, expectRateLimited } from './rate-limits.ts';
import { startTarget, type Target } from './target.ts';

let target: Target;
let alice: ApiClient;
let bob: ApiClient;
let sandbox: SandboxClient;

/** The key of a client seeded by `startTarget`, whose usage key the runtime attached to the standard plan. */
const keyOf = (clientId: string): string => target.apiKeys[clientId] ?? '';

beforeAll(async () => {
  target = await startTarget({
    cdkOut: REST_CDK_OUT,
    clients: ['alice', 'bob', 'noisy', 'quiet', 'flood', 'calm'],
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
      await setClientLimits({ doc: runtime.clients.doc, tableName }, 'noisy', {
        rateLimit: 2,
        burstLimit: 4,
      });

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
      expect((await burst(target.apiUrl, keyOf('flood'), 1))[0]?.status).toBe(404);
      const count = DEFAULT_CLIENT_BURST_LIMIT + 60;

      const [loud, calm] = await Promise.all([
        burst(target.apiUrl, keyOf('flood'), count),
        burst(target.apiUrl, keyOf('calm')),
      ]);

      const refused = expectRateLimited(expect, loud);
      // The plan's bucket: its burst at once (less the warm-up), refilled at its rate while the requests arrive.
      expect(count - refused.length).toBeGreaterThanOrEqual(DEFAULT_CLIENT_BURST_LIMIT - 1);
      expect(refused.length).toBeGreaterThanOrEqual(10);
      for (const result of refused) {
        expect(result.body).toEqual({ error: { code: 'rate_limited', message: 'Too Many Requests' } });
      }
      // The plan's bucket is per client (per usage key): calm's requests, at the same time, all pass.
      expect(calm.map((result) => result.status)).toEqual(Array(calm.length).fill(404));
    });
  });
});
