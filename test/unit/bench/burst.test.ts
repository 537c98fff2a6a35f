import { describe, expect, it } from 'vitest';
import {
  acceptingAnswer,
  aggregateCell,
  type BurstCase,
  type BurstCellResult,
  burstAnswers,
  CASE_LABELS,
  type CellMeta,
  endToEndAnswer,
  hybridAnswer,
  mailServiceAnswer,
  type OrderSample,
  peakOf,
  type ResourcePeak,
  spreadAnswer,
} from '#bench/burst-model.ts';
import { waitCostPerSecond } from '#bench/cost-model.ts';
import { LogCollector } from '#bench/harness.ts';
import { PRICES } from '#bench/prices.ts';
import {
  type BenchResults,
  burstOmissions,
  burstPanels,
  burstTable,
  mailPathTable,
  mergeEarlier,
  renderMarkdown,
  renderSvg,
} from '#bench/report.ts';
import { summarize, usd } from '#bench/stats.ts';
import { benchResults } from './results.ts';

const NO_PEAK: ResourcePeak = { concurrentExecutions: 0, environments: 0, runningExecutions: 0, rssMb: 0 };

const meta = (overrides: Partial<CellMeta> = {}): CellMeta => ({
  case: 'async',
  paymentLatencyMs: 0,
  paymentFailureRate: 0,
  orders: 4,
  seconds: 1,
  achievedRate: 4,
  ...overrides,
});

const sample = (overrides: Partial<OrderSample> = {}): OrderSample => ({
  status: 202,
  clientLatencyMs: 10,
  accepted: true,
  answeredFinal: false,
  timeToTerminalMs: 300,
  terminalStatus: 'CONFIRMED',
  mailLatencyMs: 50,
  ...overrides,
});

describe('aggregateCell', () => {
  const samples: OrderSample[] = [
    sample({ clientLatencyMs: 10, timeToTerminalMs: 100 }),
    sample({ clientLatencyMs: 20, timeToTerminalMs: 200, terminalStatus: 'CANCELLED' }),
    // Accepted, never ended: lost.
    sample({ clientLatencyMs: 30, timeToTerminalMs: undefined, terminalStatus: undefined, mailLatencyMs: 7 }),
    // Ended without a mail.
    sample({ clientLatencyMs: 40, timeToTerminalMs: 400, mailLatencyMs: undefined }),
    // Refused by the gateway: not accepted, not lost.
    sample({
      status: 0,
      clientLatencyMs: 50,
      accepted: false,
      timeToTerminalMs: undefined,
      terminalStatus: undefined,
      mailLatencyMs: undefined,
    }),
  ];
  const cell = aggregateCell(meta(), samples, NO_PEAK);

  it('counts accepted, ended and lost orders; a refused order is not lost', () => {
    expect(cell.n).toBe(5);
    expect(cell.accepted).toBe(4);
    expect(cell.confirmed).toBe(2);
    expect(cell.cancelled).toBe(1);
    expect(cell.lost).toBe(1);
  });

  it('takes client latency from every answer, time to terminal and mail only from ended orders', () => {
    expect(cell.clientLatency.n).toBe(5);
    expect(cell.timeToTerminal.n).toBe(3);
    expect(cell.timeToTerminal.max).toBe(400);
    // The lost order's mail latency does not count: it has no terminal commit to measure from.
    expect(cell.mailLatency.n).toBe(2);
    expect(cell.mailMissing).toBe(1);
  });

  it('counts an order the open payment circuit holds and one whose saga still runs apart from a lost one, and ended orders whose mail was held', () => {
    const held = aggregateCell(
      meta(),
      [
        sample({ timeToTerminalMs: undefined, terminalStatus: undefined, heldByCircuit: true }),
        sample({ timeToTerminalMs: undefined, terminalStatus: undefined }),
        sample({ timeToTerminalMs: undefined, terminalStatus: undefined, sagaRunning: true }),
        sample({ mailHeld: true }),
        sample(),
      ],
      NO_PEAK,
    );
    expect(held.held).toBe(1);
    expect(held.running).toBe(1);
    expect(held.lost).toBe(1);
    expect(held.confirmed).toBe(2);
    expect(held.mailHeld).toBe(1);
  });

  it('counts the answers that carried the order’s end', () => {
    const hybrid = aggregateCell(
      meta({ case: 'hybrid' }),
      [sample({ status: 200, answeredFinal: true }), sample()],
      NO_PEAK,
    );
    expect(hybrid.answeredFinal).toBe(1);
  });
});

