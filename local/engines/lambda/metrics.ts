/**
 * Per-function invocation statistics: what CloudWatch's Lambda metrics would show, plus GB-seconds for
 * the cost model. Lambda bills duration rounded up to the millisecond and, since August 2025, the init
 * phase of on-demand functions as well.
 */

export interface LambdaFunctionMetrics {
  functionName: string;
  memoryMb: number;
  invocations: number;
  /** Invocations whose result was an error (handler error, timeout, crash, init failure). */
  errors: number;
  timeouts: number;
  /** Invocations that found every environment busy and waited, or were refused (reserved concurrency 0). */
  throttles: number;
  coldStarts: number;
  totalDurationMs: number;
  maxDurationMs: number;
  totalInitDurationMs: number;
  billedDurationMs: number;
  gbSeconds: number;
  /** Invocations running right now. */
  concurrentExecutions: number;
  maxConcurrentExecutions: number;
  /** Execution environments (workers) alive right now. */
  environments: number;
  /** Milliseconds the function's environments have been busy (event-loop utilisation): its CPU, near enough. */
  busyMs: number;
  asyncInvocations: number;
  asyncRetries: number;
  /** Asynchronous events that failed every attempt. */
  asyncFailures: number;
  /** The most recent durations, oldest first (for percentiles). */
  recentDurationsMs: number[];
  /** The largest heap any invocation used ("Max Memory Used"), in bytes; 0 before one reported it. */
  maxHeapUsedBytes: number;
}

const RECENT_LIMIT = 1000;

export class MetricsRecorder {
  private readonly functionName: string;
  private readonly memoryMb: number;
  invocations = 0;
  errors = 0;
  timeouts = 0;
  coldStarts = 0;
  totalDurationMs = 0;
  maxDurationMs = 0;
  totalInitDurationMs = 0;
  billedDurationMs = 0;
  asyncInvocations = 0;
  asyncRetries = 0;
  asyncFailures = 0;
  /** Invocations refused outright (reserved concurrency 0). */
  rejectedThrottles = 0;
  maxHeapUsedBytes = 0;
  private readonly recent: number[] = [];

  constructor(functionName: string, memoryMb: number) {
    this.functionName = functionName;
    this.memoryMb = memoryMb;
  }

  /** Records one finished invocation and returns its billed duration in ms. */
  record(outcome: {
    durationMs: number;
    initDurationMs?: number;
    failed: boolean;
    timedOut: boolean;
    heapUsedBytes?: number;
  }): number {
    this.maxHeapUsedBytes = Math.max(this.maxHeapUsedBytes, outcome.heapUsedBytes ?? 0);
    const init = outcome.initDurationMs ?? 0;
    const billed = Math.ceil(outcome.durationMs + init);
    this.invocations += 1;
    if (outcome.failed) this.errors += 1;
    if (outcome.timedOut) this.timeouts += 1;
    if (outcome.initDurationMs !== undefined) {
      this.coldStarts += 1;
      this.totalInitDurationMs += init;
    }
    this.totalDurationMs += outcome.durationMs;
    this.maxDurationMs = Math.max(this.maxDurationMs, outcome.durationMs);
    this.billedDurationMs += billed;
    this.recent.push(outcome.durationMs);
    if (this.recent.length > RECENT_LIMIT) this.recent.shift();
    return billed;
  }

  snapshot(live: {
    throttles: number;
    concurrentExecutions: number;
    maxConcurrentExecutions: number;
    environments: number;
    busyMs: number;
  }): LambdaFunctionMetrics {
    return {
      functionName: this.functionName,
      memoryMb: this.memoryMb,
      invocations: this.invocations,
      errors: this.errors,
      timeouts: this.timeouts,
      coldStarts: this.coldStarts,
      totalDurationMs: this.totalDurationMs,
      maxDurationMs: this.maxDurationMs,
      totalInitDurationMs: this.totalInitDurationMs,
      billedDurationMs: this.billedDurationMs,
      gbSeconds: (this.memoryMb / 1024) * (this.billedDurationMs / 1000),
      asyncInvocations: this.asyncInvocations,
      asyncRetries: this.asyncRetries,
      asyncFailures: this.asyncFailures,
      recentDurationsMs: [...this.recent],
      maxHeapUsedBytes: this.maxHeapUsedBytes,
      ...live,
    };
  }
}
