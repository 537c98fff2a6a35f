/**
 * The settlement export's steps (lib/constructs/settlement-export.ts runs them as a STANDARD state machine): plan the
 * business date, write one numbered part file per page of the Settled index, assemble the final file with its header,
 * trailer and manifest, deliver it. Each step's output is the next one's input, and each step writes under keys that
 * depend only on the date, the partner and the page number: a step that fails is redriven with the input it had, and
 * rewrites the same objects with the same bytes.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import {
  PARTNER_NAME,
  SETTLEMENT_FORMAT_NAMES,
  type SettlementPartnerConfig,
} from '#contracts/settlement.ts';
import type { TableDeps } from '#shared/dynamodb.ts';
import { namedError } from '#shared/named-error.ts';
import { querySettledPage } from '#shared/settled-index.ts';
import { keys } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';
import { businessDateWindows, isBusinessDate, previousBusinessDate } from './business-date.ts';
import {
  DetailAccumulator,
  encodeRecord,
  headerRecord,
  type SettlementLine,
  settlementFileName,
  settlementLineSchema,
  trailerRecord,
} from './format.ts';
import type { ObjectStore } from './object-store.ts';

/** The input does not name a known partner or a valid date: an operator's mistake, not worth a retry. */
export class InvalidSettlementRequest extends namedError('InvalidSettlementRequest') {}

export const partnerConfigSchema = z.object({
  name: z.string().regex(PARTNER_NAME),
  format: z.enum(SETTLEMENT_FORMAT_NAMES),
  secretId: z.string().min(1),
  directory: z.string().min(1),
});

export const partnersSchema = z.array(partnerConfigSchema).min(1);

export function parsePartners(json: string): SettlementPartnerConfig[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('SETTLEMENT_PARTNERS is not JSON');
  }
  return partnersSchema.parse(value);
}

const dateSchema = z.string().refine(isBusinessDate, { error: 'must be a date YYYY-MM-DD' });

/** What starts an execution: the schedule (with its scheduled time) or an operator (with a date). */
export const startInputSchema = z.object({
  partner: z.string().regex(PARTNER_NAME, { error: 'must be a partner name (lower case, digits, -)' }),
  date: dateSchema.optional(),
  /** `<aws.scheduler.scheduled-time>`: the schedule exports the business date before it. */
  scheduledTime: z.string().optional(),
  resend: z.boolean().optional(),
});
export type StartInput = z.infer<typeof startInputSchema>;

const windowSchema = z.object({ day: z.string(), from: z.string(), to: z.string() });

/** The state every step hands on. */
export const exportStateSchema = z.object({
  partner: z.string().regex(PARTNER_NAME),
  date: dateSchema,
  format: z.enum(SETTLEMENT_FORMAT_NAMES),
  timeZone: z.string(),
  resend: z.boolean(),
  scheduled: z.boolean(),
  alreadyDelivered: z.boolean(),
  windows: z.array(windowSchema),
  /** The next page: its number, the window it reads and where in the window it starts. */
  cursor: z.object({
    page: z.number().int().positive(),
    window: z.number().int().nonnegative(),
    startKey: z.record(z.string(), z.unknown()).optional(),
  }),
  /** Part files written so far (pages 1…parts). */
  parts: z.number().int().nonnegative(),
  done: z.boolean(),
});
export type ExportState = z.infer<typeof exportStateSchema>;

export const fileSummarySchema = z.object({
  key: z.string(),
  name: z.string(),
  bytes: z.number().int(),
  sha256: z.string(),
  records: z.number().int(),
  totals: z.record(z.string(), z.number()),
});
export type FileSummary = z.infer<typeof fileSummarySchema>;

export const assembledStateSchema = exportStateSchema.extend({ file: fileSummarySchema });
export type AssembledState = z.infer<typeof assembledStateSchema>;

/** Where a date's objects live: `exports/<partner>/<date>/…`. */
export const exportKeys = {
  prefix: (partner: string, date: string) => `exports/${partner}/${date}/`,
  part: (partner: string, date: string, page: number) =>
    `exports/${partner}/${date}/parts/part-${String(page).padStart(6, '0')}.jsonl`,
  file: (partner: string, date: string, name: string) => `exports/${partner}/${date}/${name}`,
  manifest: (partner: string, date: string) => `exports/${partner}/${date}/manifest.json`,
};

export interface ExportConfig {
  partners: readonly SettlementPartnerConfig[];
  timeZone: string;
  pageSize: number;
}

export function partnerNamed(config: ExportConfig, name: string): SettlementPartnerConfig {
  const partner = config.partners.find((p) => p.name === name);
  if (!partner) {
    throw new InvalidSettlementRequest(
      `no settlement partner "${name}"; configured: ${config.partners.map((p) => p.name).join(', ')}`,
    );
  }
  return partner;
}

/** The delivery record of a date and partner: the checksum sent, when, how often. */
export const deliveryRecordSchema = z.object({
  sha256: z.string(),
  file: z.string(),
  deliveredAt: z.string(),
  deliveries: z.number().int(),
});
export type DeliveryRecord = z.infer<typeof deliveryRecordSchema>;

export async function readDelivery(
  deps: TableDeps,
  partner: string,
  date: string,
): Promise<DeliveryRecord | undefined> {
  const answer = await deps.doc.send(
    new GetCommand({
      TableName: deps.tableName,
      Key: keys.settlementDelivery(partner, date),
      ConsistentRead: true,
    }),
  );
  return answer.Item ? deliveryRecordSchema.parse(answer.Item) : undefined;
}

