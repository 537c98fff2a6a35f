/** `buzzer saga redrive`: finish sagas that stopped half-way (see functions/operations/recovery.ts for the rules). */
import { DescribeExecutionCommand, type ExecutionListItem } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import {
  DEFAULT_MAX_RECOVERY_ATTEMPTS,
  type RecoveryOutcome,
  recoverOrder,
} from '#functions/operations/recovery.ts';
import { orderIdSchema } from '#functions/orders/order.ts';
import { queryOpenItems } from '#shared/open-index.ts';
import { OPEN_ORDER } from '#shared/table-keys.ts';
import { OperatorError, type OpsContext, recoveryDeps } from './context.ts';
import { executionPages } from './executions.ts';
import { parseTime, table } from './format.ts';
import type { CommandRunner } from './runner.ts';
import { orderIdOfExecution } from './status.ts';

/** An EXPRESS execution lives at most 5 minutes: younger orders may still have a live one. */
const EXPRESS_MAX_DURATION_MS = 5 * 60_000;

export interface SagaRedriveOptions {
  /** Go past the automatic reconciler's attempt limit. */
  force?: boolean;
  dryRun?: boolean;
}

function maxAttempts(options: SagaRedriveOptions): number {
  return options.force ? Number.POSITIVE_INFINITY : DEFAULT_MAX_RECOVERY_ATTEMPTS;
}

