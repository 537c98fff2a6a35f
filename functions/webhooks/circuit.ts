/**
 * A circuit breaker per endpoint, as pure functions (the dispatcher stores the state on the endpoint item).
 *
 * Why: every attempt at a dead endpoint holds a dispatcher slot for up to the request timeout. Retries alone space
 * out one delivery's attempts, but a burst of *new* events to a dead endpoint would still each make a first attempt,
 * and enough of them occupy every slot and delay the deliveries of healthy endpoints. So after `failureThreshold`
 * failed attempts in a row the circuit opens: until `circuitOpenUntil` the dispatcher sends nothing to that endpoint
 * and puts its deliveries back on the queue for later, without using up their attempts. Then one delivery is let
 * through as a probe (half-open): success closes the circuit and the held deliveries flow again; failure opens it
 * for longer. The cooldown grows with the length of the outage (half the time it has been failing, between
 * `baseCooldownMs` and `maxCooldownMs`), so concurrent failures cannot inflate it the way a failure counter would.
 *
 * A slow endpoint holds slots as a dead one does, even when it answers 2xx in the end: so `failureThreshold` slow
 * answers in a row (each taking over `slowAnswerRatio` of the request timeout) open the circuit too, timed from the
 * first of them. The deliveries themselves count as delivered, and slowness never disables an endpoint.
 */

export interface CircuitPolicy {
  /** Failed attempts in a row (across all of the endpoint's deliveries) that open the circuit. */
  failureThreshold: number;
  /** Shortest time the circuit stays open; also the spread given to held deliveries when they come back. */
  baseCooldownMs: number;
  /** Longest time the circuit stays open before the next probe. */
  maxCooldownMs: number;
  /** An answer that took longer than this share of the request timeout is slow. */
  slowAnswerRatio: number;
}

export const DEFAULT_CIRCUIT_POLICY: CircuitPolicy = {
  failureThreshold: 5,
  baseCooldownMs: 30_000,
  maxCooldownMs: 10 * 60_000,
  slowAnswerRatio: 0.5,
};

export function isSlowAnswer(durationMs: number, timeoutMs: number, policy: CircuitPolicy): boolean {
  return durationMs > timeoutMs * policy.slowAnswerRatio;
}

export type CircuitState = 'closed' | 'open' | 'half_open';

export function circuitState(circuitOpenUntil: string | undefined, now: Date): CircuitState {
  if (circuitOpenUntil === undefined) return 'closed';
  return Date.parse(circuitOpenUntil) > now.getTime() ? 'open' : 'half_open';
}

/**
 * Until when the circuit opens after a failure that brought the streak to `consecutiveFailures`, or undefined when
 * the streak is still below the threshold.
 */
export function openUntil(
  consecutiveFailures: number,
  failingSince: Date,
  now: Date,
  policy: CircuitPolicy,
): Date | undefined {
  if (consecutiveFailures < policy.failureThreshold) return undefined;
  const outageMs = Math.max(0, now.getTime() - failingSince.getTime());
  const cooldown = Math.min(policy.maxCooldownMs, Math.max(policy.baseCooldownMs, outageMs / 2));
  return new Date(now.getTime() + cooldown);
}

/** When a delivery held by an open circuit comes back: after it closes, spread so they do not return all at once. */
export function heldUntil(until: Date, policy: CircuitPolicy, random: () => number): Date {
  return new Date(until.getTime() + Math.floor(random() * policy.baseCooldownMs));
}
