/**
 * The benchmark report: Markdown for people (headline figures first, then one table per question, then how it was
 * measured), the same results as JSON for tools, and the SVG figure.
 */

import { type Baseline, beforeAfterSection } from './baseline.ts';
import { type BatchRun, batchSection } from './batch-model.ts';
import {
  acceptedShare,
  BURST_CASES,
  type BurstCellResult,
  burstAnswers,
  burstCellLabel,
  CASE_LABELS,
  CASE_SHORT,
} from './burst-model.ts';
import type { WaitCost } from './cost-model.ts';
import type { PriceTable } from './prices.ts';
import {
  type NeighbourResult,
  neighbourVerdicts,
  type OutageResult,
  outagePanels,
  outageVerdicts,
} from './resilience-model.ts';
import type { AcceptLevel } from './sections/accept.ts';
import type { ColdStartResult } from './sections/cold-start.ts';
import type { PathCost } from './sections/cost.ts';
import type { CellResult } from './sections/sync-async.ts';
import { AWS_HOP_FIGURES, HOPS, type TerminalRun } from './sections/terminal.ts';
import { type LatencySummary, ms, pct, markdownTable as table, usd } from './stats.ts';
import { type BarChart, type Panel, renderFigure } from './svg.ts';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  platform: string;
  loadAverageStart: number;
  loadAverageEnd: number;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  mode: 'full' | 'quick';
  machine: MachineInfo;
  accept: AcceptLevel[];
  syncAsync: CellResult[];
  terminal: TerminalRun[];
  coldStarts: ColdStartResult[];
  cost: PathCost[];
  /** Cost per waited second of `Prefer: wait` (absent from results made before it existed). */
  waitCost?: WaitCost;
  /** The four-case experiment under bursts (absent from results made before it existed). */
  burst?: BurstCellResult[];
  burstSetup?: BurstSetup;
  /** The payment provider down while orders arrive (absent from results made before it existed). */
  outage?: OutageResult;
  /** A quiet client's accept latency without and with a noisy one (absent from results made before it existed). */
  neighbour?: NeighbourResult;
  /** The settlement export and import at a day of 10k and 100k orders (absent from results made before it existed). */
  batch?: BatchRun[];
  prices: PriceTable;
  /** An earlier commit's run to compare with (`--baseline=`; absent when none was given). */
  baseline?: Baseline;
  notes: string[];
}

export interface BurstSetup {
  /** Execution environments per function in the burst runtime. */
  lambdaConcurrency: number;
  waitSeconds: number;
  drainSeconds: number;
  /** Mails of the campaign started with each case 3 burst (absent before case 3 existed). */
  campaignMails?: number;
}

/** How the note on the burst runtime begins (bench/run.ts writes it), so a merge can carry it along. */
export const BURST_NOTE_PREFIX = 'Bursts:';
/** How the note on the outage and neighbour runtime begins, for the same reason. */
export const RESILIENCE_NOTE_PREFIX = 'Outage and noisy neighbour:';

/** The report's sections by their `--only` name, and where each keeps its rows in the results. */
const SECTION_KEYS = {
  terminal: 'terminal',
  sync: 'syncAsync',
  accept: 'accept',
  cold: 'coldStarts',
  cost: 'cost',
  burst: 'burst',
} as const satisfies Record<string, keyof BenchResults>;

/**
 * A `--only` run keeps the sections it did not run from the same day's earlier results, so the day's report stays
 * whole; a note names them and when they were measured, since they come from another run (another load).
 */
export function mergeEarlier(results: BenchResults, earlier: BenchResults, ran: readonly string[]): void {
  const kept: string[] = [];
  for (const [section, key] of Object.entries(SECTION_KEYS)) {
    const previous = earlier[key];
    if (ran.includes(section) || !previous || previous.length === 0) continue;
    Object.assign(results, { [key]: previous });
    kept.push(section);
  }
  if (kept.includes('burst')) {
    if (earlier.burstSetup) results.burstSetup = earlier.burstSetup;
    results.notes.push(...earlier.notes.filter((note) => note.startsWith(BURST_NOTE_PREFIX)));
  }
  if (!ran.includes('cost') && earlier.waitCost && !results.waitCost) results.waitCost = earlier.waitCost;
  if (earlier.baseline && !results.baseline) results.baseline = earlier.baseline;
  // One result each rather than rows: kept whole when their section did not run.
  for (const section of ['outage', 'neighbour', 'batch'] as const) {
    const previous = earlier[section];
    if (ran.includes(section) || !previous) continue;
    Object.assign(results, { [section]: previous });
    kept.push(section);
  }
  if (kept.includes('outage') || kept.includes('neighbour')) {
    const ours = results.notes.some((note) => note.startsWith(RESILIENCE_NOTE_PREFIX));
    if (!ours) results.notes.push(...earlier.notes.filter((note) => note.startsWith(RESILIENCE_NOTE_PREFIX)));
  }
  if (kept.length > 0) {
    results.notes.push(
      `Sections ${kept.join(', ')} come from an earlier run the same day (started ${earlier.startedAt}, ` +
        `load average ${earlier.machine.loadAverageStart.toFixed(1)} at its start); this run measured ` +
        `${ran.join(', ')}.`,
    );
  }
}

export function machineLine(m: MachineInfo): string {
  return (
    `${m.cpus} CPU cores (${m.cpuModel}), ${m.memoryGb.toFixed(0)} GB RAM, Node ${m.node}, ${m.platform}; ` +
    `load average ${m.loadAverageStart.toFixed(1)} at start, ${m.loadAverageEnd.toFixed(1)} at end`
  );
}

