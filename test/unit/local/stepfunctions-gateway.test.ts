import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  RedriveExecutionCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StartSyncExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '#local/engines/gateway.ts';
import { createStepFunctionsService, STEP_FUNCTIONS_TARGET } from '#local/engines/stepfunctions/api.ts';
import { StepFunctionsEngine } from '#local/engines/stepfunctions/engine.ts';
import { type InvokeResult, type LambdaInvoker, silentLogger } from '#local/types.ts';

const ACCOUNT_PREFIX = 'arn:aws:states:us-east-1:000000000000';
const APPROVAL_ARN = `${ACCOUNT_PREFIX}:stateMachine:Approval`;
const EXPRESS_ARN = `${ACCOUNT_PREFIX}:stateMachine:Quote`;
const TIMEOUTS_ARN = `${ACCOUNT_PREFIX}:stateMachine:Timeouts`;
const UNSUPPORTED_ARN = `${ACCOUNT_PREFIX}:stateMachine:Unsupported`;

/** The "worker" receives the task token in its payload, as a Lambda behind `.waitForTaskToken` would. */
class TokenCapturingLambda implements LambdaInvoker {
  readonly tokens: string[] = [];
  quoteFails = false;

  async invoke(fn: string, event: unknown): Promise<InvokeResult> {
    if (fn === 'request-approval') {
      this.tokens.push((event as { token: string }).token);
      return { payload: { queued: true }, durationMs: 1 };
    }
    if (fn.endsWith(':function:quote') && this.quoteFails) {
      return { error: { errorType: 'QuoteUnavailable', errorMessage: 'no quote' }, durationMs: 1 };
    }
    return { payload: { price: 42, input: event }, durationMs: 1 };
  }
}

const APPROVAL = {
  StartAt: 'RequestApproval',
  States: {
    RequestApproval: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: {
        FunctionName: 'request-approval',
        Payload: { 'token.$': '$$.Task.Token', 'order.$': '$' },
      },
      ResultPath: '$.approval',
      Next: 'Done',
    },
    Done: { Type: 'Succeed' },
  },
};

const QUOTE = {
  StartAt: 'Quote',
  States: {
    Quote: {
      Type: 'Task',
      Resource: 'arn:aws:lambda:us-east-1:000000000000:function:quote',
      End: true,
    },
  },
};

const TIMEOUTS = {
  StartAt: 'Both',
  States: {
    Both: {
      Type: 'Parallel',
      Branches: [
        {
          StartAt: 'SlowTask',
          States: {
            SlowTask: {
              Type: 'Task',
              Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
              Parameters: { FunctionName: 'request-approval', Payload: { 'token.$': '$$.Task.Token' } },
              TimeoutSeconds: 1,
              Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.caught', Next: 'TimedOut' }],
              End: true,
            },
            TimedOut: { Type: 'Pass', End: true },
          },
        },
        {
          StartAt: 'SilentTask',
          States: {
            SilentTask: {
              Type: 'Task',
              Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
              Parameters: { FunctionName: 'request-approval', Payload: { 'token.$': '$$.Task.Token' } },
              HeartbeatSeconds: 1,
              Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.caught', Next: 'NoHeartbeat' }],
              End: true,
            },
            NoHeartbeat: { Type: 'Pass', End: true },
          },
        },
      ],
      End: true,
    },
  },
};

const UNSUPPORTED = {
  StartAt: 'RunJob',
  States: {
    RunJob: {
      Type: 'Task',
      Resource: 'arn:aws:states:::batch:submitJob.sync',
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Hidden' }],
      End: true,
    },
    Hidden: { Type: 'Succeed' },
  },
};

