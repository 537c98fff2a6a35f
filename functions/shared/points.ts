import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { wholeUnits } from './currency.ts';
import { cancellationReasons, epochSeconds, reasonCode, type TableDeps } from './dynamodb.ts';
import { EFFECT_RETENTION_SECONDS } from './effects.ts';
import { InvalidMessage } from './errors.ts';
import type { OrderEvent } from './events.ts';
import { keys } from './keys.ts';

export const POINTS_CONSUMER = 'points';

export type CreditOutcome = { status: 'credited'; points: number } | { status: 'duplicate' };

/**
 * Credits loyalty points for a confirmed order: 1 point per whole currency unit. Effect marker, ledger
 * line and balance change commit together, so a redelivery (same event) or a re-published fact (same
 * order, new event id) can never credit twice.
 */
export async function creditPoints(
  deps: TableDeps,
  event: OrderEvent,
  now = new Date(),
): Promise<CreditOutcome> {
  const { order, detail } = event;
  if (order.amount === undefined)
    throw new InvalidMessage(`OrderConfirmed ${detail.messageId} has no amount`);
  const points = wholeUnits(order.amount, order.currency);
  const customerId = order.customer.id;
  const at = now.toISOString();
  try {
    await deps.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: deps.tableName,
              Item: {
                ...keys.effect(POINTS_CONSUMER, detail.messageId),
                entity: 'Effect',
                consumer: POINTS_CONSUMER,
                eventId: detail.messageId,
                status: 'DONE',
                at,
                expiresAt: epochSeconds(now) + EFFECT_RETENTION_SECONDS,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Put: {
              TableName: deps.tableName,
              Item: {
                ...keys.pointsLedger(customerId, order.orderId),
                entity: 'Points',
                customerId,
                orderId: order.orderId,
                points,
                amount: order.amount,
                currency: order.currency,
                messageId: detail.messageId,
                createdAt: at,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Update: {
              TableName: deps.tableName,
              Key: keys.pointsBalance(customerId),
              UpdateExpression:
                'ADD balance :points SET entity = :entity, customerId = :customerId, updatedAt = :now',
              ExpressionAttributeValues: {
                ':points': points,
                ':entity': 'Points',
                ':customerId': customerId,
                ':now': at,
              },
            },
          },
        ],
      }),
    );
    return { status: 'credited', points };
  } catch (error) {
    const reasons = cancellationReasons(error);
    if (
      reasons &&
      (reasonCode(reasons, 0) === 'ConditionalCheckFailed' ||
        reasonCode(reasons, 1) === 'ConditionalCheckFailed')
    ) {
      return { status: 'duplicate' };
    }
    throw error;
  }
}
