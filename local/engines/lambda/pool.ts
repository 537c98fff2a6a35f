import { type EnvironmentOutcome, type EnvironmentSpec, ExecutionEnvironment } from './environment.ts';

/**
 * The execution environments of one function. At most `maxConcurrency` exist at once (reserved
 * concurrency, or the local default); an invocation takes an idle warm one, else starts a new one (cold
 * start), else waits in line. Environments that time out or crash are dropped, so the next invocation
 * gets a fresh one, as in Lambda.
 */

export interface PoolInvocation {
  requestId: string;
  eventJson: string;
  timeoutMs: number;
  invokedFunctionArn: string;
}

export interface PoolOutcome extends EnvironmentOutcome {
  coldStart: boolean;
  /** Time from starting the environment to the handler module being loaded (cold starts only). */
  initDurationMs?: number;
  /** Time spent waiting for a free environment. */
  queuedMs: number;
}

export interface PoolOptions {
  maxConcurrency: number;
  initTimeoutMs: number;
  /** Idle environments are shut down after this long; `undefined` keeps them until `stop()`. */
  idleTimeoutMs?: number;
}

/** The pool was stopped while the invocation waited for an environment. */
export class LambdaPoolStoppedError extends Error {
  override name = 'LambdaPoolStoppedError';
}

interface Lease {
  environment: ExecutionEnvironment;
  coldStart: boolean;
}

interface Waiter {
  grant(lease: Lease): void;
  reject(error: Error): void;
}

export class FunctionPool {
  private readonly spec: EnvironmentSpec;
  private readonly options: PoolOptions;
  private readonly environments = new Set<ExecutionEnvironment>();
  /** Most recently used last: reusing the warmest environment keeps the others idle long enough to retire. */
  private readonly idle: ExecutionEnvironment[] = [];
  private readonly idleTimers = new Map<ExecutionEnvironment, NodeJS.Timeout>();
  private readonly waiters: Waiter[] = [];
  private busyCount = 0;
  private stopped = false;
  /** Invocations that found every environment busy and had to wait. */
  queuedInvocations = 0;
  maxBusy = 0;
  /** Busy time of the environments already retired (see `busyMs`). */
  private retiredBusyMs = 0;

  constructor(spec: EnvironmentSpec, options: PoolOptions) {
    this.spec = spec;
    this.options = options;
  }

  get busy(): number {
    return this.busyCount;
  }

  get size(): number {
    return this.environments.size;
  }

  /** Milliseconds the event loops of this function's environments have been busy, retired ones included. */
  busyMs(): number {
    let total = this.retiredBusyMs;
    for (const environment of this.environments) total += environment.busyMs();
    return total;
  }

  async invoke(invocation: PoolInvocation): Promise<PoolOutcome> {
    const queuedAt = performance.now();
    const lease = await this.acquire();
    const queuedMs = performance.now() - queuedAt;
    this.busyCount += 1;
    this.maxBusy = Math.max(this.maxBusy, this.busyCount);
    // Until the handler has answered, assume the environment is unusable (e.g. initialize threw).
    let reusable = false;
    try {
      let initDurationMs: number | undefined;
      if (lease.coldStart) {
        const initStart = performance.now();
        const initError = await lease.environment.initialize(this.options.initTimeoutMs);
        initDurationMs = performance.now() - initStart;
        if (initError)
          return { error: initError, durationMs: 0, fatal: true, coldStart: true, initDurationMs, queuedMs };
      }
      const outcome = await lease.environment.invoke(invocation);
      reusable = !outcome.fatal;
      return { ...outcome, coldStart: lease.coldStart, initDurationMs, queuedMs };
    } finally {
      this.busyCount -= 1;
      this.release(lease.environment, reusable);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiter of this.waiters.splice(0)) {
      waiter.reject(new LambdaPoolStoppedError(`function ${this.spec.functionName} was stopped`));
    }
    for (const timer of this.idleTimers.values()) clearTimeout(timer);
    this.idleTimers.clear();
    await Promise.all([...this.environments].map((environment) => environment.terminate()));
  }

  private acquire(): Promise<Lease> {
    if (this.stopped) {
      return Promise.reject(new LambdaPoolStoppedError(`function ${this.spec.functionName} was stopped`));
    }
    const warm = this.takeIdle();
    if (warm) return Promise.resolve({ environment: warm, coldStart: false });
    if (this.environments.size < this.options.maxConcurrency) {
      return Promise.resolve({ environment: this.spawn(), coldStart: true });
    }
    this.queuedInvocations += 1;
    return new Promise((grant, reject) => this.waiters.push({ grant, reject }));
  }

  private release(environment: ExecutionEnvironment, reusable: boolean): void {
    if (!reusable || !environment.alive || this.stopped) {
      this.forget(environment);
      void environment.terminate();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.grant({ environment, coldStart: false });
      return;
    }
    this.idle.push(environment);
    this.armIdleTimer(environment);
  }

  private takeIdle(): ExecutionEnvironment | undefined {
    const environment = this.idle.pop();
    if (environment) {
      clearTimeout(this.idleTimers.get(environment));
      this.idleTimers.delete(environment);
    }
    return environment;
  }

  private spawn(): ExecutionEnvironment {
    const environment = new ExecutionEnvironment(this.spec);
    this.environments.add(environment);
    environment.onExit(() => this.forget(environment));
    return environment;
  }

  /** Drops a dead environment; a waiting invocation then gets a new one in its place. */
  private forget(environment: ExecutionEnvironment): void {
    if (!this.environments.has(environment)) return;
    this.retiredBusyMs += environment.busyMs();
    this.environments.delete(environment);
    const index = this.idle.indexOf(environment);
    if (index >= 0) this.idle.splice(index, 1);
    clearTimeout(this.idleTimers.get(environment));
    this.idleTimers.delete(environment);
    if (this.stopped) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter.grant({ environment: this.spawn(), coldStart: true });
  }

  private armIdleTimer(environment: ExecutionEnvironment): void {
    const idleTimeoutMs = this.options.idleTimeoutMs;
    if (idleTimeoutMs === undefined) return;
    const timer = setTimeout(() => {
      this.forget(environment);
      void environment.terminate();
    }, idleTimeoutMs);
    timer.unref();
    this.idleTimers.set(environment, timer);
  }
}
