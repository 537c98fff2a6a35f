import { afterEach, describe, expect, it } from 'vitest';
import { StepFunctionsEngine } from '#local/engines/stepfunctions/engine.ts';
import { type ExpressFault, ExpressFaults } from '#local/faults/express.ts';
import type { InvokeResult, LambdaInvoker } from '#local/types.ts';

const MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Saga';

/** Two steps; `first` can be held open so a fault lands while the execution runs. */
class GatedLambda implements LambdaInvoker {
  readonly calls: string[] = [];
  private release: (() => void) | undefined;
  private gate: Promise<void> | undefined;

  hold(): void {
    this.gate = new Promise((resolve) => {
      this.release = resolve;
    });
  }

  open(): void {
    this.release?.();
    this.gate = undefined;
  }

  async invoke(fn: string): Promise<InvokeResult> {
    this.calls.push(fn);
    if (fn === 'first' && this.gate) await this.gate;
    return { payload: { ok: true }, durationMs: 1 };
  }
}

const task = (fn: string, next?: string) => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::lambda:invoke',
  Parameters: { FunctionName: fn, 'Payload.$': '$' },
  ResultPath: null,
  ...(next ? { Next: next } : { End: true }),
});

const engines: StepFunctionsEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.stop()));
});

function setUp(type: 'STANDARD' | 'EXPRESS') {
  const lambda = new GatedLambda();
  const engine = new StepFunctionsEngine({ lambda });
  engine.registerStateMachine({
    name: 'Saga',
    arn: MACHINE_ARN,
    definition: JSON.stringify({
      StartAt: 'First',
      States: { First: task('first', 'Second'), Second: task('second') },
    }),
    type,
  });
  engines.push(engine);
  return { lambda, engine, faults: new ExpressFaults(engine) };
}

const request = { stateMachineArn: MACHINE_ARN, name: 'order-1', input: '{"orderId":"o-1"}' };

function executionsNamed(engine: StepFunctionsEngine, name: string) {
  return engine
    .listExecutions({ stateMachineArn: MACHINE_ARN })
    .executions.filter((execution) => execution.name === name);
}

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('ExpressFaults (at-least-once EXPRESS starts, injected)', () => {
  it('starts a duplicate execution of the same name and input', async () => {
    const { lambda, engine, faults } = setUp('EXPRESS');
    faults.install(() => [{ kind: 'duplicate', afterMs: 0 }]);

    await engine.startExecution(request);
    await waitUntil(() => faults.counts().duplicates === 1);
    await engine.waitForIdle();

    const runs = executionsNamed(engine, 'order-1');
    expect(runs).toHaveLength(2);
    expect(runs.every((run) => run.status === 'SUCCEEDED')).toBe(true);
    expect(lambda.calls.filter((fn) => fn === 'second')).toHaveLength(2);
  });

  it('restarts a running execution from the beginning and abandons the original', async () => {
    const { lambda, engine, faults } = setUp('EXPRESS');
    lambda.hold();
    faults.install(() => [{ kind: 'restart', afterMs: 10, keepOriginal: false }]);

    const original = await engine.startExecution(request);
    await waitUntil(() => faults.counts().restarts === 1);
    lambda.open();
    await engine.waitForIdle();

    const runs = executionsNamed(engine, 'order-1');
    expect(engine.describeExecution(original).status).toBe('ABORTED');
    expect(runs.map((run) => run.status).sort()).toEqual(['ABORTED', 'SUCCEEDED']);
    // The restart ran every step again from the first; the abandoned run never reached the second.
    expect(lambda.calls).toEqual(['first', 'first', 'second']);
    expect(faults.counts()).toEqual({ duplicates: 0, restarts: 1, abandoned: 1 });
  });

  it('can keep the original running beside its restart', async () => {
    const { lambda, engine, faults } = setUp('EXPRESS');
    lambda.hold();
    faults.install(() => [{ kind: 'restart', afterMs: 10, keepOriginal: true }]);

    await engine.startExecution(request);
    await waitUntil(() => faults.counts().restarts === 1);
    lambda.open();
    await engine.waitForIdle();

    expect(executionsNamed(engine, 'order-1').map((run) => run.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(lambda.calls.filter((fn) => fn === 'second')).toHaveLength(2);
  });

  it('does not restart an execution that has already ended', async () => {
    const { engine, faults } = setUp('EXPRESS');
    faults.install(() => [{ kind: 'restart', afterMs: 50, keepOriginal: false }]);

    const { executionArn } = await engine.startExecution(request);
    await engine.waitForExecution(executionArn);
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(executionsNamed(engine, 'order-1')).toHaveLength(1);
    expect(faults.counts().restarts).toBe(0);
  });

  it('leaves STANDARD machines alone (exactly-once executions)', async () => {
    const { engine, faults } = setUp('STANDARD');
    const asked: ExpressFault[] = [];
    faults.install(() => {
      const fault: ExpressFault = { kind: 'duplicate', afterMs: 0 };
      asked.push(fault);
      return [fault];
    });

    const { executionArn } = await engine.startExecution(request);
    await engine.waitForExecution(executionArn);

    expect(asked).toEqual([]);
    expect(executionsNamed(engine, 'order-1')).toHaveLength(1);
  });

  it('stops injecting once removed, dropping faults still pending', async () => {
    const { engine, faults } = setUp('EXPRESS');
    faults.install(() => [{ kind: 'duplicate', afterMs: 30 }]);

    await engine.startExecution(request);
    faults.remove();
    await engine.startExecution({ ...request, name: 'order-2' });
    await new Promise((resolve) => setTimeout(resolve, 60));
    await engine.waitForIdle();

    expect(executionsNamed(engine, 'order-1')).toHaveLength(1);
    expect(executionsNamed(engine, 'order-2')).toHaveLength(1);
    expect(Object.hasOwn(engine, 'startExecution')).toBe(false);
  });
});