/** Resolves the business date and the index windows; the first page starts at the first window. */
export async function planExport(
  deps: TableDeps,
  config: ExportConfig,
  input: StartInput,
  now = new Date(),
): Promise<ExportState> {
  const partner = partnerNamed(config, input.partner);
  const scheduledAt = input.scheduledTime ? Date.parse(input.scheduledTime) : Number.NaN;
  if (input.date === undefined && input.scheduledTime !== undefined && Number.isNaN(scheduledAt)) {
    throw new InvalidSettlementRequest(`scheduledTime "${input.scheduledTime}" is not a time`);
  }
  const date =
    input.date ??
    previousBusinessDate(Number.isNaN(scheduledAt) ? now.getTime() : scheduledAt, config.timeZone);
  const delivered = await readDelivery(deps, partner.name, date);
  return {
    partner: partner.name,
    date,
    format: partner.format,
    timeZone: config.timeZone,
    resend: input.resend ?? false,
    scheduled: input.date === undefined,
    alreadyDelivered: delivered !== undefined,
    windows: businessDateWindows(date, config.timeZone),
    cursor: { page: 1, window: 0 },
    parts: 0,
    done: false,
  };
}

function toLine(item: Record<string, unknown>): SettlementLine {
  const settledSk = typeof item.settledSk === 'string' ? item.settledSk : '';
  return settlementLineSchema.parse({
    orderId: item.orderId,
    clientId: item.clientId,
    status: item.status,
    amount: typeof item.amount === 'number' ? item.amount : 0,
    currency: item.currency,
    ...(typeof item.paymentRef === 'string' ? { paymentRef: item.paymentRef } : {}),
    ...(typeof item.failureReason === 'string' ? { failureReason: item.failureReason } : {}),
    completedAt: settledSk.slice(0, settledSk.indexOf('#')),
  });
}

/**
 * One page: a Query of the current window from the cursor, written as part `cursor.page`. A window that ends moves
 * the cursor to the next window (so a day never mixes two windows in one page); after the last one, `done`.
 */
export async function exportPage(
  deps: TableDeps & { store: ObjectStore },
  config: ExportConfig,
  state: ExportState,
): Promise<ExportState> {
  const window = state.windows[state.cursor.window];
  if (state.done || !window) return { ...state, done: true };
  const page = await querySettledPage(deps, window, config.pageSize, state.cursor.startKey);
  const body = page.items.map((item) => `${JSON.stringify(toLine(item))}\n`).join('');
  await deps.store.putText(
    exportKeys.part(state.partner, state.date, state.cursor.page),
    body,
    'application/x-ndjson',
  );
  const nextWindow = page.next ? state.cursor.window : state.cursor.window + 1;
  const cursor = {
    page: state.cursor.page + 1,
    window: nextWindow,
    ...(page.next ? { startKey: page.next } : {}),
  };
  return { ...state, cursor, parts: state.cursor.page, done: nextWindow >= state.windows.length };
}

/**
 * Header, the parts' lines in page order, trailer: streamed through a temporary file (memory stays flat however
 * large the day), then uploaded with its manifest. The manifest is written last: its presence says the file is whole.
 */
export async function assembleFile(
  deps: { store: ObjectStore },
  state: ExportState,
): Promise<AssembledState> {
  const name = settlementFileName(state.partner, state.date, state.format);
  const dir = await mkdtemp(path.join(tmpdir(), 'settlement-'));
  try {
    const file = path.join(dir, name);
    const out = createWriteStream(file);
    const hash = createHash('sha256');
    let bytes = 0;
    const write = (text: string) => {
      hash.update(text, 'utf8');
      bytes += Buffer.byteLength(text);
      if (!out.write(text)) return new Promise<void>((resolve) => out.once('drain', () => resolve()));
      return undefined;
    };
    await write(
      encodeRecord(
        state.format,
        headerRecord({ date: state.date, partner: state.partner, timeZone: state.timeZone }),
      ),
    );
    const details = new DetailAccumulator(state.format);
    for (let page = 1; page <= state.parts; page++) {
      const key = exportKeys.part(state.partner, state.date, page);
      const stream = await deps.store.getStream(key);
      if (!stream)
        throw new Error(`part ${key} is missing: the pages before the assembly did not all finish`);
      for await (const text of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
        if (text === '') continue;
        await write(details.add(settlementLineSchema.parse(JSON.parse(text))));
      }
    }
    const trailer = details.trailer();
    await write(encodeRecord(state.format, trailerRecord(trailer)));
    out.end();
    await finished(out);
    const summary: FileSummary = {
      key: exportKeys.file(state.partner, state.date, name),
      name,
      bytes,
      sha256: hash.digest('hex'),
      records: trailer.records,
      totals: { ...trailer.totals },
    };
    await deps.store.putFile(summary.key, file);
    const manifest = {
      file: name,
      settlementDate: state.date,
      partner: state.partner,
      format: state.format,
      timeZone: state.timeZone,
      records: summary.records,
      totals: summary.totals,
      detailChecksum: trailer.checksum,
      sha256: summary.sha256,
      bytes: summary.bytes,
      parts: state.parts,
    };
    await deps.store.putText(
      exportKeys.manifest(state.partner, state.date),
      `${JSON.stringify(manifest, null, 2)}\n`,
      'application/json',
    );
    return { ...state, file: summary };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
