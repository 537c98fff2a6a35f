import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  type HistoryEventType,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  executionArnFor,
  type RecoveryDeps,
  recoverOrder,
  recoveryKey,
} from '#functions/operations/recovery.ts';
import { context, ORDER_ID, orderKey, sentInput, storedOrder, TABLE } from './helpers.ts';

vi.hoisted(() => {
  process.env.STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Saga';
  process.env.SAGA_WORKFLOW_TYPE = 'STANDARD';
});

const STATE_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Saga';
const ORIGINAL = `arn:aws:states:us-east-1:000000000000:execution:Saga:order-${ORDER_ID}`;
const ddb = mockClient(DynamoDBDocumentClient);
const sfnMock = mockClient(SFNClient);
const deps: RecoveryDeps = {
  doc: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
  tableName: TABLE,
  sfn: new SFNClient({ region: 'us-east-1' }),
  stateMachineArn: STATE_MACHINE,
  workflowType: 'STANDARD',
};

function arrange(order: Record<string, unknown> | undefined, recovery?: Record<string, unknown>): void {
  ddb.on(GetCommand, { Key: orderKey }).resolves({ Item: order });
  ddb.on(GetCommand, { Key: recoveryKey(ORDER_ID) }).resolves({ Item: recovery });
  ddb.on(UpdateCommand).resolves({ Attributes: { attempts: (Number(recovery?.attempts) || 0) + 1 } });
}

function lastStates(...types: HistoryEventType[]): void {
  sfnMock
    .on(GetExecutionHistoryCommand)
    .resolves({ events: types.map((type, id) => ({ type, id, timestamp: new Date() })) });
}

beforeEach(() => {
  ddb.reset();
  sfnMock.reset();
  sfnMock.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
    executionArn: executionArnFor(STATE_MACHINE, input.name),
    startDate: new Date(),
  }));
  sfnMock.on(RedriveExecutionCommand).resolves({ redriveDate: new Date() });
});

/** An order held for the payment provider, five minutes before its hold ends. */
const HELD = {
  now: new Date('2026-05-01T12:00:00.000Z'),
  hold: {
    reason: 'payment provider unavailable since 2026-05-01T11:50:00.000Z',
    since: '2026-05-01T11:50:00.000Z',
    until: '2026-05-01T12:05:00.000Z',
  },
};

