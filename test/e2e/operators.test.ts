/**
 * Operators on the local runtime: a broken mail sink fills the notify DLQ and a redrive empties it with exactly one
 * mail per customer; failed and aborted sagas are redriven to completion; an order whose OrderPlaced was lost is
 * finished by the scheduled reconciler; the relay replays a FAILED outbox item; `buzzer metrics` shows the business
 * metrics the handlers write as EMF lines (contracts/metrics.ts), read by the runtime (local/metrics/emf.ts) as
 * CloudWatch would. The CLI commands run in-process against the runtime this file starts (discovery injected), plus
 * one spawned `npx buzzer --help`.
 *
 * Local target only (vitest.config.ts leaves it out on deployed targets): it injects faults into the running engines
 * and inserts items behind the API's back, and the reconciler's schedule is compressed to a second, none of which a
 * deployed stack offers; a deployed stack's metrics are in CloudWatch.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DescribeExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byLogicalName } from '#chaos/system.ts';
import { executionArnFor } from '#functions/operations/recovery.ts';
import { faultsOf } from '#local/faults/index.ts';
import {
  clientsForRuntime,
  contextFor,
  type OpsContext,
  type RuntimeFile,
  resolveQueue,
  targetFromRuntime,
} from '#ops/cli/context.ts';
import type { PeekResult, RedriveResult } from '#ops/cli/dlq.ts';
import type { CreatedKey } from '#ops/cli/keys.ts';
import type { MetricsReport } from '#ops/cli/metrics.ts';
import type { OrderStory } from '#ops/cli/order.ts';
import { queueDepth } from '#ops/cli/queues.ts';
import type { ReplayResult } from '#ops/cli/relay.ts';
import type { BulkRedriveResult } from '#ops/cli/saga.ts';
import type { StatusReport } from '#ops/cli/status.ts';
import { buzzerJson } from './cli-support.ts';
import { ApiClient, orderBody, SandboxClient } from './client.ts';
import { until } from './fault-support.ts';
import { insertPendingOrder } from './insert-order.ts';
import { startTarget, type Target } from './target.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let target: Target;
let runtimeFile: RuntimeFile;
let ctx: OpsContext;
let alice: ApiClient;
let sandbox: SandboxClient;

/** Runs `buzzer <args> --json` in-process against this file's runtime and parses what it printed. */
const buzzer = <T>(...args: string[]) => buzzerJson<T>(runtimeFile, ...args);

const notifyDlqDepth = async () => {
  const queue = ctx.target.queues.find((q) => q.alias === 'notify');
  if (!queue) throw new Error('no notify queue alias');
  const depth = await queueDepth(ctx.clients.sqs, queue.dlq.url);
  return depth.visible + depth.inFlight;
};

const mailsFor = async (orderId: string) => (await sandbox.mailFor(orderId)).body.messages.length;

const executionArn = (name: string) => executionArnFor(ctx.target.stateMachineArn, name);

/** An order as the API writes it, PENDING since `createdAt`, with its OrderPlaced outbox item in `outboxStatus`. */
const insertOrder = (createdAt: Date, outboxStatus: 'PUBLISHED' | 'FAILED') =>
  insertPendingOrder(
    { doc: ctx.clients.doc, tableName: ctx.target.tableName },
    'alice',
    createdAt,
    outboxStatus,
  );

