import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  paginateQuery,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { CorruptRecord } from '#shared/errors.ts';
import type { ItemKey } from '#shared/table-keys.ts';
import type * as z from '#shared/zod.ts';

export interface TableDeps {
  doc: DynamoDBDocumentClient;
  tableName: string;
}

/**
 * The module-level client every function shares (created once per execution environment). No endpoint
 * here: locally the SDK reads `AWS_ENDPOINT_URL_DYNAMODB`.
 */
export const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});

/**
 * A stored item checked against its schema. A mismatch is our data gone wrong, never the caller's input, so it is a
 * `CorruptRecord` (a 500 and an alarm), not a `ZodError` that a handler could mistake for a 400.
 */
export function parseItem<T>(schema: z.ZodType<T>, item: Record<string, unknown>, what: string): T {
  const parsed = schema.safeParse(item);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join('.') || '(item)').join(', ');
    throw new CorruptRecord(`${what} has an unexpected shape (${fields})`);
  }
  return parsed.data;
}

/** A strongly consistent GetItem parsed with `schema`; undefined when there is no such item. */
export async function getItem<T>(
  deps: TableDeps,
  key: ItemKey,
  schema: z.ZodType<T>,
  what: string,
): Promise<T | undefined> {
  const { Item } = await deps.doc.send(
    new GetCommand({ TableName: deps.tableName, Key: key, ConsistentRead: true }),
  );
  return Item ? parseItem(schema, Item, what) : undefined;
}

/**
 * The items of a Query across all its pages (the SDK's paginator), stopping at the first page that brings the count
 * to `limit`. With a FilterExpression the limit counts matching items, not items read.
 */
export async function queryItems(
  deps: TableDeps,
  input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  limit = Number.POSITIVE_INFINITY,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const pages = paginateQuery({ client: deps.doc }, { ...input, TableName: deps.tableName });
  for await (const page of pages) {
    items.push(...(page.Items ?? []));
    if (items.length >= limit) break;
  }
  return items;
}

/** BatchGetItem accepts at most 100 keys per call. */
const BATCH_GET_KEYS = 100;
const BATCH_GET_RETRIES = 5;

/**
 * The items of `keys` in the same order, read with BatchGetItem (eventually consistent); keys without an item are
 * left out. For readers of an index that projects only a few attributes and need whole items.
 */
export async function getItems(
  deps: TableDeps,
  /** Items or index entries: their `pk` and `sk` are the keys read. */
  entries: readonly Record<string, unknown>[],
): Promise<Record<string, unknown>[]> {
  const id = (item: Record<string, unknown>) => `${String(item.pk)}\u0000${String(item.sk)}`;
  const itemKeys = entries.map(({ pk, sk }) => ({ pk, sk }) as ItemKey);
  const found = new Map<string, Record<string, unknown>>();
  for (let start = 0; start < itemKeys.length; start += BATCH_GET_KEYS) {
    let pending: ItemKey[] = itemKeys.slice(start, start + BATCH_GET_KEYS);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > BATCH_GET_RETRIES) throw new Error('BatchGetItem kept returning unprocessed keys');
      if (attempt > 0) await sleep(25 * 2 ** attempt);
      const { Responses, UnprocessedKeys } = await deps.doc.send(
        new BatchGetCommand({ RequestItems: { [deps.tableName]: { Keys: pending } } }),
      );
      for (const item of Responses?.[deps.tableName] ?? []) found.set(id(item), item);
      pending = (UnprocessedKeys?.[deps.tableName]?.Keys ?? []) as ItemKey[];
    }
  }
  return entries.flatMap((entry) => {
    const item = found.get(id(entry));
    return item ? [item] : [];
  });
}

export interface CancellationReason {
  Code?: string;
  Message?: string;
  Item?: Record<string, unknown>;
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException';
}

/**
 * Awaits a conditional write and answers whether its condition held. A failed condition is an answer (another writer
 * got there first, the item is gone, the state moved on), not an error; anything else is thrown.
 */
export async function conditionHeld(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

/**
 * The per-item reasons of a cancelled transaction, in the order of `TransactItems`, or undefined when
 * the error is not a cancellation. Matching on the name (not `instanceof`) keeps working when a bundle
 * holds two copies of the SDK.
 */
export function cancellationReasons(error: unknown): CancellationReason[] | undefined {
  if (errorName(error) !== 'TransactionCanceledException') return undefined;
  const reasons = (error as { CancellationReasons?: unknown }).CancellationReasons;
  return Array.isArray(reasons) ? (reasons as CancellationReason[]) : [];
}

/** Errors with which DynamoDB refuses a request for load or contention, not for anything in the request. */
const BUSY_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TransactionConflictException',
]);
/** The same, as the reason of one item of a cancelled transaction. */
const BUSY_REASONS = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'TransactionConflict']);

/**
 * DynamoDB was too busy (throttled, over a limit, or another transaction held an item) after the SDK's own retries:
 * the same request can succeed moments later, so it is the caller's to retry (503), not our failure (500).
 */
export function isTableBusy(error: unknown): boolean {
  const name = errorName(error);
  if (name !== undefined && BUSY_ERRORS.has(name)) return true;
  return cancellationReasons(error)?.some((reason) => BUSY_REASONS.has(reason.Code ?? '')) ?? false;
}

export function reasonCode(reasons: CancellationReason[], index: number): string | undefined {
  const code = reasons[index]?.Code;
  return code === 'None' ? undefined : code;
}

export function hasReason(reasons: CancellationReason[], code: string): boolean {
  return reasons.some((reason) => reason.Code === code);
}

export const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);
