import { afterEach, describe, expect, it, vi } from 'vitest';
import { attemptDelivery } from '#functions/webhooks/delivery-attempt.ts';
import type { SendWebhook, WebhookRequest } from '#functions/webhooks/sender.ts';
import { generateSecret } from '#functions/webhooks/signing.ts';

const TIMEOUT_MS = 200;
/** Timers and the event loop add a little; a stalled attempt would take the test's whole timeout. */
const SLACK_MS = 300;
const TARGET = {
  url: 'https://hooks.example.com/buzzer',
  deliveryId: 'msg_1',
  body: '{"type":"OrderConfirmed"}',
  secrets: [generateSecret()],
};

const answered: SendWebhook = async () => ({
  result: { type: 'response', status: 204, retryAfter: null },
  durationMs: 1,
});

afterEach(() => {
  vi.useRealTimers();
});

describe('one deadline per attempt (resolve + connect + answer)', () => {
  it('fails the attempt within the deadline when DNS never answers, without sending', async () => {
    const send = vi.fn(answered);
    const started = performance.now();

    const response = await attemptDelivery(
      { send, timeoutMs: TIMEOUT_MS, urlPolicy: { resolve: () => new Promise<string[]>(() => {}) } },
      TARGET,
      new Date(),
    );

    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expect(response.result).toEqual({ type: 'timeout' });
    expect(response.error).toMatch(/did not resolve/);
    expect(send).not.toHaveBeenCalled();
  });

  it('gives the request only what resolving left of the budget', async () => {
    let request: WebhookRequest | undefined;
    const send = vi.fn<SendWebhook>(async (input) => {
      request = input;
      // A receiver that never answers: the request ends when the attempt's signal aborts.
      await new Promise((resolve) => input.signal?.addEventListener('abort', resolve, { once: true }));
      return { result: { type: 'timeout' }, durationMs: 0 };
    });
    const slowDns = async () => {
      await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS * 0.75));
      return ['93.184.216.34'];
    };
    const started = performance.now();

    await attemptDelivery(
      { send, timeoutMs: TIMEOUT_MS, urlPolicy: { resolve: slowDns } },
      TARGET,
      new Date(),
    );

    expect(request?.addresses).toEqual(['93.184.216.34']);
    expect(request?.signal?.aborted).toBe(true);
    // Two deadlines in a row would take 1.75 × the timeout.
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS * 1.5);
  });

  it('keeps resolved private addresses out of the attempt log', async () => {
    const response = await attemptDelivery(
      { send: answered, timeoutMs: TIMEOUT_MS, urlPolicy: { resolve: async () => ['10.1.2.3'] } },
      TARGET,
      new Date(),
    );

    expect(response.result).toEqual({ type: 'network_error', code: 'UNSAFE_URL_PRIVATE_ADDRESS' });
    expect(response.error).toBe('not sent: url resolves to a non-public address');
  });
});
