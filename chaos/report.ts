/** The human form of a chaos report: a short table, then the findings (if any) that make the run fail. */
import type { ChaosReport } from './ledger.ts';
import { formatTrails } from './trail.ts';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const list = (record: Record<string, number>) =>
  Object.entries(record)
    .sort(([, a], [, b]) => b - a)
    .map(([key, n]) => `${key} ${n}`)
    .join(', ');

/** At most this many findings are printed; `--json` has them all. */
const PRINTED_FINDINGS = 25;

export function formatReport(report: ChaosReport): string {
  const { orders, effects, counts, faults } = report;
  const rows: Array<[string, string]> = [
    [
      'orders',
      `requested ${orders.requested}  accepted ${orders.accepted}  rejected ${orders.rejected}  ` +
        `confirmed ${orders.confirmed}  cancelled ${orders.cancelled}${orders.cancelled ? ` (${list(orders.cancelledBy)})` : ''}`,
    ],
    [
      'effects',
      `charges ${effects.charges}  refunds ${effects.refunds}  mails ${effects.mails}  points ${effects.pointsCredited}  ` +
        `(repeat calls absorbed by idempotency keys: charges ${effects.absorbedChargeCalls}, mails ${effects.absorbedMailCalls})`,
    ],
  ];
  const invocationFaults = Object.entries(faults.invocations)
    .map(
      ([fn, c]) =>
        `${fn} ${[c.error && `${c.error} failed`, c.crash && `${c.crash} crashed`, c.duplicate && `${c.duplicate} twice`].filter(Boolean).join('/')}`,
    )
    .join(', ');
  rows.push([
    'faults',
    [
      invocationFaults || 'no invocation faults',
      `PutEvents entry failures ${faults.putEventsFailures}`,
      `bus duplicates ${faults.busDuplicates}`,
    ].join('; '),
  ]);
  const { executions } = faults;
  rows.push([
    'saga',
    `${faults.workflowType}` +
      (faults.workflowType === 'EXPRESS'
        ? `: duplicate starts ${executions.duplicates}, restarts from the beginning ${executions.restarts} ` +
          `(${executions.abandoned} abandoning the original)`
        : ''),
  ]);
  rows.push([
    'DLQs',
    report.deadLetters.length === 0
      ? 'empty'
      : report.deadLetters
          .map(
            (d) =>
              `${d.queue}: ${d.found} found, ${d.redriven} redriven${d.problem ? ` (${d.problem})` : ''}`,
          )
          .join('; '),
  ]);
  rows.push(['executions', `redriven ${report.executionsRedriven}`]);
  rows.push([
    'check',
    `lost orders ${counts.lostOrders}  lost effects ${counts.lostEffects}  duplicated effects ${counts.duplicatedEffects}  ` +
      `wrong effects ${counts.wrongEffects}  money ${counts.money}  → ${report.ok ? 'OK' : 'FAILED'}`,
  ]);
  const { money } = report;
  rows.push([
    'money',
    `charges checked ${money.chargesChecked}  wrong amounts ${money.wrongAmounts}  ` +
      `confirmed but refunded/released ${money.confirmedButUndone}  ` +
      `stock off ${money.stockMismatches}${money.stockTotalsChecked ? '' : ' (never negative; totals not checked on a shared stack)'}  ` +
      `points off ${money.pointsMismatches}  → ${counts.money === 0 ? 'OK' : 'FAILED'}`,
  ]);
  rows.push([
    'time',
    `drive ${seconds(report.timingsMs.drive)} (${report.acceptRate.toFixed(1)} orders/s)  settle ${seconds(report.timingsMs.settle)}  ` +
      `redrive ${seconds(report.timingsMs.redrive)}  total ${seconds(report.timingsMs.total)}`,
  ]);
  const header = `Buzzer chaos run: profile ${report.profile}, ${orders.requested} orders, concurrency ${report.concurrency}, seed ${report.seed}`;
  const lines = [header, ...rows.map(([label, text]) => `  ${label.padEnd(11)}${text}`)];
  if (report.unclassified.length > 0) {
    lines.push('', 'cancelled for an unclassified reason (SAGA_FAILED; not a violation, worth a look):');
    for (const { orderId, detail } of report.unclassified.slice(0, PRINTED_FINDINGS)) {
      lines.push(`  ${orderId}  ${detail}`);
    }
  }
  if (report.findings.length > 0) {
    lines.push('', 'findings:');
    for (const finding of report.findings.slice(0, PRINTED_FINDINGS)) {
      lines.push(`  ${finding.kind.padEnd(18)} ${finding.orderId}  ${finding.detail}`);
    }
    if (report.findings.length > PRINTED_FINDINGS) {
      lines.push(`  … ${report.findings.length - PRINTED_FINDINGS} more (--json lists them all)`);
    }
  }
  if (report.notes.length > 0) lines.push('', 'notes:', ...report.notes.map((note) => `  ${note}`));
  if (report.trails.length > 0)
    lines.push('', 'where the lost orders stopped:', ...formatTrails(report.trails));
  return `${lines.join('\n')}\n`;
}
