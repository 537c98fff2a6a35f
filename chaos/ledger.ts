/**
 * The ledger check at the end of a chaos run, in the manner of Jepsen's total-queue checker: every order the system
 * accepted must have ended (nothing lost), and every effect it asked for must have happened exactly once at the
 * receiving side (nothing doubled): one charge kept or refunded, one mail per terminal event, one points credit per
 * confirmed order. It is a pure function of what was observed, so it can be tested without a running system.
 */
import { type Currency, isSupportedCurrency, wholeUnits } from '#shared/currency.ts';
import type { FaultStats } from './faults.ts';
import type { OrderObservation, Rejection } from './orders.ts';
import type { DeadLetterOutcome } from './queues.ts';

export type FindingKind = 'lost-order' | 'lost-effect' | 'duplicated-effect' | 'wrong-effect';

export interface Finding {
  /** The order's tracking id, or `*` for run-wide totals. */
  orderId: string;
  kind: FindingKind;
  detail: string;
}

export interface SandboxTotals {
  charges: number;
  refunds: number;
  mails: number;
}

export interface LedgerInput {
  requested: number;
  observations: OrderObservation[];
  rejected: Rejection[];
  /**
   * The sandbox ledger before and after the run: effects nobody accounts for show up in the difference. Left out
   * when other traffic shares the provider (a shared deployed stack), where the difference proves nothing.
   */
  sandboxTotals?: { before: SandboxTotals; after: SandboxTotals };
  deadLetters: DeadLetterOutcome[];
  executionsRedriven: number;
}

export interface LedgerReport {
  orders: {
    requested: number;
    accepted: number;
    rejected: number;
    terminal: number;
    confirmed: number;
    cancelled: number;
    cancelledBy: Record<string, number>;
    lost: number;
  };
  effects: {
    charges: number;
    refunds: number;
    mails: number;
    pointsCredited: number;
    /** Provider calls beyond the first per charge key: retries and duplicates the idempotency key absorbed. */
    absorbedChargeCalls: number;
    /** Mail sink calls beyond the first per event. */
    absorbedMailCalls: number;
  };
  deadLetters: DeadLetterOutcome[];
  executionsRedriven: number;
  counts: { lostOrders: number; lostEffects: number; duplicatedEffects: number; wrongEffects: number };
  findings: Finding[];
  /**
   * Orders cancelled for a reason the saga could not classify (`SAGA_FAILED`: an error that is no verdict on the
   * order and outlasted the step's retries), with the CancelOrder detail. Not a safety violation (the effects are
   * checked like any other), but worth a look.
   */
  unclassified: Array<{ orderId: string; detail: string }>;
  /** Nothing lost, nothing doubled, nothing wrong. */
  ok: boolean;
}

export interface ChaosReport extends LedgerReport {
  profile: string;
  seed: number;
  concurrency: number;
  faults: FaultStats;
  timingsMs: { drive: number; settle: number; redrive: number; total: number };
  /** Orders accepted per second while driving. */
  acceptRate: number;
}

function expectedPoints(observation: OrderObservation): number | undefined {
  const { view } = observation;
  if (!view || view.amount === null || !isSupportedCurrency(view.currency)) return undefined;
  return wholeUnits(view.amount, view.currency as Currency);
}

