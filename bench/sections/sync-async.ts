/**
 * Synchronous vs asynchronous under a bad downstream. The sandbox payment provider is made slow and/or flaky with
 * its fault knobs; the same orders arrive at the same rate at
 * - the synchronous baseline without retries (the request fails when the charge fails),
 * - the synchronous baseline with the saga's own Retry clauses inline (the client waits through the backoff),
 * - Buzzer's 202 path (the saga retries behind the queue).
 * Per cell: what the client waits for its answer, how many orders end CONFIRMED, and for Buzzer the time from the
 * 202 to the terminal state.
 */
import {
  type BenchSystem,
  log,
  orderRequest,
  orderStatusOf,
  quiesce,
  trackingIdOf,
  waitForSagas,
  warmupRequests,
} from '../harness.ts';
import { type LatencySummary, summarize } from '../stats.ts';
import type { SyncBaseline } from '../sync-baseline.ts';
import { orderStatuses } from './terminal.ts';

export type Variant = 'sync' | 'sync + saga retries' | 'async (Buzzer)';

export interface CellResult {
  paymentLatencyMs: number;
  paymentFailureRate: number;
  variant: Variant;
  ratePerSecond: number;
  n: number;
  /** What the client waited for its answer (a 202 for Buzzer, the final answer for the sync baseline). */
  clientLatency: LatencySummary;
  /** Orders that ended CONFIRMED (sync: answered 200; async: confirmed by the saga). */
  succeeded: number;
  /** Sync: answered with an error status or not at all. Async: not accepted with a 202. */
  failedRequests: number;
  /** Async only: from the 202 at the client to the saga's end. */
  timeToTerminal?: LatencySummary;
}

export interface Cell {
  paymentLatencyMs: number;
  paymentFailureRate: number;
  ratePerSecond: number;
  orders: number;
}

async function runSync(
  baseUrl: string,
  system: BenchSystem,
  cell: Cell,
  variant: Variant,
): Promise<CellResult> {
  const run = await system.load.run({
    mode: { type: 'open', ratePerSecond: cell.ratePerSecond },
    warmup: warmupRequests(system.apiUrl, system.apiKey),
    requests: Array.from({ length: cell.orders }, () => orderRequest(baseUrl, system.apiKey)),
    timeoutMs: 35_000,
  });
  // A cancelled order is a 200 too: the answer carries the ended order, and its status says how it ended.
  const ok = run.results.filter((r) => r.status === 200 && orderStatusOf(r.body) === 'CONFIRMED').length;
  return {
    ...cell,
    variant,
    n: run.results.length,
    clientLatency: summarize(run.results.map((r) => r.latencyMs)),
    succeeded: ok,
    failedRequests: run.results.length - ok,
  };
}

async function runAsync(system: BenchSystem, cell: Cell): Promise<CellResult> {
  const run = await system.load.run({
    mode: { type: 'open', ratePerSecond: cell.ratePerSecond },
    warmup: warmupRequests(system.apiUrl, system.apiKey),
    requests: Array.from({ length: cell.orders }, () => orderRequest(system.apiUrl, system.apiKey)),
    timeoutMs: 35_000,
  });
  const placed = run.results
    .map((r) => ({
      orderId: r.status === 202 ? trackingIdOf(r.body) : undefined,
      at: r.sentAt + r.latencyMs,
    }))
    .filter((p): p is { orderId: string; at: number } => p.orderId !== undefined);
  const outcomes = await waitForSagas(
    system,
    placed.map((p) => p.orderId),
    120_000,
  );
  const statuses = await orderStatuses(
    system,
    placed.map((p) => p.orderId),
  );
  const ttt = placed
    .map((p) => (outcomes.get(p.orderId)?.stopDate ?? Number.NaN) - p.at)
    .filter((ms) => Number.isFinite(ms));
  return {
    ...cell,
    variant: 'async (Buzzer)',
    n: run.results.length,
    clientLatency: summarize(run.results.map((r) => r.latencyMs)),
    succeeded: placed.filter((p) => statuses.get(p.orderId) === 'CONFIRMED').length,
    failedRequests: run.results.length - placed.length,
    timeToTerminal: summarize(ttt),
  };
}

export async function runSyncVsAsync(
  system: BenchSystem,
  baseline: SyncBaseline,
  cells: readonly Cell[],
): Promise<CellResult[]> {
  const results: CellResult[] = [];
  // Both sync variants scale out to a few environments first: a cold environment per waiting client would
  // otherwise put Lambda cold starts into the first cell's figures (Buzzer's functions are warm by now).
  for (const url of [baseline.urls.noRetry, baseline.urls.sagaRetries]) {
    await system.load.run({
      mode: { type: 'closed', concurrency: 8 },
      requests: Array.from({ length: 16 }, () => orderRequest(url, system.apiKey)),
      timeoutMs: 35_000,
    });
  }
  try {
    for (const cell of cells) {
      await system.runtime.setSandboxFaults({
        paymentLatencyMs: cell.paymentLatencyMs,
        paymentFailureRate: cell.paymentFailureRate,
      });
      const label = `${cell.paymentLatencyMs} ms, ${cell.paymentFailureRate * 100} % failures`;
      log(`sync vs async: ${label}: sync`);
      results.push(await runSync(baseline.urls.noRetry, system, cell, 'sync'));
      await quiesce(system);
      // Without failures the two sync variants run the same code path: measuring it twice adds nothing.
      if (cell.paymentFailureRate > 0) {
        log(`sync vs async: ${label}: sync + saga retries`);
        results.push(await runSync(baseline.urls.sagaRetries, system, cell, 'sync + saga retries'));
        await quiesce(system);
      }
      log(`sync vs async: ${label}: async`);
      results.push(await runAsync(system, cell));
      await quiesce(system);
    }
  } finally {
    await system.runtime.setSandboxFaults({});
  }
  return results;
}