describe('peakOf', () => {
  it('takes the largest of each resource, from different samples', () => {
    expect(
      peakOf([
        { concurrentExecutions: 5, environments: 10, runningExecutions: 1, rssMb: 900 },
        { concurrentExecutions: 2, environments: 30, runningExecutions: 7, rssMb: 800 },
      ]),
    ).toEqual({ concurrentExecutions: 5, environments: 30, runningExecutions: 7, rssMb: 900 });
  });

  it('is all zeros without samples', () => {
    expect(peakOf([])).toEqual(NO_PEAK);
  });
});

interface Row {
  kind: BurstCase;
  latency: number;
  failures: number;
  accepted?: number;
  client: number[];
  terminal: number[];
  answeredFinal?: number;
}

function row({ kind, latency, failures, accepted, client, terminal, answeredFinal }: Row): BurstCellResult {
  const n = client.length;
  return {
    case: kind,
    paymentLatencyMs: latency,
    paymentFailureRate: failures,
    orders: n,
    seconds: 1,
    achievedRate: n,
    ...(kind === 'hybrid' ? { waitSeconds: 5 } : {}),
    n,
    accepted: accepted ?? n,
    answeredFinal: answeredFinal ?? 0,
    clientLatency: summarize(client),
    timeToTerminal: summarize(terminal),
    confirmed: terminal.length,
    cancelled: 0,
    lost: 0,
    mailLatency: summarize([100]),
    mailMissing: 0,
    peak: NO_PEAK,
  };
}

const grid: BurstCellResult[] = [
  row({ kind: 'sync', latency: 0, failures: 0, client: [300, 400], terminal: [290, 390] }),
  row({ kind: 'async', latency: 0, failures: 0, client: [20, 30], terminal: [800, 900] }),
  row({
    kind: 'hybrid',
    latency: 0,
    failures: 0,
    client: [1020, 1030],
    terminal: [800, 900],
    answeredFinal: 2,
  }),
  row({ kind: 'sync', latency: 2000, failures: 0.2, accepted: 1, client: [9000, 30000], terminal: [8900] }),
  row({ kind: 'async', latency: 2000, failures: 0.2, client: [25, 35], terminal: [9000, 12000] }),
  row({
    kind: 'hybrid',
    latency: 2000,
    failures: 0.2,
    client: [5020, 5030],
    terminal: [9000, 12000],
    answeredFinal: 0,
  }),
];

