import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueUrlCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMailer, MailUnavailable, mailConfigSchema } from '#functions/notifications/mail.ts';
import { breakerKey } from '#functions/resilience/circuit-breaker.ts';
import { keys } from '#shared/table-keys.ts';
import {
  conditionFailed,
  context,
  eventBridgeBody,
  httpStub,
  ids,
  NOW,
  ORDER_ID,
  type RecordedRequest,
  type StubReply,
  sentInput,
  sentInputs,
  sqsEvent,
  sqsRecord,
  TABLE,
} from './helpers.ts';

vi.hoisted(() => {
  process.env.MAIL_TRANSPORT = 'sink';
  // The function's own credentials, which it signs its calls to the sandbox's IAM-authorized API with.
  process.env.AWS_REGION = 'eu-west-1';
  process.env.AWS_ACCESS_KEY_ID = 'AKIDNOTIFY';
  process.env.AWS_SECRET_ACCESS_KEY = 'notify-secret';
});

const ddb = mockClient(DynamoDBDocumentClient);
const ses = mockClient(SESv2Client);
const sqs = mockClient(SQSClient);

let reply: (request: RecordedRequest) => StubReply = () => ({ status: 202, body: { id: 'ml_1' } });
const sink = await httpStub((request) => reply(request));
process.env.MAIL_SINK_URL = sink.url;
const { handler } = await import('#functions/notifications/send-notification.ts');

const MESSAGE_ID = 'a3bb189e-8bf9-4888-9912-ace4e6543002';
const effectKey = { pk: `EFFECT#notify#${MESSAGE_ID}`, sk: 'EFFECT' };

function detail(messageType: 'OrderConfirmed' | 'OrderCancelled', payload: Record<string, unknown> = {}) {
  return {
    messageId: MESSAGE_ID,
    messageType,
    orderId: ORDER_ID,
    clientId: 'client-a',
    correlationId: 'corr-1',
    version: 5,
    occurredAt: '2026-05-01T12:00:00.000Z',
    payload: {
      orderId: ORDER_ID,
      status: messageType === 'OrderConfirmed' ? 'CONFIRMED' : 'CANCELLED',
      customer: { id: 'cust-1', email: 'ada@example.com', name: 'Ada' },
      items: [{ sku: 'BEAN-1', quantity: 2 }],
      currency: 'EUR',
      createdAt: '2026-05-01T11:59:00.000Z',
      ...payload,
    },
  };
}

/** The text of the n-th mail the sink received. */
const mailText = (n: number): string => (sink.requests[n]?.body as { text?: string } | undefined)?.text ?? '';

const confirmed = sqsRecord(
  eventBridgeBody('OrderConfirmed', detail('OrderConfirmed', { amount: 2598 })),
  'm1',
);

beforeEach(() => {
  ddb.reset();
  ses.reset();
  ddb.on(PutCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  ddb.on(DeleteCommand).resolves({});
  // A mail circuit that never failed: no item.
  ddb.on(GetCommand, { Key: breakerKey('mail') }).resolves({});
  sqs.reset();
  sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: 'http://sqs.local/000000000000/notify' });
  sqs.on(SendMessageCommand).resolves({ MessageId: 'copy' });
  sqs.on(ChangeMessageVisibilityBatchCommand).resolves({});
  sink.requests.length = 0;
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
  reply = () => ({ status: 202, body: { id: 'ml_1' } });
});

afterAll(() => sink.close());

