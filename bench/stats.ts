/**
 * Summary statistics for the benchmark tables. Percentiles use the nearest-rank method (the value below which
 * p % of the samples fall, always an observed sample), so a p99 over fewer than 100 samples is simply the
 * maximum; the tables state the sample count next to every percentile for that reason.
 */

export interface LatencySummary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of `values` (need not be sorted); NaN for no samples. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  if (p <= 0) return Math.min(...values);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) {
    return { n: 0, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
  }
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
  return {
    n: sorted.length,
    p50: at(50) ?? Number.NaN,
    p95: at(95) ?? Number.NaN,
    p99: at(99) ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.reduce((sum, v) => sum + v, 0) / sorted.length,
  };
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/**
 * Ends per second over the middle 60 % of the end times: past the ramp-up and before the tail, the rate at which
 * a saturated system works off its queue (an unsaturated one just follows the arrival rate).
 */
export function serviceRate(endTimes: readonly number[]): number {
  const sorted = [...endTimes].sort((a, b) => a - b);
  if (sorted.length < 5) return Number.NaN;
  const from = Math.floor(sorted.length * 0.2);
  const to = Math.ceil(sorted.length * 0.8) - 1;
  const span = (sorted[to] ?? 0) - (sorted[from] ?? 0);
  return span > 0 ? ((to - from) / span) * 1000 : Number.NaN;
}

/** Share of `part` in `whole` as a fraction (0 when `whole` is 0). */
export function share(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}

/** Milliseconds for tables: one decimal below 10 ms, whole numbers above; `–` for no value. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (Math.abs(value) < 10) return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

export function pct(fraction: number, digits = 1): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)} %` : '–';
}

export function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

/** Dollars with enough digits to tell small per-order figures apart. */
export function usd(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (value === 0) return '$0';
  if (Math.abs(value) >= 100) return `$${value.toFixed(0)}`;
  if (Math.abs(value) >= 1) return `$${value.toFixed(2)}`;
  return `$${value.toPrecision(3)}`;
}

/** A Markdown table: a header row, its rule, and one row per entry (cells already formatted). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}
