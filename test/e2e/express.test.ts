/**
 * The saga as an EXPRESS workflow, where AWS runs executions at least once: a second StartExecution under the order's
 * execution name starts a second, concurrent execution (no dedupe by name), and a lost execution is run again from
 * the beginning. Two executions of one order must still agree on one outcome: if one of them has begun compensating
 * (refunded the charge, released the stock), the other must not confirm the order.
 *
 * Local target only: the race is set up through the runtime's hooks (Lambda fault rules, a second start of the same
 * execution), so it happens in the same order on every run instead of by luck.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SystemUnderTest } from '#chaos/system.ts';
import { systemFromRuntime } from '#chaos/system.ts';
import { recoverOrder } from '#functions/operations/recovery.ts';
import { executionName } from '#functions/saga/starter.ts';
import { EXPRESS_CDK_OUT } from '#local/buzzer/synth.ts';
import { faultsOf } from '#local/faults/index.ts';
import { ApiClient, orderBody, SandboxClient } from './client.ts';
import { functionName, mentions } from './local-faults.ts';
import { stockLevel, type TableAccess, tableAccess } from './table.ts';
import { startTarget, type Target } from './target.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let target: Target;
let system: SystemUnderTest;
let alice: ApiClient;
let sandbox: SandboxClient;
let table: TableAccess;

function runtime() {
  if (!target.runtime) throw new Error('express.test.ts runs on the local target only');
  return target.runtime;
}

beforeAll(async () => {
  target = await startTarget({
    cdkOut: EXPRESS_CDK_OUT,
    // Long enough between compensation retries that the second execution runs while the first one's CancelOrder is
    // held back (see below); short enough that a retry scenario still ends in seconds.
    retryIntervalOverrideMs: 500,
  });
  system = await systemFromRuntime(runtime(), path.join(PROJECT_ROOT, EXPRESS_CDK_OUT), 'alice');
  alice = new ApiClient(target.apiUrl, target.apiKeys.alice ?? '');
  sandbox = new SandboxClient(target.sandboxUrl, target.sandboxAuth);
  table = tableAccess(target);
});

afterEach(() => {
  faultsOf(runtime()).lambda.clearFaults();
});

afterAll(async () => {
  system?.close();
  table?.close();
  await target?.stop();
});

async function orderItem(orderId: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await table.doc.send(
    new GetCommand({
      TableName: table.tableName,
      Key: { pk: `ORDER#${orderId}`, sk: 'ORDER' },
      ConsistentRead: true,
    }),
  );
  return Item;
}

/** The engines a scenario drives, the saga's state machine, and the espresso stock before the scenario. */
async function arrangeSaga() {
  const [stateMachineArn] = Object.values(system.stateMachines);
  if (!stateMachineArn) throw new Error('the stack has no state machine');
  const stockBefore = await stockLevel(table, 'espresso');
  if (stockBefore === undefined) throw new Error('espresso has no stock item');
  return {
    sfn: runtime().engines.stepFunctions,
    lambda: faultsOf(runtime()).lambda,
    stateMachineArn,
    stockBefore,
  };
}

