/**
 * One run of an execution on aws-local-stepfunctions: the start, or a redrive resuming at a top-level state.
 * It supplies what the library lacks — the Task integrations (as `taskResourceLocalHandlers`, keyed by state
 * name, nested states included), the `$$` context (see definition.ts for the rewrite that points `$$` here) —
 * and turns the library's event log into the execution's history and final status.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  StateMachine,
} from 'aws-local-stepfunctions';
import type { RuntimeLogger } from '../../types.ts';
import type { PreparedDefinition, StateInfo } from './definition.ts';
import {
  HeartbeatTimeoutError,
  StatesRuntimeError,
  TaskFailedError,
  UnsupportedResourceError,
} from './errors.ts';
import { appendHistory, fromLibraryEvent, type LibraryEvent, type NewHistoryEvent } from './history.ts';
import { callIntegration, type IntegrationDeps, parseResource, type ResourceSpec } from './integrations.ts';
import type { ExecutionStore } from './persistence.ts';
import type { TaskTokenRegistry } from './tokens.ts';
import type { ExecutionRecord, StateMachineRegistration } from './types.ts';

export interface RunnableMachine {
  registration: StateMachineRegistration & { roleArn: string };
  prepared: PreparedDefinition;
}

export interface RunEnvironment {
  integrations: IntegrationDeps;
  tokens: TaskTokenRegistry;
  store: ExecutionStore;
  logger: RuntimeLogger;
  region: string;
  retryIntervalOverrideMs?: number;
  waitTimeOverrideMs?: number;
  /** True while the engine shuts down: runs then end without recording an outcome. */
  isStopping(): boolean;
  onEnded(run: ExecutionRun): void;
}

export interface Failure {
  error?: string;
  cause?: string;
}

interface StateProgress {
  enteredAt: number;
  failures: number;
  inside: boolean;
}

interface TaskAttempt {
  spec: ResourceSpec;
  token?: string;
}

// aws-local-stepfunctions calls Promise.withResolvers (Node >= 22) for every Task; the package allows Node 20.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type LocalTaskHandler = TaskHandlers[string];

export class ExecutionRun {
  readonly record: ExecutionRecord;
  /** Settles once the outcome is recorded (never rejects). */
  readonly finished: Promise<void>;
  private readonly machine: RunnableMachine;
  private readonly env: RunEnvironment;
  private readonly redrive: boolean;
  private readonly abortRun: () => void;
  /** Set as soon as the library settles the run; late task completions are then ignored. */
  private ended = false;
  private readonly progress = new Map<string, StateProgress>();
  private lastEnteredState: string | undefined;
  private readonly mintedTokens = new Map<number, string>();
  private readonly openAttempts = new Map<string, TaskAttempt>();
  private stopRequest: Failure | undefined;
  private failure: Failure | undefined;

  constructor(
    record: ExecutionRecord,
    machine: RunnableMachine,
    env: RunEnvironment,
    start: { input: unknown; resumeAt?: string },
  ) {
    this.record = record;
    this.machine = machine;
    this.env = env;
    this.redrive = start.resumeAt !== undefined;
    const definition = start.resumeAt
      ? machine.prepared.withStartAt(start.resumeAt)
      : machine.prepared.runnable;
    // Validated at registration; the rewritten definition is not re-validated (its `$$` paths differ).
    const stateMachine = new StateMachine(definition, { validationOptions: { noValidate: true } });
    const execution = stateMachine.run(start.input as never, {
      overrides: this.overrides(),
      context: this.context(),
    });
    this.abortRun = execution.abort;
    const consumed = this.consumeEvents(execution.eventLogs);
    this.finished = execution.result.then(
      async (output) => {
        this.ended = true;
        await consumed;
        this.finish({ output });
      },
      async (error: unknown) => {
        this.ended = true;
        await consumed;
        this.finish({ error });
      },
    );
    env.store.save(record);
  }

  /** StopExecution: the run ends ABORTED with this error and cause. */
  stop(request: Failure): void {
    this.stopRequest = request;
    this.abortRun();
  }

  /** Engine shutdown: ends the run without an outcome. */
  abort(): void {
    this.abortRun();
  }

  /**
   * True while the run waits on a task token, which only a callback from outside can complete. (A Parallel
   * branch may still be working meanwhile; the approximation keeps `waitForIdle` from waiting forever.)
   */
  isParked(): boolean {
    return this.env.tokens.hasPendingFor(this.record.executionArn);
  }

