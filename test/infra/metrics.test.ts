/**
 * The dashboard and the alarms read the business and health metrics the handlers write as EMF (contracts/metrics.ts),
 * never the wording of a log line: no CloudWatch Logs metric filter feeds them, and every metric in namespace
 * `Buzzer` they name is one of the contract's, with the contract's dimensions and values.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { BREAKERS } from '#contracts/circuit.ts';
import {
  CANCEL_REASONS,
  METRIC_DIMENSION_KEYS,
  METRICS,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  type MetricName,
  WEBHOOK_DELIVERY_OUTCOMES,
} from '#contracts/metrics.ts';
import { type SynthResult, synthBuzzer } from './synth.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };

/** One metric as an alarm or a widget names it. */
interface MetricRef {
  where: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, unknown>;
  stat?: string;
}

let synth: SynthResult;
let resources: Record<string, Resource>;

beforeAll(() => {
  synth = synthBuzzer();
  resources = (synth.template.toJSON() as { Resources: Record<string, Resource> }).Resources;
});

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

/** A token in a dashboard body (a function name, the region) stands for a value the template resolves. */
const TOKEN = '<token>';

/** The dashboard body as JSON: its `Fn::Join` parts, with every token part replaced by a placeholder. */
function dashboardBody(body: unknown): {
  widgets: Array<{ type: string; properties: Record<string, unknown> }>;
} {
  const parts =
    typeof body === 'string' ? [body] : ((body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1] ?? []);
  return JSON.parse(parts.map((part) => (typeof part === 'string' ? part : TOKEN)).join(''));
}

function alarmMetrics(): MetricRef[] {
  return ofType('AWS::CloudWatch::Alarm').flatMap(([id, alarm]) => {
    const p = alarm.Properties;
    const single = (where: string, m: Record<string, unknown>, stat?: string): MetricRef => ({
      where,
      namespace: String(m.Namespace),
      metricName: String(m.MetricName),
      dimensions: Object.fromEntries(
        ((m.Dimensions ?? []) as Array<{ Name: string; Value: unknown }>).map((d) => [d.Name, d.Value]),
      ),
      stat,
    });
    if (p.MetricName) return [single(`alarm ${id}`, p, String(p.Statistic ?? p.ExtendedStatistic))];
    return ((p.Metrics ?? []) as Array<{ MetricStat?: { Metric: Record<string, unknown>; Stat: string } }>)
      .filter((q) => q.MetricStat)
      .map((q) => single(`alarm ${id}`, q.MetricStat?.Metric ?? {}, q.MetricStat?.Stat));
  });
}

function widgetMetrics(): MetricRef[] {
  const [[, dashboard] = ['', undefined]] = ofType('AWS::CloudWatch::Dashboard');
  const { widgets } = dashboardBody(dashboard?.Properties.DashboardBody);
  return widgets.flatMap((widget) => {
    const title = String(widget.properties.title ?? widget.type);
    const metrics = (widget.properties.metrics ?? []) as unknown[][];
    return metrics
      .map((row) => ({
        cells: row.filter((cell) => typeof cell === 'string') as string[],
        options: (row.find((cell) => typeof cell === 'object') ?? {}) as { stat?: string },
      }))
      .filter(({ cells }) => cells.length >= 2)
      .map(({ cells: [namespace = '', metricName = '', ...pairs], options }) => {
        const dimensions: Record<string, unknown> = {};
        for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i] ?? ''] = pairs[i + 1];
        return { where: `widget "${title}"`, namespace, metricName, dimensions, stat: options.stat };
      });
  });
}

