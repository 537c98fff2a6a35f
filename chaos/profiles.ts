/**
 * Fault profiles of a chaos run. Each names the faults injected while orders flow; `harsh` is all of them at once,
 * with the saga as an EXPRESS workflow (so AWS's at-least-once executions are among them).
 * Rates are chosen so that a run recovers by itself once healed (e.g. at most two PutEvents failures per message,
 * below the relay's five attempts), except where reaching a DLQ is the point (the mail sink failures of `provider`),
 * which the run then redrives.
 */
import type { TokenName } from '#functions/sandbox/tokens.ts';

export interface ChaosProfile {
  name: ProfileName;
  description: string;
  /** Relative weights of the payment tokens the orders carry. */
  tokens: Partial<Record<TokenName, number>>;
  /** Sandbox provider knobs while the faults are on (reset to none on heal). */
  sandbox: { paymentFailureRate?: number; paymentLatencyMs?: number; mailFailureRate?: number };
  /** Share of queue-consumer and relay invocations that crash (before, mid-batch or after their work). */
  consumerCrashRate: number;
  /**
   * Share of saga-step invocations that fail before running or crash after their work, at most
   * `STEP_MAX_CRASHES` times per step and order: fewer than the saga's retries, so the order still ends as the
   * provider decides and never as `SAGA_FAILED`.
   */
  stepCrashRate: number;
  /**
   * Share of deliveries that are duplicated: consumer and saga-step invocations run twice, and events the relay
   * puts on the bus are put a second time (same message id, new event id).
   */
  duplicateRate: number;
  /** Share of PutEvents entries from the relay that fail, at most `relayMaxFailuresPerMessage` times per message. */
  relayFailureRate: number;
  relayMaxFailuresPerMessage: number;
  /**
   * How the saga is synthesized (`-c workflowType=…`). EXPRESS is what AWS runs at least once: StartExecution does not
   * dedupe by name and an execution may be run again from the beginning; the two rates below inject exactly that.
   */
  workflowType: 'STANDARD' | 'EXPRESS';
  /** Share of EXPRESS saga starts that start a second execution of the same name and input a moment later. */
  duplicateStartRate: number;
  /**
   * Share of EXPRESS saga executions run again from the beginning at a random point while they run; half of those
   * abandon the original (stopped mid-step, as AWS loses an execution's state), half keep it running beside.
   */
  restartRate: number;
}

/** Crashes per saga step and order at most; the saga retries a failed forward step three times. */
export const STEP_MAX_CRASHES = 2;

export const PROFILE_NAMES = [
  'none',
  'provider',
  'workers',
  'duplicates',
  'relay',
  'express',
  'harsh',
] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** What a well-behaved shop sees: mostly good cards, some declines. */
const HEALTHY_TOKENS: ChaosProfile['tokens'] = { tok_ok: 90, tok_decline: 10 };

/**
 * A bad day at the payment provider. `tok_timeout` and `tok_late` (a charge landing after the saga gave up, which
 * the compensation must void) stay rare: each holds a sandbox environment for 10–14 s per attempt (four attempts).
 */
const PROVIDER_TOKENS: ChaosProfile['tokens'] = {
  tok_ok: 64,
  tok_decline: 10,
  tok_flaky: 12,
  tok_error: 5,
  tok_slow: 8,
  tok_timeout: 1,
  tok_late: 0.5,
};

/** The same mix with fewer slow answers, for `harsh`, where the other faults already load the sandbox. */
const HARSH_TOKENS: ChaosProfile['tokens'] = {
  tok_ok: 70,
  tok_decline: 10,
  tok_flaky: 12,
  tok_error: 5,
  tok_slow: 2,
  tok_timeout: 0.5,
  tok_late: 0.5,
};

