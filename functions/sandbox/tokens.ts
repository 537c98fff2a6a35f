/**
 * Test tokens choose the provider's behaviour, the way card networks' test card numbers do, so a scenario is set up
 * by the order itself and needs no side channel. Every call with a token behaves this way, replays included:
 * `tok_timeout` must time out on the retry too, or the caller's timeout path would never be exercised.
 */

export const TOKEN_NAMES = [
  'tok_ok',
  'tok_decline',
  'tok_timeout',
  'tok_flaky',
  'tok_error',
  'tok_slow',
  'tok_late',
] as const;

export type TokenName = (typeof TOKEN_NAMES)[number];

export interface TokenBehaviour {
  /** What the call ends in once the delays are over. */
  outcome: 'authorize' | 'decline' | 'error';
  /** Calls per idempotency key answered 503 before the token starts to authorize. */
  failFirstCalls: number;
  /** Wait before recording the charge. */
  delayBeforeMs: number;
  /**
   * Wait after the charge is recorded, before answering. The charge exists while the caller is still waiting, so a
   * caller that gives up has been charged without knowing it: the case idempotency keys and refunds exist for.
   */
  delayAfterMs: number;
}

const AUTHORIZE: TokenBehaviour = {
  outcome: 'authorize',
  failFirstCalls: 0,
  delayBeforeMs: 0,
  delayAfterMs: 0,
};

export const TOKENS: Readonly<Record<TokenName, TokenBehaviour>> = {
  tok_ok: AUTHORIZE,
  tok_decline: { ...AUTHORIZE, outcome: 'decline' },
  tok_timeout: { ...AUTHORIZE, delayAfterMs: 10_000 },
  tok_flaky: { ...AUTHORIZE, failFirstCalls: 2 },
  tok_error: { ...AUTHORIZE, outcome: 'error' },
  tok_slow: { ...AUTHORIZE, delayBeforeMs: 1_000 },
  /**
   * Recorded 14 s after the request arrived, after its caller gave up: the late charge. The compensation finds no
   * charge at first, waits while the unanswered request may still land (`PAYMENT_SETTLE_SECONDS`), then finds it
   * by the order and refunds it. The provider refuses nothing on the saga's behalf.
   */
  tok_late: { ...AUTHORIZE, delayBeforeMs: 14_000 },
};
