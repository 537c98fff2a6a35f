/**
 * The batch section's data and arithmetic (bench/sections/batch.ts runs it against the local runtime): the day of
 * orders it writes, the acquirer's file it imports, and the report's tables.
 */

export interface BatchStep {
  /** The function's logical id without its hash (`SettlementExportPage…`). */
  function: string;
  invocations: number;
  /** The largest heap any of its invocations used, in MB. */
  peakHeapMb: number;
}

export interface BatchRun {
  orders: number;
  seedSeconds: number;
  export: { status: string; rows: number; seconds: number; rowsPerSecond: number; steps: BatchStep[] };
  import: {
    status: string;
    lines: number;
    matched: number;
    mismatched: number;
    seconds: number;
    linesPerSecond: number;
    steps: BatchStep[];
  };
}

export const CANCELLED_EVERY = 10;
export const WRONG_AMOUNT_EVERY = 200;

export interface SeededOrder {
  orderId: string;
  status: 'CONFIRMED' | 'CANCELLED';
  amount: number;
  currency: string;
  paymentRef: string;
}

export const orderOf = (i: number, orderId: string): SeededOrder => ({
  orderId,
  status: i % CANCELLED_EVERY === 0 ? 'CANCELLED' : 'CONFIRMED',
  amount: 500 + ((i * 37) % 9500),
  currency: i % 3 === 0 ? 'USD' : 'EUR',
  paymentRef: `ch_bench_${i.toString(36)}`,
});

/** The acquirer's file: a line per confirmed order; one in `WRONG_AMOUNT_EVERY` says another amount. */
export function acquirerFile(date: string, orders: readonly SeededOrder[]): string {
  const lines = [`H,1,${date},acquirer`];
  let count = 0;
  orders.forEach((order, i) => {
    if (order.status !== 'CONFIRMED') return;
    const amount = i % WRONG_AMOUNT_EVERY === 1 ? order.amount + 1 : order.amount;
    const fee = Math.round(order.amount * 0.014);
    lines.push(`D,charge,${order.paymentRef},${order.orderId},${amount},${order.currency},${fee},settled`);
    count++;
  });
  lines.push(`T,${count}`, '');
  return lines.join('\n');
}

const mb = (n: number): string => n.toFixed(1);

/** The report's section: throughput per size, then each step's largest heap per size side by side. */
export function batchSection(runs: readonly BatchRun[]): string {
  const sizes = runs.map((r) => r.orders.toLocaleString('en-US'));
  const lines = [
    `A day of orders written into the table (one in ${CANCELLED_EVERY} CANCELLED), exported by \`buzzer batch run ` +
      'settlement` (STANDARD workflow: pages of the Settled index → part files in S3 → one file with header, trailer ' +
      "and manifest → the partner's SFTP folder), then the acquirer's file of the confirmed orders (one line in " +
      `${WRONG_AMOUNT_EVERY} with another amount) dropped into the inbox and imported chunk by chunk. Peak heap: the ` +
      'largest heap any invocation of the step used (sampled every 10 ms while it ran).',
    '',
    '| orders | export | rows | s | rows/s | import | lines | matched / mismatched | s | lines/s |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...runs.map(
      (r) =>
        `| ${r.orders.toLocaleString('en-US')} | ${r.export.status} | ${r.export.rows} | ${r.export.seconds.toFixed(1)} | ` +
        `${Math.round(r.export.rowsPerSecond)} | ${r.import.status} | ${r.import.lines} | ${r.import.matched} / ` +
        `${r.import.mismatched} | ${r.import.seconds.toFixed(1)} | ${Math.round(r.import.linesPerSecond)} |`,
    ),
    '',
    `| step | ${sizes.map((s) => `peak heap MB at ${s} (invocations)`).join(' | ')} |`,
    `|---|${sizes.map(() => '---').join('|')}|`,
  ];
  const stepNames = [
    ...new Set(runs.flatMap((r) => [...r.export.steps, ...r.import.steps].map((s) => s.function))),
  ];
  for (const name of stepNames) {
    const cells = runs.map((r) => {
      const step = [...r.export.steps, ...r.import.steps].find((s) => s.function === name);
      return step ? `${mb(step.peakHeapMb)} (${step.invocations})` : '–';
    });
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
