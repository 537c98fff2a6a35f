import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { context, eventBridgeBody, ids, ORDER_ID, sqsEvent, sqsRecord } from './helpers.ts';

vi.hoisted(() => {
  process.env.STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Buzzer-Saga';
});

const { handler } = await import('#functions/saga/start-saga.ts');

const sfn = mockClient(SFNClient);

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
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
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
