/** Shared arrangement for the handler tests: events as AWS builds them, error shapes the SDK throws, a tiny HTTP stub. */

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  DecryptCommand,
  GenerateDataKeyCommand,
  InvalidCiphertextException,
  type KMSClientResolvedConfig as KMSConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-kms';
import { TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { MetadataBearer } from '@smithy/types';
import type { Context, DynamoDBRecord, SQSEvent, SQSRecord } from 'aws-lambda';
import type { AwsCommand, AwsStub } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, vi } from 'vitest';
import type { EventDetail, OrderEvent } from '#functions/orders/events.ts';
import type { ApiEvent } from '#shared/http.ts';

export const TABLE = 'buzzer-test';
export const NOW = new Date('2026-05-01T12:00:00.000Z');

/**
 * An order event as a consumer (mail, points) gets it: the EventBridge detail and the order it carries, an
 * OrderConfirmed of Ada's order of two BEAN-1 by default. `detail` and `order` replace what a test is about.
 */
export function orderEvent(
  detail: Partial<EventDetail> = {},
  order: Partial<OrderEvent['order']> = {},
): OrderEvent {
  return {
    eventId: 'eb-1',
    detail: {
      messageId: 'msg-1',
      messageType: 'OrderConfirmed',
      orderId: ORDER_ID,
      clientId: 'client-a',
      correlationId: 'corr-1',
      version: 5,
      occurredAt: NOW.toISOString(),
      payload: {},
      ...detail,
    },
    order: {
      orderId: ORDER_ID,
      status: 'CONFIRMED',
      customer: { id: 'cust-1', email: 'ada@example.com' },
      items: [{ sku: 'BEAN-1', quantity: 2 }],
      currency: 'EUR',
      createdAt: NOW.toISOString(),
      ...order,
    },
  };
}

/** The failure reason a cancelled order gets for each error the saga caught: [error name, reason]. */
export const FAILURE_REASONS: [string, string][] = [
  ['OutOfStock', 'OUT_OF_STOCK'],
  ['UnknownSku', 'UNKNOWN_SKU'],
  ['PaymentDeclined', 'PAYMENT_DECLINED'],
  ['PaymentProviderUnavailable', 'PAYMENT_UNAVAILABLE'],
  ['States.Timeout', 'PAYMENT_UNAVAILABLE'],
  ['States.TaskFailed', 'SAGA_FAILED'],
];

/** The webhook functions' configuration as the stack sets it; each function reads its part once, when it loads. */
export const WEBHOOK_ENV = {
  WEBHOOK_SECRETS_KEY_ID: 'arn:aws:kms:us-east-1:000000000000:key/webhooks',
  DELIVERY_QUEUE_URL: 'http://sqs.local/000000000000/deliveries',
};

/**
 * Freezes `Date` (only `Date`: timers and promises still run) at `at` around each test of the calling file or
 * describe block. Called after the file's own `beforeEach`, it keeps the order the hooks had when each file wrote them.
 */
export function frozenClock(at: Date = NOW): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(at);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}
export const ORDER_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
export const CLIENT_ID = 'client-a';

export const context = {
  functionName: 'test-function',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test-function',
  memoryLimitInMB: '256',
  awsRequestId: 'req-1',
  logGroupName: '/aws/lambda/test-function',
  logStreamName: 'stream',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 10_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
} satisfies Context;

/** A fresh Lambda context, for handlers exported through a middy chain (the log scope reads it). */
export function lambdaContext(overrides: Partial<Context> = {}): Context {
  return { ...context, ...overrides };
}

export interface ApiEventSpec {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
  pathParameters?: Record<string, string>;
  clientId?: string | null;
}

export function apiEvent(spec: ApiEventSpec = {}): ApiEvent {
  const method = spec.method ?? 'POST';
  const path = spec.path ?? '/orders';
  const body = spec.rawBody ?? (spec.body === undefined ? undefined : JSON.stringify(spec.body));
  const lambda = spec.clientId === null ? {} : { clientId: spec.clientId ?? CLIENT_ID };
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...spec.headers },
    requestContext: {
      accountId: '000000000000',
      apiId: 'api',
      domainName: 'api.local',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: 'api-request-1',
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: '01/May/2026:12:00:00 +0000',
      timeEpoch: NOW.getTime(),
      authorizer: { lambda },
    },
    ...(body === undefined ? {} : { body }),
    ...(spec.pathParameters ? { pathParameters: spec.pathParameters } : {}),
    isBase64Encoded: false,
  };
}

