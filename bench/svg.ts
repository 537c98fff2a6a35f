/**
 * Grouped bar charts and time series as plain SVG (no charting package): one figure of stacked panels for the report. Pure
 * string building, so it is unit-tested and the output is stable between runs with the same numbers.
 */

export interface BarGroup {
  label: string;
  /** One value per series; `undefined` draws no bar (no measurement). */
  values: Array<number | undefined>;
}

export interface BarChart {
  title: string;
  /** Axis unit, e.g. `ms` or `$ per million orders`. */
  unit: string;
  series: string[];
  groups: BarGroup[];
  /** Logarithmic value axis, for figures spanning decades (latencies from milliseconds to seconds). */
  log?: boolean;
}

/** Values over time (one line per series), e.g. the outage run second by second. */
export interface LineChart {
  kind: 'line';
  title: string;
  unit: string;
  /** Unit of the x values, e.g. `s`. */
  xUnit: string;
  x: number[];
  series: Array<{ name: string; values: number[] }>;
  /** An x range shaded behind the lines (e.g. while the provider was down). */
  band?: { from: number; to: number };
}

export type Panel = BarChart | LineChart;

/** Tableau 10: the burst chart draws eight series (four cases × p50/p99), each needs a colour of its own. */
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#b07aa1',
  '#edc948',
  '#9c755f',
  '#ff9da7',
  '#bab0ac',
];
const FONT = 'font-family="system-ui, sans-serif"';

export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/** A round step so that about `count` ticks cover `max`: 1, 2 or 5 times a power of ten. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  const factor = scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10;
  return factor * power;
}

/** Tick values and a value → [0, 1] mapping for the axis. */
export function axis(
  values: readonly number[],
  log: boolean,
): { ticks: number[]; scale: (v: number) => number } {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  const max = finite.length > 0 ? Math.max(...finite) : 1;
  if (log) {
    const lowest = finite.length > 0 ? Math.min(...finite) : 1;
    const from = Math.floor(Math.log10(lowest));
    const to = Math.max(from + 1, Math.ceil(Math.log10(max)));
    const ticks = Array.from({ length: to - from + 1 }, (_, i) => 10 ** (from + i));
    return { ticks, scale: (v) => (v > 0 ? (Math.log10(v) - from) / (to - from) : 0) };
  }
  const step = niceStep(max);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const ticks = Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step);
  return { ticks, scale: (v) => Math.max(0, v) / top };
}

function formatTick(value: number): string {
  if (value >= 1000) return `${value / 1000}k`;
  if (value >= 1 || value === 0) return String(Number(value.toPrecision(3)));
  return value.toPrecision(1);
}

export const PANEL_WIDTH = 860;
export const PANEL_HEIGHT = 300;

/** One chart as an SVG group at vertical offset `top`. */
export function renderBarChart(chart: BarChart, top: number): string {
  const left = 70;
  const right = 20;
  const plotTop = top + 50;
  const plotHeight = PANEL_HEIGHT - 110;
  const plotWidth = PANEL_WIDTH - left - right;
  const values = chart.groups.flatMap((g) => g.values.filter((v): v is number => v !== undefined));
  const { ticks, scale } = axis(values, chart.log ?? false);
  const y = (v: number) => plotTop + plotHeight - scale(v) * plotHeight;
  const parts: string[] = [
    `<text x="${left}" y="${top + 20}" ${FONT} font-size="15" font-weight="600">${escapeXml(chart.title)}</text>`,
  ];
  for (const tick of ticks) {
    const ty = y(tick).toFixed(1);
    parts.push(
      `<line x1="${left}" x2="${left + plotWidth}" y1="${ty}" y2="${ty}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${ty}" ${FONT} font-size="11" text-anchor="end" dominant-baseline="middle">${formatTick(tick)}</text>`,
    );
  }
  parts.push(
    `<text x="14" y="${plotTop + plotHeight / 2}" ${FONT} font-size="11" transform="rotate(-90 14 ${plotTop + plotHeight / 2})" text-anchor="middle">${escapeXml(chart.unit)}${chart.log ? ' (log)' : ''}</text>`,
  );
  const groupWidth = plotWidth / Math.max(1, chart.groups.length);
  const barWidth = Math.min(28, (groupWidth * 0.8) / Math.max(1, chart.series.length));
  for (const [g, group] of chart.groups.entries()) {
    const groupLeft = left + g * groupWidth + (groupWidth - barWidth * chart.series.length) / 2;
    for (const [s, value] of group.values.entries()) {
      if (value === undefined || !Number.isFinite(value)) continue;
      const barTop = y(value);
      const height = Math.max(0.5, plotTop + plotHeight - barTop);
      parts.push(
        `<rect x="${(groupLeft + s * barWidth).toFixed(1)}" y="${barTop.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${height.toFixed(1)}" fill="${PALETTE[s % PALETTE.length]}"><title>${escapeXml(`${group.label} — ${chart.series[s] ?? ''}: ${Number(value.toPrecision(4))} ${chart.unit}`)}</title></rect>`,
      );
    }
    parts.push(
      `<text x="${(left + (g + 0.5) * groupWidth).toFixed(1)}" y="${plotTop + plotHeight + 16}" ${FONT} font-size="11" text-anchor="middle">${escapeXml(group.label)}</text>`,
    );
  }
  parts.push(...legend(chart.series, top, left));
  return `<g>${parts.join('')}</g>`;
}