beforeAll(async () => {
  target = await startTarget({
    clients: ['alice'],
    // The reconciler every second; it only picks orders PENDING for longer than its 10-minute deadline.
    scheduleIntervalMs: 1000,
    // Notify retries back off 1-2 s instead of 30 s-15 min, so five receives take seconds. The DLQ scenario needs
    // the failures to reach the DLQ: a mail circuit that never opens lets them (an open one would hold the mail).
    environment: {
      RETRY_BACKOFF_BASE_SECONDS: '1',
      RETRY_BACKOFF_MAX_SECONDS: '2',
      MAIL_CIRCUIT_FAILURE_THRESHOLD: '1000',
      // An unanswered charge request may land for this long, so a compensation waits it out before it decides that
      // nothing was charged: 6 s instead of the provider contract's 30 s (above the 3 s payment time-out it bounds;
      // no token of this file lands later than 1 s), so the saga redrive below does not wait half a minute.
      PAYMENT_SETTLE_SECONDS: '6',
    },
  });
  const runtime = target.runtime;
  if (!runtime) throw new Error('the local target has no runtime');
  runtimeFile = { ...runtime.info, clientEnvironment: runtime.clientEnvironment };
  ctx = contextFor(targetFromRuntime(runtimeFile), clientsForRuntime(runtimeFile));
  alice = new ApiClient(target.apiUrl, target.apiKeys.alice ?? '');
  sandbox = new SandboxClient(target.sandboxUrl, target.sandboxAuth);
});

afterAll(async () => {
  await sandbox?.setFaults({ mailBroken: false, paymentFailureRate: 0 });
  ctx?.close();
  await target?.stop();
});