describe('the answers', () => {
  it('names the cases that accepted ≥ 99 % in every cell, and the lowest share of the others', () => {
    const answer = acceptingAnswer(grid) ?? '';
    expect(answer).toContain(`${CASE_LABELS.async} and ${CASE_LABELS.hybrid} kept accepting`);
    expect(answer).toContain(`${CASE_LABELS.sync} accepted at least 50 %`);
    expect(answer).toContain('30,000 ms');
  });

  it('says no case kept accepting when every case dropped orders somewhere', () => {
    const dropped = grid.map((c) => ({ ...c, accepted: c.n - 1 }));
    expect(acceptingAnswer(dropped)).toMatch(/^No case accepted 99 %/);
  });

  it('finds payment trouble spreading where client latency grows or acceptance falls, not behind the queue', () => {
    const answer = spreadAnswer(grid) ?? '';
    expect(answer).toContain(
      `reaches the client in ${CASE_LABELS.sync} as client p99 75.0× and fewer accepted, and in ${CASE_LABELS.hybrid} as client p99 4.9×`,
    );
    expect(answer).toContain(`${CASE_LABELS.async} keeps it behind the queue`);
    expect(answer).toContain('400 → 30,000 ms (75.0×)');
  });

  it('counts a fast answer that is a cancellation as payment trouble reaching the client', () => {
    // A synchronous flow whose payment circuit opened: as quick as when healthy, and most orders cancelled.
    const failingFast = grid.map((c) =>
      c.case === 'sync' && c.paymentLatencyMs > 0
        ? { ...c, accepted: c.n, clientLatency: summarize([300, 400]), confirmed: 0, cancelled: c.n }
        : c,
    );

    const answer = spreadAnswer(failingFast) ?? '';

    expect(answer).toContain(`${CASE_LABELS.sync} as 100 % cancelled`);
    expect(answer).toContain('cancelled 0 % → 100 %');
    expect(acceptingAnswer(failingFast)).toContain(`${CASE_LABELS.sync} accepted at least 100 %`);
    expect(acceptingAnswer(failingFast)).toContain(
      'cancelled up to 100 % of what it accepted (at 2 s, 20 %)',
    );
  });

  it('has no spread answer without the healthy cell to compare with', () => {
    expect(spreadAnswer(grid.filter((c) => c.paymentLatencyMs > 0))).toBeUndefined();
  });

  it('states by how much the asynchronous path is slower end to end at 0 ms, and why', () => {
    const answer = endToEndAnswer(grid) ?? '';
    expect(answer).toContain('is slower end to end');
    // p50 (nearest rank) of [800, 900] is 800, of [290, 390] is 290.
    expect(answer).toContain('510 ms more at the median');
    expect(answer).toContain('outbox relay');
  });

  it('says so when the asynchronous path was not slower', () => {
    const flipped = grid.map((c) =>
      c.case === 'sync' && c.paymentLatencyMs === 0 ? { ...c, timeToTerminal: summarize([5000]) } : c,
    );
    expect(endToEndAnswer(flipped)).toContain('is not slower end to end');
  });

  it('prices the hybrid’s extra held time with the cost per waited second', () => {
    const waitCost = waitCostPerSecond(256, PRICES);
    const answer = hybridAnswer(grid, waitCost) ?? '';
    // 1 s longer than the 202 on average at 0 ms: one waited second per order.
    expect(answer).toContain(
      'clients waited 1.0 s longer on average, a function held for at most 1.0 s of it',
    );
    expect(answer).toContain('100 % got their final answer');
    expect(answer).toContain('Prefer: wait=5');
    expect(answer).toMatch(/up to \$3\.\d+ per million orders/);
  });

  it('prices no more than the requested wait when clients waited longer (queueing for held environments)', () => {
    const waitCost = waitCostPerSecond(256, PRICES);
    const answer = hybridAnswer(grid, waitCost) ?? '';
    // At 2 s the hybrid's clients waited 4.995 s longer than the 202's: under the cap, all of it priced.
    const perSecond = waitCost.usd * 1e6;
    expect(answer).toContain(`a function held for at most 5.0 s of it, up to ${usd(4.995 * perSecond)}`);
    const longer = grid.map((c) =>
      c.case === 'hybrid' && c.paymentLatencyMs === 2000
        ? { ...c, clientLatency: summarize([9000, 9100]) }
        : c,
    );
    expect(hybridAnswer(longer, waitCost)).toContain(
      `clients waited 9.0 s longer on average, a function held for at most 5.0 s of it, up to ${usd(5 * perSecond)}`,
    );
  });

  it('leaves out the questions whose cells were not measured', () => {
    const asyncOnly = grid.filter((c) => c.case === 'async');
    expect(burstAnswers(asyncOnly).map((a) => a.question)).toEqual([
      'Which case keeps accepting under a burst?',
      'Where does payment trouble spread?',
    ]);
    expect(burstAnswers(grid)).toHaveLength(4);
  });
});

const results = benchResults;

