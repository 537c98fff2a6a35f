import { readlinkSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { toErrorDocument } from './error-document.ts';
import { HandlerLoadError, type LambdaHandler, loadHandler } from './handler-module.ts';
import { captureStdio } from './log-capture.ts';
import {
  type EnvironmentBootData,
  type EnvironmentMessage,
  IDLE_COLLECTION_MS,
  type InvokeRequestMessage,
} from './protocol.ts';

/**
 * Entry point of one execution environment: a worker thread with its own `process.env`, which loads the
 * function's bundle once (the cold start) and then serves one invocation at a time, keeping module state
 * between them (warm starts). The main thread enforces the timeout by terminating this thread.
 */

const port = parentPort;
if (!port) throw new Error('worker.ts must run as a worker thread of the local Lambda service');
const boot = workerData as EnvironmentBootData;

const logs = captureStdio(() => send({ type: 'logs' }));

/** Every message carries the log lines written before it, so the main thread sees them first and in order. */
function send(message: EnvironmentMessage): void {
  const lines = logs.take(message.type === 'crash');
  port?.postMessage(lines.length > 0 ? { ...message, logs: lines } : message);
}

let currentRequestId: string | undefined;

// The main thread sets `--expose-gc` before the first worker (environment.ts); a context of its own reaches `gc`.
const collectGarbage = runInNewContext('gc') as () => void;
let idleCollection: NodeJS.Timeout | undefined;

// Like the Node.js runtime: report the error against the running invocation, then let the environment
// die so the next invocation starts from a fresh one.
process.on('uncaughtException', (error) => {
  send({ type: 'crash', requestId: currentRequestId, error: toErrorDocument(error) });
  process.exit(129);
});
process.on('unhandledRejection', (reason) => {
  const cause = toErrorDocument(reason);
  const errorMessage =
    reason instanceof Error ? `${cause.errorType}: ${cause.errorMessage}` : cause.errorMessage;
  send({
    type: 'crash',
    requestId: currentRequestId,
    error: { errorType: 'Runtime.UnhandledPromiseRejection', errorMessage, trace: cause.trace ?? [] },
  });
  process.exit(128);
});

if (process.env.NODE_OPTIONS?.includes('--enable-source-maps')) process.setSourceMapsEnabled(true);

/** This thread's OS id where /proc says it (Linux): the Lambda service reads the thread's CPU time from it. */
function osThread(): { osThreadId?: number } {
  try {
    const id = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    return Number.isInteger(id) ? { osThreadId: id } : {};
  } catch {
    return {};
  }
}

function heapUsedBytes(): number {
  return getHeapStatistics().used_heap_size;
}

/**
 * The largest heap an invocation used, like Lambda's "Max Memory Used": looked at when it starts, every 10 ms while
 * it runs (a handler that streams yields often) and when it ends. The bench compares it across file sizes.
 */
function watchPeakHeap(): () => number {
  let peak = heapUsedBytes();
  const timer = setInterval(() => {
    peak = Math.max(peak, heapUsedBytes());
  }, 10);
  timer.unref();
  return () => {
    clearInterval(timer);
    return Math.max(peak, heapUsedBytes());
  };
}

function contextFor(message: InvokeRequestMessage): Record<string, unknown> {
  return {
    awsRequestId: message.requestId,
    functionName: boot.functionName,
    functionVersion: boot.functionVersion,
    invokedFunctionArn: message.invokedFunctionArn,
    memoryLimitInMB: String(boot.memoryLimitInMB),
    logGroupName: boot.logGroupName,
    logStreamName: boot.logStreamName,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, message.deadlineMs - Date.now()),
  };
}

/**
 * Async handlers answer with their promise. A handler declaring a third parameter answers through the
 * callback (runtimes before nodejs24.x); any other return value is the answer.
 */
function callHandler(
  handler: LambdaHandler,
  event: unknown,
  context: Record<string, unknown>,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const callback = (error: unknown, result?: unknown): void => {
      if (error !== null && error !== undefined) reject(error);
      else resolve(result);
    };
    const returned = handler(event, context, callback);
    if (isThenable(returned)) returned.then(resolve, reject);
    else if (handler.length < 3) resolve(returned);
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

async function serve(handler: LambdaHandler, message: InvokeRequestMessage): Promise<void> {
  clearTimeout(idleCollection);
  currentRequestId = message.requestId;
  process.env._X_AMZN_TRACE_ID = message.traceId;
  const peakHeap = watchPeakHeap();
  try {
    const result = await callHandler(handler, JSON.parse(message.event), contextFor(message));
    // JSON.stringify(undefined) is undefined: Lambda answers `null` then.
    const payload = JSON.stringify(result) ?? 'null';
    send({ type: 'result', requestId: message.requestId, payload, heapUsedBytes: peakHeap() });
  } catch (error) {
    send({
      type: 'error',
      requestId: message.requestId,
      error: toErrorDocument(error),
      heapUsedBytes: peakHeap(),
    });
  } finally {
    currentRequestId = undefined;
    idleCollection = setTimeout(collectGarbage, IDLE_COLLECTION_MS);
    idleCollection.unref();
  }
}

async function main(): Promise<void> {
  let handler: LambdaHandler;
  try {
    handler = await loadHandler(boot.codeDir, boot.handler);
  } catch (error) {
    send({
      type: 'init-error',
      error: error instanceof HandlerLoadError ? error.document : toErrorDocument(error),
    });
    return;
  }
  port?.on('message', (message: InvokeRequestMessage) => {
    void serve(handler, message);
  });
  send({ type: 'ready', ...osThread() });
}

void main();
