import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { INDEXES } from '#contracts/table.ts';
import type { TableDeps } from '#shared/dynamodb.ts';

/**
 * The sparse GSI of terminal orders by the UTC day they ended on (contracts/table.ts): the saga's terminal steps write
 * its attributes with the CONFIRMED/CANCELLED transition, the settlement export queries it one day at a time.
 */
export const SETTLED_INDEX = INDEXES.Settled;

/** The index partition of a UTC day (`YYYY-MM-DD`). */
export const settledPartition = (day: string): string => `SETTLED#${day}`;

/** What a terminal transition sets on the order: sorted by the instant it ended, then by id (unique, stable). */
export function settledIndexAttributes(
  orderId: string,
  endedAt: Date,
): { settledPk: string; settledSk: string } {
  const at = endedAt.toISOString();
  return { settledPk: settledPartition(at.slice(0, 10)), settledSk: `${at}#${orderId}` };
}

export interface SettledPage {
  items: Record<string, unknown>[];
  /** Where the next page starts; absent after the last page of the window. */
  next?: Record<string, unknown>;
}

/**
 * One page of the orders that ended on `day` in [from, to). `to` is excluded: a sort key `<to>#<id>` sorts after `to`,
 * so BETWEEN from AND to stops before it.
 */
export async function querySettledPage(
  deps: TableDeps,
  window: { day: string; from: string; to: string },
  limit: number,
  startKey?: Record<string, unknown>,
): Promise<SettledPage> {
  const answer = await deps.doc.send(
    new QueryCommand({
      TableName: deps.tableName,
      IndexName: SETTLED_INDEX,
      KeyConditionExpression: 'settledPk = :pk AND settledSk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': settledPartition(window.day),
        ':from': window.from,
        ':to': window.to,
      },
      Limit: limit,
      ...(startKey ? { ExclusiveStartKey: startKey } : {}),
    }),
  );
  const items = answer.Items ?? [];
  return answer.LastEvaluatedKey ? { items, next: answer.LastEvaluatedKey } : { items };
}
