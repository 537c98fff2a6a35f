import { describe, expect, it } from 'vitest';
import { mergeEarlier, renderMarkdown, renderSvg } from '#bench/report.ts';
import {
  callsPerSecond,
  type NeighbourResult,
  neighbourVerdicts,
  type OrderSample,
  type OutageResult,
  outagePanels,
  outageSeconds,
  outageVerdicts,
  probesPerInterval,
  retryAfterCounts,
} from '#bench/resilience-model.ts';
import { summarize } from '#bench/stats.ts';
import { renderFigure, renderLineChart } from '#bench/svg.ts';
import { benchResults } from './results.ts';

const START = Date.parse('2026-12-06T10:00:00.000Z');
const at = (seconds: number) => new Date(START + seconds * 1000).toISOString();

const sample = (t: number, counts: Partial<OrderSample> = {}): OrderSample => ({
  t,
  waiting: 0,
  pending: 0,
  confirmed: 0,
  cancelled: 0,
  circuit: 'closed',
  ...counts,
});

describe('callsPerSecond', () => {
  it('buckets calls by kind into whole seconds since the start, dropping those outside the run', () => {
    const calls = [
      { kind: 'CHARGE', at: at(0.2) },
      { kind: 'CHARGE', at: at(0.9) },
      { kind: 'LOOKUP', at: at(1.0) },
      { kind: 'REFUND', at: at(2.5) },
      { kind: 'MAIL', at: at(2.6) },
      { kind: 'CHARGE', at: at(-0.5) },
      { kind: 'CHARGE', at: at(3.1) },
    ];
    expect(callsPerSecond(calls, START, 3)).toEqual([
      { charges: 2, lookups: 0, refunds: 0 },
      { charges: 0, lookups: 1, refunds: 0 },
      { charges: 0, lookups: 0, refunds: 1 },
    ]);
  });
});

describe('outageSeconds', () => {
  it('counts accepted orders cumulatively and carries the last sample of each second forward', () => {
    const acceptedAt = [START + 100, START + 900, START + 1500, START + 2100];
    const samples = [
      sample(0.5, { pending: 2 }),
      sample(1.4, { waiting: 3, circuit: 'open' }),
      sample(2.9, { waiting: 1, confirmed: 3, circuit: 'closed' }),
    ];
    const rows = outageSeconds(acceptedAt, samples, [{ kind: 'LOOKUP', at: at(1.2) }], START);
    expect(
      rows.map((r) => [r.t, r.accepted, r.pending, r.waiting, r.confirmed, r.circuit, r.lookups]),
    ).toEqual([
      [0, 2, 2, 0, 0, 'closed', 0],
      [1, 3, 0, 3, 0, 'open', 1],
      [2, 4, 0, 1, 3, 'closed', 0],
    ]);
  });
});

describe('probesPerInterval', () => {
  it('counts look-ups per open interval from the opening to the provider’s return, charges aside', () => {
    const calls = [
      { kind: 'CHARGE', at: at(10.5) },
      { kind: 'LOOKUP', at: at(9) },
      { kind: 'LOOKUP', at: at(15.1) },
      { kind: 'LOOKUP', at: at(20.2) },
      { kind: 'LOOKUP', at: at(24.9) },
      { kind: 'LOOKUP', at: at(31) },
    ];
    expect(probesPerInterval(calls, START + 10_000, START + 30_000, 5)).toEqual({ max: 2, intervals: 4 });
  });

  it('has nothing to count when the circuit was never seen open', () => {
    expect(probesPerInterval([{ kind: 'LOOKUP', at: at(1) }], undefined, START + 5000, 5)).toEqual({
      max: 0,
      intervals: 0,
    });
  });
});

