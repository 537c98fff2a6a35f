/**
 * The ledger check at the end of a chaos run, in the manner of Jepsen's total-queue checker: every order the system
 * accepted must have ended (nothing lost), and every effect it asked for must have happened exactly once at the
 * receiving side (nothing doubled): one charge kept or refunded, one mail per terminal event, one points credit per
 * confirmed order. The money check then compares amounts, not just counts: each charge against the order's price by
 * the catalogue's rules (pricing.ts), stock against what the confirmed orders took, points against the points rule.
 * It is a pure function of what was observed, so it can be tested without a running system.
 */
import { isSupportedCurrency } from '#functions/orders/currency.ts';
import { type Catalogue, pointsFor, priceOrder } from '#functions/orders/pricing.ts';
import type { FaultStats } from './faults.ts';
import type { OrderObservation, OrderView, Rejection } from './orders.ts';
import type { DeadLetterOutcome } from './queues.ts';
import type { OrderTrail } from './trail.ts';

export type FindingKind = 'lost-order' | 'lost-effect' | 'duplicated-effect' | 'wrong-effect' | 'money';

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
  money: MoneyInput;
}

export interface MoneyInput {
  /** The menu's catalogue items read before the run: the prices and points orders are checked against, and the
   * stock levels it started from. */
  catalogue: Catalogue;
  /** The lowest stock level per SKU seen during and after the run (sampled). */
  lowestStock: ReadonlyMap<string, number>;
  /**
   * Stock levels after the run. Left out when other traffic shares the stack (a shared deployed stack), where the
   * difference from the start proves nothing.
   */
  finalStock?: ReadonlyMap<string, number>;
}

export interface MoneyReport {
  /** Charges whose amount and currency were compared with the order's priced total. */
  chargesChecked: number;
  /** A charge (or the order's own amount) that differs from the priced total in the order's currency. */
  wrongAmounts: number;
  /** CONFIRMED orders whose charge was refunded or whose stock reservation was released. */
  confirmedButUndone: number;
  /** SKUs whose stock went below zero, or ended other than initial − confirmed quantities. */
  stockMismatches: number;
  /** Customers whose points differ from the points rule applied to their confirmed orders. */
  pointsMismatches: number;
  /** Whether the final stock levels were compared (only when the run had the stack to itself). */
  stockTotalsChecked: boolean;
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
  money: MoneyReport;
  counts: {
    lostOrders: number;
    lostEffects: number;
    duplicatedEffects: number;
    wrongEffects: number;
    money: number;
  };
  findings: Finding[];
  /**
   * Orders cancelled for a reason the saga could not classify (`SAGA_FAILED`: an error that is no verdict on the
   * order and outlasted the step's retries), with the CancelOrder detail. Not a safety violation (the effects are
   * checked like any other), but worth a look.
   */
  unclassified: Array<{ orderId: string; detail: string }>;
  /** Nothing lost, nothing doubled, nothing wrong, the money check clean. */
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
  /** What the run could not do as an operator would (a restart recovery refused, a redrive that failed). */
  notes: string[];
  /** Where each lost order stopped, read before the runtime stopped (empty when nothing was lost). */
  trails: OrderTrail[];
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

  if (view.status === 'CONFIRMED') {
    if (!charge.exists) add('lost-effect', 'confirmed without a charge');
    if (points.ledgerLines === 0) add('lost-effect', 'confirmed but no points were credited');
  }
  if (view.status === 'CANCELLED') {
    if (charge.exists && charge.refunds === 0)
      add('lost-effect', 'cancelled but its charge was never refunded');
    if (points.ledgerLines > 0) add('wrong-effect', 'cancelled but points were credited');
  }
  if (view.status !== 'PENDING' && mails.length === 0)
    add('lost-effect', `${view.status} but no mail was sent`);
  return found;
}

type MoneyFinding = Finding & { check: Exclude<keyof MoneyReport, 'chargesChecked' | 'stockTotalsChecked'> };

/** The priced total of an order by the catalogue's rules, or why it cannot be priced. */
function pricedTotal(view: OrderView, catalogue: Catalogue): { amount: number } | { problem: string } {
  if (!isSupportedCurrency(view.currency)) return { problem: `unsupported currency ${view.currency}` };
  try {
    return priceOrder(view.items, catalogue, view.currency);
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error) };
  }
}

