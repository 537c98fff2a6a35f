import { SFNClient } from '@aws-sdk/client-sfn';
import { ENV } from '#contracts/environment.ts';
import { loadConfig, positiveIntFromEnv, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { logger } from '#shared/logger.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { queryOpenItems } from '#shared/open-index.ts';
import { OPEN_ORDER } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';
import { type RecoveryAction, type RecoveryOutcome, recoverOrder } from './recovery.ts';

const config = loadConfig(
  z.object({
    [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
    [ENV.STATE_MACHINE_ARN]: requiredString(ENV.STATE_MACHINE_ARN),
    [ENV.SAGA_WORKFLOW_TYPE]: z.enum(['STANDARD', 'EXPRESS']),
    // Longer than an EXPRESS execution can live (5 min), so a restart never races a live execution.
    [ENV.STUCK_AFTER_SECONDS]: positiveIntFromEnv(ENV.STUCK_AFTER_SECONDS, 600),
    [ENV.RECONCILE_BATCH_SIZE]: positiveIntFromEnv(ENV.RECONCILE_BATCH_SIZE, 100),
    [ENV.RECOVERY_MAX_ATTEMPTS]: positiveIntFromEnv(ENV.RECOVERY_MAX_ATTEMPTS, 3),
  }),
);

const deps = {
  doc: documentClient,
  tableName: config.TABLE_NAME,
  sfn: new SFNClient({}),
  stateMachineArn: config.STATE_MACHINE_ARN,
  workflowType: config.SAGA_WORKFLOW_TYPE,
};

/** Some orders could not be examined; thrown after all others were handled, so the schedule's retry and DLQ see it. */
export class ReconcileIncomplete extends Error {
  override name = 'ReconcileIncomplete';
}

export type ReconcileSummary = { examined: number; errors: number } & Record<RecoveryAction, number>;

/**
 * The stuck-order reconciler, run by an EventBridge Scheduler schedule: every order still PENDING past the deadline
 * (the `Open` index) is driven on idempotently (see functions/operations/recovery.ts). Orders are handled a few at a
 * time so one slow Step Functions call does not hold up the batch.
 */
export const handler = lambdaChain<unknown, ReconcileSummary>().handler(reconcile);

async function reconcile(): Promise<ReconcileSummary> {
  const deadline = new Date(Date.now() - config.STUCK_AFTER_SECONDS * 1000);
  const stuck = await queryOpenItems(deps, OPEN_ORDER, {
    createdBefore: deadline,
    limit: config.RECONCILE_BATCH_SIZE,
  });
  const summary: ReconcileSummary = {
    examined: 0,
    errors: 0,
    none: 0,
    started: 0,
    redriven: 0,
    restarted: 0,
    blocked: 0,
  };
  const orderIds = stuck.map((item) => item.orderId).filter((id): id is string => typeof id === 'string');
  const report = (outcome: RecoveryOutcome): void => {
    summary[outcome.action] += 1;
    const fields = { ...outcome };
    if (outcome.action === 'blocked') logger.error('stuck order needs an operator', fields);
    else if (outcome.action === 'none') logger.debug('order left alone', fields);
    else logger.info('stuck order driven on', fields);
  };
  const workers = Array.from({ length: Math.min(5, orderIds.length) }, async () => {
    for (let orderId = orderIds.shift(); orderId !== undefined; orderId = orderIds.shift()) {
      summary.examined += 1;
      try {
        report(await recoverOrder(deps, orderId, { maxAttempts: config.RECOVERY_MAX_ATTEMPTS }));
      } catch (error) {
        summary.errors += 1;
        logger.error('could not reconcile order', { orderId, error });
      }
    }
  });
  await Promise.all(workers);
  logger.info('reconcile run finished', { ...summary, deadline: deadline.toISOString() });
  if (summary.errors > 0) {
    throw new ReconcileIncomplete(
      `${summary.errors} of ${summary.examined} stuck orders could not be examined`,
    );
  }
  return summary;
}
