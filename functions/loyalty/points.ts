import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { OrderEvent } from '#functions/orders/events.ts';
import { cancellationReasons, queryItems, reasonCode, type TableDeps } from '#shared/dynamodb.ts';
import { InvalidMessage } from '#shared/errors.ts';
import { keys, pointsPartition } from '#shared/table-keys.ts';

export const POINTS_CONSUMER = 'points';

export type CreditOutcome = { status: 'credited'; points: number } | { status: 'duplicate' };

/**
 * Credits loyalty points for a confirmed order: the points ReserveStock fixed with the price (pricing.ts: per unit
 * and SKU, the same in every currency). Ledger line and balance change commit together, and the ledger line is
 * keyed by the order and never expires, so a redelivery (same event) or a re-published fact (same order, new event
 * id) can never credit twice. It is also the points worker's effect marker: a separate one (`EFFECT#points#…`, 2 WRU
 * an order in the transaction) would only repeat what the ledger line already guards.
 */
export async function creditPoints(
  deps: TableDeps,
  event: OrderEvent,
  now = new Date(),
): Promise<CreditOutcome> {
  const { order, detail } = event;
  if (order.amount === undefined)
    throw new InvalidMessage(`OrderConfirmed ${detail.messageId} has no amount`);
  // An order confirmed without points was priced before points were fixed at reservation: an operator decides.
  if (order.points === undefined)
    throw new InvalidMessage(`OrderConfirmed ${detail.messageId} has no points`);
  const { points } = order;
  const customerId = order.customer.id;
  const { clientId } = detail;
  const at = now.toISOString();
  try {
    await deps.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: deps.tableName,
              Item: {
                ...keys.pointsLedger(clientId, customerId, order.orderId),
                entity: 'Points',
                clientId,
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
              Key: keys.pointsBalance(clientId, customerId),
              UpdateExpression:
                'ADD balance :points SET entity = :entity, clientId = :clientId, customerId = :customerId, updatedAt = :now',
              ExpressionAttributeValues: {
                ':points': points,
                ':entity': 'Points',
                ':clientId': clientId,
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
    if (reasons && reasonCode(reasons, 0) === 'ConditionalCheckFailed') {
      return { status: 'duplicate' };
    }
    throw error;
  }
}

export interface PointsAccount {
  /** Undefined until the first credit. */
  balance: number | undefined;
  /** One line per credited order. */
  ledger: Array<{ orderId: string; points: number }>;
}

/** A customer's balance and ledger lines (operators, the chaos ledger check and tests read them this way). */
export async function readPoints(
  deps: TableDeps,
  clientId: string,
  customerId: string,
): Promise<PointsAccount> {
  const items = await queryItems(deps, {
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': pointsPartition(clientId, customerId) },
    ConsistentRead: true,
  });
  const balance = items.find((item) => item.sk === 'BALANCE');
  return {
    balance: balance === undefined ? undefined : Number(balance.balance),
    ledger: items
      .filter((item) => String(item.sk).startsWith('LEDGER#'))
      .map((item) => ({ orderId: String(item.orderId), points: Number(item.points) })),
  };
}
