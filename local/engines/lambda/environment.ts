import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { cpuMsOf } from '#local/proc-stat.ts';
import type {
  EnvironmentBootData,
  EnvironmentMessage,
  InvokeRequestMessage,
  LambdaErrorDocument,
} from './protocol.ts';

/**
 * One execution environment of one function: a worker thread plus the bookkeeping the main thread needs
 * to enforce timeouts and notice crashes. It serves one invocation at a time; the pool decides which
 * environment gets which invocation.
 */

const WORKER_ENTRY = new URL('./worker.ts', import.meta.url);

/** Node runs `.ts` natively from 22.18 / 23.6; older hosts get the TypeScript loader the project uses. */
const WORKER_EXEC_ARGV = (process.features as { typescript?: unknown }).typescript ? [] : ['--import', 'tsx'];

/**
 * A worker's young generation is capped below V8's default (up to 3 × 16 MB): a handler's garbage is short-lived and
 * small, and with dozens of environments the default made the runtime's memory (docs/profile.md).
 */
const WORKER_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 8 };

/**
 * V8 drops the bytecode of a function that has not run since the last full collection (its default waits for six): a
 * bundle's and the SDK's initialisation code runs once per environment and then only took memory, in every idle
 * environment (see the worker's idle collection). A function that runs again is compiled again, lazily, as V8 does
 * for any function the first time. Process-wide, and read when an isolate starts: set before the first worker.
 */
setFlagsFromString('--bytecode-old-age=1');
// The worker's idle collection (worker.ts) calls `gc`; V8's flags are process-wide, so it is set here, once.
setFlagsFromString('--expose-gc');

export interface EnvironmentSpec {
  functionName: string;
  functionVersion: string;
  codeDir: string;
  handler: string;
  memoryMb: number;
  env: Record<string, string>;
  logSink: (line: string) => void;
}

export interface EnvironmentOutcome {
  /** The handler's JSON answer (text), when it succeeded. */
  payload?: string;
  error?: LambdaErrorDocument;
  durationMs: number;
  /** Heap in use when the handler finished (the nearest stand-in for Lambda's "Max Memory Used"). */
  heapUsedBytes?: number;
  /** The environment is gone (timeout, crash, init failure); the pool must not reuse it. */
  fatal: boolean;
}

export interface InvokeRequest {
  requestId: string;
  eventJson: string;
  timeoutMs: number;
  invokedFunctionArn: string;
}

interface Pending {
  requestId: string;
  startedAt: number;
  timeoutMs: number;
  timer: NodeJS.Timeout;
  resolve(outcome: EnvironmentOutcome): void;
}

