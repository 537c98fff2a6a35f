import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SAGA_RESUME_MESSAGE } from '#contracts/saga.ts';
import type { OrderEvent } from '#functions/orders/events.ts';
import { orderIdSchema } from '#functions/orders/order.ts';
import { secondsInLine } from '#functions/payments/release-line.ts';
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
  /** Where the payment circuit and the line of held orders are read. */
  table: TableDeps;
  /** How many held orders may go to the provider per second once its circuit has closed (`release-line.ts`). */
  releasePerSecond: number;
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
 * A parked order is back: how long its message must wait on the queue again, or undefined when its saga runs now.
 * It runs once the payment circuit is closed and its turn in the line of held orders has come, or once the order's
 * hold is over. While it is open nothing starts. When the open circuit may be probed, one parked order goes (its saga
 * probes) and the others wait a few seconds more: every parked order starting an execution at every probe would be a
 * burst of executions per interval, for one probe.
 *
 * The line (release-line.ts) is asked here, not only in AuthorizePayment. Asked only there, a parked order would run
 * an execution to be held and parked again, and every held order would do so each time a flapping circuit closed (a
 * chaos run: 2,000 such executions for 250 held orders). And the wait adds the order's place in the line: once the
 * circuit closes, `releasePerSecond` held orders go a second, so a copy comes back when its turn may come, not with
 * every other copy at the circuit's next look (250 copies every 3 s kept a chaos run's starter minutes behind).
 */
export async function parkedWait(
  deps: ResumeSagaDeps,
  message: ResumeMessage,
  now = new Date(),
): Promise<{ waitSeconds: number } | undefined> {
  const holdEnds = Date.parse(message.holdUntil);
  if (holdEnds <= now.getTime()) return undefined;
  const circuit = await readBreaker(deps.table, 'payment');
  const line = { ...deps.table, releasePerSecond: deps.releasePerSecond };
  const inLineMs = (await secondsInLine(line, message.orderId, now)) * 1000;
  const after = (ms: number) => waitFor(Math.min(ms + inLineMs, holdEnds), now);
  if (!probeDue(circuit, now)) return after(nextLook(circuit, now, RECHECK_MS).getTime());
  if (circuit.state !== 'CLOSED') {
    const probes = await claimProbeTurn(deps.table, message.orderId, now);
    return probes ? undefined : after(now.getTime() + RECHECK_MS);
  }
  return inLineMs > 0 ? after(now.getTime()) : undefined;
}

/**
 * Runs a parked order's saga again: an EXPRESS execution under the order's usual name (EXPRESS does not deduplicate
 * names, and the steps are idempotent).
 */
export function resumeSaga(
  deps: ResumeSagaDeps,
  message: ResumeMessage,
): Promise<'started' | 'already-started'> {
  return startExecution(deps, message.orderId, message.correlationId);
}
