import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The one logger of every function. Service name and level come from `POWERTOOLS_SERVICE_NAME` and
 * `POWERTOOLS_LOG_LEVEL`, so the stack (not the code) decides how loud a function is.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'buzzer' });

/**
 * A logger for one record of a batch. Records of one batch are processed concurrently and belong to
 * different requests, so their correlation ids cannot live on the shared logger.
 */
export function recordLogger(correlationId: string | undefined, keys: Record<string, string> = {}): Logger {
  return logger.createChild({ persistentKeys: { ...keys, ...(correlationId ? { correlationId } : {}) } });
}