const triple = (s: LatencySummary) => `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)}`;
const pair = (s: LatencySummary | undefined) => (s ? `${ms(s.p50)} / ${ms(s.p99)}` : '–');
const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)}×` : '–');
const kib = (bytes: number) => (bytes / 1024).toFixed(1);

function cellLabel(c: { paymentLatencyMs: number; paymentFailureRate: number }): string {
  const latency = c.paymentLatencyMs >= 1000 ? `${c.paymentLatencyMs / 1000} s` : `${c.paymentLatencyMs} ms`;
  return `${latency}, ${Math.round(c.paymentFailureRate * 100)} %`;
}

export function headline(r: BenchResults): string[] {
  const lines: string[] = [];
  const worstBurst = (r.burst ?? [])
    .filter((c) => c.paymentLatencyMs === 2000 && c.paymentFailureRate === 0.2)
    .map(
      (c) =>
        `${CASE_LABELS[c.case]} accepted **${pct(acceptedShare(c), 0)}**, client p99 ${ms(c.clientLatency.p99)} ms, ` +
        `${c.confirmed} confirmed, ${c.cancelled} cancelled, ` +
        (c.held ? `${c.held} held by the payment circuit, ` : '') +
        `lost ${c.lost}`,
    );
  if (r.outage) {
    const o = r.outage;
    lines.push(
      `**Provider down ${Math.round(o.phases.downSeconds)} s, orders at ${o.ratePerSecond}/s:** ` +
        `${o.accepted}/${o.sent} accepted, ${o.confirmed} confirmed, ${o.cancelled} cancelled, max ` +
        `${(o.timeToConfirmed.max / 1000).toFixed(0)} s from 202 to CONFIRMED, at most ${o.maxProbesPerInterval} ` +
        `probe per ${o.circuit.openSeconds} s breaker interval.`,
    );
  }
  if (r.neighbour) {
    const n = r.neighbour;
    lines.push(
      `**Noisy neighbour:** B at ${n.noisy.ratePerSecond} req/s got 429 for ${pct(n.noisy.throttled / Math.max(1, n.noisy.sent), 0)}; ` +
        `A's accept p99 ${ms(n.alone.latency.p99)} → ${ms(n.withNoisy.latency.p99)} ms (${n.p99Ratio.toFixed(2)}×).`,
    );
  }
  if (worstBurst.length > 0) {
    lines.push(`**Burst with the provider at 2 s + 20 % failures:** ${worstBurst.join('; ')}.`);
  }
  const top = r.accept.find((level) => level.concurrency === 64) ?? r.accept.at(-1);
  if (top) {
    lines.push(
      `**Accept path vs floor at concurrency ${top.concurrency}:** p99 ${ms(top.accept.latency.p99)} ms vs ` +
        `${ms(top.floor.latency.p99)} ms → **${times(top.ratio.p99)}** the bare TransactWriteItems ` +
        `(p50 ${times(top.ratio.p50)}; n = ${top.accept.latency.n} / ${top.floor.latency.n}).`,
    );
  }
  const bad = r.syncAsync.filter((c) => c.paymentLatencyMs === 2000 && c.paymentFailureRate === 0.2);
  if (bad.length > 0) {
    const parts = bad.map((c) => {
      const success = pct(c.succeeded / Math.max(1, c.n), 0);
      const ttt = c.timeToTerminal ? `, time to terminal p99 ${ms(c.timeToTerminal.p99)} ms` : '';
      return `${c.variant}: client p99 **${ms(c.clientLatency.p99)} ms**, **${success}** confirmed${ttt}`;
    });
    lines.push(`**Payment provider at 2 s + 20 % failures** (n = ${bad[0]?.n} each): ${parts.join('; ')}.`);
  }
  const t20 = r.terminal.find((t) => t.ratePerSecond === 20);
  if (t20) {
    lines.push(
      `**Time to terminal at 20 orders/s:** p50 **${ms(t20.timeToTerminal.p50)} ms**, p99 ` +
        `**${ms(t20.timeToTerminal.p99)} ms** (n = ${t20.timeToTerminal.n}; ` +
        `${t20.saturated ? `saturated: this machine completed ${t20.completionRate.toFixed(1)} orders/s` : 'not saturated'}).`,
    );
  }
  const t100 = r.terminal.find((t) => t.ratePerSecond === 100);
  if (t100?.saturated) {
    lines.push(
      `**100 orders/s saturates this machine:** it completed ${t100.completionRate.toFixed(1)} orders/s; ` +
        `time to terminal p99 ${ms(t100.timeToTerminal.p99)} ms grows with the queue.`,
    );
  }
  const variants = r.coldStarts.flatMap((f) => f.variants.map((v) => ({ f, v })));
  const largest = variants.reduce<(typeof variants)[number] | undefined>(
    (best, x) => (!best || x.v.bytes > best.v.bytes ? x : best),
    undefined,
  );
  const slowest = variants.reduce<(typeof variants)[number] | undefined>(
    (best, x) => (!best || x.v.totalMs > best.v.totalMs ? x : best),
    undefined,
  );
  if (largest && slowest) {
    const deployed = r.coldStarts.reduce((max, f) => Math.max(max, f.variants[0]?.bytes ?? 0), 0);
    lines.push(
      `**Largest bundle:** ${largest.f.entry} ${kib(largest.v.bytes)} KB (${largest.v.variant}); largest as ` +
        `deployed (SDK external) ${kib(deployed)} KB. **Slowest cold start:** ${slowest.f.entry} ` +
        `${ms(slowest.v.totalMs)} ms process start → first answer (${slowest.v.variant}).`,
    );
  }
  const costOf = (type: string, path: string) =>
    r.cost.find((c) => c.workflowType === type && c.path === path);
  const costs = ['STANDARD', 'EXPRESS'].map((type) => {
    const happy = costOf(type, 'happy');
    const comp = costOf(type, 'compensating');
    return happy
      ? `${type} **${usd(happy.usdPerMillion)}** happy / ${comp ? usd(comp.usdPerMillion) : '–'} compensating`
      : undefined;
  });
  if (costs.some(Boolean)) {
    lines.push(`**Cost per million orders (us-east-1 list prices):** ${costs.filter(Boolean).join('; ')}.`);
  }
  return lines;
}

