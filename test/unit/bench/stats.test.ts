import { describe, expect, it } from 'vitest';
import { median, ms, pct, percentile, serviceRate, share, summarize, usd } from '#bench/stats.ts';

describe('percentile (nearest rank)', () => {
  it('returns an observed sample: the value below which p % of the samples fall', () => {
    const values = [15, 20, 35, 40, 50];
    expect(percentile(values, 30)).toBe(20);
    expect(percentile(values, 40)).toBe(20);
    expect(percentile(values, 50)).toBe(35);
    expect(percentile(values, 100)).toBe(50);
  });

  it('does not need sorted input and leaves the input alone', () => {
    const values = [5, 1, 4, 2, 3];
    expect(percentile(values, 50)).toBe(3);
    expect(values).toEqual([5, 1, 4, 2, 3]);
  });

  it('makes p99 of fewer than 100 samples the maximum', () => {
    const values = Array.from({ length: 40 }, (_, i) => i + 1);
    expect(percentile(values, 99)).toBe(40);
    expect(percentile(values, 95)).toBe(38);
  });

  it('p99 of 1000 samples is the 990th', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentile(values, 99)).toBe(990);
  });

  it('is NaN without samples and the minimum at p0', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(percentile([3, 1, 2], 0)).toBe(1);
  });

  it('median is p50', () => {
    expect(median([9, 1, 5])).toBe(5);
    expect(median([1, 2])).toBe(1);
  });
});

describe('summarize', () => {
  it('reports n, percentiles, max and mean', () => {
    const s = summarize(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(s).toEqual({ n: 200, p50: 100, p95: 190, p99: 198, max: 200, mean: 100.5 });
  });

  it('is all NaN with n = 0 for no samples', () => {
    const s = summarize([]);
    expect(s.n).toBe(0);
    expect(s.p99).toBeNaN();
  });
});

describe('formatting', () => {
  it('formats milliseconds, shares and dollars for tables', () => {
    expect(ms(4.26)).toBe('4.3');
    expect(ms(1234.4)).toBe('1,234');
    expect(ms(Number.NaN)).toBe('–');
    expect(pct(0.8)).toBe('80.0 %');
    expect(pct(share(1, 3), 0)).toBe('33 %');
    expect(share(1, 0)).toBe(0);
    expect(usd(0.000123456)).toBe('$0.000123');
    expect(usd(123.4)).toBe('$123');
    expect(usd(12.345)).toBe('$12.35');
    expect(usd(0)).toBe('$0');
  });
});

describe('serviceRate', () => {
  it('is the rate over the middle 60 % of the end times, past ramp-up and tail', () => {
    // 10 ends per second for 10 s, then a straggler long after.
    const ends = [...Array.from({ length: 100 }, (_, i) => 1000 + i * 100), 60_000];
    expect(serviceRate(ends)).toBeCloseTo(10, 0);
  });

  it('needs a few samples', () => {
    expect(serviceRate([1, 2, 3])).toBeNaN();
    expect(serviceRate([5, 5, 5, 5, 5, 5])).toBeNaN();
  });
});
