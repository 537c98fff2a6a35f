/**
 * The chaos run's ledger checker and its reading of the template (which consumers get faults), without a running
 * system: observations in, findings out.
 */
import { describe, expect, it } from 'vitest';
import { type ChaosReport, checkLedger, type LedgerInput } from '#chaos/ledger.ts';
import type { OrderObservation } from '#chaos/orders.ts';
import { formatReport } from '#chaos/report.ts';
import { topologyOf } from '#chaos/topology.ts';
import type { CatalogueItem } from '#functions/orders/pricing.ts';

let counter = 0;

const INITIAL_STOCK = 1000;
const catalogue = new Map<string, CatalogueItem>([
  [
    'espresso',
    { sku: 'espresso', available: INITIAL_STOCK, prices: { EUR: 250, JPY: 400, KWD: 85 }, points: 2 },
  ],
]);

/** 3 × espresso, €7.50, 6 points, charged, mailed and credited once. */
function confirmed(overrides: Partial<OrderObservation> = {}): OrderObservation {
  counter += 1;
  return {
    order: {
      trackingId: `order-${counter}`,
      idempotencyKey: `key-${counter}`,
      customerId: `customer-${counter}`,
      token: 'tok_ok',
      attempts: 1,
    },
    view: {
      status: 'CONFIRMED',
      items: [{ sku: 'espresso', quantity: 3 }],
      amount: 750,
      currency: 'EUR',
      failureReason: null,
      timeline: [],
    },
    charge: { exists: true, refunds: 0, calls: 1, amount: 750, currency: 'EUR' },
    reservation: { exists: true, released: false },
    mails: [{ subject: 'Your order is confirmed', calls: 1 }],
    points: { ledgerLines: 1, ledgerPoints: 6 },
    ...overrides,
  };
}

function cancelled(overrides: Partial<OrderObservation> = {}): OrderObservation {
  const base = confirmed();
  return {
    ...base,
    view: {
      status: 'CANCELLED',
      items: [{ sku: 'espresso', quantity: 3 }],
      amount: 750,
      currency: 'EUR',
      failureReason: 'PAYMENT_DECLINED',
      timeline: [],
    },
    charge: { exists: false, refunds: 0, calls: 1 },
    reservation: { exists: true, released: true },
    mails: [{ subject: 'Your order was cancelled', calls: 1 }],
    points: { ledgerLines: 0, ledgerPoints: 0 },
    ...overrides,
  };
}

/** Stock as the confirmed orders among `observations` leave it. */
function stockAfter(observations: OrderObservation[]): Map<string, number> {
  const taken = observations
    .filter((o) => o.view?.status === 'CONFIRMED')
    .flatMap((o) => o.view?.items ?? [])
    .reduce((sum, item) => sum + item.quantity, 0);
  return new Map([['espresso', INITIAL_STOCK - taken]]);
}

/** The sandbox totals and stock levels that exactly account for `observations`. */
function input(observations: OrderObservation[], extra: Partial<LedgerInput> = {}): LedgerInput {
  return {
    requested: observations.length,
    observations,
    rejected: [],
    sandboxTotals: {
      before: { charges: 10, refunds: 2, mails: 30 },
      after: {
        charges: 10 + observations.filter((o) => o.charge.exists).length,
        refunds: 2 + observations.reduce((n, o) => n + o.charge.refunds, 0),
        mails: 30 + observations.reduce((n, o) => n + o.mails.length, 0),
      },
    },
    deadLetters: [],
    executionsRedriven: 0,
    money: { catalogue, lowestStock: stockAfter(observations), finalStock: stockAfter(observations) },
    ...extra,
  };
}

