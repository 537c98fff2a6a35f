/**
 * Webhooks through the whole system: order events → fan-out → delivery queue → dispatcher → a real HTTP receiver on
 * 127.0.0.1 (the local runtime allows loopback receivers only with `allowLoopbackWebhooks`). Every delivery is
 * verified with the published `standardwebhooks` library, not with Buzzer's own signing code. The retry schedule
 * is compressed to 0, 1, 1, 2 seconds and the circuit breaker's cooldown to 1 s through the functions' environment.
 *
 * Local target only (vitest.config.ts leaves it out on deployed targets): a deployed stack cannot reach a receiver
 * on 127.0.0.1, refuses to register one, and keeps its day-long retry schedule.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CreatedWebhook, verifyWebhook, type WebhookPayload } from '#client/index.ts';
import { ApiClient, orderBody } from './client.ts';
import { startTarget, type Target } from './target.ts';

const SCHEDULE = '0,1,1,2';
const ATTEMPTS = SCHEDULE.split(',').length;

interface Received {
  headers: Record<string, string>;
  body: string;
  answered: number;
}

interface Receiver {
  url: string;
  received: Received[];
  /** Chooses the status for each request, given the attempts already seen for its `webhook-id`. */
  answer: (previousForId: number) => number;
  close(): Promise<void>;
}

/** A webhook receiver as a client would run one: records every request and answers what `answer` says. */
async function startReceiver(answer: Receiver['answer']): Promise<Receiver> {
  const received: Received[] = [];
  const receiver: Receiver = { url: '', received, answer, close: async () => {} };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = flatHeaders(req.headers);
    const previous = received.filter((r) => r.headers['webhook-id'] === headers['webhook-id']).length;
    const status = receiver.answer(previous);
    received.push({ headers, body: Buffer.concat(chunks).toString('utf8'), answered: status });
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(status >= 200 && status < 300 ? 'ok' : `failing on purpose (${status})`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      Array.isArray(value) ? value.join(', ') : (value ?? ''),
    ]),
  );
}

const byId = (received: Received[]) => {
  const groups = new Map<string, Received[]>();
  for (const r of received)
    groups.set(r.headers['webhook-id'] ?? '', [...(groups.get(r.headers['webhook-id'] ?? '') ?? []), r]);
  return groups;
};

/**
 * The body of a typed call's answer (client/index.ts, the generated types of the OpenAPI document), once its status
 * is the one expected; the error body in the message otherwise.
 */
function answered<T>(result: { data?: T; error?: unknown; response: Response }, status = 200): T {
  expect(result.response.status, JSON.stringify(result.error)).toBe(status);
  if (result.data === undefined) throw new Error(`no body with ${result.response.status}`);
  return result.data;
}

/** `GET /webhooks/{id}/deliveries`: the endpoint's latest attempts. */
const deliveries = async (client: ApiClient, id: string) =>
  answered(await client.api.GET('/webhooks/{id}/deliveries', { params: { path: { id } } })).attempts;

let target: Target;
let alice: ApiClient;
let bob: ApiClient;
let carol: ApiClient;
let dave: ApiClient;
let erin: ApiClient;
let frank: ApiClient;
const receivers: Receiver[] = [];

beforeAll(async () => {
  target = await startTarget({
    clients: ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'],
    allowLoopbackWebhooks: true,
    environment: { WEBHOOK_RETRY_SCHEDULE_SECONDS: SCHEDULE, WEBHOOK_CIRCUIT_COOLDOWN_SECONDS: '1' },
  });
  const client = (id: string) => new ApiClient(target.apiUrl, target.apiKeys[id] ?? '');
  [alice, bob, carol, dave, erin, frank] = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map(client) as [
    ApiClient,
    ApiClient,
    ApiClient,
    ApiClient,
    ApiClient,
    ApiClient,
  ];
});

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await target?.stop();
});

async function receiver(answer: Receiver['answer']): Promise<Receiver> {
  const started = await startReceiver(answer);
  receivers.push(started);
  return started;
}

async function register(
  client: ApiClient,
  url: string,
  events: CreatedWebhook['events'],
): Promise<CreatedWebhook> {
  return answered(await client.api.POST('/webhooks', { body: { url, events } }), 201);
}