const NO_FAULTS = {
  tokens: HEALTHY_TOKENS,
  sandbox: {},
  consumerCrashRate: 0,
  stepCrashRate: 0,
  duplicateRate: 0,
  relayFailureRate: 0,
  relayMaxFailuresPerMessage: 0,
  workflowType: 'STANDARD' as const,
  duplicateStartRate: 0,
  restartRate: 0,
};

const PROVIDER_FAULTS = {
  tokens: PROVIDER_TOKENS,
  // Every tenth payment call answers 503 (the saga retries it); a third of mails fail, so some end in the DLQ.
  sandbox: { paymentFailureRate: 0.1, paymentLatencyMs: 20, mailFailureRate: 0.35 },
};

export const PROFILES: Readonly<Record<ProfileName, ChaosProfile>> = {
  none: { name: 'none', description: 'no faults: the baseline', ...NO_FAULTS },
  provider: {
    name: 'provider',
    description: 'payment errors, declines, timeouts, late charges and flaky calls; failing mail sink',
    ...NO_FAULTS,
    ...PROVIDER_FAULTS,
  },
  workers: {
    name: 'workers',
    description: 'queue consumers, the relay and saga steps crash before, during or after their work',
    ...NO_FAULTS,
    consumerCrashRate: 0.2,
    stepCrashRate: 0.2,
  },
  duplicates: {
    name: 'duplicates',
    description: 'every consumer and saga step gets duplicate deliveries; events are put on the bus twice',
    ...NO_FAULTS,
    duplicateRate: 0.3,
  },
  relay: {
    name: 'relay',
    description: 'PutEvents fails for some entries of the relay (partial failures), then heals',
    ...NO_FAULTS,
    relayFailureRate: 0.3,
    relayMaxFailuresPerMessage: 2,
  },
  express: {
    name: 'express',
    description:
      'the saga as EXPRESS (at least once): duplicate starts under one name, restarts from the beginning mid-run; a flaky provider',
    ...NO_FAULTS,
    // Two executions of one order only disagree when a call can fail for one and pass for the other: a provider that
    // answers 503 to some calls (each attempt independently) lets one execution exhaust its retries and compensate
    // while the other charges and goes on to ConfirmOrder.
    sandbox: { paymentFailureRate: 0.4 },
    workflowType: 'EXPRESS',
    // Each fault adds a whole execution's work; past a fifth of the starts the local runtime spends its time on
    // extra executions (and a starter batch outliving its visibility timeout starts yet more, as on AWS).
    duplicateStartRate: 0.2,
    restartRate: 0.2,
  },
  harsh: {
    name: 'harsh',
    description: 'all of the above at once (the saga as EXPRESS)',
    ...PROVIDER_FAULTS,
    tokens: HARSH_TOKENS,
    consumerCrashRate: 0.15,
    stepCrashRate: 0.1,
    duplicateRate: 0.2,
    relayFailureRate: 0.25,
    relayMaxFailuresPerMessage: 2,
    workflowType: 'EXPRESS',
    duplicateStartRate: 0.1,
    restartRate: 0.1,
  },
};

/** Faults that need fault wrappers around the engines, i.e. a runtime in this process (not `--attach`). */
export function needsInProcessHooks(profile: ChaosProfile): boolean {
  return (
    profile.consumerCrashRate > 0 ||
    profile.stepCrashRate > 0 ||
    profile.duplicateRate > 0 ||
    profile.relayFailureRate > 0 ||
    profile.duplicateStartRate > 0 ||
    profile.restartRate > 0
  );
}

/** A small seeded generator (mulberry32), so a run's dice can be replayed with `--seed`. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Picks a key of `weights` with probability proportional to its weight. */
export function pickWeighted<K extends string>(weights: Partial<Record<K, number>>, random: () => number): K {
  const entries = Object.entries(weights) as Array<[K, number]>;
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = random() * total;
  for (const [key, weight] of entries) {
    roll -= weight;
    if (roll < 0) return key;
  }
  const last = entries.at(-1);
  if (!last) throw new Error('pickWeighted needs at least one weight');
  return last[0];
}
