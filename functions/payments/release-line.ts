/**
 * The line of orders held during a payment outage. When the provider's circuit closes, the held orders come back at
 * about the same time; without a line they would race, and the provider, just back, would get all of them at once.
 * With it they resume in arrival order, about `releasePerSecond` a second: a held order goes only when fewer than
 * `releasePerSecond` orders that arrived before it are still held; otherwise it waits a second for each such group
 * ahead of it and looks again.
 *
 * The line is not an item of its own: it is the open orders (`ORDER#PENDING` in the open index, oldest first) whose
 * hold is still running. An order leaves it when its charge is recorded (the hold is removed with it) or when it is
 * cancelled, so nothing has to be cleaned up, and an order whose hold ran out stops counting at once. The index is
 * eventually consistent: an order that just left may be counted a moment longer, which only makes the line slower.
 */
import type { TableDeps } from '#shared/dynamodb.ts';
import { queryOpenItems } from '#shared/open-index.ts';
import { OPEN_ORDER } from '#shared/table-keys.ts';

export interface ReleaseLineDeps extends TableDeps {
  /** How many held orders may go to the provider per second once its circuit has closed. */
  releasePerSecond: number;
}

/** The longest single wait in line before an order looks again (it is also how far down the line is read). */
export const MAX_LINE_WAIT_SECONDS = 10;

/** The ids of the orders still held, oldest first, at most `limit` of them. */
async function heldOrders(deps: TableDeps, now: Date, limit: number): Promise<string[]> {
  const items = await queryOpenItems(deps, OPEN_ORDER, {
    limit,
    filter: {
      expression: 'attribute_exists(#hold) AND #hold.#until > :now',
      names: { '#hold': 'hold', '#until': 'until' },
      values: { ':now': now.toISOString() },
    },
    projection: 'orderId',
  });
  return items.map((item) => String(item.orderId));
}

/** How many seconds the held order `orderId` must still wait for the orders ahead of it in line; 0: its turn. */
export async function secondsInLine(deps: ReleaseLineDeps, orderId: string, now: Date): Promise<number> {
  const perSecond = deps.releasePerSecond;
  const readUpTo = perSecond * (MAX_LINE_WAIT_SECONDS + 1);
  const line = await heldOrders(deps, now, readUpTo);
  const found = line.indexOf(orderId);
  // Not found: behind everyone read (the index has not caught up with it yet, or the line is longer than was read).
  const ahead = found === -1 ? line.length : found;
  return Math.min(MAX_LINE_WAIT_SECONDS, Math.floor(ahead / perSecond));
}
