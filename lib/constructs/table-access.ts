/**
 * Which items of the single table each function may touch, and how: one entry per handler (its `entry` under
 * `functions/`), so a function's DynamoDB permissions are reviewed here in one place and nowhere else.
 *
 * Items are told apart by the prefix of their partition key (functions/shared/table-keys.ts), and IAM can check exactly
 * that: the `dynamodb:LeadingKeys` condition key holds the partition key values a request touches, with
 * `ForAllValues` required, so every key of a request must match (AWS, "Using IAM policy conditions for fine-grained
 * access control": https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html).
 * - BatchGetItem: LeadingKeys is multivalued and ForAllValues requires every value to match, so every requested key
 *   must fall under the grant; each batch here holds keys of one prefix (stock, outbox), so whether IAM checks them
 *   as one set or one by one, the grant they need is the same.
 * - TransactWriteItems has no permission of its own: each Put/Update/Delete/ConditionCheck in it is authorised as
 *   PutItem/UpdateItem/DeleteItem/ConditionCheckItem on its own key ("Using IAM with DynamoDB transactions":
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
 * - Query on a global secondary index (resource `table/<name>/index/<index>`): the leading key is the index's own
 *   partition key value (`openPk` on the Open index), not the table's. The docs define the key as the partition key
 *   and apply it to an index resource (example 5 of the page above); that it is the index's partition key on a GSI
 *   was tried against DynamoDB in https://matt.martz.codes/lock-down-dynamodb-with-iam-policy-conditions.
 * - Scan has no leading key, and `ForAllValues` over an empty set is true: a LeadingKeys condition does not limit a
 *   Scan at all, so no entry here may allow one (ItemAction leaves it out).
 * A prefix scopes a whole partition, not a sort key: a grant on `CLIENT#` reaches every item in a client's partition.
 *
 * test/infra/table-access.test.ts checks the synthesized statements against this table, and this table against the
 * handlers' code (which key builders and DynamoDB commands each bundle can reach).
 */

import { Data } from './data.ts';

/** Item-level actions a LeadingKeys condition can scope. */
export const ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:BatchWriteItem',
] as const;
export type ItemAction = (typeof ITEM_ACTIONS)[number];

export interface ItemGrant {
  /** Partition key prefixes, each ending in `#` (e.g. `ORDER#`): the grant covers every key that starts with one. */
  readonly prefixes: readonly string[];
  readonly actions: readonly ItemAction[];
}

export interface IndexGrant {
  /** The index name (lib/constructs/data.ts). */
  readonly index: string;
  /** The exact index partition key values the function may query (e.g. `ORDER#PENDING` on the Open index). */
  readonly partitions?: readonly string[];
  /**
   * Index partition key prefixes, each ending in `#`, for an index partitioned by a value (`SETTLED#<day>` on the
   * Settled index): the function may query every partition that starts with one.
   */
  readonly partitionPrefixes?: readonly string[];
}

export interface TableAccess {
  readonly items: readonly ItemGrant[];
  readonly indexes?: readonly IndexGrant[];
}

const GET = 'dynamodb:GetItem';
const BATCH_GET = 'dynamodb:BatchGetItem';
const QUERY = 'dynamodb:Query';
const PUT = 'dynamodb:PutItem';
const UPDATE = 'dynamodb:UpdateItem';
const DELETE = 'dynamodb:DeleteItem';

/** The saga steps read the order (and its recovery item, same partition) and change it. */
const ORDER_READ_WRITE: ItemGrant = { prefixes: ['ORDER#'], actions: [GET, UPDATE] };

/** A provider's circuit breaker (`BREAKER#<name>`): read it, claim the probe, count failures, open and close it. */
const CIRCUIT: ItemGrant = { prefixes: ['BREAKER#'], actions: [GET, UPDATE] };

/** Every client route draws from its client's rate-limit bucket (`RATE#<clientId>`, functions/shared/middleware/rate-limit.ts). */
const RATE_BUCKET: ItemGrant = { prefixes: ['RATE#'], actions: [UPDATE] };

