import fc from 'fast-check';
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
} from '#functions/webhooks/retry.ts';

const NOW = new Date('2026-05-01T12:00:00.000Z');
const lowest = () => 0; // no jitter
const highest = () => 0.999_999;

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Draws of Math.random: uniform in [0, 1). */
const draw = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
/** Replays `draws` as a `random` function (cycling, so it never runs out). */
const replay = (draws: readonly number[]) => {
  let index = 0;
  return () => draws[index++ % draws.length] ?? 0;
};

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

  it('gives the unjittered delay before each attempt when the dice land lowest', () => {
    const delays = Array.from({ length: MAX_ATTEMPTS }, (_, index) => scheduledDelayMs(index + 1, lowest));

    expect(delays).toEqual(RETRY_SCHEDULE_MS);
  });

  it('has no delay past the last attempt', () => {
    expect(scheduledDelayMs(MAX_ATTEMPTS + 1, lowest)).toBeUndefined();
    expect(scheduledDelayMs(0, lowest)).toBeUndefined();
  });

  it('jitters only upward, by at most 20 %, and keeps the first attempt immediate', () => {
    expect(withJitter(5 * MINUTE, lowest)).toBe(5 * MINUTE);
    expect(withJitter(5 * MINUTE, () => 0.5)).toBe(5.5 * MINUTE);
    expect(withJitter(5 * MINUTE, highest)).toBeLessThanOrEqual(6 * MINUTE);
    expect(withJitter(5 * MINUTE, highest)).toBeGreaterThan(5.99 * MINUTE);
    expect(withJitter(0, highest)).toBe(0);
  });

  it('never shortens nor lengthens past 20 % any whole-millisecond delay (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7 * DAY }), draw, (ms, random) => {
        const jittered = withJitter(ms, () => random);
        expect(Number.isInteger(jittered)).toBe(true);
        expect(jittered).toBeGreaterThanOrEqual(ms);
        expect(jittered).toBeLessThanOrEqual(ms * 1.2);
      }),
      { numRuns: 1_000 },
    );
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
      expect(delay).toBeGreaterThanOrEqual(30 * MINUTE);
      expect(delay).toBeLessThanOrEqual(36 * MINUTE);
    }
  });
});

