/**
 * The inbound settlement file's steps (lib/constructs/settlement-import.ts runs them as a STANDARD state machine, one
 * execution per file, started by the S3 "Object Created" event of `inbox/`):
 * 1. claim: the file's name and its content's SHA-256 are each claimed once (a conditional transaction); a file
 *    whose name or checksum is taken is a duplicate and applies nothing. The claimed file moves to `work/`.
 * 2. validate: the whole file, streamed, before anything is applied: a malformed line or a business date that is
 *    not closed yet (or too old to match) rejects the file to `failed/` with an error report naming each bad line.
 * 3. apply, chunk by chunk: each chunk reads its lines with a ranged GET from the byte offset the previous chunk
 *    ended at, matches each line with its order by key, and records it with a conditional put keyed by the acquirer
 *    reference: a chunk run again (a redrive after a crash) finds its lines recorded and changes nothing.
 * 4. reconcile: the date's charges (the Settled index) that no line covers, plus the chunks' mismatches, make the
 *    reconciliation report in `reports/`; the count goes out as the `SettlementMismatches` metric (an alarm).
 * 5. finish: the file moves to `processed/`.
 * Each step's output is the next one's input and every object it writes has a key fixed by the file: a redriven step
 * rewrites the same objects.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DeleteCommand,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { SETTLEMENT_IMPORT_PREFIXES as PREFIX } from '#contracts/settlement.ts';
import type { TableDeps } from '#shared/dynamodb.ts';
import { namedError } from '#shared/named-error.ts';
import { querySettledPage } from '#shared/settled-index.ts';
import { keys } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';
import { businessDateWindows, dateIn } from './business-date.ts';
import {
  IMPORT_FILE_NAME,
  type ImportLine,
  linesOf,
  MAX_LINE_BYTES,
  type ParsedRecord,
  parseImportRecord,
} from './import-format.ts';
import type { ObjectStore } from './object-store.ts';

/** The event does not describe an object of the inbox this stack watches. */
export class InvalidImportEvent extends namedError('InvalidImportEvent') {}
/** The claimed file is no longer where the claim put it (removed by hand?): an operator must look. */
export class ImportFileMissing extends namedError('ImportFileMissing') {}

export interface ImportConfig {
  bucket: string;
  timeZone: string;
  chunkLines: number;
  /** How far back a business date may be: orders older than this are gone from the table. */
  maxAgeDays: number;
}

export type ImportDeps = TableDeps & { store: ObjectStore };

/** AWS's EventBridge event of S3 (`Object Created`), as the rule hands it to the execution. */
export const objectCreatedSchema = z.object({
  id: z.string().min(1),
  'detail-type': z.literal('Object Created'),
  detail: z.object({
    bucket: z.object({ name: z.string() }),
    object: z.object({ key: z.string(), size: z.number().optional() }),
  }),
});
export type ObjectCreatedEvent = z.infer<typeof objectCreatedSchema>;

const cursorSchema = z.object({
  /** Byte offset of the next line to read. */
  offset: z.number().int().nonnegative(),
  /** Its 1-based line number. */
  line: z.number().int().positive(),
  /** The next chunk's number (1-based). */
  chunk: z.number().int().positive(),
});

const countsSchema = z.object({
  lines: z.number().int().nonnegative(),
  /** Lines this import recorded. */
  applied: z.number().int().nonnegative(),
  /** Lines found already recorded (a chunk run again, or a line another file applied first). */
  alreadyApplied: z.number().int().nonnegative(),
  matched: z.number().int().nonnegative(),
  mismatched: z.number().int().nonnegative(),
});

