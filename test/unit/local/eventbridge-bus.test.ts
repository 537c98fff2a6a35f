import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListEventBusesCommand,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { createSqsServer } from 'local-aws-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createEventBridgeService,
  EVENTBRIDGE_TARGET,
  EventBridgeEngine,
} from '#local/engines/eventbridge/bus.ts';
import { InvalidEventPatternError } from '#local/engines/eventbridge/pattern.ts';
import { TargetDispatcher } from '#local/engines/eventbridge/targets.ts';
import { type Gateway, startGateway } from '#local/engines/gateway.ts';
import { PutEventsFaults } from '#local/faults/put-events.ts';
import { type InvokeResult, type LambdaInvoker, silentLogger } from '#local/types.ts';

const ACCOUNT = '000000000000';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

class RecordingLambda implements LambdaInvoker {
  readonly events: Array<{ fn: string; event: unknown }> = [];
  broken = false;

  async invoke(fn: string, event: unknown): Promise<InvokeResult> {
    if (this.broken) throw new Error('sandbox pool crashed');
    this.events.push({ fn, event });
    return { payload: null, durationMs: 1 };
  }
}

describe('EventBridgeEngine with a real local SQS and the EventBridge client', () => {
  let sqsServer: Server;
  let sqsEndpoint: string;
  let sqs: SQSClient;
  let gateway: Gateway;
  let events: EventBridgeClient;
  let engine: EventBridgeEngine;
  let dispatcher: TargetDispatcher;
  const queueUrls = new Map<string, string>();
  const lambda = new RecordingLambda();
  const executions: Array<{ stateMachineArn: string; input?: string }> = [];

  async function createQueue(name: string, attributes: Record<string, string> = {}): Promise<string> {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    const arn = Attributes?.QueueArn ?? '';
    queueUrls.set(arn, QueueUrl ?? '');
    return arn;
  }

  async function receiveAll(queueArn: string, expected: number): Promise<Message[]> {
    const messages: Message[] = [];
    const deadline = Date.now() + 5_000;
    while (messages.length < expected && Date.now() < deadline) {
      await engine.waitForIdle();
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrls.get(queueArn),
          MaxNumberOfMessages: 10,
          MessageAttributeNames: ['All'],
          AttributeNames: ['All'],
          WaitTimeSeconds: 0,
        }),
      );
      messages.push(...Messages);
    }
    return messages;
  }

  let ordersQueue: string;
  let fifoQueue: string;
  let dlq: string;

  beforeAll(async () => {
    sqsServer = await createSqsServer({
      port: 0,
      hostname: '127.0.0.1',
      accountId: ACCOUNT,
      emulateQueueCreationLifecycle: false,
    });
    sqsEndpoint = `http://127.0.0.1:${(sqsServer.address() as AddressInfo).port}`;
    sqs = new SQSClient({ endpoint: sqsEndpoint, region: 'us-east-1', credentials });
    ordersQueue = await createQueue('notify');
    fifoQueue = await createQueue('ordered.fifo', { FifoQueue: 'true', ContentBasedDeduplication: 'false' });
    dlq = await createQueue('rule-dlq');

    dispatcher = new TargetDispatcher(
      {
        sqs,
        resolveQueueUrl: (arn) => queueUrls.get(arn),
        lambda,
        stepFunctions: {
          async startExecution(input) {
            executions.push(input);
            return {};
          },
        },
        logger: silentLogger,
      },
      { retryDelayMs: () => 5 },
    );
    engine = new EventBridgeEngine({ dispatcher, logger: silentLogger });
    const customBus = engine.registerEventBus({ name: 'buzzer' });
    engine.registerRule(
      {
        EventBusName: customBus.arn,
        EventPattern: { source: ['buzzer.orders'], 'detail-type': ['OrderConfirmed', 'OrderCancelled'] },
        Targets: [
          {
            Id: 'notify',
            Arn: ordersQueue,
            InputTransformer: {
              InputPathsMap: { order: '$.detail.orderId', type: '$.detail-type' },
              InputTemplate: '{"orderId": <order>, "kind": "<type>", "rule": "<aws.events.rule-name>"}',
            },
          },
          { Id: 'saga', Arn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:Saga`, InputPath: '$.detail' },
        ],
      },
      'NotifyRule',
    );
    engine.registerRule({
      Name: 'Ordered',
      EventBusName: 'buzzer',
      EventPattern: JSON.stringify({ 'detail-type': ['OrderPlaced'] }),
      Targets: [{ Id: 'fifo', Arn: fifoQueue, SqsParameters: { MessageGroupId: 'orders' } }],
    });
    engine.registerRule({
      Name: 'Broken',
      EventBusName: 'buzzer',
      EventPattern: { 'detail-type': ['PointsAwarded'] },
      Targets: [
        {
          Id: 'points',
          Arn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:points`,
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 },
          DeadLetterConfig: { Arn: dlq },
        },
      ],
    });
    engine.registerRule({
      Name: 'ToCustomBus',
      EventPattern: { source: ['legacy'] },
      Targets: [{ Id: 'bus', Arn: customBus.arn }],
    });

    gateway = await startGateway({ logger: silentLogger });
    gateway.registerService(EVENTBRIDGE_TARGET, createEventBridgeService(engine));
    events = new EventBridgeClient({ endpoint: gateway.endpoint, region: 'us-east-1', credentials });
  });

  afterAll(async () => {
    events.destroy();
    sqs.destroy();
    await dispatcher.stop();
    await gateway.stop();
    await new Promise<void>((resolve) => {
      sqsServer.close(() => resolve());
      sqsServer.closeAllConnections();
    });
  });

  beforeEach(() => {
    PutEventsFaults.of(engine).setFault(undefined);
    lambda.broken = false;
  });

  it('delivers a matching event through an input transformer into a real SQS queue', async () => {
    const result = await events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: 'buzzer',
            Source: 'buzzer.orders',
            DetailType: 'OrderConfirmed',
            Detail: JSON.stringify({ orderId: 'o-1', messageId: 'm-1' }),
          },
          {
            EventBusName: 'buzzer',
            Source: 'buzzer.orders',
            DetailType: 'OrderShipped',
            Detail: JSON.stringify({ orderId: 'o-2' }),
          },
        ],
      }),
    );
    const messages = await receiveAll(ordersQueue, 1);

    expect(result.FailedEntryCount).toBe(0);
    expect(result.Entries?.every((entry) => typeof entry.EventId === 'string')).toBe(true);
    expect(messages.map((message) => JSON.parse(message.Body ?? ''))).toEqual([
      { orderId: 'o-1', kind: 'OrderConfirmed', rule: 'NotifyRule' },
    ]);
    expect(executions.at(-1)).toMatchObject({
      stateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:Saga`,
      input: JSON.stringify({ orderId: 'o-1', messageId: 'm-1' }),
    });
  });

  it('reports per-entry failures from an injected fault and from validation, delivering the rest', async () => {
    PutEventsFaults.of(engine).setFault((_entry, index) =>
      index === 1 ? { ErrorCode: 'InternalFailure', ErrorMessage: 'injected' } : undefined,
    );
    const entry = (orderId: string) => ({
      EventBusName: 'buzzer',
      Source: 'buzzer.orders',
      DetailType: 'OrderPlaced',
      Detail: JSON.stringify({ orderId }),
    });

    const result = await events.send(
      new PutEventsCommand({
        Entries: [
          entry('a'),
          entry('b'),
          { ...entry('c'), Detail: '[1,2]' },
          { ...entry('d'), Source: undefined },
          { ...entry('e'), EventBusName: 'nope' },
          entry('f'),
        ],
      }),
    );
    const messages = await receiveAll(fifoQueue, 2);

    expect(result.FailedEntryCount).toBe(4);
    expect(result.Entries?.map((item) => item.ErrorCode ?? 'ok')).toEqual([
      'ok',
      'InternalFailure',
      'MalformedDetail',
      'InvalidArgument',
      'ResourceNotFoundException',
      'ok',
    ]);
    expect(result.Entries?.[3]?.ErrorMessage).toBe(
      'Parameter Source is not valid. Reason: Source is a required argument.',
    );
    expect(messages.map((message) => JSON.parse(message.Body ?? '').detail.orderId)).toEqual(['a', 'f']);
    expect(messages[0]?.Attributes?.MessageGroupId).toBe('orders');
    expect(JSON.parse(messages[0]?.Body ?? '')).toMatchObject({
      version: '0',
      source: 'buzzer.orders',
      'detail-type': 'OrderPlaced',
      account: ACCOUNT,
      region: 'us-east-1',
      resources: [],
    });
    await expect(
      events.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => entry('x')) })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('retries a failing target per its RetryPolicy, then dead-letters the event with the AWS attributes', async () => {
    lambda.broken = true;

    const put = await engine.putEvents([
      {
        EventBusName: 'buzzer',
        Source: 'buzzer.points',
        DetailType: 'PointsAwarded',
        Detail: '{"points":10}',
      },
    ]);
    const [dead] = await receiveAll(dlq, 1);

    expect(JSON.parse(dead?.Body ?? '')).toMatchObject({
      id: put.Entries[0]?.EventId,
      detail: { points: 10 },
    });
    const attributes = Object.fromEntries(
      Object.entries(dead?.MessageAttributes ?? {}).map(([key, value]) => [key, value.StringValue]),
    );
    expect(attributes).toEqual({
      RULE_ARN: `arn:aws:events:us-east-1:${ACCOUNT}:rule/buzzer/Broken`,
      TARGET_ARN: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:points`,
      ERROR_CODE: 'SDK_CLIENT_ERROR',
      ERROR_MESSAGE: 'sandbox pool crashed',
      EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttemptsExhausted',
      RETRY_ATTEMPTS: '2',
    });
    expect(engine.metrics().deliveries.deadLettered).toBe(1);
  });

  it('forwards events to another bus and delivers Lambda targets asynchronously', async () => {
    await engine.putEvents([{ Source: 'legacy', DetailType: 'PointsAwarded', Detail: '{"points":5}' }]);
    await engine.waitForIdle();

    expect(lambda.events.at(-1)).toMatchObject({
      fn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:points`,
      event: { source: 'legacy', 'detail-type': 'PointsAwarded', detail: { points: 5 } },
    });
    expect(engine.metrics().deliveries.delivered).toMatchObject({ 'event-bus': 1, lambda: 1 });
  });

  it('describes buses, rules and targets through the API', async () => {
    const buses = await events.send(new ListEventBusesCommand({}));
    const rules = await events.send(new ListRulesCommand({ EventBusName: 'buzzer' }));
    const rule = await events.send(new DescribeRuleCommand({ Name: 'NotifyRule', EventBusName: 'buzzer' }));
    const targets = await events.send(
      new ListTargetsByRuleCommand({ Rule: 'Ordered', EventBusName: 'buzzer' }),
    );

    expect(buses.EventBuses?.map((bus) => bus.Name)).toEqual(['default', 'buzzer']);
    expect(buses.EventBuses?.[0]?.CreationTime).toBeInstanceOf(Date);
    expect(rules.Rules?.map((item) => item.Name)).toEqual(['Broken', 'NotifyRule', 'Ordered']);
    expect(rule).toMatchObject({
      Arn: `arn:aws:events:us-east-1:${ACCOUNT}:rule/buzzer/NotifyRule`,
      State: 'ENABLED',
      EventBusName: 'buzzer',
    });
    expect(JSON.parse(rule.EventPattern ?? '{}')).toEqual({
      source: ['buzzer.orders'],
      'detail-type': ['OrderConfirmed', 'OrderCancelled'],
    });
    expect(targets.Targets).toEqual([
      { Id: 'fifo', Arn: fifoQueue, SqsParameters: { MessageGroupId: 'orders' } },
    ]);
    await expect(
      events.send(new DescribeRuleCommand({ Name: 'Nope', EventBusName: 'buzzer' })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it.each([
    [true, 1],
    [false, 0],
  ])(
    'with acknowledgeOnDelivery %s, answers PutEvents with the event already on its queue: %i',
    async (ack, found) => {
      // A slow queue: its SendMessage takes 200 ms, so an answer that does not wait for it comes first.
      const slow = new SQSClient({ endpoint: sqsEndpoint, region: 'us-east-1', credentials });
      const send = slow.send.bind(slow);
      slow.send = (async (command: Parameters<typeof send>[0]) => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        return send(command);
      }) as typeof slow.send;
      const queue = await createQueue(`acknowledged-${ack}`);
      const slowDispatcher = new TargetDispatcher({
        sqs: slow,
        resolveQueueUrl: (arn) => queueUrls.get(arn),
        lambda,
        logger: silentLogger,
      });
      const acknowledging = new EventBridgeEngine({
        dispatcher: slowDispatcher,
        logger: silentLogger,
        acknowledgeOnDelivery: ack,
      });
      acknowledging.registerRule({
        Name: 'All',
        EventPattern: { source: ['buzzer.orders'] },
        Targets: [{ Id: 'q', Arn: queue }],
      });

      await acknowledging.putEvents([
        { Source: 'buzzer.orders', DetailType: 'OrderConfirmed', Detail: '{}' },
      ]);
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrls.get(queue), WaitTimeSeconds: 0 }),
      );

      expect(Messages).toHaveLength(found);
      await slowDispatcher.stop();
      slow.destroy();
    },
  );

  it('refuses a rule with an invalid event pattern', () => {
    expect(() =>
      engine.registerRule({ Name: 'Bad', EventPattern: { source: 'not-an-array' }, Targets: [] }),
    ).toThrow(InvalidEventPatternError);
  });
});
