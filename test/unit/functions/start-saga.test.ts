import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { breakerKey } from '#functions/resilience/circuit-breaker.ts';
import { HELD_COPY_ATTRIBUTE, LATE_COPY_GRACE_SECONDS } from '#shared/requeue.ts';
import { keys } from '#shared/table-keys.ts';
import {
  conditionFailed,
  context,
  eventBridgeBody,
  ids,
  NOW,
  ORDER_ID,
  sqsEvent,
  sqsRecord,
} from './helpers.ts';

vi.hoisted(() => {
  process.env.STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Buzzer-Saga';
  process.env.TABLE_NAME = 'buzzer-test';
});

const { handler } = await import('#functions/saga/start-saga.ts');

const sfn = mockClient(SFNClient);
const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);

const detail = {
  messageId: 'msg-1',
  messageType: 'OrderPlaced',
  orderId: ORDER_ID,
  clientId: 'client-a',
  correlationId: 'corr-1',
  version: 1,
  occurredAt: '2026-05-01T12:00:00.000Z',
  payload: {
    orderId: ORDER_ID,
    status: 'PENDING',
    customer: { id: 'cust-1', email: 'ada@example.com' },
    items: [{ sku: 'BEAN-1', quantity: 1 }],
    currency: 'EUR',
    createdAt: '2026-05-01T12:00:00.000Z',
  },
};

beforeEach(() => {
  sfn.reset();
  ddb.reset();
  sqs.reset();
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
  sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: 'http://sqs.local/000000000000/start' });
  sqs.on(SendMessageCommand).resolves({ MessageId: 'copy' });
});

describe('start-saga', () => {
  it('starts one execution named order-<orderId> with {orderId, correlationId}', async () => {
    const result = await handler(sqsEvent(sqsRecord(eventBridgeBody('OrderPlaced', detail), 'm1')), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sfn).toHaveReceivedCommandExactlyOnceWith(StartExecutionCommand, {
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Buzzer-Saga',
      name: `order-${ORDER_ID}`,
      input: JSON.stringify({ orderId: ORDER_ID, correlationId: 'corr-1' }),
    });
  });

  it('treats ExecutionAlreadyExists as already started (a duplicate delivery)', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));

    const result = await handler(sqsEvent(sqsRecord(eventBridgeBody('OrderPlaced', detail), 'm1')), context);

    expect(result).toEqual({ batchItemFailures: [] });
  });

  it('fails only the records it cannot use, so they reach the DLQ, and starts the rest', async () => {
    const result = await handler(
      sqsEvent(
        sqsRecord('not json', 'bad-json'),
        sqsRecord(
          eventBridgeBody('OrderConfirmed', { ...detail, messageType: 'OrderConfirmed' }),
          'wrong-type',
        ),
        sqsRecord(eventBridgeBody('OrderPlaced', { ...detail, correlationId: undefined }), 'no-correlation'),
        sqsRecord(
          eventBridgeBody('OrderPlaced', {
            ...detail,
            orderId: 'x',
            payload: { ...detail.payload, orderId: 'x' },
          }),
          'bad-id',
        ),
        sqsRecord(eventBridgeBody('OrderPlaced', detail), 'good'),
      ),
      context,
    );

    expect(ids(result.batchItemFailures)).toEqual(['bad-id', 'bad-json', 'no-correlation', 'wrong-type']);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  it('fails the record when Step Functions is throttling, for a later retry', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    const result = await handler(sqsEvent(sqsRecord(eventBridgeBody('OrderPlaced', detail), 'm1')), context);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
  });
});

