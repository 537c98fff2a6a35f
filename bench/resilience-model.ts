/**
 * The pure parts of the two resilience sections (bench/sections/outage.ts, bench/sections/neighbour.ts): per-second
 * series from samples and the provider's call log, the verdicts in words, and the chart data. No I/O, so it is
 * unit-tested (test/unit/bench/resilience.test.ts).
 */
import { type LatencySummary, ms, pct, share } from './stats.ts';
import type { LineChart } from './svg.ts';

/** What the sampler saw of the outage's orders at one moment. */
export interface OrderSample {
  /** Seconds since the first order was sent. */
  t: number;
  /** PENDING with a hold (waiting for the payment provider). */
  waiting: number;
  /** PENDING without a hold (on its way). */
  pending: number;
  confirmed: number;
  cancelled: number;
  /** The payment circuit's state at that moment (`closed` when the breaker has no record). */
  circuit: string;
}

/** One request that reached the sandbox provider, as its call log (`GET /v1/calls`) lists it. */
export interface ProviderCall {
  kind: string;
  at: string;
}

export interface OutageSecond {
  t: number;
  /** Orders answered 202 so far. */
  accepted: number;
  waiting: number;
  pending: number;
  confirmed: number;
  cancelled: number;
  circuit: string;
  charges: number;
  lookups: number;
  refunds: number;
}

export interface OutageResult {
  ratePerSecond: number;
  /** Seconds of arrivals before the provider goes down, while it is down, and after it is back. */
  phases: { beforeSeconds: number; downSeconds: number; afterSeconds: number };
  /** The compressed breaker settings of the run (function environment). */
  circuit: { failureThreshold: number; openSeconds: number; holdSeconds: number };
  sent: number;
  accepted: number;
  confirmed: number;
  cancelled: number;
  /** Orders not ended when the run gave up waiting. */
  unfinished: number;
  /** Most orders waiting with a hold at one sample. */
  maxWaiting: number;
  /** From the 202 to CONFIRMED, over the orders that were confirmed (sampled once a second). */
  timeToConfirmed: LatencySummary;
  /** Provider requests while it was down, by kind. */
  duringOutage: { charges: number; lookups: number; refunds: number };
  /** Look-ups (the breaker's probes) per open interval while the circuit was open: the most in one interval. */
  maxProbesPerInterval: number;
  /** Open intervals the outage spanned (from the circuit's first open sample to the provider's return). */
  openIntervals: number;
  /** Seconds from the provider's return to the last order confirmed. */
  drainSeconds: number;
  seconds: OutageSecond[];
}

/** Calls per whole second since `start` (epoch ms), by kind, for `length` seconds. */
export function callsPerSecond(
  calls: readonly ProviderCall[],
  start: number,
  length: number,
): Array<{ charges: number; lookups: number; refunds: number }> {
  const out = Array.from({ length }, () => ({ charges: 0, lookups: 0, refunds: 0 }));
  for (const call of calls) {
    const second = Math.floor((Date.parse(call.at) - start) / 1000);
    const slot = out[second];
    if (!slot) continue;
    if (call.kind === 'CHARGE') slot.charges += 1;
    else if (call.kind === 'LOOKUP') slot.lookups += 1;
    else if (call.kind === 'REFUND') slot.refunds += 1;
  }
  return out;
}

/**
 * One row per second of the run: accepted (cumulative, from the answers' times), the sampler's counts (the last
 * sample taken in or before that second) and the provider's calls in that second.
 */
