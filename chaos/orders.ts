/**
 * The client side of a chaos run: places orders the way a careful client does (an Idempotency-Key per order, the
 * same key on every retry of a 5xx or a dropped connection), waits for them to end, and gathers what each order left
 * behind at the receiving side: its status, the provider's charge and refunds, the mail sink, the points ledger.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchGetCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import {
  type AcceptedOrder,
  type OrderView as ApiOrderView,
  type BuzzerClient,
  createBuzzerClient,
  type ErrorBody,
  type PlaceOrder,
} from '#client/index.ts';
import { readPoints } from '#functions/loyalty/points.ts';
import { type CatalogueItem, readCatalogue } from '#functions/orders/pricing.ts';
import type { TokenName } from '#functions/sandbox/tokens.ts';
import { authenticatedFetch } from '#shared/request-auth.ts';
import { keys } from '#shared/table-keys.ts';
import { pickWeighted } from './profiles.ts';
import type { SystemUnderTest } from './system.ts';

export interface PlacedOrder {
  trackingId: string;
  idempotencyKey: string;
  customerId: string;
  token: TokenName;
  /** POST attempts it took (1 = accepted at once). */
  attempts: number;
}

export interface Rejection {
  idempotencyKey: string;
  status: number;
  message: string;
}

/**
 * What the run reads of the order `GET /orders/{trackingId}` answers: the OpenAPI document's shape
 * (client/api-types.ts), narrowed to the fields the ledger checks.
 */
export type OrderView = Pick<ApiOrderView, 'status' | 'items' | 'amount' | 'currency' | 'failureReason'> & {
  timeline: Array<Pick<ApiOrderView['timeline'][number], 'step' | 'status' | 'detail'>>;
};

/** Everything observed about one accepted order after the run. */
export interface OrderObservation {
  order: PlacedOrder;
  /** `undefined`: the API does not know the order (404). */
  view: OrderView | undefined;
  /** `amount` and `currency` as the provider recorded the charge (absent without one). */
  charge: { exists: boolean; refunds: number; calls: number; amount?: number; currency?: string };
  /** The order's stock reservation: whether there is one and whether it was released (compensated). */
  reservation: { exists: boolean; released: boolean };
  mails: Array<{ subject: string; calls: number }>;
  /** The customer's ledger lines and their sum, which is the balance (functions/loyalty/points.ts). */
  points: { ledgerLines: number; ledgerPoints: number };
}

/** Items with plenty of stock, so outcomes depend on the faults, not on selling out. */
export const MENU = ['espresso', 'flat-white', 'croissant'] as const;
/**
 * Currencies the run orders in: each exponent the shop knows (2, 0, 3), so the money check sees an order charged in
 * another currency's price. The demo catalogue prices every MENU item in each.
 */
const CURRENCIES = ['EUR', 'USD', 'JPY', 'KWD'] as const;
const MAX_POST_ATTEMPTS = 6;
/** BatchGetItem reads at most 100 keys per call. */
const BATCH_GET_LIMIT = 100;

/** The typed client (client/index.ts) the run talks to the API through: one per system under test. */
const clients = new WeakMap<SystemUnderTest, BuzzerClient>();

function apiOf(system: SystemUnderTest): BuzzerClient {
  let client = clients.get(system);
  if (!client) {
    client = createBuzzerClient(system.apiUrl, system.apiKey);
    clients.set(system, client);
  }
  return client;
}

function parsed(text: string | undefined): unknown {
  try {
    return text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    return text;
  }
}

/** The sandbox's answers (not the client API's): JSON, or the text when it is not. */
const json = async (response: Response): Promise<unknown> => parsed(await response.text());

/** Runs `work` over `items` with at most `concurrency` at a time. */
export async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

export interface PlaceOptions {
  count: number;
  concurrency: number;
  tokens: Partial<Record<TokenName, number>>;
  random: () => number;
  /** Every order of the run mails this address, so one sink query finds the run's mail. */
  email: string;
  runId: string;
}