describe('checkLedger', () => {
  it('passes a run where every order ended with each effect once', () => {
    const observations = [
      confirmed({ charge: { exists: true, refunds: 0, calls: 3, amount: 750, currency: 'EUR' } }),
      cancelled(),
      cancelled({ charge: { exists: true, refunds: 1, calls: 4, amount: 750, currency: 'EUR' } }),
    ];

    const report = checkLedger(input(observations));

    expect(report.ok).toBe(true);
    expect(report.findings).toEqual([]);
    expect(report.orders).toMatchObject({ accepted: 3, terminal: 3, confirmed: 1, cancelled: 2, lost: 0 });
    expect(report.orders.cancelledBy).toEqual({ PAYMENT_DECLINED: 2 });
    expect(report.effects).toMatchObject({ charges: 2, refunds: 1, mails: 3, pointsCredited: 1 });
    expect(report.effects.absorbedChargeCalls).toBe(2 + 0 + 3);
  });

  it('counts accepted orders that never ended, or vanished, as lost', () => {
    const noPoints = { ledgerLines: 0, ledgerPoints: 0 };
    const pending = confirmed({ points: noPoints, reservation: { exists: false, released: false } });
    pending.view = {
      status: 'PENDING',
      items: [{ sku: 'espresso', quantity: 3 }],
      amount: null,
      currency: 'EUR',
      failureReason: null,
      timeline: [],
    };
    const vanished = confirmed({ view: undefined, points: noPoints });

    const report = checkLedger(input([pending, vanished, confirmed()]));

    expect(report.ok).toBe(false);
    expect(report.counts.lostOrders).toBe(2);
    expect(report.findings.map((f) => f.orderId)).toEqual([
      pending.order.trackingId,
      vanished.order.trackingId,
    ]);
  });

  it('finds doubled effects: two mails, points credited twice, a refund without a charge', () => {
    const twoMails = confirmed({
      mails: [
        { subject: 'a', calls: 1 },
        { subject: 'b', calls: 1 },
      ],
    });
    const creditedTwice = confirmed({ points: { ledgerLines: 2, ledgerPoints: 12 } });
    const refundOnly = cancelled({ charge: { exists: false, refunds: 1, calls: 1 } });

    const report = checkLedger(input([twoMails, creditedTwice, refundOnly]));

    expect(report.counts.duplicatedEffects).toBe(3);
    expect(report.findings.filter((f) => f.kind === 'duplicated-effect').map((f) => f.detail)).toEqual([
      '2 mails for one terminal event',
      '2 points ledger lines',
      'refund without a charge',
    ]);
  });

  it('finds lost and wrong effects', () => {
    const noPoints = confirmed({ points: { ledgerLines: 0, ledgerPoints: 0 } });
    const notRefunded = cancelled({
      charge: { exists: true, refunds: 0, calls: 1, amount: 750, currency: 'EUR' },
    });
    const noMail = cancelled({ mails: [] });
    const pointsOnCancelled = cancelled({ points: { ledgerLines: 1, ledgerPoints: 6 } });

    const report = checkLedger(input([noPoints, notRefunded, noMail, pointsOnCancelled]));

    expect(report.counts).toEqual({
      lostOrders: 0,
      lostEffects: 3,
      duplicatedEffects: 0,
      wrongEffects: 1,
      // The points rule, per customer, disagrees twice: nothing credited, and credited for a cancelled order.
      money: 2,
    });
    expect(report.ok).toBe(false);
  });

  it('finds effects at the provider that no accepted order accounts for', () => {
    const observations = [confirmed()];
    const { sandboxTotals, ...rest } = input(observations);
    const after = sandboxTotals?.after ?? { charges: 0, refunds: 0, mails: 0 };

    const report = checkLedger({
      ...rest,
      sandboxTotals: {
        before: sandboxTotals?.before ?? after,
        after: { ...after, charges: after.charges + 2 },
      },
    });
    const shared = checkLedger({ ...rest });

    expect(report.findings).toEqual([
      {
        orderId: '*',
        kind: 'duplicated-effect',
        detail: '2 charges at the provider that no accepted order accounts for',
      },
    ]);
    expect(shared.findings).toEqual([]);
  });
});

