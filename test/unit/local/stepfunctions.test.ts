import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StepFunctionsEngine } from '#local/engines/stepfunctions/engine.ts';
import { InvalidDefinitionError } from '#local/engines/stepfunctions/errors.ts';
import type { InvokeResult, LambdaInvoker } from '#local/types.ts';

const MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Saga';

/** A Lambda stand-in: each function answers from a script of failures, then echoes a result. */
class FakeLambda implements LambdaInvoker {
  readonly calls: Array<{ fn: string; event: unknown }> = [];
  private readonly failures = new Map<string, Array<{ errorType: string; errorMessage: string }>>();
  private readonly delays = new Map<string, number>();

  failNext(fn: string, times: number, errorType: string, errorMessage = `${errorType} happened`): void {
    const queue = this.failures.get(fn) ?? [];
    for (let i = 0; i < times; i++) queue.push({ errorType, errorMessage });
    this.failures.set(fn, queue);
  }

  delay(fn: string, ms: number): void {
    this.delays.set(fn, ms);
  }

  async invoke(fn: string, event: unknown): Promise<InvokeResult> {
    this.calls.push({ fn, event });
    const wait = this.delays.get(fn);
    if (wait) await new Promise((resolve) => setTimeout(resolve, wait));
    const failure = this.failures.get(fn)?.shift();
    if (failure) return { error: { ...failure, trace: [`${failure.errorType}: at ${fn}`] }, durationMs: 1 };
    return { payload: { step: fn, ok: true }, durationMs: 1 };
  }

  callsTo(fn: string): unknown[] {
    return this.calls.filter((call) => call.fn === fn).map((call) => call.event);
  }
}

function lambdaTask(fn: string, next: string | undefined, extra: Record<string, unknown> = {}) {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::lambda:invoke',
    Parameters: {
      FunctionName: fn,
      'Payload.$': '$',
    },
    ResultSelector: { 'result.$': '$.Payload' },
    ResultPath: `$.${fn}`,
    ...(next ? { Next: next } : { End: true }),
    ...extra,
  };
}

/** The order saga in miniature: three forward steps, compensations in reverse when one fails. */
const SAGA = {
  StartAt: 'ReserveStock',
  States: {
    ReserveStock: lambdaTask('reserve', 'AuthorizePayment', {
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReleaseStock' }],
    }),
    AuthorizePayment: {
      ...lambdaTask('authorize', 'ConfirmOrder'),
      Parameters: {
        FunctionName: 'authorize',
        Payload: {
          'orderId.$': '$.orderId',
          'attempt.$': '$$.State.RetryCount',
          'state.$': '$$.State.Name',
          'execution.$': '$$.Execution.Name',
          'startInput.$': '$$.Execution.Input',
        },
      },
      Retry: [
        { ErrorEquals: ['PaymentProviderUnavailable'], IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 2 },
      ],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'VoidPayment' }],
    },
    ConfirmOrder: lambdaTask('confirm', undefined),
    VoidPayment: lambdaTask('void', 'ReleaseStock'),
    ReleaseStock: lambdaTask('release', 'CancelOrder'),
    CancelOrder: lambdaTask('cancel', undefined),
  },
};