describe('start-saga: an EXPRESS order parked while the payment circuit was open comes back', () => {
  const resume = (holdUntil: string) =>
    JSON.stringify({ kind: 'ResumeSaga', orderId: ORDER_ID, correlationId: 'corr-1', holdUntil });
  const circuitIs = (item: Record<string, unknown> | undefined) =>
    ddb.on(GetCommand, { Key: breakerKey('payment') }).resolves({
      Item: item && { ...breakerKey('payment'), version: 2, failures: 5, ...item },
    });
  const inAMinute = new Date(NOW.getTime() + 60_000).toISOString();
  /** A copy an earlier delivery (`sentBy`) put back on the queue to wait. */
  const heldCopy = (body: string, messageId: string, sentBy: string) => ({
    ...sqsRecord(body, messageId),
    messageAttributes: {
      [HELD_COPY_ATTRIBUTE]: {
        stringValue: sentBy,
        dataType: 'String',
        stringListValues: [],
        binaryListValues: [],
      },
    },
  });

  /** The line of held orders (release-line.ts): `ahead` held before this one, then this one. */
  const lineHolds = (ahead: number) =>
    ddb.on(QueryCommand).resolves({
      Items: [...Array.from({ length: ahead }, (_, i) => ({ orderId: `held-${i}` })), { orderId: ORDER_ID }],
    });

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    lineHolds(0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('puts it back on the queue as a new message while the circuit is open, starting nothing', async () => {
    circuitIs({ state: 'OPEN', openUntil: NOW.getTime() + 7_500 });

    const result = await handler(sqsEvent(sqsRecord(resume(inAMinute), 'm1')), context);

    // The record succeeds (deleted) only because its copy is on the queue: no receive count is used up.
    expect(result).toEqual({ batchItemFailures: [] });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: 'http://sqs.local/000000000000/start',
      MessageBody: resume(inAMinute),
      DelaySeconds: 8,
    });
  });

  it('drops a surplus copy when another copy of the parked order already waits (one ticket per order)', async () => {
    circuitIs({ state: 'OPEN', openUntil: NOW.getTime() + 7_500 });
    ddb.on(UpdateCommand, { Key: keys.holdTicket('saga-start', ORDER_ID) }).rejects(conditionFailed());

    const result = await handler(sqsEvent(sqsRecord(resume(inAMinute), 'm2')), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: keys.holdTicket('saga-start', ORDER_ID),
      ConditionExpression: 'attribute_not_exists(pk) OR heldUntil <= :now OR heldBy = :me',
      // The copy is due in 8 s; others are surplus until it is LATE_COPY_GRACE_SECONDS overdue.
      ExpressionAttributeValues: expect.objectContaining({
        ':me': 'm2',
        ':until': NOW.getTime() + 8_000 + LATE_COPY_GRACE_SECONDS * 1000,
      }),
    });
  });

  it('lets the waiting copy, named by the ticket, wait again however late it comes back; its copy names it', async () => {
    circuitIs({ state: 'OPEN', openUntil: NOW.getTime() + 7_500 });

    await handler(sqsEvent(heldCopy(resume(inAMinute), 'c1', 'm1')), context);

    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: keys.holdTicket('saga-start', ORDER_ID),
      ConditionExpression:
        'attribute_not_exists(pk) OR heldUntil <= :now OR heldBy = :me OR heldBy = :copyOf',
      ExpressionAttributeValues: expect.objectContaining({ ':me': 'c1', ':copyOf': 'm1' }),
    });
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      MessageAttributes: { [HELD_COPY_ATTRIBUTE]: { DataType: 'String', StringValue: 'c1' } },
    });
  });

  it('releases the ticket before the waiting copy starts the saga, so a copy the saga parks again may wait', async () => {
    ddb.on(GetCommand, { Key: breakerKey('payment') }).resolves({});

    await handler(sqsEvent(heldCopy(resume(inAMinute), 'c1', 'm1')), context);

    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, {
      Key: keys.holdTicket('saga-start', ORDER_ID),
      ConditionExpression: 'heldBy = :copyOf',
      ExpressionAttributeValues: { ':copyOf': 'm1' },
    });
    const [release] = ddb.commandCalls(DeleteCommand);
    const [start] = sfn.commandCalls(StartExecutionCommand);
    expect(release && start && release.calledBefore(start)).toBe(true);
  });

  it('leaves the ticket to the copy it names when another copy starts the saga', async () => {
    ddb.on(GetCommand, { Key: breakerKey('payment') }).resolves({});
    ddb.on(DeleteCommand).rejects(conditionFailed());

    const result = await handler(sqsEvent(heldCopy(resume(inAMinute), 'c2', 'm-other')), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('starts the saga again once the circuit may be probed', async () => {
    circuitIs({ state: 'OPEN', openUntil: NOW.getTime() });

    await handler(sqsEvent(sqsRecord(resume(inAMinute), 'm1')), context);

    expect(sfn).toHaveReceivedCommandExactlyOnceWith(StartExecutionCommand, {
      name: `order-${ORDER_ID}`,
      input: JSON.stringify({ orderId: ORDER_ID, correlationId: 'corr-1' }),
    });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('lets one parked order through to probe an open circuit; the others look again a few seconds later', async () => {
    circuitIs({ state: 'OPEN', openUntil: NOW.getTime() });
    ddb
      .on(UpdateCommand, { Key: keys.holdTicket('saga-start', 'probe') })
      .resolvesOnce({})
      .rejects(conditionFailed());

    await handler(sqsEvent(sqsRecord(resume(inAMinute), 'm1')), context);
    await handler(sqsEvent(sqsRecord(resume(inAMinute), 'm2')), context);

    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: keys.holdTicket('saga-start', 'probe'),
      ConditionExpression: 'attribute_not_exists(pk) OR heldUntil <= :now',
    });
    expect(sqs).toHaveReceivedCommandExactlyOnceWith(SendMessageCommand, { DelaySeconds: 5 });
  });

  it('keeps a parked order on the queue, starting nothing, while the orders held before it go first', async () => {
    ddb.on(GetCommand, { Key: breakerKey('payment') }).resolves({});
    // 20 a second go (DEFAULT_PAYMENT_RELEASE_PER_SECOND): 45 ahead is two seconds of the line.
    lineHolds(45);

    const result = await handler(sqsEvent(heldCopy(resume(inAMinute), 'c1', 'm1')), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: 'Open',
      ExpressionAttributeValues: expect.objectContaining({ ':pk': 'ORDER#PENDING' }),
    });
    expect(sqs).toHaveReceivedCommandExactlyOnceWith(SendMessageCommand, { DelaySeconds: 2 });
  });

  it('adds its place in the line to the wait for an open circuit, so the held copies do not all come back at once', async () => {
    circuitIs({ state: 'OPEN', openUntil: NOW.getTime() + 7_500 });
    lineHolds(45);

    await handler(sqsEvent(sqsRecord(resume(inAMinute), 'm1')), context);

    // The circuit's next look in 7.5 s, then two seconds of the line ahead of it.
    expect(sqs).toHaveReceivedCommandExactlyOnceWith(SendMessageCommand, { DelaySeconds: 10 });
  });

  it('starts a parked order at once when the circuit has closed, without a probe turn', async () => {
    ddb.on(GetCommand, { Key: breakerKey('payment') }).resolves({});

    await handler(sqsEvent(sqsRecord(resume(inAMinute), 'm1')), context);

    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('starts the saga once the hold is over, whatever the circuit says, so the order is cancelled', async () => {
    circuitIs({ state: 'OPEN', openUntil: NOW.getTime() + 30_000 });

    await handler(sqsEvent(sqsRecord(resume(NOW.toISOString()), 'm1')), context);

    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('keeps the wait within the hold, and fails the record when the copy cannot be sent (it comes back)', async () => {
    circuitIs({ state: 'OPEN', openUntil: NOW.getTime() + 300_000 });
    sqs.on(SendMessageCommand).rejects(new Error('SQS down'));

    const result = await handler(sqsEvent(sqsRecord(resume(inAMinute), 'm1')), context);

    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, { DelaySeconds: 60 });
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
  });

  it('sends a malformed resume message to the DLQ', async () => {
    const result = await handler(
      sqsEvent(sqsRecord(JSON.stringify({ kind: 'ResumeSaga', orderId: 'x' }), 'bad')),
      context,
    );

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'bad' }] });
  });
});
