import { CANCEL_REASONS } from '#contracts/metrics.ts';
import { UNSAFE_TEXT_MESSAGE, unsafeCharacterIn } from '#shared/text.ts';
import * as z from '#shared/zod.ts';
import { SUPPORTED_CURRENCIES } from './currency.ts';

export const ORDER_STATUSES = ['PENDING', 'CONFIRMED', 'CANCELLED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** The reasons live in the contracts: the dashboard charts cancellations by them. */
export const FAILURE_REASONS = CANCEL_REASONS;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export const MAX_LINE_ITEMS = 20;
export const MAX_QUANTITY = 1000;

/** Identifiers that end up inside table keys must not contain the `#` separator (or anything odd). */
const KEY_SAFE = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

export const skuSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(KEY_SAFE, { error: 'must start with a letter or digit and contain only letters, digits, . _ : -' });

const customerIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(KEY_SAFE, { error: 'must start with a letter or digit and contain only letters, digits, . _ : -' });

export const currencySchema = z.enum(SUPPORTED_CURRENCIES, {
  error: (issue) =>
    typeof issue.input === 'string' && /^[A-Z]{3}$/.test(issue.input)
      ? `unsupported currency ${issue.input}; supported: ${SUPPORTED_CURRENCIES.join(', ')}`
      : 'must be an ISO 4217 code of 3 upper-case letters (e.g. EUR)',
});

const lineItemSchema = z.strictObject({
  sku: skuSchema,
  quantity: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(MAX_QUANTITY, { error: `must be at most ${MAX_QUANTITY}` }),
});

/** Free text that goes into customer mail: see `text.ts` for what is refused and why. */
function refuseUnsafeText(text: string, ctx: { addIssue(issue: { code: 'custom'; message: string }): void }) {
  const found = unsafeCharacterIn(text);
  if (found !== undefined) ctx.addIssue({ code: 'custom', message: `${UNSAFE_TEXT_MESSAGE} (${found})` });
}

/** The body of `POST /orders`. Strict: an unknown field is a client bug worth reporting, not ignoring. */
export const placeOrderSchema = z.strictObject({
  customer: z.strictObject({
    id: customerIdSchema,
    email: z.email({ error: 'must be an e-mail address' }).max(254),
    name: z
      .string()
      .trim()
      .min(1, { error: 'must not be empty' })
      .max(200)
      .superRefine(refuseUnsafeText)
      .optional(),
  }),
  items: z
    .array(lineItemSchema)
    .min(1, { error: 'must contain at least 1 item' })
    .max(MAX_LINE_ITEMS, { error: `must contain at most ${MAX_LINE_ITEMS} items` })
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      items.forEach((item, index) => {
        if (seen.has(item.sku)) {
          ctx.addIssue({
            code: 'custom',
            path: [index, 'sku'],
            message: `duplicate sku ${item.sku}: put the whole quantity on one line`,
          });
        }
        seen.add(item.sku);
      });
    }),
  currency: currencySchema,
  paymentToken: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7E]+$/, { error: 'must be printable ASCII without spaces' }),
});

export type PlaceOrder = z.infer<typeof placeOrderSchema>;
export type LineItem = PlaceOrder['items'][number];
export type Customer = PlaceOrder['customer'];

/** `WAITING`: the step could not run yet and the order waits (a hold while the payment provider is unavailable). */
export const TIMELINE_STATUSES = ['SUCCEEDED', 'FAILED', 'SKIPPED', 'WAITING'] as const;

export const timelineEntrySchema = z.object({
  step: z.string(),
  status: z.enum(TIMELINE_STATUSES),
  at: z.string(),
  detail: z.string().optional(),
});
export type TimelineEntry = z.infer<typeof timelineEntrySchema>;

/**
 * How the order item stores a timeline entry: `<at> <step>[:<status>][ <detail>]`, the status left out when it is
 * SUCCEEDED. A map per entry spent about 20 bytes on attribute names and map overhead, and the confirmed order crossed
 * 1 KB with them, which doubled the write units of its confirm transaction (docs/writes-per-order.md). Readers get the
 * entries back as objects (`orderRecordSchema`, `timelineOf`); entries written as maps before still read.
 */
const STORED_ENTRY =
  /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ([^\s:]+)(?::(SUCCEEDED|FAILED|SKIPPED|WAITING))?(?: ([\s\S]*))?$/;

