import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

/**
 * The one logger of every function. Service name and level come from `POWERTOOLS_SERVICE_NAME` and
 * `POWERTOOLS_LOG_LEVEL`, so the stack (not the code) decides how loud a function is.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'buzzer' });

/**
 * Starts the log scope of one invocation: drops the keys of the previous invocation (the module
 * outlives it), injects the Lambda context and, when known, the correlation id.
 *
 * @deprecated The chain does this (functions/shared/middleware/chain.ts: `injectLambdaContext` with `resetKeys`);
 * kept only until the HTTP handlers, which still call it on this branch, are on the chain. Delete it then.
 */
export function beginInvocation(context: Context | undefined, correlationId?: string): void {
  logger.resetKeys();
  if (context) logger.addContext(context);
  if (correlationId) logger.appendKeys({ correlationId });
}

/**
 * A logger for one record of a batch. Records of one batch are processed concurrently and belong to
 * different requests, so their correlation ids cannot live on the shared logger.
 */
export function recordLogger(correlationId: string | undefined, keys: Record<string, string> = {}): Logger {
  return logger.createChild({ persistentKeys: { ...keys, ...(correlationId ? { correlationId } : {}) } });
}