describe('the burst report', () => {
  it('has one row per case and cell', () => {
    const lines = burstTable(grid).split('\n');
    expect(lines).toHaveLength(2 + grid.length);
    expect(lines[2]).toContain(CASE_LABELS.sync);
  });

  it('lists the cells the grid left out and the cells under 200 samples', () => {
    const omissions = burstOmissions(grid);
    expect(omissions[0]).toBe(`${CASE_LABELS.sync}: 0 ms, 20 %; 200 ms, 0 %; 200 ms, 20 %; 2 s, 0 %`);
    expect(omissions.at(-1)).toContain('n < 200 in 6 of 6 cells');
  });

  it('charts client latency and accepted % per case', () => {
    const [latency, accepted] = burstPanels(grid);
    expect(latency?.series).toHaveLength(6);
    expect(accepted?.groups.map((g) => g.values)).toEqual([
      [100, 100, 100],
      [50, 100, 100],
    ]);
    expect(renderSvg(results({ burst: grid }))).toContain('accepted % per case');
  });

  it('renders the burst section with its answers only when there are bursts', () => {
    const markdown = renderMarkdown(results({ burst: grid }));
    expect(markdown).toContain('## 6. The four cases under bursts');
    expect(markdown).toContain('**Where does payment trouble spread?**');
    expect(renderMarkdown(results())).not.toContain('under bursts');
  });
});

describe('mergeEarlier', () => {
  const earlier = results({
    startedAt: '2026-12-06T08:00:00.000Z',
    burst: grid,
    burstSetup: { lambdaConcurrency: 16, waitSeconds: 5, drainSeconds: 120 },
    coldStarts: [{ entry: 'x' } as unknown as BenchResults['coldStarts'][number]],
    notes: ['Bursts: how they ran', 'another note'],
  });

  it('keeps the sections this run did not measure, with a note saying they are from the earlier run', () => {
    const fresh = results();
    mergeEarlier(fresh, earlier, ['terminal']);
    expect(fresh.burst).toBe(grid);
    expect(fresh.coldStarts).toHaveLength(1);
    expect(fresh.burstSetup?.lambdaConcurrency).toBe(16);
    expect(fresh.notes).toContain('Bursts: how they ran');
    expect(fresh.notes.at(-1)).toContain('Sections cold, burst come from an earlier run');
  });

  it('never replaces a section this run measured, even when it came out empty', () => {
    const fresh = results({ burst: [] });
    mergeEarlier(fresh, earlier, ['burst', 'cold']);
    expect(fresh.burst).toEqual([]);
    expect(fresh.coldStarts).toEqual([]);
    expect(fresh.notes).toEqual([]);
  });
});

describe('LogCollector', () => {
  it('keeps when the mail sink first recorded each order’s mail', () => {
    const logs = new LogCollector();
    const line = (timestamp: string, orderId: string) =>
      JSON.stringify({ message: 'mail recorded', orderId, timestamp });
    logs.accept('provider', line('2026-12-06T10:00:01.000Z', 'o-1'));
    // A later mail of the same order (its cancellation after a retry, a duplicate) is not the first one.
    logs.accept('provider', line('2026-12-06T10:00:05.000Z', 'o-1'));
    logs.accept(
      'provider',
      JSON.stringify({ message: 'mail recorded', timestamp: '2026-12-06T10:00:02.000Z' }),
    );
    expect([...logs.mailRecorded]).toEqual([['o-1', Date.parse('2026-12-06T10:00:01.000Z')]]);
  });

  it('keeps the orders whose mail a sender held behind the open mail circuit', () => {
    const logs = new LogCollector();
    logs.accept(
      'notifier',
      JSON.stringify({ message: 'mail held: the mail circuit is open', orderId: 'o-2', waitSeconds: 30 }),
    );
    logs.accept(
      'sender',
      JSON.stringify({ message: 'mail held: the mail circuit is open', campaignId: 'c' }),
    );
    expect([...logs.mailHeld]).toEqual(['o-2']);
  });
});

