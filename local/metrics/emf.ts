/**
 * The local CloudWatch for the functions' embedded metric format (EMF) lines: what Powertools Metrics prints, and
 * CloudWatch turns into metrics on AWS, the runtime reads back from the function output and aggregates here, so
 * `buzzer metrics` and `buzzer status` show the counts the dashboard would.
 *
 * CloudWatch's extraction rules, as far as a count needs them: a log line that is one JSON object with
 * `_aws.CloudWatchMetrics` (an array of directives: `Namespace`, `Dimensions` (an array of dimension sets, each an
 * array of keys of the root object whose values are strings) and `Metrics` (`Name`, optional `Unit`)); each metric's
 * value is the root member of its name, a number or an array of numbers. A metric is recorded once per dimension set
 * (a set that names a missing or non-string member is dropped); a directive with no dimension set records the metric
 * without dimensions. Series are identified, as in CloudWatch, by namespace, name and the exact dimension set.
 */
import { AwsServiceError, type ServiceHandler } from '../engines/gateway.ts';

export interface EmfValue {
  namespace: string;
  metricName: string;
  unit?: string;
  dimensions: Record<string, string>;
  values: number[];
}

/** One series as the store exposes it (statistics over all values since the start or the last reset). */
export interface MetricSeries {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  unit?: string;
  /** CloudWatch's `SampleCount`. */
  count: number;
  /** CloudWatch's `Sum`: the count of a count metric. */
  sum: number;
  min: number;
  max: number;
  /** Percentiles over the latest values kept (`EmfStore` keeps at most `maxSamples` per series). */
  p50: number;
  p90: number;
  p99: number;
  firstAt: string;
  lastAt: string;
}

export interface MetricsSnapshot {
  /** When the store started counting (runtime start or last reset). */
  since: string;
  generatedAt: string;
  /** Lines recognised as EMF, and those that claimed to be (`_aws`) but were not valid. */
  lines: { emf: number; invalid: number };
  series: MetricSeries[];
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/**
 * The metrics in one log line, or `undefined` when the line is not EMF (plain text, a JSON log line, JSON that merely
 * has an `_aws` or `CloudWatchMetrics` key of another shape). Malformed directives or metric definitions inside an EMF
 * line are skipped; the valid ones still count.
 */
export function parseEmfLine(line: string): EmfValue[] | undefined {
  const text = line.trim();
  if (!text.startsWith('{') || !text.includes('"_aws"')) return undefined;
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(root) || !isRecord(root._aws)) return undefined;
  const directives = root._aws.CloudWatchMetrics;
  if (!Array.isArray(directives) || !finite(root._aws.Timestamp)) return undefined;
  const found: EmfValue[] = [];
  for (const directive of directives) {
    if (!isRecord(directive) || typeof directive.Namespace !== 'string' || !Array.isArray(directive.Metrics))
      continue;
    const sets = Array.isArray(directive.Dimensions) ? directive.Dimensions : [];
    const dimensionSets: Array<Record<string, string>> = [];
    for (const set of sets) {
      if (!Array.isArray(set)) continue;
      const entries = set.map((key) => [key, typeof key === 'string' ? root[key] : undefined] as const);
      if (entries.every(([key, value]) => typeof key === 'string' && typeof value === 'string'))
        dimensionSets.push(Object.fromEntries(entries) as Record<string, string>);
    }
    if (sets.length === 0) dimensionSets.push({});
    for (const definition of directive.Metrics) {
      if (!isRecord(definition) || typeof definition.Name !== 'string') continue;
      const raw = root[definition.Name];
      const values = (Array.isArray(raw) ? raw : [raw]).filter(finite);
      if (values.length === 0) continue;
      for (const dimensions of dimensionSets) {
        found.push({
          namespace: directive.Namespace,
          metricName: definition.Name,
          ...(typeof definition.Unit === 'string' ? { unit: definition.Unit } : {}),
          dimensions,
          values,
        });
      }
    }
  }
  return found;
}

/** What the store keeps of a series: the exposed identity and running statistics, plus the samples for percentiles. */
interface SeriesState
  extends Pick<
    MetricSeries,
    'namespace' | 'metricName' | 'dimensions' | 'unit' | 'count' | 'sum' | 'min' | 'max'
  > {
  /** The latest values, a ring of at most `maxSamples`. */
  samples: number[];
  next: number;
  firstAt: number;
  lastAt: number;
}