describe('checkLedger money check', () => {
  /** A confirmed order of 2 × espresso in `currency`, charged and credited exactly by the rules. */
  const paidIn = (
    currency: 'EUR' | 'JPY' | 'KWD',
    amount: number,
    overrides: Partial<OrderObservation> = {},
  ) => {
    const base = confirmed();
    return confirmed({
      view: {
        ...(base.view as NonNullable<OrderObservation['view']>),
        items: [{ sku: 'espresso', quantity: 2 }],
        currency,
        amount,
      },
      charge: { exists: true, refunds: 0, calls: 1, amount, currency },
      points: { ledgerLines: 1, ledgerPoints: 4 },
      ...overrides,
    });
  };
  const moneyFindings = (observations: OrderObservation[], extra: Partial<LedgerInput> = {}) =>
    checkLedger(input(observations, extra)).findings.filter((f) => f.kind === 'money');

  it('passes charges of each currency at its own price, and the same points for the same basket', () => {
    const observations = [paidIn('EUR', 500), paidIn('JPY', 800), paidIn('KWD', 170), cancelled()];

    const report = checkLedger(input(observations));

    expect(report.findings).toEqual([]);
    expect(report.money).toEqual({
      chargesChecked: 3,
      wrongAmounts: 0,
      confirmedButUndone: 0,
      stockMismatches: 0,
      pointsMismatches: 0,
      stockTotalsChecked: true,
    });
    expect(report.ok).toBe(true);
  });

  it('finds a charge that is not the priced total in the order currency (the euro number charged in yen)', () => {
    const yenAsCents = paidIn('JPY', 800, {
      charge: { exists: true, refunds: 0, calls: 1, amount: 500, currency: 'JPY' },
    });
    const otherCurrency = paidIn('EUR', 500, {
      charge: { exists: true, refunds: 0, calls: 1, amount: 500, currency: 'USD' },
    });
    const orderAmountOff = paidIn('KWD', 170, {
      view: { ...(paidIn('KWD', 170).view as NonNullable<OrderObservation['view']>), amount: 500 },
    });

    const report = checkLedger(input([yenAsCents, otherCurrency, orderAmountOff]));

    expect(report.money.wrongAmounts).toBe(3);
    expect(report.findings.map((f) => [f.orderId, f.detail])).toEqual([
      [yenAsCents.order.trackingId, "charged 500 JPY, but the order's priced total is 800 JPY (minor units)"],
      [
        otherCurrency.order.trackingId,
        "charged 500 USD, but the order's priced total is 500 EUR (minor units)",
      ],
      [orderAmountOff.order.trackingId, 'order amount 500 KWD, priced total 170'],
    ]);
    expect(report.ok).toBe(false);
  });

  it('finds a charge for an order the catalogue cannot price in its currency', () => {
    const unpriced = paidIn('EUR', 500);
    if (unpriced.view) unpriced.view.currency = 'USD';
    unpriced.charge = { exists: true, refunds: 0, calls: 1, amount: 500, currency: 'USD' };

    expect(moneyFindings([unpriced]).map((f) => f.detail)).toEqual([
      'charged 500 USD but the order cannot be priced: no price in USD for sku espresso',
    ]);
  });

  it('finds a CONFIRMED order whose charge was refunded or whose reservation was released', () => {
    const refunded = confirmed({
      charge: { exists: true, refunds: 1, calls: 1, amount: 750, currency: 'EUR' },
    });
    const released = confirmed({ reservation: { exists: true, released: true } });

    const report = checkLedger(input([refunded, released]));

    expect(report.money.confirmedButUndone).toBe(2);
    expect(report.findings.filter((f) => f.kind === 'money').map((f) => [f.orderId, f.detail])).toEqual([
      [refunded.order.trackingId, 'confirmed but its charge was refunded'],
      [released.order.trackingId, 'confirmed but its stock reservation was released'],
    ]);
  });

  it('finds stock that went below zero, or ended other than initial − confirmed quantities', () => {
    const observations = [confirmed(), cancelled()];
    const fine = stockAfter(observations);

    const negative = moneyFindings(observations, {
      money: { catalogue, lowestStock: new Map([['espresso', -1]]), finalStock: fine },
    });
    // A confirmed order's stock put back on the shelf (released by a compensation that raced the confirm).
    const putBack = moneyFindings(observations, {
      money: { catalogue, lowestStock: fine, finalStock: new Map([['espresso', INITIAL_STOCK]]) },
    });
    const shared = moneyFindings(observations, { money: { catalogue, lowestStock: fine } });

    expect(negative.map((f) => f.detail)).toEqual(['stock of espresso went down to -1']);
    expect(putBack.map((f) => f.detail)).toEqual([
      `stock of espresso ends at ${INITIAL_STOCK}, expected ${INITIAL_STOCK - 3} (${INITIAL_STOCK} − 3 confirmed)`,
    ]);
    expect(shared).toEqual([]);
  });

  it("finds a customer whose points are not the rule applied to the customer's confirmed orders", () => {
    const first = paidIn('EUR', 500);
    const customerId = first.order.customerId;
    // Two confirmed orders of one customer (4 points each), but the ledger holds only one.
    const second = paidIn('JPY', 800, { order: { ...first.order, trackingId: 'order-second' } });
    const hundredfold = paidIn('JPY', 800, { points: { ledgerLines: 1, ledgerPoints: 400 } });

    const report = checkLedger(input([first, second, hundredfold]));

    expect(report.money.pointsMismatches).toBe(2);
    expect(report.findings.filter((f) => f.kind === 'money').map((f) => f.detail)).toEqual([
      `customer ${customerId} has 4 points, the rule gives 8`,
      `customer ${hundredfold.order.customerId} has 400 points, the rule gives 4`,
    ]);
  });

  const report = (observations: OrderObservation[], extra: Partial<ChaosReport> = {}): ChaosReport => ({
    ...checkLedger(input(observations)),
    profile: 'none',
    seed: 1,
    concurrency: 1,
    faults: {
      workflowType: 'STANDARD',
      invocations: {},
      putEventsFailures: 0,
      busDuplicates: 0,
      executions: { duplicates: 0, restarts: 0, abandoned: 0 },
    },
    timingsMs: { drive: 1, settle: 1, redrive: 1, total: 3 },
    acceptRate: 1,
    notes: [],
    trails: [],
    ...extra,
  });

  it('prints a money line, OK or FAILED, and the run fails on a money finding', () => {
    const clean = report([paidIn('JPY', 800)]);
    const wrong = report([
      paidIn('JPY', 800, { charge: { exists: true, refunds: 0, calls: 1, amount: 500, currency: 'JPY' } }),
    ]);

    expect(formatReport(clean)).toMatch(/money {6}charges checked 1 {2}wrong amounts 0 .* → OK\n/);
    expect(formatReport(wrong)).toMatch(/money {6}charges checked 1 {2}wrong amounts 1 .* → FAILED\n/);
    expect(formatReport(wrong)).toMatch(/money 1 {2}→ FAILED/);
    expect([clean.ok, wrong.ok]).toEqual([true, false]);
  });

  it("prints the run's notes and where each lost order stopped, and nothing of either when there is none", () => {
    const trail = {
      orderId: 'order-lost',
      order: 'status PENDING, version 4, compensatingAt 2026-12-06T10:00:02.000Z',
      timeline: ['2026-12-06T10:00:02.000Z Compensate SUCCEEDED (PAYMENT_UNAVAILABLE)'],
      recovery: '1 attempts, last restarted: EXPRESS saga left the order PENDING',
      executions: [
        {
          name: 'order-order-lost',
          status: 'ABORTED',
          startDate: '2026-12-06T10:00:00.000Z',
          stopDate: '2026-12-06T10:00:03.000Z',
          lastEvents: ['TaskStateEntered VoidPayment', 'ExecutionAborted : Local.ExpressRestart'],
        },
      ],
    };

    const printed = formatReport(
      report([paidIn('JPY', 800)], {
        notes: ['cannot restart the saga of order-lost: refused'],
        trails: [trail],
      }),
    );

    expect(printed).toContain('\nnotes:\n  cannot restart the saga of order-lost: refused\n');
    expect(printed).toContain(
      '\nwhere the lost orders stopped:\n' +
        '  order-lost: status PENDING, version 4, compensatingAt 2026-12-06T10:00:02.000Z; 1 attempts, last restarted: EXPRESS saga left the order PENDING\n' +
        '    timeline  2026-12-06T10:00:02.000Z Compensate SUCCEEDED (PAYMENT_UNAVAILABLE)\n' +
        '    execution order-order-lost ABORTED 2026-12-06T10:00:00.000Z → 2026-12-06T10:00:03.000Z\n' +
        '      TaskStateEntered VoidPayment\n' +
        '      ExecutionAborted : Local.ExpressRestart\n',
    );
    expect(formatReport(report([paidIn('JPY', 800)]))).not.toMatch(/notes:|where the lost orders stopped/);
  });
});

