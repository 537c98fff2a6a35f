import type { RuntimeLogger } from './types.ts';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

const COLOURS: Record<string, string> = {
  DEBUG: '\x1b[90m',
  INFO: '\x1b[36m',
  WARN: '\x1b[33m',
  ERROR: '\x1b[31m',
};
const RESET = '\x1b[0m';
const useColour = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;

function clock(): string {
  return new Date().toISOString().slice(11, 23);
}

function paint(level: string, text: string): string {
  const colour = COLOURS[level];
  return useColour && colour ? `${colour}${text}${RESET}` : text;
}

function fieldsText(fields: Record<string, unknown> | undefined): string {
  if (!fields) return '';
  const parts = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return parts.length > 0 ? ` ${parts.join(' ')}` : '';
}

/** The runtime's own log lines: `time LEVEL message key=value…`, filtered by level. */
export function consoleLogger(
  level: LogLevel = 'info',
  write = (line: string) => process.stdout.write(line),
): RuntimeLogger {
  const min = LEVELS[level];
  const log = (lvl: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < min) return;
    const tag = lvl.toUpperCase();
    write(`${clock()} ${paint(tag, tag.padEnd(5))} runtime  ${message}${fieldsText(fields)}\n`);
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** Keys of a Powertools log line that the one-line format shows anyway or that only add noise locally. */
const HIDDEN = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'sampling_rate',
  'xray_trace_id',
  'correlationId',
  'correlation_id',
]);

/**
 * Formats one line a function wrote. Powertools JSON lines become `time LEVEL function message
 * [correlationId] key=value…`, so one order can be followed across functions by its correlation id; other lines
 * pass through.
 */
export function formatFunctionLine(functionName: string, line: string, shortName = functionName): string {
  let entry: Record<string, unknown> | undefined;
  if (line.startsWith('{')) {
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      entry = undefined;
    }
  }
  if (!entry || typeof entry.message !== 'string')
    return `${clock()} ${''.padEnd(5)} ${shortName}  ${line}\n`;
  const level = String(entry.level ?? 'INFO').toUpperCase();
  const correlation = entry.correlationId ?? entry.correlation_id;
  const rest = Object.fromEntries(Object.entries(entry).filter(([k]) => !HIDDEN.has(k)));
  const corr = typeof correlation === 'string' ? ` [${correlation}]` : '';
  return `${clock()} ${paint(level, level.padEnd(5))} ${shortName}  ${entry.message}${corr}${fieldsText(rest)}\n`;
}

/**
 * `Buzzer-ApiAcceptOrderFunction1A2B3C4D` → `ApiAcceptOrder`: the local runtime's physical names without the stack
 * prefix, hash and suffixes, for log prefixes and for `buzzer metrics`' cold starts (which name the same functions).
 */
export function shortFunctionName(functionName: string, stackName: string): string {
  return functionName
    .replace(new RegExp(`^${stackName}-`), '')
    .replace(/[0-9A-F]{8}$/, '')
    .replace(/Function$/, '')
    .replace(/Handler$/, '');
}
