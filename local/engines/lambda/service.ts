import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import {
  DEFAULT_ACCOUNT,
  type InvokeResult,
  type LambdaInvoker,
  type LocalAccount,
  type RuntimeLogger,
  silentLogger,
} from '../../types.ts';
import {
  LambdaFunctionNotFoundError,
  LambdaPayloadTooLargeError,
  LambdaRegistrationError,
  LambdaThrottledError,
} from './errors.ts';
import { type LambdaFunctionMetrics, MetricsRecorder } from './metrics.ts';
import { FunctionPool, LambdaPoolStoppedError, type PoolOutcome } from './pool.ts';
import type { LambdaErrorDocument } from './protocol.ts';

/**
 * The local Lambda service: runs the bundled handlers `cdk synth` wrote to cdk.out, each function in its own
 * worker threads (execution environments) with its own environment variables, with Lambda's warm/cold
 * starts, timeouts, error documents, concurrency limit and asynchronous retries.
 */

/** One `AWS::Lambda::Function` as the runtime resolved it from the template. */
export interface LambdaFunctionDefinition {
  logicalId: string;
  functionName: string;
  arn: string;
  /** Absolute path of the function's asset directory in cdk.out. */
  codeDir: string;
  /** `Handler` property, e.g. `index.handler`. */
  handler: string;
  /** `Runtime` property, e.g. `nodejs24.x`. */
  runtime: string;
  /** @default 3 */
  timeoutSeconds?: number;
  /** @default 128 */
  memoryMb?: number;
  /** The function's resolved `Environment.Variables`. */
  environment?: Record<string, string>;
  /** `ReservedConcurrentExecutions`; bounds this function's environments instead of the service default. */
  reservedConcurrency?: number;
  /** Variables the runtime adds for this function only (e.g. `AWS_ENDPOINT_URL_*`); they beat `environment`. */
  runtimeEnvironment?: Record<string, string>;
  /** Defaults for asynchronous invocations (the function's `AWS::Lambda::EventInvokeConfig`). */
  asyncInvokeConfig?: AsyncInvokeOptions;
}

export interface LambdaServiceOptions {
  /** @default DEFAULT_ACCOUNT */
  account?: LocalAccount;
  /** Added to every function's environment, over the function's own variables (endpoints, credentials). */
  baseEnvironment?: Record<string, string>;
  /** Environments per function when it has no reserved concurrency. @default 4 */
  defaultConcurrency?: number;
  /** Receives every line a function writes to stdout/stderr. @default prints `[functionName] line` */
  logSink?: (functionName: string, line: string) => void;
  /** Also send Lambda's `REPORT RequestId: …` line to the log sink after each invocation. @default true */
  reportLines?: boolean;
  /**
   * Waits before the retries of a failed asynchronous invocation (Lambda waits about 1 and 2 minutes; the
   * last value repeats if more retries are configured). @default [1000, 2000]
   */
  asyncRetryDelaysMs?: readonly number[];
  /** How long loading a handler module may take (Lambda's init phase limit). @default 10000 */
  initTimeoutMs?: number;
  /** Shut idle environments down after this long (Lambda recycles idle ones too). @default never */
  idleTimeoutMs?: number;
  logger?: RuntimeLogger;
}

/** The outcome of one invocation, with what Lambda's REPORT line says about it. */
export interface LambdaInvokeResult extends InvokeResult {
  requestId: string;
  functionName: string;
  coldStart: boolean;
  initDurationMs?: number;
  billedDurationMs: number;
  /** Time the invocation waited for a free environment (not part of its duration). */
  queuedMs: number;
}

/** The record Lambda sends to an asynchronous invocation's on-success / on-failure destination. */
export interface AsyncInvocationRecord {
  version: '1.0';
  timestamp: string;
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'Success' | 'RetriesExhausted';
    approximateInvokeCount: number;
  };
  requestPayload: unknown;
  responseContext: { statusCode: number; executedVersion: string; functionError?: 'Unhandled' };
  responsePayload: unknown;
}

export interface AsyncInvokeOptions {
  /** Retries after the first failed attempt. @default 2 */
  maximumRetryAttempts?: number;
  onSuccess?: (record: AsyncInvocationRecord) => void | Promise<void>;
  onFailure?: (record: AsyncInvocationRecord) => void | Promise<void>;
}

export interface AsyncInvocation {
  requestId: string;
  /** Settles when the event succeeded or used up its retries; `undefined` if the service stopped first. */
  completion: Promise<AsyncInvocationRecord | undefined>;
}

/** Lambda's limit for a synchronous request payload. */
const MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;
const FUNCTION_VERSION = '$LATEST';

interface RegisteredFunction {
  definition: LambdaFunctionDefinition;
  timeoutMs: number;
  memoryMb: number;
  pool: FunctionPool;
  metrics: MetricsRecorder;
  blocked: boolean;
}

