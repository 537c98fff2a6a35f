/** Names of the single table's indexes (docs/architecture.md, "Single table"): the stack creates them, handlers query them. */
export const INDEXES = {
  /** A client's orders: `gsi1pk`, `gsi1sk`. */
  ByClient: 'ByClient',
  /** The sparse index of unfinished items (open orders, unpublished outbox items): `openPk`, `openSk` = createdAt. */
  Open: 'Open',
  /**
   * Orders by the UTC day they became CONFIRMED or CANCELLED (sparse: only terminal orders): `settledPk` =
   * `SETTLED#<YYYY-MM-DD>`, `settledSk` = `<ISO time>#<orderId>`. The settlement export pages through it.
   */
  Settled: 'Settled',
} as const;
