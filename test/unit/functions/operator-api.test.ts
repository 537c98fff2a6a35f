/**
 * The operator API's Lambda (functions/operations/operator-api.ts): the console's routes and the batch routes through
 * the shared route table, bad input as 400 (never 500), and the second lock behind API Gateway's authorizer: no
 * token claims → 401, a user outside the operators group → 403.
 */
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ENV } from '#contracts/environment.ts';
import { lambdaContext, ORDER_ID, parseBody, TABLE } from './helpers.ts';

const SAGA = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Buzzer-Saga';
const SETTLEMENT = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Buzzer-Settlement';
const QUEUE = (name: string) => `https://sqs.eu-west-1.amazonaws.com/123456789012/${name}`;
Object.assign(process.env, {
  [ENV.STACK_NAME]: 'Buzzer',
  AWS_REGION: 'eu-west-1',
  [ENV.TABLE_NAME]: TABLE,
  [ENV.STATE_MACHINE_ARN]: SAGA,
  [ENV.SETTLEMENT_STATE_MACHINE_ARN]: SETTLEMENT,
  [ENV.EVENT_BUS_NAME]: 'buzzer-bus',
  [ENV.OPERATOR_QUEUES]: JSON.stringify({
    notify: { dlq: QUEUE('notify-dlq'), source: QUEUE('notify'), maxAgeSeconds: 300 },
    relay: { dlq: QUEUE('relay-dlq') },
  }),
});
const { handler } = await import('#functions/operations/operator-api.ts');

const sfn = mockClient(SFNClient);
const sqs = mockClient(SQSClient);
const ddb = mockClient(DynamoDBDocumentClient);

interface Call {
  method?: string;
  path: string;
  query?: string;
  body?: string;
  claims?: Record<string, string> | null;
}

function event(call: Call): APIGatewayProxyEventV2WithJWTAuthorizer {
  const method = call.method ?? 'GET';
  const claims = call.claims === undefined ? { sub: 'op-1', 'cognito:groups': '[operators]' } : call.claims;
  return {
    version: '2.0',
    routeKey: `${method} ${call.path}`,
    rawPath: call.path,
    rawQueryString: call.query ?? '',
    headers: { 'content-type': 'application/json' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'ops',
      domainName: 'ops.local',
      domainPrefix: 'ops',
      http: { method, path: call.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: 'r-1',
      routeKey: `${method} ${call.path}`,
      stage: '$default',
      time: '01/May/2026:12:00:00 +0000',
      timeEpoch: 0,
      // A route that lost its authorizer reaches the function with no JWT context at all.
      authorizer: (claims === null
        ? undefined
        : { principalId: '', integrationLatency: 0, jwt: { claims, scopes: [] } }) as never,
    },
    ...(call.body === undefined ? {} : { body: call.body }),
    isBase64Encoded: false,
  };
}

const call = async (c: Call) => {
  const result = await handler(event(c), lambdaContext());
  return { status: result.statusCode, body: parseBody(result) };
};

beforeEach(() => {
  sfn.reset();
  sqs.reset();
  ddb.reset();
});

describe('operator API authentication (behind the gateway)', () => {
  it('refuses a request without token claims with 401 and calls nothing', async () => {
    const answer = await call({ path: '/dlqs', claims: null });
    expect(answer.status).toBe(401);
    expect(sqs).not.toHaveReceivedAnyCommand();
  });

  it('refuses a signed-in user outside the operators group with 403', async () => {
    for (const groups of [undefined, '[readers]', '[]']) {
      const claims: Record<string, string> = { sub: 'u-1', ...(groups ? { 'cognito:groups': groups } : {}) };
      expect((await call({ path: '/dlqs', claims })).status, String(groups)).toBe(403);
    }
    expect(sqs).not.toHaveReceivedAnyCommand();
    // Among other groups, as API Gateway flattens a list claim.
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: {} });
    expect((await call({ path: '/dlqs', claims: { 'cognito:groups': '[admins operators]' } })).status).toBe(
      200,
    );
  });
});