  private overrides(): NonNullable<RunOptions['overrides']> {
    const taskResourceLocalHandlers: TaskHandlers = {};
    const waitTimeOverrides: Record<string, number> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    const { retryIntervalOverrideMs, waitTimeOverrideMs } = this.env;
    for (const state of this.machine.prepared.states) {
      if (state.type === 'Task') {
        // The library types task results as its JSONValue; integrations return parsed JSON.
        taskResourceLocalHandlers[state.name] = ((input: unknown) =>
          this.runTask(state, input)) as LocalTaskHandler;
      }
      if (state.type === 'Wait' && waitTimeOverrideMs !== undefined) {
        waitTimeOverrides[state.name] = waitTimeOverrideMs;
      }
      if (retryIntervalOverrideMs !== undefined) {
        // At least 1 ms: a retry must yield to the event loop so `$$.State.RetryCount` has seen the failure.
        retryIntervalOverrides[state.name] = Math.max(1, retryIntervalOverrideMs);
      }
    }
    return { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides };
  }

  private context(): NonNullable<RunOptions['context']> {
    const { record, machine, progress } = this;
    const iso = (ms: number) => new Date(ms).toISOString();
    const execution: Record<string, unknown> = {
      Id: record.executionArn,
      Name: record.name,
      Input: JSON.parse(record.input) as unknown,
      StartTime: iso(record.startDate),
      RoleArn: machine.registration.roleArn,
      RedriveCount: record.redriveCount,
    };
    if (record.redriveDate !== undefined) execution.RedriveTime = iso(record.redriveDate);
    const states = machine.prepared.states.map((state) => ({
      Name: state.name,
      get EnteredTime() {
        const entry = progress.get(state.name);
        return iso(entry?.inside ? entry.enteredAt : Date.now());
      },
      get RetryCount() {
        const entry = progress.get(state.name);
        return entry?.inside ? entry.failures : 0;
      },
    }));
    const mintToken = (state: StateInfo): string => {
      // Parameters are evaluated and the task handler called in one synchronous step, so the handler takes
      // exactly the token minted here even when Map iterations run the same state concurrently.
      const existing = this.mintedTokens.get(state.index);
      if (existing) return existing;
      const token = this.env.tokens.mint(record.executionArn, state.name);
      this.mintedTokens.set(state.index, token);
      return token;
    };
    const tasks = machine.prepared.states.map((state) =>
      state.type === 'Task'
        ? {
            get Token() {
              return mintToken(state);
            },
          }
        : {},
    );
    return {
      __Execution: execution,
      __State: states,
      __Task: tasks,
      StateMachine: { Id: machine.registration.arn, Name: machine.registration.name },
    };
  }

  private async runTask(state: StateInfo, input: unknown): Promise<unknown> {
    const mintedToken = this.mintedTokens.get(state.index);
    this.mintedTokens.delete(state.index);
    // Let the library's (asynchronous) event log reach the history first, so TaskScheduled follows TaskStateEntered.
    await nextTurn();
    if (this.ended) return new Promise<never>(() => {});

    const resource = String(state.definition.Resource);
    const spec = parseResource(resource);
    if (!spec) throw new UnsupportedResourceError(state.name, resource);
    const attempt: TaskAttempt = { spec };
    this.openAttempts.set(state.name, attempt);
    const names = taskEventNames(spec);
    const isCurrent = () => !this.ended && this.openAttempts.get(state.name) === attempt;
    const timeoutSeconds = numberOrUndefined(state.definition.TimeoutSeconds);
    const heartbeatSeconds = numberOrUndefined(state.definition.HeartbeatSeconds);

    this.recordEvent({
      type: names.scheduled,
      details:
        spec.kind === 'lambda-function'
          ? {
              resource,
              input: JSON.stringify(input),
              inputDetails: { truncated: false },
              timeoutInSeconds: timeoutSeconds,
            }
          : {
              resourceType: spec.resourceType,
              resource: spec.resource,
              region: this.env.region,
              parameters: JSON.stringify(input),
              timeoutInSeconds: timeoutSeconds,
              heartbeatInSeconds: heartbeatSeconds,
            },
    });
    this.recordEvent({ type: names.started, details: names.details() });

    try {
      let output: unknown;
      if (spec.waitForTaskToken) {
        output = await this.submitAndWait(
          state,
          spec,
          input,
          attempt,
          mintedToken,
          heartbeatSeconds,
          isCurrent,
        );
      } else {
        output = await callIntegration(spec, input, this.env.integrations);
      }
      if (isCurrent()) {
        this.openAttempts.delete(state.name);
        this.recordEvent({
          type: names.succeeded,
          details: {
            ...names.details(),
            output: JSON.stringify(output ?? null),
            outputDetails: { truncated: false },
          },
        });
      }
      return output ?? null;
    } catch (thrown) {
      const error = asTaskError(thrown);
      if (isCurrent()) {
        this.openAttempts.delete(state.name);
        this.recordEvent({
          type: error instanceof HeartbeatTimeoutError ? names.timedOut : names.failed,
          details: { ...names.details(), error: error.name, cause: error.message },
        });
      }
      throw error;
    }
  }