function acceptSection(r: BenchResults): string {
  return table(
    [
      'concurrency',
      'POST /orders p50 / p95 / p99 ms',
      'req/s',
      'n',
      'floor p50 / p95 / p99 ms',
      'req/s',
      'n',
      'ratio p50 / p95 / p99',
      'accept function p50 / p99 ms',
      'errors',
    ],
    r.accept.map((l) => [
      String(l.concurrency),
      triple(l.accept.latency),
      l.accept.throughput.toFixed(0),
      String(l.accept.latency.n),
      triple(l.floor.latency),
      l.floor.throughput.toFixed(0),
      String(l.floor.latency.n),
      `${times(l.ratio.p50)} / ${times(l.ratio.p95)} / ${times(l.ratio.p99)}`,
      pair(l.handler),
      `${l.accept.errors} / ${l.floor.errors}`,
    ]),
  );
}

function syncAsyncSection(r: BenchResults): string {
  return table(
    [
      'payment latency, failures',
      'variant',
      'arrivals/s',
      'n',
      'client p50 / p99 ms',
      'CONFIRMED',
      'failed requests',
      '202 → terminal p50 / p99 ms',
    ],
    r.syncAsync.map((c) => [
      cellLabel(c),
      c.variant,
      String(c.ratePerSecond),
      String(c.n),
      pair(c.clientLatency),
      pct(c.succeeded / Math.max(1, c.n), 0),
      String(c.failedRequests),
      pair(c.timeToTerminal),
    ]),
  );
}

function terminalSection(r: BenchResults): string {
  const runs = table(
    [
      'arrivals/s (achieved)',
      'orders',
      'POST p99 ms',
      '202 → terminal p50 / p95 / p99 ms',
      'p50 first → last fifth',
      'completed/s',
      'drain after last 202',
      'confirmed / cancelled / unfinished',
      'saturated',
    ],
    r.terminal.map((t) => [
      `${t.ratePerSecond} (${t.achievedRate.toFixed(1)})`,
      String(t.accepted),
      ms(t.acceptLatency.p99),
      triple(t.timeToTerminal),
      `${ms(t.firstFifthP50)} → ${ms(t.lastFifthP50)}`,
      Number.isFinite(t.completionRate) ? t.completionRate.toFixed(1) : '–',
      `${(t.drainMs / 1000).toFixed(1)} s`,
      `${t.confirmed} / ${t.cancelled} / ${t.unfinished}`,
      t.saturated ? '**yes**' : 'no',
    ]),
  );
  const hops = table(
    ['hop', ...r.terminal.map((t) => `${t.ratePerSecond}/s p50 / p99 ms (n)`), 'AWS published p50 / p99'],
    HOPS.map((hop) => [
      hop,
      ...r.terminal.map((t) => {
        const s = t.hops.find((h) => h.hop === hop)?.summary;
        return s ? `${pair(s)} (${s.n})` : '–';
      }),
      AWS_HOP_FIGURES[hop] ?? '',
    ]),
  );
  return `${runs}\n\nWhere the time goes (confirmed orders):\n\n${hops}`;
}

function coldStartSection(r: BenchResults): string {
  return table(
    [
      'function',
      'MB',
      'deployed KB',
      'SDK external: KB (gzip)',
      'boot / import / 1st invoke ms',
      'total ms',
      'SDK bundled: KB (gzip)',
      'boot / import / 1st invoke ms',
      'total ms',
    ],
    r.coldStarts.map((f) => {
      const [ext, bundled] = f.variants;
      const cells = (v: typeof ext) =>
        v
          ? [
              `${kib(v.bytes)} (${kib(v.gzipBytes)})`,
              `${ms(v.bootMs)} / ${ms(v.importMs)} / ${f.invoked ? ms(v.firstInvokeMs) : 'not invoked'}` +
                (v.error ? ` (${v.error})` : ''),
              ms(v.totalMs),
            ]
          : ['–', '–', '–'];
      return [f.entry, String(f.memoryMb), kib(f.deployedBytes), ...cells(ext), ...cells(bundled)];
    }),
  );
}

