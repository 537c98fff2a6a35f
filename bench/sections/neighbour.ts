/**
 * A noisy neighbour: client A places orders at a modest rate, first alone (its baseline), then while client B sends
 * ten times its own rate limit. B's limit is set low through the per-client override (functions/clients/limits.ts),
 * before B's first request, since the authorizer caches the limits with its answer. A keeps the bench client's
 * limits. Both phases run in this one section on one runtime, so A's two figures share the machine's other load.
 *
 * B has a load worker of its own: its rejected requests must not queue behind A's in one client's event loop, which
 * would show as A's latency without the server having done anything.
 */
import { setClientLimits } from '#functions/clients/limits.ts';
import { type BenchSystem, log, orderRequest, quiesce } from '../harness.ts';
import { LoadGenerator, type LoadRun } from '../load.ts';
import { type NeighbourPhase, type NeighbourResult, retryAfterCounts } from '../resilience-model.ts';
import { summarize } from '../stats.ts';

export interface NeighbourSettings {
  /** A's open-loop rate and requests per phase. */
  quietRatePerSecond: number;
  requestsPerPhase: number;
  /** B's limits; B sends `noisyFactor` × its rate. */
  noisyRateLimit: number;
  noisyBurstLimit: number;
  noisyFactor: number;
}

export const NOISY_CLIENT = 'noisy';

function phase(run: LoadRun): NeighbourPhase {
  const ok = run.results.filter((r) => r.status === 202);
  const throttled = run.results.filter((r) => r.status === 429).length;
  return {
    latency: summarize(ok.map((r) => r.latencyMs)),
    sent: run.results.length,
    throttled,
    errors: run.results.length - ok.length - throttled,
  };
}

export async function runNeighbour(
  system: BenchSystem,
  settings: NeighbourSettings,
): Promise<NeighbourResult> {
  const noisyKey = system.apiKeys[NOISY_CLIENT];
  if (!noisyKey) throw new Error(`the runtime has no API key for the client ${NOISY_CLIENT}`);
  await setClientLimits({ doc: system.runtime.clients.doc, tableName: system.tableName }, NOISY_CLIENT, {
    rateLimit: settings.noisyRateLimit,
    burstLimit: settings.noisyBurstLimit,
  });
  const quiet = () =>
    system.load.run({
      mode: { type: 'open', ratePerSecond: settings.quietRatePerSecond },
      requests: Array.from({ length: settings.requestsPerPhase }, () =>
        orderRequest(system.apiUrl, system.apiKey),
      ),
      timeoutMs: 30_000,
    });

  log(`neighbour: A alone, ${settings.requestsPerPhase} orders at ${settings.quietRatePerSecond}/s`);
  const alone = await quiet();
  await quiesce(system);

  const noisyRate = settings.noisyRateLimit * settings.noisyFactor;
  const quietSeconds = settings.requestsPerPhase / settings.quietRatePerSecond;
  // B starts a second early and ends a second late, so every one of A's requests meets B's traffic.
  const noisyCount = Math.ceil(noisyRate * (quietSeconds + 2));
  log(
    `neighbour: A with B at ${noisyRate} req/s (limit ${settings.noisyRateLimit}/s, burst ${settings.noisyBurstLimit})`,
  );
  const noisyLoad = new LoadGenerator();
  let noisy: LoadRun;
  let together: LoadRun;
  try {
    const noisyRun = noisyLoad.run({
      mode: { type: 'open', ratePerSecond: noisyRate },
      requests: Array.from({ length: noisyCount }, () => orderRequest(system.apiUrl, noisyKey)),
      timeoutMs: 30_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    together = await quiet();
    noisy = await noisyRun;
  } finally {
    await noisyLoad.close();
  }
  await quiesce(system);

  const throttled = noisy.results.filter((r) => r.status === 429);
  const a = phase(alone);
  const b = phase(together);
  const result: NeighbourResult = {
    quiet: { ratePerSecond: settings.quietRatePerSecond },
    noisy: {
      ratePerSecond: noisyRate,
      rateLimit: settings.noisyRateLimit,
      burstLimit: settings.noisyBurstLimit,
      sent: noisy.results.length,
      accepted: noisy.results.filter((r) => r.status === 202).length,
      throttled: throttled.length,
      withRetryAfter: throttled.filter((r) => r.retryAfter !== undefined).length,
      retryAfter: retryAfterCounts(throttled.map((r) => r.retryAfter)),
    },
    alone: a,
    withNoisy: b,
    p99Ratio: b.latency.p99 / a.latency.p99,
    p50Ratio: b.latency.p50 / a.latency.p50,
  };
  log(
    `neighbour: A p99 ${Math.round(a.latency.p99)} → ${Math.round(b.latency.p99)} ms (${result.p99Ratio.toFixed(2)}×); ` +
      `B ${result.noisy.throttled}/${result.noisy.sent} answered 429`,
  );
  return result;
}
