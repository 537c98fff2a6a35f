/**
 * Errors of the order domain. Saga steps throw them to Step Functions, which matches on `name` (the Lambda
 * `errorType`), so each `name` comes from the contracts (`contracts/saga.ts`) that the state machine's Retry/Catch
 * clauses are built from.
 */
import { STEP_ERRORS } from '#contracts/saga.ts';
import { namedError } from '#shared/named-error.ts';

export class OrderNotFound extends namedError(STEP_ERRORS.OrderNotFound) {
  constructor(readonly orderId: string) {
    super(`order ${orderId} does not exist`);
  }
}

export class OutOfStock extends namedError(STEP_ERRORS.OutOfStock) {
  constructor(readonly skus: string[]) {
    super(`not enough stock for ${skus.join(', ')}`);
  }
}

export class UnknownSku extends namedError(STEP_ERRORS.UnknownSku) {
  constructor(readonly skus: string[]) {
    super(`unknown sku ${skus.join(', ')}`);
  }
}

/** A known SKU has no price in the order's currency: the catalogue does not sell it there (nothing is converted). */
export class PriceUnavailable extends namedError(STEP_ERRORS.PriceUnavailable) {
  constructor(
    readonly skus: string[],
    readonly currency: string,
  ) {
    super(`no price in ${currency} for sku ${skus.join(', ')}`);
  }
}

/** The order is over a limit of `pricing.ts` (its amount in its currency, or its units). */
export class OrderLimitExceeded extends namedError(STEP_ERRORS.OrderLimitExceeded) {}

export class PaymentDeclined extends namedError(STEP_ERRORS.PaymentDeclined) {}

/** The provider could not answer (timeout, throttling, 5xx, network): retrying later may succeed. */
export class PaymentProviderUnavailable extends namedError(STEP_ERRORS.PaymentProviderUnavailable) {}

/** The provider refused the request itself (4xx other than 402): a bug on our side, retrying cannot help. */
export class PaymentRequestRejected extends namedError(STEP_ERRORS.PaymentRequestRejected) {}

/** A step was asked to do something the order's current state forbids (e.g. confirm a cancelled order). */
export class InvalidOrderState extends namedError(STEP_ERRORS.InvalidOrderState) {}

/**
 * A compensation cannot yet tell whether a charge exists: a charge request is recorded as sent, its answer never
 * came back, and the provider does not (yet) list a charge for the order. Retried until the request has surely
 * landed or been dropped (the provider's settle time), never a verdict.
 */
export class ChargeMayBeInFlight extends namedError(STEP_ERRORS.ChargeMayBeInFlight) {}

/**
 * The payment provider stayed unavailable (its circuit open) for longer than the order may wait: a verdict, so the
 * order is compensated and cancelled with PAYMENT_UNAVAILABLE.
 */
export class PaymentHoldExpired extends namedError(STEP_ERRORS.PaymentHoldExpired) {}

/**
 * ConfirmOrder was reached by an order AuthorizePayment held (`$.payment.value.held`: the payment provider's circuit is
 * open). Not a failure and never a verdict: the state machine catches it into its wait (STANDARD) or parks the order
 * (EXPRESS), then pays again. Thrown before any effect, so a Choice state need not sit on every confirmed order's path.
 */
export class PaymentHeld extends namedError(STEP_ERRORS.PaymentHeld) {
  constructor(readonly orderId: string) {
    super(`order ${orderId} is held for the payment provider; it is paid once the provider is back`);
  }
}
