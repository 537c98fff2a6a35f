import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '#contracts/metrics.ts';

/**
 * The one metrics writer of every function: EMF lines in the function's log, which CloudWatch turns into metrics
 * (and the local runtime reads back for `buzzer metrics`). Namespace and the `service` dimension are fixed by the
 * contracts, not by the function's Powertools service name, so a dashboard reads one series per metric whichever
 * function emits it. The `logMetrics` middleware (chain.ts) flushes it after every invocation.
 */
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
