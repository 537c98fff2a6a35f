import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { createSqsServer } from 'local-aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBridgeEngine } from '#local/engines/eventbridge/bus.ts';
import { TargetDispatcher } from '#local/engines/eventbridge/targets.ts';
import { StepFunctionsEngine } from '#local/engines/stepfunctions/engine.ts';
import { PutEventsFaults } from '#local/faults/put-events.ts';
import { type InvokeResult, type LambdaInvoker, silentLogger } from '#local/types.ts';

const ACCOUNT = '000000000000';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

class EchoLambda implements LambdaInvoker {
  async invoke(fn: string, event: unknown): Promise<InvokeResult> {
    return { payload: { fn, event }, durationMs: 1 };
  }
}

/** Stands in for DynamoDB: answers GetItem, rejects PutItem with the SDK's conditional-check exception. */
class FakeDynamo {
  readonly commands: unknown[] = [];

  async send(command: unknown): Promise<unknown> {
    this.commands.push(command);
    if (command instanceof GetItemCommand) {
      return { $metadata: { requestId: 'r-1' }, Item: { pk: { S: 'ORDER#1' }, amount: { N: '42' } } };
    }
    if (command instanceof PutItemCommand) {
      throw new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: { httpStatusCode: 400, requestId: 'r-2' },
      });
    }
    throw new Error(`unexpected command ${String(command)}`);
  }
}

function machine(states: Record<string, unknown>, startAt: string) {
  return JSON.stringify({ StartAt: startAt, States: states });
}

