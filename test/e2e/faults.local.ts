/**
 * Faults injected through the local engines' hooks, registered by faults.test.ts on the local target only (on the
 * runtime its other scenarios use): every consumer gets every delivery twice, a saga step crashes, a price is
 * withdrawn, a worker crashes mid-batch, a poison message dead-letters and is redriven, the relay's PutEvents partly
 * fails (the runtime killed mid-flight is crash-restart.local.test.ts, which starts runtimes of its own). Each scenario asserts the order's final state, its timeline and the
 * effects counted at the receiving side (sandbox charges and refunds, mail sink, points ledger).
 */
import { randomUUID } from 'node:crypto';
import {
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compressVisibility, queueDepth } from '#chaos/queues.ts';
import type { SystemUnderTest } from '#chaos/system.ts';
import { putStock } from '#local/buzzer/seed.ts';
import type { PutEventsEntryInput } from '#local/engines/stepfunctions/types.ts';
import { faultsOf, type InvocationFault, type InvocationFaultRule } from '#local/faults/index.ts';
import { orderBody } from './client.ts';
import { type FaultsTarget, freshSku, mailCount, SETTLE, steps } from './fault-support.ts';
import { functionName, localSystem, mentions, orderConfirmedBody, queueNamed } from './local-faults.ts';
import { pointsOf, stockLevel } from './table.ts';

