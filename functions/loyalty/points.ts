import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { OrderEvent } from '#functions/orders/events.ts';
import { conditionHeld, queryItems, type TableDeps } from '#shared/dynamodb.ts';
import { InvalidMessage } from '#shared/errors.ts';
import { keys, pointsPartition } from '#shared/table-keys.ts';

export const POINTS_CONSUMER = 'points';

export type CreditOutcome = { status: 'credited'; points: number } | { status: 'duplicate' };

/**
 * Credits loyalty points for a confirmed order: the points ReserveStock fixed with the price (pricing.ts: per unit
 * and SKU, the same in every currency). The credit is one ledger line, keyed by the order and never expiring, put only
 * if it is not there: a redelivery (same event) or a re-published fact (same order, new event id) can never credit
 * twice, and the line is also the worker's effect marker. The balance is the sum of the lines (`readPoints`), not an
 * item of its own: kept beside the line it made every credit a transaction of two items (4 write units instead of 1)
 * for a figure nothing reads without the lines.
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
  const credited = await conditionHeld(
    deps.doc.send(
      new PutCommand({
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
          createdAt: now.toISOString(),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    ),
  );
  return credited ? { status: 'credited', points } : { status: 'duplicate' };
}

export interface PointsAccount {
  /** The sum of the ledger lines; undefined until the first credit. */
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
  // A `BALANCE` item written before the balance became the ledger's sum is left alone: its lines say the same.
  const ledger = items
    .filter((item) => String(item.sk).startsWith('LEDGER#'))
    .map((item) => ({ orderId: String(item.orderId), points: Number(item.points) }));
  return {
    balance: ledger.length === 0 ? undefined : ledger.reduce((sum, line) => sum + line.points, 0),
    ledger,
  };
}