export function parseBody(result: { body?: string | undefined }): Record<string, unknown> {
  return JSON.parse(result.body ?? 'null') as Record<string, unknown>;
}

/** `TransactionCanceledException` as DynamoDB throws it: one reason per transaction item, in order. */
export function transactionCanceled(
  ...codes: (string | { Code: string; Item?: Record<string, AttributeValue> })[]
) {
  return new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata: {},
    CancellationReasons: codes.map((code) => (typeof code === 'string' ? { Code: code } : code)),
  });
}

export function conditionFailed() {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
}

/** An EventBridge event as an SQS target receives it. */
export function eventBridgeBody(
  detailType: string,
  detail: Record<string, unknown>,
  id = 'eb-event-1',
): string {
  return JSON.stringify({
    version: '0',
    id,
    'detail-type': detailType,
    source: 'buzzer.orders',
    account: '000000000000',
    time: NOW.toISOString(),
    region: 'us-east-1',
    resources: [],
    detail,
  });
}

export function sqsRecord(body: string, messageId: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(NOW.getTime()),
      SenderId: 'sender',
      ApproximateFirstReceiveTimestamp: String(NOW.getTime()),
    },
    messageAttributes: {},
    md5OfBody: 'md5',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:queue',
    awsRegion: 'us-east-1',
  };
}

export function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/** A stream INSERT record of `item`, as Lambda delivers it. */
export function streamInsert(item: Record<string, unknown>, sequenceNumber: string): DynamoDBRecord {
  return {
    eventID: `event-${sequenceNumber}`,
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      Keys: marshall({ pk: item.pk, sk: item.sk }) as never,
      NewImage: marshall(item, { removeUndefinedValues: true }) as never,
      SequenceNumber: sequenceNumber,
      SizeBytes: 100,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/buzzer-test/stream/2026',
  };
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export type StubReply = { status: number; body?: unknown; delayMs?: number };

/** A real HTTP server on 127.0.0.1 that records requests and answers with `reply`. */
export async function httpStub(reply: (request: RecordedRequest) => StubReply) {
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const request = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: text === '' ? undefined : (JSON.parse(text) as unknown),
    };
    requests.push(request);
    const answer = reply(request);
    const timer = setTimeout(() => {
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    }, answer.delayMs ?? 0);
    res.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A stored order, PENDING and freshly accepted unless overridden. */
/** The body of Ada's `POST /orders`: two BEAN-1 and a MUG-7, paid in EUR with a token the sandbox accepts. */
export const PLACED_ORDER = {
  customer: { id: 'cust-1', email: 'ada@example.com', name: 'Ada' },
  items: [
    { sku: 'BEAN-1', quantity: 2 },
    { sku: 'MUG-7', quantity: 1 },
  ],
  currency: 'EUR',
  paymentToken: 'tok_ok',
};

export function storedOrder(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    pk: `ORDER#${ORDER_ID}`,
    sk: 'ORDER',
    entity: 'Order',
    orderId: ORDER_ID,
    clientId: CLIENT_ID,
    status: 'PENDING',
    version: 1,
    ...PLACED_ORDER,
    timeline: [{ step: 'Accepted', status: 'SUCCEEDED', at: '2026-05-01T11:59:00.000Z' }],
    correlationId: 'corr-1',
    createdAt: '2026-05-01T11:59:00.000Z',
    updatedAt: '2026-05-01T11:59:00.000Z',
    openPk: 'ORDER#PENDING',
    openSk: '2026-05-01T11:59:00.000Z',
    ...overrides,
  };
}

export const orderKey = { pk: `ORDER#${ORDER_ID}`, sk: 'ORDER' };
export const reservationKey = { pk: `ORDER#${ORDER_ID}`, sk: 'RESERVATION' };
export const sagaInput = { orderId: ORDER_ID, correlationId: 'corr-1' };

/** The failed message ids of a batch response, sorted (parallel processing reports them in finishing order). */
export function ids(failures: { itemIdentifier: string }[]): string[] {
  return failures.map((failure) => failure.itemIdentifier).sort();
}