export async function placeOrders(
  system: SystemUnderTest,
  options: PlaceOptions,
): Promise<{ accepted: PlacedOrder[]; rejected: Rejection[] }> {
  const accepted: PlacedOrder[] = [];
  const rejected: Rejection[] = [];
  const indexes = Array.from({ length: options.count }, (_, i) => i);
  await pool(indexes, options.concurrency, async (i) => {
    const token = pickWeighted(options.tokens, options.random);
    const customerId = `chaos-${options.runId}-${i}`;
    const sku = MENU[Math.floor(options.random() * MENU.length)] ?? 'espresso';
    const quantity = 1 + Math.floor(options.random() * 3);
    const currency = CURRENCIES[Math.floor(options.random() * CURRENCIES.length)] ?? 'EUR';
    const order: PlaceOrder = {
      customer: { id: customerId, email: options.email, name: 'Chaos Monkey' },
      items: [{ sku, quantity }],
      currency,
      paymentToken: token,
    };
    const idempotencyKey = `chaos-${options.runId}-${i}-${randomUUID().slice(0, 8)}`;
    const outcome = await postWithRetries(system, order, idempotencyKey);
    if ('trackingId' in outcome) {
      accepted.push({
        trackingId: outcome.trackingId,
        idempotencyKey,
        customerId,
        token,
        attempts: outcome.attempts,
      });
    } else {
      rejected.push({ idempotencyKey, ...outcome });
    }
  });
  return { accepted, rejected };
}

async function postWithRetries(
  system: SystemUnderTest,
  order: PlaceOrder,
  idempotencyKey: string,
): Promise<{ trackingId: string; attempts: number } | { status: number; message: string }> {
  let last = { status: 0, message: 'not sent' };
  for (let attempt = 1; attempt <= MAX_POST_ATTEMPTS; attempt++) {
    try {
      const { data, error, response } = await apiOf(system).POST('/orders', {
        params: { header: { 'Idempotency-Key': idempotencyKey } },
        body: order,
        // Read as text: a chaos answer may be a gateway's page that is not JSON (an error body is parsed when it is).
        parseAs: 'text',
      });
      const answer = (response.ok ? parsed(data) : error) as Partial<AcceptedOrder & ErrorBody> | undefined;
      if (response.status === 202 && answer?.trackingId)
        return { trackingId: answer.trackingId, attempts: attempt };
      last = { status: response.status, message: answer?.error?.message ?? JSON.stringify(answer) };
      // A 4xx is the client's fault: retrying the same request cannot help.
      if (response.status < 500 && response.status !== 429) return last;
    } catch (error) {
      // A dropped connection: the same key again.
      last = { status: 0, message: error instanceof Error ? error.message : String(error) };
    }
    await sleep(250 * attempt);
  }
  return last;
}

export async function getOrder(system: SystemUnderTest, trackingId: string): Promise<OrderView | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { data, response } = await apiOf(system).GET('/orders/{trackingId}', {
        params: { path: { trackingId } },
      });
      if (response.status === 404) return undefined;
      if (data) return data;
      if (attempt >= MAX_POST_ATTEMPTS)
        throw new Error(`GET /orders/${trackingId} answered ${response.status}`);
    } catch (error) {
      if (attempt >= MAX_POST_ATTEMPTS) throw error;
    }
    await sleep(200 * attempt);
  }
}

/** Some attributes of each order straight from the table: a cheap read that does not compete with the system for its API. */
async function orderAttributes(
  system: SystemUnderTest,
  orders: readonly PlacedOrder[],
  attributes: readonly string[],
): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  const names = Object.fromEntries(attributes.map((attribute, i) => [`#a${i}`, attribute]));
  for (let start = 0; start < orders.length; start += BATCH_GET_LIMIT) {
    let keys: Array<Record<string, unknown>> = orders
      .slice(start, start + BATCH_GET_LIMIT)
      .map((order) => ({ pk: `ORDER#${order.trackingId}`, sk: 'ORDER' }));
    while (keys.length > 0) {
      const result = await system.doc.send(
        new BatchGetCommand({
          RequestItems: {
            [system.tableName]: {
              Keys: keys,
              ConsistentRead: true,
              ProjectionExpression: ['orderId', ...Object.keys(names)].join(', '),
              ExpressionAttributeNames: names,
            },
          },
        }),
      );
      for (const item of result.Responses?.[system.tableName] ?? []) found.set(String(item.orderId), item);
      keys = result.UnprocessedKeys?.[system.tableName]?.Keys ?? [];
    }
  }
  return found;
}

