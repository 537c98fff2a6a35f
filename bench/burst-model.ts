/**
 * The burst experiment's pure parts: what one order's outcome was (a sample), how a cell's samples become its row
 * of the table, and the answers the report gives in words, derived from those rows. No I/O, so it is unit-tested;
 * bench/sections/burst.ts does the measuring.
 */
import type { WaitCost } from './cost-model.ts';
import { type LatencySummary, ms, pct, summarize, usd } from './stats.ts';

/**
 * The architectures of issue 16 the bench drives, in the report's order. `burstmail` is case 3: case 2 deployed with
 * `-c mailService=burst`, on a runtime of its own, with a marketing campaign started with each burst.
 */
export const BURST_CASES = ['sync', 'async', 'burstmail', 'hybrid'] as const;
export type BurstCase = (typeof BURST_CASES)[number];

export const CASE_LABELS: Record<BurstCase, string> = {
  sync: 'Case 1 (synchronous)',
  async: 'Case 2 (asynchronous, Buzzer)',
  burstmail: 'Case 3 (case 2 + burst mail service)',
  hybrid: 'Case 4 (hybrid, Prefer: wait)',
};

/** For chart legends. */
export const CASE_SHORT: Record<BurstCase, string> = {
  sync: 'case 1 sync',
  async: 'case 2 async',
  burstmail: 'case 3 burst mail',
  hybrid: 'case 4 hybrid',
};

/** The marketing campaign started with a case 3 burst: its mails, as the mail sink recorded them. */
export interface CampaignSummary {
  /** Mails the campaign asked for. */
  mails: number;
  /** Distinct campaign mails the sink recorded when the cell drained. */
  sent: number;
  /** From the campaign's start (the operator's invocation) to each mail recorded. */
  latency: LatencySummary;
  /** Sent mails a second, from the campaign's start to its last mail recorded. */
  mailsPerSecond: number;
}

/** The mail path's own share of the resources: the notify worker (case 2) or the burst mail sender (case 3). */
export interface MailPathUse {
  /** Invocations of the mail function during the cell. */
  invocations: number;
  /** Mails it sent (the orders' and the campaign's), for mails per invocation. */
  mails: number;
  /** The most invocations of it running at once, and of its environments alive at once. */
  peakConcurrent: number;
  peakEnvironments: number;
}

export interface BurstCell {
  paymentLatencyMs: number;
  paymentFailureRate: number;
  /** Orders in the burst. */
  orders: number;
  /** The burst's length: the orders arrive at `orders / seconds` a second, open loop. */
  seconds: number;
}

/** One order as the client and the system saw it. */
export interface OrderSample {
  /** HTTP status; 0 when the client gave up or the connection failed. */
  status: number;
  clientLatencyMs: number;
  /** The answer carried a tracking id: the system took the order (a 202, or a final answer of the sync path). */
  accepted: boolean;
  /** The answer already carried the order's end (sync: every answer with an order; hybrid: a 200). */
  answeredFinal: boolean;
  /** From the request's send to the order's CONFIRMED / CANCELLED commit; absent while it had not ended. */
  timeToTerminalMs?: number;
  terminalStatus?: 'CONFIRMED' | 'CANCELLED';
  /** From the terminal commit to the mail sink recording the customer's mail; absent when no mail arrived. */
  mailLatencyMs?: number;
  /**
   * Not ended when the drain ended, but held by the open payment circuit within its hold (`hold.until` still ahead):
   * the order is waiting as designed and ends when the provider answers again or the hold runs out, so it is not lost.
   */
  heldByCircuit?: boolean;
  /**
   * Not ended when the drain ended, not held, and its saga still RUNNING (in a retry's wait, or queued for an
   * environment) or not started yet (its start message still on the saga-start queue behind the burst's).
   */
  sagaRunning?: boolean;
  /** The mail sender held this order's mail at least once because the mail circuit was open. */
  mailHeld?: boolean;
}

/**
 * What the payment provider and the mail transport went through during a cell: the payment circuit sampled every
 * second, and the sandbox's invocations that found every environment of their function busy and waited.
 */
