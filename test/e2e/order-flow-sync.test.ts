/**
 * The synchronous order flow (`-c orderFlow=sync`, case 1 of the burst bench) through the whole system: `POST /orders`
 * places the order within the request (stock, payment, the customer's mail) and answers 200 with the ended order, the
 * view `GET /orders/{id}` gives. Its terminal outbox message still reaches the consumers (points, the notify worker,
 * which must not mail again), and no saga is ever started for it. Local target only: it runs the variant's own
 * synthesis.
 *
 * The variant is synthesized here, not in the e2e global setup (as test/e2e/mail-service.test.ts does): the synth stamp
 * (local/synth.ts) makes it a no-op whenever nothing in bin/, lib/ or functions/ changed since, and the suite's other
 * files never wait for it.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionName } from '#functions/saga/starter.ts';
import { SYNC_CDK_OUT, SYNC_CONTEXT, synthesizeBuzzer } from '#local/buzzer/synth.ts';
import { consoleLogger } from '#local/logging.ts';
import { ApiClient, type OrderView, orderBody, SandboxClient } from './client.ts';
import { pointsOf, type TableAccess, tableAccess } from './table.ts';
import { startTarget, type Target } from './target.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Keys unique to this run. */
const run = randomUUID().slice(0, 8);

let target: Target;
let alice: ApiClient;
let sandbox: SandboxClient;
let table: TableAccess;
/** Every order this file placed: none of them may have a saga execution. */
const placedOrders: string[] = [];

function runtime() {
  if (!target.runtime) throw new Error('order-flow-sync.test.ts runs on the local target only');
  return target.runtime;
}

const functionNamed = (prefix: string) =>
  Object.entries(runtime().info.functions).find(([logicalId]) => logicalId.startsWith(prefix))?.[1];

/** The synchronous answer is the order itself (`OrderView`), as `GET /orders/{id}` gives it. */
const view = (body: unknown) => body as OrderView;

/** Places an order and remembers its id for the saga check. */
async function place(...args: Parameters<ApiClient['placeOrder']>) {
  const placed = await alice.placeOrder(...args);
  const trackingId = (placed.body as { trackingId?: unknown } | undefined)?.trackingId;
  if (typeof trackingId === 'string') placedOrders.push(trackingId);
  return placed;
}

beforeAll(async () => {
  await synthesizeBuzzer({
    projectRoot: PROJECT_ROOT,
    outdir: path.join(PROJECT_ROOT, SYNC_CDK_OUT),
    context: { ...SYNC_CONTEXT },
    logger: consoleLogger('warn'),
  });
  target = await startTarget({ cdkOut: SYNC_CDK_OUT });
  alice = new ApiClient(target.apiUrl, target.apiKeys.alice ?? '');
  sandbox = new SandboxClient(target.sandboxUrl, target.sandboxAuth);
  table = tableAccess(target);
  // A first order warms PlaceOrderSync and the sandbox provider. Cold, on a machine shared with the other e2e files,
  // the provider's first answer can outlast the payment client's 3 s timeout; the client then sends the charge again
  // under the same key (CI58: calls 3, one charge), which the tests below would read as a fault of the flow.
  const warm = await place(orderBody());
  if (warm.status !== 200)
    throw new Error(`the warm-up order answered ${warm.status}: ${JSON.stringify(warm.body)}`);
}, 240_000);

afterAll(async () => {
  table?.close();
  await target?.stop();
});

