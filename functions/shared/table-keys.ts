/** Key builders of the single table (docs/architecture.md, "Single table"). */

export interface ItemKey {
  pk: string;
  sk: string;
}

export const OPEN_ORDER = 'ORDER#PENDING';
/**
 * The Open partition PENDING outbox items were put in before they left the index (functions/outbox/outbox.ts): items
 * written then keep their entry until published. Nothing reads it; tests check that it stays empty and ungranted.
 */
export const OPEN_OUTBOX_PENDING = 'OUTBOX#PENDING';
export const OPEN_OUTBOX_FAILED = 'OUTBOX#FAILED';

export const clientPartition = (clientId: string): string => `CLIENT#${clientId}`;

/** Sort-key prefix of a client's API key references in its partition (next to its `WEBHOOK#` items). */
export const CLIENT_API_KEY_PREFIX = 'APIKEY#';

/**
 * One customer's points as one API client knows them: customer ids are the client's own, so two clients' "c-1"
 * are two people. Client ids cannot contain `#` (CLIENT_ID_PATTERN), so the key is unambiguous.
 */
export const pointsPartition = (clientId: string, customerId: string): string =>
  `POINTS#${clientId}#${customerId}`;

export const keys = {
  order: (orderId: string): ItemKey => ({ pk: `ORDER#${orderId}`, sk: 'ORDER' }),
  reservation: (orderId: string): ItemKey => ({ pk: `ORDER#${orderId}`, sk: 'RESERVATION' }),
  outbox: (messageId: string): ItemKey => ({ pk: `OUTBOX#${messageId}`, sk: 'OUTBOX' }),
  idempotency: (clientId: string, idempotencyKey: string): ItemKey => ({
    pk: `IDEMPOTENCY#${clientId}#${idempotencyKey}`,
    sk: 'IDEMPOTENCY',
  }),
  apiKey: (keyHash: string): ItemKey => ({ pk: `APIKEY#${keyHash}`, sk: 'APIKEY' }),
  /** A key's entry in its client's partition: what `keys list` reads and `keys revoke` finds the key by. */
  clientApiKey: (clientId: string, keySuffix: string): ItemKey => ({
    pk: clientPartition(clientId),
    sk: `${CLIENT_API_KEY_PREFIX}${keySuffix}`,
  }),
  /**
   * A client's own request limits (`buzzer clients limits`), read by the authorizer after the key; its own prefix, so
   * the authorizer's grant reaches no other item of the client (webhook secrets live in `CLIENT#`).
   */
  clientLimits: (clientId: string): ItemKey => ({ pk: `LIMITS#${clientId}`, sk: 'LIMITS' }),
  /** A client's rate-limit bucket (functions/shared/middleware/rate-limit.ts): one small item, TTL'd once full again. */
  rateBucket: (clientId: string): ItemKey => ({ pk: `RATE#${clientId}`, sk: 'RATE' }),
  stock: (sku: string): ItemKey => ({ pk: `STOCK#${sku}`, sk: 'STOCK' }),
  effect: (consumer: string, eventId: string): ItemKey => ({
    pk: `EFFECT#${consumer}#${eventId}`,
    sk: 'EFFECT',
  }),
  pointsLedger: (clientId: string, customerId: string, orderId: string): ItemKey => ({
    pk: pointsPartition(clientId, customerId),
    sk: `LEDGER#${orderId}`,
  }),
  /**
   * The one live held copy of a message that waits for an open circuit (`functions/shared/requeue.ts`): `consumer` is
   * who holds it (`saga-start`, `notify`), `id` what it is about (the order, the event).
   */
  holdTicket: (consumer: string, id: string): ItemKey => ({ pk: `HOLD#${consumer}#${id}`, sk: 'HOLD' }),
  webhook: (clientId: string, webhookId: string): ItemKey => ({
    pk: clientPartition(clientId),
    sk: `WEBHOOK#${webhookId}`,
  }),
  /** How many endpoints the client has (`webhookCount`): the quota, kept in step with the endpoints by transactions. */
  webhookQuota: (clientId: string): ItemKey => ({ pk: clientPartition(clientId), sk: 'WEBHOOKQUOTA' }),
  /** The settlement file of one business date as delivered to one partner (its checksum): sent once unless resent. */
  settlementDelivery: (partner: string, date: string): ItemKey => ({
    pk: `SETTLEMENT#${partner}#${date}`,
    sk: 'DELIVERY',
  }),
  /**
   * Inbound settlement files (functions/settlement/import.ts), all under `RECON#`: the claim of a file name, the claim
   * of a content checksum (a file is a duplicate when either is taken), and one record per applied line, keyed by
   * the acquirer's reference, which a conditional put writes once.
   */
  reconFile: (name: string): ItemKey => ({ pk: `RECON#FILE#${name}`, sk: 'CLAIM' }),
  reconChecksum: (sha256: string): ItemKey => ({ pk: `RECON#SHA256#${sha256}`, sk: 'CLAIM' }),
  reconLine: (type: string, acquirerRef: string): ItemKey => ({
    pk: `RECON#LINE#${type}#${acquirerRef}`,
    sk: 'LINE',
  }),
};