describe('delivery with retries', () => {
  it('delivers every event exactly once per webhook-id after failures, each signature verified', async () => {
    // Fails the first two attempts of every delivery, then accepts.
    const hooks = await receiver((previous) => (previous < 2 ? 500 : 204));
    const endpoint = await register(alice, hooks.url, ['OrderPlaced', 'OrderConfirmed']);
    const placed = await alice.placeOrder(orderBody());
    await alice.waitForOrder(placed.body.trackingId);

    await expect
      .poll(() => hooks.received.filter((r) => r.answered === 204).length, { timeout: 20_000, interval: 200 })
      .toBe(2);
    // Time for any stray duplicate to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const byDelivery = byId(hooks.received);
    expect(byDelivery.size).toBe(2);
    const payloads: WebhookPayload[] = [];
    for (const [id, attempts] of byDelivery) {
      expect(id).toMatch(/^msg_/);
      expect(attempts.map((a) => a.answered)).toEqual([500, 500, 204]);
      // The same bytes every time; a fresh timestamp and signature per attempt.
      expect(new Set(attempts.map((a) => a.body)).size).toBe(1);
      for (const attempt of attempts) {
        expect(attempt.headers['content-type']).toBe('application/json');
        expect(() => verifyWebhook(endpoint.secret, attempt.headers, attempt.body)).not.toThrow();
      }
      payloads.push(verifyWebhook(endpoint.secret, attempts[0]?.headers ?? {}, attempts[0]?.body ?? ''));
    }
    const byType = Object.fromEntries(payloads.map((p) => [p.type, p]));
    expect(byType.OrderPlaced?.data).toMatchObject({
      orderId: placed.body.trackingId,
      status: 'PENDING',
      version: 1,
    });
    expect(byType.OrderConfirmed?.data).toMatchObject({
      orderId: placed.body.trackingId,
      status: 'CONFIRMED',
    });
    expect(byType.OrderConfirmed?.data.version).toBeGreaterThan(1);

    const listed = await deliveries(alice, endpoint.id);
    expect(listed).toHaveLength(6);
    for (const id of byDelivery.keys()) {
      const attempts = listed.filter((a) => a.deliveryId === id).reverse();
      expect(attempts.map((a) => [a.attempt, a.statusCode, a.outcome])).toEqual([
        [1, 500, 'failed'],
        [2, 500, 'failed'],
        [3, 204, 'succeeded'],
      ]);
      expect(attempts[0]?.error).toMatch(/^HTTP 500/);
      for (const a of attempts) expect(a.durationMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('gives up after the last attempt, parks the delivery in the DLQ and replays it on enable', async () => {
    let healthy = false;
    const hooks = await receiver(() => (healthy ? 200 : 503));
    const endpoint = await register(carol, hooks.url, ['OrderPlaced']);
    await carol.placeOrder(orderBody());

    await expect.poll(() => hooks.received.length, { timeout: 20_000, interval: 200 }).toBe(ATTEMPTS);
    await expect
      .poll(async () => (await deliveries(carol, endpoint.id)).length, { timeout: 10_000 })
      .toBe(ATTEMPTS);
    const dlq = Object.values(target.runtime?.info.queues ?? {}).find((q) =>
      q.logicalId.startsWith('WebhooksDeliveryQueueDlq'),
    );
    const parked = await target.runtime?.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlq?.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }),
    );
    expect(parked?.Messages?.map((m) => JSON.parse(m.Body ?? '{}').deliveryId)).toEqual([
      hooks.received[0]?.headers['webhook-id'],
    ]);

    healthy = true;
    const enabled = answered(
      await carol.api.POST('/webhooks/{id}/enable', { params: { path: { id: endpoint.id } } }),
    );
    expect(enabled).toMatchObject({ id: endpoint.id, status: 'ENABLED', replayed: 1 });

    await expect.poll(() => hooks.received.at(-1)?.answered, { timeout: 10_000 }).toBe(200);
    const replayed = hooks.received.at(-1);
    expect(replayed?.headers['webhook-id']).toBe(hooks.received[0]?.headers['webhook-id']);
    expect(() => verifyWebhook(endpoint.secret, replayed?.headers ?? {}, replayed?.body ?? '')).not.toThrow();
  });
});

describe('a dead endpoint', () => {
  it("trips its circuit instead of taking every event's attempts, while others are served; healed, each event arrives once", async () => {
    let dead = true;
    const deadHooks = await receiver(() => (dead ? 503 : 204));
    const liveHooks = await receiver(() => 204);
    const deadEndpoint = await register(erin, deadHooks.url, ['OrderPlaced', 'OrderConfirmed']);
    await register(frank, liveHooks.url, ['OrderPlaced', 'OrderConfirmed']);
    const orders = 15;
    const events = orders * 2;

    const placed = await Promise.all(Array.from({ length: orders }, () => erin.placeOrder(orderBody())));
    expect(placed.map((p) => [p.status, p.body])).toEqual(placed.map(() => [202, expect.anything()]));
    await Promise.all(placed.map((p) => erin.waitForOrder(p.body.trackingId)));
    // Meanwhile another client's endpoint gets all of its deliveries.
    const live = await Promise.all(Array.from({ length: 3 }, () => frank.placeOrder(orderBody())));
    await expect
      .poll(() => liveHooks.received.filter((r) => r.answered === 204).length, { timeout: 20_000 })
      .toBe(live.length * 2);
    // Let the dead endpoint stay dead through a few cooldowns (1 s each), so held deliveries come back and probe.
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    // Without the breaker every event would have been sent at least once (and retried); with it, after five
    // failures in a row only a probe per cooldown reaches the endpoint.
    const whileDead = deadHooks.received.length;
    expect(whileDead).toBeGreaterThanOrEqual(5);
    expect(whileDead).toBeLessThan(events);

    dead = false;
    // A delivery whose attempts the probes used up is FAILED (and parked); enabling replays it, as an operator would.
    await expect
      .poll(
        async () => {
          await erin.request('POST', `/webhooks/${deadEndpoint.id}/enable`);
          return byId(deadHooks.received.filter((r) => r.answered === 204)).size;
        },
        { timeout: 30_000, interval: 1_000 },
      )
      .toBe(events);
    for (const [id, attempts] of byId(deadHooks.received)) {
      expect(
        attempts.filter((a) => a.answered === 204),
        id,
      ).toHaveLength(1);
      expect(attempts.at(-1)?.answered, id).toBe(204);
      expect(() =>
        verifyWebhook(deadEndpoint.secret, attempts.at(-1)?.headers ?? {}, attempts.at(-1)?.body ?? ''),
      ).not.toThrow();
    }
  });
});

describe('410 Gone', () => {
  it('disables the endpoint, shows it disabled, and enabling replays the failed delivery', async () => {
    let gone = true;
    const hooks = await receiver(() => (gone ? 410 : 200));
    const endpoint = await register(dave, hooks.url, ['OrderPlaced']);
    await dave.placeOrder(orderBody());

    const listEndpoint = async () => {
      const listed = answered(await dave.api.GET('/webhooks'));
      return listed.webhooks.find((w) => w.id === endpoint.id);
    };
    await expect
      .poll(async () => (await listEndpoint())?.status, { timeout: 20_000, interval: 200 })
      .toBe('DISABLED');
    expect((await listEndpoint())?.disabledReason).toBe('http_410');
    // No retries after a 410.
    expect(hooks.received).toHaveLength(1);

    // A disabled endpoint gets no new events.
    await dave.placeOrder(orderBody());
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(hooks.received).toHaveLength(1);

    gone = false;
    const enabled = answered(
      await dave.api.POST('/webhooks/{id}/enable', { params: { path: { id: endpoint.id } } }),
    );
    expect(enabled).toMatchObject({ status: 'ENABLED', replayed: 1 });
    expect((await listEndpoint())?.status).toBe('ENABLED');
    await expect.poll(() => hooks.received.length, { timeout: 10_000 }).toBe(2);
    expect(hooks.received[1]?.headers['webhook-id']).toBe(hooks.received[0]?.headers['webhook-id']);
    expect(hooks.received[1]?.answered).toBe(200);
  });
});

describe('secret rotation', () => {
  it('signs with the old and the new secret during the grace period, both verifying', async () => {
    const hooks = await receiver(() => 200);
    const endpoint = await register(bob, hooks.url, ['OrderPlaced']);
    const rotated = answered(
      await bob.api.POST('/webhooks/{id}/rotate-secret', { params: { path: { id: endpoint.id } } }),
    );
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(endpoint.secret);
    expect(Date.parse(rotated.previousSecretExpiresAt ?? '') - Date.now()).toBeGreaterThan(23 * 3600_000);

    await bob.placeOrder(orderBody());
    await expect.poll(() => hooks.received.length, { timeout: 20_000 }).toBe(1);
    const [delivery] = hooks.received;
    expect(delivery?.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(() => verifyWebhook(endpoint.secret, delivery?.headers ?? {}, delivery?.body ?? '')).not.toThrow();
    expect(() => verifyWebhook(rotated.secret, delivery?.headers ?? {}, delivery?.body ?? '')).not.toThrow();

    // Rotating with no grace period (a leaked secret) stops the old one at once.
    const urgent = answered(
      await bob.api.POST('/webhooks/{id}/rotate-secret', {
        params: { path: { id: endpoint.id } },
        body: { gracePeriodSeconds: 0 },
      }),
    );
    expect(urgent.previousSecretExpiresAt).toBeNull();
    await bob.placeOrder(orderBody());
    await expect.poll(() => hooks.received.length, { timeout: 20_000 }).toBe(2);
    const after = hooks.received[1];
    expect(after?.headers['webhook-signature']?.split(' ')).toHaveLength(1);
    expect(() => verifyWebhook(urgent.secret, after?.headers ?? {}, after?.body ?? '')).not.toThrow();
    expect(() => verifyWebhook(rotated.secret, after?.headers ?? {}, after?.body ?? '')).toThrow();
  });
});

describe('client isolation', () => {
  it("answers 404 on every route for another client's endpoint", async () => {
    const hooks = await receiver(() => 200);
    const endpoint = await register(alice, hooks.url, ['OrderCancelled']);

    const attempts = [
      await bob.request('GET', `/webhooks/${endpoint.id}/deliveries`),
      await bob.request('POST', `/webhooks/${endpoint.id}/rotate-secret`),
      await bob.request('POST', `/webhooks/${endpoint.id}/enable`),
      await bob.request('DELETE', `/webhooks/${endpoint.id}`),
    ];

    expect(attempts.map((a) => a.status)).toEqual([404, 404, 404, 404]);
    expect((await alice.request('GET', `/webhooks/${endpoint.id}/deliveries`)).status).toBe(200);
  });
});
