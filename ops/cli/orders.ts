/**
 * `buzzer orders`: the latest orders with their saga timeline, of one client (the `ByClient` index, newest first) or,
 * without a client, every order still PENDING (the sparse `Open` index; a table has no cheap "all orders" query).
 */
import type { Command } from 'commander';
import { INDEXES } from '#contracts/table.ts';
import { CLIENT_ID_PATTERN } from '#functions/clients/api-keys.ts';
import { timelineOf } from '#functions/orders/order.ts';
import { getItems, queryItems } from '#shared/dynamodb.ts';
import { queryOpenItemsWhole } from '#shared/open-index.ts';
import { clientPartition, OPEN_ORDER } from '#shared/table-keys.ts';
import { OperatorError, type OpsContext } from './context.ts';
import { table } from './format.ts';
import type { CommandRunner } from './runner.ts';

export interface OrderRow {
  orderId: string;
  clientId: string;
  status: string;
  createdAt: string;
  updatedAt: string;
  amount: number | null;
  currency: string;
  failureReason: string | null;
  hold: { reason: string; until: string } | null;
  timeline: Array<{ step: string; status: string; at: string; detail?: string }>;
}

export interface OrdersOptions {
  /** One client's orders, newest first; without it, the PENDING orders of every client, oldest first. */
  clientId?: string;
  /** @default 20 */
  limit?: number;
}

export interface OrdersResult {
  clientId: string | null;
  orders: OrderRow[];
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** Only what an operator reads in a list: no customer, no payment token. */
function orderRow(item: Record<string, unknown>): OrderRow {
  const hold = item.hold as { reason?: unknown; until?: unknown } | undefined;
  return {
    orderId: String(item.orderId),
    clientId: String(item.clientId),
    status: String(item.status),
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
    amount: typeof item.amount === 'number' ? item.amount : null,
    currency: String(item.currency),
    failureReason: str(item.failureReason) ?? null,
    hold: hold ? { reason: String(hold.reason), until: String(hold.until) } : null,
    timeline: timelineOf(item.timeline),
  };
}

export async function listOrders(ctx: OpsContext, options: OrdersOptions = {}): Promise<OrdersResult> {
  const limit = options.limit ?? 20;
  const deps = { doc: ctx.clients.doc, tableName: ctx.target.tableName };
  if (options.clientId === undefined) {
    const open = await queryOpenItemsWhole(deps, OPEN_ORDER, { limit });
    return { clientId: null, orders: open.map(orderRow) };
  }
  if (!CLIENT_ID_PATTERN.test(options.clientId))
    throw new OperatorError(`"${options.clientId}" is not a client id`);
  const entries = await queryItems(
    deps,
    {
      IndexName: INDEXES.ByClient,
      KeyConditionExpression: 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)',
      ExpressionAttributeValues: { ':pk': clientPartition(options.clientId), ':prefix': 'ORDER#' },
      ScanIndexForward: false,
      Limit: Math.min(100, limit),
    },
    limit,
  );
  // The index holds a few attributes of each order (BY_CLIENT_ATTRIBUTES); the list shows the last step too.
  const items = await getItems(deps, entries.slice(0, limit));
  return { clientId: options.clientId, orders: items.map(orderRow) };
}

function renderOrders(result: OrdersResult): string {
  const heading = result.clientId
    ? `latest orders of client ${result.clientId}`
    : 'orders still PENDING (every client)';
  return `${heading}\n${table(
    ['order', 'client', 'status', 'created', 'last step'],
    result.orders.map((o) => {
      const last = o.timeline.at(-1);
      return [o.orderId, o.clientId, o.status, o.createdAt, last ? `${last.step}:${last.status}` : null];
    }),
  )}`;
}

export function registerOrdersCommand(program: Command, run: CommandRunner): void {
  program
    .command('orders')
    .description("The latest orders of a client with their last saga step, or every client's PENDING orders")
    .option('--client <id>', 'one client’s orders, newest first (default: PENDING orders of every client)')
    .option('-n, --limit <count>', 'orders to show', '20')
    .action((options: { client?: string; limit: string }, command: Command) =>
      run(
        command,
        (ctx) =>
          listOrders(ctx, {
            clientId: options.client,
            limit: Math.max(1, Number.parseInt(options.limit, 10) || 20),
          }),
        renderOrders,
      ),
    );
}
