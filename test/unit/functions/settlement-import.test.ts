/**
 * The inbound settlement file's parts that decide what is applied: the line parser, the line splitter with byte
 * offsets (a chunk resumes with a ranged GET at the next line's offset), the match of a line with its order, the
 * whole-file validation (nothing applied when any line is bad), and a chunk applied twice (the second run records
 * nothing). The same steps on the running system: test/e2e/settlement-import.local.test.ts.
 */
import { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  applyChunk,
  type ImportConfig,
  type ImportState,
  matchLine,
  validateFile,
} from '#functions/settlement/import.ts';
import { linesOf, parseImportRecord } from '#functions/settlement/import-format.ts';
import type { ObjectStore } from '#functions/settlement/object-store.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
beforeEach(() => ddb.reset());
afterAll(() => ddb.restore());

const config: ImportConfig = { bucket: 'inbox', timeZone: 'UTC', chunkLines: 2, maxAgeDays: 400 };
const NOW = new Date('2026-12-07T10:00:00Z');

/** A store over one object, in pieces of 7 bytes (lines cross network chunks), with the uploads it got. */
function storeOf(text: string) {
  const puts: Record<string, string> = {};
  const gets: number[] = [];
  const bytes = Buffer.from(text);
  const pieces = (from: number) => {
    const out: Buffer[] = [];
    for (let at = from; at < bytes.length; at += 7) out.push(bytes.subarray(at, at + 7));
    return out;
  };
  const store = {
    getStream: async (_key: string, from = 0) => {
      gets.push(from);
      return Readable.from(pieces(from));
    },
    putText: async (key: string, body: string) => {
      puts[key] = body;
    },
    putFile: async (key: string, file: string) => {
      const { readFile } = await import('node:fs/promises');
      puts[key] = await readFile(file, 'utf8');
    },
  } as unknown as ObjectStore;
  return { store, puts, gets };
}

const state = (over: Partial<ImportState> = {}): ImportState => ({
  eventId: 'ev-1',
  name: 'f.csv',
  key: 'work/abc/f.csv',
  sha256: 'abc',
  bytes: 0,
  outcome: 'claimed',
  ...over,
});

const GOOD = [
  'H,1,2026-12-06,acquirer',
  'D,charge,ch_1,o-1,1200,EUR,30,settled',
  'D,charge,ch_2,o-2,800,EUR,20,settled',
  'D,refund,rf_3,o-3,500,EUR,0,settled',
  'T,3',
  '',
].join('\r\n');

describe('parseImportRecord', () => {
  it('reads a detail line and names every bad field of one', () => {
    expect(parseImportRecord('D,charge,ch_1,o-1,1200,EUR,30,settled', 2)).toEqual({
      kind: 'detail',
      detail: {
        line: 2,
        type: 'charge',
        acquirerRef: 'ch_1',
        orderId: 'o-1',
        amount: 1200,
        currency: 'EUR',
        fee: 30,
        status: 'settled',
      },
    });
    expect(parseImportRecord('D,chargeback,ch_1,o-1,-5,eur,x,done', 4)).toEqual({
      kind: 'error',
      reason:
        'type "chargeback" is not charge or refund; amount "-5" is not a positive whole number of minor units; ' +
        'currency "eur" is not an ISO 4217 code; fee "x" is not a whole number of minor units; ' +
        'status "done" is not settled or failed',
    });
    expect(parseImportRecord('D,charge,"a,b",o-1,1,EUR,0,settled', 2)).toMatchObject({ kind: 'error' });
    expect(parseImportRecord('H,1,2026-02-30,acquirer', 1)).toEqual({
      kind: 'error',
      reason: 'business date "2026-02-30" is not a date',
    });
  });
});

describe('linesOf', () => {
  it('gives each line with the byte offsets of its start and of the next line, CRLF or LF, across chunks', async () => {
    const text = 'ab\r\ncdé\nlast';
    const lines = [];
    for await (const line of linesOf(
      Readable.from([Buffer.from(text).subarray(0, 3), Buffer.from(text).subarray(3)]),
    )) {
      lines.push(line);
    }
    expect(lines).toEqual([
      { text: 'ab', start: 0, end: 4 },
      { text: 'cdé', start: 4, end: 9 },
      { text: 'last', start: 9, end: 13 },
    ]);
  });
});

describe('matchLine', () => {
  const line = {
    line: 2,
    type: 'charge' as const,
    acquirerRef: 'ch_1',
    orderId: 'o-1',
    amount: 1200,
    currency: 'EUR',
    fee: 30,
    status: 'settled' as const,
  };
  const order = { orderId: 'o-1', amount: 1200, currency: 'EUR', paymentRef: 'ch_1', refundRef: 'rf_1,rf_2' };

  it('matches, and names what differs: the order, the charge, the amount or currency, the status', () => {
    expect(matchLine(line, order).result).toBe('matched');
    expect(matchLine(line, undefined)).toMatchObject({ result: 'unknown', detail: 'no order o-1' });
    expect(matchLine({ ...line, acquirerRef: 'ch_9' }, order)).toMatchObject({
      result: 'unknown',
      detail: 'order o-1 has no charge ch_9',
    });
    expect(matchLine({ ...line, amount: 1300 }, order)).toMatchObject({
      result: 'amount',
      detail: 'file 1300 EUR, Buzzer 1200 EUR',
    });
    expect(matchLine({ ...line, currency: 'USD' }, order).result).toBe('amount');
    expect(matchLine({ ...line, status: 'failed' }, order).result).toBe('status');
    expect(matchLine({ ...line, type: 'refund', acquirerRef: 'rf_2' }, order).result).toBe('matched');
  });
});