describe('notify worker', () => {
  it('claims the effect, sends one mail keyed by the event id, then marks it done', async () => {
    const result = await handler(sqsEvent(confirmed), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ddb).toHaveReceivedNthCommandWith(PutCommand, 1, {
      TableName: TABLE,
      Item: expect.objectContaining({
        ...effectKey,
        entity: 'Effect',
        consumer: 'notify',
        eventId: MESSAGE_ID,
        status: 'IN_PROGRESS',
      }),
      ConditionExpression: 'attribute_not_exists(pk) OR (#status = :inProgress AND leaseUntil < :now)',
      ExpressionAttributeValues: { ':inProgress': 'IN_PROGRESS', ':now': NOW.getTime() },
    });
    expect(sink.requests).toHaveLength(1);
    expect(sink.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/mail',
      headers: {
        'idempotency-key': MESSAGE_ID,
        authorization: expect.stringMatching(
          /^AWS4-HMAC-SHA256 Credential=AKIDNOTIFY\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/,
        ),
      },
      body: { to: 'ada@example.com', subject: 'Your order is confirmed', orderId: ORDER_ID },
    });
    const text = mailText(0);
    expect(text).toContain('Hello Ada');
    expect(text).toContain('2 x BEAN-1');
    expect(text).toContain('€25.98');
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      Key: effectKey,
      ExpressionAttributeValues: expect.objectContaining({ ':done': 'DONE' }),
    });
  });

  it('tells the customer why an order was cancelled', async () => {
    const cancelled = sqsRecord(
      eventBridgeBody('OrderCancelled', detail('OrderCancelled', { failureReason: 'PAYMENT_DECLINED' })),
      'm2',
    );

    await handler(sqsEvent(cancelled), context);

    expect(sink.requests[0]?.body).toMatchObject({ subject: 'Your order was cancelled' });
    expect(mailText(0)).toContain('because the payment was declined');
  });

  it('sends nothing for a duplicate delivery of an event already mailed', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand, { Key: effectKey }).resolves({ Item: { ...effectKey, status: 'DONE' } });

    const result = await handler(sqsEvent(confirmed), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sink.requests).toHaveLength(0);
    expect(ddb).toHaveReceivedNthCommandWith(GetCommand, 1, { ConsistentRead: true });
  });

  it('retries later while another worker holds a live claim', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb
      .on(GetCommand, { Key: effectKey })
      .resolves({ Item: { ...effectKey, status: 'IN_PROGRESS', leaseUntil: NOW.getTime() + 30_000 } });

    const result = await handler(sqsEvent(confirmed), context);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(sink.requests).toHaveLength(0);
  });

  it('gives the claim back and fails the record when the mail sink is down', async () => {
    reply = () => ({ status: 503, body: { error: { type: 'api_error' } } });

    const result = await handler(sqsEvent(confirmed), context);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    const token = sentInput(ddb, PutCommand).Item?.claimToken;
    expect(sentInput(ddb, DeleteCommand)).toEqual({
      TableName: TABLE,
      Key: effectKey,
      ConditionExpression: 'claimToken = :token',
      ExpressionAttributeValues: { ':token': token },
    });
    // The effect is not marked done; the only write besides the release counts the failure on the mail circuit.
    expect(sentInputs(ddb, UpdateCommand).map((input) => input.Key)).toEqual([breakerKey('mail')]);
  });

  it('fails an event it does not handle and an invalid payload, and still mails the good one', async () => {
    const placed = sqsRecord(
      eventBridgeBody('OrderPlaced', { ...detail('OrderConfirmed'), messageType: 'OrderPlaced' }),
      'placed',
    );
    const noEmail = sqsRecord(
      eventBridgeBody('OrderConfirmed', detail('OrderConfirmed', { customer: { id: 'c' } })),
      'no-email',
    );

    const result = await handler(sqsEvent(placed, noEmail, confirmed), context);

    expect(ids(result.batchItemFailures)).toEqual(['no-email', 'placed']);
    expect(sink.requests).toHaveLength(1);
  });
});