describe('rows of different runs', () => {
  it('says so in the end-to-end answer', () => {
    const cells = grid.map((c) => ({ ...c, measuredAt: c.case === 'sync' ? 'run-a' : 'run-b' }));
    expect(endToEndAnswer(cells)).toContain('The two rows come from different runs, run-a and run-b');
    expect(endToEndAnswer(grid)).not.toContain('different runs');
  });
});

describe('case 3: the burst mail service', () => {
  const withMail = (
    c: BurstCellResult,
    mail: number[],
    extra: Partial<BurstCellResult> = {},
  ): BurstCellResult => ({
    ...c,
    mailLatency: summarize(mail),
    ...extra,
  });
  const campaign = { mails: 1000, sent: 1000, latency: summarize([2000, 9000]), mailsPerSecond: 110 };
  const case2 = withMail(grid[1] as BurstCellResult, [5000, 8000], {
    mailPath: { invocations: 40, mails: 200, peakConcurrent: 5, peakEnvironments: 5 },
  });
  const case3 = (mail: number[]) =>
    withMail({ ...(grid[1] as BurstCellResult), case: 'burstmail' }, mail, {
      campaign,
      mailPath: { invocations: 30, mails: 1200, peakConcurrent: 2, peakEnvironments: 2 },
    });

  it("answers question 3 with case 3's order mail latency against case 2's, the campaign and the mail path's use", () => {
    const answer = mailServiceAnswer([case2, case3([400, 1200])]) ?? '';
    expect(answer).toMatch(/^Yes: with a campaign of 1000 mails/);
    expect(answer).toContain('sending more mails per invocation in every cell');
    expect(answer).toContain('Every campaign mail was sent once.');
    expect(answer).toContain('order mail p50 / p99 400 / 1,200 ms against 5,000 / 8,000 ms for case 2');
    expect(answer).toContain('1000 of 1000 campaign mails sent at 110/s');
    expect(answer).toContain(
      'the sender used 30 invocations for 1200 mails (40.0 a call), at most 2 environments',
    );
    expect(answer).toContain('the notify worker 40 invocations for 200 mails (5.0 a call)');
  });

  it('says partly, and why, where the order mails were slower, and which mails were still missing', () => {
    const answer = mailServiceAnswer([{ ...case2, mailMissing: 7 }, case3([6000, 20_000])]) ?? '';
    expect(answer).toContain(
      '(whose 7 mails not yet recorded when the cell drained are not in its percentiles)',
    );
    expect(answer).toMatch(/^Partly: .* in 0 of 1 cells/);
    expect(answer).toContain('competed with them for the mail transport');
  });

  it('is left out without case 3, and asked in the report with it', () => {
    expect(mailServiceAnswer(grid)).toBeUndefined();
    expect(burstAnswers([...grid, case3([1])]).map((a) => a.question)).toContain(
      'Does a mail service that many producers call keep its latency low with few resources?',
    );
  });

  it('tables the campaign and the mail function per cell, and only when measured', () => {
    expect(mailPathTable(grid)).toBeUndefined();
    const lines = (mailPathTable([case2, case3([400, 1200])]) ?? '').split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toContain('| 1000 / 1000 | 110 | 2,000 / 9,000 | 30 / 1200 (40.0) | 2 / 2 |');
    expect(renderMarkdown(results({ burst: [case2, case3([1])] }))).toContain(
      '### Mail under a burst: case 2 against case 3',
    );
  });

  it("keeps when the sink first recorded each idempotency key's mail (a campaign's mails have no order)", () => {
    const logs = new LogCollector();
    const line = (timestamp: string, idempotencyKey: string) =>
      JSON.stringify({ message: 'mail recorded', idempotencyKey, timestamp });
    logs.accept('provider', line('2026-12-06T10:00:01.000Z', 'spring-1'));
    logs.accept('provider', line('2026-12-06T10:00:03.000Z', 'spring-1'));
    expect([...logs.mailRecordedByKey]).toEqual([['spring-1', Date.parse('2026-12-06T10:00:01.000Z')]]);
    expect(logs.mailRecorded.size).toBe(0);
  });
});
