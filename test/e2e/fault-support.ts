/**
 * What the fault scenarios share: the target they run on (faults.test.ts on every target, plus the scenarios of
 * faults.local.ts with the local engines' hooks), and the helpers that read effects at the receiving side.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { putStock } from '#local/buzzer/seed.ts';
import { ApiClient, SandboxClient } from './client.ts';
import { type TableAccess, tableAccess } from './table.ts';
import { startTarget, type Target, type TargetOptions } from './target.ts';

export const FAULTS_TARGET: TargetOptions = {
  // Failed messages back off 1–2 s instead of 30 s and more (local target): a retry shows up within the test.
  environment: { RETRY_BACKOFF_BASE_SECONDS: '1', RETRY_BACKOFF_MAX_SECONDS: '2' },
  // tok_timeout and tok_late hold a sandbox environment per attempt (four each) for 10–14 s.
  lambdaConcurrency: 8,
};

/** The target of the fault scenarios and the clients they act through; set once the file's beforeAll has run. */
export interface FaultsTarget {
  target: Target;
  alice: ApiClient;
  sandbox: SandboxClient;
  table: TableAccess;
}

/**
 * Starts the faults target before the calling file's tests and stops it after them. The scenarios of every target and
 * the local-only ones share it: a runtime start (DynamoDB Local, the engines, cold functions) costs more than most
 * scenarios, and each scenario scopes its assertions to its own orders, SKUs and customers.
 */
export function useFaultsTarget(): FaultsTarget {
  const ctx = {} as FaultsTarget;
  beforeAll(async () => {
    ctx.target = await startTarget(FAULTS_TARGET);
    ctx.alice = new ApiClient(ctx.target.apiUrl, ctx.target.apiKeys.alice ?? '');
    ctx.sandbox = new SandboxClient(ctx.target.sandboxUrl, ctx.target.sandboxAuth);
    ctx.table = tableAccess(ctx.target);
  });
  afterAll(async () => {
    ctx.table?.close();
    await ctx.target?.stop();
  });
  return ctx;
}

/**
 * Effects arrive a moment after the order ends (the workers run behind their queues); under load, a few seconds. The
 * bound is for liveness, far above the usual figure: a poll ends as soon as it holds, and one CI machine ran the
 * whole e2e suite twice as slowly as another (CI31: a worker's redelivered batch was still in its queue at 15 s; a
 * poison message needs five receives).
 */
export const SETTLE = { timeout: 60_000, interval: 200 };
/** How long a scenario waits for an order that retries and compensates on purpose (four timed-out charges and more). */
export const SLOW_ORDER_MS = 120_000;

export const steps = (timeline: Array<{ step: string; status: string }>) =>
  timeline.map((t) => `${t.step}:${t.status}`);

/** A SKU of this test alone, so stock levels are not shared with other scenarios or runs. */
export async function freshSku(table: TableAccess, available: number): Promise<string> {
  const sku = `test-${randomUUID().slice(0, 8)}`;
  await putStock(table.doc, table.tableName, [
    { sku, name: 'Test item', prices: { EUR: 550 }, points: 5, available },
  ]);
  return sku;
}

export async function mailCount(
  sandbox: SandboxClient,
  orderId: string,
): Promise<{ messages: number; calls: number }> {
  const { body } = await sandbox.mailFor(orderId);
  return {
    messages: body.messages.length,
    calls: body.messages.reduce((sum, message) => sum + (message.calls ?? 0), 0),
  };
}

/** Polls `read` until `done` holds, or fails naming `what` with the last value seen. */
export async function until<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
) {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
}
