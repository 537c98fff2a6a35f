import { describe, expect, it } from 'vitest';
import { concurrencyLimit } from '#shared/limit.ts';

describe('concurrencyLimit', () => {
  it('runs at most n at once, the rest in order as places free up, and passes results and errors through', async () => {
    const limit = concurrencyLimit(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const work = (i: number) =>
      limit(async () => {
        started.push(i);
        running += 1;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
        if (i === 3) throw new Error('three');
        return i;
      });

    const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map(work));

    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      0,
      1,
      2,
      'three',
      4,
      5,
    ]);
  });

  it('refuses a limit below one', () => {
    expect(() => concurrencyLimit(0)).toThrow(/whole number ≥ 1/);
  });
});
