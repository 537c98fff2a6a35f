import { describe, expect, it } from 'vitest';
import {
  type AttemptClass,
  classifyAttempt,
  decideNext,
  ENDPOINT_DISABLE_AFTER_MS,
  endpointFailingTooLong,
  MAX_ATTEMPTS,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
  RETRY_SCHEDULE_MS,
  scheduledDelayMs,
  withJitter,
} from '#shared/webhooks/retry.ts';

const NOW = new Date('2026-05-01T12:00:00.000Z');
const middle = () => 0.5; // no jitter
const lowest = () => 0;
const highest = () => 0.999_999;

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

describe('the Svix schedule', () => {
  it('is now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h', () => {
    expect(RETRY_SCHEDULE_MS).toEqual([
      0,
      5 * SECOND,
      5 * MINUTE,
      30 * MINUTE,
      2 * HOUR,
      5 * HOUR,
      10 * HOUR,
      10 * HOUR,
    ]);
    expect(MAX_ATTEMPTS).toBe(8);
  });

  it('gives the unjittered delay before each attempt when the dice land in the middle', () => {
    const delays = Array.from({ length: MAX_ATTEMPTS }, (_, index) => scheduledDelayMs(index + 1, middle));

    expect(delays).toEqual(RETRY_SCHEDULE_MS);
  });

  it('has no delay past the last attempt', () => {
    expect(scheduledDelayMs(MAX_ATTEMPTS + 1, middle)).toBeUndefined();
    expect(scheduledDelayMs(0, middle)).toBeUndefined();
  });

  it('jitters by at most ±20 % and keeps the first attempt immediate', () => {
    expect(withJitter(5 * MINUTE, lowest)).toBe(4 * MINUTE);
    expect(withJitter(5 * MINUTE, highest)).toBeLessThanOrEqual(6 * MINUTE);
    expect(withJitter(5 * MINUTE, highest)).toBeGreaterThan(5.99 * MINUTE);
    expect(withJitter(0, highest)).toBe(0);
  });

  it('spreads deliveries that failed together', () => {
    let seed = 1;
    const random = () => {
      seed = (seed * 16_807) % 2_147_483_647;
      return (seed - 1) / 2_147_483_646;
    };

    const delays = new Set(Array.from({ length: 50 }, () => withJitter(30 * MINUTE, random)));

    expect(delays.size).toBeGreaterThan(40);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(24 * MINUTE);
      expect(delay).toBeLessThanOrEqual(36 * MINUTE);
    }
  });
});

describe('classifyAttempt', () => {
  it.each([
    [200, { kind: 'delivered' }],
    [201, { kind: 'delivered' }],
    [204, { kind: 'delivered' }],
    [299, { kind: 'delivered' }],
    [410, { kind: 'disable', reason: 'http_410' }],
    [429, { kind: 'slow_down', reason: 'http_429' }],
    [502, { kind: 'slow_down', reason: 'http_502' }],
    [503, { kind: 'slow_down', reason: 'http_503' }],
    [504, { kind: 'slow_down', reason: 'http_504' }],
    [400, { kind: 'retry', reason: 'http_400' }],
    [401, { kind: 'retry', reason: 'http_401' }],
    [404, { kind: 'retry', reason: 'http_404' }],
    [413, { kind: 'retry', reason: 'http_413' }],
    [500, { kind: 'retry', reason: 'http_500' }],
    [501, { kind: 'retry', reason: 'http_501' }],
    [301, { kind: 'retry', reason: 'http_301' }],
    [307, { kind: 'retry', reason: 'http_307' }],
    [100, { kind: 'retry', reason: 'http_100' }],
    [600, { kind: 'retry', reason: 'invalid_status:600' }],
    [0, { kind: 'retry', reason: 'invalid_status:0' }],
  ] as const)('classifies HTTP %i', (status, expected) => {
    expect(classifyAttempt({ type: 'response', status }, NOW)).toEqual(expected);
  });

  it('reads Retry-After on a slow-down answer', () => {
    expect(classifyAttempt({ type: 'response', status: 429, retryAfter: '120' }, NOW)).toEqual({
      kind: 'slow_down',
      reason: 'http_429',
      retryAfterMs: 120 * SECOND,
    });
  });

  it('retries timeouts and network errors', () => {
    expect(classifyAttempt({ type: 'timeout' }, NOW)).toEqual({ kind: 'retry', reason: 'timeout' });
    expect(classifyAttempt({ type: 'network_error', code: 'ECONNREFUSED' }, NOW)).toEqual({
      kind: 'retry',
      reason: 'network_error:ECONNREFUSED',
    });
    expect(classifyAttempt({ type: 'network_error' }, NOW)).toEqual({
      kind: 'retry',
      reason: 'network_error',
    });
  });
});

