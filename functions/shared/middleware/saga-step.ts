import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { METRIC_DIMENSIONS, METRICS } from '#contracts/metrics.ts';
import { STEP_ERRORS } from '#contracts/saga.ts';
import { type SagaInput, sagaInputSchema } from '#functions/saga/saga-state.ts';
import { InvalidMessage } from '#shared/errors.ts';
import { logger } from '#shared/logger.ts';
import { metrics } from '#shared/metrics.ts';

/**
 * Errors a step throws to make the state machine wait and ask again (each caught into a Wait or a park), not because
 * it failed: a held payment at ConfirmOrder, a charge that may still land at VoidPayment.
 */
const WAIT_SIGNALS = new Set<string>([STEP_ERRORS.PaymentHeld, STEP_ERRORS.ChargeMayBeInFlight]);

/** A task of the saga's state machine: the `step` dimension of `SagaStepDuration` and the step of the logs. */
export type SagaStepName =
  | 'ReserveStock'
  | 'AuthorizePayment'
  | 'ConfirmOrder'
  | 'VoidPayment'
  | 'ReleaseStock'
  | 'CancelOrder';

/**
 * The middleware of a saga step (a Lambda task of the state machine, `Payload.$: "$"`): validates the state and hands
 * the handler the parsed `SagaInput`, scopes the invocation's logs to the order's correlation id, logs the outcome and
 * writes `SagaStepDuration` for the domain call. Errors pass through untouched: their `name` is what the state
 * machine's Retry and Catch clauses match (contracts/saga.ts).
 */
export function sagaStep<TResult>(step: SagaStepName): MiddlewareObj<SagaInput, TResult, Error, Context> {
  // Keyed by the request: two invocations in one process (the local runtime, tests) never share a clock.
  const startedAt = new WeakMap<object, number>();
  const recordDuration = (request: object): void => {
    const start = startedAt.get(request);
    if (start === undefined) return;
    startedAt.delete(request);
    // A metric of its own: its `step` dimension must not reach the other metrics of the invocation.
    const single = metrics.singleMetric();
    single.addDimension(METRIC_DIMENSIONS.step, step);
    single.addMetric(
      METRICS.SagaStepDuration,
      MetricUnit.Milliseconds,
      Math.round(performance.now() - start),
    );
  };

  return {
    before: (request) => {
      const parsed = sagaInputSchema.safeParse(request.event);
      if (!parsed.success) {
        const problems = parsed.error.issues
          .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
          .join('; ');
        logger.error('invalid saga input', { step, problems });
        throw new InvalidMessage(`invalid saga input for ${step}: ${problems}`);
      }
      request.event = parsed.data;
      logger.appendKeys({ correlationId: parsed.data.correlationId, orderId: parsed.data.orderId, step });
      startedAt.set(request, performance.now());
    },
    after: (request) => {
      recordDuration(request);
      logger.info('saga step finished', { result: request.response });
    },
    onError: (request) => {
      // Invalid input never reached the step: logged above, no duration.
      if (!startedAt.has(request)) return;
      recordDuration(request);
      const error = request.error;
      // A wait is how the state machine is told to come back later, not a failure: no warning per wait in an outage.
      if (error && WAIT_SIGNALS.has(error.name)) logger.info('saga step waits', { reason: error.name });
      else logger.warn('saga step failed', { error });
    },
  };
}