export interface DownstreamUse {
  /** Seconds the payment circuit was seen OPEN or HALF_OPEN. */
  paymentCircuitOpenSeconds: number;
  /** Times it was seen going from CLOSED to open. */
  paymentCircuitOpenings: number;
  /** Payment provider invocations (charges, look-ups, refunds) that waited for an environment. */
  providerWaits: number;
  providerInvocations: number;
  /** The same for the mail sink (absent when the sandbox serves mail from the provider's function). */
  mailSinkWaits?: number;
  mailSinkInvocations?: number;
}

/** The most of each resource in use at once during a cell, sampled while it ran and drained. */
export interface ResourcePeak {
  /** Function invocations running at once, all functions together. */
  concurrentExecutions: number;
  /** Execution environments (worker threads) alive at once, all functions together. */
  environments: number;
  /** Step Functions executions running at once. */
  runningExecutions: number;
  /** Resident memory of the runtime's Node process (functions' workers included; DynamoDB Local's JVM not). */
  rssMb: number;
}

export interface BurstCellResult extends BurstCell {
  case: BurstCase;
  /** Seconds of `Prefer: wait` the hybrid asked for. */
  waitSeconds?: number;
  /** Orders a second the burst achieved (sends over the send span). */
  achievedRate: number;
  n: number;
  accepted: number;
  answeredFinal: number;
  clientLatency: LatencySummary;
  timeToTerminal: LatencySummary;
  confirmed: number;
  cancelled: number;
  /**
   * Accepted, not CONFIRMED or CANCELLED when the drain ended, not held by the payment circuit, and its saga ended
   * without ending it (or the synchronous request died before it did): nothing in the system is still working on it.
   * (Rows measured before `held` existed count held and running orders here too.)
   */
  lost: number;
  /** Accepted and not ended when the drain ended, held by the open payment circuit within the order's hold. */
  held?: number;
  /** Accepted and not ended when the drain ended, not held, its saga still running or not started yet. */
  running?: number;
  mailLatency: LatencySummary;
  /** Ended orders without a recorded mail when the cell was over (its queues empty, or the quiesce timed out). */
  mailMissing: number;
  /** Ended orders whose mail the sender held at least once behind the open mail circuit. */
  mailHeld?: number;
  downstream?: DownstreamUse;
  peak: ResourcePeak;
  /** Case 3's campaign beside the burst. */
  campaign?: CampaignSummary;
  /** The mail function's use (absent from runs made before case 3 existed). */
  mailPath?: MailPathUse;
  /** When the run that measured this row started (absent from rows of runs before it was recorded). */
  measuredAt?: string;
}

export interface CellMeta extends BurstCell {
  case: BurstCase;
  waitSeconds?: number;
  achievedRate: number;
}

export function aggregateCell(
  meta: CellMeta,
  samples: readonly OrderSample[],
  peak: ResourcePeak,
): BurstCellResult {
  const accepted = samples.filter((s) => s.accepted);
  const ended = accepted.filter((s) => s.terminalStatus !== undefined);
  const numbers = (values: Array<number | undefined>) =>
    values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  return {
    ...meta,
    n: samples.length,
    accepted: accepted.length,
    answeredFinal: samples.filter((s) => s.answeredFinal).length,
    clientLatency: summarize(samples.map((s) => s.clientLatencyMs)),
    timeToTerminal: summarize(numbers(ended.map((s) => s.timeToTerminalMs))),
    confirmed: ended.filter((s) => s.terminalStatus === 'CONFIRMED').length,
    cancelled: ended.filter((s) => s.terminalStatus === 'CANCELLED').length,
    lost: accepted.filter((s) => s.terminalStatus === undefined && !s.heldByCircuit && !s.sagaRunning).length,
    held: accepted.filter((s) => s.terminalStatus === undefined && s.heldByCircuit === true).length,
    running: accepted.filter(
      (s) => s.terminalStatus === undefined && !s.heldByCircuit && s.sagaRunning === true,
    ).length,
    mailLatency: summarize(numbers(ended.map((s) => s.mailLatencyMs))),
    mailMissing: ended.filter((s) => s.mailLatencyMs === undefined).length,
    mailHeld: ended.filter((s) => s.mailHeld === true).length,
    peak,
  };
}