/** The stored form of an entry; the map itself when the string could not be read back the same (never for our steps). */
export function storedTimelineEntry(entry: TimelineEntry): string | TimelineEntry {
  const status = entry.status === 'SUCCEEDED' ? '' : `:${entry.status}`;
  const text = `${entry.at} ${entry.step}${status}${entry.detail === undefined ? '' : ` ${entry.detail}`}`;
  return sameEntry(readStoredEntry(text), entry) ? text : entry;
}

function readStoredEntry(text: string): TimelineEntry | undefined {
  const match = STORED_ENTRY.exec(text);
  if (!match) return undefined;
  const [, at = '', step = '', status = 'SUCCEEDED', detail] = match;
  const entry: TimelineEntry = { step, status: status as TimelineEntry['status'], at };
  if (detail !== undefined) entry.detail = detail;
  return entry;
}

function sameEntry(a: TimelineEntry | undefined, b: TimelineEntry): boolean {
  return a?.step === b.step && a.status === b.status && a.at === b.at && a.detail === b.detail;
}

/** A stored entry, either form, as the entry it records. */
const storedTimelineEntrySchema = z.union([
  timelineEntrySchema,
  z
    .string()
    .regex(STORED_ENTRY, { error: 'not a timeline entry' })
    .transform((text) => readStoredEntry(text) as TimelineEntry),
]);

/**
 * The timeline of an order item read without its schema (operators' views): the entries that read, in order.
 */
export function timelineOf(stored: unknown): TimelineEntry[] {
  if (!Array.isArray(stored)) return [];
  return stored.flatMap((entry) => {
    const parsed = storedTimelineEntrySchema.safeParse(entry);
    return parsed.success ? [parsed.data] : [];
  });
}

/** Why an order waits instead of going on, since when, and until when at most (then it is cancelled). */
export const holdSchema = z.object({ reason: z.string(), since: z.string(), until: z.string() });
export type Hold = z.infer<typeof holdSchema>;

/** An order item as stored (keys and index attributes left out: code never reads them back). */
export const orderRecordSchema = z.object({
  orderId: z.string(),
  clientId: z.string(),
  status: z.enum(ORDER_STATUSES),
  version: z.number().int(),
  customer: z.object({ id: z.string(), email: z.string(), name: z.string().optional() }),
  items: z.array(z.object({ sku: z.string(), quantity: z.number().int() })),
  currency: currencySchema,
  /** Dropped once the charge is recorded or the order is final: a used card token is not kept. */
  paymentToken: z.string().optional(),
  amount: z.number().int().optional(),
  /** Loyalty points the order earns once confirmed, fixed with the price at reservation (pricing.ts). */
  points: z.number().int().optional(),
  paymentRef: z.string().optional(),
  refundRef: z.string().optional(),
  failureReason: z.enum(FAILURE_REASONS).optional(),
  /** Stored compactly (`storedTimelineEntry`), read back as entries. */
  timeline: z.array(storedTimelineEntrySchema),
  correlationId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  reservedAt: z.string().optional(),
  authorizedAt: z.string().optional(),
  /**
   * Set once, by the first compensation to run, while the order is still PENDING: from then on every forward step
   * refuses the order, so no duplicate or late execution can confirm what the compensations are undoing.
   */
  compensatingAt: z.string().optional(),
  /**
   * Why the compensation began, from the error of the execution that began it: CancelOrder reports this, not the
   * error of a duplicate execution that was refused because the compensation had begun.
   */
  compensationReason: z.enum(FAILURE_REASONS).optional(),
  compensationDetail: z.string().optional(),
  /** When the latest charge request was sent; a compensation waits for an unanswered one to settle. */
  chargeAttemptedAt: z.string().optional(),
  /** When the provider's answer said that no charge was made (declined or refused). */
  chargeSettledAt: z.string().optional(),
  paymentVoidedAt: z.string().optional(),
  stockReleasedAt: z.string().optional(),
  /**
   * The payment waits for an unavailable provider (its circuit is open): set by AuthorizePayment, removed once the
   * charge is recorded or the compensation begins.
   */
  hold: holdSchema.optional(),
  /**
   * Charge requests of this order that the provider failed (5xx, time-out, unreachable). A hold waits out an outage;
   * an order whose own requests keep failing while the circuit lets calls through is not waiting for an outage, so
   * past `PaymentDeps.maxUnavailableAttempts` it is no longer held but cancelled (PAYMENT_UNAVAILABLE).
   */
  unavailableAttempts: z.number().int().nonnegative().optional(),
  /** When the order was first held; kept, so a compensation knows the order was charged by attempt-marking code. */
  heldAt: z.string().optional(),
  /** TTL (epoch seconds), set when the order reaches a terminal state (`terminalRetention`). */
  expiresAt: z.number().int().optional(),
});
export type OrderRecord = z.infer<typeof orderRecordSchema>;

