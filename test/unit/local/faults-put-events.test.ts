/**
 * Failed PutEvents entries (`PutEventsFaults`, a wrapper around the bus's `putEvents`): the chosen entries fail as AWS
 * reports a failed entry, the others reach the bus in order, and removing the fault leaves the engine as it was.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBridgeEngine } from '#local/engines/eventbridge/bus.ts';
import { TargetDispatcher } from '#local/engines/eventbridge/targets.ts';
import { PutEventsFaults } from '#local/faults/put-events.ts';
import { silentLogger } from '#local/types.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function bus(): EventBridgeEngine {
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });
  const dispatcher = new TargetDispatcher({
    sqs,
    resolveQueueUrl: () => undefined,
    lambda: { invoke: async () => ({ payload: null, durationMs: 1 }) },
    logger: silentLogger,
  });
  cleanups.push(async () => {
    await dispatcher.stop();
    sqs.destroy();
  });
  return new EventBridgeEngine({ dispatcher, logger: silentLogger });
}

const entry = (id: string) => ({ Source: 'test', DetailType: 'Thing', Detail: JSON.stringify({ id }) });
const failed = { ErrorCode: 'InternalFailure', ErrorMessage: 'injected' };

describe('PutEventsFaults', () => {
  it('fails the chosen entries in place and puts the others', async () => {
    // Arrange
    const engine = bus();
    const seen: number[] = [];
    PutEventsFaults.of(engine).setFault((_entry, index) => {
      seen.push(index);
      return index === 1 ? failed : undefined;
    });

    // Act
    const result = await engine.putEvents([entry('a'), entry('b'), entry('c')]);

    // Assert
    expect(seen).toEqual([0, 1, 2]);
    expect(result.FailedEntryCount).toBe(1);
    expect(result.Entries).toEqual([
      { EventId: expect.any(String) },
      failed,
      { EventId: expect.any(String) },
    ]);
    expect(engine.metrics()).toMatchObject({ entriesPut: 2 });
  });

  it('refuses a request AWS refuses as a whole even when every entry would fail', async () => {
    const engine = bus();
    PutEventsFaults.of(engine).setFault(() => failed);

    await expect(engine.putEvents([])).rejects.toThrow(/length/);
    await expect(engine.putEvents([entry('a')])).resolves.toEqual({ FailedEntryCount: 1, Entries: [failed] });
  });

  it('leaves the engine as it was once the fault is removed', async () => {
    const engine = bus();
    const faults = PutEventsFaults.of(engine);
    faults.setFault(() => failed);

    faults.setFault(undefined);

    expect(Object.hasOwn(engine, 'putEvents')).toBe(false);
    expect(PutEventsFaults.of(engine)).toBe(faults);
    await expect(engine.putEvents([entry('a')])).resolves.toMatchObject({ FailedEntryCount: 0 });
  });
});