/** The state every step hands on. */
export const importStateSchema = z.object({
  eventId: z.string(),
  name: z.string(),
  /** Where the file is now (`inbox/…` before the claim moves it, `work/…` after). */
  key: z.string(),
  sha256: z.string(),
  bytes: z.number().int().nonnegative(),
  outcome: z.enum(['claimed', 'duplicate', 'invalid', 'valid', 'applied', 'processed', 'rejected']),
  /** Why the file is rejected (duplicate, invalid): the error report's first line. */
  reason: z.string().optional(),
  errorReport: z.string().optional(),
  date: z.string().optional(),
  acquirer: z.string().optional(),
  cursor: cursorSchema.optional(),
  counts: countsSchema.optional(),
  done: z.boolean().optional(),
  report: z.string().optional(),
  missing: z.number().int().optional(),
  /** Where the file ended up (`processed/…` or `failed/…`). */
  finalKey: z.string().optional(),
});
export type ImportState = z.infer<typeof importStateSchema>;

export const importKeys = {
  work: (sha256: string, name: string) => `${PREFIX.work}${sha256}/${name}`,
  processed: (name: string) => `${PREFIX.processed}${name}`,
  failed: (name: string) => `${PREFIX.failed}${name}`,
  duplicate: (sha256: string, name: string) => `${PREFIX.failed}duplicates/${sha256.slice(0, 16)}/${name}`,
  errors: (failedKey: string) => `${failedKey}.errors.txt`,
  chunk: (sha256: string, chunk: number) =>
    `${PREFIX.reports}${sha256}/chunks/chunk-${String(chunk).padStart(6, '0')}.jsonl`,
  report: (date: string, name: string) => `${PREFIX.reports}${date}/${name}.reconciliation.jsonl`,
};

const claimItemSchema = z.object({ eventId: z.string(), name: z.string(), sha256: z.string() });

const isConditionFailure = (error: unknown): boolean =>
  error instanceof Error &&
  (error.name === 'ConditionalCheckFailedException' || error.name === 'TransactionCanceledException');

async function readClaim(deps: TableDeps, key: { pk: string; sk: string }) {
  const answer = await deps.doc.send(
    new GetCommand({ TableName: deps.tableName, Key: key, ConsistentRead: true }),
  );
  return answer.Item ? claimItemSchema.parse(answer.Item) : undefined;
}