/** Order ids are random UUIDs; anything else cannot be one of ours. */
export const orderIdSchema = z.uuid({ error: 'must be a tracking id (UUID)' });

export function timelineEntry(
  step: string,
  status: TimelineEntry['status'],
  at: Date,
  detail?: string,
): TimelineEntry {
  return detail === undefined
    ? { step, status, at: at.toISOString() }
    : { step, status, at: at.toISOString(), detail };
}

/** The path of `GET /orders/{trackingId}`. */
export const orderPathSchema = z.object({ trackingId: orderIdSchema });

/**
 * What `GET /orders/{trackingId}` answers (and `POST /orders` with `Prefer: wait` once the order has ended): the
 * schema the OpenAPI document (functions/api/openapi.ts) describes it with. Absent values are explicit nulls so
 * clients see the full shape.
 */
export const orderViewSchema = z.object({
  trackingId: z.uuid(),
  status: z.enum(ORDER_STATUSES),
  /** Rises with every change; webhook payloads carry it too, so the newest view wins. */
  version: z.number().int().min(1),
  items: z.array(z.object({ sku: z.string(), quantity: z.number().int() })),
  /** Minor units of `currency` (README, "Money rules"), known once the stock is reserved. */
  amount: z.number().int().nullable(),
  currency: currencySchema,
  paymentRef: z.string().nullable(),
  failureReason: z.enum(FAILURE_REASONS).nullable(),
  /** While the order waits for an unavailable payment provider; else null. */
  hold: holdSchema.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  timeline: z.array(timelineEntrySchema),
});
export type OrderView = z.infer<typeof orderViewSchema>;

/** The `202 Accepted` of `POST /orders`: the order is taken, its outcome comes later. */
export const acceptedOrderSchema = z.object({
  trackingId: z.uuid(),
  status: z.literal('PENDING'),
  /** `GET` it (poll, or with `Prefer: wait=N`) for the order's status. */
  statusUrl: z.string(),
});
export type AcceptedOrder = z.infer<typeof acceptedOrderSchema>;

export function toOrderView(order: OrderRecord): OrderView {
  return {
    trackingId: order.orderId,
    status: order.status,
    version: order.version,
    items: order.items,
    amount: order.amount ?? null,
    currency: order.currency,
    paymentRef: order.paymentRef ?? null,
    failureReason: order.failureReason ?? null,
    hold: order.status === 'PENDING' && order.hold ? order.hold : null,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    timeline: order.timeline,
  };
}

/** The order as events carry it: what consumers need, never the payment token. */
export const orderSummarySchema = z.object({
  orderId: z.string(),
  status: z.enum(ORDER_STATUSES),
  customer: z.object({ id: z.string(), email: z.string(), name: z.string().optional() }),
  items: z.array(z.object({ sku: z.string(), quantity: z.number().int() })),
  currency: currencySchema,
  amount: z.number().int().optional(),
  points: z.number().int().optional(),
  paymentRef: z.string().optional(),
  failureReason: z.enum(FAILURE_REASONS).optional(),
  createdAt: z.string(),
});
export type OrderSummary = z.infer<typeof orderSummarySchema>;

export function orderSummary(order: OrderRecord): OrderSummary {
  const summary: OrderSummary = {
    orderId: order.orderId,
    status: order.status,
    customer: order.customer,
    items: order.items,
    currency: order.currency,
    createdAt: order.createdAt,
  };
  if (order.amount !== undefined) summary.amount = order.amount;
  if (order.points !== undefined) summary.points = order.points;
  if (order.paymentRef !== undefined) summary.paymentRef = order.paymentRef;
  if (order.failureReason !== undefined) summary.failureReason = order.failureReason;
  return summary;
}
