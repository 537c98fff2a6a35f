/**
 * `Prefer: wait=N` on the order routes: hold the answer until the order is CONFIRMED or CANCELLED, for at most N
 * seconds (capped). The wait re-reads the order item, as a polling client would, but from inside the function and
 * at a falling rate: a few quick reads for the sagas that end within a few hundred milliseconds, then one a second.
 * A subscription (a stream consumer waking the request, a queue per request) could save only those reads, a few per
 * cent of a waited second's cost: the function held open for the wait is the bill (bench/cost-model.ts,
 * `waitCostPerSecond`).
 */
import { PREFER_WAIT_MAX_SECONDS } from '#contracts/api.ts';
import type { OrderRecord, OrderStatus } from './order.ts';

/** Statuses an order never leaves: the saga has ended. */
export const TERMINAL_STATUSES: readonly OrderStatus[] = ['CONFIRMED', 'CANCELLED'];

export function isTerminal(order: Pick<OrderRecord, 'status'>): boolean {
  return TERMINAL_STATUSES.includes(order.status);
}

/**
 * The first read comes 100 ms after the wait begins, then the gap doubles up to 1 s: a healthy saga ends in a few
 * hundred milliseconds and is seen within about 100 ms of it, a slow one costs one read a second, never a tight loop.
 */
export const WAIT_FIRST_READ_MS = 100;
export const WAIT_MAX_READ_GAP_MS = 1000;

/**
 * How long before the function's timeout the wait gives up: the last read, the answer and the middlewares after the
 * handler must still fit, or the client would get a 502 from API Gateway instead of its 202. 2 s leaves a consistent
 * GetItem room for the SDK's retries under throttling.
 */
export const WAIT_DEADLINE_MARGIN_MS = 2000;

/** The seconds of a requested `Prefer: wait` that will be applied: at most `PREFER_WAIT_MAX_SECONDS`. */
export function waitToApply(requestedSeconds: number | undefined): number | undefined {
  return requestedSeconds === undefined ? undefined : Math.min(requestedSeconds, PREFER_WAIT_MAX_SECONDS);
}

/**
 * The gaps before each read of a wait of `waitMs` that never sees the order end, reads taking no time: 100, 200,
 * 400, 800, then 1000 ms apart, the last one cut short so that it lands on the deadline.
 */
export function readGaps(waitMs: number): number[] {
  const gaps: number[] = [];
  let elapsed = 0;
  let gap = WAIT_FIRST_READ_MS;
  while (elapsed < waitMs) {
    const next = Math.min(gap, waitMs - elapsed);
    gaps.push(next);
    elapsed += next;
    gap = Math.min(gap * 2, WAIT_MAX_READ_GAP_MS);
  }
  return gaps;
}

export interface WaitClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** Wall-clock time and a timer (the global `setTimeout`, so tests can take over both with fake timers). */
export const systemClock: WaitClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface WaitOptions {
  /** How long the client agreed to wait, already capped (`waitToApply`). */
  waitMs: number;
  /** What the function has left before its timeout (`context.getRemainingTimeInMillis()`). */
  remainingMs: number;
  /**
   * The order as the caller last read it, so its first read waits `WAIT_FIRST_READ_MS`; undefined when the caller
   * has not read it (a replayed POST, whose order may have ended long ago), so the first read is at once.
   */
  last?: OrderRecord;
}

/**
 * Re-reads the order (`read`: a strongly consistent GetItem) with backoff until it is terminal or the wait is over,
 * whichever comes first, and returns the order as last read: terminal if it ended in time. Undefined when a read finds
 * no order (nothing to wait for).
 */
export async function waitForTerminal(
  read: () => Promise<OrderRecord | undefined>,
  options: WaitOptions,
  clock: WaitClock = systemClock,
): Promise<OrderRecord | undefined> {
  const deadline = clock.now() + Math.min(options.waitMs, options.remainingMs - WAIT_DEADLINE_MARGIN_MS);
  let order = options.last ?? (await read());
  let gap = WAIT_FIRST_READ_MS;
  while (order && !isTerminal(order)) {
    const left = deadline - clock.now();
    if (left <= 0) break;
    await clock.sleep(Math.min(gap, left));
    order = await read();
    gap = Math.min(gap * 2, WAIT_MAX_READ_GAP_MS);
  }
  return order;
}
