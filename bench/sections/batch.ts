/**
 * Batch files: the settlement export and the acquirer's file import at a day of 10k and 100k orders. The day's orders
 * are written straight into the table (placing 100k orders through the API would take hours here), as the saga's
 * terminal step leaves them: CONFIRMED or CANCELLED, with the Settled index's attributes and a payment reference.
 * Then `buzzer batch run settlement` exports the day (pages → parts → one file → the partner's SFTP folder), and an
 * acquirer's file with a line per confirmed order (one in 200 with another amount) goes into the inbox, whose import
 * runs chunk by chunk. For each: the wall time, rows (lines) a second, and the largest heap each step's function used
 * in any invocation. Streaming keeps that heap the same at 10k and at 100k; arrays of the whole day would not.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { settledIndexAttributes } from '#functions/shared/settled-index.ts';
import { dropSettlementFile, type ImportRun, listImportRuns, runSettlement } from '#ops/cli/batch.ts';
import { clientsForRuntime, contextFor, type OpsContext, targetFromRuntime } from '#ops/cli/context.ts';
import { keys } from '#shared/table-keys.ts';
import { acquirerFile, type BatchRun, type BatchStep, orderOf, type SeededOrder } from '../batch-model.ts';
import { type BenchSystem, log } from '../harness.ts';

const WRITE_CONCURRENCY = 8;

/** Writes the day's orders 25 to a request, `WRITE_CONCURRENCY` requests at a time; returns them. */
async function seedDay(system: BenchSystem, date: string, count: number): Promise<SeededOrder[]> {
  const orders = Array.from({ length: count }, (_, i) => orderOf(i, randomUUID()));
  const dayStart = Date.parse(`${date}T00:00:00.000Z`);
  const items = orders.map((order, i) => {
    const endedAt = new Date(dayStart + Math.floor((i / count) * 86_000_000));
    return {
      ...keys.order(order.orderId),
      entity: 'Order',
      orderId: order.orderId,
      clientId: 'bench',
      status: order.status,
      amount: order.amount,
      currency: order.currency,
      ...(order.status === 'CONFIRMED'
        ? { paymentRef: order.paymentRef }
        : { failureReason: 'PAYMENT_DECLINED' }),
      createdAt: endedAt.toISOString(),
      updatedAt: endedAt.toISOString(),
      version: 3,
      ...settledIndexAttributes(order.orderId, endedAt),
    };
  });
  let next = 0;
  const writer = async (): Promise<void> => {
    for (let start = next; start < items.length; start = next) {
      next += 25;
      let pending = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
      while (pending.length > 0) {
        const answer = await system.runtime.clients.doc.send(
          new BatchWriteCommand({ RequestItems: { [system.tableName]: pending } }),
        );
        pending = (answer.UnprocessedItems?.[system.tableName] ?? []) as typeof pending;
      }
    }
  };
  await Promise.all(Array.from({ length: WRITE_CONCURRENCY }, writer));
  return orders;
}

/** Per settlement function: invocations and largest heap since `before` (the peaks were reset when it was taken). */
function stepsSince(
  system: BenchSystem,
  before: Record<string, number>,
  ours: (logicalId: string) => boolean,
): BatchStep[] {
  return Object.entries(system.runtime.engines.lambda.metrics())
    .map(([name, m]) => ({
      function: system.logicalIdOf(name),
      invocations: m.invocations - (before[name] ?? 0),
      peakHeapMb: m.maxHeapUsedBytes / 1_048_576,
    }))
    .filter((step) => step.invocations > 0 && ours(step.function))
    .sort((a, b) => a.function.localeCompare(b.function));
}

function invocationCounts(system: BenchSystem): Record<string, number> {
  return Object.fromEntries(
    Object.entries(system.runtime.engines.lambda.metrics()).map(([name, m]) => [name, m.invocations]),
  );
}

async function waitForImport(ctx: OpsContext, file: string, timeoutMs: number): Promise<ImportRun> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [run] = await listImportRuns(ctx, { file, limit: 1 });
    if (run && run.status !== 'RUNNING') return run;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`the import of ${file} did not end in ${timeoutMs / 1000} s`);
}

const isImportStep = (logicalId: string): boolean => logicalId.startsWith('SettlementImport');
const isExportStep = (logicalId: string): boolean =>
  logicalId.startsWith('Settlement') && !isImportStep(logicalId);

const businessDateDaysAgo = (days: number): string =>
  new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);

export async function runBatch(system: BenchSystem, sizes: readonly number[]): Promise<BatchRun[]> {
  const runtimeFile = { ...system.runtime.info, clientEnvironment: system.runtime.clientEnvironment };
  const ctx = contextFor(targetFromRuntime(runtimeFile), clientsForRuntime(runtimeFile));
  const folder = await mkdtemp(path.join(tmpdir(), 'buzzer-bench-batch-'));
  const runs: BatchRun[] = [];
  try {
    for (const [index, orders] of sizes.entries()) {
      // A day of its own per size, recent enough for the import's date check.
      const date = businessDateDaysAgo(30 + index);
      log(`batch: writing ${orders} orders of ${date}`);
      const seedStarted = performance.now();
      const seeded = await seedDay(system, date, orders);
      const seedSeconds = (performance.now() - seedStarted) / 1000;

      log(`batch: exporting ${date}`);
      system.runtime.engines.lambda.resetMaxHeapUsed();
      let before = invocationCounts(system);
      let started = performance.now();
      const exported = await runSettlement(ctx, { date, resend: true, timeoutMs: 60 * 60_000 });
      const exportSeconds = (performance.now() - started) / 1000;
      const exportSteps = stepsSince(system, before, isExportStep);

      const file = `acquirer-${date}-${orders}.csv`;
      const local = path.join(folder, file);
      await writeFile(local, acquirerFile(date, seeded));
      log(`batch: importing ${file}`);
      system.runtime.engines.lambda.resetMaxHeapUsed();
      before = invocationCounts(system);
      started = performance.now();
      await dropSettlementFile(ctx, local);
      const imported = await waitForImport(ctx, file, 60 * 60_000);
      const importSeconds = (performance.now() - started) / 1000;
      await rm(local, { force: true });
      const rows = exported.records ?? 0;
      const lines = imported.lines ?? 0;
      runs.push({
        orders,
        seedSeconds,
        export: {
          status: exported.status,
          rows,
          seconds: exportSeconds,
          rowsPerSecond: rows / exportSeconds,
          steps: exportSteps,
        },
        import: {
          status: imported.status,
          lines,
          matched: imported.matched ?? 0,
          mismatched: imported.mismatched ?? 0,
          seconds: importSeconds,
          linesPerSecond: lines / importSeconds,
          steps: stepsSince(system, before, isImportStep),
        },
      });
    }
  } finally {
    ctx.close();
    await rm(folder, { recursive: true, force: true });
  }
  return runs;
}
