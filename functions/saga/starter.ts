import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SAGA_RESUME_MESSAGE } from '#contracts/saga.ts';
import type { OrderEvent } from '#functions/orders/events.ts';
import { orderIdSchema } from '#functions/orders/order.ts';
import { nextLook, probeDue, readBreaker } from '#functions/resilience/circuit-breaker.ts';
import { conditionHeld, type TableDeps } from '#shared/dynamodb.ts';
import { InvalidMessage } from '#shared/errors.ts';
import { MAX_DELAY_SECONDS } from '#shared/requeue.ts';
import { keys } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';

export interface StartSagaDeps {
  sfn: SFNClient;
  stateMachineArn: string;
}

export interface ResumeSagaDeps extends StartSagaDeps {
  /** Where the payment circuit is read. */
  table: TableDeps;
}

/** The execution name is the dedupe key: one saga per order, however often `OrderPlaced` is delivered. */
export const executionName = (orderId: string): string => `order-${orderId}`;

/**
 * What a held EXPRESS saga leaves on the saga-start queue (lib/constructs/saga.ts, `ParkOrder`): the order, and the
 * end of its hold, after which the saga must run whatever the circuit says (it then cancels the order).
 */
export const resumeMessageSchema = z.object({
  kind: z.literal(SAGA_RESUME_MESSAGE),
  orderId: orderIdSchema,
  correlationId: z.string().min(1),
  holdUntil: z.iso.datetime({ offset: true }),
});
export type ResumeMessage = z.infer<typeof resumeMessageSchema>;

/** A resume message, or undefined for anything else (an `OrderPlaced` event); a malformed one is an InvalidMessage. */
export function parseResumeMessage(json: unknown): ResumeMessage | undefined {
  if (
    json === null ||
    typeof json !== 'object' ||
    (json as { kind?: unknown }).kind !== SAGA_RESUME_MESSAGE
  ) {
    return undefined;
  }
  const parsed = resumeMessageSchema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidMessage(
      `invalid ${SAGA_RESUME_MESSAGE} message: ${parsed.error.issues.map((issue) => issue.path.join('.')).join(', ')}`,
    );
  }
  return parsed.data;
}

async function startExecution(
  deps: StartSagaDeps,
  orderId: string,
  correlationId: string,
): Promise<'started' | 'already-started'> {
  try {
    await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name: executionName(orderId),
        input: JSON.stringify({ orderId, correlationId }),
      }),
    );
    return 'started';
  } catch (error) {
    if (error instanceof Error && error.name === 'ExecutionAlreadyExists') return 'already-started';
    throw error;
  }
}

export async function startSaga(
  deps: StartSagaDeps,
  event: OrderEvent,
): Promise<'started' | 'already-started'> {
  const orderId = orderIdSchema.safeParse(event.detail.orderId);
  if (!orderId.success) throw new InvalidMessage(`orderId ${event.detail.orderId} is not a valid order id`);
  return startExecution(deps, orderId.data, event.detail.correlationId);
}

/** How long before a held message looks at the circuit again when the circuit names no time. */
const RECHECK_MS = 5000;

/**
 * One parked order per probe of an open circuit: the first to write the ticket (`HOLD#saga-start#probe`) after the last
 * one ran out goes (its saga makes the probe); the other parked orders look again a moment later, when the probe has
 * usually answered.
 */
async function claimProbeTurn(deps: TableDeps, orderId: string, now: Date): Promise<boolean> {
  return conditionHeld(
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        // Built here, not at module level: the reconciler bundles this module for `executionName` only.
        Key: keys.holdTicket('saga-start', 'probe'),
        UpdateExpression: 'SET entity = :entity, heldBy = :order, heldUntil = :until',
        ConditionExpression: 'attribute_not_exists(pk) OR heldUntil <= :now',
        ExpressionAttributeValues: {
          ':entity': 'HoldTicket',
          ':order': orderId,
          ':until': now.getTime() + RECHECK_MS,
          ':now': now.getTime(),
        },
      }),
    ),
  );
}

const waitFor = (next: number, now: Date) => ({
  waitSeconds: Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil((next - now.getTime()) / 1000))),
});

/**
 * A parked order is back. The saga runs again (an EXPRESS execution under the order's usual name: EXPRESS does not
 * deduplicate names, and the steps are idempotent) once the payment circuit is closed, or once the order's hold is
 * over. While it is open nothing starts: the answer is how long the message must wait on the queue. When the open
 * circuit may be probed, one parked order goes (its saga probes) and the others wait a few seconds more: every parked
 * order starting an execution at every probe would be a burst of executions per interval, for one probe.
 */
export async function resumeSaga(
  deps: ResumeSagaDeps,
  message: ResumeMessage,
  now = new Date(),
): Promise<'started' | 'already-started' | { waitSeconds: number }> {
  const holdEnds = Date.parse(message.holdUntil);
  if (holdEnds > now.getTime()) {
    const circuit = await readBreaker(deps.table, 'payment');
    if (!probeDue(circuit, now)) {
      return waitFor(Math.min(nextLook(circuit, now, RECHECK_MS).getTime(), holdEnds), now);
    }
    if (circuit.state !== 'CLOSED' && !(await claimProbeTurn(deps.table, message.orderId, now))) {
      return waitFor(Math.min(now.getTime() + RECHECK_MS, holdEnds), now);
    }
  }
  return startExecution(deps, message.orderId, message.correlationId);
}
