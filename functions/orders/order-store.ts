import { setTimeout as sleep } from 'node:timers/promises';
import { TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TransactItem } from '#functions/outbox/outbox.ts';
import {
  type CancellationReason,
  cancellationReasons,
  getItem,
  isConditionalCheckFailed,
  type TableDeps,
} from '#shared/dynamodb.ts';
import { ConcurrentModification } from '#shared/errors.ts';
import { keys } from '#shared/table-keys.ts';
import { OrderNotFound } from './errors.ts';
import { type OrderRecord, orderRecordSchema, storedTimelineEntry, type TimelineEntry } from './order.ts';

export async function getOrder(deps: TableDeps, orderId: string): Promise<OrderRecord | undefined> {
  return getItem(deps, keys.order(orderId), orderRecordSchema, `order ${orderId}`);
}

export async function requireOrder(deps: TableDeps, orderId: string): Promise<OrderRecord> {
  const order = await getOrder(deps, orderId);
  if (!order) throw new OrderNotFound(orderId);
  return order;
}

/** One change of an order's state: always a new version, a new `updatedAt` and at least one timeline entry. */
export interface OrderChange {
  /** Fields of the order, and the Settled index's attributes (functions/shared/settled-index.ts), kept off the record. */
  set?: Partial<Record<keyof OrderRecord | 'settledPk' | 'settledSk', unknown>>;
  /** Attributes to drop, e.g. `openPk`/`openSk` when the order reaches a terminal state. */
  remove?: string[];
  timeline: TimelineEntry[];
}

/**
 * The update of an order guarded by its version (optimistic locking): it fails if anyone changed the
 * order since it was read, so a repeated or concurrent step can never apply a change twice.
 */
export function orderUpdate(
  tableName: string,
  order: OrderRecord,
  change: OrderChange,
  now: Date,
): TransactItem {
  const names: Record<string, string> = {
    '#version': 'version',
    '#updatedAt': 'updatedAt',
    '#timeline': 'timeline',
  };
  const values: Record<string, unknown> = {
    ':expected': order.version,
    ':next': order.version + 1,
    ':now': now.toISOString(),
    ':entries': change.timeline.map(storedTimelineEntry),
  };
  const assignments = [
    '#version = :next',
    '#updatedAt = :now',
    '#timeline = list_append(#timeline, :entries)',
  ];
  const fields = Object.entries(change.set ?? {}).filter(([, value]) => value !== undefined);
  for (const [index, [field, value]] of fields.entries()) {
    names[`#s${index}`] = field;
    values[`:s${index}`] = value;
    assignments.push(`#s${index} = :s${index}`);
  }
  const removals = (change.remove ?? []).map((field, index) => {
    names[`#r${index}`] = field;
    return `#r${index}`;
  });
  return {
    Update: {
      TableName: tableName,
      Key: keys.order(order.orderId),
      UpdateExpression: `SET ${assignments.join(', ')}${removals.length > 0 ? ` REMOVE ${removals.join(', ')}` : ''}`,
      ConditionExpression: '#version = :expected',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
}

/** The order as it will be once `change` is committed (for event payloads written in the same transaction). */
export function applyChange(order: OrderRecord, change: OrderChange, now: Date): OrderRecord {
  return orderRecordSchema.parse({
    ...order,
    ...change.set,
    version: order.version + 1,
    updatedAt: now.toISOString(),
    timeline: [...order.timeline, ...change.timeline],
  });
}

/**
 * Writes the items atomically. Returns undefined when committed, or the cancellation reasons (in item
 * order) when a condition failed or another transaction got in the way. A single item is written with
 * a plain UpdateItem, which costs half the capacity of a one-item transaction.
 */
export async function commit(
  deps: TableDeps,
  items: TransactItem[],
): Promise<CancellationReason[] | undefined> {
  const [only] = items;
  try {
    if (items.length === 1 && only?.Update) {
      await deps.doc.send(new UpdateCommand(only.Update));
    } else {
      await deps.doc.send(new TransactWriteCommand({ TransactItems: items }));
    }
    return undefined;
  } catch (error) {
    if (items.length === 1 && isConditionalCheckFailed(error)) return [{ Code: 'ConditionalCheckFailed' }];
    const reasons = cancellationReasons(error);
    if (reasons) return reasons;
    throw error;
  }
}

export const RETRY = Symbol('retry');

const MAX_ATTEMPTS = 5;

/**
 * Runs a read-decide-write step until its write commits or it decides it has nothing to do. `attempt`
 * returns RETRY when its guarded write lost a race; the next attempt re-reads and decides again (a
 * repeat usually finds the work done and returns without writing).
 */
export async function withOptimisticRetry<T>(attempt: () => Promise<T | typeof RETRY>): Promise<T> {
  for (let round = 1; round <= MAX_ATTEMPTS; round++) {
    const result = await attempt();
    if (result !== RETRY) return result;
    // Jitter keeps competing writers (a hot SKU) from colliding again in lockstep.
    await sleep(Math.round(Math.random() * 20 * 2 ** round));
  }
  throw new ConcurrentModification(`gave up after ${MAX_ATTEMPTS} conflicting writes`);
}

/**
 * Reads the order, lets `decide` choose a change (or a result without one), and writes the change under the order's
 * version; a lost race reads again and decides again. Throws OrderNotFound when the order does not exist.
 */
export async function updateOrder<T>(
  deps: TableDeps,
  orderId: string,
  now: Date,
  decide: (order: OrderRecord) => { change: OrderChange; result: T } | { result: T },
): Promise<T> {
  return withOptimisticRetry(async () => {
    const order = await requireOrder(deps, orderId);
    const decision = decide(order);
    if (!('change' in decision)) return decision.result;
    const reasons = await commit(deps, [orderUpdate(deps.tableName, order, decision.change, now)]);
    return reasons ? RETRY : decision.result;
  });
}