describe('validateFile', () => {
  it('accepts a whole file and points the first chunk at the first detail line', async () => {
    const { store } = storeOf(GOOD);
    const valid = await validateFile({ store }, config, state({ bytes: GOOD.length }), NOW);
    expect(valid).toMatchObject({
      outcome: 'valid',
      date: '2026-12-06',
      acquirer: 'acquirer',
      cursor: { offset: 'H,1,2026-12-06,acquirer\r\n'.length, line: 2, chunk: 1 },
      counts: { lines: 3, applied: 0 },
      done: false,
    });
  });

  it('rejects a file with any bad line, naming each one, and writes the report next to failed/', async () => {
    const text = [
      'H,1,2026-12-06,acquirer',
      'D,charge,ch_1,o-1,1200,EUR,30,settled',
      'D,charge,ch_2,o-2,12.50,EUR,20,settled',
      'X,what',
      'T,2',
      'D,charge,ch_4,o-4,1,EUR,0,settled',
    ].join('\n');
    const { store, puts } = storeOf(text);
    const invalid = await validateFile({ store }, config, state(), NOW);
    expect(invalid).toMatchObject({ outcome: 'invalid', errorReport: 'failed/f.csv.errors.txt' });
    expect(puts['failed/f.csv.errors.txt']).toBe(
      'line 3: amount "12.50" is not a positive whole number of minor units\n' +
        'line 4: record type "X" is not H, D or T\n' +
        'line 6: after the trailer (line 5)\n',
    );
  });

  it('rejects a file cut short (no trailer), a date after today and one older than the orders kept', async () => {
    const cut = storeOf('H,1,2026-12-06,acquirer\nD,charge,ch_1,o-1,1200,EUR,30,settled\n');
    expect(await validateFile({ store: cut.store }, config, state(), NOW)).toMatchObject({
      outcome: 'invalid',
    });
    expect(cut.puts['failed/f.csv.errors.txt']).toBe(
      'line 2: the file ends without a trailer T,<count> (cut short?)\n',
    );
    const future = storeOf('H,1,2026-12-08,acquirer\nT,0\n');
    await validateFile({ store: future.store }, config, state(), NOW);
    expect(future.puts['failed/f.csv.errors.txt']).toBe(
      'line 1: business date 2026-12-08 is unknown: it is after today (2026-12-07 in UTC)\n',
    );
    const old = storeOf('H,1,2025-01-01,acquirer\nT,0\n');
    await validateFile({ store: old.store }, config, state(), NOW);
    expect(old.puts['failed/f.csv.errors.txt']).toMatch(/^line 1: business date 2025-01-01 is older than/);
  });
});

describe('applyChunk', () => {
  const orders = [
    { orderId: 'o-1', amount: 1200, currency: 'EUR', paymentRef: 'ch_1' },
    { orderId: 'o-2', amount: 900, currency: 'EUR', paymentRef: 'ch_2' },
    { orderId: 'o-3', amount: 500, currency: 'EUR', paymentRef: 'ch_x', refundRef: 'rf_3' },
  ];

  it('reads its lines from the cursor offset, records each once, and a second run records nothing', async () => {
    const { store, puts, gets } = storeOf(GOOD);
    ddb.on(BatchGetCommand).resolves({ Responses: { t: orders } });
    const deps = { doc, tableName: 't', store };
    const valid = await validateFile({ store }, config, state({ bytes: GOOD.length }), NOW);
    const first = await applyChunk(deps, config, valid, NOW);
    expect(first).toMatchObject({
      cursor: { line: 4, chunk: 2 },
      counts: { applied: 2, alreadyApplied: 0, matched: 1, mismatched: 1 },
      done: false,
    });
    expect(ddb.commandCalls(PutCommand).map((call) => call.args[0].input)).toEqual([
      expect.objectContaining({
        Item: expect.objectContaining({ pk: 'RECON#LINE#charge#ch_1', result: 'matched', line: 2 }),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
      expect.objectContaining({
        Item: expect.objectContaining({ pk: 'RECON#LINE#charge#ch_2', result: 'amount' }),
      }),
    ]);
    expect(puts['reports/abc/chunks/chunk-000001.jsonl']).toContain('"result":"amount"');
    const second = await applyChunk(deps, config, first, NOW);
    expect(second).toMatchObject({ counts: { applied: 3, matched: 2 }, done: true });
    // The second chunk started at the byte where the first one stopped: no line read twice.
    expect(gets.slice(-2)).toEqual([valid.cursor?.offset, first.cursor?.offset]);

    // The first chunk run again (a redrive after a crash): its lines are found recorded, nothing else changes.
    ddb.on(PutCommand).rejects(
      Object.assign(new Error('The conditional request failed'), {
        name: 'ConditionalCheckFailedException',
      }),
    );
    const again = await applyChunk(deps, config, valid, NOW);
    expect(again.counts).toEqual({ lines: 3, applied: 0, alreadyApplied: 2, matched: 1, mismatched: 1 });
    expect(again.cursor).toEqual(first.cursor);
  });
});
