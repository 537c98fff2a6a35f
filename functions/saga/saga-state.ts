import { STEP_ERRORS } from '#contracts/saga.ts';
import { type FailureReason, orderIdSchema } from '#functions/orders/order.ts';
import * as z from '#shared/zod.ts';

/*
 * The saga's state as its steps see it: the input every task receives (validated by the saga-step middleware,
 * functions/shared/middleware/saga-step.ts) and how a caught error reads on the order (reason and timeline detail).
 */

/**
 * The saga state every task receives (`Payload.$: "$"`). Loose: the state machine adds its own
 * fields (step results), and a step must not break because another step's result changed shape.
 */
export const sagaInputSchema = z.looseObject({
  orderId: orderIdSchema,
  correlationId: z.string().min(1),
  error: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
});
export type SagaInput = z.infer<typeof sagaInputSchema>;
export type SagaError = NonNullable<SagaInput['error']>;

/**
 * AuthorizePayment held the order: its result (`$.payment.value`) has a `held` (functions/payments/charging.ts,
 * `HeldPayment`). The same test as an ASL `IsPresent` on `$.payment.value.held`; a later AuthorizePayment that pays
 * replaces the whole `$.payment`, so a paid order never carries it.
 */
export function isPaymentHeld(input: SagaInput): boolean {
  const payment = input.payment;
  if (typeof payment !== 'object' || payment === null || !('value' in payment)) return false;
  const { value } = payment;
  return typeof value === 'object' && value !== null && 'held' in value;
}

/** What a compensation did: undo something, find nothing to undo, or find it already undone. */
export type CompensationOutcome = 'DONE' | 'SKIPPED' | 'ALREADY_DONE';

export interface CompensationResult {
  outcome: CompensationOutcome;
  detail: string;
}

const FAILURE_REASONS_BY_ERROR: Record<string, FailureReason> = {
  OutOfStock: 'OUT_OF_STOCK',
  UnknownSku: 'UNKNOWN_SKU',
  PriceUnavailable: 'PRICE_UNAVAILABLE',
  OrderLimitExceeded: 'ORDER_LIMIT_EXCEEDED',
  PaymentDeclined: 'PAYMENT_DECLINED',
  PaymentProviderUnavailable: 'PAYMENT_UNAVAILABLE',
  PaymentHoldExpired: 'PAYMENT_UNAVAILABLE',
  'States.Timeout': 'PAYMENT_UNAVAILABLE',
};

export function failureReasonOf(error: SagaError | undefined): FailureReason {
  return (error && FAILURE_REASONS_BY_ERROR[error.Error]) ?? 'SAGA_FAILED';
}

const lambdaCauseSchema = z.object({ errorMessage: z.string() });

/**
 * Errors whose message Buzzer writes itself (functions/orders/errors.ts, functions/shared/errors.ts) and may show a client. Any other error
 * (Lambda.*, States.*, an SDK or runtime error) can carry ARNs, account ids, hosts or stack text: the timeline shows
 * only its name, and the full cause stays in the execution history and the logs.
 */
const OWN_ERRORS = new Set<string>([
  STEP_ERRORS.OutOfStock,
  STEP_ERRORS.UnknownSku,
  STEP_ERRORS.PaymentDeclined,
  STEP_ERRORS.PaymentProviderUnavailable,
  STEP_ERRORS.PaymentRequestRejected,
  STEP_ERRORS.OrderNotFound,
  STEP_ERRORS.InvalidOrderState,
  STEP_ERRORS.ConcurrentModification,
  STEP_ERRORS.ChargeMayBeInFlight,
  STEP_ERRORS.PriceUnavailable,
  STEP_ERRORS.OrderLimitExceeded,
  STEP_ERRORS.PaymentHoldExpired,
]);

// Defence in depth for our own messages: one that quotes an ARN still shows none.
const ARN = /arn:aws[a-z-]*:[^\s"',;)]+/g;

/** A short human explanation from the caught error, safe to show the client. */
export function failureDetail(error: SagaError | undefined): string {
  if (!error) return 'no error recorded';
  if (!OWN_ERRORS.has(error.Error)) return `${error.Error} (details in the saga's execution history)`;
  let message = error.Cause ?? '';
  try {
    // A Lambda error's Cause is JSON with a stack: keep only the message.
    const cause = lambdaCauseSchema.safeParse(JSON.parse(message));
    if (cause.success) message = cause.data.errorMessage;
  } catch {
    // Not JSON: use it as it is.
  }
  message = message.replace(ARN, '<arn>');
  const detail = message ? `${error.Error}: ${message}` : error.Error;
  return detail.length > 300 ? `${detail.slice(0, 297)}...` : detail;
}
