/**
 * What the outage scenarios share (`outage-*.local.test.ts`, one file per scenario, each with a runtime of its own):
 * outages of the payment provider and the mail sink, with the circuit breakers' times compressed through the stack's
 * settings (the functions' environment): a circuit opens after 3 failures in a row, stays open 2 s, and an order waits
 * at most 120 s for the payment provider (15 s where the outage is to outlast the hold). The provider's requests are counted where they land (the sandbox's call log).
 *
 * Local target only: the times come from the runtime's environment override, and the reconciler's schedule is
 * compressed.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect } from 'vitest';
import { breakerKey } from '#functions/resilience/circuit-breaker.ts';
import { ApiClient, type OrderView, orderBody, SandboxClient } from './client.ts';
import { freshSku, steps, until } from './fault-support.ts';
import { stockLevel, type TableAccess, tableAccess } from './table.ts';
import { startTarget, type Target, type TargetOptions } from './target.ts';

export const OPEN_SECONDS = 2;
/** Held orders go to the provider two a second once it is back, so the 12 held orders take a few seconds in line. */
const RELEASE_PER_SECOND = 2;
// Well beyond the recoverable outage below (about 15 s) and its drain (two orders a second): on a loaded machine the
// outage and the drain each take several times longer (CI15: a 47 s outage, two holds of 45 s ran out). The tests
// never wait for this hold, so it costs nothing when all goes well.
export const HOLD_SECONDS = 120;

/** How long the mail sink is down: the minute. */
export const MAIL_OUTAGE_MS = 60_000;

const OUTAGE_ENVIRONMENT: Record<string, string> = {
  PAYMENT_CIRCUIT_FAILURE_THRESHOLD: '3',
  PAYMENT_CIRCUIT_OPEN_SECONDS: String(OPEN_SECONDS),
  PAYMENT_HOLD_SECONDS: String(HOLD_SECONDS),
  PAYMENT_RELEASE_PER_SECOND: String(RELEASE_PER_SECOND),
  MAIL_CIRCUIT_FAILURE_THRESHOLD: '3',
  MAIL_CIRCUIT_OPEN_SECONDS: String(OPEN_SECONDS),
  // An order whose compensation had to wait for the provider is driven on by the reconciler within the test.
  STUCK_AFTER_SECONDS: '30',
  RETRY_BACKOFF_BASE_SECONDS: '1',
  RETRY_BACKOFF_MAX_SECONDS: '2',
  // The provider of these scenarios is down (503 at once) or up; never slow. A machine starved by this file's runtimes and
  // the other files beside it made healthy charges outlast the 3 s default: three in a row opened
  // the payment circuit in the mail scenario, whose orders were then held (CI34). 6 s stays under the payment steps'
  // 10 s function time-out.
  PAYMENT_TIMEOUT_MS: '6000',
};

/**
 * How long an order may take to end once the provider is back: the release line (two a second) and every step on a
 * starved machine (CI36: an order authorized 90 s after it was placed, still unconfirmed a minute later).
 */
const RECOVERY_WAIT_MS = 180_000;
/** A scenario's own waits are its liveness bounds; this only ends one that hangs, on a machine loaded as CI's can be. */
export const SCENARIO_TIMEOUT_MS = 420_000;

const OUTAGE_TARGET: TargetOptions = {
  environment: OUTAGE_ENVIRONMENT,
  scheduleIntervalMs: 2000,
  lambdaConcurrency: 6,
};

/**
 * The scenario where the outage outlasts the hold runs on a runtime of its own, with a short hold, so it need not wait
 * 120 s; and a reconciler that drives on an order left stuck by its compensation 10 s after it was (a held STANDARD
 * order waits inside its running execution, which the reconciler leaves alone).
 */
export const SHORT_HOLD_SECONDS = 15;
export const SHORT_HOLD_TARGET: TargetOptions = {
  environment: {
    ...OUTAGE_ENVIRONMENT,
    PAYMENT_HOLD_SECONDS: String(SHORT_HOLD_SECONDS),
    STUCK_AFTER_SECONDS: '10',
    // An unanswered charge request may land for this long, so the compensation waits it out before it decides that
    // nothing was charged: 10 s instead of the provider contract's 30 s (above the 6 s payment time-out it bounds).
    PAYMENT_SETTLE_SECONDS: '10',
  },
};

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Outage {
  target: Target;
  alice: ApiClient;
  sandbox: SandboxClient;
  table: TableAccess;
}

