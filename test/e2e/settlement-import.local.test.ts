/**
 * The acquirer's settlement file on the local runtime: a file put into the inbox bucket on s3rver raises S3's
 * "Object Created" event on the local EventBridge, whose rule (the same template as on AWS) starts the import's
 * state machine. Chunks of 2 lines, so a 3-line file takes two chunks. Then:
 * - a good file is applied line by line and moves to processed/, with its reconciliation report in reports/;
 * - a file with a wrong amount yields a report naming that line (and the SettlementMismatches metric);
 * - a malformed file goes to failed/ with an error report naming each bad line, and nothing applied;
 * - the same file dropped twice (same name, or same bytes under another name) applies once;
 * - a crash in chunk 2 leaves the execution FAILED in ApplyChunk; `buzzer batch redrive` resumes at chunk 2, whose
 *   line was recorded by the crashed run and is not applied a second time.
 *
 * Local target only (vitest.config.ts): it injects faults into the Lambda engine and reads the runtime's metrics.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectStore, objectStoreClient } from '#functions/settlement/object-store.ts';
import { LambdaFaults } from '#local/faults/index.ts';
import type { ImportRun } from '#ops/cli/batch.ts';
import type { RuntimeFile } from '#ops/cli/context.ts';
import { keys } from '#shared/table-keys.ts';
import { buzzerJson } from './cli-support.ts';
import { ApiClient, orderBody } from './client.ts';
import { startTarget, type Target } from './target.ts';

interface Charge {
  orderId: string;
  paymentRef: string;
  amount: number;
  currency: string;
}

let target: Target;
let runtimeFile: RuntimeFile;
let inbox: ObjectStore;
let tableName: string;
const charges: Charge[] = [];
const today = new Date().toISOString().slice(0, 10);
const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

const detail = (charge: Charge, over: Partial<Charge> = {}) => {
  const c = { ...charge, ...over };
  return `D,charge,${c.paymentRef},${c.orderId},${c.amount},${c.currency},25,settled`;
};
const file = (lines: string[], date = today) =>
  `${[`H,1,${date},acquirer`, ...lines, `T,${lines.length}`].join('\r\n')}\r\n`;

const lineRecord = async (ref: string) =>
  (
    await target.runtime?.clients.doc.send(
      new GetCommand({ TableName: tableName, Key: keys.reconLine('charge', ref), ConsistentRead: true }),
    )
  )?.Item;

/**
 * Drops `body` into the inbox (through `buzzer batch drop`, as a person would, or a plain S3 put) and waits for the
 * import the bucket's event started to end.
 */