  /** `.waitForTaskToken`: submit the work carrying the token, then wait for SendTaskSuccess/Failure. */
  private async submitAndWait(
    state: StateInfo,
    spec: ResourceSpec,
    input: unknown,
    attempt: TaskAttempt,
    mintedToken: string | undefined,
    heartbeatSeconds: number | undefined,
    isCurrent: () => boolean,
  ): Promise<unknown> {
    const { tokens } = this.env;
    if (!mintedToken) {
      this.env.logger.warn('stepfunctions: waitForTaskToken task does not pass $$.Task.Token', {
        state: state.name,
      });
    }
    const token = mintedToken ?? tokens.mint(this.record.executionArn, state.name);
    attempt.token = token;
    // Registered before submitting: a fast worker may call back while the submission is still returning.
    const callback = tokens.register(token, {
      executionArn: this.record.executionArn,
      stateName: state.name,
      heartbeatSeconds,
    });
    callback.catch(() => {});
    let submitted: unknown;
    try {
      submitted = await callIntegration(spec, input, this.env.integrations);
    } catch (error) {
      tokens.close(token);
      throw error;
    }
    if (isCurrent()) {
      this.recordEvent({
        type: 'TaskSubmitted',
        details: {
          ...taskEventNames(spec).details(),
          output: JSON.stringify(submitted),
          outputDetails: { truncated: false },
        },
      });
    }
    return callback;
  }

  private async consumeEvents(events: AsyncIterable<LibraryEvent>): Promise<void> {
    try {
      for await (const event of events) {
        if (this.env.isStopping()) continue;
        this.track(event);
        const translated = fromLibraryEvent(event, {
          redrive: this.redrive,
          redriveCount: this.record.redriveCount,
          roleArn: this.machine.registration.roleArn,
          failure: this.failure,
        });
        for (const entry of translated) appendHistory(this.record, entry);
        this.env.store.save(this.record);
      }
    } catch (error) {
      this.env.logger.error('stepfunctions: event log failed', {
        executionArn: this.record.executionArn,
        error: String(error),
      });
    }
  }

  /** Keeps what `$$.State`, redrive and billing need from the library's event log. */
  private track(event: LibraryEvent): void {
    const { record } = this;
    const state = event.state;
    switch (event.type) {
      case 'StateEntered':
        if (!state) return;
        record.stateTransitions += 1;
        this.progress.set(state.name, { enteredAt: event.timestamp, failures: 0, inside: true });
        this.lastEnteredState = state.name;
        if (this.machine.prepared.byName.get(state.name)?.topLevel) {
          record.openState = { name: state.name, input: JSON.stringify(state.input ?? null) };
        }
        return;
      case 'StateRetried':
        record.stateTransitions += 1;
        return;
      case 'StateFailed': {
        if (!state) return;
        const progress = this.progress.get(state.name);
        if (progress) progress.failures += 1;
        if (state.type === 'Task' && event.Error === 'States.Timeout') this.timeOutAttempt(state.name);
        return;
      }
      case 'StateExited':
      case 'StateCaught': {
        if (!state) return;
        const progress = this.progress.get(state.name);
        if (progress) progress.inside = false;
        if (record.openState?.name === state.name) record.openState = undefined;
        return;
      }
      case 'ExecutionFailed':
        this.failure = this.normalizeFailure(event.Error, event.Cause);
        return;
      case 'ExecutionTimeout':
        this.failure = {
          error: 'States.Timeout',
          cause: `The execution exceeded its TimeoutSeconds of ${String(this.machine.prepared.original.TimeoutSeconds)}`,
        };
        return;
      case 'ExecutionAborted':
        this.failure = this.stopRequest ?? {};
        return;
    }
  }