async function startOutage(options: TargetOptions = {}): Promise<Outage> {
  const target = await startTarget({ ...OUTAGE_TARGET, ...options });
  return {
    target,
    alice: new ApiClient(target.apiUrl, target.apiKeys.alice ?? ''),
    sandbox: new SandboxClient(target.sandboxUrl, target.sandboxAuth),
    table: tableAccess(target),
  };
}

/**
 * A runtime of its own for the enclosing `describe`, started before its tests and stopped after them; its fields are
 * there once `beforeAll` has run.
 */
export function useOutage(options: TargetOptions = {}): Outage {
  const system = {} as Outage;
  beforeAll(async () => {
    Object.assign(system, await startOutage(options));
  });
  afterAll(async () => {
    await system.sandbox?.setFaults({});
    system.table?.close();
    await system.target?.stop();
  });
  return system;
}

export async function circuitOf(system: Outage, name: 'payment' | 'mail') {
  const { Item } = await system.table.doc.send(
    new GetCommand({ TableName: system.table.tableName, Key: breakerKey(name), ConsistentRead: true }),
  );
  return Item as { state?: string; since?: string; openUntil?: number } | undefined;
}

/** Places `count` orders of one unit of `sku`, one every `everyMs`; every one must be accepted (202). */
export async function placeOrders(
  system: Outage,
  count: number,
  everyMs: number,
  sku: string,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const placed = await system.alice.placeOrder(orderBody({ items: [{ sku, quantity: 1 }] }));
    expect(placed.status).toBe(202);
    ids.push(placed.body.trackingId);
    await sleep(everyMs);
  }
  return ids;
}

async function views(system: Outage, ids: string[]): Promise<OrderView[]> {
  return Promise.all(ids.map(async (id) => (await system.alice.getOrder(id)).body));
}

/** The provider's payment requests (charges, look-ups, refunds) between two moments, as the sandbox logged them. */
async function paymentCalls(system: Outage, from: Date, to: Date) {
  const { body } = await system.sandbox.calls(from);
  return body.calls.filter((call) => call.kind !== 'MAIL' && call.at <= to.toISOString());
}

/**
 * The provider down for a while (every payment request answered 503) while orders keep coming, then back: every order
 * is accepted and held, none is cancelled, every one is confirmed once the provider is back, and while the circuit
 * was open the provider saw at most one request per open interval (one probe).
 */
