/** Names of the single table's indexes (docs/architecture.md, "Single table"): the stack creates them, handlers query them. */
export const INDEXES = {
  /** A client's orders: `gsi1pk`, `gsi1sk`. */
  ByClient: 'ByClient',
  /** The sparse index of unfinished items (open orders, unpublished outbox items): `openPk`, `openSk` = createdAt. */
  Open: 'Open',
} as const;
