/** Request shapes of the sandbox API. Unknown fields are ignored except on the fault knobs, where a typo would
 * silently leave a knob unset. */
import * as z from '#shared/zod.ts';
import { CALL_KINDS } from './store.ts';
import { TOKEN_NAMES } from './tokens.ts';

/** Latency knob ceiling: with `tok_late`'s 14 s on top the answer still fits the Lambda timeout (29 s). */
export const MAX_PAYMENT_LATENCY_MS = 14_000;

const nonEmpty = (max: number) => z.string().trim().min(1).max(max);
const rate = z.number().min(0).max(1);

export const ChargeRequest = z.object({
  // Minor units (cents), as card APIs take them; the ceiling is Stripe's.
  amount: z.number().int().positive().max(99_999_999),
  currency: z.string().regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO 4217 code'),
  token: z.enum(TOKEN_NAMES),
  orderId: nonEmpty(200),
});
export type ChargeRequest = z.infer<typeof ChargeRequest>;

export const RefundRequest = z.object({
  /** The provider's id of the charge (`ch_…`), from the charge's answer or `GET /v1/charges?orderId=`. */
  charge: nonEmpty(255),
});

export const ChargeQuery = z.object({ orderId: nonEmpty(200) });
export type ChargeQuery = z.infer<typeof ChargeQuery>;
export type RefundRequest = z.infer<typeof RefundRequest>;

export const MailRequest = z.object({
  to: z.email(),
  subject: nonEmpty(998),
  text: z.string().max(100_000),
  orderId: nonEmpty(200).optional(),
});
export type MailRequest = z.infer<typeof MailRequest>;

export const MailQuery = z.object({
  to: nonEmpty(320).optional(),
  orderId: nonEmpty(200).optional(),
});
export type MailQuery = z.infer<typeof MailQuery>;

export const CallsQuery = z.object({
  since: z.iso.datetime({ offset: true }),
  kind: z.enum(CALL_KINDS).optional(),
});
export type CallsQuery = z.infer<typeof CallsQuery>;

export const FaultsInput = z.strictObject({
  paymentLatencyMs: z.number().int().min(0).max(MAX_PAYMENT_LATENCY_MS).optional(),
  paymentFailureRate: rate.optional(),
  mailBroken: z.boolean().optional(),
  mailFailureRate: rate.optional(),
});
export type FaultsInput = z.infer<typeof FaultsInput>;
