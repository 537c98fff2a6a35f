import { describe, expect, it } from 'vitest';
import { PREFER_WAIT_MAX_SECONDS } from '#contracts/api.ts';
import type { OrderRecord, OrderStatus } from '#functions/orders/order.ts';
import { orderRecordSchema } from '#functions/orders/order.ts';
import {
  isTerminal,
  readGaps,
  WAIT_DEADLINE_MARGIN_MS,
  type WaitClock,
  waitForTerminal,
  waitToApply,
} from '#functions/orders/wait.ts';
import { storedOrder } from './helpers.ts';

const order = (status: OrderStatus): OrderRecord => orderRecordSchema.parse(storedOrder({ status }));

/** A clock that moves only when the code under test sleeps: every sleep and every read is on the record. */
function fakeClock(readTakesMs = 0) {
  let now = 1_000_000;
  const sleeps: number[] = [];
  const readsAt: number[] = [];
  const clock: WaitClock = {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
  const start = now;
  /** A read that finds the order PENDING until `endsAtMs` after the start, then `outcome`. */
  const reader =
    (endsAtMs = Number.POSITIVE_INFINITY, outcome: OrderStatus = 'CONFIRMED') =>
    async () => {
      now += readTakesMs;
      readsAt.push(now - start);
      return order(now - start >= endsAtMs ? outcome : 'PENDING');
    };
  return { clock, sleeps, readsAt, reader, elapsed: () => now - start };
}

const budget = (waitMs: number, remainingMs = 30_000) => ({
  waitMs,
  remainingMs,
  last: order('PENDING'),
});

describe('waitToApply', () => {
  it('applies what was asked up to the cap, and nothing when nothing was asked', () => {
    expect(waitToApply(5)).toBe(5);
    expect(waitToApply(0)).toBe(0);
    expect(waitToApply(PREFER_WAIT_MAX_SECONDS)).toBe(PREFER_WAIT_MAX_SECONDS);
    expect(waitToApply(PREFER_WAIT_MAX_SECONDS + 1)).toBe(PREFER_WAIT_MAX_SECONDS);
    expect(waitToApply(Number.POSITIVE_INFINITY)).toBe(PREFER_WAIT_MAX_SECONDS);
    expect(waitToApply(undefined)).toBeUndefined();
  });
});

describe('isTerminal', () => {
  it('holds for CONFIRMED and CANCELLED only', () => {
    expect(isTerminal({ status: 'CONFIRMED' })).toBe(true);
    expect(isTerminal({ status: 'CANCELLED' })).toBe(true);
    expect(isTerminal({ status: 'PENDING' })).toBe(false);
  });
});

describe('readGaps', () => {
  it('starts at 100 ms, doubles to 1 s and lands the last read on the deadline', () => {
    expect(readGaps(5000)).toEqual([100, 200, 400, 800, 1000, 1000, 1000, 500]);
    expect(readGaps(250)).toEqual([100, 150]);
    expect(readGaps(0)).toEqual([]);
  });

  it('reads 13 times in a full 10 s wait: about one read a second', () => {
    expect(readGaps(10_000)).toHaveLength(13);
  });
});

describe('waitForTerminal', () => {
  it('stops at the first read that sees the order ended, and returns it', async () => {
    const { clock, readsAt, reader } = fakeClock();

    const result = await waitForTerminal(reader(650, 'CANCELLED'), budget(5000), clock);

    expect(result?.status).toBe('CANCELLED');
    expect(readsAt).toEqual([100, 300, 700]);
  });

  it('gives up at the deadline with the order as last read', async () => {
    const { clock, readsAt, reader, elapsed } = fakeClock();

    const result = await waitForTerminal(reader(), budget(2000), clock);

    expect(result?.status).toBe('PENDING');
    expect(elapsed()).toBe(2000);
    expect(readsAt.at(-1)).toBe(2000);
  });

  it('reads 8 times in a 5 s wait, never sooner than 100 ms apart: no tight loop', async () => {
    const { clock, sleeps, readsAt, reader } = fakeClock();

    await waitForTerminal(reader(), budget(5000), clock);

    expect(readsAt).toEqual([100, 300, 700, 1500, 2500, 3500, 4500, 5000]);
    expect(sleeps).toEqual(readGaps(5000));
    expect(Math.min(...sleeps.slice(0, -1))).toBeGreaterThanOrEqual(100);
  });

  it('keeps to the deadline when reads take time', async () => {
    const { clock, readsAt, reader, elapsed } = fakeClock(30);

    await waitForTerminal(reader(), budget(5000), clock);

    // The deadline is fixed at the start; slow reads mean fewer of them, not a longer wait.
    expect(readsAt.length).toBeLessThanOrEqual(readGaps(5000).length);
    expect(elapsed()).toBeLessThanOrEqual(5000 + 30);
  });

  it('returns at once, without reading, an order that has already ended', async () => {
    const { clock, readsAt, reader } = fakeClock();

    const result = await waitForTerminal(reader(), { ...budget(5000), last: order('CONFIRMED') }, clock);

    expect(result?.status).toBe('CONFIRMED');
    expect(readsAt).toEqual([]);
  });

  it('reads at once when the caller has not read the order (a replayed POST)', async () => {
    const { clock, readsAt, reader } = fakeClock();

    const result = await waitForTerminal(reader(0), { waitMs: 5000, remainingMs: 30_000 }, clock);

    expect(result?.status).toBe('CONFIRMED');
    expect(readsAt).toEqual([0]);
  });

  it('stops when the order cannot be found: there is nothing to wait for', async () => {
    const { clock, sleeps } = fakeClock();

    const result = await waitForTerminal(async () => undefined, { waitMs: 5000, remainingMs: 30_000 }, clock);

    expect(result).toBeUndefined();
    expect(sleeps).toEqual([]);
  });

  it('ends the margin before the function would time out, however long the client would wait', async () => {
    const { clock, reader, elapsed } = fakeClock();

    await waitForTerminal(reader(), budget(10_000, 5000), clock);

    expect(elapsed()).toBe(5000 - WAIT_DEADLINE_MARGIN_MS);
  });

  it('does not wait at all when the function has less than the margin left', async () => {
    const { clock, readsAt, reader } = fakeClock();

    const result = await waitForTerminal(reader(), budget(10_000, WAIT_DEADLINE_MARGIN_MS - 1), clock);

    expect(result?.status).toBe('PENDING');
    expect(readsAt).toEqual([]);
  });

  it('waits on the real timer by default', async () => {
    let reads = 0;
    const started = Date.now();

    await waitForTerminal(async () => {
      reads++;
      return order('PENDING');
    }, budget(250));

    expect(reads).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
  });
});