describe('Step Functions service integrations against local engines', () => {
  let sqsServer: Server;
  let sqs: SQSClient;
  let queueUrl: string;
  let queueArn: string;
  let engine: StepFunctionsEngine;
  let bus: EventBridgeEngine;
  let dispatcher: TargetDispatcher;
  const dynamo = new FakeDynamo();
  const arn = (name: string) => `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:${name}`;

  async function receiveOne(): Promise<Message> {
    for (let i = 0; i < 50; i++) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 0 }),
      );
      const [message] = Messages;
      if (message) {
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
        return message;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('no message arrived');
  }

  beforeAll(async () => {
    sqsServer = await createSqsServer({
      port: 0,
      hostname: '127.0.0.1',
      accountId: ACCOUNT,
      emulateQueueCreationLifecycle: false,
    });
    sqs = new SQSClient({
      endpoint: `http://127.0.0.1:${(sqsServer.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials,
    });
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'work' }))).QueueUrl ?? '';
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    queueArn = attributes.Attributes?.QueueArn ?? '';

    dispatcher = new TargetDispatcher({
      sqs,
      resolveQueueUrl: (candidate) => (candidate === queueArn ? queueUrl : undefined),
      lambda: new EchoLambda(),
      logger: silentLogger,
    });
    bus = new EventBridgeEngine({ dispatcher, logger: silentLogger });
    bus.registerRule({
      Name: 'Facts',
      EventPattern: { source: ['buzzer.saga'] },
      Targets: [{ Id: 'q', Arn: queueArn }],
    });
    engine = new StepFunctionsEngine({
      lambda: new EchoLambda(),
      sqs,
      dynamodb: dynamo as unknown as DynamoDBClient,
      events: bus,
      logger: silentLogger,
    });
  });

  afterAll(async () => {
    await engine.stop();
    await dispatcher.stop();
    sqs.destroy();
    await new Promise<void>((resolve) => {
      sqsServer.close(() => resolve());
      sqsServer.closeAllConnections();
    });
  });

  it('sends an SQS message with a task token and resumes on SendTaskSuccess', async () => {
    engine.registerStateMachine({
      name: 'Queue',
      arn: arn('Queue'),
      type: 'STANDARD',
      definition: machine(
        {
          Enqueue: {
            Type: 'Task',
            Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
            Parameters: {
              QueueUrl: queueUrl,
              MessageBody: { 'token.$': '$$.Task.Token', 'orderId.$': '$.orderId' },
            },
            ResultPath: '$.worker',
            Next: 'Notify',
          },
          Notify: {
            Type: 'Task',
            Resource: 'arn:aws:states:::sqs:sendMessage',
            Parameters: { QueueUrl: queueUrl, 'MessageBody.$': "States.Format('done {}', $.orderId)" },
            ResultSelector: { 'id.$': '$.MessageId', 'md5.$': '$.MD5OfMessageBody' },
            ResultPath: '$.sent',
            End: true,
          },
        },
        'Enqueue',
      ),
    });

    const { executionArn } = await engine.startExecution({
      stateMachineArn: arn('Queue'),
      input: '{"orderId":"o-9"}',
    });
    const work = JSON.parse((await receiveOne()).Body ?? '{}') as { token: string; orderId: string };
    engine.sendTaskSuccess({ taskToken: work.token, output: JSON.stringify({ handledBy: 'worker' }) });
    const result = await engine.waitForExecution(executionArn);
    const done = await receiveOne();

    expect(work.orderId).toBe('o-9');
    expect(result.status).toBe('SUCCEEDED');
    const output = JSON.parse(result.output ?? '{}') as {
      worker: unknown;
      sent: { id: string; md5: string };
    };
    expect(output.worker).toEqual({ handledBy: 'worker' });
    expect(done.Body).toBe('done o-9');
    expect(output.sent).toEqual({ id: done.MessageId, md5: done.MD5OfBody });
  });

  it('puts events on the local bus, whose rules deliver them', async () => {
    engine.registerStateMachine({
      name: 'Publish',
      arn: arn('Publish'),
      type: 'EXPRESS',
      definition: machine(
        {
          Publish: {
            Type: 'Task',
            Resource: 'arn:aws:states:::events:putEvents',
            Parameters: {
              Entries: [
                { Source: 'buzzer.saga', DetailType: 'OrderConfirmed', Detail: { 'orderId.$': '$.orderId' } },
              ],
            },
            End: true,
          },
        },
        'Publish',
      ),
    });

    const result = await engine.startSyncExecution({
      stateMachineArn: arn('Publish'),
      input: '{"orderId":"o-7"}',
    });
    await bus.waitForIdle();
    const delivered = JSON.parse((await receiveOne()).Body ?? '{}') as { detail: unknown; source: string };

    expect(result.status).toBe('SUCCEEDED');
    expect(JSON.parse(result.output ?? '{}')).toMatchObject({
      FailedEntryCount: 0,
      Entries: [{ EventId: expect.any(String) }],
    });
    expect(delivered).toMatchObject({ source: 'buzzer.saga', detail: { orderId: 'o-7' } });
  });

  it('fails putEvents tasks with EventBridge.FailedEntry when an entry is rejected', async () => {
    PutEventsFaults.of(bus).setFault(() => ({ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }));
    try {
      const result = await engine.startSyncExecution({
        stateMachineArn: arn('Publish'),
        input: '{"orderId":"o-8"}',
      });
      expect(result).toMatchObject({ status: 'FAILED', error: 'EventBridge.FailedEntry' });
      expect(JSON.parse(result.cause ?? '{}')).toMatchObject({ FailedEntryCount: 1 });
    } finally {
      PutEventsFaults.of(bus).setFault(undefined);
    }
  });

  it('calls DynamoDB through the optimized and the AWS SDK integrations with AWS error names', async () => {
    engine.registerStateMachine({
      name: 'Dynamo',
      arn: arn('Dynamo'),
      type: 'EXPRESS',
      definition: machine(
        {
          Read: {
            Type: 'Task',
            Resource: 'arn:aws:states:::dynamodb:getItem',
            Parameters: { TableName: 'Buzzer', Key: { pk: { 'S.$': '$.pk' }, sk: { S: 'ORDER' } } },
            ResultSelector: { 'amount.$': '$.Item.amount.N' },
            ResultPath: '$.read',
            Next: 'Write',
          },
          Write: {
            Type: 'Task',
            Resource: 'arn:aws:states:::aws-sdk:dynamodb:putItem',
            Parameters: {
              TableName: 'Buzzer',
              Item: { pk: { 'S.$': '$.pk' } },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
            Catch: [
              {
                ErrorEquals: ['DynamoDb.ConditionalCheckFailedException'],
                ResultPath: '$.conflict',
                Next: 'Done',
              },
            ],
            Next: 'Done',
          },
          Done: { Type: 'Succeed' },
        },
        'Read',
      ),
    });

    const result = await engine.startSyncExecution({
      stateMachineArn: arn('Dynamo'),
      input: '{"pk":"ORDER#1"}',
    });

    expect(result.status).toBe('SUCCEEDED');
    const output = JSON.parse(result.output ?? '{}') as {
      read: unknown;
      conflict: { Error: string; Cause: string };
    };
    expect(output.read).toEqual({ amount: '42' });
    expect(output.conflict.Error).toBe('DynamoDb.ConditionalCheckFailedException');
    expect(output.conflict.Cause).toContain(
      'The conditional request failed (Service: AmazonDynamoDBv2; Status Code: 400',
    );
    const [get, put] = dynamo.commands as [GetItemCommand, PutItemCommand];
    expect(get.input).toEqual({ TableName: 'Buzzer', Key: { pk: { S: 'ORDER#1' }, sk: { S: 'ORDER' } } });
    expect(put.input.ConditionExpression).toBe('attribute_not_exists(pk)');
  });

  it('runs Map and Parallel states with nested Task states and $$.Map context', async () => {
    engine.registerStateMachine({
      name: 'Fanout',
      arn: arn('Fanout'),
      type: 'EXPRESS',
      definition: machine(
        {
          Both: {
            Type: 'Parallel',
            Branches: [
              {
                StartAt: 'EachItem',
                States: {
                  EachItem: {
                    Type: 'Map',
                    ItemsPath: '$.items',
                    ItemSelector: { 'sku.$': '$$.Map.Item.Value', 'index.$': '$$.Map.Item.Index' },
                    ItemProcessor: {
                      StartAt: 'Price',
                      States: {
                        Price: {
                          Type: 'Task',
                          Resource: 'arn:aws:states:::lambda:invoke',
                          Parameters: { FunctionName: 'price', 'Payload.$': '$' },
                          OutputPath: '$.Payload.event',
                          End: true,
                        },
                      },
                    },
                    End: true,
                  },
                },
              },
              { StartAt: 'Constant', States: { Constant: { Type: 'Pass', Result: 'static', End: true } } },
            ],
            End: true,
          },
        },
        'Both',
      ),
    });

    const result = await engine.startSyncExecution({
      stateMachineArn: arn('Fanout'),
      input: JSON.stringify({ items: ['a', 'b'] }),
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(JSON.parse(result.output ?? '[]')).toEqual([
      [
        { sku: 'a', index: 0 },
        { sku: 'b', index: 1 },
      ],
      'static',
    ]);
    const types = engine
      .getExecutionHistory({ executionArn: result.executionArn, maxResults: 1000 })
      .events.map((event) => event.type);
    expect(types).toEqual(
      expect.arrayContaining(['ParallelStateStarted', 'MapIterationStarted', 'MapStateSucceeded']),
    );
  });
});