describe('recoverOrder', () => {
  it('starts a saga that never started under its usual name', async () => {
    arrange(storedOrder());
    sfnMock
      .on(DescribeExecutionCommand)
      .rejects(new ExecutionDoesNotExist({ message: 'nope', $metadata: {} }));

    const outcome = await recoverOrder(deps, ORDER_ID);

    expect(outcome).toMatchObject({ action: 'started', executionArn: ORIGINAL });
    expect(sentInput(sfnMock, StartExecutionCommand)).toEqual({
      stateMachineArn: STATE_MACHINE,
      name: `order-${ORDER_ID}`,
      input: JSON.stringify({ orderId: ORDER_ID, correlationId: 'corr-1' }),
    });
  });

  it('treats ExecutionAlreadyExists as a saga that started meanwhile', async () => {
    arrange(storedOrder());
    sfnMock
      .on(DescribeExecutionCommand)
      .rejects(new ExecutionDoesNotExist({ message: 'nope', $metadata: {} }));
    sfnMock
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));

    expect((await recoverOrder(deps, ORDER_ID)).action).toBe('none');
  });

  it('leaves finished orders and running sagas alone', async () => {
    arrange(storedOrder({ status: 'CONFIRMED' }));
    expect((await recoverOrder(deps, ORDER_ID)).action).toBe('none');

    arrange(storedOrder());
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', name: `order-${ORDER_ID}` });
    expect((await recoverOrder(deps, ORDER_ID)).action).toBe('none');
    expect(sfnMock).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('redrives a STANDARD execution that failed in a task', async () => {
    arrange(storedOrder());
    sfnMock
      .on(DescribeExecutionCommand)
      .resolves({ status: 'TIMED_OUT', name: `order-${ORDER_ID}`, redriveStatus: 'REDRIVABLE' });
    lastStates('ExecutionTimedOut', 'TaskScheduled', 'TaskStateEntered');

    const outcome = await recoverOrder(deps, ORDER_ID);

    expect(outcome).toMatchObject({ action: 'redriven', executionArn: ORIGINAL, attempt: 1 });
    expect(sfnMock).toHaveReceivedNthCommandWith(RedriveExecutionCommand, 1, { executionArn: ORIGINAL });
  });

  it('restarts as order-<id>-r<n> when the execution ended in a Fail state', async () => {
    arrange(storedOrder(), { attempts: 1, executions: [ORIGINAL] });
    sfnMock.on(DescribeExecutionCommand).resolves({
      status: 'FAILED',
      name: `order-${ORDER_ID}`,
      redriveStatus: 'REDRIVABLE',
      error: 'CompensationFailed',
    });
    lastStates('ExecutionFailed', 'FailStateEntered', 'TaskStateExited');

    const outcome = await recoverOrder(deps, ORDER_ID);

    expect(outcome).toMatchObject({ action: 'restarted', attempt: 2 });
    expect(sfnMock).toHaveReceivedNthCommandWith(StartExecutionCommand, 1, { name: `order-${ORDER_ID}-r2` });
    expect(sfnMock).toHaveReceivedCommandTimes(RedriveExecutionCommand, 0);
  });

  it.each([
    ['compensatingAt', 'its compensation began at 2026-05-01T12:00:00.000Z'],
    ['paymentVoidedAt', 'the payment was voided at 2026-05-01T12:00:00.000Z'],
    ['stockReleasedAt', 'the stock was released at 2026-05-01T12:00:00.000Z'],
  ])(
    'restarts an order whose compensation began (%s) so that the restart finishes it',
    async (field, since) => {
      arrange(storedOrder({ [field]: '2026-05-01T12:00:00.000Z' }));
      sfnMock
        .on(DescribeExecutionCommand)
        .resolves({ status: 'FAILED', name: 'x', redriveStatus: 'REDRIVABLE' });
      lastStates('ExecutionFailed', 'FailStateEntered');

      const outcome = await recoverOrder(deps, ORDER_ID);

      expect(outcome).toMatchObject({ action: 'restarted', attempt: 1 });
      expect(outcome.reason).toContain(`${since}, so the forward steps refuse the order`);
      expect(sfnMock).toHaveReceivedCommandWith(StartExecutionCommand, { name: `order-${ORDER_ID}-r1` });
    },
  );

  it('stops after the attempt limit', async () => {
    arrange(storedOrder(), { attempts: 3, executions: [ORIGINAL] });
    sfnMock
      .on(DescribeExecutionCommand)
      .resolves({ status: 'FAILED', name: 'x', redriveStatus: 'REDRIVABLE' });
    lastStates('ExecutionFailed', 'FailStateEntered');
    expect(await recoverOrder(deps, ORDER_ID)).toMatchObject({ action: 'blocked' });
    expect(sfnMock).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('restarts EXPRESS sagas from the order state without describing executions', async () => {
    arrange(storedOrder());

    const outcome = await recoverOrder({ ...deps, workflowType: 'EXPRESS' }, ORDER_ID);

    expect(outcome).toMatchObject({ action: 'restarted', attempt: 1 });
    expect(sfnMock).toHaveReceivedCommandTimes(DescribeExecutionCommand, 0);
  });

  it('leaves an order held for the payment provider alone until its hold ends, then restarts it', async () => {
    const { now, hold } = HELD;
    arrange(storedOrder({ hold, heldAt: hold.since }));
    const express = { ...deps, workflowType: 'EXPRESS' as const };

    expect(await recoverOrder(express, ORDER_ID, { now })).toEqual({
      orderId: ORDER_ID,
      action: 'none',
      reason: `held until ${hold.until}: ${hold.reason}`,
    });
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);

    const over = await recoverOrder(express, ORDER_ID, { now: new Date(hold.until) });
    expect(over).toMatchObject({ action: 'restarted', attempt: 1 });
  });

  it('leaves a held STANDARD order alone while its execution waits, and redrives it at once when that execution ended', async () => {
    // Arrange
    const { now, hold } = HELD;
    arrange(storedOrder({ hold, heldAt: hold.since }));
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', name: `order-${ORDER_ID}` });

    // Act + assert: its execution is in its Wait loop.
    expect(await recoverOrder(deps, ORDER_ID, { now })).toEqual({
      orderId: ORDER_ID,
      action: 'none',
      reason: `held until ${hold.until}: ${hold.reason}`,
    });
    expect(sfnMock).toHaveReceivedCommandTimes(RedriveExecutionCommand, 0);

    // Arrange: the execution ended in that Wait (the local runtime was killed), so nothing would come back to the order.
    sfnMock.on(DescribeExecutionCommand).resolves({
      status: 'FAILED',
      name: `order-${ORDER_ID}`,
      redriveStatus: 'REDRIVABLE',
      error: 'Runtime.Interrupted',
    });
    lastStates('ExecutionFailed', 'WaitStateEntered');

    // Act + assert: redriven now, not when the hold ends.
    expect(await recoverOrder(deps, ORDER_ID, { now })).toMatchObject({ action: 'redriven', attempt: 1 });
    expect(sfnMock).toHaveReceivedNthCommandWith(RedriveExecutionCommand, 1, { executionArn: ORIGINAL });
  });

  it('changes nothing in a dry run', async () => {
    arrange(storedOrder());
    sfnMock
      .on(DescribeExecutionCommand)
      .resolves({ status: 'FAILED', name: 'x', redriveStatus: 'REDRIVABLE' });
    lastStates('ExecutionFailed', 'FailStateEntered');

    const outcome = await recoverOrder(deps, ORDER_ID, { dryRun: true });

    expect(outcome).toMatchObject({ action: 'restarted', dryRun: true });
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 0);
    expect(sfnMock).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });
});

describe('reconcile handler', () => {
  it('drives every order past the deadline and reports a summary', async () => {
    const { handler } = await import('#functions/operations/reconcile-orders.ts');
    ddb.on(QueryCommand).resolves({ Items: [{ orderId: ORDER_ID }] });
    arrange(storedOrder());
    sfnMock
      .on(DescribeExecutionCommand)
      .rejects(new ExecutionDoesNotExist({ message: 'nope', $metadata: {} }));

    const summary = await handler({}, context);

    expect(summary).toMatchObject({ examined: 1, started: 1, errors: 0 });
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      IndexName: 'Open',
      ExpressionAttributeValues: expect.objectContaining({ ':pk': 'ORDER#PENDING' }),
    });
  });

  it('fails the run after handling the others when an order cannot be examined', async () => {
    const { handler, ReconcileIncomplete } = await import('#functions/operations/reconcile-orders.ts');
    ddb.on(QueryCommand).resolves({ Items: [{ orderId: ORDER_ID }] });
    arrange(storedOrder());
    sfnMock.on(DescribeExecutionCommand).rejects(new Error('throttled'));

    await expect(handler({}, context)).rejects.toBeInstanceOf(ReconcileIncomplete);
  });
});