async function statusesOf(
  system: SystemUnderTest,
  orders: readonly PlacedOrder[],
): Promise<Map<string, string>> {
  const items = await orderAttributes(system, orders, ['status']);
  return new Map([...items].map(([orderId, item]) => [orderId, String(item.status)]));
}

/** Whether the order item's payment hold (`hold.until`) has not run out at `now`. */
function holdRuns(item: Record<string, unknown>, now: number): boolean {
  const until = (item.hold as { until?: unknown } | undefined)?.until;
  return typeof until === 'string' && Date.parse(until) > now;
}

/**
 * How many of `orders` are in each state, as a run that stopped waiting reports them: the status, and whether the
 * order holds stock, has a charge, or waits out a payment hold (e.g. `PENDING reserved held: 3`). Orders the table
 * does not have (yet) count as `missing`.
 */
export async function orderStates(
  system: SystemUnderTest,
  orders: readonly PlacedOrder[],
  now = Date.now(),
): Promise<Map<string, number>> {
  const items = await orderAttributes(system, orders, ['status', 'reservedAt', 'paymentRef', 'hold']);
  const states = new Map<string, number>();
  for (const order of orders) {
    const item = items.get(order.trackingId);
    const state = item
      ? [
          String(item.status),
          ...(item.reservedAt !== undefined ? ['reserved'] : []),
          ...(item.paymentRef !== undefined ? ['charged'] : []),
          ...(holdRuns(item, now) ? ['held'] : []),
        ].join(' ')
      : 'missing';
    states.set(state, (states.get(state) ?? 0) + 1);
  }
  return states;
}

/**
 * The orders that wait for the payment provider on purpose (a hold that has not run out): a parked EXPRESS order has
 * no running execution, and its last one SUCCEEDED, yet its saga comes back to it by itself.
 */
export async function liveHolds(
  system: SystemUnderTest,
  orders: readonly PlacedOrder[],
  now = Date.now(),
): Promise<Set<string>> {
  const items = await orderAttributes(system, orders, ['hold']);
  const held = new Set<string>();
  for (const [orderId, item] of items) if (holdRuns(item, now)) held.add(orderId);
  return held;
}

/**
 * Polls until every order is CONFIRMED or CANCELLED or the deadline passes; returns the ones still open.
 * `onProgress` hears how many are still open after each round.
 */
export async function waitForTerminal(
  system: SystemUnderTest,
  orders: readonly PlacedOrder[],
  deadline: number,
  onProgress: (open: number) => void = () => {},
  /** True when the open orders can no longer move on their own (waiting longer would only burn the deadline). */
  stuck: (open: readonly PlacedOrder[]) => Promise<boolean> = async () => false,
): Promise<PlacedOrder[]> {
  let open = [...orders];
  while (open.length > 0 && Date.now() < deadline) {
    const statuses = await statusesOf(system, open);
    open = open.filter((order) => {
      const status = statuses.get(order.trackingId);
      return status !== 'CONFIRMED' && status !== 'CANCELLED';
    });
    onProgress(open.length);
    if (open.length === 0 || (await stuck(open))) break;
    await sleep(500);
  }
  return open;
}

interface ChargeAnswer {
  charge?: { amount?: number; currency?: string };
  refunds?: unknown[];
  calls?: number;
}

async function observeCharge(
  system: SystemUnderTest,
  trackingId: string,
): Promise<OrderObservation['charge']> {
  const response = await authenticatedFetch(
    system.sandboxAuth,
    `${system.sandboxUrl}/v1/charges/${encodeURIComponent(trackingId)}`,
  );
  const answer = ((await json(response)) ?? {}) as ChargeAnswer;
  if (response.status !== 200 && response.status !== 404) {
    throw new Error(`sandbox GET /v1/charges/${trackingId} answered ${response.status}`);
  }
  const exists = response.status === 200 && answer.charge !== undefined;
  return {
    exists,
    refunds: answer.refunds?.length ?? 0,
    calls: answer.calls ?? 0,
    ...(exists ? { amount: answer.charge?.amount, currency: answer.charge?.currency } : {}),
  };
}