async function orderIdOf(ctx: OpsContext, executionArn: string): Promise<string> {
  const execution = await ctx.clients.sfn
    .send(new DescribeExecutionCommand({ executionArn }))
    .catch((error) => {
      throw new OperatorError(
        `cannot describe ${executionArn}: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
  try {
    const input = JSON.parse(execution.input ?? '{}') as { orderId?: unknown };
    if (typeof input.orderId === 'string') return input.orderId;
  } catch {
    // Fall back to the name below.
  }
  const fromName = orderIdOfExecution(execution.name);
  if (!fromName) throw new OperatorError(`${executionArn} is not a saga execution of an order`);
  return fromName;
}

/** Redrives (STANDARD) or restarts (EXPRESS, or failed in a Fail state) one execution's order. */
export async function redriveExecution(
  ctx: OpsContext,
  executionArn: string,
  options: SagaRedriveOptions = {},
): Promise<RecoveryOutcome> {
  const deps = await recoveryDeps(ctx);
  const orderId = await orderIdOf(ctx, executionArn);
  return recoverOrder(deps, orderId, {
    executionArn: deps.workflowType === 'STANDARD' ? executionArn : undefined,
    maxAttempts: maxAttempts(options),
    dryRun: options.dryRun,
  });
}

/**
 * Drives one order on, whatever its saga's state: starts the saga if it never started (its OrderPlaced was lost),
 * redrives or restarts it if it failed, does nothing if it is running or done. What the reconciler does on its
 * schedule, for one order and now.
 */
export async function recoverOne(
  ctx: OpsContext,
  trackingId: string,
  options: SagaRedriveOptions = {},
): Promise<RecoveryOutcome> {
  const orderId = orderIdSchema.safeParse(trackingId);
  if (!orderId.success) throw new OperatorError(`${trackingId} is not a tracking id (UUID)`);
  const deps = await recoveryDeps(ctx);
  return recoverOrder(deps, orderId.data, { maxAttempts: maxAttempts(options), dryRun: options.dryRun });
}

async function failedSince(ctx: OpsContext, since: Date): Promise<ExecutionListItem[]> {
  const found: ExecutionListItem[] = [];
  for (const statusFilter of ['FAILED', 'TIMED_OUT', 'ABORTED'] as const) {
    for await (const executions of executionPages(ctx.clients.sfn, {
      stateMachineArn: ctx.target.stateMachineArn,
      statusFilter,
      maxResults: 100,
    })) {
      found.push(...executions.filter((e) => (e.stopDate ?? e.startDate ?? new Date(0)) >= since));
      // Newest first: once a page starts before the window, later pages are older still.
      if (executions.some((e) => (e.startDate ?? new Date(0)) < since)) break;
    }
  }
  return found;
}

export interface BulkRedriveResult {
  since: string;
  outcomes: RecoveryOutcome[];
}

/**
 * Every order whose saga failed since `since`. STANDARD: the failed executions (newest state per order). EXPRESS:
 * AWS cannot list them, so the orders still PENDING that were created since then (and are older than an EXPRESS
 * execution can live).
 */
export async function redriveFailedSince(
  ctx: OpsContext,
  since: Date,
  options: SagaRedriveOptions = {},
): Promise<BulkRedriveResult> {
  const deps = await recoveryDeps(ctx);
  let orderIds: string[];
  if (deps.workflowType === 'STANDARD') {
    ctx.progress(`listing executions that failed since ${since.toISOString()}`);
    orderIds = (await failedSince(ctx, since))
      .map((e) => orderIdOfExecution(e.name))
      .filter((id): id is string => id !== null);
  } else {
    ctx.progress(`listing orders still PENDING created since ${since.toISOString()}`);
    const items = await queryOpenItems(deps, OPEN_ORDER, {
      createdAfter: since,
      createdBefore: new Date(Date.now() - EXPRESS_MAX_DURATION_MS),
      limit: 10_000,
    });
    orderIds = items.map((item) => String(item.orderId));
  }
  const unique = [...new Set(orderIds)];
  const outcomes: RecoveryOutcome[] = [];
  for (const [index, orderId] of unique.entries()) {
    // The order's current execution, not necessarily the listed one: a restart may already have followed it.
    const outcome = await recoverOrder(deps, orderId, {
      maxAttempts: maxAttempts(options),
      dryRun: options.dryRun,
    });
    outcomes.push(outcome);
    ctx.progress(`[${index + 1}/${unique.length}] order ${orderId}: ${outcome.action}`);
  }
  return { since: since.toISOString(), outcomes };
}

function renderOutcomes(outcomes: RecoveryOutcome[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o.action, (counts.get(o.action) ?? 0) + 1);
  const summary = [...counts].map(([action, n]) => `${n} ${action}`).join(', ') || 'nothing to do';
  return `${summary}${outcomes.some((o) => o.dryRun) ? ' (dry run)' : ''}\n${table(
    ['order', 'action', 'execution', 'why'],
    outcomes.map((o) => [o.orderId, o.action, o.executionArn?.split(':').slice(-1)[0], o.reason]),
  )}`;
}

export function registerSagaCommands(program: Command, run: CommandRunner): void {
  const saga = program.command('saga').description('Finish sagas that stopped half-way');
  saga
    .command('redrive')
    .description(
      'RedriveExecution for STANDARD executions that failed in a task; otherwise (EXPRESS, or ended in a Fail ' +
        'state) restart the order as order-<id>-r<n> — the steps are idempotent',
    )
    .argument('[executionArn]', 'one execution')
    .option(
      '--failed-since <time>',
      'every execution that failed since then (ISO time or duration ago, e.g. 2h)',
    )
    .option(
      '--order <trackingId>',
      'one order, whatever its saga did: started if it never started, redriven or restarted if it failed',
    )
    .option('--force', `go past the limit of ${DEFAULT_MAX_RECOVERY_ATTEMPTS} recoveries per order`)
    .option('--dry-run', 'only say what would be done')
    .addHelpText(
      'after',
      '\nExamples:\n  buzzer saga redrive arn:aws:states:…:execution:…:order-<id>\n  buzzer saga redrive --failed-since 2h --dry-run\n' +
        '  buzzer saga redrive --order <trackingId>\n',
    )
    .action(
      (
        executionArn: string | undefined,
        options: { failedSince?: string; order?: string; force?: boolean; dryRun?: boolean },
        command: Command,
      ) =>
        run(
          command,
          async (ctx): Promise<BulkRedriveResult> => {
            const given = [executionArn, options.failedSince, options.order].filter(Boolean).length;
            if (given !== 1) {
              throw new OperatorError(
                'give one of: an execution ARN, --failed-since <time>, --order <trackingId>',
              );
            }
            if (executionArn) {
              return { since: '', outcomes: [await redriveExecution(ctx, executionArn, options)] };
            }
            if (options.order)
              return { since: '', outcomes: [await recoverOne(ctx, options.order, options)] };
            return redriveFailedSince(ctx, parseTime(options.failedSince ?? ''), options);
          },
          (result) => renderOutcomes(result.outcomes),
        ),
    );
}
