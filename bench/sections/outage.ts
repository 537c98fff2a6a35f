/**
 * The payment provider down for a while as orders keep arriving (open loop), then back: what the circuit breaker and
 * the held intake make of it, second by second. Runs on a runtime whose breaker times are compressed through the
 * functions' environment (bench/run.ts), so a 60 s outage spans a dozen open intervals.
 *
 * Once a second the sampler lists the outage's orders from the ByClient index, reads them (status, hold) and reads
 * the payment circuit's record; the provider's requests come from the sandbox's call log afterwards, per second.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { INDEXES } from '#contracts/table.ts';
import { readBreaker } from '#functions/resilience/circuit-breaker.ts';
import { clientPartition } from '#functions/shared/table-keys.ts';
import { getItems } from '#shared/dynamodb.ts';
import { authenticatedFetch } from '#shared/request-auth.ts';
import { type BenchSystem, log, orderRequest, trackingIdOf } from '../harness.ts';
import {
  type OrderSample,
  type OutageResult,
  outageSeconds,
  type ProviderCall,
  probesPerInterval,
} from '../resilience-model.ts';
import { summarize } from '../stats.ts';

export interface OutageSettings {
  ratePerSecond: number;
  beforeSeconds: number;
  downSeconds: number;
  afterSeconds: number;
  /** Give up waiting for the orders to end this long after the provider is back. */
  drainTimeoutMs: number;
  circuit: OutageResult['circuit'];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface OrderRow {
  id: string;
  status: string;
  held: boolean;
  createdAt: number;
}

/**
 * The bench client's orders placed since `sinceIso`: listed from the ByClient index (every page), read from the table
 * (the index does not carry the status, contracts/table.ts).
 */
async function ordersSince(system: BenchSystem, sinceIso: string): Promise<OrderRow[]> {
  const entries: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await system.runtime.clients.doc.send(
      new QueryCommand({
        TableName: system.tableName,
        IndexName: INDEXES.ByClient,
        KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk >= :from',
        ExpressionAttributeValues: { ':pk': clientPartition('bench'), ':from': `ORDER#${sinceIso}` },
        ProjectionExpression: 'pk, sk',
        ExclusiveStartKey: startKey,
      }),
    );
    entries.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const items = await getItems({ doc: system.runtime.clients.doc, tableName: system.tableName }, entries);
  return items.map((item) => ({
    id: String(item.orderId),
    status: String(item.status),
    held: item.hold !== undefined && item.hold !== null,
    createdAt: Date.parse(String(item.createdAt)),
  }));
}

async function providerCalls(system: BenchSystem, since: Date): Promise<ProviderCall[]> {
  const response = await authenticatedFetch(
    system.runtime.sandboxAuth,
    `${system.sandboxUrl}/v1/calls?${new URLSearchParams({ since: since.toISOString() })}`,
  );
  if (!response.ok) throw new Error(`GET /v1/calls answered ${response.status}`);
  const { calls } = (await response.json()) as { calls: ProviderCall[] };
  return calls;
}