function defaultLogSink(functionName: string, line: string): void {
  process.stdout.write(`[${functionName}] ${line}\n`);
}

/**
 * `name`, `name:qualifier`, `account:function:name` or `arn:aws:lambda:region:account:function:name[:qualifier]`.
 */
function parseFunctionReference(nameOrArn: string): { name: string; qualifier?: string } {
  const parts = nameOrArn.split(':');
  const at = parts.indexOf('function');
  const [name, qualifier] = at >= 0 ? [parts[at + 1], parts[at + 2]] : [parts[0], parts[1]];
  return { name: name ?? nameOrArn, ...(qualifier ? { qualifier } : {}) };
}

export class LambdaService implements LambdaInvoker {
  private readonly account: LocalAccount;
  private readonly options: LambdaServiceOptions;
  private readonly logger: RuntimeLogger;
  private readonly logSink: (functionName: string, line: string) => void;
  private readonly functions = new Map<string, RegisteredFunction>();
  private readonly retryTimers = new Set<{ timer: NodeJS.Timeout; cancel(): void }>();
  private stopped = false;

  constructor(options: LambdaServiceOptions = {}) {
    this.options = options;
    this.account = options.account ?? DEFAULT_ACCOUNT;
    this.logger = options.logger ?? silentLogger;
    this.logSink = options.logSink ?? defaultLogSink;
  }

  register(definition: LambdaFunctionDefinition): void {
    if (this.functions.has(definition.functionName)) {
      throw new LambdaRegistrationError(`function ${definition.functionName} is already registered`);
    }
    if (!path.isAbsolute(definition.codeDir)) {
      throw new LambdaRegistrationError(
        `function ${definition.functionName}: codeDir must be absolute, got "${definition.codeDir}"`,
      );
    }
    if (!definition.runtime.startsWith('nodejs')) {
      throw new LambdaRegistrationError(
        `function ${definition.functionName}: runtime ${definition.runtime} cannot run locally (Node.js only)`,
      );
    }
    const timeoutMs = (definition.timeoutSeconds ?? 3) * 1000;
    const memoryMb = definition.memoryMb ?? 128;
    const maxConcurrency = definition.reservedConcurrency ?? this.options.defaultConcurrency ?? 4;
    const pool = new FunctionPool(
      {
        functionName: definition.functionName,
        functionVersion: FUNCTION_VERSION,
        codeDir: definition.codeDir,
        handler: definition.handler,
        memoryMb,
        env: this.environmentFor(definition, memoryMb),
        logSink: (line) => this.logSink(definition.functionName, line),
      },
      {
        maxConcurrency: Math.max(1, maxConcurrency),
        initTimeoutMs: this.options.initTimeoutMs ?? 10_000,
        ...(this.options.idleTimeoutMs !== undefined ? { idleTimeoutMs: this.options.idleTimeoutMs } : {}),
      },
    );
    this.functions.set(definition.functionName, {
      definition,
      timeoutMs,
      memoryMb,
      pool,
      metrics: new MetricsRecorder(definition.functionName, memoryMb),
      blocked: maxConcurrency === 0,
    });
  }

  /** Whether `nameOrArn` names a registered function. */
  has(nameOrArn: string): boolean {
    return this.functions.has(parseFunctionReference(nameOrArn).name);
  }

  /** Synchronous invocation (`InvocationType: RequestResponse`). Handler failures come back in `error`. */
  async invoke(nameOrArn: string, event: unknown): Promise<LambdaInvokeResult> {
    const { fn, eventJson } = this.admit(nameOrArn, event);
    return this.run(fn, nameOrArn, eventJson);
  }

  /** The name of the registered function `nameOrArn` refers to; throws `LambdaFunctionNotFoundError` if none. */
  functionName(nameOrArn: string): string {
    return this.lookup(nameOrArn).definition.functionName;
  }

  /**
   * A synchronous invocation that fails before the handler runs, as when the execution environment dies on arrival:
   * the call is admitted and counted as a failed invocation like any other, but the handler never sees the event.
   */
  async failBeforeHandler(
    nameOrArn: string,
    event: unknown,
    error: { errorType: string; errorMessage: (requestId: string) => string },
  ): Promise<LambdaInvokeResult> {
    const { fn } = this.admit(nameOrArn, event);
    const requestId = randomUUID();
    const billedDurationMs = fn.metrics.record({ durationMs: 0, failed: true, timedOut: false });
    return {
      requestId,
      functionName: fn.definition.functionName,
      durationMs: 0,
      coldStart: false,
      billedDurationMs,
      queuedMs: 0,
      error: { errorType: error.errorType, errorMessage: error.errorMessage(requestId) },
    };
  }

