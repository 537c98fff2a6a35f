/** The report's before/after section (bench/baseline.ts): an earlier commit's run beside this one, row by row. */
import { describe, expect, it } from 'vitest';
import { baselineOf, beforeAfterSection, MEASURED_DURATION_LINE } from '#bench/baseline.ts';
import { renderMarkdown } from '#bench/report.ts';
import type { PathCost } from '#bench/sections/cost.ts';
import type { TerminalRun } from '#bench/sections/terminal.ts';
import { summarize } from '#bench/stats.ts';
import { benchResults } from './results.ts';

function terminal(
  ratePerSecond: number,
  p50: number,
  completionRate: number,
  saturated = false,
): TerminalRun {
  return {
    ratePerSecond,
    offered: ratePerSecond * 10,
    achievedRate: ratePerSecond,
    accepted: ratePerSecond * 10,
    acceptLatency: summarize([20]),
    timeToTerminal: summarize([p50, p50, p50 * 2]),
    firstFifthP50: p50,
    lastFifthP50: p50,
    confirmed: ratePerSecond * 10,
    cancelled: 0,
    unfinished: 0,
    drainMs: 100,
    completionRate,
    saturated,
    hops: [],
  };
}

function cost(
  workflowType: PathCost['workflowType'],
  usdPerMillion: number,
  wru: number,
  durationUsd: number,
) {
  return {
    workflowType,
    path: 'happy',
    orders: 12,
    asIntended: 12,
    usage: {
      httpApiRequests: 1,
      lambdaInvocations: 9,
      lambdaGbSeconds: 0.1,
      dynamodbWriteUnits: wru,
      dynamodbReadUnits: 4,
      eventBridgeEvents: 2,
      sqsRequests: 12,
      stepFunctionsTransitions: workflowType === 'STANDARD' ? 4 : 0,
      expressRequests: workflowType === 'EXPRESS' ? 1 : 0,
      expressGbSeconds: 0,
    },
    lines: [{ service: MEASURED_DURATION_LINE, quantity: 1, unit: 'GB-s', usd: durationUsd / 1e6 }],
    usdPerOrder: usdPerMillion / 1e6,
    usdPerMillion,
    requestsPerOrder: {},
    messagesPerReceive: 1,
    logBytesPerOrder: 0,
  } as PathCost;
}

const before = benchResults({
  startedAt: '2026-12-07T06:53:54.000Z',
  notes: [
    'The load average (7.5 at start on 2 cores) says other work shared the machine during this run.',
    'Sections terminal come from an earlier run the same day (started 2026-12-07T06:50:00.000Z, load average 0.4 at its start); this run measured cost.',
  ],
  terminal: [terminal(2, 250, 2), terminal(20, 1958, 14.6, true), terminal(50, 3000, 15, true)],
  cost: [cost('STANDARD', 144, 38.1, 8.65), cost('EXPRESS', 48.62, 38.1, 10.83)],
});

describe('the before/after section', () => {
  it('sets each rate and each saga beside the same row of the earlier run', () => {
    const after = benchResults({
      terminal: [terminal(2, 240, 2), terminal(20, 1710, 29.2), terminal(100, 3700, 19.7, true)],
      cost: [cost('EXPRESS', 30, 20, 4)],
      baseline: baselineOf('bench/results/baseline.json', before),
    });

    const section = beforeAfterSection(after) ?? '';

    // Which run measured which of its sections: a merged day's report says so in a note.
    expect(section).toContain(
      "`bench/results/baseline.json`, an earlier commit's `npm run bench` on this machine (its last run started " +
        '2026-12-07T06:53:54.000Z, load average 0.0 at its start; Sections terminal come from an earlier run the ' +
        'same day (started 2026-12-07T06:50:00.000Z, load average 0.4 at its start); this run measured cost).',
    );
    // 2/s and 20/s were offered by both runs; 50/s and 100/s by one only.
    expect(section).toContain('| 2 | 250 / 500 | 240 / 480 | 2.0 | 2.0 | 1.00× |');
    expect(section).toContain('| 20 | 1,958 / 3,916 | 1,710 / 3,420 | 14.6 (saturated) | 29.2 | 2.00× |');
    expect(section).not.toMatch(/^\| (50|100) \|/m);
    // The measured duration line is taken out in its own column: it moves with the machine's load.
    expect(section).toContain(
      '| EXPRESS happy | $48.62 → **$30.00** | $37.79 → $26.00 | 38.1 → 20.0 | – | 9.00 → 9.00 |',
    );
    expect(section).not.toContain('STANDARD happy');
  });

  it('is in the report under its own heading, and left out without a baseline', () => {
    const after = benchResults({ terminal: [terminal(2, 240, 2)] });

    expect(renderMarkdown(after)).not.toContain('## Before and after');
    expect(renderMarkdown({ ...after, baseline: baselineOf('b.json', before) })).toContain(
      '## Before and after',
    );
  });
});
