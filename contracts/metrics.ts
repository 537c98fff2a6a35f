/**
 * Business and health metrics, written by the handlers as CloudWatch embedded metric format (EMF) log lines through
 * Powertools Metrics, and read by the dashboard, the alarms and (locally) `buzzer metrics`. A widget or alarm names a
 * metric from here, never the wording of a log line.
 *
 * Every metric carries the dimension `service` = `METRICS_SERVICE` (one value for the whole system, so an alarm does
 * not depend on which function emits it) plus the dimensions listed with it.
 */
import { BREAKERS } from './circuit.ts';

export const METRICS_NAMESPACE = 'Buzzer';
export const METRICS_SERVICE = 'buzzer';

export const METRIC_DIMENSIONS = {
  /** OrdersCancelled: the order's failure reason (`CANCEL_REASONS`). */
  reason: 'reason',
  /** SagaStepDuration: the step (`ReserveStock`, `AuthorizePayment`, …). */
  step: 'step',
  /** WebhookDeliveries: what became of one delivery message (`WEBHOOK_DELIVERY_OUTCOMES`). */
  outcome: 'outcome',
  /** ColdStart: the function, as Powertools' cold-start metric names it. */
  functionName: 'function_name',
  /** CircuitOpened, CircuitClosed, CallsHeld: the circuit breaker (`BREAKERS`). */
  breaker: 'breaker',
} as const;

export const METRICS = {
  /** Count, no further dimension: an order written (202), not a replay of an earlier request. */
  OrdersAccepted: 'OrdersAccepted',
  /** Count: an order reached CONFIRMED (once per order). */
  OrdersConfirmed: 'OrdersConfirmed',
  /** Count by `reason`: an order reached CANCELLED (once per order). */
  OrdersCancelled: 'OrdersCancelled',
  /** Milliseconds by `step`: one run of a saga step's domain call. */
  SagaStepDuration: 'SagaStepDuration',
  /** Count: an outbox item EventBridge refused or throttled (per item and attempt). */
  RelayPublishFailures: 'RelayPublishFailures',
  /** Count by `outcome`: one webhook delivery message handled. */
  WebhookDeliveries: 'WebhookDeliveries',
  /** Count by `function_name`: Powertools' own cold-start metric. */
  ColdStart: 'ColdStart',
  /** Count: the reconciler found a stuck order it must leave to an operator (half-compensated, …). */
  StuckOrdersNeedingOperator: 'StuckOrdersNeedingOperator',
  /** Count by `breaker`: a circuit opened (from CLOSED, or again after a failed probe). */
  CircuitOpened: 'CircuitOpened',
  /** Count by `breaker`: a circuit closed again (a probe, or any call, succeeded). */
  CircuitClosed: 'CircuitClosed',
  /** Count by `breaker`: a call not made because the circuit was open (an order held, a mail put back). */
  CallsHeld: 'CallsHeld',
  /**
   * Count, no further dimension: mismatches one reconciled settlement file left (a line for an unknown charge or
   * refund, an amount or status that differs, a charge of the date the file does not cover). Once per file.
   */
  SettlementMismatches: 'SettlementMismatches',
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/**
 * The dimensions of each metric besides `service`: a CloudWatch metric is identified by its exact dimension set, so
 * the writer, the dashboard, the alarms and `buzzer metrics` all use exactly these.
 */
export const METRIC_DIMENSION_KEYS: Record<MetricName, readonly string[]> = {
  OrdersAccepted: [],
  OrdersConfirmed: [],
  OrdersCancelled: [METRIC_DIMENSIONS.reason],
  SagaStepDuration: [METRIC_DIMENSIONS.step],
  RelayPublishFailures: [],
  WebhookDeliveries: [METRIC_DIMENSIONS.outcome],
  ColdStart: [METRIC_DIMENSIONS.functionName],
  StuckOrdersNeedingOperator: [],
  CircuitOpened: [METRIC_DIMENSIONS.breaker],
  CircuitClosed: [METRIC_DIMENSIONS.breaker],
  CallsHeld: [METRIC_DIMENSIONS.breaker],
  SettlementMismatches: [],
};

/** Why an order was cancelled: stored on the order, shown to the client, and the `reason` of `OrdersCancelled`. */
export const CANCEL_REASONS = [
  'OUT_OF_STOCK',
  'UNKNOWN_SKU',
  'PRICE_UNAVAILABLE',
  'ORDER_LIMIT_EXCEEDED',
  'PAYMENT_DECLINED',
  'PAYMENT_UNAVAILABLE',
  'SAGA_FAILED',
] as const;

/** What one webhook delivery message came to (`dispatchDelivery`'s outcome), the `outcome` of `WebhookDeliveries`. */
export const WEBHOOK_DELIVERY_OUTCOMES = [
  /** Received before it was due: sent on another hop. */
  'deferred',
  /** The delivery record is gone (expired); nothing to do. */
  'missing',
  /** A duplicate or superseded message. */
  'stale',
  /** This message came back after scheduling the next attempt; that attempt's message was sent again. */
  'rescheduled',
  'delivered',
  'retry_scheduled',
  /** Out of attempts: FAILED and parked in the DLQ. */
  'gave_up',
  /** The endpoint is DISABLED (now or before this attempt): FAILED, replayed when it is enabled. */
  'endpoint_disabled',
  'endpoint_deleted',
  /** An operator redrove a parked delivery: reopened for a fresh round. */
  'replayed',
  /** The endpoint's circuit is open: not sent, back on the queue for after the cooldown, its attempt not used. */
  'held',
] as const;

/**
 * The metrics whose dimension takes a closed set of values, with that set: the dashboard draws one series per value
 * and `buzzer metrics` counts every value (0 when none), so both read it from here rather than pairing a metric with
 * its value list themselves.
 */
export const METRIC_DIMENSION_VALUES = {
  OrdersCancelled: { key: METRIC_DIMENSIONS.reason, values: CANCEL_REASONS },
  WebhookDeliveries: { key: METRIC_DIMENSIONS.outcome, values: WEBHOOK_DELIVERY_OUTCOMES },
  CircuitOpened: { key: METRIC_DIMENSIONS.breaker, values: BREAKERS },
  CircuitClosed: { key: METRIC_DIMENSIONS.breaker, values: BREAKERS },
  CallsHeld: { key: METRIC_DIMENSIONS.breaker, values: BREAKERS },
} as const satisfies Partial<Record<MetricName, { key: string; values: readonly string[] }>>;

export type EnumeratedMetric = keyof typeof METRIC_DIMENSION_VALUES;

/** A set of dimension names as one comparable string: CloudWatch identifies a metric by the set, not its order. */
export const dimensionSet = (keys: Iterable<string>): string => [...keys].sort().join(',');

/** The dimension set (besides `service`) the contract gives `name`. */
export const contractDimensionSet = (name: MetricName): string => dimensionSet(METRIC_DIMENSION_KEYS[name]);