export async function runOutage(system: BenchSystem, settings: OutageSettings): Promise<OutageResult> {
  const { ratePerSecond, beforeSeconds, downSeconds, afterSeconds } = settings;
  const sent = Math.round(ratePerSecond * (beforeSeconds + downSeconds + afterSeconds));
  log(
    `outage: ${sent} orders at ${ratePerSecond}/s; provider down from ${beforeSeconds} s for ${downSeconds} s`,
  );
  const since = new Date(Date.now() - 1000);
  const start = Date.now();
  const run = system.load.run({
    mode: { type: 'open', ratePerSecond },
    requests: Array.from({ length: sent }, () => orderRequest(system.apiUrl, system.apiKey)),
    timeoutMs: 30_000,
  });
  let loadDone = false;
  const loaded = run.finally(() => {
    loadDone = true;
  });

  const samples: Array<OrderSample & { at: number }> = [];
  const confirmedAt = new Map<string, number>();
  const createdAt = new Map<string, number>();
  let openedAt: number | undefined;
  let downAt = Number.NaN;
  let upAt = Number.NaN;
  const deps = { doc: system.runtime.clients.doc, tableName: system.tableName };
  const sample = async () => {
    const at = Date.now();
    const [rows, breaker] = await Promise.all([
      ordersSince(system, since.toISOString()),
      readBreaker(deps, 'payment'),
    ]);
    if (breaker.state !== 'CLOSED' && openedAt === undefined && Number.isFinite(downAt)) {
      openedAt = breaker.since ? Date.parse(breaker.since) : at;
    }
    for (const row of rows) {
      createdAt.set(row.id, row.createdAt);
      if (row.status === 'CONFIRMED' && !confirmedAt.has(row.id)) confirmedAt.set(row.id, at);
    }
    const count = (status: string, held?: boolean) =>
      rows.filter((r) => r.status === status && (held === undefined || r.held === held)).length;
    samples.push({
      at,
      t: 0,
      waiting: count('PENDING', true),
      pending: count('PENDING', false),
      confirmed: count('CONFIRMED'),
      cancelled: count('CANCELLED'),
      circuit: breaker.state.toLowerCase(),
    });
    return rows;
  };

  try {
    let next = start;
    let drainDeadline = Number.POSITIVE_INFINITY;
    for (;;) {
      const elapsed = (Date.now() - start) / 1000;
      if (Number.isNaN(downAt) && elapsed >= beforeSeconds) {
        await system.runtime.setSandboxFaults({ paymentFailureRate: 1 });
        downAt = Date.now();
        log('outage: provider down');
      }
      if (Number.isNaN(upAt) && elapsed >= beforeSeconds + downSeconds) {
        await system.runtime.setSandboxFaults({});
        upAt = Date.now();
        drainDeadline = upAt + settings.drainTimeoutMs;
        log('outage: provider back');
      }
      const rows = await sample();
      const ended = rows.filter((r) => r.status !== 'PENDING').length;
      if (loadDone && Number.isFinite(upAt) && ended >= rows.length && rows.length > 0) break;
      if (Date.now() > drainDeadline) {
        log(
          `outage: ${rows.length - ended} orders not ended ${settings.drainTimeoutMs / 1000} s after the provider came back`,
        );
        break;
      }
      // A sample that took longer than a second (a loaded machine) moves the next one on rather than bunching them.
      next = Math.max(next + 1000, Date.now());
      await sleep(next - Date.now());
    }
  } finally {
    await system.runtime.setSandboxFaults({});
  }

  const answers = await loaded;
  const accepted = answers.results.filter((r) => r.status === 202 && trackingIdOf(r.body));
  const acceptedIds = new Set(accepted.map((r) => trackingIdOf(r.body)));
  // The worker's clock and this thread's share the epoch; its start is the first order's send.
  const t0 = answers.startedAt;
  for (const s of samples) s.t = (s.at - t0) / 1000;
  const calls = await providerCalls(system, since);
  const seconds = outageSeconds(
    accepted.map((r) => r.sentAt + r.latencyMs),
    samples.filter((s) => s.t >= 0),
    calls,
    t0,
  );
  const last = samples.at(-1);
  const toConfirmed = [...confirmedAt]
    .filter(([id]) => acceptedIds.has(id))
    .map(([id, at]) => at - (createdAt.get(id) ?? at));
  const during = calls.filter((c) => Date.parse(c.at) >= downAt && Date.parse(c.at) < upAt);
  const probes = probesPerInterval(calls, openedAt, upAt, settings.circuit.openSeconds);
  const lastConfirmed = Math.max(...confirmedAt.values());
  const result: OutageResult = {
    ratePerSecond,
    phases: {
      beforeSeconds: (downAt - t0) / 1000,
      downSeconds: (upAt - downAt) / 1000,
      afterSeconds: afterSeconds,
    },
    circuit: settings.circuit,
    sent,
    accepted: accepted.length,
    confirmed: last?.confirmed ?? 0,
    cancelled: last?.cancelled ?? 0,
    unfinished: (last?.waiting ?? 0) + (last?.pending ?? 0),
    maxWaiting: Math.max(0, ...samples.map((s) => s.waiting)),
    timeToConfirmed: summarize(toConfirmed),
    duringOutage: {
      charges: during.filter((c) => c.kind === 'CHARGE').length,
      lookups: during.filter((c) => c.kind === 'LOOKUP').length,
      refunds: during.filter((c) => c.kind === 'REFUND').length,
    },
    maxProbesPerInterval: probes.max,
    openIntervals: probes.intervals,
    drainSeconds: Number.isFinite(lastConfirmed) ? Math.max(0, (lastConfirmed - upAt) / 1000) : Number.NaN,
    seconds,
  };
  log(
    `outage: accepted ${result.accepted}/${sent}, confirmed ${result.confirmed}, cancelled ${result.cancelled}, ` +
      `max to CONFIRMED ${Math.round(result.timeToConfirmed.max / 1000)} s, max probes/interval ${probes.max}`,
  );
  return result;
}
