import { INDEXES } from '#contracts/table.ts';
import { getItems, queryItems, type TableDeps } from '#shared/dynamodb.ts';

/** The sparse GSI of unfinished items (docs/architecture.md, "Single table"): `openPk`, `openSk` = createdAt. */
export const OPEN_INDEX = INDEXES.Open;

export interface OpenQuery {
  /** Only items created before this instant (their `openSk` is the ISO creation time). */
  createdBefore?: Date;
  /** Only items created at or after this instant. */
  createdAfter?: Date;
  /** Stop after this many items. @default 1000 */
  limit?: number;
  /**
   * Only items that also match this filter (applied after the key condition, so pages are read until `limit`). It is
   * evaluated on the index entries, so it may name only the keys and `OPEN_ATTRIBUTES`.
   */
  filter?: { expression: string; names: Record<string, string>; values: Record<string, unknown> };
  /** Only these attributes of each entry (`ProjectionExpression`). */
  projection?: string;
}

/**
 * Entries of one open partition (`ORDER#PENDING`, `OUTBOX#FAILED`), oldest first: the keys and
 * `OPEN_ATTRIBUTES` only (`queryOpenItemsWhole` reads the whole items). The index is eventually consistent: callers
 * re-read an item with a consistent read before acting on it.
 */
export async function queryOpenItems(
  deps: TableDeps,
  openPk: string,
  query: OpenQuery = {},
): Promise<Record<string, unknown>[]> {
  const limit = query.limit ?? 1000;
  const conditions = ['openPk = :pk'];
  const values: Record<string, unknown> = { ':pk': openPk };
  if (query.createdBefore && query.createdAfter) {
    conditions.push('openSk BETWEEN :after AND :before');
    values[':after'] = query.createdAfter.toISOString();
    values[':before'] = query.createdBefore.toISOString();
  } else if (query.createdBefore) {
    conditions.push('openSk < :before');
    values[':before'] = query.createdBefore.toISOString();
  } else if (query.createdAfter) {
    conditions.push('openSk >= :after');
    values[':after'] = query.createdAfter.toISOString();
  }
  const { filter, projection } = query;
  const items = await queryItems(
    deps,
    {
      IndexName: OPEN_INDEX,
      KeyConditionExpression: conditions.join(' AND '),
      ExpressionAttributeValues: { ...values, ...filter?.values },
      ...(filter ? { FilterExpression: filter.expression, ExpressionAttributeNames: filter.names } : {}),
      ...(projection ? { ProjectionExpression: projection } : {}),
      Limit: Math.min(100, limit),
    },
    limit,
  );
  return items.slice(0, limit);
}

/**
 * The whole items of one open partition, oldest first (operators' views): the index entries, then the items
 * themselves from the table by key. An item that left the table meanwhile is left out.
 */
export async function queryOpenItemsWhole(
  deps: TableDeps,
  openPk: string,
  query: Omit<OpenQuery, 'projection'> = {},
): Promise<Record<string, unknown>[]> {
  return getItems(deps, await queryOpenItems(deps, openPk, query));
}