describe('the retry window', () => {
  const retry: AttemptClass = { kind: 'retry', reason: 'http_500' };
  const nominalTotal = RETRY_SCHEDULE_MS.reduce((sum, delay) => sum + delay, 0);

  /** When each attempt is due, in ms after the first, if every attempt fails with `outcomes[i]` (attempts take 0 s). */
  function dueTimes(
    random: () => number,
    outcomes: (attempt: number) => AttemptClass = () => retry,
  ): number[] {
    const due = [0];
    for (let made = 1; ; made++) {
      const decision = decideNext(made, outcomes(made), random);
      if (decision.action !== 'retry') {
        expect(decision.action).toBe('give_up');
        expect(made).toBe(MAX_ATTEMPTS);
        return due;
      }
      expect(decision.attempt).toBe(made + 1);
      due.push((due.at(-1) ?? 0) + decision.delayMs);
    }
  }

  it('spans 27 h 35 min 5 s without jitter', () => {
    expect(nominalTotal).toBe(27 * HOUR + 35 * MINUTE + 5 * SECOND);
    expect(dueTimes(lowest).at(-1)).toBe(nominalTotal);
  });

  it('puts the last attempt at least 24 h after the first whatever the jitter, each delay within [d, 1.2 d] (property)', () => {
    fc.assert(
      fc.property(fc.array(draw, { minLength: 1, maxLength: MAX_ATTEMPTS }), (draws) => {
        const due = dueTimes(replay(draws));

        expect(due).toHaveLength(MAX_ATTEMPTS);
        expect(due.at(-1)).toBeGreaterThanOrEqual(DAY);
        expect(due.at(-1)).toBeGreaterThanOrEqual(nominalTotal);
        expect(due.at(-1)).toBeLessThanOrEqual(nominalTotal * 1.2);
        due.forEach((at, index) => {
          if (index === 0) return;
          const delay = at - (due[index - 1] ?? 0);
          const nominal = RETRY_SCHEDULE_MS[index] ?? Number.NaN;
          expect(delay).toBeGreaterThanOrEqual(nominal);
          expect(delay).toBeLessThanOrEqual(nominal * 1.2);
        });
      }),
      { numRuns: 1_000 },
    );
  });

  it('keeps the last attempt at least 24 h out and each wait within bounds whatever Retry-After says (property)', () => {
    const outcome = fc.record(
      {
        reason: fc.constantFrom('http_429', 'http_500', 'http_503', 'timeout'),
        retryAfterMs: fc.nat({ max: 30 * DAY }),
      },
      { requiredKeys: ['reason'] },
    );
    fc.assert(
      fc.property(
        fc.array(draw, { minLength: 1, maxLength: MAX_ATTEMPTS }),
        fc.array(outcome, { minLength: MAX_ATTEMPTS, maxLength: MAX_ATTEMPTS }),
        (draws, outcomes) => {
          const asked = (made: number): AttemptClass => ({
            kind: 'retry',
            ...(outcomes[made - 1] ?? { reason: 'timeout' }),
          });
          const due = dueTimes(replay(draws), asked);

          expect(due.at(-1)).toBeGreaterThanOrEqual(DAY);
          due.forEach((at, index) => {
            if (index === 0) return;
            const delay = at - (due[index - 1] ?? 0);
            const nominal = RETRY_SCHEDULE_MS[index] ?? Number.NaN;
            const retryAfterMs = outcomes[index - 1]?.retryAfterMs ?? 0;
            expect(delay).toBeGreaterThanOrEqual(
              Math.max(nominal, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS)),
            );
            expect(delay).toBeLessThanOrEqual(Math.max(nominal * 1.2, MAX_RETRY_AFTER_MS));
          });
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('never shortens a configured schedule either (WEBHOOK_RETRY_SCHEDULE_SECONDS, e.g. 0,1,1,2) (property)', () => {
    const schedule = fc
      .array(fc.integer({ min: 0, max: 7 * 24 * 3600 }), { maxLength: 19 })
      .map((seconds) => [0, ...seconds].map((s) => s * SECOND));
    fc.assert(
      fc.property(schedule, draw, (custom, random) => {
        custom.forEach((nominal, index) => {
          const delay = scheduledDelayMs(index + 1, () => random, custom);
          expect(delay).toBeGreaterThanOrEqual(nominal);
          expect(delay).toBeLessThanOrEqual(nominal * 1.2);
        });
        expect(scheduledDelayMs(custom.length + 1, () => random, custom)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });
});

describe('classifyAttempt', () => {
  it.each([
    [200, { kind: 'delivered' }],
    [201, { kind: 'delivered' }],
    [204, { kind: 'delivered' }],
    [299, { kind: 'delivered' }],
    [410, { kind: 'disable', reason: 'http_410' }],
    [429, { kind: 'retry', reason: 'http_429' }],
    [502, { kind: 'retry', reason: 'http_502' }],
    [503, { kind: 'retry', reason: 'http_503' }],
    [504, { kind: 'retry', reason: 'http_504' }],
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

  it.each([429, 500, 502, 503, 504, 400, 404, 307, 100])(
    'reads Retry-After in delay-seconds on a retried HTTP %i',
    (status) => {
      expect(classifyAttempt({ type: 'response', status, retryAfter: '120' }, NOW)).toEqual({
        kind: 'retry',
        reason: `http_${status}`,
        retryAfterMs: 120 * SECOND,
      });
    },
  );

  it.each(['Fri, 01 May 2026 12:05:00 GMT', 'Friday, 01-May-26 12:05:00 GMT', 'Fri May  1 12:05:00 2026'])(
    'reads Retry-After as an HTTP-date (%j) on a 500',
    (retryAfter) => {
      expect(classifyAttempt({ type: 'response', status: 500, retryAfter }, NOW)).toEqual({
        kind: 'retry',
        reason: 'http_500',
        retryAfterMs: 5 * MINUTE,
      });
    },
  );

  it('reads Retry-After on a response with an invalid status, which is retried too', () => {
    expect(classifyAttempt({ type: 'response', status: 600, retryAfter: '60' }, NOW)).toEqual({
      kind: 'retry',
      reason: 'invalid_status:600',
      retryAfterMs: MINUTE,
    });
  });

  it('leaves out a malformed or missing Retry-After', () => {
    expect(classifyAttempt({ type: 'response', status: 500, retryAfter: 'soon' }, NOW)).toEqual({
      kind: 'retry',
      reason: 'http_500',
    });
    expect(classifyAttempt({ type: 'response', status: 503, retryAfter: null }, NOW)).toEqual({
      kind: 'retry',
      reason: 'http_503',
    });
  });

  it('does not let Retry-After turn a delivery or a 410 into a retry', () => {
    expect(classifyAttempt({ type: 'response', status: 200, retryAfter: '60' }, NOW)).toEqual({
      kind: 'delivered',
    });
    expect(classifyAttempt({ type: 'response', status: 410, retryAfter: '60' }, NOW)).toEqual({
      kind: 'disable',
      reason: 'http_410',
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
    expect(decideNext(3, { kind: 'delivered' }, lowest)).toEqual({ action: 'done' });
  });

  it('disables the endpoint after a 410', () => {
    expect(decideNext(1, { kind: 'disable', reason: 'http_410' }, lowest)).toEqual({
      action: 'disable_endpoint',
      reason: 'http_410',
    });
  });

  it('walks the schedule attempt by attempt, then gives up after the 8th', () => {
    const decisions = Array.from({ length: MAX_ATTEMPTS }, (_, index) =>
      decideNext(index + 1, retry, lowest),
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

  it.each(['http_429', 'http_500', 'http_503'])(
    'waits at least as long as Retry-After asks on %s',
    (reason) => {
      const decision = decideNext(1, { kind: 'retry', reason, retryAfterMs: 90 * SECOND }, lowest);

      expect(decision).toEqual({ action: 'retry', attempt: 2, delayMs: 90 * SECOND, reason });
    },
  );

  it('honours Retry-After on a 500 from the response to the decision', () => {
    const outcome = classifyAttempt({ type: 'response', status: 500, retryAfter: '3600' }, NOW);

    expect(decideNext(2, outcome, lowest)).toEqual({
      action: 'retry',
      attempt: 3,
      delayMs: HOUR,
      reason: 'http_500',
    });
  });

  it('keeps the schedule when Retry-After asks for less', () => {
    const decision = decideNext(3, { kind: 'retry', reason: 'http_503', retryAfterMs: SECOND }, lowest);

    expect(decision).toEqual({ action: 'retry', attempt: 4, delayMs: 30 * MINUTE, reason: 'http_503' });
  });

  it('caps Retry-After at 24 h, in delay-seconds or as an HTTP-date', () => {
    const inAMonth = decideNext(1, { kind: 'retry', reason: 'http_429', retryAfterMs: 30 * DAY }, lowest);
    const huge = classifyAttempt({ type: 'response', status: 500, retryAfter: '99999999999' }, NOW);
    const nextYear = classifyAttempt(
      { type: 'response', status: 503, retryAfter: 'Sat, 01 May 2027 12:00:00 GMT' },
      NOW,
    );

    expect(MAX_RETRY_AFTER_MS).toBe(DAY);
    expect(inAMonth).toMatchObject({ action: 'retry', delayMs: MAX_RETRY_AFTER_MS });
    expect(decideNext(1, huge, lowest)).toMatchObject({ action: 'retry', delayMs: MAX_RETRY_AFTER_MS });
    expect(decideNext(1, nextYear, lowest)).toMatchObject({ action: 'retry', delayMs: MAX_RETRY_AFTER_MS });
  });

  it('uses the schedule without Retry-After', () => {
    expect(decideNext(2, { kind: 'retry', reason: 'http_502' }, lowest)).toMatchObject({
      delayMs: 5 * MINUTE,
    });
  });

  it('gives up after the last attempt even when the receiver asks to wait', () => {
    expect(decideNext(8, { kind: 'retry', reason: 'http_429', retryAfterMs: SECOND }, lowest)).toMatchObject({
      action: 'give_up',
    });
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses attemptsMade %d', (attemptsMade) => {
    expect(() => decideNext(attemptsMade, retry, lowest)).toThrow(RangeError);
  });
});

describe('endpointFailingTooLong', () => {
  it('disables an endpoint that has failed for 5 days, not before', () => {
    const since = new Date(NOW.getTime() - ENDPOINT_DISABLE_AFTER_MS);

    expect(endpointFailingTooLong(since, NOW)).toBe(true);
    expect(endpointFailingTooLong(new Date(since.getTime() + 1), NOW)).toBe(false);
  });
});
