/**
 * When the chaos run stops waiting for its orders and redrives as an operator would: a saga-start message that used up
 * its receives leaves an order that nothing but a redrive starts.
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { PlacedOrder } from '#chaos/orders.ts';
import { allNeedAnOperator, settle, unsettledNote } from '#chaos/run.ts';
import type { SystemUnderTest } from '#chaos/system.ts';

const START = { logicalId: 'SagaStartQueue', url: 'http://sqs.local/start' };
const START_DLQ = { logicalId: 'SagaStartQueueDlq', url: 'http://sqs.local/start-dlq' };

const sqs = mockClient(SQSClient);
const sfn = mockClient(SFNClient);
const ddb = mockClient(DynamoDBDocumentClient);

const system = {
  queues: { [START.logicalId]: START, [START_DLQ.logicalId]: START_DLQ },
  stateMachines: { Saga: 'arn:aws:states:us-east-1:000000000000:stateMachine:Saga' },
  topology: {
    sqsConsumers: [],
    streamConsumers: [],
    stateMachineSteps: [],
    deadLetterSources: { [START_DLQ.logicalId]: [START.logicalId] },
  },
  sqs: new SQSClient({}),
  sfn: new SFNClient({}),
  doc: DynamoDBDocumentClient.from(new DynamoDBClient({})),
  tableName: 'buzzer',
} as unknown as SystemUnderTest;

const order: PlacedOrder = {
  trackingId: 'ord-1',
  idempotencyKey: 'k-1',
  customerId: 'c-1',
  token: 'tok_ok',
  attempts: 1,
};

function depths(start: number, deadLettered: number) {
  const attributes = (visible: number) => ({
    Attributes: {
      ApproximateNumberOfMessages: String(visible),
      ApproximateNumberOfMessagesNotVisible: '0',
      ApproximateNumberOfMessagesDelayed: '0',
    },
  });
  sqs.on(GetQueueAttributesCommand, { QueueUrl: START.url }).resolves(attributes(start));
  sqs.on(GetQueueAttributesCommand, { QueueUrl: START_DLQ.url }).resolves(attributes(deadLettered));
}

beforeEach(() => {
  sqs.reset();
  sfn.reset();
  ddb.reset();
  // The order's saga never started: no execution of it.
  sfn.on(ListExecutionsCommand).resolves({ executions: [] });
  ddb.on(BatchGetCommand).resolves({ Responses: {} });
});

describe('allNeedAnOperator', () => {
  it.each(['EXPRESS', 'STANDARD'] as const)(
    'stops waiting (%s) for an order that never started once only a dead-letter queue holds messages',
    async (workflowType) => {
      depths(0, 1);

      expect(await allNeedAnOperator(system, [order], workflowType)).toBe(true);
    },
  );

  it('waits while the saga-start queue still holds a message that may start it', async () => {
    depths(1, 1);

    expect(await allNeedAnOperator(system, [order], 'EXPRESS')).toBe(false);
  });

  it('waits while no dead-letter queue holds anything (the start is on its way)', async () => {
    depths(0, 0);

    expect(await allNeedAnOperator(system, [order], 'EXPRESS')).toBe(false);
  });
});

describe('settle', () => {
  const status = (value: string) =>
    ddb
      .on(BatchGetCommand)
      .resolves({ Responses: { buzzer: [{ orderId: order.trackingId, status: value }] } });

  it('reports an order still at work and a queue not empty when the deadline passes first', async () => {
    status('PENDING');
    depths(1, 0);

    const settled = await settle(system, [order], Date.now() + 200, 'EXPRESS');

    expect(settled).toEqual({
      stillAtWork: 1,
      atWork: { PENDING: 1 },
      queuesEmpty: false,
      queued: ['SagaStartQueue: 1 visible, 0 in flight, 0 delayed'],
    });
    expect(unsettledNote(settled, 'of healing the faults', 200_000)).toMatch(
      /^did not settle within 200 s of healing the faults \(1 order still open and not waiting for an operator \(PENDING: 1\), messages still queued \(SagaStartQueue: 1 visible, 0 in flight, 0 delayed\)\)/,
    );
  });

  it('says where an order still at work stands: reserved, charged, held', async () => {
    const until = new Date(Date.now() + 60_000).toISOString();
    ddb.on(BatchGetCommand).resolves({
      Responses: {
        buzzer: [
          {
            orderId: order.trackingId,
            status: 'PENDING',
            reservedAt: 'then',
            paymentRef: 'ch_1',
            hold: { until },
          },
        ],
      },
    });
    depths(0, 0);
    sqs.on(GetQueueAttributesCommand, { QueueUrl: START.url }).resolves({
      Attributes: {
        ApproximateNumberOfMessages: '0',
        ApproximateNumberOfMessagesNotVisible: '2',
        ApproximateNumberOfMessagesDelayed: '5',
      },
    });

    const settled = await settle(system, [order], Date.now() + 200, 'EXPRESS');

    expect(settled.atWork).toEqual({ 'PENDING reserved charged held': 1 });
    expect(settled.queued).toEqual(['SagaStartQueue: 0 visible, 2 in flight, 5 delayed']);
  });

  it('has settled when every order ended and the queues stay empty', async () => {
    status('CONFIRMED');
    depths(0, 0);

    const settled = await settle(system, [order], Date.now() + 10_000, 'STANDARD');

    expect(settled).toEqual({ stillAtWork: 0, atWork: {}, queuesEmpty: true, queued: [] });
    expect(unsettledNote(settled, 'of the redrive', 1_000)).toBeUndefined();
  });

  it('does not count an order that waits for an operator as still at work', async () => {
    status('PENDING');
    depths(0, 1);

    expect(await settle(system, [order], Date.now() + 10_000, 'EXPRESS')).toEqual({
      stillAtWork: 0,
      atWork: {},
      queuesEmpty: true,
      queued: [],
    });
  });
});
