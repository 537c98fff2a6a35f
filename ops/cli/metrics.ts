/**
 * `buzzer metrics`: the business and health metrics of contracts/metrics.ts (orders accepted / confirmed / cancelled by
 * reason, webhook deliveries by outcome, relay publish failures, saga step durations, cold starts), the numbers the
 * dashboard graphs.
 *
 * Locally they come from the runtime's EMF store (local/metrics/emf.ts), which reads the functions' EMF lines as
 * CloudWatch would, served on the runtime's gateway (`endpoints.gateway` in `.buzzer/runtime.json`, 127.0.0.1) as
 * `X-Amz-Target: BuzzerLocalMetrics.GetMetrics`. On AWS the CLI has no CloudWatch client: it names the dashboard.
 */
import type { Command } from 'commander';
import {
  contractDimensionSet,
  dimensionSet,
  type EnumeratedMetric,
  METRIC_DIMENSION_VALUES,
  METRICS,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  type MetricName,
} from '#contracts/metrics.ts';
import { shortFunctionName } from '#local/logging.ts';
import type { MetricSeries, MetricsSnapshot } from '#local/metrics/emf.ts';
import { OperatorError, type OpsContext, type OpsTarget } from './context.ts';
import { table } from './format.ts';
import type { CommandRunner } from './runner.ts';

/** The X-Amz-Target prefix of the local runtime's metrics service (local/metrics/emf.ts `LOCAL_METRICS_TARGET`). */
const LOCAL_METRICS_TARGET = 'BuzzerLocalMetrics';

export interface MetricsSummary {
  /** When the counting started (the runtime's start). */
  since: string;
  orders: {
    accepted: number;
    confirmed: number;
    cancelled: number;
    /** Every reason of the contract, 0 when none. */
    cancelledByReason: Record<string, number>;
  };
  /** Every outcome of the contract, 0 when none. */
  webhookDeliveries: Record<string, number>;
  relayPublishFailures: number;
  stuckOrdersNeedingOperator: number;
  /** Per circuit breaker (every one of the contract, 0 when none): how often it opened and closed, calls it held. */
  circuits: Record<string, { opened: number; closed: number; held: number }>;
  sagaSteps: Array<{ step: string; runs: number; p50Ms: number; maxMs: number }>;
  coldStarts: Array<{ function: string; count: number }>;
  /** Series of namespace Buzzer that are not a contract metric with its dimensions (a writer out of contract). */
  outOfContract: string[];
}

export interface MetricsReport {
  generatedAt: string;
  target: { kind: string; stackName: string; region: string };
  /** The counts, when the target can give them (the local runtime). */
  metrics: MetricsSummary | null;
  /** Why there are no counts, or where else to look. */
  note?: string;
  /** The CloudWatch dashboard of the stack (its name, and its console address on AWS). */
  dashboard?: { name: string; url?: string };
}

const isContractMetric = (name: string): name is MetricName =>
  Object.values(METRICS).includes(name as MetricName);

/** Whether a series is the contract's metric `name` with exactly its dimensions (and `service` = buzzer). */
function inContract(series: MetricSeries): boolean {
  if (series.namespace !== METRICS_NAMESPACE || !isContractMetric(series.metricName)) return false;
  const { service, ...others } = series.dimensions;
  return (
    service === METRICS_SERVICE &&
    dimensionSet(Object.keys(others)) === contractDimensionSet(series.metricName)
  );
}

/** The local runtime's short function names (`shortFunctionName`), as `buzzer metrics` shows cold starts. */
export const shortName = shortFunctionName;