describe('synchronous order flow (orderFlow=sync)', () => {
  it('serves POST /orders with PlaceOrderSync, beside the saga and the consumers', () => {
    expect(functionNamed('ApiPlaceOrderSync')).toBeDefined();
    expect(functionNamed('ApiAcceptOrder')).toBeUndefined();
    for (const deployed of [
      'ApiGetOrder',
      'OutboxRelay',
      'SagaStarter',
      'SagaAuthorizePayment',
      'Notifier',
      'Points',
    ])
      expect(functionNamed(deployed), deployed).toBeDefined();
  });

  it('answers 200 with the confirmed order, charged once, mailed once, its points credited', async () => {
    const body = orderBody();
    const placed = await place(body);

    expect(placed.status, JSON.stringify(placed.body)).toBe(200);
    const order = view(placed.body);
    expect(order).toMatchObject({
      trackingId: expect.any(String),
      status: 'CONFIRMED',
      paymentRef: expect.stringMatching(/^ch_/),
    });
    expect(placed.headers.get('location')).toBe(`/orders/${order.trackingId}`);
    // The same view GET /orders/{id} answers.
    const read = await alice.getOrder(order.trackingId);
    expect(read.status).toBe(200);
    expect(Object.keys(order).sort()).toEqual(Object.keys(read.body).sort());
    expect(read.body).toMatchObject({ trackingId: order.trackingId, status: 'CONFIRMED' });

    // OrderConfirmed went through the outbox to the consumers: the points worker credits 2 cups at 2 points.
    await expect
      .poll(async () => (await pointsOf(table, 'alice', body.customer.id)).balance, { timeout: 20_000 })
      .toBe(4);
    // The notify worker got the same event: it must not mail a second time (give a late send time to show).
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const mail = await sandbox.mailFor(order.trackingId);
    expect(mail.body.messages).toHaveLength(1);
    const charge = await sandbox.charge(order.trackingId);
    expect(charge.status).toBe(200);
    expect(charge.body).toMatchObject({ refunds: [], calls: 1 });
    expect(charge.body.charge?.id).toBe(order.paymentRef);
  });

  it('answers 200 with the cancelled order when the card is declined, and charges nothing', async () => {
    const placed = await place(orderBody({ paymentToken: 'tok_decline' }));

    expect(placed.status, JSON.stringify(placed.body)).toBe(200);
    const order = view(placed.body);
    expect(order).toMatchObject({ status: 'CANCELLED', failureReason: 'PAYMENT_DECLINED' });
    expect((await alice.getOrder(order.trackingId)).body).toMatchObject({
      status: 'CANCELLED',
      failureReason: 'PAYMENT_DECLINED',
    });
    expect((await sandbox.charge(order.trackingId)).status).toBe(404);
    // The customer is told once, whoever sends it (the request, or the notify worker on OrderCancelled).
    await expect
      .poll(async () => (await sandbox.mailFor(order.trackingId)).body.messages.length, { timeout: 20_000 })
      .toBe(1);
  });

  it('answers a replay with the same order (idempotent-replayed), charged once; another body under the key is 422', async () => {
    const key = `sync-same-key-${run}`;
    const body = orderBody();
    const first = await place(body, key);
    const again = await place(body, key);

    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(view(again.body)).toMatchObject({
      trackingId: view(first.body).trackingId,
      status: view(first.body).status,
    });
    expect((await sandbox.charge(view(first.body).trackingId)).body.calls).toBe(1);

    const other = await place({ ...body, currency: 'USD' }, key);
    expect(other.status).toBe(422);
    expect(other.body.error?.code).toBe('idempotency_key_reused');
  });

  it('answers 400 with a message to a bad body, as the async route does', async () => {
    const cases: unknown[] = [
      '{not json',
      { ...orderBody(), items: [] },
      { ...orderBody(), currency: 'euro' },
    ];
    for (const [i, body] of cases.entries()) {
      const result = await place(body, `sync-bad-input-${i}-${run}`);
      expect(result.status, JSON.stringify(body)).toBe(400);
      expect(result.body.error?.message, JSON.stringify(result.body)).toMatch(/\w+/);
    }
  });

  it('never starts a saga for its orders', async () => {
    expect(placedOrders.length).toBeGreaterThanOrEqual(3);
    const stateMachineArn = runtime().info.outputs.StateMachineArn;
    if (typeof stateMachineArn !== 'string')
      throw new Error('the sync variant has no StateMachineArn output');
    // Time for the relay to publish the last orders' outbox messages and for a saga to start, were one of them an
    // OrderPlaced (the first order's points showed the whole path takes well under this).
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const { executions } = runtime().engines.stepFunctions.listExecutions({
      stateMachineArn,
      maxResults: 1000,
    });
    const names = new Set(executions.map((execution) => execution.name));
    expect(placedOrders.filter((orderId) => names.has(executionName(orderId)))).toEqual([]);
  });
});
