/**
 * Lambda invocation faults (`LambdaFaults`, a wrapper around the Lambda engine's `invoke`): what each fault does to
 * the handler and to the caller, so the e2e fault scenarios and the chaos run can rely on it.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type LambdaInvokeResult, LambdaService } from '#local/engines/lambda/service.ts';
import { LambdaFaults } from '#local/faults/lambda.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/lambda');

let lambda: LambdaService;

/** One environment, so the counter fixture's module state counts every handler run. */
function counterService(): LambdaService {
  lambda = new LambdaService({ logSink: () => {}, reportLines: false, defaultConcurrency: 1 });
  lambda.register({
    logicalId: 'Counter',
    functionName: 'counter',
    arn: 'arn:aws:lambda:us-east-1:000000000000:function:counter',
    codeDir: FIXTURES,
    handler: 'counter.handler',
    runtime: 'nodejs24.x',
    timeoutSeconds: 5,
  });
  return lambda;
}

const count = (result: LambdaInvokeResult) => (result.payload as { count: number }).count;
const seenEvent = (result: LambdaInvokeResult) => (result.payload as { event: unknown }).event;

afterEach(async () => {
  await lambda?.stop();
});

describe('LambdaFaults.setFault', () => {
  it('error: fails the invocation before the handler runs', async () => {
    const service = counterService();
    await service.invoke('counter', {});
    LambdaFaults.of(service).setFault('counter', () => 'error');

    const faulted = await service.invoke('counter', { n: 1 });
    LambdaFaults.of(service).setFault('counter', undefined);
    const after = await service.invoke('counter', {});

    expect(faulted.error?.errorType).toBe('Runtime.InjectedFault');
    expect(faulted.payload).toBeUndefined();
    expect(count(after)).toBe(2);
  });

  it('crash: runs the handler, then reports Runtime.ExitError instead of its answer', async () => {
    const service = counterService();
    LambdaFaults.of(service).setFault('counter', () => 'crash');

    const crashed = await service.invoke('counter', { n: 1 });
    LambdaFaults.of(service).clearFaults();
    const after = await service.invoke('counter', {});

    expect(crashed.error?.errorType).toBe('Runtime.ExitError');
    expect(crashed.payload).toBeUndefined();
    expect(count(after)).toBe(2);
  });

  it('crashAfter: the handler sees only the part of the event it got through before the crash', async () => {
    const service = counterService();
    LambdaFaults.of(service).setFault('counter', (event) => {
      const records = (event as { Records: unknown[] }).Records;
      return { crashAfter: { Records: records.slice(0, 1) } };
    });
    const crashed = await service.invoke('counter', { Records: ['a', 'b', 'c'] });
    LambdaFaults.of(service).clearFaults();

    const after = await service.invoke('counter', { Records: ['x'] });

    expect(crashed.error?.errorType).toBe('Runtime.ExitError');
    expect(count(after)).toBe(2);
  });

  it('duplicate: delivers the same event twice and answers with the second run', async () => {
    const service = counterService();
    LambdaFaults.of(service).setFault('counter', () => 'duplicate');

    const result = await service.invoke('counter', { n: 7 });

    expect(result.error).toBeUndefined();
    expect(count(result)).toBe(2);
    expect(seenEvent(result)).toEqual({ n: 7 });
  });

  it('chooses per event, applies to ARN invocations and counts what it injected', async () => {
    const service = counterService();
    LambdaFaults.of(service).setFault('arn:aws:lambda:us-east-1:000000000000:function:counter', (event) =>
      (event as { poison?: boolean }).poison ? 'error' : undefined,
    );

    const poison = await service.invoke('arn:aws:lambda:us-east-1:000000000000:function:counter', {
      poison: true,
    });
    const healthy = await service.invoke('counter', { poison: false });

    expect(poison.error?.errorType).toBe('Runtime.InjectedFault');
    expect(count(healthy)).toBe(1);
    expect(LambdaFaults.of(service).injectedFaults()).toEqual({
      counter: { error: 1, crash: 0, duplicate: 0 },
    });
  });

  it('refuses a rule for a function that does not exist', () => {
    const service = counterService();

    expect(() => LambdaFaults.of(service).setFault('nope', () => 'error')).toThrow(/Function not found/);
  });

  it('is a wrapper around the engine: without a rule the engine runs untouched, failures still count', async () => {
    const service = counterService();
    const faults = LambdaFaults.of(service);
    faults.setFault('counter', () => 'error');
    expect(Object.hasOwn(service, 'invoke')).toBe(true);

    await service.invoke('counter', {});
    faults.clearFaults();

    expect(Object.hasOwn(service, 'invoke')).toBe(false);
    expect(service.metrics().counter).toMatchObject({ invocations: 1, errors: 1 });
    expect(faults.injectedFaults()).toEqual({ counter: { error: 1, crash: 0, duplicate: 0 } });
  });
});
