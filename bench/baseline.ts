/**
 * Before and after: the same sections measured at an earlier commit (its own `npm run bench`, its results JSON given
 * with `--baseline=`) set beside this run's, row by row, in the report. Only what both runs measured is compared, and
 * the table says which run each side is and under what load, since throughput on a shared machine moves with it.
 */
import type { BenchResults } from './report.ts';
import type { PathCost } from './sections/cost.ts';
import type { TerminalRun } from './sections/terminal.ts';
import { ms, markdownTable as table, usd } from './stats.ts';

/** The load-dependent cost line: durations measured on this machine, under whatever else ran on it. */
export const MEASURED_DURATION_LINE = 'Lambda duration (arm64)';

/** How a report's note begins when some of its sections come from an earlier run (report.ts `mergeEarlier`). */
const EARLIER_RUN_NOTE = /^Sections .* come from an earlier run/;

/** What the comparison keeps of the earlier run. */
export interface Baseline {
  /** The results file it came from, as given on the command line. */
  source: string;
  startedAt: string;
  loadAverageStart: number;
  /** Its notes naming the runs its sections came from, when it merged several (`--only` runs of one day). */
  provenance?: string[];
  terminal: TerminalRun[];
  cost: PathCost[];
}

export function baselineOf(source: string, earlier: BenchResults): Baseline {
  return {
    source,
    startedAt: earlier.startedAt,
    loadAverageStart: earlier.machine.loadAverageStart,
    provenance: earlier.notes.filter((note) => EARLIER_RUN_NOTE.test(note)),
    terminal: earlier.terminal ?? [],
    cost: earlier.cost ?? [],
  };
}

const rate = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const ratio = (after: number, before: number) =>
  Number.isFinite(after) && Number.isFinite(before) && before > 0 ? `${(after / before).toFixed(2)}×` : '–';
const latency = (t: TerminalRun) => `${ms(t.timeToTerminal.p50)} / ${ms(t.timeToTerminal.p99)}`;
const withoutDuration = (c: PathCost) =>
  c.usdPerMillion - (c.lines.find((l) => l.service === MEASURED_DURATION_LINE)?.usd ?? 0) * 1e6;

/** Time to terminal at each arrival rate both runs offered. */
export function terminalComparison(
  before: readonly TerminalRun[],
  after: readonly TerminalRun[],
): string[][] {
  return after.flatMap((now) => {
    const then = before.find((t) => t.ratePerSecond === now.ratePerSecond);
    if (!then) return [];
    return [
      [
        String(now.ratePerSecond),
        latency(then),
        latency(now),
        `${rate(then.completionRate)}${then.saturated ? ' (saturated)' : ''}`,
        `${rate(now.completionRate)}${now.saturated ? ' (saturated)' : ''}`,
        ratio(now.completionRate, then.completionRate),
      ],
    ];
  });
}

/** Cost per million orders and write units per order for each saga and path both runs metered. */
export function costComparison(before: readonly PathCost[], after: readonly PathCost[]): string[][] {
  return after.flatMap((now) => {
    const then = before.find((c) => c.workflowType === now.workflowType && c.path === now.path);
    if (!then) return [];
    return [
      [
        `${now.workflowType} ${now.path}`,
        `${usd(then.usdPerMillion)} → **${usd(now.usdPerMillion)}**`,
        `${usd(withoutDuration(then))} → ${usd(withoutDuration(now))}`,
        `${then.usage.dynamodbWriteUnits.toFixed(1)} → ${now.usage.dynamodbWriteUnits.toFixed(1)}`,
        now.workflowType === 'STANDARD'
          ? `${then.usage.stepFunctionsTransitions.toFixed(1)} → ${now.usage.stepFunctionsTransitions.toFixed(1)}`
          : '–',
        `${then.usage.lambdaInvocations.toFixed(2)} → ${now.usage.lambdaInvocations.toFixed(2)}`,
      ],
    ];
  });
}

/** The report's before/after section, or undefined when the run was given no baseline or shares no section with it. */
export function beforeAfterSection(r: BenchResults): string | undefined {
  const b = r.baseline;
  if (!b) return undefined;
  const terminal = terminalComparison(b.terminal, r.terminal);
  const cost = costComparison(b.cost, r.cost);
  if (terminal.length === 0 && cost.length === 0) return undefined;
  const parts = [
    `Before: \`${b.source}\`, an earlier commit's \`npm run bench\` on this machine (its last run started ` +
      `${b.startedAt}, load average ${b.loadAverageStart.toFixed(1)} at its start${
        b.provenance?.length ? `; ${b.provenance.map((note) => note.replace(/\.$/, '')).join('; ')}` : ''
      }). After: this report's own sections (their runs are named in the notes at the end).`,
  ];
  if (terminal.length > 0) {
    parts.push(
      table(
        [
          'arrivals/s',
          'before: 202 → terminal p50 / p99 ms',
          'after: p50 / p99 ms',
          'before: completed/s',
          'after: completed/s',
          'completed/s after ÷ before',
        ],
        terminal,
      ),
    );
  }
  if (cost.length > 0) {
    parts.push(
      table(
        [
          'saga, path',
          '$ per million orders',
          'without the measured Lambda duration',
          'DynamoDB WRU per order',
          'state transitions per order',
          'Lambda invocations per order',
        ],
        cost,
      ),
    );
  }
  return parts.join('\n\n');
}
