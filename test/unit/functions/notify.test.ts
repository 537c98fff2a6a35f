import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMailer, mailConfigSchema } from '#functions/notifications/mail.ts';
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
    ddb.on(GetCommand).resolves({ Item: { ...effectKey, status: 'DONE' } });

    const result = await handler(sqsEvent(confirmed), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sink.requests).toHaveLength(0);
    expect(ddb).toHaveReceivedNthCommandWith(GetCommand, 1, { ConsistentRead: true });
  });

  it('retries later while another worker holds a live claim', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb
      .on(GetCommand)
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
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 0);
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

describe('mail adapter', () => {
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
