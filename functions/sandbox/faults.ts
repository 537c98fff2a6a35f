/**
 * Fault knobs: chaos on top of the test tokens, set with `PUT /v1/faults` and stored in the sandbox table so every
 * provider instance obeys the same knobs. A PUT replaces all knobs (a knob left out goes back to "no fault"), so
 * `PUT {}` heals the provider.
 */
import type { SandboxContext } from './context.ts';
import { ProviderUnavailable } from './provider-errors.ts';
import type { FaultsInput } from './schemas.ts';
import type { FaultsRecord } from './store.ts';

export type Faults = FaultsRecord;

export const NO_FAULTS: Readonly<Faults> = {
  paymentLatencyMs: 0,
  paymentFailureRate: 0,
  mailBroken: false,
  mailFailureRate: 0,
};

export async function readFaults(ctx: SandboxContext): Promise<Faults> {
  const stored = await ctx.table.getFaults();
  return {
    paymentLatencyMs: stored?.paymentLatencyMs ?? NO_FAULTS.paymentLatencyMs,
    paymentFailureRate: stored?.paymentFailureRate ?? NO_FAULTS.paymentFailureRate,
    mailBroken: stored?.mailBroken ?? NO_FAULTS.mailBroken,
    mailFailureRate: stored?.mailFailureRate ?? NO_FAULTS.mailFailureRate,
  };
}

export async function writeFaults(ctx: SandboxContext, input: FaultsInput): Promise<Faults> {
  const faults: Faults = { ...NO_FAULTS, ...definedOnly(input) };
  await ctx.table.putFaults(faults, ctx.now());
  ctx.logger.info('fault knobs set', { faults });
  return faults;
}

/** Latency first, then the dice: a failing provider is usually slow as well. */
export async function applyPaymentFaults(ctx: SandboxContext, faults: Faults): Promise<void> {
  if (faults.paymentLatencyMs > 0) await ctx.sleep(faults.paymentLatencyMs);
  if (ctx.random() < faults.paymentFailureRate) {
    throw new ProviderUnavailable(
      'injected_fault',
      'Injected payment failure (fault knob paymentFailureRate)',
    );
  }
}

export function applyMailFaults(ctx: SandboxContext, faults: Faults): void {
  if (faults.mailBroken) {
    throw new ProviderUnavailable('mail_sink_broken', 'The mail sink is broken (fault knob mailBroken)');
  }
  if (ctx.random() < faults.mailFailureRate) {
    throw new ProviderUnavailable('injected_fault', 'Injected mail failure (fault knob mailFailureRate)');
  }
}

function definedOnly(input: FaultsInput): Partial<Faults> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
}