/** The contract's view of a snapshot: one number per count, per reason, per outcome, per step and per function. */
export function summarizeSnapshot(snapshot: MetricsSnapshot, stackName = 'Buzzer'): MetricsSummary {
  const ours = snapshot.series.filter(inContract);
  const of = (name: MetricName) => ours.filter((s) => s.metricName === name);
  const total = (name: MetricName) => of(name).reduce((sum, s) => sum + s.sum, 0);
  const by = (name: EnumeratedMetric) => {
    const { key, values: known } = METRIC_DIMENSION_VALUES[name];
    const counts: Record<string, number> = Object.fromEntries(known.map((value) => [value, 0]));
    for (const s of of(name)) {
      const value = s.dimensions[key] ?? '';
      counts[value] = (counts[value] ?? 0) + s.sum;
    }
    return counts;
  };
  const cancelledByReason = by(METRICS.OrdersCancelled);
  const [opened, closed, held] = [METRICS.CircuitOpened, METRICS.CircuitClosed, METRICS.CallsHeld].map(by);
  const circuits = Object.fromEntries(
    Object.keys(opened ?? {}).map((breaker) => [
      breaker,
      { opened: opened?.[breaker] ?? 0, closed: closed?.[breaker] ?? 0, held: held?.[breaker] ?? 0 },
    ]),
  );
  return {
    since: snapshot.since,
    orders: {
      accepted: total(METRICS.OrdersAccepted),
      confirmed: total(METRICS.OrdersConfirmed),
      cancelled: Object.values(cancelledByReason).reduce((a, b) => a + b, 0),
      cancelledByReason,
    },
    webhookDeliveries: by(METRICS.WebhookDeliveries),
    relayPublishFailures: total(METRICS.RelayPublishFailures),
    stuckOrdersNeedingOperator: total(METRICS.StuckOrdersNeedingOperator),
    circuits,
    sagaSteps: of(METRICS.SagaStepDuration).map((s) => ({
      step: s.dimensions.step ?? '',
      runs: s.count,
      p50Ms: Math.round(s.p50),
      maxMs: Math.round(s.max),
    })),
    coldStarts: of(METRICS.ColdStart)
      .map((s) => ({ function: shortName(s.dimensions.function_name ?? '', stackName), count: s.sum }))
      .sort((a, b) => b.count - a.count || a.function.localeCompare(b.function)),
    outOfContract: snapshot.series
      .filter((s) => s.namespace === METRICS_NAMESPACE && !inContract(s))
      .map((s) => `${s.metricName} ${JSON.stringify(s.dimensions)}`),
  };
}

/** The local runtime's EMF store, through its gateway. */
export async function fetchLocalMetrics(endpoint: string, fetchImpl = fetch): Promise<MetricsSnapshot> {
  let response: Response;
  try {
    response = await fetchImpl(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `${LOCAL_METRICS_TARGET}.GetMetrics`,
      },
      body: '{}',
    });
  } catch (error) {
    throw new OperatorError(`the local runtime's metrics (${endpoint}) do not answer: ${String(error)}`);
  }
  if (!response.ok) {
    throw new OperatorError(
      `the local runtime serves no metrics (${response.status}): restart npm start with this version`,
    );
  }
  return (await response.json()) as MetricsSnapshot;
}

function dashboardOf(target: OpsTarget): MetricsReport['dashboard'] {
  if (!target.dashboardName) return undefined;
  return {
    name: target.dashboardName,
    ...(target.kind === 'aws'
      ? {
          url: `https://${target.region}.console.aws.amazon.com/cloudwatch/home?region=${target.region}#dashboards/dashboard/${encodeURIComponent(target.dashboardName)}`,
        }
      : {}),
  };
}

/** The summary of the target's metrics, or why there is none; never throws for a target without metrics. */
export async function readMetrics(
  ctx: OpsContext,
  fetchImpl = fetch,
): Promise<{ metrics: MetricsSummary | null; note?: string }> {
  const { target } = ctx;
  if (target.kind !== 'local') {
    return {
      metrics: null,
      note:
        'the CLI reads metrics from the local runtime only (it has no CloudWatch client): see the CloudWatch ' +
        'dashboard of the stack',
    };
  }
  if (!target.metricsEndpoint) {
    return {
      metrics: null,
      note: 'the local runtime did not say where its metrics are: restart npm start with this version',
    };
  }
  try {
    return {
      metrics: summarizeSnapshot(
        await fetchLocalMetrics(target.metricsEndpoint, fetchImpl),
        target.stackName,
      ),
    };
  } catch (error) {
    if (error instanceof OperatorError) return { metrics: null, note: error.message };
    throw error;
  }
}

