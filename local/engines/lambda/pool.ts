import { Sandbox, type SandboxOutcome, type SandboxSpec } from './sandbox.ts';

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

export interface PoolOutcome extends SandboxOutcome {
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
  sandbox: Sandbox;
  coldStart: boolean;
}

interface Waiter {
  grant(lease: Lease): void;
  reject(error: Error): void;
}

export class FunctionPool {
  private readonly spec: SandboxSpec;
  private readonly options: PoolOptions;
  private readonly sandboxes = new Set<Sandbox>();
  /** Most recently used last: reusing the warmest environment keeps the others idle long enough to retire. */
  private readonly idle: Sandbox[] = [];
  private readonly idleTimers = new Map<Sandbox, NodeJS.Timeout>();
  private readonly waiters: Waiter[] = [];
  private busyCount = 0;
  private stopped = false;
  /** Invocations that found every environment busy and had to wait. */
  queuedInvocations = 0;
  maxBusy = 0;

  constructor(spec: SandboxSpec, options: PoolOptions) {
    this.spec = spec;
    this.options = options;
  }

  get busy(): number {
    return this.busyCount;
  }

  get size(): number {
    return this.sandboxes.size;
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
        const initError = await lease.sandbox.initialize(this.options.initTimeoutMs);
        initDurationMs = performance.now() - initStart;
        if (initError)
          return { error: initError, durationMs: 0, fatal: true, coldStart: true, initDurationMs, queuedMs };
      }
      const outcome = await lease.sandbox.invoke(invocation);
      reusable = !outcome.fatal;
      return { ...outcome, coldStart: lease.coldStart, initDurationMs, queuedMs };
    } finally {
      this.busyCount -= 1;
      this.release(lease.sandbox, reusable);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiter of this.waiters.splice(0)) {
      waiter.reject(new LambdaPoolStoppedError(`function ${this.spec.functionName} was stopped`));
    }
    for (const timer of this.idleTimers.values()) clearTimeout(timer);
    this.idleTimers.clear();
    await Promise.all([...this.sandboxes].map((sandbox) => sandbox.terminate()));
  }

  private acquire(): Promise<Lease> {
    if (this.stopped) {
      return Promise.reject(new LambdaPoolStoppedError(`function ${this.spec.functionName} was stopped`));
    }
    const warm = this.takeIdle();
    if (warm) return Promise.resolve({ sandbox: warm, coldStart: false });
    if (this.sandboxes.size < this.options.maxConcurrency) {
      return Promise.resolve({ sandbox: this.spawn(), coldStart: true });
    }
    this.queuedInvocations += 1;
    return new Promise((grant, reject) => this.waiters.push({ grant, reject }));
  }

  private release(sandbox: Sandbox, reusable: boolean): void {
    if (!reusable || !sandbox.alive || this.stopped) {
      this.forget(sandbox);
      void sandbox.terminate();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.grant({ sandbox, coldStart: false });
      return;
    }
    this.idle.push(sandbox);
    this.armIdleTimer(sandbox);
  }

  private takeIdle(): Sandbox | undefined {
    const sandbox = this.idle.pop();
    if (sandbox) {
      clearTimeout(this.idleTimers.get(sandbox));
      this.idleTimers.delete(sandbox);
    }
    return sandbox;
  }

  private spawn(): Sandbox {
    const sandbox = new Sandbox(this.spec);
    this.sandboxes.add(sandbox);
    sandbox.onExit(() => this.forget(sandbox));
    return sandbox;
  }

  /** Drops a dead environment; a waiting invocation then gets a new one in its place. */
  private forget(sandbox: Sandbox): void {
    if (!this.sandboxes.delete(sandbox)) return;
    const index = this.idle.indexOf(sandbox);
    if (index >= 0) this.idle.splice(index, 1);
    clearTimeout(this.idleTimers.get(sandbox));
    this.idleTimers.delete(sandbox);
    if (this.stopped) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter.grant({ sandbox: this.spawn(), coldStart: true });
  }

  private armIdleTimer(sandbox: Sandbox): void {
    const idleTimeoutMs = this.options.idleTimeoutMs;
    if (idleTimeoutMs === undefined) return;
    const timer = setTimeout(() => {
      this.forget(sandbox);
      void sandbox.terminate();
    }, idleTimeoutMs);
    timer.unref();
    this.idleTimers.set(sandbox, timer);
  }
}
