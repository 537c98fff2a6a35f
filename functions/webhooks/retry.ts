/**
 * When to deliver a webhook again, as pure functions: the dispatcher feeds in what happened and gets back what to
 * do, so the policy is tested without clocks, queues or sockets.
 *
 * Policy (Svix's, which receivers already know): attempts at now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after the
 * previous one (27 h 35 min 5 s in all); each delay lengthened by a random 0-20 % so deliveries that failed together
 * (an endpoint outage) do not all come back in the same second, and never shortened, so the last attempt comes
 * 27.6-33.1 h after the first: retries span at least a day (see `withJitter`). 2xx delivers; 410 Gone disables the
 * endpoint; any other status, a timeout or a network error is retried, and a `Retry-After` on a retried response
 * (whatever its status, as Svix and Stripe do) is honoured up to 24 h. An endpoint failing for 5 days is disabled
 * (`endpointFailingTooLong`).
 */

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Delay before attempt n (index n - 1): the first attempt is immediate. */
export const RETRY_SCHEDULE_MS: readonly number[] = [
  0,
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  10 * HOUR,
];
export const MAX_ATTEMPTS = RETRY_SCHEDULE_MS.length;
/** Each delay is lengthened by a random fraction of itself in [0, JITTER_RATIO). */
export const JITTER_RATIO = 0.2;
/**
 * A receiver may ask for a pause, not park a delivery past the disable window: the longest wait `Retry-After` gets
 * (one day per attempt; the schedule's own delay still applies when it is longer).
 */
export const MAX_RETRY_AFTER_MS = DAY;
export const ENDPOINT_DISABLE_AFTER_MS = 5 * DAY;

/** What one delivery attempt ended in, as the dispatcher saw it. */
export type AttemptResult =
  | { type: 'response'; status: number; retryAfter?: string | null }
  | { type: 'timeout' }
  | { type: 'network_error'; code?: string };

export type AttemptClass =
  | { kind: 'delivered' }
  | { kind: 'disable'; reason: string }
  /** `retryAfterMs`: what the response's `Retry-After` asked for, uncapped (`decideNext` caps it). */
  | { kind: 'retry'; reason: string; retryAfterMs?: number };

export type RetryDecision =
  | { action: 'done' }
  | { action: 'disable_endpoint'; reason: string }
  /** Attempts are used up: park the delivery (DLQ) for an operator. */
  | { action: 'give_up'; reason: string }
  | { action: 'retry'; attempt: number; delayMs: number; reason: string };

export function classifyAttempt(result: AttemptResult, now: Date): AttemptClass {
  if (result.type === 'timeout') return { kind: 'retry', reason: 'timeout' };
  if (result.type === 'network_error') {
    return { kind: 'retry', reason: `network_error${result.code ? `:${result.code}` : ''}` };
  }
  const { status } = result;
  const valid = Number.isInteger(status) && status >= 100 && status <= 599;
  if (valid && status >= 200 && status <= 299) return { kind: 'delivered' };
  if (valid && status === 410) return { kind: 'disable', reason: 'http_410' };
  // Everything else is retried, and a `Retry-After` on it is honoured whatever the status: not only 429/503 but a
  // 500 or 502 from a receiver that knows when it will be back (Svix and Stripe do the same). 1xx and 3xx count as
  // failures too: redirects are not followed (a public URL could redirect to a private one).
  const reason = valid ? `http_${status}` : `invalid_status:${status}`;
  const retryAfterMs = parseRetryAfter(result.retryAfter, now);
  return retryAfterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs };
}

/**
 * What to do after `attemptsMade` attempts (1 after the first) ended as `outcome`. `random` is uniform in [0, 1).
 */
