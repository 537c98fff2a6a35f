/**
 * The chaos run's ledger checker and its reading of the template (which consumers get faults), without a running
 * system: observations in, findings out.
 */
import { describe, expect, it } from 'vitest';
import { checkLedger, type LedgerInput } from '../../../chaos/ledger.ts';
import type { OrderObservation } from '../../../chaos/orders.ts';
import { topologyOf } from '../../../chaos/topology.ts';

let counter = 0;

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
    view: { status: 'CONFIRMED', amount: 750, currency: 'EUR', failureReason: null, timeline: [] },
    charge: { exists: true, refunds: 0, calls: 1 },
    mails: [{ subject: 'Your order is confirmed', calls: 1 }],
    points: { ledgerLines: 1, ledgerPoints: 7, balance: 7 },
    ...overrides,
  };
}

function cancelled(overrides: Partial<OrderObservation> = {}): OrderObservation {
  const base = confirmed();
  return {
    ...base,
    view: {
      status: 'CANCELLED',
      amount: 750,
      currency: 'EUR',
      failureReason: 'PAYMENT_DECLINED',
      timeline: [],
    },
    charge: { exists: false, refunds: 0, calls: 1 },
    mails: [{ subject: 'Your order was cancelled', calls: 1 }],
    points: { ledgerLines: 0, ledgerPoints: 0, balance: undefined },
    ...overrides,
  };
}

/** The sandbox totals that exactly account for `observations`. */
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
    ...extra,
  };
}

describe('checkLedger', () => {
  it('passes a run where every order ended with each effect once', () => {
    const observations = [
      confirmed({ charge: { exists: true, refunds: 0, calls: 3 } }),
      cancelled(),
      cancelled({ charge: { exists: true, refunds: 1, calls: 4 } }),
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
    const pending = confirmed();
    pending.view = { status: 'PENDING', amount: null, currency: 'EUR', failureReason: null, timeline: [] };
    const vanished = confirmed({ view: undefined });

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
    const creditedTwice = confirmed({ points: { ledgerLines: 1, ledgerPoints: 7, balance: 14 } });
    const refundOnly = cancelled({ charge: { exists: false, refunds: 1, calls: 1 } });

    const report = checkLedger(input([twoMails, creditedTwice, refundOnly]));

    expect(report.counts.duplicatedEffects).toBe(3);
    expect(report.findings.map((f) => f.detail)).toEqual([
      '2 mails for one terminal event',
      "points balance 14 exceeds the ledger's 7: credited twice",
      'refund without a charge',
    ]);
  });

  it('finds lost and wrong effects', () => {
    const noPoints = confirmed({ points: { ledgerLines: 0, ledgerPoints: 0, balance: undefined } });
    const notRefunded = cancelled({ charge: { exists: true, refunds: 0, calls: 1 } });
    const noMail = cancelled({ mails: [] });
    const refundedButConfirmed = confirmed({ charge: { exists: true, refunds: 1, calls: 1 } });
    const wrongAmount = confirmed({ points: { ledgerLines: 1, ledgerPoints: 70, balance: 70 } });

    const report = checkLedger(input([noPoints, notRefunded, noMail, refundedButConfirmed, wrongAmount]));

    expect(report.counts).toEqual({ lostOrders: 0, lostEffects: 3, duplicatedEffects: 0, wrongEffects: 2 });
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

describe('checkLedger notes', () => {
  it('lists orders cancelled for an unclassified reason without failing the run', () => {
    const odd = cancelled({
      view: {
        status: 'CANCELLED',
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