  /** The library's `TimeoutSeconds` fired while the task was still running. */
  private timeOutAttempt(stateName: string): void {
    const attempt = this.openAttempts.get(stateName);
    if (!attempt) return;
    this.openAttempts.delete(stateName);
    if (attempt.token) this.env.tokens.close(attempt.token);
    const names = taskEventNames(attempt.spec);
    appendHistory(this.record, {
      type: names.timedOut,
      details: { ...names.details(), error: 'States.Timeout', cause: 'Task timed out' },
    });
  }

  /** A Fail state without Error/Cause fails the execution without them (the library fills in defaults). */
  private normalizeFailure(error: string | undefined, cause: unknown): Failure {
    const causeText = cause === undefined || cause === null ? undefined : String(cause);
    const last = this.lastEnteredState ? this.machine.prepared.byName.get(this.lastEnteredState) : undefined;
    if (last?.type !== 'Fail') return { error, cause: causeText };
    const definition = last.definition;
    return {
      error: definition.Error !== undefined || definition.ErrorPath !== undefined ? error : undefined,
      cause: definition.Cause !== undefined || definition.CausePath !== undefined ? causeText : undefined,
    };
  }

  private finish(outcome: { output?: unknown; error?: unknown }): void {
    const { record, env } = this;
    env.tokens.closeWhere((executionArn) => executionArn === record.executionArn);
    if (!env.isStopping()) {
      record.stopDate = Date.now();
      Object.assign(record, this.outcomeOf(outcome));
      env.logger.debug('stepfunctions: execution ended', {
        executionArn: record.executionArn,
        status: record.status,
        error: record.error,
      });
      env.store.save(record);
    }
    env.onEnded(this);
  }

  private outcomeOf(outcome: { output?: unknown; error?: unknown }): Partial<ExecutionRecord> {
    const { error } = outcome;
    if (!('error' in outcome)) return { status: 'SUCCEEDED', output: JSON.stringify(outcome.output ?? null) };
    if (error instanceof ExecutionAbortedError) return { status: 'ABORTED', ...this.stopRequest };
    if (error instanceof ExecutionTimeoutError)
      return { status: 'TIMED_OUT', ...(this.failure ?? { error: 'States.Timeout' }) };
    if (error instanceof ExecutionError && error.cause instanceof Error) {
      return {
        status: 'FAILED',
        ...(this.failure ?? this.normalizeFailure(error.cause.name, error.cause.message)),
      };
    }
    return {
      status: 'FAILED',
      error: 'States.Runtime',
      cause: error instanceof Error ? error.message : String(error),
    };
  }

  private recordEvent(event: NewHistoryEvent): void {
    if (this.ended || this.env.isStopping()) return;
    appendHistory(this.record, event);
    this.env.store.save(this.record);
  }
}

function taskEventNames(spec: ResourceSpec) {
  const legacy = spec.kind === 'lambda-function';
  return {
    scheduled: legacy ? 'LambdaFunctionScheduled' : 'TaskScheduled',
    started: legacy ? 'LambdaFunctionStarted' : 'TaskStarted',
    succeeded: legacy ? 'LambdaFunctionSucceeded' : 'TaskSucceeded',
    failed: legacy ? 'LambdaFunctionFailed' : 'TaskFailed',
    timedOut: legacy ? 'LambdaFunctionTimedOut' : 'TaskTimedOut',
    details: (): Record<string, unknown> =>
      legacy ? {} : { resourceType: spec.resourceType, resource: spec.resource },
  };
}

/** Anything unexpected from an integration must still fail the task visibly, never as a bare TypeError name. */
function asTaskError(error: unknown): Error {
  if (
    error instanceof TaskFailedError ||
    error instanceof StatesRuntimeError ||
    error instanceof HeartbeatTimeoutError
  ) {
    return error;
  }
  return new StatesRuntimeError(
    `Local engine failure: ${error instanceof Error ? error.message : String(error)}`,
  );
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}
