/**
 * Errors a saga step throws to Step Functions. Lambda reports an error's `name` as its `errorType`, and the state
 * machine's Retry/Catch clauses match on it, so each name here is both a class name in `functions/` and a string in
 * the synthesized ASL.
 */
export const STEP_ERRORS = {
  OrderNotFound: 'OrderNotFound',
  OutOfStock: 'OutOfStock',
  UnknownSku: 'UnknownSku',
  PriceUnavailable: 'PriceUnavailable',
  OrderLimitExceeded: 'OrderLimitExceeded',
  PaymentDeclined: 'PaymentDeclined',
  PaymentProviderUnavailable: 'PaymentProviderUnavailable',
  PaymentRequestRejected: 'PaymentRequestRejected',
  InvalidOrderState: 'InvalidOrderState',
  ConcurrentModification: 'ConcurrentModification',
  InvalidMessage: 'InvalidMessage',
  CorruptRecord: 'CorruptRecord',
  ChargeMayBeInFlight: 'ChargeMayBeInFlight',
  PaymentHoldExpired: 'PaymentHoldExpired',
  PaymentHeld: 'PaymentHeld',
} as const;

export type StepErrorName = (typeof STEP_ERRORS)[keyof typeof STEP_ERRORS];

/**
 * Errors that state a fact about the order (out of stock, declined, a state that forbids the step, a record that
 * cannot be read): retrying cannot change the answer, so the state machine compensates at once.
 */
export const VERDICTS = [
  STEP_ERRORS.OutOfStock,
  STEP_ERRORS.UnknownSku,
  STEP_ERRORS.PriceUnavailable,
  STEP_ERRORS.OrderLimitExceeded,
  STEP_ERRORS.PaymentDeclined,
  STEP_ERRORS.PaymentRequestRejected,
  STEP_ERRORS.OrderNotFound,
  STEP_ERRORS.InvalidOrderState,
  STEP_ERRORS.InvalidMessage,
  STEP_ERRORS.CorruptRecord,
  STEP_ERRORS.PaymentHoldExpired,
] as const satisfies readonly StepErrorName[];

/**
 * The `kind` of the message an EXPRESS saga held by the payment circuit leaves on the saga-start queue
 * (`{kind, orderId, correlationId, holdUntil}`): the starter runs the saga again when it comes back.
 */
export const SAGA_RESUME_MESSAGE = 'ResumeSaga';