/** The running maximum of resource samples. */
export function peakOf(samples: readonly ResourcePeak[]): ResourcePeak {
  const max = (pick: (s: ResourcePeak) => number) => samples.reduce((m, s) => Math.max(m, pick(s)), 0);
  return {
    concurrentExecutions: max((s) => s.concurrentExecutions),
    environments: max((s) => s.environments),
    runningExecutions: max((s) => s.runningExecutions),
    rssMb: max((s) => s.rssMb),
  };
}

/** Cancelled orders among the accepted ones: where a payment failure became the client's answer. */
export const cancelledShare = (c: Pick<BurstCellResult, 'cancelled' | 'accepted'>): number =>
  c.accepted > 0 ? c.cancelled / c.accepted : 0;

export const acceptedShare = (c: Pick<BurstCellResult, 'accepted' | 'n'>): number =>
  c.n === 0 ? Number.NaN : c.accepted / c.n;

export function burstCellLabel(c: Pick<BurstCell, 'paymentLatencyMs' | 'paymentFailureRate'>): string {
  const latency = c.paymentLatencyMs >= 1000 ? `${c.paymentLatencyMs / 1000} s` : `${c.paymentLatencyMs} ms`;
  return `${latency}, ${Math.round(c.paymentFailureRate * 100)} %`;
}

const find = (
  cells: readonly BurstCellResult[],
  kind: BurstCase,
  latencyMs: number,
  failureRate: number,
): BurstCellResult | undefined =>
  cells.find(
    (c) => c.case === kind && c.paymentLatencyMs === latencyMs && c.paymentFailureRate === failureRate,
  );

/** The healthy cell (0 ms, 0 %) and the worst one measured (slowest payment, then the most failures). */
function extremes(cells: readonly BurstCellResult[]): {
  healthy?: { latencyMs: number; failureRate: number };
  worst?: { latencyMs: number; failureRate: number };
} {
  const keys = cells.map((c) => ({ latencyMs: c.paymentLatencyMs, failureRate: c.paymentFailureRate }));
  const worst = [...keys].sort((a, b) => b.latencyMs - a.latencyMs || b.failureRate - a.failureRate)[0];
  const healthy = keys.find((k) => k.latencyMs === 0 && k.failureRate === 0);
  return { ...(healthy ? { healthy } : {}), ...(worst ? { worst } : {}) };
}

const sentence = (parts: string[]) => parts.filter(Boolean).join(' ');

/** Which case keeps accepting: the lowest accepted share and the slowest client p99 each case had in any cell. */
export function acceptingAnswer(cells: readonly BurstCellResult[]): string | undefined {
  const perCase = BURST_CASES.map((kind) => {
    const own = cells.filter((c) => c.case === kind);
    if (own.length === 0) return undefined;
    const lowest = own.reduce((a, b) => (acceptedShare(b) < acceptedShare(a) ? b : a));
    const slowest = own.reduce((a, b) => (b.clientLatency.p99 > a.clientLatency.p99 ? b : a));
    const mostCancelled = own.reduce((a, b) => (cancelledShare(b) > cancelledShare(a) ? b : a));
    return { kind, lowest, slowest, mostCancelled };
  }).filter((x) => x !== undefined);
  if (perCase.length === 0) return undefined;
  const keeps = perCase.filter((x) => acceptedShare(x.lowest) >= 0.99);
  const parts = perCase.map(
    (x) =>
      `${CASE_LABELS[x.kind]} accepted at least ${pct(acceptedShare(x.lowest), 0)} ` +
      `(lowest at ${burstCellLabel(x.lowest)}, n = ${x.lowest.n}) with a client p99 of at most ` +
      `${ms(x.slowest.clientLatency.p99)} ms (at ${burstCellLabel(x.slowest)})` +
      // An accepted synchronous order may be a cancellation already: accepting is not selling.
      (cancelledShare(x.mostCancelled) > 0.05
        ? `, and cancelled up to ${pct(cancelledShare(x.mostCancelled), 0)} of what it accepted ` +
          `(at ${burstCellLabel(x.mostCancelled)})`
        : ''),
  );
  const verdict =
    keeps.length === 0
      ? 'No case accepted 99 % of a burst in every cell.'
      : `${keeps.map((x) => CASE_LABELS[x.kind]).join(' and ')} kept accepting (≥ 99 % in every cell).`;
  return sentence([verdict, `${parts.join('; ')}.`]);
}

