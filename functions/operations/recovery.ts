/**
 * Driving a stuck order on: the one decision the stuck-order reconciler and `buzzer saga redrive` share.
 *
 * An order is stuck when it stays PENDING: its saga never started (a lost `OrderPlaced`), or its execution ended
 * without finishing it (FAILED, TIMED_OUT, ABORTED). The way on depends on what is known:
 *
 * - never started → start it under its usual name `order-<id>` (ExecutionAlreadyExists means someone else did);
 * - STANDARD, ended in a Task (a redrivable failure) → RedriveExecution continues at the failed step;
 * - EXPRESS (no redrive, no DescribeExecution on AWS), or an execution that ended in a `Fail` state (a redrive
 *   would only re-enter that `Fail` state) → restart: a new execution `order-<id>-r<n>` from the top. The steps are
 *   idempotent (the reservation and the charge are keyed by the order), so the restart converges from the order's
 *   recorded state. Once a compensation has begun (`compensatingAt`, or a voided payment or released stock on an
 *   older order) every forward step refuses the order with a verdict (`refuseIfCompensating`), so the restart goes
 *   straight to the compensations, which are idempotent, and finishes them: an EXPRESS execution AWS lost halfway
 *   through its compensations is finished the same way as one lost in its forward steps.
 *
 * Every redrive or restart is counted on the order's recovery item (`ORDER#<id>` / `RECOVERY`); after
 * `maxAttempts` the automatic reconciler leaves the order to an operator instead of looping forever.
 */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  RedriveExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { OrderRecord } from '#functions/orders/order.ts';
import { getOrder } from '#functions/orders/order-store.ts';
import { executionName } from '#functions/saga/starter.ts';
import type { TableDeps } from '#shared/dynamodb.ts';

export type WorkflowType = 'STANDARD' | 'EXPRESS';

export interface RecoveryDeps extends TableDeps {
  sfn: SFNClient;
  stateMachineArn: string;
  workflowType: WorkflowType;
}

export interface RecoveryOptions {
  /** The execution to recover (the CLI names one); by default the order's latest execution. */
  executionArn?: string;
  /** Redrives and restarts allowed per order. @default 3 */
  maxAttempts?: number;
  /** Decide and report, change nothing. */
  dryRun?: boolean;
  now?: Date;
}

export type RecoveryAction = 'none' | 'started' | 'redriven' | 'restarted' | 'blocked';

export interface RecoveryOutcome {
  orderId: string;
  action: RecoveryAction;
  /** Why this action (or none) was chosen, for logs and the CLI. */
  reason: string;
  /** The execution started, redriven or restarted. */
  executionArn?: string;
  /** The recovery attempt this action counted as. */
  attempt?: number;
  dryRun?: boolean;
}

export const DEFAULT_MAX_RECOVERY_ATTEMPTS = 3;

export const recoveryKey = (orderId: string) => ({ pk: `ORDER#${orderId}`, sk: 'RECOVERY' });

/** The name of the n-th restart of an order's saga. */
export const restartName = (orderId: string, attempt: number): string =>
  `${executionName(orderId)}-r${attempt}`;