async function drop(name: string, body: string, via: 'cli' | 's3' = 's3'): Promise<ImportRun> {
  const before = new Set(
    (await buzzerJson<ImportRun[]>(runtimeFile, 'batch', 'runs', '--job', 'import', '--file', name)).map(
      (run) => run.executionArn,
    ),
  );
  if (via === 'cli') {
    const dir = await mkdtemp(path.join(tmpdir(), 'acquirer-'));
    try {
      await writeFile(path.join(dir, 'file.csv'), body);
      const dropped = await buzzerJson<{ key: string }>(
        runtimeFile,
        'batch',
        'drop',
        path.join(dir, 'file.csv'),
        '--name',
        name,
      );
      expect(dropped.key).toBe(`inbox/${name}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } else {
    await inbox.putText(`inbox/${name}`, body);
  }
  return waitForImport(name, before);
}

async function waitForImport(name: string, ignore: Set<string>): Promise<ImportRun> {
  let found: ImportRun | undefined;
  await expect
    .poll(async () => {
      const runs = await buzzerJson<ImportRun[]>(
        runtimeFile,
        'batch',
        'runs',
        '--job',
        'import',
        '--file',
        name,
      );
      found = runs.find((run) => !ignore.has(run.executionArn) && run.status !== 'RUNNING');
      return found !== undefined;
    })
    .toBe(true);
  if (!found) throw new Error(`no import of ${name} ended`);
  return found;
}

const reportLines = async (key: string) =>
  ((await inbox.getText(key)) ?? '')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

beforeAll(async () => {
  target = await startTarget({ clients: ['alice'], environment: { SETTLEMENT_IMPORT_CHUNK_LINES: '2' } });
  const runtime = target.runtime;
  if (!runtime) throw new Error('the settlement import scenarios need the local runtime');
  runtimeFile = { ...runtime.info, clientEnvironment: runtime.clientEnvironment };
  const bucket = runtime.info.outputs.SettlementInboxBucketName;
  const table = runtime.info.outputs.TableName;
  if (typeof bucket !== 'string' || typeof table !== 'string')
    throw new Error('no inbox bucket or table output');
  tableName = table;
  inbox = new ObjectStore(bucket, objectStoreClient(runtime.clientEnvironment));
  const alice = new ApiClient(target.apiUrl, target.apiKeys.alice ?? '');
  const accepted = await Promise.all(Array.from({ length: 8 }, () => alice.placeOrder(orderBody())));
  for (const answer of accepted) {
    // A loaded machine runs eight sagas at once slowly: the hook's own time-out is the bound.
    const order = await alice.waitForOrder(answer.body.trackingId, undefined, 100_000);
    expect(order.status).toBe('CONFIRMED');
    const item = (
      await runtime.clients.doc.send(
        new GetCommand({ TableName: tableName, Key: keys.order(order.trackingId), ConsistentRead: true }),
      )
    ).Item as Charge | undefined;
    if (!item?.paymentRef) throw new Error(`order ${order.trackingId} has no charge`);
    charges.push({
      orderId: item.orderId,
      paymentRef: item.paymentRef,
      amount: item.amount,
      currency: item.currency,
    });
  }
});

afterAll(async () => {
  await target?.stop();
});

describe('settlement import', () => {
  const at = (i: number): Charge => {
    const charge = charges[i];
    if (!charge) throw new Error(`no charge ${i}`);
    return charge;
  };

  it('applies a good file line by line and moves it to processed/ with its report', async () => {
    const run = await drop('acquirer-good.csv', file([detail(at(0)), detail(at(1)), detail(at(2))]), 'cli');
    expect(run).toMatchObject({
      status: 'SUCCEEDED',
      date: today,
      lines: 3,
      applied: 3,
      alreadyApplied: 0,
      matched: 3,
      mismatched: 0,
      location: 'processed/acquirer-good.csv',
    });
    expect(await inbox.exists('processed/acquirer-good.csv')).toBe(true);
    expect(await inbox.exists('inbox/acquirer-good.csv')).toBe(false);
    expect(await lineRecord(at(0).paymentRef)).toMatchObject({
      result: 'matched',
      orderId: at(0).orderId,
      fee: 25,
    });
    const [summary, ...rest] = await reportLines(run.report ?? '');
    expect(summary).toMatchObject({ file: 'acquirer-good.csv', lines: 3, matched: 3, unknown: 0, amount: 0 });
    // The other charges of the day are in no file yet: the report says so, by charge.
    expect(
      rest
        .filter((line) => line.result === 'missing')
        .map((line) => line.orderId)
        .sort(),
    ).toEqual(
      charges
        .slice(3)
        .map((charge) => charge.orderId)
        .sort(),
    );
  });

  it('reports a wrong amount by its line, and counts it in the SettlementMismatches metric', async () => {
    const run = await drop(
      'acquirer-amount.csv',
      file([
        detail(at(3)),
        detail(at(4), { amount: at(4).amount + 100 }),
        'D,charge,ch_unknown,nope,100,EUR,1,settled',
      ]),
    );
    expect(run).toMatchObject({ status: 'SUCCEEDED', lines: 3, matched: 1, mismatched: 2 });
    const lines = await reportLines(run.report ?? '');
    expect(lines).toContainEqual(
      expect.objectContaining({
        result: 'amount',
        line: 3,
        orderId: at(4).orderId,
        detail: `file ${at(4).amount + 100} ${at(4).currency}, Buzzer ${at(4).amount} ${at(4).currency}`,
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ result: 'unknown', line: 4, detail: 'no order nope' }),
    );
    // The two lines, and the two charges of the day in no file yet (5 and 6; 7 is dropped later).
    const mismatches = () =>
      target.runtime?.metrics
        .snapshot()
        .series.filter((series) => series.metricName === 'SettlementMismatches')
        .reduce((sum, series) => sum + series.sum, 0);
    await expect.poll(mismatches).toBeGreaterThanOrEqual(2 + 3);
  });

  it('moves a malformed file to failed/ with an error report naming each bad line, applying nothing', async () => {
    const run = await drop(
      'acquirer-bad.csv',
      file([detail(at(5)), 'D,charge,ch_x,o-1,abc,EUR,1,settled', detail(at(6), { currency: 'euro' })]),
    );
    expect(run).toMatchObject({
      status: 'REJECTED',
      location: 'failed/acquirer-bad.csv',
      errorReport: 'failed/acquirer-bad.csv.errors.txt',
    });
    const errors = await inbox.getText('failed/acquirer-bad.csv.errors.txt');
    expect(errors).toBe(
      'line 3: amount "abc" is not a positive whole number of minor units\n' +
        'line 4: currency "euro" is not an ISO 4217 code\n',
    );
    // Line 2 was good, yet nothing of the file was applied.
    expect(await lineRecord(at(5).paymentRef)).toBeUndefined();

    const future = await drop('acquirer-future.csv', file([detail(at(5))], tomorrow));
    expect(future).toMatchObject({ status: 'REJECTED' });
    expect(await inbox.getText('failed/acquirer-future.csv.errors.txt')).toMatch(
      new RegExp(`^line 1: business date ${tomorrow} is unknown`),
    );
  });

  it('applies the same file once when it is dropped twice, by name or by content', async () => {
    const again = await drop('acquirer-good.csv', file([detail(at(0)), detail(at(1)), detail(at(2))]));
    expect(again).toMatchObject({
      status: 'REJECTED',
      reason: expect.stringMatching(/^duplicate: a file named/),
    });
    const renamed = await drop('acquirer-good-copy.csv', file([detail(at(0)), detail(at(1)), detail(at(2))]));
    expect(renamed).toMatchObject({
      status: 'REJECTED',
      reason: expect.stringMatching(/^duplicate: the same content/),
    });
    expect(renamed.location).toMatch(/^failed\/duplicates\/[0-9a-f]{16}\/acquirer-good-copy\.csv$/);
    // The first application stands: its line records are the good file's.
    expect(await lineRecord(at(0).paymentRef)).toMatchObject({ file: 'acquirer-good.csv' });
  });

  it('resumes a crash in chunk 2 at chunk 2, applying no line twice', async () => {
    const runtime = target.runtime;
    if (!runtime) throw new Error('local runtime needed');
    const applyFunction = Object.entries(runtime.info.functions).find(([id]) =>
      id.startsWith('SettlementImportApply'),
    )?.[1];
    if (!applyFunction) throw new Error('no settlement import apply function');
    const faults = LambdaFaults.of(runtime.engines.lambda);
    const chunksAsked: number[] = [];
    let crashed = false;
    // `crash`: chunk 2 runs to its end (its line recorded), then its environment dies before it answers.
    faults.setFault(applyFunction, (event) => {
      const chunk = (event as { cursor?: { chunk?: number } }).cursor?.chunk ?? 0;
      chunksAsked.push(chunk);
      if (chunk !== 2 || crashed) return undefined;
      crashed = true;
      return 'crash';
    });
    try {
      const failed = await drop('acquirer-crash.csv', file([detail(at(5)), detail(at(6)), detail(at(7))]));
      expect(failed).toMatchObject({ status: 'FAILED', failedState: 'ApplyChunk', failedChunk: 2 });
      const applied = await lineRecord(at(7).paymentRef);
      expect(applied).toBeDefined();
      const redriven = await buzzerJson<ImportRun>(runtimeFile, 'batch', 'redrive', failed.name);
      expect(redriven).toMatchObject({
        status: 'SUCCEEDED',
        redriveCount: 1,
        lines: 3,
        // Chunk 1's two lines, kept from before the crash; chunk 2's line was found recorded.
        applied: 2,
        alreadyApplied: 1,
        location: 'processed/acquirer-crash.csv',
      });
      // Chunk 1 ran once: the redrive began at chunk 2.
      expect(chunksAsked).toEqual([1, 2, 2]);
      expect(await lineRecord(at(7).paymentRef)).toEqual(applied);
    } finally {
      faults.setFault(applyFunction, undefined);
    }
  });
});
