import { describe, expect, it } from 'vitest';
import {
  axis,
  escapeXml,
  niceStep,
  PANEL_HEIGHT,
  PANEL_WIDTH,
  renderBarChart,
  renderFigure,
} from '#bench/svg.ts';

describe('escapeXml', () => {
  it('escapes the five XML special characters', () => {
    expect(escapeXml(`a<b>&"c"'d'`)).toBe('a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;');
  });
});

describe('axis', () => {
  it('picks 1, 2 or 5 times a power of ten as the step', () => {
    expect(niceStep(100)).toBe(20);
    expect(niceStep(7)).toBe(2);
    expect(niceStep(0.3)).toBe(0.1);
    expect(niceStep(0)).toBe(1);
  });

  it('covers the largest value on a linear axis from zero', () => {
    const { ticks, scale } = axis([3, 87], false);
    expect(ticks).toEqual([0, 20, 40, 60, 80, 100]);
    expect(scale(50)).toBe(0.5);
    expect(scale(-5)).toBe(0);
  });

  it('spans whole decades on a log axis', () => {
    const { ticks, scale } = axis([12, 4500], true);
    expect(ticks).toEqual([10, 100, 1000, 10000]);
    expect(scale(100)).toBeCloseTo(1 / 3, 12);
    expect(scale(0)).toBe(0);
  });
});

describe('renderFigure', () => {
  const chart = {
    title: 'Latency <p99> & friends',
    unit: 'ms',
    series: ['sync', 'async'],
    groups: [
      { label: '2 s, 20 %', values: [9000, 25] },
      { label: '0 ms, 0 %', values: [120, undefined] },
    ],
    log: true,
  };

  it('draws one bar per measured value, with its figure as a tooltip', () => {
    const group = renderBarChart(chart, 0);
    expect(group.match(/<rect x=/g)?.length).toBe(3 + chart.series.length);
    expect(group).toContain('<title>2 s, 20 % — sync: 9000 ms</title>');
    expect(group).toContain('Latency &lt;p99&gt; &amp; friends');
    expect(group).toContain('ms (log)');
  });

  it('is a standalone SVG document sized for its panels, with the caption', () => {
    const svg = renderFigure([chart, { ...chart, log: false }], 'machine: 2 cores & 23 GB');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain(`height="${2 * PANEL_HEIGHT + 40}"`);
    expect(svg).toContain('machine: 2 cores &amp; 23 GB');
    expect(svg).toContain(
      '<title>Latency &lt;p99&gt; &amp; friends; Latency &lt;p99&gt; &amp; friends</title>',
    );
    expect(svg).not.toMatch(/NaN|undefined/);
  });
});

describe('renderBarChart with the burst chart’s eight series', () => {
  const series = ['sync', 'async', 'burst mail', 'hybrid'].flatMap((name) => [
    `case ${name} p50`,
    `case ${name} p99`,
  ]);
  const svg = renderBarChart(
    { title: 'Burst', unit: 'ms', series, groups: [{ label: 'cell', values: [] }] },
    0,
  );

  it('gives every series a colour of its own', () => {
    const swatches = [
      ...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="10" height="10" fill="(#[0-9a-f]+)"/g),
    ];
    expect(swatches).toHaveLength(series.length);
    expect(new Set(swatches.map((m) => m[1])).size).toBe(series.length);
  });

  it('wraps the legend inside the panel instead of running past its right edge', () => {
    const entries = [
      ...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)"[^>]*font-size="11">(case [^<]+)<\/text>/g),
    ];
    expect(entries).toHaveLength(series.length);
    for (const [, x, , name] of entries) {
      expect(Number(x) + (name ?? '').length * 6.5).toBeLessThanOrEqual(PANEL_WIDTH);
    }
    expect(new Set(entries.map((m) => m[2])).size).toBe(2);
  });
});