async function sha256Of(
  store: ObjectStore,
  key: string,
): Promise<{ sha256: string; bytes: number } | undefined> {
  const stream = await store.getStream(key);
  if (!stream) return undefined;
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** S3 event keys are URL-encoded (`+` for a space); a key that does not decode is taken as it is. */
function decodedKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

/**
 * Claims the file: its name and its checksum, in one transaction, for this event. A claim already held by this
 * event (the step run again) goes on; one held by another event makes this file a duplicate. The claimed file moves
 * from the inbox to `work/<sha256>/`, out of the way of a file dropped later under the same name.
 */
export async function claimFile(
  deps: ImportDeps,
  config: ImportConfig,
  event: ObjectCreatedEvent,
  now = new Date(),
): Promise<ImportState> {
  const { bucket, object } = event.detail;
  if (bucket.name !== config.bucket) {
    throw new InvalidImportEvent(`bucket ${bucket.name} is not the inbox bucket ${config.bucket}`);
  }
  const key = decodedKey(object.key);
  if (!key.startsWith(PREFIX.inbox)) throw new InvalidImportEvent(`${key} is not under ${PREFIX.inbox}`);
  const name = key.slice(PREFIX.inbox.length);
  const base = { eventId: event.id, name, key, sha256: '', bytes: object.size ?? 0 };
  if (!IMPORT_FILE_NAME.test(name)) {
    return {
      ...base,
      outcome: 'invalid',
      reason: `file name ${JSON.stringify(name)} is not a name (letters, digits, . _ -, no folders, 200 at most)`,
    };
  }
  const mine = await readClaim(deps, keys.reconFile(name));
  if (mine?.eventId === event.id) {
    // This step ran before for this event: the file may already have moved to work/.
    const work = importKeys.work(mine.sha256, name);
    if (await deps.store.exists(key)) await deps.store.move(key, work);
    const head = await deps.store.head(work);
    if (!head) throw new ImportFileMissing(`claimed file ${work} is not in the bucket`);
    return { ...base, key: work, sha256: mine.sha256, bytes: head.size, outcome: 'claimed' };
  }
  const content = await sha256Of(deps.store, key);
  if (!content)
    throw new ImportFileMissing(`${key} is not in the bucket (moved or deleted before its claim)`);
  const claim = {
    eventId: event.id,
    name,
    sha256: content.sha256,
    claimedAt: now.toISOString(),
    expiresAt: expiresAt(now, config),
  };
  try {
    await deps.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: deps.tableName,
              Item: { ...keys.reconFile(name), entity: 'SettlementFileClaim', ...claim, status: 'CLAIMED' },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Put: {
              TableName: deps.tableName,
              Item: { ...keys.reconChecksum(content.sha256), entity: 'SettlementChecksumClaim', ...claim },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const byName = mine ?? (await readClaim(deps, keys.reconFile(name)));
    const bySum = await readClaim(deps, keys.reconChecksum(content.sha256));
    const reason = byName
      ? `duplicate: a file named ${name} was received before (sha256 ${byName.sha256})`
      : `duplicate: the same content (sha256 ${content.sha256}) was received before as ${bySum?.name ?? '?'}`;
    return { ...base, ...content, outcome: 'duplicate', reason };
  }
  const work = importKeys.work(content.sha256, name);
  await deps.store.move(key, work);
  return { ...base, ...content, key: work, outcome: 'claimed' };
}

/** The import's items expire with the orders they are about (`maxAgeDays`), so the claim of a name goes too. */
const expiresAt = (now: Date, config: ImportConfig): number =>
  Math.floor(now.getTime() / 1000) + config.maxAgeDays * 86_400;

/** The business dates a file may carry: not after today in the settlement time zone, and not too old to match. */
function dateProblem(date: string, config: ImportConfig, now: Date): string | undefined {
  const today = dateIn(now.getTime(), config.timeZone);
  if (date > today)
    return `business date ${date} is unknown: it is after today (${today} in ${config.timeZone})`;
  const oldest = new Date(Date.parse(`${today}T00:00:00Z`) - config.maxAgeDays * 86_400_000)
    .toISOString()
    .slice(0, 10);
  if (date < oldest) return `business date ${date} is older than ${oldest}: its orders are no longer kept`;
  return undefined;
}

/**
 * Reads the whole file once, applying nothing: the header's date, every detail line, the trailer's count. Bad lines
 * are written to a temporary file as they are found (a file of bad lines does not fill the memory) and, when there
 * is any, uploaded as the error report next to where the file will go in `failed/`.
 */
export async function validateFile(
  deps: { store: ObjectStore },
  config: ImportConfig,
  state: ImportState,
  now = new Date(),
): Promise<ImportState> {
  const stream = await deps.store.getStream(state.key);
  if (!stream) throw new ImportFileMissing(`claimed file ${state.key} is not in the bucket`);
  const dir = await mkdtemp(path.join(tmpdir(), 'settlement-import-'));
  try {
    const reportFile = path.join(dir, 'errors.txt');
    const out = createWriteStream(reportFile);
    let errors = 0;
    let firstReason: string | undefined;
    const bad = async (line: number, reason: string) => {
      errors++;
      firstReason ??= `line ${line}: ${reason}`;
      if (!out.write(`line ${line}: ${reason}\n`))
        await new Promise((resolve) => out.once('drain', () => resolve(undefined)));
    };
    let header: Extract<ParsedRecord, { kind: 'header' }> | undefined;
    let trailer: { count: number; line: number } | undefined;
    let details = 0;
    let number = 0;
    let firstDetail: { offset: number; line: number } | undefined;
    let blankAt: number | undefined;
    for await (const raw of linesOf(stream)) {
      number++;
      if (Buffer.byteLength(raw.text) > MAX_LINE_BYTES) {
        await bad(number, `longer than ${MAX_LINE_BYTES} bytes`);
        continue;
      }
      const record = parseImportRecord(raw.text, number);
      if (record.kind === 'blank') {
        blankAt ??= number;
        continue;
      }
      if (blankAt !== undefined) {
        await bad(blankAt, 'blank line inside the file');
        blankAt = undefined;
      }
      if (trailer) {
        await bad(number, `after the trailer (line ${trailer.line})`);
        continue;
      }
      if (number === 1) {
        if (record.kind !== 'header') {
          await bad(
            1,
            record.kind === 'error'
              ? record.reason
              : 'the first line must be the header H,1,<date>,<acquirer>',
          );
          continue;
        }
        header = record;
        const problem = dateProblem(record.date, config, now);
        if (problem) await bad(1, problem);
        continue;
      }
      if (record.kind === 'error') {
        // A bad detail line is still a detail line: the trailer's count is checked against what the partner sent.
        if (raw.text.startsWith('D,')) details++;
        await bad(number, record.reason);
      } else if (record.kind === 'header') await bad(number, 'a second header');
      else if (record.kind === 'trailer') trailer = { count: record.count, line: number };
      else {
        details++;
        firstDetail ??= { offset: raw.start, line: number };
      }
    }
    if (number === 0) await bad(1, 'the file is empty');
    else if (!trailer) await bad(number, 'the file ends without a trailer T,<count> (cut short?)');
    else if (trailer.count !== details) {
      await bad(trailer.line, `trailer counts ${trailer.count} detail lines, the file has ${details}`);
    }
    out.end();
    await finished(out);
    if (errors > 0 || !header) {
      const failedKey = importKeys.failed(state.name);
      const errorReport = importKeys.errors(failedKey);
      await deps.store.putFile(errorReport, reportFile);
      return {
        ...state,
        outcome: 'invalid',
        reason: `${errors} bad line${errors === 1 ? '' : 's'}; first: ${firstReason ?? 'no header'}`,
        errorReport,
        ...(header ? { date: header.date, acquirer: header.acquirer } : {}),
      };
    }
    return {
      ...state,
      outcome: 'valid',
      date: header.date,
      acquirer: header.acquirer,
      cursor: { offset: firstDetail?.offset ?? state.bytes, line: firstDetail?.line ?? number, chunk: 1 },
      counts: { lines: details, applied: 0, alreadyApplied: 0, matched: 0, mismatched: 0 },
      done: details === 0,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A rejected file (duplicate or invalid) goes to `failed/` with its error report; it applied nothing. */
export async function rejectFile(deps: ImportDeps, state: ImportState): Promise<ImportState> {
  const finalKey =
    state.outcome === 'duplicate'
      ? importKeys.duplicate(state.sha256 || state.eventId, state.name)
      : importKeys.failed(state.name);
  const errorReport = state.errorReport ?? importKeys.errors(finalKey);
  if (!state.errorReport) {
    await deps.store.putText(errorReport, `${state.reason ?? 'rejected'}\n`);
  }
  await deps.store.move(state.key, finalKey);
  // An invalid file frees its name and checksum, so the partner can send the corrected file (under the same name);
  // a duplicate's claims belong to the file it duplicates.
  if (state.outcome === 'invalid' && state.sha256) {
    const mine = await readClaim(deps, keys.reconFile(state.name));
    if (mine?.eventId === state.eventId) {
      await deps.doc.send(
        new DeleteCommand({ TableName: deps.tableName, Key: keys.reconChecksum(state.sha256) }),
      );
      await deps.doc.send(new DeleteCommand({ TableName: deps.tableName, Key: keys.reconFile(state.name) }));
    }
  }
  return { ...state, outcome: 'rejected', errorReport, finalKey };
}

/** What one line came to. */
export interface LineResult {
  line: number;
  type: ImportLine['type'];
  acquirerRef: string;
  orderId: string;
  result: 'matched' | 'unknown' | 'amount' | 'status';
  detail?: string;
}

const orderSchema = z.looseObject({
  orderId: z.string(),
  amount: z.number().optional(),
  currency: z.string().optional(),
  paymentRef: z.string().optional(),
  refundRef: z.string().optional(),
});
type OrderFacts = z.infer<typeof orderSchema>;

/** A line against Buzzer's order: is the charge (or refund) Buzzer's, for that amount, in that state? */
export function matchLine(line: ImportLine, order: OrderFacts | undefined): LineResult {
  const base = { line: line.line, type: line.type, acquirerRef: line.acquirerRef, orderId: line.orderId };
  if (!order) return { ...base, result: 'unknown', detail: `no order ${line.orderId}` };
  const refs = line.type === 'charge' ? [order.paymentRef] : (order.refundRef ?? '').split(',');
  if (!refs.includes(line.acquirerRef)) {
    return {
      ...base,
      result: 'unknown',
      detail: `order ${line.orderId} has no ${line.type} ${line.acquirerRef}`,
    };
  }
  if (line.amount !== order.amount || line.currency !== order.currency) {
    return {
      ...base,
      result: 'amount',
      detail: `file ${line.amount} ${line.currency}, Buzzer ${order.amount ?? '?'} ${order.currency ?? '?'}`,
    };
  }
  if (line.status === 'failed') {
    return { ...base, result: 'status', detail: `file says failed, Buzzer recorded the ${line.type}` };
  }
  return { ...base, result: 'matched' };
}

const BATCH_GET_MAX = 100;

async function ordersByKey(deps: TableDeps, orderIds: string[]): Promise<Map<string, OrderFacts>> {
  const found = new Map<string, OrderFacts>();
  const unique = [...new Set(orderIds)];
  for (let i = 0; i < unique.length; i += BATCH_GET_MAX) {
    let requested: Record<string, unknown>[] | undefined = unique
      .slice(i, i + BATCH_GET_MAX)
      .map((id): Record<string, unknown> => ({ ...keys.order(id) }));
    for (let attempt = 0; requested && requested.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 2000)));
      const answer: BatchGetCommandOutput = await deps.doc.send(
        new BatchGetCommand({
          RequestItems: {
            [deps.tableName]: {
              Keys: requested,
              ProjectionExpression: '#id, #amount, #currency, #paymentRef, #refundRef',
              ExpressionAttributeNames: {
                '#id': 'orderId',
                '#amount': 'amount',
                '#currency': 'currency',
                '#paymentRef': 'paymentRef',
                '#refundRef': 'refundRef',
              },
              ConsistentRead: true,
            },
          },
        }),
      );
      for (const item of answer.Responses?.[deps.tableName] ?? []) {
        const order = orderSchema.parse(item);
        found.set(order.orderId, order);
      }
      requested = answer.UnprocessedKeys?.[deps.tableName]?.Keys;
    }
  }
  return found;
}

const WRITE_CONCURRENCY = 16;

/**
 * One chunk: up to `chunkLines` detail lines from the cursor's byte offset (a ranged GET; the rest of the object is
 * not read), matched against their orders, each recorded once under its acquirer reference. The chunk's mismatches
 * go to its own part file; run again, the chunk writes the same part and records nothing new.
 */
export async function applyChunk(
  deps: ImportDeps,
  config: ImportConfig,
  state: ImportState,
  now = new Date(),
): Promise<ImportState> {
  const { cursor, counts } = state;
  if (!cursor || !counts || state.done) return { ...state, done: true };
  const stream = await deps.store.getStream(state.key, cursor.offset);
  if (!stream) throw new ImportFileMissing(`claimed file ${state.key} is not in the bucket`);
  const lines: ImportLine[] = [];
  let next = { offset: cursor.offset, line: cursor.line };
  let done = false;
  const reader = linesOf(stream, cursor.offset);
  try {
    for await (const raw of reader) {
      const record = parseImportRecord(raw.text, next.line);
      if (record.kind === 'trailer') {
        done = true;
        break;
      }
      next = { offset: raw.end, line: next.line + 1 };
      if (record.kind === 'detail') lines.push(record.detail);
      // The file was validated whole: anything else here is a blank line, skipped as the validation did.
      if (lines.length >= config.chunkLines) break;
    }
  } finally {
    await reader.return(undefined);
    stream.destroy();
  }
  if (lines.length === 0) done = true;

  const orders = await ordersByKey(
    deps,
    lines.map((line) => line.orderId),
  );
  const results: LineResult[] = [];
  let applied = 0;
  let alreadyApplied = 0;
  for (let i = 0; i < lines.length; i += WRITE_CONCURRENCY) {
    await Promise.all(
      lines.slice(i, i + WRITE_CONCURRENCY).map(async (line) => {
        const result = matchLine(line, orders.get(line.orderId));
        results.push(result);
        try {
          await deps.doc.send(
            new PutCommand({
              TableName: deps.tableName,
              Item: {
                ...keys.reconLine(line.type, line.acquirerRef),
                entity: 'SettlementLine',
                file: state.name,
                sha256: state.sha256,
                date: state.date,
                line: line.line,
                orderId: line.orderId,
                amount: line.amount,
                currency: line.currency,
                fee: line.fee,
                status: line.status,
                result: result.result,
                ...(result.detail ? { detail: result.detail } : {}),
                appliedAt: now.toISOString(),
                expiresAt: expiresAt(now, config),
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
          applied++;
        } catch (error) {
          if (!isConditionFailure(error)) throw error;
          alreadyApplied++;
        }
      }),
    );
  }
  results.sort((a, b) => a.line - b.line);
  const mismatches = results.filter((result) => result.result !== 'matched');
  await deps.store.putText(
    importKeys.chunk(state.sha256, cursor.chunk),
    mismatches.map((result) => `${JSON.stringify(result)}\n`).join(''),
    'application/x-ndjson',
  );
  return {
    ...state,
    outcome: 'applied',
    cursor: { ...next, chunk: cursor.chunk + 1 },
    counts: {
      lines: counts.lines,
      applied: counts.applied + applied,
      alreadyApplied: counts.alreadyApplied + alreadyApplied,
      matched: counts.matched + results.length - mismatches.length,
      mismatched: counts.mismatched + mismatches.length,
    },
    done,
  };
}

/** One line of the reconciliation report after its summary line. */
export type ReportLine =
  | (LineResult & { result: 'unknown' | 'amount' | 'status' })
  | { result: 'missing'; orderId: string; acquirerRef: string; detail: string };

/**
 * The reconciliation report (JSON Lines: a summary, then one line per mismatch): the chunks' mismatches in file
 * order, then the date's charges that no line of any file covers, found on the Settled index (the orders that ended
 * on the business date, with a charge) and a batch read of their line records. Streamed through a temporary file.
 */
export async function reconcileFile(
  deps: ImportDeps,
  config: ImportConfig,
  state: ImportState,
): Promise<ImportState & { mismatchCount: number }> {
  const { cursor, counts, date } = state;
  if (!cursor || !counts || !date) throw new InvalidImportEvent('reconcile needs an applied file');
  const dir = await mkdtemp(path.join(tmpdir(), 'settlement-report-'));
  try {
    const body = path.join(dir, 'body.jsonl');
    const out = createWriteStream(body);
    const write = async (line: ReportLine) => {
      if (!out.write(`${JSON.stringify(line)}\n`))
        await new Promise((resolve) => out.once('drain', () => resolve(undefined)));
    };
    const byKind = { unknown: 0, amount: 0, status: 0, missing: 0 };
    for (let chunk = 1; chunk < cursor.chunk; chunk++) {
      const key = importKeys.chunk(state.sha256, chunk);
      const stream = await deps.store.getStream(key);
      if (!stream) throw new ImportFileMissing(`chunk result ${key} is missing: a chunk did not finish`);
      for await (const raw of linesOf(stream)) {
        if (raw.text === '') continue;
        const line = JSON.parse(raw.text) as ReportLine;
        byKind[line.result]++;
        await write(line);
      }
    }
    for (const window of businessDateWindows(date, config.timeZone)) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await querySettledPage(deps, window, 100, startKey);
        startKey = page.next;
        const charged = page.items.filter(
          (item): item is { orderId: string; paymentRef: string } =>
            typeof item.paymentRef === 'string' && typeof item.orderId === 'string',
        );
        const recorded = await recordedCharges(
          deps,
          charged.map((order) => order.paymentRef),
        );
        for (const order of charged) {
          if (recorded.has(order.paymentRef)) continue;
          byKind.missing++;
          await write({
            result: 'missing',
            orderId: order.orderId,
            acquirerRef: order.paymentRef,
            detail: `charge ${order.paymentRef} of order ${order.orderId} is in no settlement file`,
          });
        }
      } while (startKey);
    }
    out.end();
    await finished(out);
    const mismatchCount = byKind.unknown + byKind.amount + byKind.status + byKind.missing;
    const summary = {
      file: state.name,
      sha256: state.sha256,
      date,
      acquirer: state.acquirer,
      lines: counts.lines,
      matched: counts.matched,
      mismatches: mismatchCount,
      ...byKind,
    };
    const reportFile = path.join(dir, 'report.jsonl');
    const report = createWriteStream(reportFile);
    report.write(`${JSON.stringify(summary)}\n`);
    await pipeline(createReadStream(body), report);
    const key = importKeys.report(date, state.name);
    await deps.store.putFile(key, reportFile, 'application/x-ndjson');
    return { ...state, report: key, missing: byKind.missing, mismatchCount };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Which of these charge references have a line record (from any file). */
async function recordedCharges(deps: TableDeps, refs: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < refs.length; i += BATCH_GET_MAX) {
    let requested: Record<string, unknown>[] | undefined = refs
      .slice(i, i + BATCH_GET_MAX)
      .map((ref): Record<string, unknown> => ({ ...keys.reconLine('charge', ref) }));
    for (let attempt = 0; requested && requested.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 2000)));
      const answer: BatchGetCommandOutput = await deps.doc.send(
        new BatchGetCommand({
          RequestItems: { [deps.tableName]: { Keys: requested, ProjectionExpression: 'pk' } },
        }),
      );
      for (const item of answer.Responses?.[deps.tableName] ?? []) {
        const pk = String(item.pk);
        found.add(pk.slice(pk.indexOf('#charge#') + '#charge#'.length));
      }
      requested = answer.UnprocessedKeys?.[deps.tableName]?.Keys;
    }
  }
  return found;
}

/** The file moves to `processed/`, and its claim records the outcome. */
export async function finishFile(
  deps: ImportDeps,
  state: ImportState,
  now = new Date(),
): Promise<ImportState> {
  const finalKey = importKeys.processed(state.name);
  await deps.store.move(state.key, finalKey);
  await deps.doc.send(
    new UpdateCommand({
      TableName: deps.tableName,
      Key: keys.reconFile(state.name),
      UpdateExpression:
        'SET #status = :status, processedAt = :at, #date = :date, #lines = :lines, report = :report',
      ConditionExpression: 'eventId = :event',
      ExpressionAttributeNames: { '#status': 'status', '#date': 'date', '#lines': 'lines' },
      ExpressionAttributeValues: {
        ':status': 'PROCESSED',
        ':at': now.toISOString(),
        ':date': state.date,
        ':lines': state.counts?.lines ?? 0,
        ':report': state.report ?? '',
        ':event': state.eventId,
      },
    }),
  );
  return { ...state, outcome: 'processed', finalKey };
}
