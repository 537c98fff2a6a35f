/**
 * Faults injected into Lambda invocations (a local-only test and chaos tool; AWS has no such knob): a wrapper around
 * `LambdaService.invoke`, so every caller (event source mappings, Step Functions, the HTTP API, event deliveries,
 * asynchronous retries, tests) meets the fault, and the Lambda engine itself stays faithful.
 */
import type { LambdaInvokeResult, LambdaService } from '#local/engines/lambda/service.ts';
import { type Decoration, decorate } from './decorate.ts';
import { onePerEngine } from './one-per-engine.ts';

/**
 * A fault injected into one invocation:
 * - `error`: the invocation fails before the handler runs, as when the environment dies on arrival; the handler never
 *   sees the event, so nothing it would do happens.
 * - `crash`: the handler runs to the end, then the environment dies before it answers (`Runtime.ExitError`): every
 *   effect happened, yet the caller sees a failure and delivers the event again.
 * - `{ crashAfter: event }`: the same, but the handler only gets `event` (e.g. the first records of a batch), so the
 *   crash comes mid-batch: those records are done, the caller retries all of them.
 * - `duplicate`: the event is delivered twice, one delivery after the other (at-least-once delivery, a batch retried
 *   after a lost answer); the caller gets the second answer.
 */
export type InvocationFault = 'error' | 'crash' | 'duplicate' | { crashAfter: unknown };

/** Chooses the fault for one invocation from its event; `undefined` lets the invocation run normally. */
export type InvocationFaultRule = (event: unknown) => InvocationFault | undefined;

export type InjectedFaultCounts = Record<'error' | 'crash' | 'duplicate', number>;

const installed = new WeakMap<LambdaService, LambdaFaults>();

export class LambdaFaults {
  private readonly lambda: LambdaService;
  private readonly rules = new Map<string, InvocationFaultRule>();
  private readonly injected = new Map<string, InjectedFaultCounts>();
  private decoration: Decoration | undefined;

  /** The fault injector of `lambda`: one per engine, so rules set by one caller are cleared by another. */
  static of(lambda: LambdaService): LambdaFaults {
    return onePerEngine(installed, lambda, (engine) => new LambdaFaults(engine));
  }

  private constructor(lambda: LambdaService) {
    this.lambda = lambda;
  }

  /**
   * From now on every invocation of the function asks `rule` for a fault first; `undefined` removes the rule.
   * See `InvocationFault`.
   */
  setFault(nameOrArn: string, rule: InvocationFaultRule | undefined): void {
    const name = this.lambda.functionName(nameOrArn);
    if (rule) this.rules.set(name, rule);
    else this.rules.delete(name);
    this.sync();
  }

  /** Removes every fault rule: the heal step of a fault-injection run. */
  clearFaults(): void {
    this.rules.clear();
    this.sync();
  }

  /** Faults injected so far, by function name. */
  injectedFaults(): Record<string, InjectedFaultCounts> {
    return Object.fromEntries([...this.injected].map(([name, counts]) => [name, { ...counts }]));
  }

  /** The wrapper is in place only while a rule is: without faults the engine runs untouched. */
  private sync(): void {
    if (this.rules.size === 0) {
      this.decoration?.remove();
      this.decoration = undefined;
    } else if (!this.decoration) {
      this.decoration = decorate(this.lambda, 'invoke', (invoke) => async (nameOrArn, event) => {
        const rule = this.rules.get(this.lambda.functionName(nameOrArn));
        // The rule sees a copy of the event as the handler would: JSON, not the caller's object.
        const fault = rule?.(JSON.parse(event === undefined ? '{}' : JSON.stringify(event)) as unknown);
        return fault === undefined ? invoke(nameOrArn, event) : this.inject(invoke, nameOrArn, event, fault);
      });
    }
  }

  private async inject(
    invoke: LambdaService['invoke'],
    nameOrArn: string,
    event: unknown,
    fault: InvocationFault,
  ): Promise<LambdaInvokeResult> {
    const name = this.lambda.functionName(nameOrArn);
    const counts = this.injected.get(name) ?? { error: 0, crash: 0, duplicate: 0 };
    this.injected.set(name, counts);
    if (fault === 'duplicate') {
      counts.duplicate += 1;
      await invoke(nameOrArn, event);
      return invoke(nameOrArn, event);
    }
    if (fault === 'error') {
      counts.error += 1;
      return this.lambda.failBeforeHandler(nameOrArn, event, {
        errorType: 'Runtime.InjectedFault',
        errorMessage: (requestId) =>
          `RequestId: ${requestId} Error: fault injected by the local runtime before the handler ran`,
      });
    }
    counts.crash += 1;
    const result = await invoke(nameOrArn, fault === 'crash' ? event : (fault.crashAfter ?? {}));
    const { payload: _discarded, ...rest } = result;
    return {
      ...rest,
      error: {
        errorType: 'Runtime.ExitError',
        errorMessage: `RequestId: ${result.requestId} Error: Runtime exited without providing a reason (fault injected by the local runtime)`,
      },
    };
  }
}