export function describeLocalFaults(ctx: FaultsTarget): void {
  describe('with faults injected into the local engines', () => {
    let system: SystemUnderTest;
    let restoreVisibility: () => Promise<void>;

    beforeAll(async () => {
      system = await localSystem(ctx.target);
      // Worker queues wait 180 s before a failed message returns; 4 s keeps these scenarios within seconds. At 2 s a
      // starved machine's deliveries outlasted it and came back while still running, until a message used up its five
      // receives and was dead-lettered (CI36).
      restoreVisibility = await compressVisibility(system, 4);
    });

    afterEach(() => {
      if (system.runtime) faultsOf(system.runtime).lambda.clearFaults();
      if (system.runtime) faultsOf(system.runtime).putEvents.setFault(undefined);
    });

    afterAll(async () => {
      await restoreVisibility?.();
      system?.close();
    });

    const runtime = () => {
      if (!system.runtime) throw new Error('no local runtime');
      return system.runtime;
    };

    async function executionsOf(orderId: string): Promise<number> {
      const [stateMachineArn] = Object.values(system.stateMachines);
      const { executions } = runtime().engines.stepFunctions.listExecutions({
        stateMachineArn: stateMachineArn ?? '',
        maxResults: 1000,
      });
      return executions.filter((e) => e.name === `order-${orderId}`).length;
    }

    async function outboxItem(messageId: string): Promise<Record<string, unknown> | undefined> {
      const { Item } = await system.doc.send(
        new GetCommand({ TableName: system.tableName, Key: { pk: `OUTBOX#${messageId}`, sk: 'OUTBOX' } }),
      );
      return Item;
    }

    it('duplicate deliveries to every consumer: one effect each', async () => {
      const sku = await freshSku(ctx.table, 10);
      const customerId = `dup-${randomUUID().slice(0, 8)}`;
      let orderId = '';
      const ours = (event: unknown) => mentions(event, customerId, orderId);
      // Every consumer (relay, saga starter, workers) and every saga step gets each delivery twice.
      const consumers = [
        ...system.topology.streamConsumers,
        ...system.topology.sqsConsumers.map((c) => c.functionLogicalId),
        ...system.topology.stateMachineSteps,
      ];
      const streamEvents: unknown[] = [];
      const relayName = functionName(system, 'OutboxRelayHandlerFunction');
      const queueOf = new Map(
        system.topology.sqsConsumers.map((c) => [
          system.functions[c.functionLogicalId] ?? '',
          c.queueLogicalId,
        ]),
      );
      const delivered = new Map<string, Set<string>>();
      const before = faultsOf(runtime()).lambda.injectedFaults();
      for (const logicalId of consumers) {
        const name = system.functions[logicalId] ?? '';
        const rule: InvocationFaultRule = (event) => {
          if (!ours(event)) return undefined;
          if (name === relayName) streamEvents.push(event);
          const queueLogicalId = queueOf.get(name);
          for (const record of queueLogicalId ? (event as SQSEvent).Records : []) {
            if (!ours(record.body)) continue;
            const bodies = delivered.get(queueLogicalId ?? '') ?? new Set<string>();
            delivered.set(queueLogicalId ?? '', bodies.add(record.body));
          }
          return 'duplicate';
        };
        faultsOf(runtime()).lambda.setFault(name, rule);
      }
      // Every event of the order is put on the bus twice more, right after the relay put it: concurrent duplicates.
      const accepted = new Map<string, number>();
      const copies = new WeakSet<PutEventsEntryInput>();
      faultsOf(runtime()).putEvents.setFault((entry) => {
        if (!mentions(entry, customerId)) return undefined;
        const messageId = (JSON.parse(entry.Detail ?? '{}') as { messageId: string }).messageId;
        accepted.set(messageId, (accepted.get(messageId) ?? 0) + 1);
        if (!copies.has(entry)) {
          for (let i = 0; i < 2; i++) {
            const copy = { ...entry };
            copies.add(copy);
            setTimeout(() => void runtime().engines.events.putEvents([copy]), 0);
          }
        }
        return undefined;
      });

      const placed = await ctx.alice.placeOrder(
        orderBody({ customer: { id: customerId, email: 'dup@example.com' }, items: [{ sku, quantity: 2 }] }),
      );
      orderId = placed.body.trackingId;
      const order = await ctx.alice.waitForOrder(orderId);
      await expect
        .poll(async () => (await pointsOf(ctx.table, 'alice', customerId)).ledger.length, SETTLE)
        .toBe(1);
      await expect.poll(() => mailCount(ctx.sandbox, orderId), SETTLE).toEqual({ messages: 1, calls: 1 });

      // Then the same stream batches replayed to the relay (once, then twice at the same time) and the same SQS
      // messages once more, late, as when a visibility timeout runs out on a worker that did finish.
      const late = faultsOf(runtime()).lambda.injectedFaults();
      faultsOf(runtime()).lambda.clearFaults();
      const acceptedBefore = [...accepted.values()].reduce((a, b) => a + b, 0);
      for (const event of streamEvents) {
        const replays = [await runtime().engines.lambda.invoke(relayName, event)];
        replays.push(
          ...(await Promise.all([
            runtime().engines.lambda.invoke(relayName, event),
            runtime().engines.lambda.invoke(relayName, event),
          ])),
        );
        for (const replay of replays) expect(replay.payload).toEqual({ batchItemFailures: [] });
      }
      expect([...accepted.values()].reduce((a, b) => a + b, 0)).toBe(acceptedBefore);
      for (const [queueLogicalId, bodies] of delivered) {
        const queue = system.queues[queueLogicalId];
        for (const body of bodies)
          await system.sqs.send(new SendMessageCommand({ QueueUrl: queue?.url, MessageBody: body }));
      }
      for (const queueLogicalId of delivered.keys()) {
        const queue = system.queues[queueLogicalId];
        if (!queue) continue;
        await expect
          .poll(() => queueDepth(system, queue), SETTLE)
          .toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      }

      expect(order.status).toBe('CONFIRMED');
      expect(steps(order.timeline)).toEqual([
        'Accepted:SUCCEEDED',
        'ReserveStock:SUCCEEDED',
        'AuthorizePayment:SUCCEEDED',
        'ConfirmOrder:SUCCEEDED',
      ]);
      expect(await executionsOf(orderId)).toBe(1);
      expect(await stockLevel(ctx.table, sku)).toBe(8);
      const charge = await ctx.sandbox.charge(orderId);
      expect(charge.body.calls).toBe(1);
      expect(charge.body.refunds).toEqual([]);
      expect(await mailCount(ctx.sandbox, orderId)).toEqual({ messages: 1, calls: 1 });
      expect(await pointsOf(ctx.table, 'alice', customerId)).toEqual({
        balance: 10,
        ledger: [{ orderId, points: 10 }],
      });
      // The scenario did what it says: each consumer on the order's path really got duplicates.
      for (const logical of [
        'OutboxRelayHandlerFunction',
        'SagaStarterFunction',
        'NotifierHandlerFunction',
        'PointsHandlerFunction',
        'SagaReserveStockFunction',
        'SagaAuthorizePaymentFunction',
        'SagaConfirmOrderFunction',
      ]) {
        const name = functionName(system, logical);
        expect(late[name]?.duplicate ?? 0, logical).toBeGreaterThan(before[name]?.duplicate ?? 0);
      }
      expect(streamEvents.length).toBeGreaterThan(0);
      for (const count of accepted.values()) expect(count).toBe(3);
    });

    it('a saga step that crashes or fails to run is retried, not compensated: the order confirms, each effect once', async () => {
      const sku = await freshSku(ctx.table, 10);
      let orderId = '';
      // The first invocation of each forward step for this order fails: ReserveStock and AuthorizePayment crash
      // *after* doing their work (the answer is lost), ConfirmOrder fails before its handler runs.
      const firstFault: Record<string, InvocationFault> = {
        SagaReserveStockFunction: 'crash',
        SagaAuthorizePaymentFunction: 'crash',
        SagaConfirmOrderFunction: 'error',
      };
      const before = faultsOf(runtime()).lambda.injectedFaults();
      for (const [logicalId, fault] of Object.entries(firstFault)) {
        let struck = false;
        faultsOf(runtime()).lambda.setFault(functionName(system, logicalId), (event) => {
          if (struck || !mentions(event, orderId)) return undefined;
          struck = true;
          return fault;
        });
      }

      const placed = await ctx.alice.placeOrder(orderBody({ items: [{ sku, quantity: 2 }] }));
      orderId = placed.body.trackingId;
      const order = await ctx.alice.waitForOrder(orderId);

      expect(order.status).toBe('CONFIRMED');
      expect(order.failureReason).toBeNull();
      expect(steps(order.timeline)).toEqual([
        'Accepted:SUCCEEDED',
        'ReserveStock:SUCCEEDED',
        'AuthorizePayment:SUCCEEDED',
        'ConfirmOrder:SUCCEEDED',
      ]);
      expect(await executionsOf(orderId)).toBe(1);
      expect(await stockLevel(ctx.table, sku)).toBe(8);
      const charge = await ctx.sandbox.charge(orderId);
      expect(charge.body.charge).toMatchObject({ id: order.paymentRef, status: 'authorized' });
      expect(charge.body.calls).toBe(1);
      expect(charge.body.refunds).toEqual([]);
      await expect.poll(() => mailCount(ctx.sandbox, orderId), SETTLE).toEqual({ messages: 1, calls: 1 });
      // The faults really struck, once each.
      const after = faultsOf(runtime()).lambda.injectedFaults();
      for (const [logicalId, fault] of Object.entries(firstFault)) {
        const name = functionName(system, logicalId);
        const kind = fault === 'error' ? 'error' : 'crash';
        expect((after[name]?.[kind] ?? 0) - (before[name]?.[kind] ?? 0), logicalId).toBe(1);
      }
    });

    it('a price withdrawn after acceptance cancels the order with PRICE_UNAVAILABLE: nothing charged, stock kept', async () => {
      const sku = await freshSku(ctx.table, 10);
      let orderId = '';
      let withdrawn = false;
      // ReserveStock does not run for this order until the catalogue has stopped selling the SKU in EUR; the saga
      // retries the failed invocations and the first one that runs finds no price.
      faultsOf(runtime()).lambda.setFault(functionName(system, 'SagaReserveStockFunction'), (event) => {
        if (withdrawn || !mentions(event, orderId)) return undefined;
        void putStock(ctx.table.doc, ctx.table.tableName, [
          { sku, name: 'Test item', prices: { USD: 600 }, points: 5, available: 10 },
        ]).then(() => {
          withdrawn = true;
        });
        return 'error';
      });

      const placed = await ctx.alice.placeOrder(orderBody({ items: [{ sku, quantity: 2 }] }));
      orderId = placed.body.trackingId;
      const order = await ctx.alice.waitForOrder(orderId);

      expect(placed.status).toBe(202);
      expect([order.status, order.failureReason]).toEqual(['CANCELLED', 'PRICE_UNAVAILABLE']);
      expect(order.timeline.find((t) => t.step === 'CancelOrder')?.detail).toContain(
        `no price in EUR for sku ${sku}`,
      );
      expect((await ctx.sandbox.charge(orderId)).status).toBe(404);
      expect(await stockLevel(ctx.table, sku)).toBe(10);
      await expect.poll(() => mailCount(ctx.sandbox, orderId), SETTLE).toEqual({ messages: 1, calls: 1 });
    });

    it('a worker crashes mid-batch: the whole batch returns, the records it finished do not repeat', async () => {
      const notifyName = functionName(system, 'NotifierHandlerFunction');
      const notifyQueue = queueNamed(system, 'NotifierQueue');
      const messages = Array.from({ length: 4 }, () =>
        orderConfirmedBody({
          orderId: randomUUID(),
          customerId: `crash-${randomUUID().slice(0, 8)}`,
          email: 'crash@example.com',
          amount: 250,
        }),
      );
      const ids = messages.map((m) => m.messageId);
      const deliveries: string[][] = [];
      let crashed = false;
      faultsOf(runtime()).lambda.setFault(notifyName, (event) => {
        const records = (event as SQSEvent).Records.filter((r) => mentions(r.body, ...ids));
        if (records.length === 0) return undefined;
        deliveries.push(records.map((r) => ids.find((id) => r.body.includes(id)) ?? ''));
        if (crashed || records.length < 2) return undefined;
        crashed = true;
        // The worker gets through the first two records, then its environment dies.
        return { crashAfter: { Records: records.slice(0, 2) } };
      });

      await system.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: notifyQueue.url,
          Entries: messages.map((m, i) => ({ Id: String(i), MessageBody: m.body })),
        }),
      );

      const orderIds = messages.map(
        (m) => (JSON.parse(m.body) as { detail: { orderId: string } }).detail.orderId,
      );
      try {
        for (const orderId of orderIds) {
          await expect.poll(() => mailCount(ctx.sandbox, orderId), SETTLE).toEqual({ messages: 1, calls: 1 });
        }
      } catch (error) {
        // What the worker and the sink did with these mails, and which batches the worker got, for the CI log.
        const lines = ctx.target.recentLogs(...ids, ...orderIds).slice(-80);
        throw new Error(
          `${error instanceof Error ? error.message : String(error)}\nbatches given to the worker: ${JSON.stringify(
            deliveries,
          )}\nfunction log lines about these mails:\n${lines.join('\n')}`,
        );
      }
      expect(crashed).toBe(true);
      const [crashedBatch, ...later] = deliveries;
      const finished = crashedBatch?.slice(0, 2) ?? [];
      // The records finished before the crash came back (the batch failed as a whole) and found their effect done.
      for (const id of finished) expect(later.flat()).toContain(id);
      await expect
        .poll(async () => queueDepth(system, notifyQueue), SETTLE)
        .toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      // None of these messages was dead-lettered. The DLQ itself is shared with this file's other scenarios: on a
      // starved machine one of their messages can use up its receives against the compressed visibility (CI38).
      const { Messages: deadLettered = [] } = await system.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueNamed(system, 'NotifierQueueDlq').url,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 0,
        }),
      );
      expect(deadLettered.filter((message) => mentions(message.Body, ...ids))).toEqual([]);
    });

    it('a poison message dead-letters while the order and its other effects go on; redriven after the fix', async () => {
      const pointsName = functionName(system, 'PointsHandlerFunction');
      const dlq = queueNamed(system, 'PointsQueueDlq');
      const source = queueNamed(system, 'PointsQueue');
      const customerId = `poison-${randomUUID().slice(0, 8)}`;
      // The points worker has a bug that only this order's event triggers.
      faultsOf(runtime()).lambda.setFault(pointsName, (event) =>
        mentions(event, customerId) ? 'error' : undefined,
      );

      const placed = await ctx.alice.placeOrder(
        orderBody({ customer: { id: customerId, email: 'poison@example.com' } }),
      );
      const order = await ctx.alice.waitForOrder(placed.body.trackingId);
      await expect.poll(async () => (await queueDepth(system, dlq)).visible, SETTLE).toBe(1);

      expect(order.status).toBe('CONFIRMED');
      expect(await mailCount(ctx.sandbox, order.trackingId)).toEqual({ messages: 1, calls: 1 });
      expect((await ctx.sandbox.charge(order.trackingId)).body.charge).toBeDefined();
      expect(await pointsOf(ctx.table, 'alice', customerId)).toEqual({ balance: undefined, ledger: [] });

      faultsOf(runtime()).lambda.setFault(pointsName, undefined);
      await system.sqs.send(
        new StartMessageMoveTaskCommand({ SourceArn: dlq.arn, DestinationArn: source.arn }),
      );

      await expect
        .poll(() => pointsOf(ctx.table, 'alice', customerId), SETTLE)
        .toEqual({ balance: 4, ledger: [{ orderId: order.trackingId, points: 4 }] });
      await expect
        .poll(async () => queueDepth(system, dlq), SETTLE)
        .toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    });

    it('PutEvents fails for some entries: the relay retries them, none is lost, none doubled', async () => {
      const customers = Array.from({ length: 5 }, (_, i) => `relay-${i}-${randomUUID().slice(0, 8)}`);
      const failing = new Set(customers.slice(0, 2));
      const failures = new Map<string, number>();
      const accepted = new Map<string, number>();
      const facts = new Map<string, { orderId: string; messageType: string }>();
      faultsOf(runtime()).putEvents.setFault((entry) => {
        const customer = customers.find((c) => mentions(entry, c));
        if (!customer) return undefined;
        const detail = JSON.parse(entry.Detail ?? '{}') as {
          messageId: string;
          messageType: string;
          orderId: string;
        };
        facts.set(detail.messageId, detail);
        const failed = failures.get(detail.messageId) ?? 0;
        if (failing.has(customer) && detail.messageType === 'OrderPlaced' && failed < 2) {
          failures.set(detail.messageId, failed + 1);
          return { ErrorCode: 'InternalFailure', ErrorMessage: 'injected: this entry failed' };
        }
        accepted.set(detail.messageId, (accepted.get(detail.messageId) ?? 0) + 1);
        return undefined;
      });

      const placed = await Promise.all(
        customers.map((id) =>
          ctx.alice.placeOrder(orderBody({ customer: { id, email: 'relay@example.com' } })),
        ),
      );
      const orders = await Promise.all(placed.map((p) => ctx.alice.waitForOrder(p.body.trackingId)));
      for (const order of orders) {
        await expect
          .poll(() => mailCount(ctx.sandbox, order.trackingId), SETTLE)
          .toEqual({ messages: 1, calls: 1 });
      }

      expect(orders.map((o) => o.status)).toEqual(Array(5).fill('CONFIRMED'));
      // Two OrderPlaced entries failed twice each, then went through; every fact was accepted exactly once.
      expect([...failures.values()]).toEqual([2, 2]);
      const placedFacts = [...facts].filter(([, f]) => f.messageType === 'OrderPlaced');
      expect(placedFacts).toHaveLength(5);
      for (const [messageId] of facts) expect(accepted.get(messageId), messageId).toBe(1);
      for (const [messageId] of placedFacts) {
        const item = await outboxItem(messageId);
        expect(item?.status).toBe('PUBLISHED');
        expect(Number(item?.attempts ?? 0)).toBe(failures.has(messageId) ? 2 : 0);
      }
      for (const order of orders) {
        expect(await executionsOf(order.trackingId)).toBe(1);
        expect((await ctx.sandbox.charge(order.trackingId)).body.calls).toBe(1);
      }
      expect(await queueDepth(system, queueNamed(system, 'OutboxRelayDlq'))).toEqual({
        visible: 0,
        inFlight: 0,
        delayed: 0,
      });
    });
  });
}
