/** Names of the single table's indexes (docs/architecture.md, "Single table"): the stack creates them, handlers query them. */
export const INDEXES = {
  /** A client's orders: `gsi1pk`, `gsi1sk`; projects `BY_CLIENT_ATTRIBUTES` only. */
  ByClient: 'ByClient',
  /**
   * The sparse index of unfinished items (open orders, outbox items the relay gave up on): `openPk`, `openSk` =
   * createdAt; projects `OPEN_ATTRIBUTES` only. A PENDING outbox item is not in it (functions/outbox/outbox.ts).
   */
  Open: 'Open',
  /**
   * Orders by the UTC day they became CONFIRMED or CANCELLED (sparse: only terminal orders): `settledPk` =
   * `SETTLED#<YYYY-MM-DD>`, `settledSk` = `<ISO time>#<orderId>`. The settlement export pages through it.
   */
  Settled: 'Settled',
} as const;

/**
 * What the `ByClient` index carries besides the keys: the order id and when it was placed, which no write changes, and
 * the hold, which only an outage sets. Attributes an order changes on its way (timeline, version, updatedAt, and
 * status at the end) stay out: with them a write of the order rewrote its entry here too, a write unit each (status
 * alone cost one per order, at the terminal transition). Readers list the orders here and read them from the table
 * (`buzzer orders --client`, the outage bench).
 */
export const BY_CLIENT_ATTRIBUTES = ['orderId', 'createdAt', 'hold'] as const;

/**
 * What the `Open` index carries besides the keys: the order id (the reconciler, `buzzer saga redrive`) and the hold
 * (the payment release line filters on it), neither of which a saga step rewrites. Readers that need whole items
 * (`buzzer orders`, `status`, `relay replay`) read them from the table (functions/shared/open-index.ts).
 */
export const OPEN_ATTRIBUTES = ['orderId', 'hold'] as const;