/** Where payment trouble spreads: each case's client p99 in the healthy cell against the worst cell. */
export function spreadAnswer(cells: readonly BurstCellResult[]): string | undefined {
  const { healthy, worst } = extremes(cells);
  if (
    !healthy ||
    !worst ||
    (healthy.latencyMs === worst.latencyMs && healthy.failureRate === worst.failureRate)
  )
    return undefined;
  const rows = BURST_CASES.map((kind) => {
    const good = find(cells, kind, healthy.latencyMs, healthy.failureRate);
    const bad = find(cells, kind, worst.latencyMs, worst.failureRate);
    if (!good || !bad) return undefined;
    const factor = bad.clientLatency.p99 / good.clientLatency.p99;
    return { kind, good, bad, factor };
  }).filter((x) => x !== undefined);
  if (rows.length === 0) return undefined;
  // Three ways the trouble reaches a client: a slower answer, no answer, or an answer that is a cancellation (a
  // synchronous flow whose payment circuit opened answers PAYMENT_UNAVAILABLE at once; a held order is not cancelled).
  const how = (r: (typeof rows)[number]): string[] => [
    ...(r.factor >= 2 ? [`client p99 ${r.factor.toFixed(1)}×`] : []),
    ...(acceptedShare(r.bad) < acceptedShare(r.good) - 0.01 ? ['fewer accepted'] : []),
    ...(cancelledShare(r.bad) > cancelledShare(r.good) + 0.05
      ? [`${pct(cancelledShare(r.bad), 0)} cancelled`]
      : []),
  ];
  const spreads = rows.filter((r) => how(r).length > 0);
  const contained = rows.filter((r) => !spreads.includes(r));
  const label = burstCellLabel({ paymentLatencyMs: worst.latencyMs, paymentFailureRate: worst.failureRate });
  const detail = rows.map(
    (r) =>
      `${CASE_LABELS[r.kind]}: client p99 ${ms(r.good.clientLatency.p99)} → ${ms(r.bad.clientLatency.p99)} ms ` +
      `(${r.factor.toFixed(1)}×), accepted ${pct(acceptedShare(r.good), 0)} → ${pct(acceptedShare(r.bad), 0)}, ` +
      `cancelled ${pct(cancelledShare(r.good), 0)} → ${pct(cancelledShare(r.bad), 0)}, ` +
      `time to terminal p99 ${ms(r.good.timeToTerminal.p99)} → ${ms(r.bad.timeToTerminal.p99)} ms`,
  );
  return sentence([
    spreads.length > 0
      ? `With the provider at ${label}, payment trouble reaches the client in ` +
        `${spreads.map((r) => `${CASE_LABELS[r.kind]} as ${how(r).join(' and ')}`).join(', and in ')}` +
        (contained.length > 0
          ? `; ${contained.map((r) => CASE_LABELS[r.kind]).join(' and ')} keeps it behind the queue, where it ` +
            'shows up as a longer time to terminal instead.'
          : '.')
      : `With the provider at ${label}, no case's client latency doubled.`,
    `${detail.join('; ')}.`,
  ]);
}

/** When the asynchronous path is slower end to end: the healthy cell's time to terminal, sync against async. */
export function endToEndAnswer(cells: readonly BurstCellResult[]): string | undefined {
  const sync = find(cells, 'sync', 0, 0);
  const async = find(cells, 'async', 0, 0);
  if (!sync || !async) return undefined;
  const difference = async.timeToTerminal.p50 - sync.timeToTerminal.p50;
  const slower = difference > 0;
  return sentence([
    `At 0 ms payment latency the asynchronous path is ${slower ? 'slower' : 'not slower'} end to end: ` +
      `request → terminal p50 ${ms(async.timeToTerminal.p50)} ms (p99 ${ms(async.timeToTerminal.p99)}) ` +
      `against ${ms(sync.timeToTerminal.p50)} ms (p99 ${ms(sync.timeToTerminal.p99)}) for the synchronous ` +
      `path, ${slower ? `${ms(difference)} ms more at the median` : `${ms(-difference)} ms less at the median`} ` +
      `(n = ${async.timeToTerminal.n} / ${sync.timeToTerminal.n}).`,
    sync.measuredAt !== async.measuredAt
      ? `(The two rows come from different runs, ${sync.measuredAt ?? 'an earlier one'} and ` +
        `${async.measuredAt ?? 'an earlier one'}, under different loads of the machine: the difference is ` +
        'partly the load.)'
      : '',
    slower
      ? 'The work is the same domain code, and the synchronous path writes the ended order once (one ' +
        'transaction with its stock, idempotency record and event) where the saga writes it step by step; the ' +
        'asynchronous path adds the hops between its steps: the DynamoDB ' +
        'stream to the outbox relay, EventBridge to SQS, the queue poller to the saga starter, and Step Functions ' +
        'between its task states, each a poll or a queue the synchronous path calls straight through. Under a ' +
        'burst those queues also line the sagas up behind each other.'
      : 'The hops the asynchronous path adds (stream, bus, queue, state machine) cost less here than the queueing ' +
        'the synchronous path met for its environments.',
  ]);
}