describe('parseRetryAfter', () => {
  it.each([
    ['0', 0],
    ['120', 120 * SECOND],
    [' 30 ', 30 * SECOND],
    ['Fri, 01 May 2026 12:05:00 GMT', 5 * MINUTE],
    ['Friday, 01-May-26 12:00:30 GMT', 30 * SECOND],
    ['Fri May  1 13:00:00 2026', HOUR],
    ['Fri, 01 May 2026 11:00:00 GMT', 0],
  ])('reads %j as %i ms', (value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });

  it.each([
    undefined,
    null,
    '',
    'soon',
    '-5',
    '1.5',
    '2026-05-01T12:05:00Z',
    'Fri, 31 Feb 2026 12:00:00 GMT',
    'Fri, 01 May 2026 25:00:00 GMT',
    'Fri, 01 Foo 2026 12:00:00 GMT',
    'Fri, 01 May 2026 12:05:00 UTC',
  ])('ignores %j', (value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });

  it('reads a two-digit RFC 850 year as the most recent past year ending in those digits', () => {
    const in1994 = Date.UTC(1994, 10, 6, 8, 49, 37);

    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', new Date(in1994 - 10 * SECOND))).toBe(
      10 * SECOND,
    );
  });
});

describe('decideNext', () => {
  const retry: AttemptClass = { kind: 'retry', reason: 'http_500' };

  it('is done after a delivery', () => {
    expect(decideNext(3, { kind: 'delivered' }, middle)).toEqual({ action: 'done' });
  });

  it('disables the endpoint after a 410', () => {
    expect(decideNext(1, { kind: 'disable', reason: 'http_410' }, middle)).toEqual({
      action: 'disable_endpoint',
      reason: 'http_410',
    });
  });

  it('walks the schedule attempt by attempt, then gives up after the 8th', () => {
    const decisions = Array.from({ length: MAX_ATTEMPTS }, (_, index) =>
      decideNext(index + 1, retry, middle),
    );

    expect(decisions.slice(0, -1)).toEqual(
      RETRY_SCHEDULE_MS.slice(1).map((delayMs, index) => ({
        action: 'retry',
        attempt: index + 2,
        delayMs,
        reason: 'http_500',
      })),
    );
    expect(decisions.at(-1)).toEqual({ action: 'give_up', reason: 'http_500 after 8 attempts' });
  });

  it('waits at least as long as Retry-After asks on a slow-down', () => {
    const decision = decideNext(
      1,
      { kind: 'slow_down', reason: 'http_429', retryAfterMs: 90 * SECOND },
      middle,
    );

    expect(decision).toEqual({ action: 'retry', attempt: 2, delayMs: 90 * SECOND, reason: 'http_429' });
  });

  it('keeps the schedule when Retry-After asks for less', () => {
    const decision = decideNext(3, { kind: 'slow_down', reason: 'http_503', retryAfterMs: SECOND }, middle);

    expect(decision).toEqual({ action: 'retry', attempt: 4, delayMs: 30 * MINUTE, reason: 'http_503' });
  });

  it('caps Retry-After at 24 h', () => {
    const decision = decideNext(
      1,
      { kind: 'slow_down', reason: 'http_429', retryAfterMs: 30 * 24 * HOUR },
      middle,
    );

    expect(decision).toMatchObject({ action: 'retry', delayMs: MAX_RETRY_AFTER_MS });
  });

  it('uses the schedule on a slow-down without Retry-After', () => {
    expect(decideNext(2, { kind: 'slow_down', reason: 'http_502' }, middle)).toMatchObject({
      delayMs: 5 * MINUTE,
    });
  });

  it('gives up after the last attempt even when the receiver asks to slow down', () => {
    expect(
      decideNext(8, { kind: 'slow_down', reason: 'http_429', retryAfterMs: SECOND }, middle),
    ).toMatchObject({
      action: 'give_up',
    });
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses attemptsMade %d', (attemptsMade) => {
    expect(() => decideNext(attemptsMade, retry, middle)).toThrow(RangeError);
  });
});

describe('endpointFailingTooLong', () => {
  it('disables an endpoint that has failed for 5 days, not before', () => {
    const since = new Date(NOW.getTime() - ENDPOINT_DISABLE_AFTER_MS);

    expect(endpointFailingTooLong(since, NOW)).toBe(true);
    expect(endpointFailingTooLong(new Date(since.getTime() + 1), NOW)).toBe(false);
  });
});