export async function outageThenRecovery(system: Outage, label: string) {
  const sku = await freshSku(system.table, 100);
  // A healthy order first: warm functions, a closed circuit.
  const warm = await system.alice.placeOrder(orderBody({ items: [{ sku, quantity: 1 }] }));
  // Generous: a cold start of every function on a machine shared with the other e2e files takes seconds.
  expect((await system.alice.waitForOrder(warm.body.trackingId, undefined, 90_000)).status).toBe('CONFIRMED');

  await system.sandbox.setFaults({ paymentFailureRate: 1 });
  const downAt = new Date();
  const ids = await placeOrders(system, 12, 500, sku);
  const held = await until(
    'every order to be held',
    () => views(system, ids),
    // A non-200 answer (a 429 or a 503 on a loaded machine) has no hold field at all: it is no held order.
    (orders) => orders.every((order) => order.hold !== null && order.hold !== undefined),
    30_000,
  );
  const circuit = await circuitOf(system, 'payment');
  // The outage goes on for a few more intervals.
  await sleep(3 * OPEN_SECONDS * 1000);
  const upAt = new Date();
  await system.sandbox.setFaults({});

  const done = await Promise.all(
    ids.map((id) => system.alice.waitForOrder(id, (order) => order.status !== 'PENDING', RECOVERY_WAIT_MS)),
  );

  const notConfirmed = done.filter((order) => order.status !== 'CONFIRMED');
  expect(notConfirmed.map((order) => ({ order: order.trackingId, timeline: order.timeline }))).toEqual([]);
  for (const order of held) {
    expect(order.status).toBe('PENDING');
    expect(order.hold?.reason).toMatch(/^payment provider unavailable since \d{4}-/);
    expect(Date.parse(order.hold?.until ?? '') - Date.parse(order.hold?.since ?? '')).toBe(
      HOLD_SECONDS * 1000,
    );
    expect(steps(order.timeline)).toContain('Held:WAITING');
  }
  for (const order of done) {
    expect(order.hold).toBeNull();
    expect(steps(order.timeline)).toContain('Held:WAITING');
    expect(steps(order.timeline).at(-1)).toBe('ConfirmOrder:SUCCEEDED');
  }
  // One charge each, none refunded.
  for (const id of ids) {
    const { body } = await system.sandbox.charge(id);
    expect(body.charge?.status, id).toBe('authorized');
    expect(body.refunds, id).toEqual([]);
  }
  expect(await stockLevel(system.table, sku)).toBe(100 - ids.length - 1);

  expect(circuit?.since).toBeDefined();
  const openedAt = Date.parse(circuit?.since ?? '');
  const calls = await paymentCalls(system, downAt, upAt);
  // Probes are look-ups, never charges: a charge admitted while the circuit was still closed may land after it opened
  // (seconds later on a loaded machine), so the spacing is checked on the look-ups alone.
  const probes = calls.filter((call) => call.kind === 'LOOKUP' && Date.parse(call.at) >= openedAt);
  expect(calls.filter((call) => call.kind === 'CHARGE' && Date.parse(call.at) > openedAt + 5000)).toEqual([]);
  const gaps = probes.slice(1).map((call, i) => Date.parse(call.at) - Date.parse(probes[i]?.at ?? ''));
  const openFor = upAt.getTime() - openedAt;
  console.info(
    `${label}: ${ids.length} orders during a ${Math.round((upAt.getTime() - downAt.getTime()) / 1000)} s outage; ` +
      `${calls.length} provider requests in it, ${calls.length - probes.length} of them charges sent before the circuit opened, ` +
      `${probes.length} probes in ${Math.round(openFor / 1000)} s open (every ${OPEN_SECONDS} s at most); ` +
      `all ${done.length} confirmed, 0 cancelled`,
  );
  expect(probes.length).toBeLessThanOrEqual(Math.floor(openFor / (OPEN_SECONDS * 1000)) + 1);
  for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(OPEN_SECONDS * 1000 - 100);

  // Back in arrival order: an order is charged only when fewer than RELEASE_PER_SECOND orders that arrived before it
  // are still held, so at most RELEASE_PER_SECOND - 1 earlier orders are charged after it.
  const charges = (await system.sandbox.calls(upAt, 'CHARGE')).body.calls;
  const chargedAt = ids.map((id) => charges.find((call) => call.key === id)?.at ?? '');
  expect(chargedAt.filter((at) => at === '')).toEqual([]);
  const overtaken = chargedAt.map((at, j) => chargedAt.slice(0, j).filter((earlier) => earlier > at).length);
  console.info(
    `${label}: earlier orders charged after each order, in arrival order: ${JSON.stringify(overtaken)}`,
  );
  for (const count of overtaken) expect(count).toBeLessThanOrEqual(RELEASE_PER_SECOND - 1);
  // Only the charges admitted before the circuit opened reached the provider: without the circuit every order would
  // have sent its own (4 attempts each). The probes are bounded above, by the outage's length.
  expect(calls.filter((call) => call.kind === 'CHARGE').length).toBeLessThan(ids.length);
  return { ids };
}

/** The statuses of each order's executions (the local runtime lists EXPRESS executions too). */
export function executionsPerOrder(system: Outage, ids: string[]): string[][] {
  const runtime = system.target.runtime;
  const stateMachineArn = runtime?.info.outputs.StateMachineArn;
  if (!runtime || typeof stateMachineArn !== 'string') throw new Error('no local state machine');
  const { executions } = runtime.engines.stepFunctions.listExecutions({ stateMachineArn, maxResults: 1000 });
  return ids.map((id) =>
    executions
      .filter((execution) => execution.name === `order-${id}`)
      .map((execution) => String(execution.status)),
  );
}