function checkOrder(observation: OrderObservation): Finding[] {
  const { order, view, charge, mails, points } = observation;
  const found: Finding[] = [];
  const add = (kind: FindingKind, detail: string) => found.push({ orderId: order.trackingId, kind, detail });

  if (!view) {
    add('lost-order', 'accepted with 202 but the API does not know it (404)');
    return found;
  }
  if (view.status === 'PENDING') add('lost-order', 'accepted but still PENDING after the run settled');

  if (charge.refunds > 1) add('duplicated-effect', `refunded ${charge.refunds} times`);
  if (charge.refunds > 0 && !charge.exists) add('duplicated-effect', 'refund without a charge');
  if (mails.length > 1) add('duplicated-effect', `${mails.length} mails for one terminal event`);
  if (points.ledgerLines > 1) add('duplicated-effect', `${points.ledgerLines} points ledger lines`);
  if (points.balance !== undefined && points.balance > points.ledgerPoints) {
    add(
      'duplicated-effect',
      `points balance ${points.balance} exceeds the ledger's ${points.ledgerPoints}: credited twice`,
    );
  }

  if (view.status === 'CONFIRMED') {
    if (!charge.exists) add('lost-effect', 'confirmed without a charge');
    if (charge.refunds > 0) add('wrong-effect', 'confirmed but its charge was refunded');
    if (points.ledgerLines === 0) add('lost-effect', 'confirmed but no points were credited');
    const expected = expectedPoints(observation);
    if (points.ledgerLines === 1 && expected !== undefined && points.ledgerPoints !== expected) {
      add('wrong-effect', `credited ${points.ledgerPoints} points, expected ${expected}`);
    }
  }
  if (view.status === 'CANCELLED') {
    if (charge.exists && charge.refunds === 0)
      add('lost-effect', 'cancelled but its charge was never refunded');
    if (points.ledgerLines > 0) add('wrong-effect', 'cancelled but points were credited');
  }
  if (view.status !== 'PENDING' && mails.length === 0)
    add('lost-effect', `${view.status} but no mail was sent`);
  if (points.balance !== undefined && points.balance < points.ledgerPoints) {
    add('wrong-effect', `points balance ${points.balance} is below the ledger's ${points.ledgerPoints}`);
  }
  return found;
}

export function checkLedger(input: LedgerInput): LedgerReport {
  const { observations } = input;
  const findings = observations.flatMap(checkOrder);
  const status = (o: OrderObservation) => o.view?.status;
  const cancelledBy: Record<string, number> = {};
  for (const o of observations) {
    if (status(o) !== 'CANCELLED') continue;
    const reason = o.view?.failureReason ?? 'UNKNOWN';
    cancelledBy[reason] = (cancelledBy[reason] ?? 0) + 1;
  }
  const effects = {
    charges: observations.filter((o) => o.charge.exists).length,
    refunds: observations.reduce((sum, o) => sum + o.charge.refunds, 0),
    mails: observations.reduce((sum, o) => sum + o.mails.length, 0),
    pointsCredited: observations.reduce((sum, o) => sum + o.points.ledgerLines, 0),
    absorbedChargeCalls: observations.reduce((sum, o) => sum + Math.max(0, o.charge.calls - 1), 0),
    absorbedMailCalls: observations.reduce(
      (sum, o) => sum + o.mails.reduce((inner, mail) => inner + Math.max(0, mail.calls - 1), 0),
      0,
    ),
  };

  // Effects recorded by the provider during the run that no accepted order accounts for.
  const totals = input.sandboxTotals;
  const unexplained: Array<[keyof SandboxTotals, number]> = totals
    ? [
        ['charges', totals.after.charges - totals.before.charges - effects.charges],
        ['refunds', totals.after.refunds - totals.before.refunds - effects.refunds],
        ['mails', totals.after.mails - totals.before.mails - effects.mails],
      ]
    : [];
  for (const [what, extra] of unexplained) {
    if (extra > 0) {
      findings.push({
        orderId: '*',
        kind: 'duplicated-effect',
        detail: `${extra} ${what} at the provider that no accepted order accounts for`,
      });
    }
  }

  const countOf = (kind: FindingKind) => findings.filter((f) => f.kind === kind).length;
  const counts = {
    lostOrders: countOf('lost-order'),
    lostEffects: countOf('lost-effect'),
    duplicatedEffects: countOf('duplicated-effect'),
    wrongEffects: countOf('wrong-effect'),
  };
  const confirmed = observations.filter((o) => status(o) === 'CONFIRMED').length;
  const cancelled = observations.filter((o) => status(o) === 'CANCELLED').length;
  return {
    orders: {
      requested: input.requested,
      accepted: observations.length,
      rejected: input.rejected.length,
      terminal: confirmed + cancelled,
      confirmed,
      cancelled,
      cancelledBy,
      lost: counts.lostOrders,
    },
    effects,
    deadLetters: input.deadLetters,
    executionsRedriven: input.executionsRedriven,
    counts,
    findings,
    unclassified: observations
      .filter((o) => o.view?.status === 'CANCELLED' && o.view.failureReason === 'SAGA_FAILED')
      .map((o) => ({
        orderId: o.order.trackingId,
        detail: o.view?.timeline.find((t) => t.step === 'CancelOrder')?.detail ?? '(no detail)',
      })),
    ok: Object.values(counts).every((n) => n === 0),
  };
}