describe('operators on the local runtime', () => {
  it('fills the notify DLQ while the mail sink is down, shows it, and redrives it to one mail per customer', async () => {
    await sandbox.setFaults({ mailBroken: true });
    const orderIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const placed = await alice.placeOrder(
        orderBody({ customer: { id: `c-dlq-${i}`, email: `ada${i}@example.com`, name: 'Ada' } }),
      );
      orderIds.push(placed.body.trackingId);
    }
    for (const id of orderIds) expect((await alice.waitForOrder(id)).status).toBe('CONFIRMED');

    // Back-pressure: while the mail keeps failing, the notify work queue holds its messages and ages them.
    const backlog = await until(
      'the notify queue’s backlog in buzzer status',
      async () => (await buzzer<StatusReport>('status')).workQueues.queues.find((q) => q.alias === 'notify'),
      (notify) =>
        notify !== undefined && notify.waiting + notify.inFlight > 0 && notify.oldestAgeSeconds !== null,
      30_000,
    );
    expect(backlog).toMatchObject({ maxAgeSeconds: 900, tooOld: false });
    expect(backlog?.oldestAgeSeconds).toBeLessThan(60);

    await until('three messages in the notify DLQ', notifyDlqDepth, (depth) => depth === 3);
    const status = await buzzer<StatusReport>('status');
    const peek = await buzzer<PeekResult>('dlq', 'peek', 'notify');

    expect(status.healthy).toBe(false);
    expect(status.dlqs.find((d) => d.alias === 'notify')).toMatchObject({ depth: 3 });
    expect(status.dlqs.find((d) => d.alias === 'notify')?.oldestAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(peek.messages).toHaveLength(3);
    expect(peek.messages.map((m) => m.orderId).sort()).toEqual([...orderIds].sort());
    for (const message of peek.messages) {
      expect(message.messageType).toBe('OrderConfirmed');
      expect(message.lastError).toMatch(/503|broken|unavailable/i);
      expect(message.receiveCount).toBeGreaterThanOrEqual(1);
      expect(JSON.stringify(message.body)).not.toMatch(/ada\d@example\.com|"Ada"/);
      expect(JSON.stringify(message.body)).toMatch(/a\*\*\*@example\.com/);
    }
    expect(await mailsFor(orderIds[0] ?? '')).toBe(0);

    await sandbox.setFaults({ mailBroken: false });
    const dryRun = await buzzer<RedriveResult>(
      'dlq',
      'redrive',
      'notify',
      '--dry-run',
      '--filter',
      `detail.orderId=${orderIds[0]}`,
    );
    const selective = await buzzer<RedriveResult>(
      'dlq',
      'redrive',
      'notify',
      '--filter',
      `detail.orderId=${orderIds[0]}`,
    );
    const native = await buzzer<RedriveResult>('dlq', 'redrive', 'notify', '--rate', '50');

    expect(dryRun).toMatchObject({ mode: 'selective', dryRun: true, moved: 1, examined: 3 });
    expect(selective).toMatchObject({ mode: 'selective', moved: 1 });
    expect(native).toMatchObject({ mode: 'native', moved: 2 });
    await until('the notify DLQ to empty', notifyDlqDepth, (depth) => depth === 0);
    for (const id of orderIds)
      await until(
        `a mail for ${id}`,
        () => mailsFor(id),
        (n) => n >= 1,
      );
    // Let any straggling redelivery land before counting: each customer must have exactly one mail.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    for (const id of orderIds) expect(await mailsFor(id)).toBe(1);
  }, 150_000);

  it('redrives a saga whose compensation kept failing, so the remaining compensations run', async () => {
    // Every provider call fails: AuthorizePayment runs out of retries, then VoidPayment (a compensation) does too,
    // and the execution stops FAILED *in* VoidPayment with the order still PENDING.
    await sandbox.setFaults({ paymentFailureRate: 1 });
    try {
      const placed = await alice.placeOrder(orderBody());
      const orderId = placed.body.trackingId;
      const arn = executionArn(`order-${orderId}`);
      const failed = await until(
        'the saga to fail in its compensation',
        () =>
          ctx.clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn })).catch(() => undefined),
        (execution) => execution?.status === 'FAILED',
      );
      expect(failed?.error).toBe('PaymentProviderUnavailable');
      const status = await buzzer<StatusReport>('status');
      expect(status.saga.failed).toContainEqual(expect.objectContaining({ orderId, orderStatus: 'PENDING' }));

      await sandbox.setFaults({ paymentFailureRate: 0 });
      const redrive = await buzzer<BulkRedriveResult>('saga', 'redrive', arn);

      expect(redrive.outcomes).toEqual([
        expect.objectContaining({ orderId, action: 'redriven', executionArn: arn }),
      ]);
      // The failed charge requests went unanswered: VoidPayment waits out the provider's settle time (6 s here, after
      // the last request) before it decides that no charge was made.
      const order = await alice.waitForOrder(orderId, undefined, 60_000);
      expect(order.status).toBe('CANCELLED');
      expect(order.failureReason).toBe('PAYMENT_UNAVAILABLE');
      expect(order.timeline.map((t) => t.step).slice(-3)).toEqual([
        'VoidPayment',
        'ReleaseStock',
        'CancelOrder',
      ]);
      await until(
        'one mail',
        () => mailsFor(orderId),
        (n) => n === 1,
      );
    } finally {
      await sandbox.setFaults({});
    }
  }, 120_000);

  it('redrives an aborted STANDARD execution in place', async () => {
    const placed = await alice.placeOrder(orderBody({ paymentToken: 'tok_slow' }));
    const orderId = placed.body.trackingId;
    const arn = executionArn(`order-${orderId}`);
    await until(
      'the saga to reach the payment',
      () => alice.getOrder(orderId),
      (o) => o.body.timeline.some((t) => t.step === 'ReserveStock'),
    );
    await ctx.clients.sfn.send(
      new StopExecutionCommand({ executionArn: arn, error: 'Operator', cause: 'test' }),
    );
    await until(
      'the execution to stop',
      () => ctx.clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn })),
      (e) => e.status === 'ABORTED',
    );

    const redrive = await buzzer<BulkRedriveResult>('saga', 'redrive', '--failed-since', '10m');

    expect(redrive.outcomes).toContainEqual(
      expect.objectContaining({ orderId, action: 'redriven', executionArn: arn }),
    );
    expect((await alice.waitForOrder(orderId)).status).toBe('CONFIRMED');
    // ConfirmOrder commits the order before its execution records the task's result and ends: the two are not one
    // instant, and on a loaded machine a describe between them still finds the execution RUNNING.
    await expect
      .poll(() => ctx.clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn })))
      .toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
  });

  it('lets the scheduled reconciler finish an order whose OrderPlaced was lost', async () => {
    const orderId = await insertOrder(new Date(Date.now() - 60 * 60_000), 'PUBLISHED');

    const order = await alice.waitForOrder(orderId, undefined, 45_000);

    expect(order.status).toBe('CONFIRMED');
    const story = await buzzer<OrderStory>('order', orderId);
    expect(story.correlationId).toBe(`corr-${orderId}`);
    expect(story.executions[0]).toMatchObject({ name: `order-${orderId}`, status: 'SUCCEEDED' });
    expect(story.executions[0]?.steps.map((s) => s.state)).toEqual(
      expect.arrayContaining(['ReserveStock', 'AuthorizePayment', 'ConfirmOrder']),
    );
    expect(story.outbox.map((o) => o.messageType)).toEqual(
      expect.arrayContaining(['OrderPlaced', 'OrderConfirmed']),
    );
    await until(
      'the notify effect',
      async () => (await buzzer<OrderStory>('order', orderId)).effects,
      (e) => e.some((effect) => effect.consumer === 'notify' && effect.status === 'DONE'),
    );
    expect(JSON.stringify(story.order)).not.toContain('grace@example.com');
    const status = await buzzer<StatusReport>('status');
    expect(status.orders.stuck.map((o) => o.orderId)).not.toContain(orderId);
  }, 90_000);

  it('starts the saga of a just-placed order whose OrderPlaced was lost, when the operator asks', async () => {
    // Too young for the reconciler's 10-minute deadline: only the operator's command drives it now.
    const orderId = await insertOrder(new Date(), 'PUBLISHED');

    const dryRun = await buzzer<BulkRedriveResult>('saga', 'redrive', '--order', orderId, '--dry-run');
    const result = await buzzer<BulkRedriveResult>('saga', 'redrive', '--order', orderId);
    const again = await buzzer<BulkRedriveResult>('saga', 'redrive', '--order', orderId);

    expect(dryRun.outcomes).toEqual([expect.objectContaining({ orderId, action: 'started', dryRun: true })]);
    expect(result.outcomes).toEqual([expect.objectContaining({ orderId, action: 'started' })]);
    expect(again.outcomes).toEqual([expect.objectContaining({ orderId, action: 'none' })]);
    expect((await alice.waitForOrder(orderId)).status).toBe('CONFIRMED');
    expect((await sandbox.charge(orderId)).body.calls).toBe(1);
    await expect(buzzer('saga', 'redrive', '--order', 'not-a-uuid')).rejects.toThrow(/not a tracking id/);
  });

  it('replays an outbox item the relay left FAILED', async () => {
    const orderId = await insertOrder(new Date(), 'FAILED');
    const before = await buzzer<StatusReport>('status');
    expect(before.outbox.failed.map((o) => o.orderId)).toContain(orderId);

    const replay = await buzzer<ReplayResult>('relay', 'replay');

    expect(replay.replayed).toContainEqual(
      expect.objectContaining({ orderId, messageType: 'OrderPlaced', from: 'FAILED item' }),
    );
    expect((await alice.waitForOrder(orderId)).status).toBe('CONFIRMED');
    const after = await buzzer<StatusReport>('status');
    expect(after.outbox.failed.map((o) => o.orderId)).not.toContain(orderId);
  }, 90_000);

  it('replays a stream batch the relay mapping gave up on, read back from the stream (its item is in no index)', async () => {
    const runtime = target.runtime;
    const relay = runtime && byLogicalName(runtime.info.functions, 'OutboxRelayHandlerFunction');
    if (!runtime || !relay) throw new Error('no local relay function');
    const relayDlq = resolveQueue(ctx.target, 'relay').dlq.url;
    const body = orderBody();
    // The relay fails every batch that holds this order's OrderPlaced: bisected down to that record, retried to the
    // mapping's cap, then given up to its on-failure destination (the relay DLQ), a record naming the stream range.
    faultsOf(runtime).lambda.setFault(relay, (event) =>
      JSON.stringify(event).includes(body.customer.id) ? 'error' : undefined,
    );
    let orderId: string;
    try {
      const placed = await alice.placeOrder(body);
      expect(placed.status).toBe(202);
      orderId = placed.body.trackingId;
      await until(
        'the mapping to give the batch up',
        () => queueDepth(ctx.clients.sqs, relayDlq),
        (depth) => depth.visible > 0,
        90_000,
      );
    } finally {
      faultsOf(runtime).lambda.clearFaults();
    }
    expect((await alice.getOrder(orderId)).body.status).toBe('PENDING');

    const replay = await buzzer<ReplayResult>('relay', 'replay');

    expect(replay.replayed).toContainEqual(
      expect.objectContaining({
        orderId,
        messageType: 'OrderPlaced',
        from: expect.stringMatching(/^stream batch /),
      }),
    );
    expect((await alice.waitForOrder(orderId)).status).toBe('CONFIRMED');
    expect((await sandbox.charge(orderId)).body.calls).toBe(1);
    // Its on-failure record is gone from the DLQ: every item it named is published.
    expect(await queueDepth(ctx.clients.sqs, relayDlq)).toMatchObject({ visible: 0, inFlight: 0 });
    const again = await buzzer<ReplayResult>('relay', 'replay');
    expect(again.replayed.map((r) => r.orderId)).not.toContain(orderId);
  }, 150_000);

  it('issues API keys that the API accepts', async () => {
    const created = await buzzer<CreatedKey>('keys', 'create', '--client', 'carol', '--label', 'e2e');
    const carol = new ApiClient(target.apiUrl, created.apiKey);

    const placed = await carol.placeOrder(orderBody());

    expect(placed.status).toBe(202);
    expect((await alice.getOrder(placed.body.trackingId)).status).toBe(404);
  });

  it('answers npx buzzer --help', async () => {
    const { stdout } = await promisify(execFile)('npx', ['buzzer', '--help'], { cwd: PROJECT_ROOT });

    expect(stdout).toContain('Usage: buzzer');
    for (const command of ['status', 'dlq', 'saga', 'relay', 'order', 'keys'])
      expect(stdout).toContain(command);
  });
});