/** The four-case table under bursts: one row per case and cell. */
export function burstTable(cells: readonly BurstCellResult[]): string {
  return table(
    [
      'payment latency, failures',
      'case',
      'burst (achieved/s)',
      'n',
      'accepted',
      'final answer',
      'client p50 / p99 ms',
      'request → terminal p50 / p99 ms',
      'confirmed / cancelled / held / running / lost',
      'mail p50 / p99 ms (missing, held)',
      'payment circuit open s (openings) / provider calls that waited',
      'peak running / environments / Step Functions / RSS MB',
    ],
    cells.map((c) => [
      burstCellLabel(c),
      CASE_LABELS[c.case],
      `${c.orders} in ${c.seconds} s (${Number.isFinite(c.achievedRate) ? c.achievedRate.toFixed(0) : '–'})`,
      String(c.n),
      pct(acceptedShare(c), 0),
      pct(c.answeredFinal / Math.max(1, c.n), 0),
      pair(c.clientLatency),
      `${pair(c.timeToTerminal)} (${c.timeToTerminal.n})`,
      `${c.confirmed} / ${c.cancelled} / ${c.held ?? '–'} / ${c.running ?? '–'} / ${c.lost}`,
      `${pair(c.mailLatency)} (${c.mailMissing}, ${c.mailHeld ?? '–'})`,
      c.downstream
        ? `${c.downstream.paymentCircuitOpenSeconds} (${c.downstream.paymentCircuitOpenings}) / ` +
          `${c.downstream.providerWaits} of ${c.downstream.providerInvocations}`
        : '–',
      `${c.peak.concurrentExecutions} / ${c.peak.environments} / ${c.peak.runningExecutions} / ` +
        `${Math.round(c.peak.rssMb)}`,
    ]),
  );
}

/** Case 3's campaign and the mail path's use of resources, per cell: the figures behind question 3. */
export function mailPathTable(cells: readonly BurstCellResult[]): string | undefined {
  const rows = cells.filter((c) => c.mailPath !== undefined || c.campaign !== undefined);
  if (rows.length === 0) return undefined;
  return table(
    [
      'payment latency, failures',
      'case',
      'order mail p50 / p99 ms',
      'campaign sent / asked',
      'campaign mails/s',
      'campaign mail p50 / p99 ms after its start',
      'mail function invocations / mails (mails per call)',
      'mail function peak running / environments',
    ],
    rows.map((c) => [
      burstCellLabel(c),
      CASE_LABELS[c.case],
      pair(c.mailLatency),
      c.campaign ? `${c.campaign.sent} / ${c.campaign.mails}` : '–',
      c.campaign && Number.isFinite(c.campaign.mailsPerSecond) ? c.campaign.mailsPerSecond.toFixed(0) : '–',
      c.campaign ? pair(c.campaign.latency) : '–',
      c.mailPath
        ? `${c.mailPath.invocations} / ${c.mailPath.mails} (${(c.mailPath.mails / Math.max(1, c.mailPath.invocations)).toFixed(1)})`
        : '–',
      c.mailPath ? `${c.mailPath.peakConcurrent} / ${c.mailPath.peakEnvironments}` : '–',
    ]),
  );
}

/** What the burst grid left out of the full grid (3 latencies × 2 failure rates × every case), in words. */
export function burstOmissions(cells: readonly BurstCellResult[]): string[] {
  const latencies = [0, 200, 2000];
  const failures = [0, 0.2];
  const missing: string[] = [];
  for (const kind of BURST_CASES) {
    const absent = latencies.flatMap((paymentLatencyMs) =>
      failures
        .filter(
          (paymentFailureRate) =>
            !cells.some(
              (c) =>
                c.case === kind &&
                c.paymentLatencyMs === paymentLatencyMs &&
                c.paymentFailureRate === paymentFailureRate,
            ),
        )
        .map((paymentFailureRate) => burstCellLabel({ paymentLatencyMs, paymentFailureRate })),
    );
    if (absent.length > 0) missing.push(`${CASE_LABELS[kind]}: ${absent.join('; ')}`);
  }
  const small = cells.filter((c) => c.n < 200);
  if (small.length > 0) {
    missing.push(
      `n < 200 in ${small.length} of ${cells.length} cells (p99 there is one of the slowest few samples)`,
    );
  }
  return missing;
}

function mailPathSection(cells: readonly BurstCellResult[], setup?: BurstSetup): string[] {
  const mailTable = mailPathTable(cells);
  if (!mailTable) return [];
  return [
    '### Mail under a burst: case 2 against case 3',
    '',
    'Case 3 is case 2 deployed with `-c mailService=burst`: the order events go to the mail service’s ' +
      "transactional lane (its request queue), an operator's campaign" +
      (setup?.campaignMails ? ` of ${setup.campaignMails.toLocaleString('en-US')} mails` : '') +
      ' is enqueued on its bulk lane at the burst’s start (the campaign Lambda, SendMessageBatch), and one sender ' +
      'drains both lanes (an event source mapping each: batches of up to 100, 1 s batching window, 2 batches at ' +
      'once, 8 mails in flight each) into the mail sink and its sent-mail table. It runs on a runtime of its own ' +
      '(same environments per function) after the other cases. Case 2 gets no campaign: the notify worker ' +
      'consumes order events only. Order mail latency is from the order’s terminal commit to the sink recording ' +
      'its mail, in both. ' +
      (cells.some((c) => c.downstream?.mailSinkInvocations !== undefined)
        ? 'The sandbox serves mail from a function of its own (POST /v1/mail), as SES and a card processor are ' +
          'separate services on AWS, so the campaign’s sends and the charges do not share environments (the ' +
          'machine and DynamoDB Local they still share). '
        : 'The sandbox provider is one function for payments and the mail sink, so campaign mails and payment ' +
          'calls share its environments here (on AWS, SES and the payment provider are separate services). ') +
      'Why two lanes: a first version with one request queue for both producers measured, at 0 ms / 0 % with ' +
      'the same campaign, order mail p50 / p99 28,383 / 40,722 ms against case 2’s 6,443 / 8,794 ms: the ' +
      'campaign’s thousand requests were ahead of the order mails in the queue, and the sender sends at the ' +
      'transport’s pace.',
    '',
    mailTable,
    '',
  ];
}

