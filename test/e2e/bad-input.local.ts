/**
 * Junk events at every consumer of the local runtime, invoked directly through its Lambda service; registered by
 * bad-input.test.ts on the local target only, on the runtime its client API scenarios use: whatever arrives, the
 * consumer fails the event with a named error or does nothing, and writes nothing. That the system keeps serving
 * afterwards is bad-input.test.ts's last check.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SystemUnderTest, systemFromRuntime } from '#chaos/system.ts';
import { faultsOf } from '#local/faults/index.ts';
import {
  type BadInputTarget,
  CLIENT,
  hostileString,
  notString,
  RUNS,
  writesNothingIn,
} from './bad-input-support.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function describeJunkEvents(ctx: BadInputTarget): void {
  describe('junk events at every consumer', () => {
    let system: SystemUnderTest;

    beforeAll(async () => {
      if (!ctx.target.runtime) throw new Error('no local runtime');
      system = await systemFromRuntime(ctx.target.runtime, path.join(PROJECT_ROOT, 'cdk.out'), CLIENT);
    });

    afterAll(() => system?.close());

    const invoke = (logicalId: string, event: unknown) => {
      const name = system.functions[logicalId];
      if (!name || !system.runtime) throw new Error(`no function ${logicalId}`);
      return system.runtime.engines.lambda.invoke(name, event);
    };

    /** Either an answer, or a failure that says what was wrong in words and is not a crash or a timeout. */
    function expectHandled(
      result: { payload?: unknown; error?: { errorType: string; errorMessage: string } },
      what: string,
    ) {
      if (!result.error) return;
      expect(result.error.errorType, `${what}: ${result.error.errorMessage}`).not.toMatch(
        /^(Runtime\.|Sandbox\.)/,
      );
      expect(result.error.errorMessage.trim().length, what).toBeGreaterThan(0);
    }

    const attributeValue = fc.oneof(
      fc.record({ S: hostileString }),
      fc.record({ N: fc.oneof(fc.integer().map(String), hostileString) }),
      fc.record({ BOOL: fc.boolean() }),
      fc.record({ NULL: fc.constant(true) }),
      fc.jsonValue(),
    );
    const junkImage = fc.oneof(
      fc.dictionary(fc.string({ maxLength: 12 }), attributeValue, { maxKeys: 6 }),
      // Outbox-shaped: the relay's filter lets it through, its fields are wrong.
      fc.record({
        pk: fc.oneof(fc.constant({ S: `OUTBOX#${randomUUID()}` }), attributeValue),
        sk: fc.constant({ S: 'OUTBOX' }),
        entity: fc.constant({ S: 'Outbox' }),
        messageType: attributeValue,
        payload: attributeValue,
        createdAt: attributeValue,
      }),
    );
    const junkStreamRecord = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          eventID: fc.string(),
          eventName: fc.oneof(fc.constantFrom('INSERT', 'MODIFY', 'REMOVE'), hostileString),
          eventSource: fc.constant('aws:dynamodb'),
          dynamodb: fc.record(
            { NewImage: junkImage, SequenceNumber: fc.bigInt({ min: 1n, max: 10n ** 20n }).map(String) },
            { requiredKeys: ['SequenceNumber'] },
          ),
        },
        { requiredKeys: ['dynamodb'] },
      ),
    );

    it('the outbox relay: junk stream records never publish, never write order state', async () => {
      const relay = system.topology.streamConsumers[0] ?? '';
      const published = { count: 0 };
      if (system.runtime)
        faultsOf(system.runtime).putEvents.setFault(() => {
          published.count += 1;
          return undefined;
        });
      try {
        await writesNothingIn(ctx.table, false, () =>
          fc.assert(
            fc.asyncProperty(
              fc.oneof(fc.record({ Records: fc.array(junkStreamRecord, { maxLength: 5 }) }), fc.jsonValue()),
              async (event) => expectHandled(await invoke(relay, event), JSON.stringify(event).slice(0, 300)),
            ),
            { numRuns: RUNS },
          ),
        );
      } finally {
        if (system.runtime) faultsOf(system.runtime).putEvents.setFault(undefined);
      }
      expect(published.count).toBe(0);
    });

    it('state machine steps (saga, settlement export): junk inputs and unknown orders fail with a named error or do nothing', async () => {
      const stepInput = fc.oneof(
        fc.jsonValue(),
        fc.record(
          {
            orderId: fc.oneof(fc.uuid(), hostileString),
            correlationId: fc.oneof(fc.uuid(), hostileString, notString),
            error: fc.oneof(fc.record({ Error: fc.string(), Cause: fc.string() }), fc.jsonValue()),
          },
          { requiredKeys: ['orderId'] },
        ),
      );
      await writesNothingIn(ctx.table, false, () =>
        fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...system.topology.stateMachineSteps),
            stepInput,
            async (step, input) => {
              const result = await invoke(step, input);
              expectHandled(result, `${step} ${JSON.stringify(input).slice(0, 200)}`);
              if (result.error) {
                // The settlement export's steps refuse any input that is not theirs with one named error.
                expect(['InvalidMessage', 'OrderNotFound', 'InvalidSettlementRequest']).toContain(
                  result.error.errorType,
                );
              }
            },
          ),
          { numRuns: RUNS },
        ),
      );
    });

    it('queue workers: every junk message is reported failed (for its DLQ), nothing is written', async () => {
      const consumers = system.topology.sqsConsumers.map((c) => ({
        logicalId: c.functionLogicalId,
        queueArn: system.queues[c.queueLogicalId]?.arn ?? '',
      }));
      const body = fc.oneof(
        fc.json(),
        hostileString,
        fc
          .record({
            id: fc.uuid(),
            'detail-type': fc.constantFrom('OrderPlaced', 'OrderConfirmed', 'OrderCancelled'),
            source: fc.constant('buzzer.orders'),
            detail: fc.oneof(fc.jsonValue(), fc.record({ messageId: fc.uuid(), orderId: hostileString })),
          })
          .map((envelope) => JSON.stringify(envelope)),
      );
      await writesNothingIn(ctx.table, false, () =>
        fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...consumers),
            fc.array(fc.record({ messageId: fc.uuid(), body }), { minLength: 1, maxLength: 4 }),
            async (consumer, messages) => {
              const event = {
                Records: messages.map((m) => ({
                  messageId: m.messageId,
                  receiptHandle: `junk-${m.messageId}`,
                  body: m.body,
                  attributes: { ApproximateReceiveCount: '1' },
                  messageAttributes: {},
                  md5OfBody: '',
                  eventSource: 'aws:sqs',
                  eventSourceARN: consumer.queueArn,
                  awsRegion: 'us-east-1',
                })),
              };
              const result = await invoke(consumer.logicalId, event);
              expectHandled(result, `${consumer.logicalId} ${JSON.stringify(messages).slice(0, 300)}`);
              if (!result.error) {
                const failed = (result.payload as { batchItemFailures: Array<{ itemIdentifier: string }> })
                  .batchItemFailures;
                expect(failed.map((f) => f.itemIdentifier).sort()).toEqual(
                  messages.map((m) => m.messageId).sort(),
                );
              }
            },
          ),
          { numRuns: RUNS },
        ),
      );
    });
  });
}