// After the operators' scenarios, which leave the sandbox healthy: its orders must not meet a broken mail sink and
// land in the notify DLQ that the first of them counts. The counts are since the runtime's start, so they assert
// at-least figures.
describe('business metrics on the local runtime', () => {
  it('counts accepted, confirmed and cancelled orders, saga steps and cold starts from the EMF lines', async () => {
    const confirmed = 3;
    const ids: string[] = [];
    for (let i = 0; i < confirmed; i++) {
      ids.push((await alice.placeOrder(orderBody({ paymentToken: 'tok_ok' }))).body.trackingId);
    }
    const declined = (await alice.placeOrder(orderBody({ paymentToken: 'tok_decline' }))).body.trackingId;
    // The suite shares two cores with other files: a generous wait per order.
    for (const id of ids) expect((await alice.waitForOrder(id, undefined, 120_000)).status).toBe('CONFIRMED');
    expect((await alice.waitForOrder(declined, undefined, 120_000)).status).toBe('CANCELLED');

    // The last EMF lines are flushed at the end of each invocation: wait for the counts, not for a lucky schedule.
    await expect
      .poll(async () => (await buzzer<MetricsReport>('metrics')).metrics?.orders.confirmed ?? 0)
      .toBeGreaterThanOrEqual(confirmed);
    const { metrics } = await buzzer<MetricsReport>('metrics');
    expect(metrics).not.toBeNull();
    expect(metrics?.orders.accepted).toBeGreaterThanOrEqual(confirmed + 1);
    expect(metrics?.orders.cancelledByReason.PAYMENT_DECLINED).toBeGreaterThanOrEqual(1);
    expect(metrics?.sagaSteps.map((s) => s.step)).toEqual(
      expect.arrayContaining(['ReserveStock', 'AuthorizePayment', 'ConfirmOrder']),
    );
    expect(metrics?.coldStarts.length).toBeGreaterThan(0);
    expect(metrics?.outOfContract).toEqual([]);

    // The runtime's store and the CLI agree; `buzzer status` shows the same counts.
    const snapshot = target.runtime?.metrics.snapshot();
    expect(snapshot?.lines.invalid).toBe(0);
    const status = await buzzer<StatusReport>('status');
    expect(status.metrics.summary?.orders.confirmed).toBeGreaterThanOrEqual(confirmed);
  }, 300_000);
});