/**
 * A KMS behind `mockClient(KMSClient)` that behaves like the real one for envelope encryption: GenerateDataKey hands
 * out a fresh key and an opaque blob, Decrypt gives the key back only under the exact encryption context.
 */
export function fakeKms(kms: AwsStub<ServiceInputTypes, ServiceOutputTypes, KMSConfig>): void {
  const issued = new Map<string, { key: Buffer; context: string }>();
  const contextOf = (context: Record<string, string> | undefined) =>
    JSON.stringify(Object.entries(context ?? {}).sort(([a], [b]) => a.localeCompare(b)));
  kms
    .on(GenerateDataKeyCommand)
    .callsFake((input: { KeyId: string; EncryptionContext?: Record<string, string> }) => {
      const key = randomBytes(32);
      const blob = randomBytes(48);
      issued.set(blob.toString('base64'), { key, context: contextOf(input.EncryptionContext) });
      return { KeyId: input.KeyId, Plaintext: new Uint8Array(key), CiphertextBlob: new Uint8Array(blob) };
    });
  kms
    .on(DecryptCommand)
    .callsFake((input: { CiphertextBlob: Uint8Array; EncryptionContext?: Record<string, string> }) => {
      const entry = issued.get(Buffer.from(input.CiphertextBlob).toString('base64'));
      if (!entry || entry.context !== contextOf(input.EncryptionContext)) {
        throw new InvalidCiphertextException({ message: 'invalid ciphertext', $metadata: {} });
      }
      return { Plaintext: new Uint8Array(entry.key), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    });
}

/** The call log of any mocked client: `commandCalls` does not depend on the client it mocks. */
type CallLog = Pick<AwsStub<object, MetadataBearer, unknown>, 'commandCalls'>;
type CommandClass<TInput extends object, TOutput extends MetadataBearer> = new (
  input: TInput,
) => AwsCommand<TInput, TOutput>;

/**
 * The inputs of every `command` the mock received, in order. Only for a value a test has to take out of a call (a
 * JSON body to decode, a sealed secret to open, a whole input to compare exactly): what a call carried is otherwise
 * stated with the `toHaveReceived…` matchers.
 */
export function sentInputs<TInput extends object, TOutput extends MetadataBearer>(
  mock: CallLog,
  command: CommandClass<TInput, TOutput>,
): TInput[] {
  return mock.commandCalls(command).map((call) => call.args[0].input);
}

/**
 * The input of the `nth` `command` the mock received, counted from 1 like `toHaveReceivedNthCommandWith`. A missing
 * call fails here, by name, rather than as an `undefined` that a later `.not` assertion could let pass.
 */
export function sentInput<TInput extends object, TOutput extends MetadataBearer>(
  mock: CallLog,
  command: CommandClass<TInput, TOutput>,
  nth = 1,
): TInput {
  const inputs = sentInputs(mock, command);
  const input = inputs[nth - 1];
  if (input === undefined) {
    throw new Error(`expected call ${nth} of ${command.name}, the mock received ${inputs.length}`);
  }
  return input;
}

/** The items of the `nth` (from 1) TransactWriteCommand: the tests decode them one by one, by position. */
export function transactItems(
  mock: CallLog,
  nth = 1,
): NonNullable<TransactWriteCommandInput['TransactItems']> {
  return sentInput(mock, TransactWriteCommand, nth).TransactItems ?? [];
}

/** The expression attributes of an update, as UpdateItem and a transaction's Update item both carry them. */
type UpdateExpressionInput =
  | { ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> }
  | undefined;

/**
 * The value an update assigns to `field`. Order updates name what they set by position (`#s0 = :s0`), so a test
 * finds the slot by the field's name instead of depending on the order of the assignments.
 */
export function assignedValue(update: UpdateExpressionInput, field: string): unknown {
  const slot = Object.entries(update?.ExpressionAttributeNames ?? {}).find(([, name]) => name === field)?.[0];
  if (slot === undefined) throw new Error(`the update assigns nothing to ${field}`);
  return update?.ExpressionAttributeValues?.[`:${slot.slice(1)}`];
}

/** Every value an update binds, for a test that cares that a value is written, not which generated slot holds it. */
export function boundValues(update: UpdateExpressionInput): unknown[] {
  return Object.values(update?.ExpressionAttributeValues ?? {});
}