function burstSection(r: BenchResults): string {
  const cells = r.burst ?? [];
  const setup = r.burstSetup;
  const omissions = burstOmissions(cells);
  return [
    'Each burst arrives open loop (the arrivals do not wait for answers). accepted = answered with a tracking ' +
      'id; final answer = the answer already carried the order’s end (every sync answer, a hybrid 200); ' +
      'request → terminal = from the send to the order item’s CONFIRMED / CANCELLED commit, the same clock for ' +
      `every case; held = accepted, not ended ${setup ? `${setup.drainSeconds} s after the burst` : 'when the drain ended'} ` +
      'and held by the open payment circuit within its hold (waiting as designed: it ends when a probe finds the ' +
      'provider answering, or is cancelled when its hold runs out); running = not ended, not held, its saga still ' +
      'running (in a retry’s wait or queued) or not started yet (its start message still queued); lost = ' +
      'accepted and not ended, its saga over (or the synchronous request gone) without ending it; ' +
      'mail = from that commit to the mail sink recording the mail, once the cell’s queues are empty (a mail held ' +
      'by the open mail circuit waits on its queue with a delay; missing = ended orders without a mail then, held = ' +
      'ended orders whose mail the sender held at least once; case 1 sends its mail within the request, and one it ' +
      'could not send is the notify worker’s job when deployed, which the bench’s copy of the table does not feed, so ' +
      'it stays missing); payment circuit = its item read once a second; ' +
      'provider calls that waited = sandbox payment invocations that found every environment busy. Peaks are ' +
      'sampled every 100 ms while the cell runs and drains.' +
      (setup
        ? ` The runtime gives every function ${setup.lambdaConcurrency} environments (the sandbox provider too); ` +
          `the hybrid sends \`Prefer: wait=${setup.waitSeconds}\`. That cap is local: on AWS the account's ` +
          'concurrency (1,000 by default) would give the held waits environments of their own, at the cost per ' +
          "waited second below, so the hybrid's lost acceptance here is partly the cap, not the design."
        : ''),
    '',
    burstTable(cells),
    '',
    `Left out of the grid: ${omissions.length > 0 ? omissions.join('; ') : 'nothing'}.`,
    '',
    ...mailPathSection(cells, setup),
    '### Answers',
    '',
    ...burstAnswers(cells, r.waitCost).flatMap((a) => [`**${a.question}** ${a.answer}`, '']),
  ].join('\n');
}

/** The cost of one waited second of `Prefer: wait`, as a sentence with the figures behind it. */
export function waitCostLine(w: WaitCost): string {
  const lambda = w.lines.find((l) => l.service.startsWith('Lambda'))?.usd ?? 0;
  return (
    `**Cost per waited second of \`Prefer: wait\`:** ${usd(w.usd)} (${usd(w.usd * 1e6)} per million waited ` +
    `seconds): the function held open at ${w.memoryMb} MB (${w.gbSeconds.toFixed(3)} GB-s, ${usd(lambda)}) and ` +
    `its backoff reads (${w.readsPerSecond.toFixed(1)} consistent GetItem a second over the longest wait, ` +
    `${w.readUnits.toFixed(1)} RRU, ${usd(w.usd - lambda)}); ${pct(lambda / w.usd, 0)} of it is Lambda duration. ` +
    'A wait adds this to the cost of its order; a client that polls instead pays a request, an invocation and a ' +
    'read per poll.'
  );
}

