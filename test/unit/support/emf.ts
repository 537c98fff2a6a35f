/**
 * Reads what a handler writes to stdout: Powertools Metrics prints each EMF document with its own `Console` on
 * `process.stdout` (not the global console vitest intercepts), the Logger its JSON lines likewise. `captureStdout()`
 * takes those lines (from stderr too, where WARN and ERROR go) (and lets anything else through) until `restore()`.
 */
import { vi } from 'vitest';

/** One metric of one EMF document, with the dimensions its document declares for it. */
export interface EmfMetric {
  name: string;
  unit: string | undefined;
  value: unknown;
  /** The names of the (single) dimension set, as declared in `CloudWatchMetrics[].Dimensions`. */
  dimensionNames: string[];
  /** Those dimensions with their values. */
  dimensions: Record<string, unknown>;
  namespace: string;
}

interface EmfDocument {
  _aws: {
    CloudWatchMetrics: Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit?: string }>;
    }>;
  };
  [key: string]: unknown;
}

export interface StdoutCapture {
  /** Every JSON line written: EMF documents and log entries. */
  lines: Record<string, unknown>[];
  /** The metrics of every EMF document written, optionally only those named `name`. */
  metrics(name?: string): EmfMetric[];
  /** The log entries (JSON lines that are not EMF), optionally only those with this message. */
  logs(message?: string): Record<string, unknown>[];
  restore(): void;
}

export function captureStdout(): StdoutCapture {
  const lines: Record<string, unknown>[] = [];
  // The Logger writes WARN and ERROR to stderr.
  const spies = [process.stdout, process.stderr].map((stream) => {
    const write = stream.write.bind(stream);
    return vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      let passed = '';
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        try {
          const parsed = JSON.parse(line) as unknown;
          if (parsed && typeof parsed === 'object') {
            lines.push(parsed as Record<string, unknown>);
            continue;
          }
        } catch {
          // not one of ours
        }
        passed += `${line}\n`;
      }
      return passed ? write(passed, ...(rest as [])) : true;
    }) as typeof stream.write);
  });
  const isEmf = (line: Record<string, unknown>): line is EmfDocument => '_aws' in line;
  return {
    lines,
    metrics: (name) =>
      lines.filter(isEmf).flatMap((document) =>
        document._aws.CloudWatchMetrics.flatMap((directive) =>
          directive.Metrics.filter((metric) => name === undefined || metric.Name === name).map((metric) => {
            const dimensionNames = directive.Dimensions[0] ?? [];
            return {
              name: metric.Name,
              unit: metric.Unit,
              value: document[metric.Name],
              dimensionNames,
              dimensions: Object.fromEntries(dimensionNames.map((key) => [key, document[key]])),
              namespace: directive.Namespace,
            };
          }),
        ),
      ),
    logs: (message) =>
      lines.filter((line) => !isEmf(line) && (message === undefined || line.message === message)),
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}