/**
 * What the hybrid buys (final answers, client latency) and what it costs. The client's extra wait over the 202 is
 * measured; the function is billed for at most `waitSeconds` of it, the rest being the queue for an environment
 * that other waits hold, so the cost is priced on the smaller of the two.
 */
export function hybridAnswer(cells: readonly BurstCellResult[], waitCost?: WaitCost): string | undefined {
  const hybrid = cells.filter((c) => c.case === 'hybrid');
  if (hybrid.length === 0) return undefined;
  const parts = hybrid.map((h) => {
    const a = find(cells, 'async', h.paymentLatencyMs, h.paymentFailureRate);
    const extra = a ? Math.max(0, h.clientLatency.mean - a.clientLatency.mean) / 1000 : Number.NaN;
    const held = Math.min(extra, h.waitSeconds ?? Number.POSITIVE_INFINITY);
    const cost =
      waitCost && Number.isFinite(held) ? `, up to ${usd(held * waitCost.usd * 1e6)} per million orders` : '';
    return (
      `at ${burstCellLabel(h)} ${pct(h.answeredFinal / Math.max(1, h.n), 0)} got their final answer in the ` +
      `request and ${pct(acceptedShare(h), 0)} were accepted (client p50 ${ms(h.clientLatency.p50)} / p99 ` +
      `${ms(h.clientLatency.p99)} ms` +
      (a ? ` against ${ms(a.clientLatency.p50)} / ${ms(a.clientLatency.p99)} ms for the 202` : '') +
      `); clients waited ${Number.isFinite(extra) ? extra.toFixed(1) : '–'} s longer on average, ` +
      `a function held for at most ${Number.isFinite(held) ? held.toFixed(1) : '–'} s of it${cost}`
    );
  });
  const wait = hybrid[0]?.waitSeconds;
  return sentence([
    `With \`Prefer: wait=${wait ?? 'N'}\` the hybrid buys a final answer without polling where the saga is quick, ` +
      'and pays with a function held open for each wait: held environments serve no one else, so under a burst ' +
      'the waits queue behind each other and the accept path stops keeping up:',
    `${parts.join('; ')}.`,
    waitCost
      ? `A waited second costs ${usd(waitCost.usd)} (${usd(waitCost.usd * 1e6)} per million), almost all Lambda ` +
        'duration; a client polling instead pays a request, an invocation and a read per poll.'
      : '',
  ]);
}

const perSecond = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '–');

/**
 * Does a mail service that many producers call keep its latency low with few resources: case 3's order mail latency
 * (with its campaign beside the burst) against case 2's (the notify worker, order mail only), cell by cell, with the
 * campaign's throughput and what each mail path used.
 */