describe('checkLedger notes', () => {
  it('lists orders cancelled for an unclassified reason without failing the run', () => {
    const odd = cancelled({
      view: {
        status: 'CANCELLED',
        items: [{ sku: 'espresso', quantity: 3 }],
        amount: 750,
        currency: 'EUR',
        failureReason: 'SAGA_FAILED',
        timeline: [{ step: 'CancelOrder', status: 'SUCCEEDED', detail: 'SAGA_FAILED: Lambda.Unknown' }],
      },
    });

    const report = checkLedger(input([odd]));

    expect(report.ok).toBe(true);
    expect(report.unclassified).toEqual([
      { orderId: odd.order.trackingId, detail: 'SAGA_FAILED: Lambda.Unknown' },
    ]);
  });
});

describe('topologyOf', () => {
  it('finds queue consumers, stream consumers, saga steps and dead-letter sources in a template', () => {
    const template = {
      Resources: {
        Table: { Type: 'AWS::DynamoDB::Table' },
        Dlq: { Type: 'AWS::SQS::Queue' },
        Queue: {
          Type: 'AWS::SQS::Queue',
          Properties: {
            RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 5 },
          },
        },
        Worker: { Type: 'AWS::Lambda::Function' },
        Relay: { Type: 'AWS::Lambda::Function' },
        Step: { Type: 'AWS::Lambda::Function' },
        WorkerMapping: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: { FunctionName: { Ref: 'Worker' }, EventSourceArn: { 'Fn::GetAtt': ['Queue', 'Arn'] } },
        },
        RelayMapping: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: {
            FunctionName: { Ref: 'Relay' },
            EventSourceArn: { 'Fn::GetAtt': ['Table', 'StreamArn'] },
          },
        },
        Machine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            DefinitionString: {
              'Fn::Join': ['', ['{"Resource":"', { 'Fn::GetAtt': ['Step', 'Arn'] }, '"}']],
            },
          },
        },
      },
    };

    expect(topologyOf(template)).toEqual({
      sqsConsumers: [{ functionLogicalId: 'Worker', queueLogicalId: 'Queue' }],
      streamConsumers: ['Relay'],
      stateMachineSteps: ['Step'],
      deadLetterSources: { Dlq: ['Queue'] },
    });
  });
});