  /** What Lambda checks before an invocation runs: the function exists, the payload fits, it may run at all. */
  private admit(nameOrArn: string, event: unknown): { fn: RegisteredFunction; eventJson: string } {
    const fn = this.lookup(nameOrArn);
    const eventJson = event === undefined ? '{}' : JSON.stringify(event);
    if (Buffer.byteLength(eventJson) > MAX_SYNC_PAYLOAD_BYTES) {
      throw new LambdaPayloadTooLargeError(
        `Request must be smaller than ${MAX_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation`,
      );
    }
    if (fn.blocked) {
      fn.metrics.rejectedThrottles += 1;
      throw new LambdaThrottledError(
        `Rate Exceeded. (function ${fn.definition.functionName} has no concurrency)`,
      );
    }
    return { fn, eventJson };
  }

  private async run(
    fn: RegisteredFunction,
    nameOrArn: string,
    eventJson: string,
  ): Promise<LambdaInvokeResult> {
    const requestId = randomUUID();
    const outcome = await fn.pool.invoke({
      requestId,
      eventJson,
      timeoutMs: fn.timeoutMs,
      invokedFunctionArn: this.invokedArn(fn, nameOrArn),
    });
    return this.finish(fn, requestId, outcome);
  }

  /**
   * Asynchronous invocation (`InvocationType: Event`): returns at once; a failed event is retried
   * (2 retries by default, after `asyncRetryDelaysMs`), then handed to `onFailure`.
   */
  invokeAsync(nameOrArn: string, event: unknown, options: AsyncInvokeOptions = {}): AsyncInvocation {
    const fn = this.lookup(nameOrArn);
    const config = { ...fn.definition.asyncInvokeConfig, ...options };
    const requestId = randomUUID();
    fn.metrics.asyncInvocations += 1;
    const completion = this.runAsync(fn, nameOrArn, event, requestId, config).catch((error: unknown) => {
      this.logger.error('asynchronous invocation failed in the Lambda service', {
        functionName: fn.definition.functionName,
        requestId,
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    });
    return { requestId, completion };
  }

  metrics(): Record<string, LambdaFunctionMetrics> {
    const result: Record<string, LambdaFunctionMetrics> = {};
    for (const [name, fn] of this.functions) {
      result[name] = fn.metrics.snapshot({
        throttles: fn.pool.queuedInvocations + fn.metrics.rejectedThrottles,
        concurrentExecutions: fn.pool.busy,
        maxConcurrentExecutions: fn.pool.maxBusy,
        environments: fn.pool.size,
        busyMs: fn.pool.busyMs(),
      });
    }
    return result;
  }

  /** Forgets every function's largest heap so far, so a measurement (the bench's batch section) sees its own. */
  resetMaxHeapUsed(): void {
    for (const fn of this.functions.values()) fn.metrics.maxHeapUsedBytes = 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const pending of this.retryTimers) pending.cancel();
    this.retryTimers.clear();
    await Promise.all([...this.functions.values()].map((fn) => fn.pool.stop()));
  }

  private lookup(nameOrArn: string): RegisteredFunction {
    const fn = this.functions.get(parseFunctionReference(nameOrArn).name);
    if (!fn) {
      throw new LambdaFunctionNotFoundError(
        `Function not found: ${nameOrArn.startsWith('arn:') ? nameOrArn : this.arnOf(nameOrArn)}`,
      );
    }
    return fn;
  }

  private arnOf(name: string): string {
    return `arn:aws:lambda:${this.account.region}:${this.account.accountId}:function:${name}`;
  }

  /** Lambda reports the ARN the caller used, with its qualifier if it gave one. */
  private invokedArn(fn: RegisteredFunction, nameOrArn: string): string {
    if (nameOrArn.startsWith('arn:')) return nameOrArn;
    const { qualifier } = parseFunctionReference(nameOrArn);
    return qualifier ? `${fn.definition.arn}:${qualifier}` : fn.definition.arn;
  }

  private environmentFor(definition: LambdaFunctionDefinition, memoryMb: number): Record<string, string> {
    const { region } = this.account;
    return {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      ...definition.environment,
      // Lambda provides the execution role's credentials; the local engines accept any.
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      ...this.options.baseEnvironment,
      ...definition.runtimeEnvironment,
      // Reserved: Lambda sets these itself and rejects functions that try to.
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_EXECUTION_ENV: `AWS_Lambda_${definition.runtime}`,
      AWS_LAMBDA_FUNCTION_NAME: definition.functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: FUNCTION_VERSION,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${definition.functionName}`,
      LAMBDA_TASK_ROOT: definition.codeDir,
      _HANDLER: definition.handler,
    };
  }

  private finish(fn: RegisteredFunction, requestId: string, outcome: PoolOutcome): LambdaInvokeResult {
    const timedOut = outcome.error?.errorType === 'Sandbox.Timedout';
    const billedDurationMs = fn.metrics.record({
      durationMs: outcome.durationMs,
      failed: outcome.error !== undefined,
      timedOut,
      ...(outcome.initDurationMs !== undefined ? { initDurationMs: outcome.initDurationMs } : {}),
      ...(outcome.heapUsedBytes !== undefined ? { heapUsedBytes: outcome.heapUsedBytes } : {}),
    });
    if (this.options.reportLines ?? true) {
      this.logSink(fn.definition.functionName, reportLine(requestId, fn.memoryMb, outcome, billedDurationMs));
    }
    const base = {
      requestId,
      functionName: fn.definition.functionName,
      durationMs: outcome.durationMs,
      coldStart: outcome.coldStart,
      billedDurationMs,
      queuedMs: outcome.queuedMs,
      ...(outcome.initDurationMs !== undefined ? { initDurationMs: outcome.initDurationMs } : {}),
    };
    if (outcome.error) return { ...base, error: outcome.error };
    return { ...base, payload: JSON.parse(outcome.payload ?? 'null') as unknown };
  }

  private async runAsync(
    fn: RegisteredFunction,
    nameOrArn: string,
    event: unknown,
    requestId: string,
    config: AsyncInvokeOptions,
  ): Promise<AsyncInvocationRecord | undefined> {
    const attempts = 1 + Math.max(0, config.maximumRetryAttempts ?? 2);
    const delays = this.options.asyncRetryDelaysMs ?? [1000, 2000];
    let last: { payload?: unknown; error?: LambdaErrorDocument } = {};
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      if (attempt > 1) {
        fn.metrics.asyncRetries += 1;
        const delay = delays[Math.min(attempt - 2, delays.length - 1)] ?? 0;
        if (!(await this.sleep(delay))) return undefined;
      }
      if (this.stopped) return undefined;
      try {
        last = await this.invoke(nameOrArn, event);
      } catch (error) {
        if (error instanceof LambdaPoolStoppedError) return undefined;
        last = {
          error: { errorType: error instanceof Error ? error.name : 'Error', errorMessage: String(error) },
        };
      }
      if (!last.error) {
        const record = this.asyncRecord(fn, requestId, event, 'Success', attempt, last.payload, false);
        await this.notify(config.onSuccess, record);
        return record;
      }
    }
    fn.metrics.asyncFailures += 1;
    const record = this.asyncRecord(fn, requestId, event, 'RetriesExhausted', attempts, last.error, true);
    this.logger.warn('asynchronous invocation failed after all retries', {
      functionName: fn.definition.functionName,
      requestId,
      errorType: last.error?.errorType,
    });
    await this.notify(config.onFailure, record);
    return record;
  }

  private asyncRecord(
    fn: RegisteredFunction,
    requestId: string,
    event: unknown,
    condition: AsyncInvocationRecord['requestContext']['condition'],
    invokeCount: number,
    response: unknown,
    failed: boolean,
  ): AsyncInvocationRecord {
    return {
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId,
        functionArn: `${fn.definition.arn}:${FUNCTION_VERSION}`,
        condition,
        approximateInvokeCount: invokeCount,
      },
      requestPayload: event,
      responseContext: {
        statusCode: 200,
        executedVersion: FUNCTION_VERSION,
        ...(failed ? { functionError: 'Unhandled' as const } : {}),
      },
      responsePayload: response ?? null,
    };
  }

  private async notify(
    callback: ((record: AsyncInvocationRecord) => void | Promise<void>) | undefined,
    record: AsyncInvocationRecord,
  ): Promise<void> {
    if (!callback) return;
    try {
      await callback(record);
    } catch (error) {
      this.logger.error('asynchronous invocation destination failed', {
        requestId: record.requestContext.requestId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** Resolves `true` after `ms`, or `false` at once if the service stops first. */
  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.retryTimers.delete(entry);
          resolve(true);
        }, ms),
        cancel: () => {
          clearTimeout(entry.timer);
          resolve(false);
        },
      };
      this.retryTimers.add(entry);
    });
  }
}

function reportLine(requestId: string, memoryMb: number, outcome: PoolOutcome, billedMs: number): string {
  const fields = [
    `REPORT RequestId: ${requestId}`,
    `Duration: ${outcome.durationMs.toFixed(2)} ms`,
    `Billed Duration: ${billedMs} ms`,
    `Memory Size: ${memoryMb} MB`,
  ];
  if (outcome.heapUsedBytes !== undefined) {
    fields.push(`Max Memory Used: ${Math.ceil(outcome.heapUsedBytes / (1024 * 1024))} MB`);
  }
  if (outcome.initDurationMs !== undefined)
    fields.push(`Init Duration: ${outcome.initDurationMs.toFixed(2)} ms`);
  if (outcome.error?.errorType === 'Sandbox.Timedout') fields.push('Status: timeout');
  return fields.join('\t');
}