describe('notify worker behind the mail circuit', () => {
  const circuitKey = breakerKey('mail');
  const circuitIs = (item: Record<string, unknown>) =>
    ddb
      .on(GetCommand, { Key: circuitKey })
      .resolves({ Item: { ...circuitKey, version: 3, failures: 5, ...item } });
  const circuitWrites = () =>
    sentInputs(ddb, UpdateCommand).filter((input) => input.Key?.pk === circuitKey.pk);

  it('sends nothing and claims nothing while the circuit is open: the message goes back on its queue, delayed', async () => {
    circuitIs({ state: 'OPEN', openUntil: NOW.getTime() + 4_200 });

    const result = await handler(sqsEvent(confirmed), context);

    // The record succeeds: its copy waits on the queue, with a fresh receive count, so it never reaches the DLQ.
    expect(result).toEqual({ batchItemFailures: [] });
    expect(sink.requests).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: 'http://sqs.local/000000000000/notify',
      MessageBody: confirmed.body,
      DelaySeconds: 5,
    });
    expect(sqs.commandCalls(ChangeMessageVisibilityBatchCommand)).toHaveLength(0);
  });

  it('drops a surplus held copy when another copy of the event already waits', async () => {
    circuitIs({ state: 'OPEN', openUntil: NOW.getTime() + 4_200 });
    ddb.on(UpdateCommand, { Key: keys.holdTicket('notify', MESSAGE_ID) }).rejects(conditionFailed());

    expect(await handler(sqsEvent(confirmed), context)).toEqual({ batchItemFailures: [] });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(sink.requests).toHaveLength(0);
  });

  it('holds the message, and gives its claim back, when its failure opens the circuit', async () => {
    reply = () => ({ status: 503 });
    ddb
      .on(UpdateCommand, { Key: circuitKey })
      .resolvesOnce({ Attributes: { state: 'CLOSED', version: 3, failures: 5 } })
      .resolves({});
    ddb
      .on(GetCommand, { Key: circuitKey })
      .resolvesOnce({ Item: { ...circuitKey, state: 'CLOSED', version: 3, failures: 4 } })
      .resolves({
        Item: { ...circuitKey, state: 'OPEN', version: 4, failures: 5, openUntil: NOW.getTime() + 30_000 },
      });

    const result = await handler(sqsEvent(confirmed), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sink.requests).toHaveLength(1);
    expect(ddb.commandCalls(DeleteCommand)).toHaveLength(1);
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, { DelaySeconds: 30 });
  });

  it('fails the record (backoff, receive count) for a failure that leaves the circuit closed', async () => {
    reply = () => ({ status: 503 });
    ddb
      .on(UpdateCommand, { Key: circuitKey })
      .resolves({ Attributes: { state: 'CLOSED', version: 1, failures: 1 } });

    const result = await handler(sqsEvent(confirmed), context);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('sends the one probe when the circuit is due, and closes it when the mail goes through', async () => {
    circuitIs({ state: 'OPEN', openUntil: NOW.getTime() });

    expect(await handler(sqsEvent(confirmed), context)).toEqual({ batchItemFailures: [] });

    expect(sink.requests).toHaveLength(1);
    expect(circuitWrites().map((write) => write.ConditionExpression)).toEqual([
      'version = :version',
      'probeToken = :token',
    ]);
  });

  it('counts a refused mail (4xx) as an answer from a healthy transport', async () => {
    reply = () => ({ status: 400 });
    circuitIs({ state: 'CLOSED', failures: 2 });

    const result = await handler(sqsEvent(confirmed), context);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(circuitWrites()).toEqual([
      expect.objectContaining({ ConditionExpression: expect.stringContaining('failures > :zero') }),
    ]);
  });
});

describe('mail adapter', () => {
  it.each([
    ['a throttle', Object.assign(new Error('slow down'), { name: 'TooManyRequestsException' }), true],
    ['a server fault', Object.assign(new Error('oops'), { name: 'InternalFailure', $fault: 'server' }), true],
    ['a 503', Object.assign(new Error('x'), { name: 'X', $metadata: { httpStatusCode: 503 } }), true],
    ['a rejected message', Object.assign(new Error('bad address'), { name: 'MessageRejected' }), false],
  ])('tells the circuit SES is unavailable for %s, and only then', async (_what, error, unavailable) => {
    ses.on(SendEmailCommand).rejects(error);
    const config = mailConfigSchema.parse({ MAIL_TRANSPORT: 'ses', MAIL_FROM: 'orders@buzzer.example' });
    const mailer = createMailer(config, () => new SESv2Client({ region: 'us-east-1' }));

    const sent = mailer.send({ to: 'ada@example.com', subject: 'Hi', text: 'Body' }, 'key-1');

    if (unavailable) await expect(sent).rejects.toBeInstanceOf(MailUnavailable);
    else await expect(sent).rejects.toMatchObject({ name: 'MessageRejected' });
  });

  it('sends through SES v2 from MAIL_FROM when MAIL_TRANSPORT=ses', async () => {
    ses.on(SendEmailCommand).resolves({ MessageId: 'ses-1' });
    const config = mailConfigSchema.parse({
      MAIL_TRANSPORT: 'ses',
      MAIL_FROM: 'Buzzer <orders@buzzer.example>',
    });
    const mailer = createMailer(config, () => new SESv2Client({ region: 'us-east-1' }));

    await mailer.send({ to: 'ada@example.com', subject: 'Hi', text: 'Body' }, 'key-1');

    expect(sentInput(ses, SendEmailCommand)).toEqual({
      FromEmailAddress: 'Buzzer <orders@buzzer.example>',
      Destination: { ToAddresses: ['ada@example.com'] },
      Content: {
        Simple: {
          Subject: { Data: 'Hi', Charset: 'UTF-8' },
          Body: { Text: { Data: 'Body', Charset: 'UTF-8' } },
        },
      },
    });
  });

  it.each([
    [{ MAIL_TRANSPORT: 'sink' }, /MAIL_SINK_URL/],
    [{ MAIL_TRANSPORT: 'ses' }, /MAIL_FROM/],
    [{ MAIL_TRANSPORT: 'smtp' }, /"sink" or "ses"/],
    [{}, /"sink" or "ses"/],
  ])('rejects an incomplete configuration %j', (env, message) => {
    const result = mailConfigSchema.safeParse(env);

    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`).join(';')).toMatch(
      message,
    );
  });
});