async function observeReservation(
  system: SystemUnderTest,
  trackingId: string,
): Promise<OrderObservation['reservation']> {
  // The order records its reservation (functions/saga/stock.ts): `reservedAt` when taken, `stockReleasedAt` when put back.
  const { Item } = await system.doc.send(
    new GetCommand({ TableName: system.tableName, Key: keys.order(trackingId), ConsistentRead: true }),
  );
  const exists = Item?.reservedAt !== undefined;
  return { exists, released: exists && Item?.stockReleasedAt !== undefined };
}

/** The catalogue items of the run's menu as they are now: prices, points and stock levels. */
export async function readMenu(system: SystemUnderTest): Promise<Map<string, CatalogueItem>> {
  return readCatalogue({ doc: system.doc, tableName: system.tableName }, MENU, { consistent: true });
}

/**
 * Samples the menu's stock levels every `intervalMs` until stopped and keeps the lowest level seen per SKU: the
 * money check's evidence that stock never went below zero while orders raced for it.
 */
export function sampleStock(system: SystemUnderTest, intervalMs = 1_000) {
  const lowest = new Map<string, number>();
  const sample = async () => {
    for (const [sku, item] of await readMenu(system)) {
      lowest.set(sku, Math.min(lowest.get(sku) ?? Number.POSITIVE_INFINITY, item.available));
    }
  };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      // A failed sample (a fault the run injected into the table's path) is skipped, not fatal.
      await sample().catch(() => {});
      await sleep(intervalMs);
    }
  })();
  return {
    /** Stops sampling, takes a last sample and answers the lowest levels seen. */
    stop: async (): Promise<Map<string, number>> => {
      stopped = true;
      await loop;
      await sample();
      return lowest;
    },
  };
}

export async function mailsTo(
  system: SystemUnderTest,
  email: string,
): Promise<Array<{ orderId?: string; subject: string; calls: number }>> {
  const response = await authenticatedFetch(
    system.sandboxAuth,
    `${system.sandboxUrl}/v1/mail?to=${encodeURIComponent(email)}`,
  );
  if (!response.ok) throw new Error(`sandbox GET /v1/mail answered ${response.status}`);
  const answer = (await json(response)) as {
    messages: Array<{ orderId?: string; subject: string; calls?: number }>;
  };
  return answer.messages.map((m) => ({ orderId: m.orderId, subject: m.subject, calls: m.calls ?? 0 }));
}

export async function pointsOf(
  system: SystemUnderTest,
  customerId: string,
): Promise<OrderObservation['points']> {
  const { ledger } = await readPoints(
    { doc: system.doc, tableName: system.tableName },
    system.clientId,
    customerId,
  );
  return {
    ledgerLines: ledger.length,
    ledgerPoints: ledger.reduce((sum, line) => sum + line.points, 0),
  };
}

export async function observeOrders(
  system: SystemUnderTest,
  orders: readonly PlacedOrder[],
  email: string,
): Promise<OrderObservation[]> {
  const mails = await mailsTo(system, email);
  const mailsByOrder = new Map<string, Array<{ subject: string; calls: number }>>();
  for (const mail of mails) {
    if (!mail.orderId) continue;
    const list = mailsByOrder.get(mail.orderId) ?? [];
    list.push({ subject: mail.subject, calls: mail.calls });
    mailsByOrder.set(mail.orderId, list);
  }
  return pool(orders, 8, async (order) => {
    const [view, charge, reservation, points] = await Promise.all([
      getOrder(system, order.trackingId),
      observeCharge(system, order.trackingId),
      observeReservation(system, order.trackingId),
      pointsOf(system, order.customerId),
    ]);
    return { order, view, charge, reservation, mails: mailsByOrder.get(order.trackingId) ?? [], points };
  });
}

export async function sandboxLedger(
  system: SystemUnderTest,
): Promise<{ charges: number; refunds: number; mails: number }> {
  const response = await authenticatedFetch(system.sandboxAuth, `${system.sandboxUrl}/v1/ledger`);
  if (!response.ok) throw new Error(`sandbox GET /v1/ledger answered ${response.status}`);
  return (await json(response)) as { charges: number; refunds: number; mails: number };
}