export function decideNext(
  attemptsMade: number,
  outcome: AttemptClass,
  random: () => number = Math.random,
  schedule: readonly number[] = RETRY_SCHEDULE_MS,
): RetryDecision {
  if (!Number.isInteger(attemptsMade) || attemptsMade < 1) {
    throw new RangeError(`attemptsMade must be a positive integer, not ${attemptsMade}`);
  }
  if (outcome.kind === 'delivered') return { action: 'done' };
  if (outcome.kind === 'disable') return { action: 'disable_endpoint', reason: outcome.reason };
  const attempt = attemptsMade + 1;
  const scheduled = scheduledDelayMs(attempt, random, schedule);
  if (scheduled === undefined) {
    return { action: 'give_up', reason: `${outcome.reason} after ${attemptsMade} attempts` };
  }
  const asked = Math.min(outcome.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
  return { action: 'retry', attempt, delayMs: Math.max(scheduled, asked), reason: outcome.reason };
}

/**
 * The jittered delay before attempt `attempt` (1-based), or undefined past the schedule. `schedule` replaces
 * RETRY_SCHEDULE_MS where a deployment (or a test) configures its own (`WEBHOOK_RETRY_SCHEDULE_SECONDS`).
 */
export function scheduledDelayMs(
  attempt: number,
  random: () => number = Math.random,
  schedule: readonly number[] = RETRY_SCHEDULE_MS,
): number | undefined {
  const base = schedule[attempt - 1];
  return base === undefined ? undefined : withJitter(base, random);
}

/**
 * `ms` lengthened by a random [0, JITTER_RATIO) of itself, whole milliseconds: in [ms, ms · (1 + JITTER_RATIO)] for a
 * whole `ms`; 0 stays 0 (the first attempt is immediate).
 *
 * Jitter only upward, not ±: each delay is then at least its nominal value, so every attempt is due no earlier than
 * its nominal time after the first and the last one no earlier than the schedule's sum (27.6 h for the default; ±20 %
 * let it come after 22 h, short of "retries over at least a day"). That holds for any configured schedule
 * (`WEBHOOK_RETRY_SCHEDULE_SECONDS`) without knowing when the first attempt was, which clamping cumulative due times
 * would need. The spread that keeps an outage's deliveries apart is still 20 % of each delay (2 h of a 10 h one).
 */
export function withJitter(ms: number, random: () => number = Math.random): number {
  return ms + Math.floor(ms * JITTER_RATIO * random());
}

export function endpointFailingTooLong(failingSince: Date, now: Date): boolean {
  return now.getTime() - failingSince.getTime() >= ENDPOINT_DISABLE_AFTER_MS;
}

const DAY_NAMES = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY_NAMES = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// The three HTTP-date forms RFC 9110 §5.6.7 requires recipients to accept.
const IMF_FIXDATE = new RegExp(`^${DAY_NAMES}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC_850 = new RegExp(`^${LONG_DAY_NAMES}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^${DAY_NAMES} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/**
 * `Retry-After` in milliseconds from `now`: delay-seconds or an HTTP-date (a date in the past means "now", 0).
 * Undefined when absent or malformed, so the caller falls back to its own schedule. `Date.parse` is not used: it
 * accepts almost anything and reads asctime dates as local time.
 */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * SECOND;
  const at = parseHttpDate(text, now);
  return at === undefined ? undefined : Math.max(0, at - now.getTime());
}

function parseHttpDate(text: string, now: Date): number | undefined {
  let match = IMF_FIXDATE.exec(text);
  if (match) {
    const [, day, month, year, hh, mm, ss] = match;
    return utc(Number(year), month, Number(day), hh, mm, ss);
  }
  match = RFC_850.exec(text);
  if (match) {
    const [, day, month, yy, hh, mm, ss] = match;
    // RFC 9110: a two-digit year more than 50 years ahead means the most recent past year ending in those digits.
    let year = Math.floor(now.getUTCFullYear() / 100) * 100 + Number(yy);
    if (year > now.getUTCFullYear() + 50) year -= 100;
    return utc(year, month, Number(day), hh, mm, ss);
  }
  match = ASCTIME.exec(text);
  if (match) {
    const [, month, day, hh, mm, ss, year] = match;
    return utc(Number(year), month, Number(day?.trim()), hh, mm, ss);
  }
  return undefined;
}

function utc(
  year: number,
  monthName: string | undefined,
  day: number,
  hh: string | undefined,
  mm: string | undefined,
  ss: string | undefined,
): number | undefined {
  const month = MONTHS.indexOf(monthName ?? '');
  const [hours, minutes, seconds] = [Number(hh), Number(mm), Number(ss)];
  if (month < 0 || hours > 23 || minutes > 59 || seconds > 60) return undefined;
  const at = Date.UTC(year, month, day, hours, minutes, Math.min(seconds, 59));
  // Date.UTC rolls 31 Feb over into March; a date that rolled over was not a real date.
  return new Date(at).getUTCDate() === day ? at : undefined;
}
