/**
 * The settlement export on the local runtime: orders placed through the API end CONFIRMED or CANCELLED, `buzzer batch
 * run settlement` exports today in pages of 2 (three part files), and the partner's SFTP folder (local/partner-sftp.ts)
 * holds one file whose detail lines are those orders. Then the restarts: a crash in page 2 and a connection dropped
 * mid-transfer each leave the execution FAILED in that state; `buzzer batch redrive` resumes it there, and the file
 * is byte for byte the one of the run that never failed. The same date run again sends nothing.
 *
 * Local target only (vitest.config.ts): it injects faults into the engines and reads the partner's folder on disk.
 */
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LambdaFaults } from '#local/faults/index.ts';
import type { PartnerSftpServer } from '#local/partner-sftp.ts';
import type { SettlementRun } from '#ops/cli/batch.ts';
import type { RuntimeFile } from '#ops/cli/context.ts';
import { buzzerJson } from './cli-support.ts';
import { ApiClient, orderBody } from './client.ts';
import { startTarget, type Target } from './target.ts';

let target: Target;
let runtimeFile: RuntimeFile;
let partner: PartnerSftpServer;
let alice: ApiClient;
const today = new Date().toISOString().slice(0, 10);
const fileName = `buzzer-settlement-acquirer-${today}.csv`;
const placed: Array<{ id: string; status: string }> = [];
let clean: { bytes: Buffer; run: SettlementRun };

const runSettlement = (...extra: string[]) =>
  buzzerJson<SettlementRun>(runtimeFile, 'batch', 'run', 'settlement', '--date', today, ...extra);
const partnerFile = () => readFile(path.join(partner.directory, fileName));

beforeAll(async () => {
  // Pages of 2: five orders make three part files.
  target = await startTarget({ clients: ['alice'], environment: { SETTLEMENT_PAGE_SIZE: '2' } });
  const runtime = target.runtime;
  if (!runtime) throw new Error('the settlement scenarios need the local runtime');
  runtimeFile = { ...runtime.info, clientEnvironment: runtime.clientEnvironment };
  const acquirer = runtime.partners.acquirer;
  if (!acquirer) throw new Error('the local runtime started no SFTP server for partner acquirer');
  partner = acquirer;
  alice = new ApiClient(target.apiUrl, target.apiKeys.alice ?? '');
  const tokens = ['tok_ok', 'tok_ok', 'tok_decline', 'tok_ok', 'tok_ok'];
  const accepted = await Promise.all(
    tokens.map((paymentToken) => alice.placeOrder(orderBody({ paymentToken }))),
  );
  for (const answer of accepted) {
    const order = await alice.waitForOrder(answer.body.trackingId);
    placed.push({ id: order.trackingId, status: order.status });
  }
});

afterAll(async () => {
  await target?.stop();
});