const outage = (overrides: Partial<OutageResult> = {}): OutageResult => ({
  ratePerSecond: 5,
  phases: { beforeSeconds: 10, downSeconds: 60, afterSeconds: 10 },
  circuit: { failureThreshold: 5, openSeconds: 5, holdSeconds: 900 },
  sent: 400,
  accepted: 400,
  confirmed: 400,
  cancelled: 0,
  unfinished: 0,
  maxWaiting: 290,
  timeToConfirmed: summarize([1000, 2000, 64_000]),
  duringOutage: { charges: 5, lookups: 12, refunds: 0 },
  maxProbesPerInterval: 1,
  openIntervals: 12,
  drainSeconds: 8,
  seconds: [
    {
      t: 0,
      accepted: 5,
      waiting: 0,
      pending: 5,
      confirmed: 0,
      cancelled: 0,
      circuit: 'closed',
      charges: 3,
      lookups: 0,
      refunds: 0,
    },
    {
      t: 1,
      accepted: 10,
      waiting: 4,
      pending: 1,
      confirmed: 5,
      cancelled: 0,
      circuit: 'open',
      charges: 0,
      lookups: 1,
      refunds: 0,
    },
  ],
  ...overrides,
});

describe('outageVerdicts', () => {
  it('answers yes to each question when every order was accepted and confirmed within the hold, one probe each', () => {
    const lines = outageVerdicts(outage());
    expect(lines[0]).toBe('100 % accepted? yes (400 of 400).');
    expect(lines[1]).toBe('0 cancelled? yes (0 cancelled, 0 not ended).');
    expect(lines[2]).toMatch(/^Every order CONFIRMED within the hold \(900 s\)\? yes: max time .* 64\.0 s/);
    expect(lines[3]).toMatch(/^At most one probe per breaker interval during the outage\? yes: at most 1 /);
  });

  it('answers no when orders were refused, cancelled, late or probed twice in an interval', () => {
    const lines = outageVerdicts(
      outage({
        accepted: 399,
        cancelled: 2,
        confirmed: 397,
        timeToConfirmed: summarize([901_000]),
        maxProbesPerInterval: 2,
      }),
    );
    expect(lines.map((line) => line.split('?')[1]?.trim().split(/[ :]/)[0])).toEqual([
      'no',
      'no',
      'no',
      'no',
    ]);
  });
});

describe('outagePanels', () => {
  it('draws orders and provider calls against time, with the outage shaded', () => {
    const [orders, calls] = outagePanels(outage());
    expect(orders?.x).toEqual([0, 1]);
    expect(orders?.band).toEqual({ from: 10, to: 70 });
    expect(orders?.series.map((s) => [s.name, s.values])).toEqual([
      ['accepted', [5, 10]],
      ['waiting (held)', [0, 4]],
      ['confirmed', [0, 5]],
      ['cancelled', [0, 0]],
    ]);
    expect(calls?.series.map((s) => [s.name, s.values])).toEqual([
      ['charges', [3, 0]],
      ['look-ups (probes)', [0, 1]],
      ['refunds', [0, 0]],
    ]);
  });
});

describe('renderLineChart', () => {
  it('draws one polyline per series over the x range and the shaded band', () => {
    const svg = renderLineChart(
      {
        kind: 'line',
        title: 'Orders <t>',
        unit: 'orders',
        xUnit: 's',
        x: [0, 10, 20],
        band: { from: 5, to: 15 },
        series: [
          { name: 'accepted', values: [0, 50, 100] },
          { name: 'confirmed', values: [0, 0, 100] },
        ],
      },
      0,
    );
    expect(svg).toContain('Orders &lt;t&gt;');
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    // x from 0 to 20 over 770 px from x = 70; y: 100 at the plot's top (50), 0 at its bottom (240).
    expect(svg).toContain('points="70.0,240.0 455.0,145.0 840.0,50.0"');
    expect(svg).toContain('<rect x="262.5" y="50" width="385.0" height="190" fill="#f4e1e1"/>');
  });

  it('sits in a figure next to bar charts', () => {
    const svg = renderFigure(
      [
        {
          kind: 'line',
          title: 'line',
          unit: 'u',
          xUnit: 's',
          x: [0, 1],
          series: [{ name: 'a', values: [1, 2] }],
        },
        { title: 'bars', unit: 'ms', series: ['a'], groups: [{ label: 'g', values: [1] }] },
      ],
      'caption',
    );
    expect(svg).toContain('<title>line; bars</title>');
    expect(svg.match(/<polyline /g)).toHaveLength(1);
  });
});

