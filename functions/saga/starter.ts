import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { OrderEvent } from '#functions/orders/events.ts';
import { orderIdSchema } from '#functions/orders/order.ts';
import { InvalidMessage } from '#shared/errors.ts';

export interface StartSagaDeps {
  sfn: SFNClient;
  stateMachineArn: string;
}

/** The execution name is the dedupe key: one saga per order, however often `OrderPlaced` is delivered. */
export const executionName = (orderId: string): string => `order-${orderId}`;

export async function startSaga(
  deps: StartSagaDeps,
  event: OrderEvent,
): Promise<'started' | 'already-started'> {
  const orderId = orderIdSchema.safeParse(event.detail.orderId);
  if (!orderId.success) throw new InvalidMessage(`orderId ${event.detail.orderId} is not a valid order id`);
  try {
    await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name: executionName(orderId.data),
        input: JSON.stringify({ orderId: orderId.data, correlationId: event.detail.correlationId }),
      }),
    );
    return 'started';
  } catch (error) {
    if (error instanceof Error && error.name === 'ExecutionAlreadyExists') return 'already-started';
    throw error;
  }
}