describe('settlement export', () => {
  it('exports the day in three pages and delivers one file whose lines are the orders', async () => {
    const run = await runSettlement();
    expect(run).toMatchObject({ status: 'SUCCEEDED', records: 5, delivery: { sent: true } });
    expect(await readdir(partner.directory)).toEqual([fileName]);
    const bytes = await partnerFile();
    const lines = bytes.toString('utf8').split('\r\n');
    expect(lines[0]).toBe(`H,1,${today},acquirer,UTC`);
    const details = lines.filter((line) => line.startsWith('D,'));
    expect(details.map((line) => line.split(',')[1]).sort()).toEqual(placed.map((o) => o.id).sort());
    for (const line of details) {
      const [, id, client, status, amount, currency] = line.split(',');
      expect(status).toBe(placed.find((o) => o.id === id)?.status);
      expect(client).toBe('alice');
      expect(Number(amount)).toBeGreaterThan(0);
      expect(currency).toBe('EUR');
    }
    expect(details.filter((line) => line.split(',')[3] === 'CANCELLED')).toHaveLength(1);
    expect(lines.at(-2)).toMatch(/^T,5,EUR:\d+,sha256:[0-9a-f]{64}$/);
    expect(partner.renames).toEqual([fileName]);
    clean = { bytes, run };
  });

  it('does not send the same date twice unless resent', async () => {
    const again = await runSettlement();
    expect(again).toMatchObject({ status: 'SUCCEEDED', sha256: clean.run.sha256, delivery: { sent: false } });
    expect(partner.renames).toHaveLength(1);
  });

  it('resumes a crash in page 2 at page 2 and produces the same bytes', async () => {
    const runtime = target.runtime;
    if (!runtime) throw new Error('local runtime needed');
    const pageFunction = Object.entries(runtime.info.functions).find(([id]) =>
      id.startsWith('SettlementPage'),
    )?.[1];
    if (!pageFunction) throw new Error('no settlement page function');
    const faults = LambdaFaults.of(runtime.engines.lambda);
    let crashed = false;
    const pagesAsked: number[] = [];
    faults.setFault(pageFunction, (event) => {
      const page = (event as { cursor?: { page?: number } }).cursor?.page ?? 0;
      pagesAsked.push(page);
      if (page !== 2 || crashed) return undefined;
      crashed = true;
      return 'error';
    });
    try {
      const failed = await runSettlement('--resend');
      expect(failed).toMatchObject({ status: 'FAILED', failedState: 'ExportPage' });
      expect(partner.renames).toHaveLength(1);
      const redriven = await buzzerJson<SettlementRun>(runtimeFile, 'batch', 'redrive', failed.name);
      expect(redriven).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1, sha256: clean.run.sha256 });
      expect(redriven.delivery).toMatchObject({ sent: true });
      // Page 1 ran once: the redrive began at page 2, with page 1's part file as it was.
      expect(pagesAsked).toEqual([1, 2, 2, 3]);
    } finally {
      faults.setFault(pageFunction, undefined);
    }
    expect((await partnerFile()).equals(clean.bytes)).toBe(true);
    expect(await readdir(partner.directory)).toEqual([fileName]);
  });

  it('resumes a crash in the assembly at the assembly and produces the same bytes', async () => {
    const runtime = target.runtime;
    if (!runtime) throw new Error('local runtime needed');
    const assemble = Object.entries(runtime.info.functions).find(([id]) =>
      id.startsWith('SettlementAssemble'),
    )?.[1];
    if (!assemble) throw new Error('no settlement assembly function');
    const faults = LambdaFaults.of(runtime.engines.lambda);
    let crashed = false;
    // `crash`: the assembly runs to its end (the file and manifest written), then its environment dies.
    faults.setFault(assemble, () => {
      if (crashed) return undefined;
      crashed = true;
      return 'crash';
    });
    try {
      const failed = await runSettlement('--resend');
      expect(failed).toMatchObject({ status: 'FAILED', failedState: 'AssembleFile' });
      const redriven = await buzzerJson<SettlementRun>(runtimeFile, 'batch', 'redrive', failed.name);
      expect(redriven).toMatchObject({ status: 'SUCCEEDED', sha256: clean.run.sha256 });
    } finally {
      faults.setFault(assemble, undefined);
    }
    expect((await partnerFile()).equals(clean.bytes)).toBe(true);
  });

  it('resumes a transfer dropped midway at the delivery, never showing a partial file under the final name', async () => {
    const before = partner.renames.length;
    partner.failUploads(1);
    const failed = await runSettlement('--resend');
    expect(failed).toMatchObject({ status: 'FAILED', failedState: 'DeliverFile', error: 'TransferFailed' });
    // The partial upload sits under the temporary name; the final name still holds the earlier, whole file.
    expect((await readdir(partner.directory)).sort()).toEqual([fileName, `${fileName}.part`]);
    expect((await partnerFile()).equals(clean.bytes)).toBe(true);
    const runs = await buzzerJson<SettlementRun[]>(runtimeFile, 'batch', 'runs', '--date', today);
    expect(runs[0]).toMatchObject({ name: failed.name, status: 'FAILED', failedState: 'DeliverFile' });

    const redriven = await buzzerJson<SettlementRun>(runtimeFile, 'batch', 'redrive', '--date', today);
    expect(redriven).toMatchObject({
      status: 'SUCCEEDED',
      sha256: clean.run.sha256,
      delivery: { sent: true },
    });
    expect(await readdir(partner.directory)).toEqual([fileName]);
    expect((await partnerFile()).equals(clean.bytes)).toBe(true);
    expect(partner.renames.length).toBe(before + 1);
  });
});
