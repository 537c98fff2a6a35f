import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '#contracts/metrics.ts';
import { logger } from '#shared/logger.ts';

/**
 * Powertools warns on every invocation that records no metric (most API reads), which would be one WARN line per
 * request in CloudWatch Logs; that case is normal here, so it is logged at debug level. Other warnings stay warnings.
 */
const metricsLog = {
  debug: (...args: unknown[]) => logger.debug(String(args[0] ?? '')),
  info: (...args: unknown[]) => logger.info(String(args[0] ?? '')),
  error: (...args: unknown[]) => logger.error(String(args[0] ?? '')),
  warn: (...args: unknown[]) => {
    const message = String(args[0] ?? '');
    if (message.startsWith('No application metrics to publish')) logger.debug(message);
    else logger.warn(message);
  },
};

/**
 * The one metrics writer of every function: EMF lines in the function's log, which CloudWatch turns into metrics
 * (and the local runtime reads back for `buzzer metrics`). Namespace and the `service` dimension are fixed by the
 * contracts, not by the function's Powertools service name, so a dashboard reads one series per metric whichever
 * function emits it. The `logMetrics` middleware (middleware/chain.ts) flushes it after every invocation.
 */
export const metrics = new Metrics({
  namespace: METRICS_NAMESPACE,
  serviceName: METRICS_SERVICE,
  logger: metricsLog,
});