describe('Step Functions through the gateway with the real SFN client', () => {
  const lambda = new TokenCapturingLambda();
  let gateway: Gateway;
  let engine: StepFunctionsEngine;
  let sfn: SFNClient;

  beforeAll(async () => {
    engine = new StepFunctionsEngine({ lambda, logger: silentLogger });
    engine.registerStateMachine({
      name: 'Approval',
      arn: APPROVAL_ARN,
      definition: JSON.stringify(APPROVAL),
      type: 'STANDARD',
    });
    engine.registerStateMachine({
      name: 'Quote',
      arn: EXPRESS_ARN,
      definition: JSON.stringify(QUOTE),
      type: 'EXPRESS',
    });
    engine.registerStateMachine({
      name: 'Timeouts',
      arn: TIMEOUTS_ARN,
      definition: JSON.stringify(TIMEOUTS),
      type: 'STANDARD',
    });
    engine.registerStateMachine({
      name: 'Unsupported',
      arn: UNSUPPORTED_ARN,
      definition: JSON.stringify(UNSUPPORTED),
      type: 'STANDARD',
    });
    gateway = await startGateway({ logger: silentLogger });
    gateway.registerService(STEP_FUNCTIONS_TARGET, createStepFunctionsService(engine));
    sfn = new SFNClient({
      endpoint: gateway.endpoint,
      // StartSyncExecution carries the host prefix `sync-`, which 127.0.0.1 cannot take (AWS resolves sync-states.*).
      disableHostPrefix: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    sfn.destroy();
    await engine.stop();
    await gateway.stop();
  });

  it('completes a waitForTaskToken task with SendTaskSuccess and reports it like AWS', async () => {
    const started = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: APPROVAL_ARN,
        name: 'approve-1',
        input: '{"orderId":"o-1"}',
      }),
    );
    await engine.waitForIdle();
    const running = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    const token = lambda.tokens.at(-1) ?? '';

    await sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }));
    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"approved":true}' }));
    await engine.waitForIdle();
    const done = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));

    expect(started.executionArn).toBe(`${ACCOUNT_PREFIX}:execution:Approval:approve-1`);
    expect(started.startDate).toBeInstanceOf(Date);
    expect(running.status).toBe('RUNNING');
    expect(done.status).toBe('SUCCEEDED');
    expect(done.stopDate?.getTime()).toBeGreaterThanOrEqual(
      done.startDate?.getTime() ?? Number.POSITIVE_INFINITY,
    );
    expect(JSON.parse(done.output ?? '{}')).toEqual({ orderId: 'o-1', approval: { approved: true } });
    expect(history.events?.map((event) => event.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskSucceeded',
      'TaskStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    expect(history.events?.[2]?.taskScheduledEventDetails).toMatchObject({
      resourceType: 'lambda',
      resource: 'invoke.waitForTaskToken',
    });
    expect(history.events?.[0]?.timestamp).toBeInstanceOf(Date);
    await expect(
      sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    ).rejects.toMatchObject({
      name: 'TaskTimedOut',
    });
  });

  it('fails a task with SendTaskFailure and maps service errors to SDK exceptions', async () => {
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: APPROVAL_ARN, name: 'approve-2' }),
    );
    await engine.waitForIdle();
    await sfn.send(
      new SendTaskFailureCommand({
        taskToken: lambda.tokens.at(-1),
        error: 'Rejected',
        cause: 'manager said no',
      }),
    );
    await engine.waitForIdle();
    const failed = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));

    expect(failed).toMatchObject({ status: 'FAILED', error: 'Rejected', cause: 'manager said no' });
    expect(failed.redriveStatus).toBe('REDRIVABLE');
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: APPROVAL_ARN, name: 'approve-2' })),
    ).rejects.toMatchObject({ name: 'ExecutionAlreadyExists', $metadata: { httpStatusCode: 400 } });
    await expect(
      sfn.send(new DescribeExecutionCommand({ executionArn: `${ACCOUNT_PREFIX}:execution:Approval:nope` })),
    ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: `${ACCOUNT_PREFIX}:stateMachine:Nope` })),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: APPROVAL_ARN, input: 'not json' })),
    ).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: APPROVAL_ARN, name: 'bad name' })),
    ).rejects.toMatchObject({ name: 'InvalidName' });
    await expect(
      sfn.send(new SendTaskSuccessCommand({ taskToken: 'garbage', output: '{}' })),
    ).rejects.toMatchObject({ name: 'InvalidToken' });
  });

  it('stops, lists and redrives executions', async () => {
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: APPROVAL_ARN, name: 'approve-3' }),
    );
    await engine.waitForIdle();
    await sfn.send(
      new StopExecutionCommand({
        executionArn: started.executionArn,
        error: 'Operator',
        cause: 'testing stop',
      }),
    );
    await engine.waitForIdle();
    const aborted = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    const listed = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: APPROVAL_ARN, statusFilter: 'ABORTED', maxResults: 10 }),
    );

    await sfn.send(new RedriveExecutionCommand({ executionArn: started.executionArn }));
    await engine.waitForIdle();
    await sfn.send(
      new SendTaskSuccessCommand({ taskToken: lambda.tokens.at(-1), output: '{"approved":"late"}' }),
    );
    await engine.waitForIdle();
    const redriven = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));

    expect(aborted).toMatchObject({ status: 'ABORTED', error: 'Operator', cause: 'testing stop' });
    expect(listed.executions?.map((execution) => execution.name)).toEqual(['approve-3']);
    expect(redriven).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    await expect(
      sfn.send(new RedriveExecutionCommand({ executionArn: started.executionArn })),
    ).rejects.toMatchObject({ name: 'ExecutionNotRedrivable' });
  });

  it('runs EXPRESS machines synchronously and describes state machines', async () => {
    const ok = await sfn.send(
      new StartSyncExecutionCommand({ stateMachineArn: EXPRESS_ARN, input: '{"sku":"a"}' }),
    );
    lambda.quoteFails = true;
    const failed = await sfn.send(new StartSyncExecutionCommand({ stateMachineArn: EXPRESS_ARN }));
    lambda.quoteFails = false;
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: EXPRESS_ARN }));
    const machines = await sfn.send(new ListStateMachinesCommand({}));

    expect(ok.status).toBe('SUCCEEDED');
    expect(JSON.parse(ok.output ?? '{}')).toEqual({ price: 42, input: { sku: 'a' } });
    expect(ok.executionArn).toMatch(/^arn:aws:states:us-east-1:000000000000:express:Quote:/);
    expect(failed).toMatchObject({ status: 'FAILED', error: 'QuoteUnavailable' });
    expect(JSON.parse(failed.cause ?? '{}')).toMatchObject({ errorMessage: 'no quote' });
    expect(described).toMatchObject({ name: 'Quote', type: 'EXPRESS', status: 'ACTIVE' });
    expect(JSON.parse(described.definition ?? '{}')).toEqual(QUOTE);
    expect(machines.stateMachines?.map((machine) => machine.name)).toEqual([
      'Approval',
      'Quote',
      'Timeouts',
      'Unsupported',
    ]);
    await expect(
      sfn.send(new StartSyncExecutionCommand({ stateMachineArn: APPROVAL_ARN })),
    ).rejects.toMatchObject({
      name: 'StateMachineTypeNotSupported',
    });
  });

  it('times out tasks on TimeoutSeconds and HeartbeatSeconds so States.Timeout can catch both', async () => {
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: TIMEOUTS_ARN }));
    const result = await engine.waitForExecution(started.executionArn ?? '');
    const history = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: started.executionArn, maxResults: 1000 }),
    );

    expect(result.status).toBe('SUCCEEDED');
    const [slow, silent] = JSON.parse(result.output ?? '[]') as Array<{ caught: { Error: string } }>;
    expect(slow?.caught.Error).toBe('States.Timeout');
    expect(silent?.caught.Error).toBe('States.HeartbeatTimeout');
    const timedOut = history.events?.filter((event) => event.type === 'TaskTimedOut') ?? [];
    expect(timedOut.map((event) => event.taskTimedOutEventDetails?.error).sort()).toEqual([
      'States.HeartbeatTimeout',
      'States.Timeout',
    ]);
  });

  it('fails the execution, past any Catch, on a resource the local engine cannot run', async () => {
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: UNSUPPORTED_ARN }));
    const result = await engine.waitForExecution(started.executionArn ?? '');

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.Runtime');
    expect(result.cause).toContain('arn:aws:states:::batch:submitJob.sync');
  });
});