/** A STANDARD execution's ARN from its state machine's ARN and its name (the format AWS and the runtime use). */
export function executionArnFor(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

export class RecoveryError extends Error {
  override name = 'RecoveryError';
}

export interface RecoveryRecord {
  attempts: number;
  executions: string[];
  lastAction?: string;
  lastReason?: string;
  updatedAt?: string;
}

export async function getRecoveryRecord(deps: TableDeps, orderId: string): Promise<RecoveryRecord> {
  const { Item } = await deps.doc.send(
    new GetCommand({ TableName: deps.tableName, Key: recoveryKey(orderId), ConsistentRead: true }),
  );
  return {
    attempts: typeof Item?.attempts === 'number' ? Item.attempts : 0,
    executions: Array.isArray(Item?.executions) ? Item.executions.map(String) : [],
    lastAction: typeof Item?.lastAction === 'string' ? Item.lastAction : undefined,
    lastReason: typeof Item?.lastReason === 'string' ? Item.lastReason : undefined,
    updatedAt: typeof Item?.updatedAt === 'string' ? Item.updatedAt : undefined,
  };
}

const isNamed = (error: unknown, name: string): boolean => error instanceof Error && error.name === name;

async function describe(
  deps: RecoveryDeps,
  executionArn: string,
): Promise<DescribeExecutionCommandOutput | undefined> {
  try {
    return await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    if (isNamed(error, 'ExecutionDoesNotExist')) return undefined;
    throw error;
  }
}

/** True when the execution's last state was a `Fail` state: a redrive would re-enter it and fail again. */
async function endedInFailState(deps: RecoveryDeps, executionArn: string): Promise<boolean> {
  const { events } = await deps.sfn.send(
    new GetExecutionHistoryCommand({
      executionArn,
      reverseOrder: true,
      maxResults: 10,
      includeExecutionData: false,
    }),
  );
  const lastEntered = (events ?? []).find((event) => event.type?.endsWith('StateEntered'));
  return lastEntered?.type === 'FailStateEntered';
}

/** Which compensation already committed on the order, if any: then a restart only finishes the compensations. */
function compensationStarted(order: OrderRecord): string | undefined {
  if (order.compensatingAt) return `its compensation began at ${order.compensatingAt}`;
  if (order.paymentVoidedAt) return `the payment was voided at ${order.paymentVoidedAt}`;
  if (order.stockReleasedAt) return `the stock was released at ${order.stockReleasedAt}`;
  return undefined;
}

/** Counts one recovery action on the order; returns the attempt number it got. */
async function claimAttempt(
  deps: RecoveryDeps,
  orderId: string,
  action: RecoveryAction,
  reason: string,
  now: Date,
): Promise<number> {
  const { Attributes } = await deps.doc.send(
    new UpdateCommand({
      TableName: deps.tableName,
      Key: recoveryKey(orderId),
      UpdateExpression:
        'ADD attempts :one SET entity = :entity, orderId = :orderId, lastAction = :action, lastReason = :reason, ' +
        'updatedAt = :now, executions = if_not_exists(executions, :none)',
      ExpressionAttributeValues: {
        ':one': 1,
        ':entity': 'Recovery',
        ':orderId': orderId,
        ':action': action,
        ':reason': reason,
        ':now': now.toISOString(),
        ':none': [],
      },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  return Number(Attributes?.attempts ?? 1);
}

async function rememberExecution(deps: RecoveryDeps, orderId: string, executionArn: string): Promise<void> {
  await deps.doc.send(
    new UpdateCommand({
      TableName: deps.tableName,
      Key: recoveryKey(orderId),
      UpdateExpression: 'SET executions = list_append(if_not_exists(executions, :none), :arn)',
      ExpressionAttributeValues: { ':none': [], ':arn': [executionArn] },
    }),
  );
}

const sagaInput = (order: OrderRecord): string =>
  JSON.stringify({ orderId: order.orderId, correlationId: order.correlationId });

/**
 * Looks at one order and drives it on if it is stuck (see the module comment). Safe to run at any time and any
 * number of times: an order that is finished or whose saga is running is left alone.
 */
export async function recoverOrder(
  deps: RecoveryDeps,
  orderId: string,
  options: RecoveryOptions = {},
): Promise<RecoveryOutcome> {
  const now = options.now ?? new Date();
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_RECOVERY_ATTEMPTS;
  const order = await getOrder(deps, orderId);
  if (!order) return { orderId, action: 'none', reason: 'no such order' };
  if (order.status !== 'PENDING') return { orderId, action: 'none', reason: `the order is ${order.status}` };
  // A held order waits for the payment provider on purpose: its saga comes back to it. Once the hold is over it is
  // stuck like any other order.
  const held =
    order.hold && Date.parse(order.hold.until) > now.getTime()
      ? `held until ${order.hold.until}: ${order.hold.reason}`
      : undefined;
  // EXPRESS parks a held order on the saga-start queue, whose message brings it back (durable, like the hold).
  if (held && deps.workflowType === 'EXPRESS') return { orderId, action: 'none', reason: held };
  const recovery = await getRecoveryRecord(deps, orderId);
  // Restarts and redrives draw on one budget per order: past it, every way of recovering is blocked alike.
  const outOfAttempts = (why: string): RecoveryOutcome | undefined =>
    recovery.attempts >= maxAttempts
      ? {
          orderId,
          action: 'blocked',
          reason: `${why}, but ${recovery.attempts} recoveries already ran (limit ${maxAttempts})`,
        }
      : undefined;

  const restart = async (cause: string): Promise<RecoveryOutcome> => {
    const compensated = compensationStarted(order);
    const why = compensated
      ? `${cause}; ${compensated}, so the forward steps refuse the order and the restart finishes the compensations`
      : cause;
    const exhausted = outOfAttempts(why);
    if (exhausted) return exhausted;
    if (options.dryRun) {
      const attempt = recovery.attempts + 1;
      return { orderId, action: 'restarted', reason: why, attempt, dryRun: true };
    }
    const attempt = await claimAttempt(deps, orderId, 'restarted', why, now);
    const { executionArn } = await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name: restartName(orderId, attempt),
        input: sagaInput(order),
      }),
    );
    if (!executionArn)
      throw new RecoveryError(`StartExecution returned no executionArn for order ${orderId}`);
    await rememberExecution(deps, orderId, executionArn);
    return { orderId, action: 'restarted', reason: why, executionArn, attempt };
  };

  // AWS offers neither DescribeExecution nor redrive for EXPRESS: the order's own state is all there is.
  if (deps.workflowType === 'EXPRESS') {
    return restart('EXPRESS saga left the order PENDING');
  }

  const originalArn = executionArnFor(deps.stateMachineArn, executionName(orderId));
  const currentArn = options.executionArn ?? recovery.executions.at(-1) ?? originalArn;
  const execution = await describe(deps, currentArn);
  if (!execution) {
    if (currentArn !== originalArn) {
      throw new RecoveryError(`execution ${currentArn} does not exist`);
    }
    const reason = 'the saga never started';
    if (options.dryRun) return { orderId, action: 'started', reason, dryRun: true };
    try {
      const started = await deps.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: deps.stateMachineArn,
          name: executionName(orderId),
          input: sagaInput(order),
        }),
      );
      return { orderId, action: 'started', reason, executionArn: started.executionArn };
    } catch (error) {
      if (isNamed(error, 'ExecutionAlreadyExists')) {
        return { orderId, action: 'none', reason: 'the saga started meanwhile' };
      }
      throw error;
    }
  }

  const status = execution.status ?? 'UNKNOWN';
  if (status === 'RUNNING' || status === 'PENDING_REDRIVE') {
    return { orderId, action: 'none', reason: held ?? `execution ${execution.name} is ${status}` };
  }
  // STANDARD holds an order in its execution's Wait loop: a held order whose execution ended (stopped, or killed with
  // the local runtime) has nothing left to come back to it, so it is stuck now, not when the hold ends.
  if (status === 'SUCCEEDED') {
    const again = await getOrder(deps, orderId);
    if (again && again.status !== 'PENDING')
      return { orderId, action: 'none', reason: `the order is ${again.status}` };
    return {
      orderId,
      action: 'blocked',
      reason: `execution ${execution.name} SUCCEEDED but the order is still PENDING; inspect it with buzzer order`,
    };
  }

  const ended = `execution ${execution.name} ${status}${execution.error ? ` (${execution.error})` : ''}`;
  const inFailState = await endedInFailState(deps, currentArn);
  if (execution.redriveStatus === 'REDRIVABLE' && !inFailState) {
    const exhausted = outOfAttempts(ended);
    if (exhausted) return exhausted;
    if (options.dryRun) {
      return { orderId, action: 'redriven', reason: ended, executionArn: currentArn, dryRun: true };
    }
    const attempt = await claimAttempt(deps, orderId, 'redriven', ended, now);
    await deps.sfn.send(
      new RedriveExecutionCommand({ executionArn: currentArn, clientToken: `${orderId}-${attempt}` }),
    );
    return { orderId, action: 'redriven', reason: ended, executionArn: currentArn, attempt };
  }
  return restart(
    inFailState
      ? `${ended} in a Fail state (a redrive would fail again)`
      : `${ended} and cannot be redriven (${execution.redriveStatusReason ?? execution.redriveStatus ?? 'unknown'})`,
  );
}
