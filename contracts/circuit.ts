/**
 * The circuit breakers in front of Buzzer's downstream providers (functions/resilience/circuit-breaker.ts): their
 * names (the `BREAKER#<name>` item of the single table, the `breaker` dimension of the circuit metrics, the rows of
 * `buzzer status`) and the defaults of their stack settings, shared by the constructs and the handlers' config.
 */
export const BREAKERS = ['payment', 'mail'] as const;
export type BreakerName = (typeof BREAKERS)[number];

/** The states of a circuit as stored on its item and shown by `buzzer status`. */
export const CIRCUIT_STATES = ['CLOSED', 'OPEN', 'HALF_OPEN'] as const;
export type CircuitStateName = (typeof CIRCUIT_STATES)[number];

/** Failed calls in a row (time-outs included, declines and refusals not) that open a circuit. */
export const DEFAULT_CIRCUIT_FAILURE_THRESHOLD = 5;
/** How long an open circuit lets no call through before one probe may try the provider again. */
export const DEFAULT_CIRCUIT_OPEN_SECONDS = 30;
/**
 * Retries the saga gives AuthorizePayment after the provider failed it (lib/constructs/saga.ts). With the first try,
 * that is also how many failed charge requests an order may have in all before it stops being held for an outage
 * (`PaymentDeps.maxUnavailableAttempts`): holds reset the state machine's count, the order item keeps its own.
 */
export const PAYMENT_UNAVAILABLE_RETRIES = 3;
export const MAX_UNAVAILABLE_ATTEMPTS = PAYMENT_UNAVAILABLE_RETRIES + 1;
/** How long an order waits for an unavailable payment provider before it is cancelled (PAYMENT_UNAVAILABLE). */
export const DEFAULT_PAYMENT_HOLD_SECONDS = 15 * 60;
/**
 * How many orders held during an outage go to the provider per second once it is back, in arrival order
 * (functions/payments/release-line.ts): a provider that just recovered is not hit by the whole backlog at once.
 */
export const DEFAULT_PAYMENT_RELEASE_PER_SECOND = 20;
