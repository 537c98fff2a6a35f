/**
 * The at-least-once behaviour of asynchronous EXPRESS workflows, injected on purpose: a wrapper around a running
 * `StepFunctionsEngine`'s StartExecution (a local-only test and chaos tool; the engine itself stays faithful and
 * deterministic).
 *
 * AWS documents (Step Functions developer guide, "Execution guarantees") that an asynchronous Express workflow runs
 * at least once: StartExecution with a name already in use starts a second, concurrent execution, and the service may
 * lose an execution's state and run it again from the beginning. Sync Express (at most once) and STANDARD (exactly
 * once) have neither, so the decorator only touches `StartExecution` of EXPRESS machines:
 * - `duplicate`: a second execution of the same name and input starts `afterMs` later (the start was delivered twice).
 * - `restart`: `afterMs` later, if the execution is still running, a new execution of the same name and input starts
 *   from the beginning; the original is abandoned (stopped as ABORTED, its in-flight step still completes, as a
 *   Lambda invocation whose answer AWS dropped does) or, with `keepOriginal`, keeps running beside it.
 * Executions the decorator starts are never themselves duplicated or restarted, so every fault ends.
 */
import type { StartExecutionInput, StepFunctionsEngine } from '#local/engines/stepfunctions/engine.ts';
import { type Decoration, decorate } from './decorate.ts';

export type ExpressFault =
  | { kind: 'duplicate'; afterMs: number }
  | { kind: 'restart'; afterMs: number; keepOriginal: boolean };

/** Chooses the faults of one EXPRESS StartExecution (called once per start, with the arn it got). */
export type ExpressFaultRule = (start: StartExecutionInput & { executionArn: string }) => ExpressFault[];

export interface ExpressFaultCounts {
  /** Second executions started under a name already in use. */
  duplicates: number;
  /** Executions run again from the beginning while the original still ran. */
  restarts: number;
  /** Of those restarts, originals stopped (their state "lost") rather than left running. */
  abandoned: number;
}

type StartExecution = StepFunctionsEngine['startExecution'];

export class ExpressFaults {
  private readonly engine: StepFunctionsEngine;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly counters: ExpressFaultCounts = { duplicates: 0, restarts: 0, abandoned: 0 };
  private decoration: Decoration | undefined;

  constructor(engine: StepFunctionsEngine) {
    this.engine = engine;
  }

  /** From now on every StartExecution of an EXPRESS machine asks `rule` for faults; replaces an earlier rule. */
  install(rule: ExpressFaultRule): void {
    this.remove();
    const engine = this.engine;
    this.decoration = decorate(engine, 'startExecution', (start) => async (input) => {
      const started = await start(input);
      if (engine.describeStateMachine({ stateMachineArn: input.stateMachineArn }).type === 'EXPRESS') {
        for (const fault of rule({ ...input, executionArn: started.executionArn })) {
          this.schedule(fault, input, started.executionArn, start);
        }
      }
      return started;
    });
  }

  /** Stops injecting: pending duplicates and restarts are dropped, executions already started run on. */
  remove(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.decoration?.remove();
    this.decoration = undefined;
  }

  counts(): ExpressFaultCounts {
    return { ...this.counters };
  }

  private schedule(
    fault: ExpressFault,
    input: StartExecutionInput,
    executionArn: string,
    start: StartExecution,
  ): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        void this.inject(fault, input, executionArn, start).catch(() => {
          // The engine stopped meanwhile, or the machine is gone: then the fault did not happen, nor is it counted.
        });
      },
      Math.max(0, fault.afterMs),
    );
    this.timers.add(timer);
  }

  private async inject(
    fault: ExpressFault,
    input: StartExecutionInput,
    executionArn: string,
    start: StartExecution,
  ): Promise<void> {
    if (fault.kind === 'duplicate') {
      await start(input);
      this.counters.duplicates += 1;
      return;
    }
    // AWS restarts an execution whose state it lost mid-run; one that has ended has nothing left to lose.
    if (this.engine.describeExecution({ executionArn }).status !== 'RUNNING') return;
    if (!fault.keepOriginal) {
      this.engine.stopExecution({
        executionArn,
        error: 'Local.ExpressRestart',
        cause: 'execution state lost (fault injected); restarted from the beginning',
      });
      this.counters.abandoned += 1;
    }
    await start(input);
    this.counters.restarts += 1;
  }
}