export function outageSeconds(
  acceptedAt: readonly number[],
  samples: readonly OrderSample[],
  calls: readonly ProviderCall[],
  start: number,
): OutageSecond[] {
  const lastSample = samples.at(-1)?.t ?? 0;
  const length = Math.max(1, Math.floor(lastSample) + 1);
  const perSecond = callsPerSecond(calls, start, length);
  const sorted = [...acceptedAt].sort((a, b) => a - b);
  const rows: OutageSecond[] = [];
  let sampleIndex = -1;
  for (let t = 0; t < length; t++) {
    while ((samples[sampleIndex + 1]?.t ?? Number.POSITIVE_INFINITY) < t + 1) sampleIndex += 1;
    const sample = samples[sampleIndex];
    const until = start + (t + 1) * 1000;
    rows.push({
      t,
      accepted: sorted.filter((at) => at < until).length,
      waiting: sample?.waiting ?? 0,
      pending: sample?.pending ?? 0,
      confirmed: sample?.confirmed ?? 0,
      cancelled: sample?.cancelled ?? 0,
      circuit: sample?.circuit ?? 'closed',
      charges: perSecond[t]?.charges ?? 0,
      lookups: perSecond[t]?.lookups ?? 0,
      refunds: perSecond[t]?.refunds ?? 0,
    });
  }
  return rows;
}

/**
 * The most look-ups in one open interval, counting intervals from the first moment the circuit was seen open to the
 * provider's return (`downUntil`, epoch ms). A charge admitted while the circuit was still closed may land after it
 * opened, so only look-ups (the probes) are counted, as the e2e does.
 */
export function probesPerInterval(
  calls: readonly ProviderCall[],
  openedAt: number | undefined,
  downUntil: number,
  openSeconds: number,
): { max: number; intervals: number } {
  if (openedAt === undefined || downUntil <= openedAt) return { max: 0, intervals: 0 };
  const width = openSeconds * 1000;
  const intervals = Math.ceil((downUntil - openedAt) / width);
  const counts = Array.from({ length: intervals }, () => 0);
  for (const call of calls) {
    if (call.kind !== 'LOOKUP') continue;
    const at = Date.parse(call.at);
    if (at < openedAt || at >= downUntil) continue;
    const slot = Math.floor((at - openedAt) / width);
    counts[slot] = (counts[slot] ?? 0) + 1;
  }
  return { max: Math.max(0, ...counts), intervals };
}

/** The outage section's answers in words, from its numbers. */
export function outageVerdicts(r: OutageResult): string[] {
  const yes = (ok: boolean) => (ok ? 'yes' : 'no');
  return [
    `100 % accepted? ${yes(r.accepted === r.sent)} (${r.accepted} of ${r.sent}).`,
    `0 cancelled? ${yes(r.cancelled === 0)} (${r.cancelled} cancelled, ${r.unfinished} not ended).`,
    `Every order CONFIRMED within the hold (${r.circuit.holdSeconds} s)? ` +
      `${yes(r.confirmed === r.sent && r.timeToConfirmed.max <= r.circuit.holdSeconds * 1000)}: ` +
      `max time from 202 to CONFIRMED ${(r.timeToConfirmed.max / 1000).toFixed(1)} s ` +
      `(p50 ${(r.timeToConfirmed.p50 / 1000).toFixed(1)} s, n ${r.timeToConfirmed.n}).`,
    `At most one probe per breaker interval during the outage? ${yes(r.maxProbesPerInterval <= 1)}: ` +
      `at most ${r.maxProbesPerInterval} look-up(s) in one ${r.circuit.openSeconds} s interval over ` +
      `${r.openIntervals} intervals; while the provider was down it received ${r.duringOutage.charges} charges ` +
      `(sent before the circuit opened), ${r.duringOutage.lookups} look-ups and ${r.duringOutage.refunds} refunds.`,
  ];
}

