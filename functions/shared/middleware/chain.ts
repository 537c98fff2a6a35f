import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy, { type MiddyfiedHandler } from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger } from '#shared/logger.ts';
import { metrics } from '#shared/metrics.ts';

/**
 * The start of every handler's chain: one log scope per invocation (the Lambda context injected, the previous
 * invocation's keys dropped, since the module outlives it) and the metrics of the invocation flushed at its end, with
 * Powertools' cold-start metric. Each kind of handler (chain.ts's neighbours: http, batch, saga-step) adds its own
 * middlewares on top.
 */
export function lambdaChain<TEvent, TResult>(): MiddyfiedHandler<TEvent, TResult, Error, Context> {
  // No early time-out: a handler that runs out of time ends as Lambda ends it (the error names the saga's Retry and
  // the API's 5xx handling expect), rather than with middy's own TimeoutError a few ms before.
  return middy<TEvent, TResult, Error, Context>({ timeoutEarlyInMillis: 0 })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
}
