/** Rendering and argument parsing shared by the commands: tables for people, durations and times, filters. */
import { OperatorError } from './context.ts';

export type Cell = string | number | boolean | null | undefined;

/** A plain-text table: columns padded to their widest cell, numbers right-aligned. */
export function table(headers: string[], rows: Cell[][]): string {
  if (rows.length === 0) return '  (none)\n';
  const text = rows.map((row) =>
    headers.map((_, i) => (row[i] === undefined || row[i] === null ? '-' : String(row[i]))),
  );
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...text.map((row) => row[i]?.length ?? 0)),
  );
  const numeric = headers.map((_, i) => rows.every((row) => typeof row[i] === 'number' || row[i] == null));
  const line = (cells: string[]) =>
    `  ${cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()}`;
  return `${[line(headers), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n')}\n`;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `5m`, `2h`, `1d`, `500ms` → milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim());
  if (!match) throw new OperatorError(`"${value}" is not a duration: use e.g. 30s, 5m, 2h, 1d`);
  return Number(match[1]) * (UNITS[match[2] ?? 's'] ?? 1000);
}

/** An ISO time (`2026-05-01T12:00Z`) or a duration ago (`1h`). */
export function parseTime(value: string, now = new Date()): Date {
  if (/^\d+(?:\.\d+)?\s*(ms|s|m|h|d)$/.test(value.trim()))
    return new Date(now.getTime() - parseDuration(value));
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new OperatorError(`"${value}" is neither an ISO time nor a duration`);
  return date;
}

/** 75 → `1m15s`. */
export function humanAge(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '-';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

export interface Filter {
  path: Array<string | number>;
  expected: string;
  source: string;
}

/** `detail.orderId=…`, `$.detail.payload.items[0].sku=espresso`, `$['detail-type']=OrderConfirmed`. */
export function parseFilter(text: string): Filter {
  const at = text.indexOf('=');
  if (at <= 0) throw new OperatorError(`filter "${text}" must look like <jsonpath>=<value>`);
  const expression = text.slice(0, at).trim().replace(/^\$/, '');
  const path: Array<string | number> = [];
  const bad = () => new OperatorError(`filter "${text}": cannot read the path "${text.slice(0, at)}"`);
  let i = 0;
  while (i < expression.length) {
    const char = expression[i];
    if (char === '.') {
      i += 1;
    } else if (char === '[') {
      const close = expression.indexOf(']', i);
      if (close === -1) throw bad();
      const inner = expression.slice(i + 1, close);
      const quoted = /^(['"])(.*)\1$/.exec(inner);
      if (/^\d+$/.test(inner)) path.push(Number(inner));
      else if (quoted) path.push(quoted[2] ?? '');
      else throw bad();
      i = close + 1;
    } else {
      const end = expression.slice(i).search(/[.[]/);
      const key = end === -1 ? expression.slice(i) : expression.slice(i, i + end);
      path.push(key);
      i += key.length;
    }
  }
  if (path.length === 0) throw bad();
  return { path, expected: text.slice(at + 1), source: text };
}

export function valueAt(document: unknown, path: Array<string | number>): unknown {
  let current: unknown = document;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

/** A message matches when every filter's path holds the expected value (strings as they are, others as JSON). */
export function matchesFilters(document: unknown, filters: Filter[]): boolean {
  return filters.every((filter) => {
    const value = valueAt(document, filter.path);
    if (value === undefined) return false;
    return typeof value === 'string' ? value === filter.expected : JSON.stringify(value) === filter.expected;
  });
}

export function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
