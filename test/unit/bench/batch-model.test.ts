import { describe, expect, it } from 'vitest';
import { parseImportRecord } from '#functions/settlement/import-format.ts';
import { acquirerFile, type BatchRun, batchSection, orderOf } from '../../../bench/batch-model.ts';

const orders = Array.from({ length: 12 }, (_, i) =>
  orderOf(i, `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`),
);

describe('the batch section’s day of orders', () => {
  it('cancels one order in ten and gives the confirmed ones a payment reference', () => {
    expect(orders.filter((o) => o.status === 'CANCELLED').map((o) => o.orderId.slice(-2))).toEqual([
      '00',
      '10',
    ]);
    expect(new Set(orders.map((o) => o.paymentRef)).size).toBe(orders.length);
  });
});

describe('acquirerFile', () => {
  it('writes a file the import reads: a header, a charge per confirmed order, one with another amount, a trailer', () => {
    const records = acquirerFile('2026-11-06', orders)
      .split('\n')
      .filter(Boolean)
      .map((line, i) => parseImportRecord(line, i + 1));

    expect(records[0]).toEqual({ kind: 'header', date: '2026-11-06', acquirer: 'acquirer' });
    expect(records.at(-1)).toEqual({ kind: 'trailer', count: 10 });
    const details = records.flatMap((r) => (r.kind === 'detail' ? [r.detail] : []));
    expect(details).toHaveLength(10);
    const differing = details.filter((d) => d.amount !== orders.find((o) => o.orderId === d.orderId)?.amount);
    expect(differing.map((d) => d.orderId)).toEqual([orders[1]?.orderId]);
  });
});

describe('batchSection', () => {
  it('puts each size in a row and each step’s peak heap per size side by side', () => {
    const run = (orders: number, applyHeap: number): BatchRun => ({
      orders,
      seedSeconds: 1,
      export: {
        status: 'SUCCEEDED',
        rows: orders,
        seconds: 10,
        rowsPerSecond: orders / 10,
        steps: [{ function: 'SettlementPageFunction', invocations: orders / 500, peakHeapMb: 31 }],
      },
      import: {
        status: 'SUCCEEDED',
        lines: orders * 0.9,
        matched: orders * 0.9 - 5,
        mismatched: 5,
        seconds: 20,
        linesPerSecond: (orders * 0.9) / 20,
        steps: [{ function: 'SettlementImportApplyFunction', invocations: 4, peakHeapMb: applyHeap }],
      },
    });

    const section = batchSection([run(10_000, 70.5), run(100_000, 75.64)]);

    expect(section).toContain(
      '| 10,000 | SUCCEEDED | 10000 | 10.0 | 1000 | SUCCEEDED | 9000 | 8995 / 5 | 20.0 | 450 |',
    );
    expect(section).toContain('| SettlementImportApplyFunction | 70.5 (4) | 75.6 (4) |');
    expect(section).toContain('| SettlementPageFunction | 31.0 (20) | 31.0 (200) |');
  });
});
