/**
 * The acquirer's settlement file, as Buzzer reads it (docs/architecture.md, "Settlement files"): comma-separated,
 * CRLF or LF line ends, no quoting (no field may hold a comma):
 *
 *   H,1,<business date YYYY-MM-DD>,<acquirer>
 *   D,<charge|refund>,<acquirer reference>,<order id>,<amount in minor units>,<currency>,<fee in minor units>,<settled|failed>
 *   …
 *   T,<number of D lines>
 *
 * The order id is the merchant reference Buzzer gave the provider with the charge (the charge is keyed by it), so a
 * line finds its order by key; the acquirer reference is the charge's (or refund's) id at the provider.
 */
import type { Readable } from 'node:stream';
import { isBusinessDate } from './business-date.ts';

export const IMPORT_LINE_TYPES = ['charge', 'refund'] as const;
export type ImportLineType = (typeof IMPORT_LINE_TYPES)[number];
export const IMPORT_LINE_STATUSES = ['settled', 'failed'] as const;
export type ImportLineStatus = (typeof IMPORT_LINE_STATUSES)[number];

export interface ImportLine {
  /** 1-based line number in the file. */
  line: number;
  type: ImportLineType;
  acquirerRef: string;
  orderId: string;
  amount: number;
  currency: string;
  fee: number;
  status: ImportLineStatus;
}

export type ParsedRecord =
  | { kind: 'header'; date: string; acquirer: string }
  | { kind: 'detail'; detail: ImportLine }
  | { kind: 'trailer'; count: number }
  | { kind: 'blank' }
  | { kind: 'error'; reason: string };

const REFERENCE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const ORDER_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const CURRENCY = /^[A-Z]{3}$/;
const MINOR_UNITS = /^(0|[1-9]\d{0,14})$/;
const ACQUIRER = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** File names accepted in the inbox: they go into S3 keys and table keys. */
export const IMPORT_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

const show = (value: string) => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);

/** One line of the file; `number` is its 1-based line number. The reason of an error names the field. */
export function parseImportRecord(text: string, number: number): ParsedRecord {
  if (text.trim() === '') return { kind: 'blank' };
  if (text.includes('"')) return { kind: 'error', reason: 'quotes are not allowed (no field holds a comma)' };
  const fields = text.split(',');
  const tag = fields[0];
  if (tag === 'H') {
    if (fields.length !== 4)
      return { kind: 'error', reason: `header has ${fields.length} fields, expected 4` };
    const [, version = '', date = '', acquirer = ''] = fields;
    if (version !== '1') return { kind: 'error', reason: `header version ${show(version)} is not 1` };
    if (!isBusinessDate(date)) return { kind: 'error', reason: `business date ${show(date)} is not a date` };
    if (!ACQUIRER.test(acquirer))
      return { kind: 'error', reason: `acquirer ${show(acquirer)} is not a name` };
    return { kind: 'header', date, acquirer };
  }
  if (tag === 'T') {
    const count = fields[1] ?? '';
    if (fields.length !== 2 || !MINOR_UNITS.test(count)) {
      return { kind: 'error', reason: 'trailer must be T,<number of detail lines>' };
    }
    return { kind: 'trailer', count: Number(count) };
  }
  if (tag !== 'D') return { kind: 'error', reason: `record type ${show(tag ?? '')} is not H, D or T` };
  if (fields.length !== 8) return { kind: 'error', reason: `detail has ${fields.length} fields, expected 8` };
  const [, type = '', acquirerRef = '', orderId = '', amount = '', currency = '', fee = '', status = ''] =
    fields;
  const problems: string[] = [];
  if (!(IMPORT_LINE_TYPES as readonly string[]).includes(type)) {
    problems.push(`type ${show(type)} is not charge or refund`);
  }
  if (!REFERENCE.test(acquirerRef))
    problems.push(`acquirer reference ${show(acquirerRef)} is not a reference`);
  if (!ORDER_ID.test(orderId)) problems.push(`order id ${show(orderId)} is not an order id`);
  if (!MINOR_UNITS.test(amount) || amount === '0') {
    problems.push(`amount ${show(amount)} is not a positive whole number of minor units`);
  }
  if (!CURRENCY.test(currency)) problems.push(`currency ${show(currency)} is not an ISO 4217 code`);
  if (!MINOR_UNITS.test(fee)) problems.push(`fee ${show(fee)} is not a whole number of minor units`);
  if (!(IMPORT_LINE_STATUSES as readonly string[]).includes(status)) {
    problems.push(`status ${show(status)} is not settled or failed`);
  }
  if (problems.length > 0) return { kind: 'error', reason: problems.join('; ') };
  return {
    kind: 'detail',
    detail: {
      line: number,
      type: type as ImportLineType,
      acquirerRef,
      orderId,
      amount: Number(amount),
      currency,
      fee: Number(fee),
      status: status as ImportLineStatus,
    },
  };
}

export interface RawLine {
  /** Without its line end. */
  text: string;
  /** Byte offset of the line's first byte in the object. */
  start: number;
  /** Byte offset just after its line end: where the next line starts. */
  end: number;
}

/** The longest line read before giving up: a file that is not line-oriented must not fill the memory. */
export const MAX_LINE_BYTES = 4096;

/**
 * The lines of a byte stream that starts at object offset `from`, with their byte offsets (a chunk resumes with a
 * ranged GET at the next line's offset). Memory holds one network chunk and one line at most; a line over
 * `MAX_LINE_BYTES` comes out cut, with `text` ending at the limit (the validation rejects it).
 */
export async function* linesOf(stream: Readable, from = 0): AsyncGenerator<RawLine> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let start = from;
  const flush = (endOfLine: number, lineEndBytes: number): RawLine => {
    const buffer = Buffer.concat(pending, pendingBytes);
    const length = Math.min(buffer.length - lineEndBytes, MAX_LINE_BYTES + 1);
    const line = { text: buffer.subarray(0, Math.max(0, length)).toString('utf8'), start, end: endOfLine };
    start = endOfLine;
    pending = [];
    pendingBytes = 0;
    return line;
  };
  let offset = from;
  for await (const chunk of stream) {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    let at = 0;
    while (at < data.length) {
      const newline = data.indexOf(0x0a, at);
      if (newline === -1) {
        const rest = data.subarray(at);
        // Past the limit the line is kept cut: enough to report it, not enough to exhaust the memory.
        if (pendingBytes <= MAX_LINE_BYTES + 2) {
          pending.push(rest);
          pendingBytes += rest.length;
        }
        offset += rest.length;
        break;
      }
      const piece = data.subarray(at, newline + 1);
      if (pendingBytes <= MAX_LINE_BYTES + 2) {
        pending.push(piece);
        pendingBytes += piece.length;
      }
      offset += piece.length;
      at = newline + 1;
      const last = pending.at(-1);
      const crlf = pendingBytes >= 2 && last !== undefined && endsWithCrLf(pending);
      yield flush(offset, crlf ? 2 : 1);
    }
  }
  if (pendingBytes > 0) yield flush(offset, 0);
}

function endsWithCrLf(buffers: Buffer[]): boolean {
  const last = buffers.at(-1);
  if (!last) return false;
  if (last.length >= 2) return last[last.length - 2] === 0x0d;
  const before = buffers.at(-2);
  return before !== undefined && before[before.length - 1] === 0x0d;
}
