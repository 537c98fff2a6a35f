/**
 * The accept path against its floor. `POST /orders` (HTTP API → authorizer (cached) → accept function →
 * validation → one TransactWriteItems) next to the same TransactWriteItems sent bare to the same DynamoDB Local,
 * by the same closed-loop clients at the same concurrency.
 *
 * While it runs, the outbox relay's invocations are held back (the stream keeps the records, as it would for a
 * throttled relay): otherwise the sagas behind every accepted order would compete with the accept path for the
 * two cores, which they never do on AWS, and the floor would not have that handicap. This section runs last on
 * its runtime, which is then stopped with the backlog unprocessed.
 */
import { floorTransaction } from '../floor.ts';
import { type BenchSystem, log, orderPayload, orderRequest } from '../harness.ts';
import type { LoadRequest, LoadRun } from '../load.ts';
import { type LatencySummary, summarize } from '../stats.ts';

export interface AcceptLevel {
  concurrency: number;
  floor: { latency: LatencySummary; throughput: number; errors: number };
  accept: { latency: LatencySummary; throughput: number; errors: number };
  /** The accept function's own duration (handler + its TransactWriteItems), as the Lambda service measured it. */
  handler: LatencySummary;
  /** accept ÷ floor. */
  ratio: { p50: number; p95: number; p99: number };
}

export interface AcceptSettings {
  levels: Array<{ concurrency: number; maxRequests: number; durationMs: number }>;
}

/** Rounds of the floor and of the accept path alternate; this many per concurrency. */
const ROUNDS = 3;

function outcome(runs: LoadRun[], ok: number) {
  const results = runs.flatMap((run) => run.results);
  const good = results.filter((r) => r.status === ok);
  const wallMs = runs.reduce((sum, run) => sum + run.wallMs, 0);
  return {
    latency: summarize(good.map((r) => r.latencyMs)),
    throughput: wallMs > 0 ? (results.length / wallMs) * 1000 : 0,
    errors: results.length - good.length,
  };
}

export async function runAcceptPath(system: BenchSystem, settings: AcceptSettings): Promise<AcceptLevel[]> {
  // The floor writes into Buzzer's own table, next to the accept path's items: in DynamoDB Local a freshly created
  // table answers several times slower over its first writes, which would make the floor look worse. The
  // relay is held, so these orders are never processed, and the runtime is stopped after this section.
  const floorTable = system.tableName;
  const dynamodb = {
    endpoint: system.runtime.info.endpoints.dynamodb,
    region: system.runtime.clientEnvironment.AWS_REGION ?? 'us-east-1',
    accessKeyId: system.runtime.clientEnvironment.AWS_ACCESS_KEY_ID ?? 'local',
    secretAccessKey: system.runtime.clientEnvironment.AWS_SECRET_ACCESS_KEY ?? 'local',
  };
  const floorRequests = (n: number): LoadRequest[] =>
    Array.from({ length: n }, () => floorTransaction(floorTable, 'bench', orderPayload()));
  const acceptRequests = (n: number): LoadRequest[] =>
    Array.from({ length: n }, () => orderRequest(system.apiUrl, system.apiKey));

  const acceptFunction = system.functionNamed('ApiAcceptOrder');
  const release = system.tap.hold(system.functionNamed('OutboxRelayHandler'));
  const levels: AcceptLevel[] = [];
  try {
    // The load worker's SDK client warms up (the accept function's has served thousands of requests by now);
    // without this the first floor samples measure a cold client.
    await system.load.run({
      mode: { type: 'closed', concurrency: 8 },
      requests: floorRequests(400),
      timeoutMs: 30_000,
      dynamodb,
    });
    for (const { concurrency, maxRequests, durationMs } of settings.levels) {
      log(`accept path: concurrency ${concurrency}`);
      // Floor and accept alternate in rounds, so a change in the machine's other load hits both alike.
      const floorRuns: LoadRun[] = [];
      const acceptRuns: LoadRun[] = [];
      const acceptDurations: number[] = [];
      const perRound = { requests: Math.ceil(maxRequests / ROUNDS), durationMs: durationMs / ROUNDS };
      // Each round's worker warms its own client first; the function scales out to its environments.
      const warm = Math.max(20, concurrency * 2);
      for (let round = 0; round < ROUNDS; round++) {
        floorRuns.push(
          await system.load.run({
            mode: { type: 'closed', concurrency, durationMs: perRound.durationMs },
            warmup: floorRequests(warm),
            requests: floorRequests(perRound.requests),
            timeoutMs: 30_000,
            dynamodb,
          }),
        );
        const accept = await system.load.run({
          mode: { type: 'closed', concurrency, durationMs: perRound.durationMs },
          warmup: acceptRequests(warm),
          requests: acceptRequests(perRound.requests),
          timeoutMs: 30_000,
        });
        acceptRuns.push(accept);
        const durations = system.runtime.engines.lambda.metrics()[acceptFunction]?.recentDurationsMs ?? [];
        acceptDurations.push(...durations.slice(-accept.results.length));
      }
      const f = outcome(floorRuns, 200);
      const a = outcome(acceptRuns, 202);
      levels.push({
        concurrency,
        floor: f,
        accept: a,
        handler: summarize(acceptDurations),
        ratio: {
          p50: a.latency.p50 / f.latency.p50,
          p95: a.latency.p95 / f.latency.p95,
          p99: a.latency.p99 / f.latency.p99,
        },
      });
    }
  } finally {
    release();
  }
  return levels;
}
