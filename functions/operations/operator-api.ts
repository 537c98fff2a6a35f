/**
 * The operator API's one function: every route of contracts/operator-api.ts, answered by the route table the local
 * console server answers them with (ops/api/routes.ts), with the operator CLI's functions. API Gateway lets only
 * requests with a valid operator token through (lib/constructs/operator-api.ts); this checks the token's group too.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ENV } from '#contracts/environment.ts';
import { OPERATOR_GROUP } from '#contracts/operator-api.ts';
import {
  errorAnswer,
  type OperatorAnswer,
  type OperatorApiOptions,
  operatorApi,
  parseJsonBody,
} from '#ops/api/routes.ts';
import { type OperatorQueue, type OpsContext, type OpsTarget, queueArnFromUrl } from '#ops/cli/context.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { logger } from '#shared/logger.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import * as z from '#shared/zod.ts';

const queueSpec = z.object({
  dlq: z.string().url(),
  source: z.string().url().optional(),
  maxAgeSeconds: z.number().optional(),
});

const config = loadConfig(
  z.object({
    [ENV.STACK_NAME]: requiredString(ENV.STACK_NAME),
    AWS_REGION: requiredString('AWS_REGION'),
    [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
    [ENV.STATE_MACHINE_ARN]: requiredString(ENV.STATE_MACHINE_ARN),
    [ENV.SETTLEMENT_STATE_MACHINE_ARN]: requiredString(ENV.SETTLEMENT_STATE_MACHINE_ARN),
    [ENV.EVENT_BUS_NAME]: requiredString(ENV.EVENT_BUS_NAME),
    [ENV.OPERATOR_QUEUES]: z
      .string()
      .transform((text) => JSON.parse(text) as unknown)
      .pipe(z.record(z.string(), queueSpec)),
  }),
);

/** The stack as the operator CLI sees it, from the environment instead of the stack's outputs. */
export function targetOf(c: typeof config): OpsTarget {
  const partition = c.STATE_MACHINE_ARN.split(':')[1] ?? 'aws';
  const endpoint = (url: string) => ({
    // Only shown (the DLQ's source column): the queue's name stands for the logical id the CLI shows.
    logicalId: new URL(url).pathname.split('/').at(-1) ?? url,
    url,
    arn: queueArnFromUrl(url, c.AWS_REGION, partition),
  });
  const queues: OperatorQueue[] = Object.entries(c.OPERATOR_QUEUES).map(([alias, q]) => ({
    alias,
    dlq: endpoint(q.dlq),
    ...(q.source ? { source: endpoint(q.source) } : {}),
    ...(q.maxAgeSeconds !== undefined ? { maxAgeSeconds: q.maxAgeSeconds } : {}),
  }));
  return {
    kind: 'aws',
    stackName: c.STACK_NAME,
    region: c.AWS_REGION,
    tableName: c.TABLE_NAME,
    stateMachineArn: c.STATE_MACHINE_ARN,
    settlementStateMachineArn: c.SETTLEMENT_STATE_MACHINE_ARN,
    eventBusName: c.EVENT_BUS_NAME,
    queues,
    apiFlavour: 'http',
  };
}

const ctx: OpsContext = {
  target: targetOf(config),
  clients: {
    doc: documentClient,
    sqs: new SQSClient({}),
    sfn: new SFNClient({}),
    eventBridge: new EventBridgeClient({}),
  },
  progress: (message) => logger.debug(message),
  close: () => {},
};

const OPTIONS: OperatorApiOptions = {
  // No client list on AWS: the console asks for a client id.
  clients: [],
  // No orderScan: the role may not Scan the table (least privilege); `buzzer order` shows the scanned items.
  // Well inside the function's timeout, itself inside API Gateway's 30 s.
  redriveWaitMs: 15_000,
};

/** The groups of the token (`cognito:groups`), which API Gateway hands on as `[a b]` (or a list in tests). */
function groupsOf(claims: Record<string, unknown> | undefined): string[] {
  const value = claims?.['cognito:groups'];
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string') return [];
  return value
    .replace(/^\[|\]$/g, '')
    .split(/[\s,]+/)
    .filter(Boolean);
}

const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
const json = ({ status, body }: OperatorAnswer): APIGatewayProxyStructuredResultV2 => ({
  statusCode: status,
  headers: HEADERS,
  body: JSON.stringify(body),
});

export function createHandler(context: OpsContext, options: OperatorApiOptions) {
  const api = operatorApi(context, options);
  return async (
    event: APIGatewayProxyEventV2WithJWTAuthorizer,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    // API Gateway already refused requests without a valid token; this is the second lock should a route lose it.
    const claims = event.requestContext.authorizer?.jwt?.claims;
    if (!claims) return json({ status: 401, body: { error: 'sign in as an operator' } });
    if (!groupsOf(claims).includes(OPERATOR_GROUP))
      return json({ status: 403, body: { error: `the user is not in the ${OPERATOR_GROUP} group` } });
    try {
      const text = event.body
        ? event.isBase64Encoded
          ? Buffer.from(event.body, 'base64').toString('utf8')
          : event.body
        : '';
      const answer = await api({
        method: event.requestContext.http.method,
        path: event.rawPath,
        query: new URLSearchParams(event.rawQueryString ?? ''),
        body: event.requestContext.http.method === 'POST' ? parseJsonBody(text) : undefined,
      });
      if (answer.status >= 500) logger.error('operator request failed', { path: event.rawPath, answer });
      else
        logger.info('operator request', {
          operator: String(claims.username ?? claims.sub ?? ''),
          method: event.requestContext.http.method,
          path: event.rawPath,
          status: answer.status,
        });
      return json(answer);
    } catch (error) {
      return json(errorAnswer(error));
    }
  };
}

export const handler = lambdaChain<
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyStructuredResultV2
>().handler(createHandler(ctx, OPTIONS));