export function mailServiceAnswer(cells: readonly BurstCellResult[]): string | undefined {
  const rows = cells
    .filter((c) => c.case === 'burstmail')
    .map((c3) => ({ c3, c2: find(cells, 'async', c3.paymentLatencyMs, c3.paymentFailureRate) }));
  if (rows.length === 0) return undefined;
  const compared = rows.filter((r) => r.c2 !== undefined);
  const lower = compared.filter((r) => r.c3.mailLatency.p99 <= (r.c2?.mailLatency.p99 ?? Number.NaN));
  const campaigns = rows.map((r) => r.c3.campaign).filter((c) => c !== undefined);
  const allSent = campaigns.every((c) => c.sent === c.mails);
  const use = (m?: MailPathUse) =>
    m
      ? `${m.invocations} invocations for ${m.mails} mails (${(m.mails / Math.max(1, m.invocations)).toFixed(1)} a ` +
        `call), at most ${m.peakEnvironments} environments`
      : 'no count';
  const detail = rows.map(({ c3, c2 }) => {
    const campaign = c3.campaign;
    return (
      `At ${burstCellLabel(c3)} order mail p50 / p99 ${ms(c3.mailLatency.p50)} / ${ms(c3.mailLatency.p99)} ms` +
      (c2 ? ` against ${ms(c2.mailLatency.p50)} / ${ms(c2.mailLatency.p99)} ms for case 2` : '') +
      (c2 && c2.mailMissing > 0
        ? ` (whose ${c2.mailMissing} mails not yet recorded when the cell drained are not in its percentiles)`
        : '') +
      (c3.mailMissing > 0 ? ` (${c3.mailMissing} of case 3's order mails not yet recorded)` : '') +
      (campaign
        ? `, with ${campaign.sent} of ${campaign.mails} campaign mails sent at ${perSecond(campaign.mailsPerSecond)}/s ` +
          `(p50 / p99 ${ms(campaign.latency.p50)} / ${ms(campaign.latency.p99)} ms after the campaign's start)`
        : '') +
      `; the sender used ${use(c3.mailPath)}` +
      (c2 ? `, the notify worker ${use(c2.mailPath)}` : '')
    );
  });
  const perCall = (m?: MailPathUse) => (m ? m.mails / Math.max(1, m.invocations) : Number.NaN);
  const batched = compared.filter((r) => perCall(r.c3.mailPath) > perCall(r.c2?.mailPath));
  const fewer =
    batched.length === compared.length && compared.length > 0
      ? ', sending more mails per invocation in every cell (large batches of one queue instead of batches of 10).'
      : '.';
  const verdict =
    compared.length === 0
      ? 'Case 2 was not measured in the same cells, so case 3 stands alone here.'
      : lower.length === compared.length
        ? `Yes: with a campaign of ${campaigns[0]?.mails ?? 0} mails started with each burst, case 3's order mails ` +
          "kept a p99 no higher than case 2's (which carried order mail only) in every cell measured" +
          fewer
        : `Partly: case 3's order mail p99 was at most case 2's in ${lower.length} of ${compared.length} cells, ` +
          `with a campaign of ${campaigns[0]?.mails ?? 0} mails started with the burst. The order mails have a ` +
          'lane of their own, so they do not wait behind the campaign in a queue; where their p99 was higher, the ' +
          "campaign's sends competed with them for the mail transport (the sandbox's mail sink, whose " +
          'environments both lanes share) and for the machine.';
  return sentence([
    verdict,
    allSent
      ? 'Every campaign mail was sent once.'
      : 'Some campaign mails were not recorded when the cell drained.',
    `${detail.join('. ')}.`,
    'Case 2 gets no campaign: its notify worker consumes order events only, and a campaign through it would have to ' +
      'publish made-up order events on the bus (which the points worker and the webhooks would act on too).',
  ]);
}

export interface BurstAnswer {
  question: string;
  answer: string;
}

/** The report's answers, each from the numbers; a question whose cells were not measured is left out. */
export function burstAnswers(cells: readonly BurstCellResult[], waitCost?: WaitCost): BurstAnswer[] {
  const candidates: Array<[string, string | undefined]> = [
    ['Which case keeps accepting under a burst?', acceptingAnswer(cells)],
    ['Where does payment trouble spread?', spreadAnswer(cells)],
    ['When is the asynchronous path slower end to end?', endToEndAnswer(cells)],
    [
      'Does a mail service that many producers call keep its latency low with few resources?',
      mailServiceAnswer(cells),
    ],
    ['What does the hybrid cost and buy?', hybridAnswer(cells, waitCost)],
  ];
  return candidates
    .filter((c): c is [string, string] => c[1] !== undefined)
    .map(([question, answer]) => ({ question, answer }));
}