/** The series' names under a chart, on a second row when the first is full (eight names do not fit on one). */
function legend(names: readonly string[], top: number, left: number): string[] {
  const parts: string[] = [];
  let legendX = left;
  let legendY = top + PANEL_HEIGHT - 30;
  for (const [s, name] of names.entries()) {
    const width = 24 + name.length * 6.5;
    if (legendX > left && legendX + width > PANEL_WIDTH) {
      legendX = left;
      legendY += 16;
    }
    parts.push(
      `<rect x="${legendX}" y="${legendY - 9}" width="10" height="10" fill="${PALETTE[s % PALETTE.length]}"/>`,
      `<text x="${legendX + 14}" y="${legendY}" ${FONT} font-size="11">${escapeXml(name)}</text>`,
    );
    legendX += width;
  }
  return parts;
}

/** One time series chart as an SVG group at vertical offset `top`: a polyline per series on a linear axis. */
export function renderLineChart(chart: LineChart, top: number): string {
  const left = 70;
  const right = 20;
  const plotTop = top + 50;
  const plotHeight = PANEL_HEIGHT - 110;
  const plotWidth = PANEL_WIDTH - left - right;
  const { ticks, scale } = axis(
    chart.series.flatMap((s) => s.values),
    false,
  );
  const xMin = Math.min(...chart.x, chart.band?.from ?? Number.POSITIVE_INFINITY);
  const xMax = Math.max(...chart.x, chart.band?.to ?? Number.NEGATIVE_INFINITY, xMin + 1);
  const px = (v: number) => left + ((v - xMin) / (xMax - xMin)) * plotWidth;
  const py = (v: number) => plotTop + plotHeight - scale(v) * plotHeight;
  const parts: string[] = [
    `<text x="${left}" y="${top + 20}" ${FONT} font-size="15" font-weight="600">${escapeXml(chart.title)}</text>`,
  ];
  if (chart.band) {
    parts.push(
      `<rect x="${px(chart.band.from).toFixed(1)}" y="${plotTop}" width="${(px(chart.band.to) - px(chart.band.from)).toFixed(1)}" height="${plotHeight}" fill="#f4e1e1"/>`,
    );
  }
  for (const tick of ticks) {
    const ty = py(tick).toFixed(1);
    parts.push(
      `<line x1="${left}" x2="${left + plotWidth}" y1="${ty}" y2="${ty}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${ty}" ${FONT} font-size="11" text-anchor="end" dominant-baseline="middle">${formatTick(tick)}</text>`,
    );
  }
  const xStep = niceStep(xMax - xMin, 10);
  for (let v = Math.ceil(xMin / xStep) * xStep; v <= xMax; v += xStep) {
    parts.push(
      `<text x="${px(v).toFixed(1)}" y="${plotTop + plotHeight + 16}" ${FONT} font-size="11" text-anchor="middle">${formatTick(v)}${v === 0 ? ` ${escapeXml(chart.xUnit)}` : ''}</text>`,
    );
  }
  parts.push(
    `<text x="14" y="${plotTop + plotHeight / 2}" ${FONT} font-size="11" transform="rotate(-90 14 ${plotTop + plotHeight / 2})" text-anchor="middle">${escapeXml(chart.unit)}</text>`,
  );
  for (const [s, series] of chart.series.entries()) {
    const points = series.values
      .map((v, i) => [chart.x[i], v] as const)
      .filter((p): p is readonly [number, number] => p[0] !== undefined && Number.isFinite(p[1]))
      .map(([x, v]) => `${px(x).toFixed(1)},${py(v).toFixed(1)}`)
      .join(' ');
    parts.push(
      `<polyline points="${points}" fill="none" stroke="${PALETTE[s % PALETTE.length]}" stroke-width="2"><title>${escapeXml(series.name)}</title></polyline>`,
    );
  }
  parts.push(
    ...legend(
      chart.series.map((s) => s.name),
      top,
      left,
    ),
  );
  return `<g>${parts.join('')}</g>`;
}

const renderPanel = (panel: Panel, top: number): string =>
  'kind' in panel ? renderLineChart(panel, top) : renderBarChart(panel, top);

/** A complete SVG document: the panels one under another and a caption (machine, samples) at the bottom. */
export function renderFigure(panels: readonly Panel[], caption: string): string {
  const height = panels.length * PANEL_HEIGHT + 40;
  const body = panels.map((panel, i) => renderPanel(panel, i * PANEL_HEIGHT)).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${PANEL_WIDTH}" height="${height}" viewBox="0 0 ${PANEL_WIDTH} ${height}" role="img">`,
    // The accessible name of the figure (and what the repository's linter asks every SVG for).
    `<title>${escapeXml(panels.map((panel) => panel.title).join('; '))}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    body,
    `<text x="10" y="${height - 14}" ${FONT} font-size="11" fill="#555">${escapeXml(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