export async function metricsReport(ctx: OpsContext, fetchImpl = fetch): Promise<MetricsReport> {
  ctx.progress('reading metrics');
  const { metrics, note } = await readMetrics(ctx, fetchImpl);
  const dashboard = dashboardOf(ctx.target);
  return {
    generatedAt: new Date().toISOString(),
    target: { kind: ctx.target.kind, stackName: ctx.target.stackName, region: ctx.target.region },
    metrics,
    ...(note ? { note } : {}),
    ...(dashboard ? { dashboard } : {}),
  };
}

const nonZero = (counts: Record<string, number>) => Object.entries(counts).filter(([, n]) => n > 0);

/** Counts that are not 0, as `A 2, B 1`, or `none`. */
function inline(counts: Record<string, number>): string {
  const shown = nonZero(counts);
  return shown.length === 0 ? 'none' : shown.map(([key, n]) => `${key} ${n}`).join(', ');
}

/** The few lines `buzzer status` shows. */
export function renderMetricsSection(metrics: MetricsSummary | null, note?: string): string {
  if (!metrics) return `  ${note ?? 'no metrics'}\n`;
  const o = metrics.orders;
  return [
    `  orders              accepted ${o.accepted}, confirmed ${o.confirmed}, cancelled ${o.cancelled}` +
      (o.cancelled > 0 ? ` (${inline(o.cancelledByReason)})` : ''),
    `  webhook deliveries  ${inline(metrics.webhookDeliveries)}`,
    `  relay publish failures ${metrics.relayPublishFailures}, stuck orders for an operator ${metrics.stuckOrdersNeedingOperator}`,
    '',
  ].join('\n');
}

export function renderMetrics(report: MetricsReport): string {
  const head = `Buzzer ${report.target.stackName} (${report.target.kind}, ${report.target.region}) metrics`;
  const dashboard = report.dashboard
    ? `Dashboard: ${report.dashboard.name}${report.dashboard.url ? ` ${report.dashboard.url}` : ''}\n`
    : '';
  const m = report.metrics;
  if (!m) return `${head}\n\n  ${report.note ?? 'no metrics'}\n${dashboard ? `\n${dashboard}` : ''}`;
  const sections = [
    `${head} since ${m.since}\n`,
    '\nOrders\n',
    table(
      ['metric', 'count'],
      [
        ['accepted', m.orders.accepted],
        ['confirmed', m.orders.confirmed],
        ['cancelled', m.orders.cancelled],
        ...nonZero(m.orders.cancelledByReason).map(([reason, n]) => [`  cancelled ${reason}`, n]),
      ],
    ),
    '\nWebhook deliveries by outcome\n',
    table(['outcome', 'count'], nonZero(m.webhookDeliveries)),
    '\nRelay and reconciler\n',
    table(
      ['metric', 'count'],
      [
        ['relay publish failures', m.relayPublishFailures],
        ['stuck orders needing an operator', m.stuckOrdersNeedingOperator],
      ],
    ),
    '\nCircuit breakers\n',
    table(
      ['circuit', 'opened', 'closed', 'calls held'],
      Object.entries(m.circuits).map(([name, c]) => [name, c.opened, c.closed, c.held]),
    ),
    '\nSaga step duration (ms)\n',
    table(
      ['step', 'runs', 'p50', 'max'],
      m.sagaSteps.map((s) => [s.step, s.runs, s.p50Ms, s.maxMs]),
    ),
    '\nCold starts by function\n',
    table(
      ['function', 'cold starts'],
      m.coldStarts.map((c) => [c.function, c.count]),
    ),
    ...(m.outOfContract.length > 0
      ? [`\nOut of contract (contracts/metrics.ts): ${m.outOfContract.join('; ')}\n`]
      : []),
    ...(dashboard ? [`\n${dashboard}`] : []),
  ];
  return sections.join('');
}

export function registerMetricsCommand(program: Command, run: CommandRunner): void {
  program
    .command('metrics')
    .description(
      'orders accepted / confirmed / cancelled by reason, webhook deliveries by outcome, relay publish failures, circuit breakers, saga step durations, cold starts',
    )
    .action((_options: unknown, command: Command) =>
      run(command, (ctx) => metricsReport(ctx), renderMetrics),
    );
}