function costSection(r: BenchResults): string {
  // The cost per waited second is priced from the price table alone: it is there even when no order was metered.
  if (r.cost.length === 0) return r.waitCost ? waitCostLine(r.waitCost) : '';
  const summary = table(
    [
      'saga',
      'path',
      'orders (as intended)',
      'Lambda inv',
      'GB-s',
      'WRU',
      'RRU',
      'events',
      'SQS req',
      'transitions / Express GB-s',
      '$ per order',
      '$ per million orders',
    ],
    r.cost.map((c) => [
      c.workflowType,
      c.path,
      `${c.orders} (${c.asIntended})`,
      c.usage.lambdaInvocations.toFixed(2),
      c.usage.lambdaGbSeconds.toFixed(3),
      c.usage.dynamodbWriteUnits.toFixed(1),
      c.usage.dynamodbReadUnits.toFixed(1),
      c.usage.eventBridgeEvents.toFixed(2),
      c.usage.sqsRequests.toFixed(2),
      c.workflowType === 'STANDARD'
        ? c.usage.stepFunctionsTransitions.toFixed(1)
        : c.usage.expressGbSeconds.toFixed(4),
      usd(c.usdPerOrder),
      `**${usd(c.usdPerMillion)}**`,
    ]),
  );
  const services = [...new Set(r.cost.flatMap((c) => c.lines.map((l) => l.service)))];
  const breakdown = table(
    ['$ per million orders', ...r.cost.map((c) => `${c.workflowType} ${c.path}`)],
    services.map((service) => [
      service,
      ...r.cost.map((c) => {
        const line = c.lines.find((l) => l.service === service);
        return line ? usd(line.usd * 1e6) : '–';
      }),
    ]),
  );
  const keys = [...new Set(r.cost.flatMap((c) => Object.keys(c.requestsPerOrder)))].sort();
  const requests = table(
    ['requests per order', ...r.cost.map((c) => `${c.workflowType} ${c.path}`)],
    keys.map((key) => [key, ...r.cost.map((c) => (c.requestsPerOrder[key] ?? 0).toFixed(2))]),
  );
  const metered = r.cost.filter((c) => c.writesPerOrder !== undefined);
  const writeKeys = [
    ...new Map(
      metered.flatMap((c) => c.writesPerOrder ?? []).map((w) => [`${w.item}\u0000${w.index}`, w] as const),
    ).values(),
  ];
  const writeCell = (c: PathCost, item: string, index: string, field: 'writesPerOrder' | 'unitsPerOrder') => {
    const line = c.writesPerOrder?.find((w) => w.item === item && w.index === index);
    return line ? line[field].toFixed(2) : '–';
  };
  const writes = table(
    [
      'item',
      'written to',
      ...metered.flatMap((c) => [`${c.workflowType} ${c.path} writes`, `${c.workflowType} ${c.path} WRU`]),
    ],
    [
      ...writeKeys.map((w) => [
        w.item,
        w.index,
        ...metered.flatMap((c) => [
          writeCell(c, w.item, w.index, 'writesPerOrder'),
          writeCell(c, w.item, w.index, 'unitsPerOrder'),
        ]),
      ]),
      [
        '**total**',
        '',
        ...metered.flatMap((c) => {
          const lines = c.writesPerOrder ?? [];
          return [
            lines.reduce((sum, w) => sum + w.writesPerOrder, 0).toFixed(2),
            `**${lines.reduce((sum, w) => sum + w.unitsPerOrder, 0).toFixed(2)}**`,
          ];
        }),
      ],
    ],
  );
  const batching = r.cost
    .map((c) => `${c.workflowType} ${c.path}: ${c.messagesPerReceive.toFixed(2)}`)
    .join('; ');
  const logs = r.cost.map((c) => `${c.workflowType} ${c.path}: ${kib(c.logBytesPerOrder)} KB`).join('; ');
  return [
    summary,
    '',
    'By service:',
    '',
    breakdown,
    '',
    'AWS requests each order caused (sandbox provider and its table excluded: they stand in for third parties):',
    '',
    requests,
    '',
    ...(metered.length > 0
      ? [
          'DynamoDB write units per order by item and by where they were written (`table`: the item itself, ' +
            '×2 in a transaction; an index: its entry puts and deletes, two when an update changes the index key; ' +
            '1 WRU per started KB of the item or of its projection):',
          '',
          writes,
          '',
        ]
      : []),
    `SQS messages per non-empty receive (batching at this arrival rate): ${batching}.`,
    `Function log volume per order (CloudWatch Logs ingestion is not priced here): ${logs}.`,
    ...(r.waitCost ? ['', waitCostLine(r.waitCost)] : []),
  ].join('\n');
}

function priceSection(p: PriceTable): string {
  return [
    `Prices (${p.region}, as of ${p.asOf}; ${p.source}; kept in bench/prices.ts):`,
    '',
    table(
      ['item', 'price'],
      [
        ['HTTP API', `$${p.httpApiPerMillionRequests} per million requests`],
        [
          'Lambda',
          `$${p.lambdaPerMillionRequests} per million requests + $${p.lambdaPerGbSecondArm64} per GB-s (arm64)`,
        ],
        [
          'DynamoDB on-demand',
          `$${p.dynamodbPerMillionWriteUnits} per million WRU, $${p.dynamodbPerMillionReadUnits} per million RRU`,
        ],
        ['EventBridge', `$${p.eventBridgePerMillionEvents} per million events`],
        ['SQS', `$${p.sqsPerMillionRequests} per million requests`],
        [
          'Step Functions STANDARD',
          `$${p.stepFunctionsStandardPerThousandTransitions} per 1,000 transitions`,
        ],
        [
          'Step Functions EXPRESS',
          `$${p.stepFunctionsExpressPerMillionRequests} per million requests + $${p.stepFunctionsExpressPerGbSecond} per GB-s (${p.stepFunctionsExpressMemoryMb} MB, ${p.stepFunctionsExpressDurationStepMs} ms steps)`,
        ],
      ],
    ),
  ].join('\n');
}