const neighbour = (overrides: Partial<NeighbourResult> = {}): NeighbourResult => ({
  quiet: { ratePerSecond: 5 },
  noisy: {
    ratePerSecond: 50,
    rateLimit: 5,
    burstLimit: 10,
    sent: 2100,
    accepted: 220,
    throttled: 1880,
    withRetryAfter: 1880,
    retryAfter: { '1': 1880 },
  },
  alone: { latency: summarize([10, 20, 40]), sent: 220, throttled: 0, errors: 0 },
  withNoisy: { latency: summarize([11, 22, 44]), sent: 220, throttled: 0, errors: 0 },
  p99Ratio: 1.1,
  p50Ratio: 1.1,
  ...overrides,
});

describe('retryAfterCounts', () => {
  it('counts each value, absent ones apart', () => {
    expect(retryAfterCounts(['1', '1', '2', undefined])).toEqual({ '1': 2, '2': 1, absent: 1 });
  });
});

describe('neighbourVerdicts', () => {
  it('states B’s 429 share with its Retry-After values, A’s ratio against the 1.2× target, and A’s 429s', () => {
    const lines = neighbourVerdicts(neighbour());
    expect(lines[0]).toBe(
      'B (50 req/s against a limit of 5/s, burst 10) got 429 for 89.5 % of its requests (1880 of 2100; 220 accepted), every one with Retry-After (1 s × 1880).',
    );
    expect(lines[1]).toMatch(/^A's accept p99 with B ÷ alone: 1\.10× \(target ≤ 1\.2×: met\)/);
    expect(lines[2]).toBe("Any of A's requests answered 429? none (errors: 0).");
  });

  it('says when the target was missed and when A was throttled', () => {
    const lines = neighbourVerdicts(
      neighbour({
        p99Ratio: 1.5,
        withNoisy: { latency: summarize([30]), sent: 220, throttled: 3, errors: 1 },
        noisy: { ...neighbour().noisy, withRetryAfter: 1870, retryAfter: { '1': 1870, absent: 10 } },
      }),
    );
    expect(lines[0]).toContain('1870 of them with Retry-After');
    expect(lines[1]).toContain('(target ≤ 1.2×: missed)');
    expect(lines[2]).toBe("Any of A's requests answered 429? 3 (errors: 1).");
  });
});

describe('the report', () => {
  it('renders the outage and the neighbour as sections, headline lines and chart panels', () => {
    const results = benchResults({ outage: outage(), neighbour: neighbour() });
    const markdown = renderMarkdown(results);
    expect(markdown).toContain('## 7. The payment provider down');
    expect(markdown).toContain('## 8. A noisy neighbour');
    expect(markdown).toContain('**Provider down 60 s, orders at 5/s:** 400/400 accepted');
    expect(markdown).toContain('- 100 % accepted? yes (400 of 400).');
    const svg = renderSvg(results);
    expect(svg).toContain('Outage: payment provider requests per second');
    expect(svg).toContain('Noisy neighbour: A&apos;s accept latency');
    expect(renderMarkdown(benchResults())).not.toContain('noisy neighbour');
  });

  it('keeps an earlier outage and neighbour when a --only run measured other sections', () => {
    const fresh = benchResults();
    mergeEarlier(fresh, benchResults({ outage: outage(), neighbour: neighbour() }), ['terminal']);
    expect(fresh.outage?.sent).toBe(400);
    expect(fresh.neighbour?.p99Ratio).toBe(1.1);
    expect(fresh.notes.at(-1)).toContain('Sections outage, neighbour come from an earlier run');

    const rerun = benchResults({ outage: outage({ sent: 10 }) });
    mergeEarlier(rerun, benchResults({ outage: outage(), neighbour: neighbour() }), ['outage']);
    expect(rerun.outage?.sent).toBe(10);
    expect(rerun.neighbour).toBeDefined();
  });
});