describe('alarms and widgets read EMF metrics, not log text', () => {
  it('the template has no CloudWatch Logs metric filter at all', () => {
    expect(ofType('AWS::Logs::MetricFilter').map(([id]) => id)).toEqual([]);
  });

  it('no alarm and no widget uses a metric filter or a log query', () => {
    const [[, dashboard] = ['', undefined]] = ofType('AWS::CloudWatch::Dashboard');
    const { widgets } = dashboardBody(dashboard?.Properties.DashboardBody);
    expect(widgets.filter((w) => w.type === 'log')).toEqual([]);
    for (const [id, alarm] of ofType('AWS::CloudWatch::Alarm')) {
      expect(JSON.stringify(alarm.Properties), id).not.toMatch(/MetricFilter|\$\.message/);
    }
  });

  it('finds the business metrics it checks (the parser reads the dashboard)', () => {
    const names = new Set(widgetMetrics().map((m) => m.metricName));
    for (const name of Object.values(METRICS)) {
      if (name === METRICS.StuckOrdersNeedingOperator) continue; // an alarm, not a graph
      expect(names, name).toContain(name);
    }
    expect(alarmMetrics().map((m) => m.metricName)).toEqual(
      expect.arrayContaining([METRICS.RelayPublishFailures, METRICS.StuckOrdersNeedingOperator]),
    );
  });

  it('every alarm and widget metric in namespace Buzzer is a contract metric with the contract dimensions', () => {
    const stepNames = Object.keys(synth.stack.saga.steps);
    const allowed: Record<string, readonly string[]> = {
      breaker: BREAKERS,
      reason: CANCEL_REASONS,
      outcome: WEBHOOK_DELIVERY_OUTCOMES,
      step: stepNames,
    };
    const ours = [...alarmMetrics(), ...widgetMetrics()].filter((m) => m.namespace === METRICS_NAMESPACE);
    expect(ours.length).toBeGreaterThan(20);
    for (const metric of ours) {
      const label = `${metric.where}: ${metric.metricName} ${JSON.stringify(metric.dimensions)}`;
      expect(Object.values(METRICS), label).toContain(metric.metricName);
      const keys = METRIC_DIMENSION_KEYS[metric.metricName as MetricName] ?? [];
      expect(Object.keys(metric.dimensions).sort(), label).toEqual(['service', ...keys].sort());
      expect(metric.dimensions.service, label).toBe(METRICS_SERVICE);
      for (const key of keys) {
        const value = metric.dimensions[key];
        if (allowed[key]) expect(allowed[key], label).toContain(value);
        else expect(value, label).toBe(TOKEN); // function_name: a function's physical name
      }
    }
  });

  it('charts every cancel reason, every webhook outcome, every saga step (p50, p99) and every function', () => {
    const widgets = widgetMetrics();
    const values = (name: string, key: string) =>
      new Set(widgets.filter((m) => m.metricName === name).map((m) => m.dimensions[key]));
    expect([...values(METRICS.OrdersCancelled, 'reason')].sort()).toEqual([...CANCEL_REASONS].sort());
    expect([...values(METRICS.WebhookDeliveries, 'outcome')].sort()).toEqual(
      [...WEBHOOK_DELIVERY_OUTCOMES].sort(),
    );
    expect([...values(METRICS.SagaStepDuration, 'step')].sort()).toEqual(
      Object.keys(synth.stack.saga.steps).sort(),
    );
    const durationStats = new Set(
      widgets.filter((m) => m.metricName === METRICS.SagaStepDuration).map((m) => m.stat),
    );
    expect([...durationStats].sort()).toEqual(['p50', 'p99']);
    const coldStartSeries = widgets.filter((m) => m.metricName === METRICS.ColdStart).length;
    expect(coldStartSeries).toBe(ofType('AWS::Lambda::Function').length - uncharted());
  });

  it('charts every circuit breaker: how often it opened and closed, and the calls it held', () => {
    const widgets = widgetMetrics();
    for (const name of [METRICS.CircuitOpened, METRICS.CircuitClosed, METRICS.CallsHeld]) {
      const breakers = widgets.filter((m) => m.metricName === name).map((m) => m.dimensions.breaker);
      expect(breakers.sort(), name).toEqual([...BREAKERS].sort());
    }
  });

  it('alarms on orders an operator must handle from the StuckOrdersNeedingOperator metric', () => {
    const alarms = alarmMetrics().filter((m) => m.metricName === METRICS.StuckOrdersNeedingOperator);
    expect(alarms).toHaveLength(1);
    expect(alarms[0]?.dimensions).toEqual({ service: METRICS_SERVICE });
  });

  it('leaves no cdk-nag finding unacknowledged', () => {
    expect(synth.nag.violations).toEqual([]);
  });
});

/** Lambda functions that are not Buzzer functions (CDK's own singleton handlers), which write no cold starts. */
function uncharted(): number {
  return ofType('AWS::Lambda::Function').filter(
    ([, fn]) => JSON.stringify(fn.Properties.Environment ?? {}).includes('POWERTOOLS_SERVICE_NAME') === false,
  ).length;
}