export function renderMarkdown(r: BenchResults): string {
  const beforeAfter = beforeAfterSection(r);
  return [
    `# Buzzer benchmarks, ${r.startedAt.slice(0, 10)}`,
    '',
    `Machine: ${machineLine(r.machine)}. Mode: ${r.mode}; the run took ${Math.round(r.durationSeconds)} s ` +
      `(\`npm run bench\`). ${
        // A `--only` run keeps the day's other sections from earlier runs, and its notes say which.
        r.notes.some((note) => /^(Sections .* come from an earlier run|The sections come from)/.test(note))
          ? 'Each section comes whole from one run (the last notes say which run and its load)'
          : 'Every figure comes from this one run'
      } on the local runtime (DynamoDB Local, ` +
      `local-aws-sqs, aws-local-stepfunctions, Lambda handlers in worker threads), with n = samples next to it.`,
    '',
    '## Headline',
    '',
    ...headline(r).map((line) => `- ${line}`),
    '',
    '![figure](./' + `${r.startedAt.slice(0, 10)}.svg)`,
    '',
    ...(beforeAfter ? ['## Before and after', '', beforeAfter, ''] : []),
    // A `--only` run on a day with no earlier run has no figures for some sections: those are left out.
    ...(r.accept.length > 0
      ? [
          '## 1. Accept path vs its floor',
          '',
          'Closed-loop clients; latency as the client sees it. Floor: the same three-item TransactWriteItems ' +
            '(order, outbox, idempotency record) sent bare to the same DynamoDB Local. Accept function: the ' +
            'handler’s own duration (validation + the transaction), so the rest of POST /orders is the HTTP API ' +
            'engine, the (cached) authorizer decision and the wait for one of the function’s 4 environments.',
          '',
          acceptSection(r),
          '',
        ]
      : []),
    ...(r.syncAsync.length > 0
      ? [
          '## 2. Synchronous vs asynchronous under a bad downstream',
          '',
          'Open-loop arrivals. `sync`: reserve → charge → confirm → mail inside the request, from the same domain ' +
            'modules, no retries. `sync + saga retries`: the same with the saga’s Retry clauses inline. ' +
            '`async (Buzzer)`: POST /orders → 202; the saga does the rest. CONFIRMED = orders that ended confirmed.',
          '',
          syncAsyncSection(r),
          '',
        ]
      : []),
    ...(r.terminal.length > 0
      ? [
          '## 3. Time to terminal',
          '',
          'From the 202 at the client to the end of the saga (CONFIRMED or CANCELLED committed), orders arriving ' +
            'at a fixed rate. completed/s: sagas ended per second over the middle 60 % of the end times — the rate ' +
            'the system kept up. When arrivals outrun it the run is saturated: the queue grows for as long as orders ' +
            'keep arriving, so a saturated run’s time to terminal says how long that run lasted, and completed/s is ' +
            'the figure to read.',
          '',
          terminalSection(r),
          '',
        ]
      : []),
    ...(r.coldStarts.length > 0
      ? [
          '## 4. Cold starts',
          '',
          'Each handler bundled with NodejsFunction’s options (esbuild, minify, CJS, target node24, source map), with ' +
            '`@aws-sdk/*` external (as deployed: the Lambda runtime provides it) and bundled. Fresh Node process per run, ' +
            `best of ${r.coldStarts[0]?.variants[0]?.runs ?? 0} runs (other load only adds time), the function’s ` +
            'environment (NODE_OPTIONS=--enable-source-maps included), the first ' +
            'event it received in this run, against the live local system. boot = Node start-up until the harness ' +
            'runs; import = loading the bundle (Lambda’s init); 1st invoke = the first event served (first SDK call ' +
            'included).',
          '',
          coldStartSection(r),
          '',
        ]
      : []),
    ...(r.cost.length > 0 || r.waitCost !== undefined
      ? ['## 5. Cost per order', '', costSection(r), '', priceSection(r.prices), '']
      : []),
    ...(r.burst && r.burst.length > 0 ? ['## 6. The four cases under bursts', '', burstSection(r), ''] : []),
    ...(r.outage ? ['## 7. The payment provider down', '', outageSection(r.outage), ''] : []),
    ...(r.neighbour ? ['## 8. A noisy neighbour', '', neighbourSection(r.neighbour), ''] : []),
    ...(r.batch && r.batch.length > 0
      ? ['## 9. Batch files: settlement export and import', '', batchSection(r.batch), '']
      : []),
    '## How this was measured, and what it does not say',
    '',
    ...r.notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
}

function outageSection(o: OutageResult): string {
  const every = Math.max(1, Math.round(o.seconds.length / 24));
  const rows = o.seconds
    .filter((_s, i) => i % every === 0 || i === o.seconds.length - 1)
    .map((s) => [
      String(s.t),
      String(s.accepted),
      String(s.waiting),
      String(s.pending),
      String(s.confirmed),
      String(s.cancelled),
      s.circuit,
      String(s.charges),
      String(s.lookups),
    ]);
  return [
    `Orders arrive open loop at ${o.ratePerSecond}/s for ${Math.round(o.phases.beforeSeconds + o.phases.downSeconds + o.phases.afterSeconds)} s; ` +
      `the sandbox provider answers every payment request 503 from ${o.phases.beforeSeconds.toFixed(0)} s for ` +
      `${o.phases.downSeconds.toFixed(0)} s, then is back. The run goes on until every order has ended. Breaker ` +
      `times compressed through the functions' environment: the circuit opens after ${o.circuit.failureThreshold} ` +
      `failures and stays open ${o.circuit.openSeconds} s (30 s by default); the hold is ${o.circuit.holdSeconds} s. ` +
      'Once a second the orders are listed from the ByClient index and read (waiting = PENDING with a hold, pending = ' +
      'PENDING without one) with the circuit’s state; provider requests from the sandbox’s call log, per ' +
      'second. Time to CONFIRMED is from the order’s createdAt to the first sample that saw it confirmed ' +
      '(1 s resolution).',
    '',
    ...outageVerdicts(o).map((line) => `- ${line}`),
    `- Most orders waiting at once: ${o.maxWaiting}; the last order was confirmed ${o.drainSeconds.toFixed(0)} s after the provider came back.`,
    '',
    table(
      [
        't (s)',
        'accepted',
        'waiting',
        'pending',
        'confirmed',
        'cancelled',
        'circuit',
        'charges/s',
        'look-ups/s',
      ],
      rows,
    ),
  ].join('\n');
}

function neighbourSection(n: NeighbourResult): string {
  const row = (label: string, p: NeighbourResult['alone']) => [
    label,
    String(p.sent),
    ms(p.latency.p50),
    ms(p.latency.p99),
    String(p.latency.n),
    String(p.throttled),
    String(p.errors),
  ];
  return [
    `Client A places orders open loop at ${n.quiet.ratePerSecond}/s (the bench client's limits), first alone, then ` +
      `while client B sends POST /orders at ${n.noisy.ratePerSecond}/s against its own limit of ` +
      `${n.noisy.rateLimit}/s (burst ${n.noisy.burstLimit}, set with the per-client override). Same runtime, one ` +
      'run; B has a load worker of its own. Its accepted orders run their sagas beside A’s.',
    '',
    table(
      ['A', 'sent', 'accept p50 (ms)', 'accept p99 (ms)', 'n (202)', '429', 'errors'],
      [row('alone', n.alone), row(`with B at ${n.noisy.ratePerSecond}/s`, n.withNoisy)],
    ),
    '',
    ...neighbourVerdicts(n).map((line) => `- ${line}`),
  ].join('\n');
}

/** Client latency and accepted % per case, one group per cell. */
export function burstPanels(cells: readonly BurstCellResult[]): BarChart[] {
  const labels = [...new Set(cells.map(burstCellLabel))];
  const kinds = BURST_CASES.filter((kind) => cells.some((c) => c.case === kind));
  const of = (label: string, kind: string) =>
    cells.find((c) => burstCellLabel(c) === label && c.case === kind);
  return [
    {
      title: 'Burst: client p50 / p99 latency per case (payment latency, failure rate)',
      unit: 'ms',
      log: true,
      series: kinds.flatMap((kind) => [`${CASE_SHORT[kind]} p50`, `${CASE_SHORT[kind]} p99`]),
      groups: labels.map((label) => ({
        label,
        values: kinds.flatMap((kind) => {
          const c = of(label, kind);
          return [c?.clientLatency.p50, c?.clientLatency.p99];
        }),
      })),
    },
    {
      title: 'Burst: accepted % per case (answered with a tracking id)',
      unit: '% accepted',
      series: kinds.map((kind) => CASE_SHORT[kind]),
      groups: labels.map((label) => ({
        label,
        values: kinds.map((kind) => {
          const c = of(label, kind);
          return c ? acceptedShare(c) * 100 : undefined;
        }),
      })),
    },
  ];
}

export function renderSvg(r: BenchResults): string {
  const panels: Panel[] = [];
  if (r.accept.length > 0) {
    panels.push({
      title: 'Accept path vs floor: p50 and p99 latency by concurrency',
      unit: 'ms',
      log: true,
      series: ['POST /orders p50', 'POST /orders p99', 'floor p50', 'floor p99'],
      groups: r.accept.map((l) => ({
        label: `concurrency ${l.concurrency} (n ${l.accept.latency.n} / ${l.floor.latency.n})`,
        values: [l.accept.latency.p50, l.accept.latency.p99, l.floor.latency.p50, l.floor.latency.p99],
      })),
    });
  }
  if (r.syncAsync.length > 0) {
    const cells = [...new Set(r.syncAsync.map(cellLabel))];
    const variants = ['sync', 'sync + saga retries', 'async (Buzzer)'] as const;
    panels.push({
      title: 'Client-seen p99 latency with a slow / flaky payment provider (latency, failure rate)',
      unit: 'ms',
      log: true,
      series: [...variants.map((v) => `${v} p99`), 'async 202 → terminal p99'],
      groups: cells.map((label) => {
        const of = (v: string) => r.syncAsync.find((c) => cellLabel(c) === label && c.variant === v);
        return {
          label,
          values: [
            ...variants.map((v) => of(v)?.clientLatency.p99),
            of('async (Buzzer)')?.timeToTerminal?.p99,
          ],
        };
      }),
    });
  }
  if (r.burst && r.burst.length > 0) panels.push(...burstPanels(r.burst));
  if (r.outage) panels.push(...outagePanels(r.outage));
  if (r.neighbour) {
    const n = r.neighbour;
    panels.push({
      title: `Noisy neighbour: A's accept latency alone and with B at ${n.noisy.ratePerSecond} req/s`,
      unit: 'ms',
      series: ['p50', 'p99'],
      groups: [
        { label: `A alone (n ${n.alone.latency.n})`, values: [n.alone.latency.p50, n.alone.latency.p99] },
        {
          label: `A with B (n ${n.withNoisy.latency.n})`,
          values: [n.withNoisy.latency.p50, n.withNoisy.latency.p99],
        },
      ],
    });
  }
  if (r.terminal.length > 0) {
    panels.push({
      title: 'Time from 202 to terminal state by arrival rate',
      unit: 'ms',
      log: true,
      series: ['p50', 'p99', 'POST /orders p99'],
      groups: r.terminal.map((t) => ({
        label: `${t.ratePerSecond} orders/s (n ${t.timeToTerminal.n})${t.saturated ? ', saturated' : ''}`,
        values: [t.timeToTerminal.p50, t.timeToTerminal.p99, t.acceptLatency.p99],
      })),
    });
  }
  if (r.cost.length > 0) {
    panels.push({
      title: 'Cost per million orders (us-east-1 list prices)',
      unit: '$ / million orders',
      series: ['total', 'Step Functions', 'DynamoDB', 'Lambda'],
      groups: r.cost.map((c) => {
        const sum = (prefix: string) =>
          c.lines.filter((l) => l.service.startsWith(prefix)).reduce((s, l) => s + l.usd * 1e6, 0);
        return {
          label: `${c.workflowType} ${c.path}`,
          values: [c.usdPerMillion, sum('Step Functions'), sum('DynamoDB'), sum('Lambda')],
        };
      }),
    });
  }
  return renderFigure(panels, `Buzzer benchmarks ${r.startedAt.slice(0, 10)} — ${machineLine(r.machine)}`);
}