/** Lambda's log stream name: `YYYY/MM/DD/[$LATEST]<32 hex>`, one stream per execution environment. */
function logStreamName(version: string): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[${version}]${randomBytes(16).toString('hex')}`;
}

function traceId(): string {
  const epoch = Math.floor(Date.now() / 1000).toString(16);
  const root = `1-${epoch}-${randomBytes(12).toString('hex')}`;
  return `Root=${root};Parent=${randomBytes(8).toString('hex')};Sampled=0`;
}

export class ExecutionEnvironment {
  readonly logStreamName: string;
  private readonly worker: Worker;
  private osThreadId: number | undefined;
  private readonly ready: Promise<LambdaErrorDocument | undefined>;
  private pending: Pending | undefined;
  /** Error reported by the worker just before it exits on an uncaught exception. */
  private crashError: LambdaErrorDocument | undefined;
  private exited = false;
  private onExitCallbacks: Array<() => void> = [];

  constructor(spec: EnvironmentSpec) {
    this.logStreamName = logStreamName(spec.functionVersion);
    const boot: EnvironmentBootData = {
      codeDir: spec.codeDir,
      handler: spec.handler,
      functionName: spec.functionName,
      functionVersion: spec.functionVersion,
      memoryLimitInMB: spec.memoryMb,
      logGroupName: `/aws/lambda/${spec.functionName}`,
      logStreamName: this.logStreamName,
    };
    const env = { ...spec.env, AWS_LAMBDA_LOG_STREAM_NAME: this.logStreamName };
    this.worker = new Worker(WORKER_ENTRY, {
      env,
      workerData: boot,
      stdout: true,
      stderr: true,
      execArgv: WORKER_EXEC_ARGV,
      resourceLimits: WORKER_RESOURCE_LIMITS,
      name: `lambda:${spec.functionName}`,
    });
    // Lines come with the worker's messages (log-capture.ts); the stdio streams carry only what bypasses
    // process.stdout (a native addon's output, say). This listener is the first, so lines precede the answer.
    this.worker.on('message', (message: EnvironmentMessage) => {
      for (const line of message.logs ?? []) spec.logSink(line);
    });
    for (const stream of [this.worker.stdout, this.worker.stderr]) {
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', spec.logSink);
    }
    this.ready = new Promise((resolve) => {
      const onMessage = (message: EnvironmentMessage): void => {
        if (message.type === 'ready') {
          this.osThreadId = message.osThreadId;
          resolve(undefined);
        } else if (message.type === 'init-error') resolve(message.error);
        else if (message.type === 'crash') resolve(message.error);
      };
      this.worker.on('message', onMessage);
      this.onExit(() =>
        resolve(
          this.crashError ?? {
            errorType: 'Runtime.ExitError',
            errorMessage: 'Error: Runtime exited before initialization completed',
          },
        ),
      );
    });
    this.worker.on('message', (message: EnvironmentMessage) => this.onMessage(message));
    // Errors the worker could not report itself (e.g. it failed to start at all); 'exit' follows.
    this.worker.on('error', (error) => {
      this.crashError ??= { errorType: 'Runtime.ExitError', errorMessage: `Error: ${error.message}` };
    });
    this.worker.on('exit', (code) => this.onWorkerExit(code));
  }

  get alive(): boolean {
    return !this.exited;
  }

  /**
   * Milliseconds of CPU this environment's thread has used, read from /proc on Linux; elsewhere the time its event
   * loop was not idle, which matches CPU only on an idle machine. What the profile (bench/profile.ts) charges to
   * each function.
   */
  busyMs(): number {
    if (this.exited) return 0;
    if (this.osThreadId !== undefined) {
      try {
        return cpuMsOf(`/proc/self/task/${this.osThreadId}/stat`);
      } catch {
        // The thread is gone (the worker is exiting).
        return 0;
      }
    }
    return this.worker.performance.eventLoopUtilization().active;
  }

  /**
   * Waits for the handler module to load. Resolves with the init error when loading failed or took
   * longer than `timeoutMs`; the environment is then terminated.
   */
  async initialize(timeoutMs: number): Promise<LambdaErrorDocument | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<LambdaErrorDocument>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            // Lambda's own error type for a timeout; its "sandbox" is the execution environment.
            errorType: 'Sandbox.Timedout',
            errorMessage: `Error: Init phase timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
          }),
        timeoutMs,
      );
    });
    const error = await Promise.race([this.ready, timedOut]);
    clearTimeout(timer);
    if (error) await this.terminate();
    return error;
  }

  invoke(request: InvokeRequest): Promise<EnvironmentOutcome> {
    if (this.pending)
      throw new Error(`environment ${this.logStreamName} is already serving ${this.pending.requestId}`);
    return new Promise((resolve) => {
      const startedAt = performance.now();
      const timer = setTimeout(() => this.onTimeout(), request.timeoutMs);
      this.pending = {
        requestId: request.requestId,
        startedAt,
        timeoutMs: request.timeoutMs,
        timer,
        resolve,
      };
      const message: InvokeRequestMessage = {
        type: 'invoke',
        requestId: request.requestId,
        event: request.eventJson,
        deadlineMs: Date.now() + request.timeoutMs,
        invokedFunctionArn: request.invokedFunctionArn,
        traceId: traceId(),
      };
      this.worker.postMessage(message);
    });
  }

  /** Registers a callback for when the worker is gone, whatever the reason. */
  onExit(callback: () => void): void {
    if (this.exited) callback();
    else this.onExitCallbacks.push(callback);
  }

  async terminate(): Promise<void> {
    if (this.exited) return;
    await this.worker.terminate();
  }

  private onMessage(message: EnvironmentMessage): void {
    if (message.type === 'crash') {
      this.crashError = message.error;
      return;
    }
    if (message.type !== 'result' && message.type !== 'error') return;
    const pending = this.pending;
    if (!pending || pending.requestId !== message.requestId) return;
    if (message.type === 'result') {
      this.settle({ payload: message.payload, heapUsedBytes: message.heapUsedBytes, fatal: false });
    } else {
      this.settle({ error: message.error, heapUsedBytes: message.heapUsedBytes, fatal: false });
    }
  }

  private onTimeout(): void {
    const pending = this.pending;
    if (!pending) return;
    const seconds = (pending.timeoutMs / 1000).toFixed(2);
    this.settle(
      {
        error: {
          errorType: 'Sandbox.Timedout',
          errorMessage: `RequestId: ${pending.requestId} Error: Task timed out after ${seconds} seconds`,
        },
        fatal: true,
      },
      pending.timeoutMs,
    );
    void this.terminate();
  }

  private onWorkerExit(code: number): void {
    this.exited = true;
    const pending = this.pending;
    if (pending) {
      this.settle({
        error: this.crashError ?? {
          errorType: 'Runtime.ExitError',
          errorMessage: `RequestId: ${pending.requestId} Error: Runtime exited with error: exit status ${code}`,
        },
        fatal: true,
      });
    }
    for (const callback of this.onExitCallbacks.splice(0)) callback();
  }

  private settle(outcome: Omit<EnvironmentOutcome, 'durationMs'>, durationMs?: number): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    clearTimeout(pending.timer);
    pending.resolve({ ...outcome, durationMs: durationMs ?? performance.now() - pending.startedAt });
  }
}