/** Orders over time (accepted, waiting, confirmed, cancelled) and provider calls per second, as two line panels. */
export function outagePanels(r: OutageResult): LineChart[] {
  const x = r.seconds.map((s) => s.t);
  const down = { from: r.phases.beforeSeconds, to: r.phases.beforeSeconds + r.phases.downSeconds };
  return [
    {
      kind: 'line',
      title: `Outage: provider down ${Math.round(r.phases.downSeconds)} s, orders at ${r.ratePerSecond}/s (shaded: provider down)`,
      unit: 'orders',
      xUnit: 's',
      x,
      band: down,
      series: [
        { name: 'accepted', values: r.seconds.map((s) => s.accepted) },
        { name: 'waiting (held)', values: r.seconds.map((s) => s.waiting) },
        { name: 'confirmed', values: r.seconds.map((s) => s.confirmed) },
        { name: 'cancelled', values: r.seconds.map((s) => s.cancelled) },
      ],
    },
    {
      kind: 'line',
      title: 'Outage: payment provider requests per second',
      unit: 'requests / s',
      xUnit: 's',
      x,
      band: down,
      series: [
        { name: 'charges', values: r.seconds.map((s) => s.charges) },
        { name: 'look-ups (probes)', values: r.seconds.map((s) => s.lookups) },
        { name: 'refunds', values: r.seconds.map((s) => s.refunds) },
      ],
    },
  ];
}

export interface NeighbourPhase {
  /** A's accept latency (202 answers only). */
  latency: LatencySummary;
  sent: number;
  /** A's requests answered 429. */
  throttled: number;
  /** A's answers other than 202 and 429 (errors, time-outs). */
  errors: number;
}

export interface NeighbourResult {
  quiet: { ratePerSecond: number };
  noisy: {
    ratePerSecond: number;
    rateLimit: number;
    burstLimit: number;
    sent: number;
    accepted: number;
    throttled: number;
    /** 429s that carried a Retry-After header. */
    withRetryAfter: number;
    /** Distinct Retry-After values seen, with their counts. */
    retryAfter: Record<string, number>;
  };
  alone: NeighbourPhase;
  withNoisy: NeighbourPhase;
  /** A's p99 with B ÷ A's p99 alone. */
  p99Ratio: number;
  p50Ratio: number;
}

/** The ratio target of issue 14: A's p99 with a noisy neighbour within 1.2× of its p99 alone. */
export const NEIGHBOUR_P99_TARGET = 1.2;

/** Counts of each Retry-After value (`undefined` = absent). */
export function retryAfterCounts(values: ReadonlyArray<string | undefined>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) {
    const key = value ?? 'absent';
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

export function neighbourVerdicts(r: NeighbourResult): string[] {
  const b = r.noisy;
  const within = r.p99Ratio <= NEIGHBOUR_P99_TARGET;
  const values = Object.entries(b.retryAfter)
    .sort(([x], [y]) => Number(x) - Number(y))
    .map(([value, count]) => `${value} s × ${count}`)
    .join(', ');
  return [
    `B (${b.ratePerSecond} req/s against a limit of ${b.rateLimit}/s, burst ${b.burstLimit}) got 429 for ` +
      `${pct(share(b.throttled, b.sent))} of its requests (${b.throttled} of ${b.sent}; ${b.accepted} accepted), ` +
      `${b.withRetryAfter === b.throttled ? 'every one' : `${b.withRetryAfter} of them`} with Retry-After` +
      `${values ? ` (${values})` : ''}.`,
    `A's accept p99 with B ÷ alone: ${r.p99Ratio.toFixed(2)}× (target ≤ ${NEIGHBOUR_P99_TARGET}×: ` +
      `${within ? 'met' : 'missed'}); p50 ${r.p50Ratio.toFixed(2)}×. A alone p50 / p99 ` +
      `${ms(r.alone.latency.p50)} / ${ms(r.alone.latency.p99)} ms (n ${r.alone.latency.n}), with B ` +
      `${ms(r.withNoisy.latency.p50)} / ${ms(r.withNoisy.latency.p99)} ms (n ${r.withNoisy.latency.n}).`,
    `Any of A's requests answered 429? ${r.alone.throttled + r.withNoisy.throttled === 0 ? 'none' : `${r.alone.throttled + r.withNoisy.throttled}`}` +
      ` (errors: ${r.alone.errors + r.withNoisy.errors}).`,
  ];
}