function checkOrderMoney(observation: OrderObservation, catalogue: Catalogue): MoneyFinding[] {
  const { order, view, charge, reservation } = observation;
  if (!view) return [];
  const found: MoneyFinding[] = [];
  const add = (check: MoneyFinding['check'], detail: string) =>
    found.push({ orderId: order.trackingId, kind: 'money', check, detail });

  const priced = pricedTotal(view, catalogue);
  if (charge.exists) {
    if ('problem' in priced) {
      add(
        'wrongAmounts',
        `charged ${charge.amount} ${charge.currency} but the order cannot be priced: ${priced.problem}`,
      );
    } else if (charge.amount !== priced.amount || charge.currency !== view.currency) {
      add(
        'wrongAmounts',
        `charged ${charge.amount} ${charge.currency}, but the order's priced total is ${priced.amount} ${view.currency} (minor units)`,
      );
    }
  }
  if (view.amount !== null && 'amount' in priced && view.amount !== priced.amount) {
    add('wrongAmounts', `order amount ${view.amount} ${view.currency}, priced total ${priced.amount}`);
  }
  if (view.status === 'CONFIRMED') {
    if (charge.refunds > 0) add('confirmedButUndone', 'confirmed but its charge was refunded');
    if (reservation.released) add('confirmedButUndone', 'confirmed but its stock reservation was released');
  }
  return found;
}

/** Stock: never below zero, and (with the stack to itself) initial − confirmed quantities at the end. */
function checkStock(observations: OrderObservation[], money: MoneyInput): MoneyFinding[] {
  const found: MoneyFinding[] = [];
  const add = (detail: string) =>
    found.push({ orderId: '*', kind: 'money', check: 'stockMismatches', detail });
  const taken = new Map<string, number>();
  for (const { view } of observations) {
    if (view?.status !== 'CONFIRMED') continue;
    for (const item of view.items) taken.set(item.sku, (taken.get(item.sku) ?? 0) + item.quantity);
  }
  for (const [sku, item] of money.catalogue) {
    const lowest = money.lowestStock.get(sku);
    if (lowest !== undefined && lowest < 0) add(`stock of ${sku} went down to ${lowest}`);
    const final = money.finalStock?.get(sku);
    if (money.finalStock === undefined) continue;
    const expected = item.available - (taken.get(sku) ?? 0);
    if (final !== expected) {
      add(
        `stock of ${sku} ends at ${final ?? 'nothing'}, expected ${expected} (${item.available} − ${taken.get(sku) ?? 0} confirmed)`,
      );
    }
  }
  return found;
}

/** Points per customer: what the rule gives for the customer's confirmed orders, against the ledger's sum. */
function checkPoints(observations: OrderObservation[], catalogue: Catalogue): MoneyFinding[] {
  const customers = new Map<string, { expected: number; points: OrderObservation['points'] }>();
  for (const o of observations) {
    const customer = customers.get(o.order.customerId) ?? { expected: 0, points: o.points };
    if (o.view?.status === 'CONFIRMED') customer.expected += pointsFor(o.view.items, catalogue);
    customers.set(o.order.customerId, customer);
  }
  const found: MoneyFinding[] = [];
  for (const [customerId, { expected, points }] of customers) {
    if (points.ledgerPoints !== expected) {
      found.push({
        orderId: '*',
        kind: 'money',
        check: 'pointsMismatches',
        detail: `customer ${customerId} has ${points.ledgerPoints} points, the rule gives ${expected}`,
      });
    }
  }
  return found;
}

function checkMoney(input: LedgerInput): { report: MoneyReport; findings: Finding[] } {
  const { observations, money } = input;
  const found = [
    ...observations.flatMap((o) => checkOrderMoney(o, money.catalogue)),
    ...checkStock(observations, money),
    ...checkPoints(observations, money.catalogue),
  ];
  const countOf = (check: MoneyFinding['check']) => found.filter((f) => f.check === check).length;
  return {
    report: {
      chargesChecked: observations.filter((o) => o.view && o.charge.exists).length,
      wrongAmounts: countOf('wrongAmounts'),
      confirmedButUndone: countOf('confirmedButUndone'),
      stockMismatches: countOf('stockMismatches'),
      pointsMismatches: countOf('pointsMismatches'),
      stockTotalsChecked: money.finalStock !== undefined,
    },
    findings: found.map(({ check: _, ...finding }) => finding),
  };
}

export function checkLedger(input: LedgerInput): LedgerReport {
  const { observations } = input;
  const money = checkMoney(input);
  const findings = [...observations.flatMap(checkOrder), ...money.findings];
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
    money: countOf('money'),
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
    money: money.report,
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
