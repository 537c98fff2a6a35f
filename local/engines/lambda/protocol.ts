/**
 * Messages between the Lambda service (main thread) and one execution environment (a worker thread).
 * Events and results cross as JSON text, not structured clones: Lambda payloads are JSON, so a handler
 * must see exactly what `JSON.parse` gives (no Dates, no undefined) and its result is what
 * `JSON.stringify` makes of it.
 */

/** The error document Lambda returns for a failed invocation (`errorType`, `errorMessage`, `trace`). */
export interface LambdaErrorDocument {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

/** What a worker needs to boot: where the code is and which export to call. Sent as `workerData`. */
export interface EnvironmentBootData {
  codeDir: string;
  handler: string;
  functionName: string;
  functionVersion: string;
  memoryLimitInMB: number;
  logGroupName: string;
  logStreamName: string;
}

/** Main thread → worker. */
export interface InvokeRequestMessage {
  type: 'invoke';
  requestId: string;
  /** The event as JSON text. */
  event: string;
  /** Epoch milliseconds at which the invocation times out (for `getRemainingTimeInMillis`). */
  deadlineMs: number;
  invokedFunctionArn: string;
  traceId: string;
}

/** Worker → main thread. */
export type EnvironmentMessage =
  /** `threadId`: the worker's OS thread id on Linux (from /proc/thread-self), so its CPU time can be read. */
  (
    | { type: 'ready'; osThreadId?: number }
    /** Only log lines: written between invocations. */
    | { type: 'logs' }
    | { type: 'init-error'; error: LambdaErrorDocument }
    /** `heapUsedBytes`: the largest heap the invocation used (see worker.ts `watchPeakHeap`). */
    | { type: 'result'; requestId: string; payload: string; heapUsedBytes: number }
    | { type: 'error'; requestId: string; error: LambdaErrorDocument; heapUsedBytes: number }
    /** An uncaught exception or unhandled rejection; the worker exits right after sending this. */
    | { type: 'crash'; requestId: string | undefined; error: LambdaErrorDocument }
  ) & {
    /** Lines the function wrote to stdout and stderr before this message (see log-capture.ts). */
    logs?: string[];
  };

/**
 * How long an environment waits between invocations before it collects its garbage. Lambda freezes an environment
 * between invocations; here an idle one keeps its heap, and with dozens of them that was most of the runtime's memory
 * (docs/profile.md). Collected, and with the bytecode its one-off initialisation left flushed (environment.ts), an
 * idle environment holds about 25 MB instead of 40.
 */
export const IDLE_COLLECTION_MS = 1000;