export const TABLE_ACCESS: Readonly<Record<string, TableAccess>> = {
  // --- client API ------------------------------------------------------------------------------------------------
  // The authorizer looks a key up by its hash, then its client's own limits, and can read nothing else: no order, no
  // webhook secret.
  'clients/authorizer.ts': { items: [{ prefixes: ['APIKEY#', 'LIMITS#'], actions: [GET] }] },
  'orders/accept-order.ts': {
    items: [
      RATE_BUCKET,
      // Order, its OrderPlaced outbox message and the idempotency record, in one transaction.
      { prefixes: ['ORDER#', 'OUTBOX#', 'IDEMPOTENCY#'], actions: [PUT] },
      // A retried request reads the record its first attempt wrote; `Prefer: wait` re-reads the order it waits for.
      { prefixes: ['IDEMPOTENCY#', 'ORDER#'], actions: [GET] },
      // Prices: the catalogue is read, never written, at acceptance.
      { prefixes: ['STOCK#'], actions: [BATCH_GET] },
    ],
  },
  // The synchronous POST /orders (`-c orderFlow=sync`): accept-order's items, and what the saga steps and the notify
  // worker do to them, within the request.
  'orders/place-order-sync.ts': {
    items: [
      RATE_BUCKET,
      // The order, its terminal outbox message (OrderConfirmed / OrderCancelled) and the idempotency record.
      { prefixes: ['ORDER#', 'OUTBOX#', 'IDEMPOTENCY#'], actions: [PUT] },
      // A retried request reads the record its first attempt wrote, and the order it created.
      { prefixes: ['IDEMPOTENCY#', 'ORDER#'], actions: [GET] },
      // Prices read, then the stock reserved (and released again when the payment fails).
      { prefixes: ['STOCK#'], actions: [BATCH_GET, UPDATE] },
      // The payment circuit (`BREAKER#payment`) and the mail circuit (`BREAKER#mail`).
      CIRCUIT,
      // The mail's effect marker (claim, complete, release), as the notify worker's.
      { prefixes: ['EFFECT#'], actions: [PUT, GET, UPDATE, DELETE] },
    ],
  },
  'orders/get-order.ts': { items: [RATE_BUCKET, { prefixes: ['ORDER#'], actions: [GET] }] },
  // Webhook endpoints live in the client's partition (`CLIENT#<id>` / `WEBHOOK#<id>`), next to its webhook count.
  'webhooks/create-webhook.ts': {
    items: [RATE_BUCKET, { prefixes: ['CLIENT#'], actions: [QUERY, PUT, UPDATE] }],
  },
  'webhooks/list-webhooks.ts': { items: [RATE_BUCKET, { prefixes: ['CLIENT#'], actions: [QUERY] }] },
  'webhooks/delete-webhook.ts': {
    items: [RATE_BUCKET, { prefixes: ['CLIENT#'], actions: [DELETE, UPDATE] }],
  },
  'webhooks/rotate-webhook-secret.ts': {
    items: [RATE_BUCKET, { prefixes: ['CLIENT#'], actions: [GET, UPDATE] }],
  },
  // Deliveries and their attempt log live in the endpoint's partition (`WEBHOOK#<webhookId>`).
  'webhooks/list-webhook-deliveries.ts': {
    items: [
      RATE_BUCKET,
      { prefixes: ['CLIENT#'], actions: [GET] },
      { prefixes: ['WEBHOOK#'], actions: [QUERY] },
    ],
  },
  'webhooks/enable-webhook.ts': {
    items: [
      RATE_BUCKET,
      { prefixes: ['CLIENT#'], actions: [UPDATE] },
      { prefixes: ['WEBHOOK#'], actions: [QUERY] },
    ],
  },

  // --- saga --------------------------------------------------------------------------------------------------------
  // The order records its own reservation (functions/saga/stock.ts): no item of its own to put.
  'saga/reserve-stock.ts': {
    items: [ORDER_READ_WRITE, { prefixes: ['STOCK#'], actions: [BATCH_GET, UPDATE] }],
  },
  'saga/authorize-payment.ts': {
    items: [ORDER_READ_WRITE, CIRCUIT],
    // The line of orders held during an outage (functions/payments/release-line.ts): open orders only.
    indexes: [{ index: Data.OPEN_INDEX, partitions: ['ORDER#PENDING'] }],
  },
  'saga/confirm-order.ts': {
    items: [ORDER_READ_WRITE, { prefixes: ['OUTBOX#'], actions: [PUT] }],
  },
  'saga/void-payment.ts': { items: [ORDER_READ_WRITE, CIRCUIT] },
  // The payment circuit, read only: a parked order comes back to the saga only when it may be probed.
  // And the ticket of a parked order's one waiting copy (`HOLD#saga-start#<orderId>`), released when the copy goes on.
  'saga/start-saga.ts': {
    items: [
      { prefixes: ['BREAKER#'], actions: [GET] },
      { prefixes: ['HOLD#'], actions: [UPDATE, DELETE] },
    ],
    // The line of held orders (functions/payments/release-line.ts) a parked order waits its turn in.
    indexes: [{ index: Data.OPEN_INDEX, partitions: ['ORDER#PENDING'] }],
  },
  'saga/release-stock.ts': {
    items: [ORDER_READ_WRITE, { prefixes: ['STOCK#'], actions: [UPDATE] }],
  },
  'saga/cancel-order.ts': {
    items: [ORDER_READ_WRITE, { prefixes: ['OUTBOX#'], actions: [PUT] }],
  },

  // --- outbox, consumers -------------------------------------------------------------------------------------------
  // The relay acts only on keys its stream records carry, and only after outboxItemSchema has checked that the key
  // is an outbox key (pk `OUTBOX#…`); a poison item with any other key goes to the DLQ untouched. Reading the stream
  // itself (granted by its event source) cannot be scoped by key: the relay can see every item's images there.
  'outbox/relay-outbox.ts': { items: [{ prefixes: ['OUTBOX#'], actions: [BATCH_GET, UPDATE] }] },
  // Effect markers (claim, complete, release) and the failure log (`FAILURE#<messageId>`) of dead messages.
  'notifications/send-notification.ts': {
    items: [
      { prefixes: ['EFFECT#'], actions: [PUT, GET, UPDATE, DELETE] },
      { prefixes: ['FAILURE#'], actions: [PUT] },
      // The mail circuit (`BREAKER#mail`) and the ticket of a held mail's one waiting copy (`HOLD#notify#<eventId>`).
      CIRCUIT,
      { prefixes: ['HOLD#'], actions: [UPDATE] },
    ],
  },
  // The burst mail service's sender (`-c mailService=burst`): the same items as the notify worker, under its own
  // consumer (`EFFECT#mail#<requestId>`, `HOLD#mail#<requestId>`); the EFFECT# update is the DONE mark in the same
  // transaction as the Put on the sent-mail table (its own table, granted in lib/constructs/mail-service.ts).
  'notifications/send-mail.ts': {
    items: [
      { prefixes: ['EFFECT#'], actions: [PUT, GET, UPDATE, DELETE] },
      { prefixes: ['FAILURE#'], actions: [PUT] },
      CIRCUIT,
      { prefixes: ['HOLD#'], actions: [UPDATE] },
    ],
  },
  // Its ledger line is its effect marker (functions/loyalty/points.ts): no EFFECT# item of its own.
  'loyalty/credit-points.ts': { items: [{ prefixes: ['POINTS#'], actions: [PUT] }] },
  'webhooks/fan-out-webhooks.ts': {
    items: [
      { prefixes: ['CLIENT#'], actions: [QUERY] },
      { prefixes: ['WEBHOOK#'], actions: [PUT, GET] },
    ],
  },
  'webhooks/dispatch-webhook.ts': {
    items: [
      // The endpoint: its secrets, its status, its failing/slow streaks and circuit.
      { prefixes: ['CLIENT#'], actions: [GET, UPDATE] },
      // The delivery record (claim, finish, reschedule, reopen) and the attempt log.
      { prefixes: ['WEBHOOK#'], actions: [GET, PUT, UPDATE] },
    ],
  },

  // --- settlement export -------------------------------------------------------------------------------------------
  // The delivery record of a date and partner (`SETTLEMENT#<partner>#<date>`): read to plan, written once sent.
  'settlement/plan-export.ts': { items: [{ prefixes: ['SETTLEMENT#'], actions: [GET] }] },
  // Pages through the terminal orders of a day on the Settled index (projected fields only); no item of the table.
  'settlement/export-page.ts': {
    items: [],
    indexes: [{ index: Data.SETTLED_INDEX, partitionPrefixes: ['SETTLED#'] }],
  },
  'settlement/deliver-file.ts': { items: [{ prefixes: ['SETTLEMENT#'], actions: [GET, PUT] }] },

  // --- settlement import (the acquirer's file) ----------------------------------------------------------------------
  // All under `RECON#`: the claims of a file's name and checksum, and one record per applied line.
  'settlement/claim-file.ts': { items: [{ prefixes: ['RECON#'], actions: [GET, PUT] }] },
  // An invalid file frees its name and checksum claims.
  'settlement/reject-file.ts': { items: [{ prefixes: ['RECON#'], actions: [GET, DELETE] }] },
  // The lines' orders by key (a batch read of ORDER# keys), each line recorded once by a conditional put.
  'settlement/apply-chunk.ts': {
    items: [
      { prefixes: ['ORDER#'], actions: [BATCH_GET] },
      { prefixes: ['RECON#'], actions: [PUT] },
    ],
  },
  // The date's charged orders on the Settled index, and which of them a line record covers (a batch read of RECON#).
  'settlement/reconcile-file.ts': {
    items: [{ prefixes: ['RECON#'], actions: [BATCH_GET] }],
    indexes: [{ index: Data.SETTLED_INDEX, partitionPrefixes: ['SETTLED#'] }],
  },
  'settlement/finish-file.ts': { items: [{ prefixes: ['RECON#'], actions: [UPDATE] }] },

  // --- operations --------------------------------------------------------------------------------------------------
  'operations/reconcile-orders.ts': {
    // The order and its recovery item (sk RECOVERY), same partition.
    items: [ORDER_READ_WRITE],
    // Open orders only: the Open index also lists unpublished and failed outbox items, which are not its business.
    indexes: [{ index: Data.OPEN_INDEX, partitions: ['ORDER#PENDING'] }],
  },
  // The operator API (the web console's routes, ops/api/routes.ts over the operator CLI's functions); no Scan, so
  // an order's story there leaves out the items only a scan finds (`buzzer order` shows them).
  'operations/operator-api.ts': {
    items: [
      // An order's partition (story), the order statuses of failed sagas, and a saga redrive's recovery item.
      { prefixes: ['ORDER#'], actions: [QUERY, GET, BATCH_GET, UPDATE] },
      // The points a confirmed order credited (the story).
      { prefixes: ['POINTS#'], actions: [GET] },
      // The failure records of dead-lettered messages (DLQ peek) and the effect markers of an order's events.
      { prefixes: ['FAILURE#', 'EFFECT#'], actions: [BATCH_GET] },
      // The relay replay: re-read an outbox item, mark it published again.
      { prefixes: ['OUTBOX#'], actions: [GET, UPDATE] },
      // A client's webhook endpoints (list, enable) and their deliveries and attempts (list, replay).
      { prefixes: ['CLIENT#'], actions: [QUERY, UPDATE] },
      { prefixes: ['WEBHOOK#'], actions: [QUERY, UPDATE] },
    ],
    indexes: [
      // Open orders (the orders page without a client) and the items the relay gave up on (the outbox page).
      { index: Data.OPEN_INDEX, partitions: ['ORDER#PENDING', 'OUTBOX#FAILED'] },
      // One client's latest orders.
      { index: Data.BY_CLIENT_INDEX, partitionPrefixes: ['CLIENT#'] },
    ],
  },
};

/** The access of the handler at `entry` (relative to `functions/`); a handler with no entry may not use the table. */
export function tableAccessFor(entry: string): TableAccess {
  const access = TABLE_ACCESS[entry];
  if (!access) {
    throw new Error(
      `no table access is declared for ${entry}: add it to TABLE_ACCESS in lib/constructs/table-access.ts`,
    );
  }
  return access;
}