describe('operator API routes', () => {
  it('lists the DLQs of the stack named in its environment', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '2' } });
    const answer = await call({ path: '/dlqs' });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      dlqs: [
        { alias: 'notify', depth: 2, oldestAgeSeconds: null, source: 'notify' },
        { alias: 'relay', depth: 2, oldestAgeSeconds: null, source: null },
      ],
    });
    expect(sqs).toHaveReceivedCommandWith(GetQueueAttributesCommand, { QueueUrl: QUEUE('notify-dlq') });
  });

  it('starts a settlement export for a date without waiting, with the resend flag, and answers 202', async () => {
    sfn
      .on(StartExecutionCommand)
      .resolves({ executionArn: `${SETTLEMENT.replace(':stateMachine:', ':execution:')}:x` });
    const answer = await call({
      method: 'POST',
      path: '/batch/settlement',
      body: JSON.stringify({ date: '2026-12-01', resend: true }),
    });
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ date: '2026-12-01', partner: 'acquirer', status: 'RUNNING' });
    const input = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(input?.stateMachineArn).toBe(SETTLEMENT);
    expect(JSON.parse(input?.input ?? '{}')).toEqual({
      partner: 'acquirer',
      date: '2026-12-01',
      resend: true,
    });
    expect(sfn).not.toHaveReceivedCommand(DescribeExecutionCommand);
  });

  it('lists batch runs and redrives one by name', async () => {
    const arn = `${SETTLEMENT.replace(':stateMachine:', ':execution:')}:acquirer-2026-12-01-x`;
    sfn
      .on(ListExecutionsCommand)
      .resolves({ executions: [{ executionArn: arn, name: 'acquirer-2026-12-01-x' } as never] });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: arn,
      name: 'acquirer-2026-12-01-x',
      status: 'SUCCEEDED',
      input: JSON.stringify({ partner: 'acquirer', date: '2026-12-01' }),
      output: JSON.stringify({ file: { records: 3 } }),
    } as never);
    const runs = await call({ path: '/batch/runs', query: 'limit=5' });
    expect(runs.status).toBe(200);
    expect(runs.body).toMatchObject({ runs: [{ date: '2026-12-01', status: 'SUCCEEDED', records: 3 }] });

    sfn.on(RedriveExecutionCommand).resolves({});
    const redriven = await call({
      method: 'POST',
      path: '/batch/runs/redrive',
      body: JSON.stringify({ execution: 'acquirer-2026-12-01-x' }),
    });
    expect(redriven.status).toBe(202);
    expect(sfn).toHaveReceivedCommandWith(RedriveExecutionCommand, { executionArn: arn });
  });

  it('never scans the table for an order story, even when asked', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    const answer = await call({ path: `/orders/${ORDER_ID}`, query: 'scan=1' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/no order/);
    expect(ddb).not.toHaveReceivedCommand(ScanCommand);
  });

  it.each([
    [
      'a date that is no date',
      { method: 'POST', path: '/batch/settlement', body: '{"date":"2026-13-45"}' },
      /date/,
    ],
    ['no date at all', { method: 'POST', path: '/batch/settlement', body: '{}' }, /date/],
    ['a body that is not JSON', { method: 'POST', path: '/batch/settlement', body: '{date' }, /not JSON/],
    [
      'a resend flag that is not a boolean',
      { method: 'POST', path: '/batch/settlement', body: '{"date":"2026-12-01","resend":"yes"}' },
      /resend/,
    ],
    [
      'a partner name with a slash',
      { method: 'POST', path: '/batch/settlement', body: '{"date":"2026-12-01","partner":"../x"}' },
      /partner/,
    ],
    [
      'a redrive naming nothing',
      { method: 'POST', path: '/batch/runs/redrive', body: '{}' },
      /execution or date/,
    ],
    ['a runs limit of 0', { path: '/batch/runs', query: 'limit=0' }, /limit/],
    ['an orders limit that is no number', { path: '/orders', query: 'limit=many' }, /limit/],
    ['an unknown DLQ', { path: '/dlqs/nope' }, /no queue "nope"/],
    ['a tracking id that is no UUID', { path: '/orders/abc' }, /not a tracking id/],
    [
      'a saga redrive without an ARN',
      { method: 'POST', path: '/sagas/redrive', body: '{"executionArn":"x"}' },
      /executionArn/,
    ],
    ['a path that is badly encoded', { path: '/dlqs/%E0%A4%A' }, /not valid/],
  ] as Array<[string, Call, RegExp]>)('answers %s with 400 and a message', async (_, c, message) => {
    const answer = await call(c);
    expect(answer.status).toBe(400);
    expect(String(answer.body.error)).toMatch(message);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('answers an unknown route 404 and a wrong method 405', async () => {
    expect((await call({ path: '/nope' })).status).toBe(404);
    expect((await call({ method: 'DELETE', path: '/dlqs' })).status).toBe(405);
  });
});