const engines: StepFunctionsEngine[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function createEngine(
  lambda: LambdaInvoker,
  extra: { persistDir?: string; type?: 'STANDARD' | 'EXPRESS' } = {},
) {
  const engine = new StepFunctionsEngine({
    lambda,
    retryIntervalOverrideMs: 5,
    persistDir: extra.persistDir,
  });
  engine.registerStateMachine({
    name: 'Saga',
    arn: MACHINE_ARN,
    definition: JSON.stringify(SAGA),
    type: extra.type ?? 'STANDARD',
  });
  engines.push(engine);
  return engine;
}

function historyTypes(engine: StepFunctionsEngine, executionArn: string): string[] {
  return engine
    .getExecutionHistory({ executionArn, maxResults: 1000 })
    .events.map((event) => String(event.type));
}

describe('StepFunctionsEngine saga execution', () => {
  it('refuses to start an execution once it is stopping, so nothing runs on a stopped runtime', async () => {
    const engine = createEngine(new FakeLambda());
    await engine.stop();

    await expect(
      engine.startExecution({
        stateMachineArn: MACHINE_ARN,
        name: 'late',
        input: JSON.stringify({ orderId: 'o-9' }),
      }),
    ).rejects.toMatchObject({ name: 'ServiceUnavailable' });
  });

  it('retries a step on its custom error and passes $$ context to each attempt', async () => {
    const lambda = new FakeLambda();
    lambda.failNext('authorize', 2, 'PaymentProviderUnavailable');
    const engine = createEngine(lambda);

    const { executionArn } = await engine.startExecution({
      stateMachineArn: MACHINE_ARN,
      name: 'order-1',
      input: JSON.stringify({ orderId: 'o-1' }),
    });
    const result = await engine.waitForExecution(executionArn);

    expect(result.status).toBe('SUCCEEDED');
    expect(lambda.callsTo('authorize')).toEqual(
      [0, 1, 2].map((attempt) => ({
        orderId: 'o-1',
        attempt,
        state: 'AuthorizePayment',
        execution: 'order-1',
        startInput: { orderId: 'o-1' },
      })),
    );
    expect(JSON.parse(result.output ?? 'null')).toMatchObject({
      orderId: 'o-1',
      confirm: { result: { step: 'confirm', ok: true } },
    });
    const history = engine.getExecutionHistory({ executionArn, maxResults: 1000 }).events;
    const failed = history.filter((event) => event.type === 'TaskFailed');
    expect(failed).toHaveLength(2);
    expect(failed[0]?.taskFailedEventDetails).toMatchObject({
      resourceType: 'lambda',
      resource: 'invoke',
      error: 'PaymentProviderUnavailable',
    });
    const details = failed[0]?.taskFailedEventDetails as { cause: string } | undefined;
    const cause = JSON.parse(details?.cause ?? 'null');
    expect(cause).toEqual({
      errorMessage: 'PaymentProviderUnavailable happened',
      errorType: 'PaymentProviderUnavailable',
      trace: ['PaymentProviderUnavailable: at authorize'],
    });
    expect(engine.metrics().byExecution[executionArn]?.stateTransitions).toBe(5);
  });

  it('runs the compensations in reverse when a step fails with an error that is not retried', async () => {
    const lambda = new FakeLambda();
    lambda.failNext('authorize', 1, 'PaymentDeclined', 'card declined');
    const engine = createEngine(lambda);

    const { executionArn } = await engine.startExecution({
      stateMachineArn: MACHINE_ARN,
      input: JSON.stringify({ orderId: 'o-2' }),
    });
    const result = await engine.waitForExecution(executionArn);

    expect(result.status).toBe('SUCCEEDED');
    expect(lambda.calls.map((call) => call.fn)).toEqual([
      'reserve',
      'authorize',
      'void',
      'release',
      'cancel',
    ]);
    const output = JSON.parse(result.output ?? 'null') as { error: { Error: string; Cause: string } };
    expect(output.error.Error).toBe('PaymentDeclined');
    expect(JSON.parse(output.error.Cause)).toMatchObject({
      errorMessage: 'card declined',
      errorType: 'PaymentDeclined',
    });
    expect(historyTypes(engine, executionArn)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'TaskStateExited',
      ...Array.from({ length: 3 }, () => [
        'TaskStateEntered',
        'TaskScheduled',
        'TaskStarted',
        'TaskSucceeded',
        'TaskStateExited',
      ]).flat(),
      'ExecutionSucceeded',
    ]);
  });

  it('keeps STANDARD execution names unique per state machine', async () => {
    const lambda = new FakeLambda();
    lambda.delay('reserve', 50);
    const engine = createEngine(lambda);
    const request = { stateMachineArn: MACHINE_ARN, name: 'order-3', input: '{"orderId":"o-3"}' };

    const first = await engine.startExecution(request);
    const again = await engine.startExecution(request);
    await expect(engine.startExecution({ ...request, input: '{"orderId":"other"}' })).rejects.toMatchObject({
      name: 'ExecutionAlreadyExists',
    });
    await engine.waitForExecution(first.executionArn);
    await expect(engine.startExecution(request)).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });

    expect(again.executionArn).toBe(first.executionArn);
    expect(first.executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:Saga:order-3');
    expect(lambda.callsTo('reserve')).toHaveLength(1);
  });

  it('runs an EXPRESS execution per StartExecution, even under a name in use (AWS: no dedupe for Express)', async () => {
    const lambda = new FakeLambda();
    lambda.delay('reserve', 50);
    const engine = createEngine(lambda, { type: 'EXPRESS' });
    const request = { stateMachineArn: MACHINE_ARN, name: 'order-3', input: '{"orderId":"o-3"}' };

    const first = await engine.startExecution(request);
    const second = await engine.startExecution(request);
    await Promise.all([
      engine.waitForExecution(first.executionArn),
      engine.waitForExecution(second.executionArn),
    ]);
    const third = await engine.startExecution(request);
    await engine.waitForExecution(third.executionArn);

    expect(new Set([first.executionArn, second.executionArn, third.executionArn]).size).toBe(3);
    expect(first.executionArn).toMatch(/^arn:aws:states:us-east-1:000000000000:express:Saga:order-3:/);
    expect(lambda.callsTo('confirm')).toHaveLength(3);
  });

  it('redrives a failed execution from the failed step once the step is fixed', async () => {
    const lambda = new FakeLambda();
    lambda.failNext('confirm', 1, 'OrderNotFound');
    const engine = createEngine(lambda);
    const { executionArn } = await engine.startExecution({
      stateMachineArn: MACHINE_ARN,
      name: 'order-4',
      input: '{"orderId":"o-4"}',
    });
    const failed = await engine.waitForExecution(executionArn);
    expect(failed).toMatchObject({ status: 'FAILED', error: 'OrderNotFound', redriveStatus: 'REDRIVABLE' });

    engine.redriveExecution({ executionArn });
    const redriven = await engine.waitForExecution(executionArn);

    expect(redriven).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1, redriveStatus: 'NOT_REDRIVABLE' });
    expect(lambda.calls.map((call) => call.fn)).toEqual(['reserve', 'authorize', 'confirm', 'confirm']);
    expect(lambda.callsTo('confirm')[1]).toEqual(lambda.callsTo('confirm')[0]);
    const types = historyTypes(engine, executionArn);
    expect(types.filter((type) => type === 'ExecutionFailed')).toHaveLength(1);
    expect(types.indexOf('ExecutionRedriven')).toBeGreaterThan(types.indexOf('ExecutionFailed'));
    expect(types.at(-1)).toBe('ExecutionSucceeded');
    expect(() => engine.redriveExecution({ executionArn })).toThrow(/SUCCEEDED and cannot be redriven/);
  });

  it('names Lambda service failures Lambda.* and function errors by their errorType only', async () => {
    class MissingFunction extends Error {
      override name = 'ResourceNotFoundException';
    }
    const lambda: LambdaInvoker = {
      async invoke(fn) {
        if (fn === 'ghost') throw new MissingFunction('Function not found: ghost');
        return { error: { errorType: 'OutOfStock', errorMessage: 'none left' }, durationMs: 1 };
      },
    };
    const engine = new StepFunctionsEngine({ lambda });
    engines.push(engine);
    const catchAll = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.caught', Next: 'Done' }];
    engine.registerStateMachine({
      name: 'Errors',
      arn: `${MACHINE_ARN}Errors`,
      type: 'STANDARD',
      definition: JSON.stringify({
        StartAt: 'Ghost',
        States: {
          Ghost: {
            ...lambdaTask('ghost', 'Real'),
            ResultPath: '$.ghost',
            Catch: [{ ...catchAll[0], Next: 'Real', ResultPath: '$.ghost' }],
          },
          Real: { ...lambdaTask('real', 'Done'), Catch: catchAll },
          Done: { Type: 'Succeed' },
        },
      }),
    });

    const { executionArn } = await engine.startExecution({ stateMachineArn: `${MACHINE_ARN}Errors` });
    const result = await engine.waitForExecution(executionArn);

    const output = JSON.parse(result.output ?? '{}') as Record<string, { Error: string; Cause: string }>;
    expect(output.ghost?.Error).toBe('Lambda.ResourceNotFoundException');
    expect(output.ghost?.Cause).toContain('Function not found: ghost');
    expect(output.caught?.Error).toBe('OutOfStock');
  });

  it('rejects a definition that is not valid ASL', () => {
    const engine = new StepFunctionsEngine({ lambda: new FakeLambda() });
    const register = () =>
      engine.registerStateMachine({
        name: 'Broken',
        arn: `${MACHINE_ARN}Broken`,
        definition: JSON.stringify({ StartAt: 'Missing', States: { A: { Type: 'Pass', End: true } } }),
        type: 'STANDARD',
      });
    expect(register).toThrow(InvalidDefinitionError);
    expect(register).toThrow(/Missing/);
  });

  it('marks executions that were running when the process stopped as Runtime.Interrupted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sfn-persist-'));
    dirs.push(dir);
    const lambda = new FakeLambda();
    lambda.delay('authorize', 10_000);
    const first = createEngine(lambda, { persistDir: dir });
    const { executionArn } = await first.startExecution({
      stateMachineArn: MACHINE_ARN,
      name: 'order-5',
      input: '{"orderId":"o-5"}',
    });
    await waitUntil(() => lambda.callsTo('authorize').length === 1);
    await first.stop();

    const fixed = new FakeLambda();
    const second = createEngine(fixed, { persistDir: dir });
    const interrupted = second.describeExecution({ executionArn });
    expect(interrupted).toMatchObject({
      status: 'FAILED',
      error: 'Runtime.Interrupted',
      redriveStatus: 'REDRIVABLE',
    });
    expect(interrupted.cause).toContain('AuthorizePayment');

    second.redriveExecution({ executionArn });
    const resumed = await second.waitForExecution(executionArn);
    expect(resumed.status).toBe('SUCCEEDED');
    expect(fixed.calls.map((call) => call.fn)).toEqual(['authorize', 'confirm']);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