describe('saga as an EXPRESS workflow (at-least-once executions)', () => {
  it('runs the saga as EXPRESS, where a second start under one name runs a second execution', () => {
    const [stateMachineArn] = Object.values(system.stateMachines);
    expect(stateMachineArn).toBeDefined();
    expect(
      runtime().engines.stepFunctions.describeStateMachine({ stateMachineArn: stateMachineArn ?? '' }).type,
    ).toBe('EXPRESS');
  });

  it('two executions of one order, one compensating while the other goes on: never CONFIRMED with a refund', async () => {
    const { sfn, lambda, stateMachineArn, stockBefore } = await arrangeSaga();

    // Execution A: AuthorizePayment charges the card, then its answer is lost on every attempt (the environment dies
    // after the work), so A gives up and compensates: it refunds the charge and puts the stock back.
    let secondStarted = false;
    let secondEnded = false;
    lambda.setFault(functionName(system, 'SagaAuthorizePaymentFunction'), () =>
      secondStarted ? undefined : 'crash',
    );
    // A's last compensation (CancelOrder, caught from A's lost answers) is held back until execution B has ended: B
    // runs exactly while A stands between "refunded and released" and "cancelled", the window AWS leaves open
    // whenever two executions of one order overlap. B's own CancelOrder, if it compensates, is not held.
    lambda.setFault(functionName(system, 'SagaCancelOrderFunction'), (event) =>
      !secondEnded && mentions(event, 'Runtime.ExitError') ? 'error' : undefined,
    );

    const placed = await alice.placeOrder(orderBody({ paymentToken: 'tok_ok' }));
    expect(placed.status).toBe(202);
    const orderId = placed.body.trackingId;

    await expect
      .poll(async () => (await orderItem(orderId))?.stockReleasedAt, { timeout: 30_000 })
      .toBeDefined();
    const first = sfn
      .listExecutions({ stateMachineArn })
      .executions.find((execution) => execution.name === executionName(orderId));
    if (!first?.executionArn) throw new Error(`no execution of order ${orderId}`);
    const { input } = sfn.describeExecution({ executionArn: first.executionArn });

    // Execution B: the same start delivered again (or AWS running the execution again from the beginning).
    secondStarted = true;
    const second = await system.sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: executionName(orderId), input }),
    );
    if (!second.executionArn) throw new Error('StartExecution returned no executionArn');
    expect(second.executionArn).not.toBe(first.executionArn);
    await sfn.waitForExecution(second.executionArn);
    secondEnded = true;
    await sfn.waitForExecution(first.executionArn);

    const order = await alice.waitForOrder(orderId);
    const charge = await sandbox.charge(orderId);
    const stockAfter = await stockLevel(table, 'espresso');
    const outcome = {
      status: order.status,
      charged: charge.body.charge !== undefined,
      refunds: charge.body.refunds.length,
      stockTaken: stockBefore - (stockAfter ?? Number.NaN),
    };

    // Either the order is confirmed and keeps its money and stock, or it is cancelled with the charge refunded and
    // the stock back: never half of each (today's failure: CONFIRMED, refunded, stock released).
    const consistent =
      outcome.status === 'CONFIRMED'
        ? { status: 'CONFIRMED', charged: true, refunds: 0, stockTaken: 2 }
        : { status: 'CANCELLED', charged: true, refunds: 1, stockTaken: 0 };
    expect(outcome, `timeline: ${JSON.stringify(order.timeline)}`).toEqual(consistent);
  });

  it('an execution lost halfway through its compensations is restarted and finishes them: CANCELLED, one refund, stock back', async () => {
    const { sfn, lambda, stateMachineArn, stockBefore } = await arrangeSaga();

    // The charge is made but its answer lost on every attempt, so the saga compensates: VoidPayment refunds the
    // charge, then ReleaseStock fails on every retry and the execution ends FAILED between the two compensations,
    // as an EXPRESS execution whose state AWS lost there would end.
    lambda.setFault(functionName(system, 'SagaAuthorizePaymentFunction'), () => 'crash');
    lambda.setFault(functionName(system, 'SagaReleaseStockFunction'), () => 'error');
    const placed = await alice.placeOrder(orderBody({ paymentToken: 'tok_ok' }));
    expect(placed.status).toBe(202);
    const orderId = placed.body.trackingId;
    await expect
      .poll(
        () =>
          sfn
            .listExecutions({ stateMachineArn })
            .executions.find((execution) => execution.name === executionName(orderId))?.status,
        { timeout: 60_000 },
      )
      .toBe('FAILED');
    expect(await orderItem(orderId)).toMatchObject({
      status: 'PENDING',
      compensatingAt: expect.any(String),
      paymentVoidedAt: expect.any(String),
    });
    expect((await orderItem(orderId))?.stockReleasedAt).toBeUndefined();
    lambda.clearFaults();

    // What the reconciler and `buzzer saga redrive --order` do for an EXPRESS saga that left its order PENDING.
    const outcome = await recoverOrder(
      {
        doc: system.doc,
        tableName: system.tableName,
        sfn: system.sfn,
        stateMachineArn,
        workflowType: 'EXPRESS',
      },
      orderId,
    );

    expect(outcome).toMatchObject({ action: 'restarted', attempt: 1 });
    const order = await alice.waitForOrder(orderId);
    const charge = await sandbox.charge(orderId);
    expect({
      status: order.status,
      charged: charge.body.charge !== undefined,
      refunds: charge.body.refunds.length,
      stockTaken: stockBefore - ((await stockLevel(table, 'espresso')) ?? Number.NaN),
    }).toEqual({ status: 'CANCELLED', charged: true, refunds: 1, stockTaken: 0 });
  });
});
