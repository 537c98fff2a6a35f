/**
 * The settlement file: a header record, one detail record per order that ended on the business date, a trailer
 * record (record count, totals per currency, checksum of the detail records), written in the partner's format.
 * Every byte is a function of the orders and the date: no generation time, no random ids, so a redriven or re-run
 * export produces the same file as a run that never failed.
 */
import { createHash, type Hash } from 'node:crypto';
import { SETTLEMENT_FORMAT_NAMES, type SettlementFormatName } from '#contracts/settlement.ts';
import * as z from '#shared/zod.ts';

export const SETTLEMENT_FORMATS = SETTLEMENT_FORMAT_NAMES;
export type SettlementFormat = SettlementFormatName;

/** The file version in the header; a change of fields or order is a new version the partner must agree to. */
export const FILE_VERSION = '1';

/** One order as a part file holds it (JSON Lines): what the detail record is made of, nothing more. */
export const settlementLineSchema = z.object({
  orderId: z.string(),
  clientId: z.string(),
  status: z.enum(['CONFIRMED', 'CANCELLED']),
  /** Minor units (cents); 0 for an order cancelled before it was priced. */
  amount: z.number().int().nonnegative(),
  currency: z.string().regex(/^[A-Z]{3}$/),
  paymentRef: z.string().optional(),
  failureReason: z.string().optional(),
  /** When the order became CONFIRMED or CANCELLED (ISO 8601, UTC). */
  completedAt: z.string(),
});
export type SettlementLine = z.infer<typeof settlementLineSchema>;

/** A record: its fields in file order (the order is part of the format). */
export type FileRecord = ReadonlyArray<readonly [name: string, value: string]>;

export interface FileHeader {
  date: string;
  partner: string;
  timeZone: string;
}

export interface FileTrailer {
  records: number;
  /** Minor units per currency, CONFIRMED orders only (cancelled orders move no money). */
  totals: Readonly<Record<string, number>>;
  /** `sha256:<hex>` of the detail records' bytes exactly as written. */
  checksum: string;
}

export function headerRecord(header: FileHeader): FileRecord {
  return [
    ['record_type', 'H'],
    ['file_version', FILE_VERSION],
    ['settlement_date', header.date],
    ['partner', header.partner],
    ['time_zone', header.timeZone],
  ];
}

export function detailRecord(line: SettlementLine): FileRecord {
  return [
    ['record_type', 'D'],
    ['order_id', line.orderId],
    ['client_id', line.clientId],
    ['status', line.status],
    ['amount_minor', String(line.amount)],
    ['currency', line.currency],
    ['payment_ref', line.paymentRef ?? ''],
    ['failure_reason', line.failureReason ?? ''],
    ['completed_at', line.completedAt],
  ];
}

/** Totals as one field, currencies in alphabetical order: `EUR:1250 USD:300` (empty for a day without sales). */
export function formatTotals(totals: Readonly<Record<string, number>>): string {
  return Object.keys(totals)
    .sort()
    .map((currency) => `${currency}:${totals[currency]}`)
    .join(' ');
}

export function trailerRecord(trailer: FileTrailer): FileRecord {
  return [
    ['record_type', 'T'],
    ['record_count', String(trailer.records)],
    ['totals', formatTotals(trailer.totals)],
    ['checksum', trailer.checksum],
  ];
}

/** RFC 4180: a field with a comma, a double quote, CR or LF is quoted, and a quote inside it doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** `name=value`: backslash, CR and LF escaped, so a value never spans lines and the first `=` splits. */
export function kvValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

/**
 * One record as the format writes it, line end included. CSV lines end in CRLF (RFC 4180); a `name=value` record is
 * one line per field and an empty line after it; JSON Lines is one object per line with the fields in file order.
 */
export function encodeRecord(format: SettlementFormat, record: FileRecord): string {
  switch (format) {
    case 'csv':
      return `${record.map(([, value]) => csvField(value)).join(',')}\r\n`;
    case 'kv':
      return `${record.map(([name, value]) => `${name}=${kvValue(value)}\n`).join('')}\n`;
    case 'jsonl':
      return `${JSON.stringify(Object.fromEntries(record))}\n`;
  }
}

export const FILE_EXTENSIONS: Readonly<Record<SettlementFormat, string>> = {
  csv: 'csv',
  kv: 'txt',
  jsonl: 'jsonl',
};

/** The file's name at the partner: the date in it, so each day is its own file. */
export function settlementFileName(partner: string, date: string, format: SettlementFormat): string {
  return `buzzer-settlement-${partner}-${date}.${FILE_EXTENSIONS[format]}`;
}

/**
 * Writes the detail records one by one, keeping only the count, the totals and a running hash: memory stays flat
 * however many orders the day had.
 */
export class DetailAccumulator {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;
  private readonly sums: Record<string, number> = {};

  constructor(private readonly format: SettlementFormat) {}

  /** The encoded detail record of `line`, counted and hashed. */
  add(line: SettlementLine): string {
    const text = encodeRecord(this.format, detailRecord(line));
    this.hash.update(text, 'utf8');
    this.count += 1;
    if (line.status === 'CONFIRMED') this.sums[line.currency] = (this.sums[line.currency] ?? 0) + line.amount;
    return text;
  }

  trailer(): FileTrailer {
    return { records: this.count, totals: { ...this.sums }, checksum: `sha256:${this.hash.digest('hex')}` };
  }
}

/** A whole file in memory: for tests and small days; the assembly streams through `DetailAccumulator` instead. */
export function encodeFile(
  format: SettlementFormat,
  header: FileHeader,
  lines: readonly SettlementLine[],
): string {
  const details = new DetailAccumulator(format);
  const body = lines.map((line) => details.add(line)).join('');
  return (
    encodeRecord(format, headerRecord(header)) + body + encodeRecord(format, trailerRecord(details.trailer()))
  );
}
