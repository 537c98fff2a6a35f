import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import {
  contractDimensionSet,
  dimensionSet,
  type EnumeratedMetric,
  METRIC_DIMENSION_VALUES,
  METRIC_DIMENSIONS,
  METRICS,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  type MetricName,
} from '#contracts/metrics.ts';

export interface BusinessMetricsProps {
  /** Period of every metric (alarms and graphs). @default Duration.minutes(5) */
  readonly period?: Duration;
}

/** The metrics that carry no dimension besides `service`. */
export type PlainCountMetric =
  | typeof METRICS.OrdersAccepted
  | typeof METRICS.OrdersConfirmed
  | typeof METRICS.RelayPublishFailures
  | typeof METRICS.StuckOrdersNeedingOperator
  | typeof METRICS.SettlementMismatches;

/**
 * The one place that turns the metric contract (contracts/metrics.ts) into CloudWatch metrics for alarms and
 * dashboard widgets. The handlers write these as EMF log lines through Powertools Metrics; nothing here reads the
 * wording of a log line. Every metric is in namespace `Buzzer` with `service` = `buzzer` plus exactly the dimensions
 * the contract lists for it (a CloudWatch metric is identified by its whole dimension set).
 */
export class BusinessMetrics {
  public readonly period: Duration;

  constructor(props: BusinessMetricsProps = {}) {
    this.period = props.period ?? Duration.minutes(5);
  }

  /** A contract metric with its dimensions (besides `service`); throws when they are not the contract's. */
  metric(
    name: MetricName,
    dimensions: Record<string, string> = {},
    options: cloudwatch.MetricOptions = {},
  ): cloudwatch.Metric {
    const expected = contractDimensionSet(name);
    const given = dimensionSet(Object.keys(dimensions));
    if (expected !== given) {
      throw new Error(`BusinessMetrics: ${name} has the dimensions [${expected}], not [${given}]`);
    }
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      dimensionsMap: { service: METRICS_SERVICE, ...dimensions },
      statistic: cloudwatch.Stats.SUM,
      period: this.period,
      ...options,
    });
  }

  /** A count with no further dimension (orders accepted / confirmed, relay publish failures, …). */
  count(name: PlainCountMetric, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric(name, {}, options);
  }

  /** One series per value the contract lists for the metric's dimension (`METRIC_DIMENSION_VALUES`), labelled by it. */
  byDimensionValue(name: EnumeratedMetric, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric[] {
    const { key, values } = METRIC_DIMENSION_VALUES[name];
    return values.map((value) => this.metric(name, { [key]: value }, { label: value, ...options }));
  }

  /** `OrdersCancelled`, one series per reason of the contract. */
  cancelledByReason(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric[] {
    return this.byDimensionValue(METRICS.OrdersCancelled, options);
  }

  /** All cancelled orders: the sum over the contract's reasons (metric math; no series without a reason exists). */
  cancelledTotal(label = 'cancelled'): cloudwatch.MathExpression {
    return sumOf(this.cancelledByReason(), 'cancelled', label, this.period);
  }

  /** `WebhookDeliveries`, one series per outcome of the contract. */
  webhookDeliveriesByOutcome(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric[] {
    return this.byDimensionValue(METRICS.WebhookDeliveries, options);
  }

  /**
   * The circuit breakers' metrics, one series per breaker of the contract: how often each opened and closed, and how
   * many calls it held back (orders held, mails put back).
   */
  circuits(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric[] {
    const per = (
      name: typeof METRICS.CircuitOpened | typeof METRICS.CircuitClosed | typeof METRICS.CallsHeld,
      verb: string,
    ) =>
      this.byDimensionValue(name, options).map((metric) => metric.with({ label: `${metric.label} ${verb}` }));
    return [
      ...per(METRICS.CircuitOpened, 'opened'),
      ...per(METRICS.CircuitClosed, 'closed'),
      ...per(METRICS.CallsHeld, 'calls held'),
    ];
  }

  /** `SagaStepDuration` (ms) of one step at one statistic (`p50`, `p99`, `Maximum`…). */
  sagaStepDuration(step: string, statistic: string): cloudwatch.Metric {
    return this.metric(
      METRICS.SagaStepDuration,
      { [METRIC_DIMENSIONS.step]: step },
      { statistic, label: `${step} ${statistic}`, unit: cloudwatch.Unit.MILLISECONDS },
    );
  }

  /** Powertools' `ColdStart` of one function (its physical name: the `function_name` Powertools writes). */
  coldStarts(functionName: string, label: string): cloudwatch.Metric {
    return this.metric(METRICS.ColdStart, { [METRIC_DIMENSIONS.functionName]: functionName }, { label });
  }
}

/** `SUM([m0, m1, …])` over the given metrics: a missing point in one series does not blank the sum. */
function sumOf(
  metrics: cloudwatch.IMetric[],
  prefix: string,
  label: string,
  period: Duration,
): cloudwatch.MathExpression {
  const usingMetrics = Object.fromEntries(metrics.map((metric, i) => [`${prefix}${i}`, metric]));
  return new cloudwatch.MathExpression({
    expression: `SUM([${Object.keys(usingMetrics).join(', ')}])`,
    usingMetrics,
    label,
    period,
  });
}