export interface EmfStoreOptions {
  /** Values kept per series for percentiles. @default 2000 */
  maxSamples?: number;
  now?: () => number;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

export function seriesKey(namespace: string, metricName: string, dimensions: Record<string, string>): string {
  const dims = Object.keys(dimensions)
    .sort()
    .map((key) => [key, dimensions[key]]);
  return JSON.stringify([namespace, metricName, dims]);
}

/** Counts, sums, extremes and recent values per series, fed one log line at a time. */
export class EmfStore {
  private readonly series = new Map<string, SeriesState>();
  private readonly maxSamples: number;
  private readonly now: () => number;
  private since: number;
  private emfLines = 0;
  private invalidLines = 0;

  constructor(options: EmfStoreOptions = {}) {
    this.maxSamples = options.maxSamples ?? 2000;
    this.now = options.now ?? Date.now;
    this.since = this.now();
  }

  /** Reads one line a function wrote; answers whether it was an EMF line (recorded). */
  ingest(line: string): boolean {
    const values = parseEmfLine(line);
    if (values === undefined) {
      if (line.includes('"_aws"') && line.trimStart().startsWith('{')) this.invalidLines += 1;
      return false;
    }
    this.emfLines += 1;
    for (const value of values) this.record(value);
    return true;
  }

  record(value: EmfValue): void {
    const key = seriesKey(value.namespace, value.metricName, value.dimensions);
    const at = this.now();
    let state = this.series.get(key);
    if (!state) {
      state = {
        namespace: value.namespace,
        metricName: value.metricName,
        dimensions: { ...value.dimensions },
        ...(value.unit ? { unit: value.unit } : {}),
        count: 0,
        sum: 0,
        min: Number.POSITIVE_INFINITY,
        max: Number.NEGATIVE_INFINITY,
        samples: [],
        next: 0,
        firstAt: at,
        lastAt: at,
      };
      this.series.set(key, state);
    }
    for (const v of value.values) {
      state.count += 1;
      state.sum += v;
      state.min = Math.min(state.min, v);
      state.max = Math.max(state.max, v);
      if (state.samples.length < this.maxSamples) state.samples.push(v);
      else {
        state.samples[state.next] = v;
        state.next = (state.next + 1) % this.maxSamples;
      }
    }
    state.lastAt = at;
  }

  snapshot(): MetricsSnapshot {
    const series = [...this.series.values()]
      .map((s): MetricSeries => {
        const sorted = [...s.samples].sort((a, b) => a - b);
        return {
          namespace: s.namespace,
          metricName: s.metricName,
          dimensions: { ...s.dimensions },
          ...(s.unit ? { unit: s.unit } : {}),
          count: s.count,
          sum: s.sum,
          min: s.min,
          max: s.max,
          p50: percentile(sorted, 50),
          p90: percentile(sorted, 90),
          p99: percentile(sorted, 99),
          firstAt: new Date(s.firstAt).toISOString(),
          lastAt: new Date(s.lastAt).toISOString(),
        };
      })
      .sort((a, b) =>
        seriesKey(a.namespace, a.metricName, a.dimensions).localeCompare(
          seriesKey(b.namespace, b.metricName, b.dimensions),
        ),
      );
    return {
      since: new Date(this.since).toISOString(),
      generatedAt: new Date(this.now()).toISOString(),
      lines: { emf: this.emfLines, invalid: this.invalidLines },
      series,
    };
  }

  reset(): void {
    this.series.clear();
    this.emfLines = 0;
    this.invalidLines = 0;
    this.since = this.now();
  }
}

/**
 * The X-Amz-Target prefix under which the runtime's gateway (the local AWS JSON endpoint on 127.0.0.1, `endpoints.gateway`
 * in `.buzzer/runtime.json`) serves the store: `POST` with `X-Amz-Target: BuzzerLocalMetrics.GetMetrics` answers a
 * `MetricsSnapshot`; `BuzzerLocalMetrics.ResetMetrics` starts counting again.
 */
export const LOCAL_METRICS_TARGET = 'BuzzerLocalMetrics';

/** The gateway service over a store. */
export function createMetricsService(store: EmfStore): ServiceHandler {
  return async (operation) => {
    if (operation === 'GetMetrics') return store.snapshot();
    if (operation === 'ResetMetrics') {
      store.reset();
      return {};
    }
    throw new AwsServiceError(
      'UnknownOperationException',
      `${LOCAL_METRICS_TARGET} has no operation ${operation}`,
    );
  };
}
