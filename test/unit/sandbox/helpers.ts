/** Shared arrangement for the sandbox provider tests: a mocked document client, a fake context, HTTP events. */

import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { vi } from 'vitest';
import { createProvider } from '#functions/sandbox/app.ts';
import type { IdPrefix, SandboxContext } from '#functions/sandbox/context.ts';
import { SandboxTable } from '#functions/sandbox/store.ts';
import { lambdaContext } from '../functions/helpers.ts';

export const TABLE = 'sandbox-table';
export const NOW = new Date('2026-05-01T12:00:00.000Z');

export const ddb = mockClient(DynamoDBDocumentClient);

/** Default answers of an empty table: nothing stored yet, every write succeeds, the first attempt per key. */
export function resetTable(): void {
  ddb.reset();
  ddb.on(UpdateCommand).resolves({ Attributes: { calls: 1 } });
  ddb.on(GetCommand).resolves({});
  ddb.on(PutCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(QueryCommand).resolves({ Items: [] });
  ddb.on(ScanCommand).resolves({ Items: [] });
}

export interface TestContext extends SandboxContext {
  sleep: ReturnType<typeof vi.fn<(ms: number) => Promise<void>>>;
}

export function testContext(overrides: Partial<Pick<SandboxContext, 'random' | 'sleep'>> = {}): TestContext {
  const counters = new Map<IdPrefix, number>();
  return {
    table: new SandboxTable(DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), TABLE),
    logger: new Logger({ serviceName: 'sandbox-test', logLevel: 'SILENT' }),
    sleep: vi.fn<(ms: number) => Promise<void>>(overrides.sleep ?? (async () => {})),
    random: overrides.random ?? (() => 0.5),
    now: () => NOW,
    newId: (prefix) => {
      const next = (counters.get(prefix) ?? 0) + 1;
      counters.set(prefix, next);
      return `${prefix}_test${next}`;
    },
  };
}

export interface RequestSpec {
  method: string;
  path: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  stage?: string;
}

export function httpEvent(spec: RequestSpec): APIGatewayProxyEventV2 {
  const stage = spec.stage ?? '$default';
  const rawPath = stage === '$default' ? spec.path : `/${stage}${spec.path}`;
  return {
    version: '2.0',
    routeKey: 'ANY /{proxy+}',
    rawPath,
    rawQueryString: new URLSearchParams(spec.query ?? {}).toString(),
    headers: { 'content-type': 'application/json', ...spec.headers },
    queryStringParameters: spec.query,
    pathParameters: { proxy: spec.path.slice(1) },
    requestContext: {
      accountId: '000000000000',
      apiId: 'sandbox',
      domainName: 'sandbox.local',
      domainPrefix: 'sandbox',
      http: {
        method: spec.method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'vitest',
      },
      requestId: 'req-1',
      routeKey: 'ANY /{proxy+}',
      stage,
      time: '01/May/2026:12:00:00 +0000',
      timeEpoch: NOW.getTime(),
    },
    body:
      spec.body === undefined
        ? undefined
        : typeof spec.body === 'string'
          ? spec.body
          : JSON.stringify(spec.body),
    isBase64Encoded: false,
  };
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export async function send(ctx: SandboxContext, spec: RequestSpec): Promise<Answer> {
  const result = await createProvider(ctx)(httpEvent(spec), lambdaContext());
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  return {
    status: result.statusCode ?? 0,
    headers,
    body: JSON.parse(result.body ?? 'null') as Record<string, unknown>,
  };
}

export const chargeBody = (token = 'tok_ok') => ({ amount: 2500, currency: 'EUR', token, orderId: 'ord-1' });

/** Without a body argument it posts `chargeBody()`; an explicit `undefined` posts no body at all. */
export const postCharge = (ctx: SandboxContext, key: string | undefined, ...body: [] | [unknown]) =>
  send(ctx, {
    method: 'POST',
    path: '/v1/charges',
    headers: key === undefined ? {} : { 'idempotency-key': key },
    body: body.length === 0 ? chargeBody() : body[0],
  });

/** The key of refund r1, and that refund as the table would return it (of charge k1, EUR 25.00). */
export const refundKey = { pk: 'REFUND#r1', sk: 'REFUND' };

export const storedRefund = (overrides: Record<string, unknown> = {}) => ({
  ...refundKey,
  entity: 'Refund',
  id: 're_first',
  idempotencyKey: 'r1',
  charge: 'ch_first',
  chargeKey: 'k1',
  amount: 2500,
  currency: 'EUR',
  createdAt: '2026-04-30T11:00:00.000Z',
  ...overrides,
});

/** A stored charge item as the table would return it. */
export const storedCharge = (key: string, overrides: Record<string, unknown> = {}) => ({
  pk: `CHARGE#${key}`,
  sk: 'CHARGE',
  entity: 'Charge',
  id: 'ch_first',
  idempotencyKey: key,
  amount: 2500,
  currency: 'EUR',
  token: 'tok_ok',
  orderId: 'ord-1',
  createdAt: '2026-04-30T10:00:00.000Z',
  ...overrides,
});

export function conditionFailed(): Error {
  return Object.assign(new Error('The conditional request failed'), {
    name: 'ConditionalCheckFailedException',
  });
}

export function transactionCanceled(): Error {
  return Object.assign(new Error('Transaction cancelled'), { name: 'TransactionCanceledException' });
}
