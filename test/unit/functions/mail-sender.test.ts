import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseMailRequest } from '#functions/notifications/mail-request.ts';
import { mailsTo } from '#functions/notifications/sent-mail.ts';
import { breakerKey } from '#functions/resilience/circuit-breaker.ts';
import { documentClient } from '#shared/dynamodb.ts';
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
  sqsEvent,
  sqsRecord,
  TABLE,
  transactItems,
  transactionCanceled,
} from './helpers.ts';

vi.hoisted(() => {
  process.env.MAIL_TRANSPORT = 'sink';
  process.env.SENT_MAIL_TABLE_NAME = 'sent-mail-test';
  process.env.AWS_REGION = 'eu-west-1';
  process.env.AWS_ACCESS_KEY_ID = 'AKIDMAIL';
  process.env.AWS_SECRET_ACCESS_KEY = 'mail-secret';
});

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);

let reply: (request: RecordedRequest) => StubReply = () => ({ status: 202, body: { id: 'ml_1' } });
const sink = await httpStub((request) => reply(request));
process.env.MAIL_SINK_URL = sink.url;
const { handler } = await import('#functions/notifications/send-mail.ts');

const MESSAGE_ID = 'a3bb189e-8bf9-4888-9912-ace4e6543002';
const SENT_MAIL = 'sent-mail-test';

const orderDetail = {
  messageId: MESSAGE_ID,
  messageType: 'OrderConfirmed',
  orderId: ORDER_ID,
  clientId: 'client-a',
  correlationId: 'corr-1',
  version: 5,
  occurredAt: '2026-05-01T11:59:59.000Z',
  payload: {
    orderId: ORDER_ID,
    status: 'CONFIRMED',
    customer: { id: 'cust-1', email: 'ada@example.com', name: 'Ada' },
    items: [{ sku: 'BEAN-1', quantity: 2 }],
    currency: 'EUR',
    amount: 2598,
    createdAt: '2026-05-01T11:59:00.000Z',
  },
};
const orderMail = sqsRecord(eventBridgeBody('OrderConfirmed', orderDetail), 'o1');

const campaignRequest = (n: number) => ({
  kind: 'campaign',
  requestId: `spring-${n}`,
  campaignId: 'spring',
  to: `spring-${n}@campaign.example`,
  subject: 'News from Buzzer',
  text: 'Two espressos for one.',
  requestedAt: '2026-05-01T11:58:00.000Z',
});
const campaignMail = (n: number) => sqsRecord(JSON.stringify(campaignRequest(n)), `c${n}`);

beforeEach(() => {
  ddb.reset();
  ddb.on(PutCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  ddb.on(DeleteCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(GetCommand, { Key: breakerKey('mail') }).resolves({});
  sqs.reset();
  sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: 'http://sqs.local/000000000000/mail' });
  sqs.on(SendMessageCommand).resolves({ MessageId: 'copy' });
  sink.requests.length = 0;
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
  reply = () => ({ status: 202, body: { id: 'ml_1' } });
});

afterAll(() => sink.close());

describe('mail sender (mailService=burst)', () => {
  it("sends an order event's mail keyed by its message id, then records it and marks it done in one transaction", async () => {
    const result = await handler(sqsEvent(orderMail), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE,
      Item: expect.objectContaining({ ...keys.effect('mail', MESSAGE_ID), status: 'IN_PROGRESS' }),
    });
    expect(sink.requests).toHaveLength(1);
    expect(sink.requests[0]).toMatchObject({
      headers: { 'idempotency-key': MESSAGE_ID },
      body: { to: 'ada@example.com', subject: 'Your order is confirmed', orderId: ORDER_ID },
    });
    const token = sentInput(ddb, PutCommand).Item?.claimToken;
    const [record, done] = transactItems(ddb);
    expect(record?.Put).toEqual({
      TableName: SENT_MAIL,
      Item: {
        recipient: 'ada@example.com',
        sentAt: `${NOW.toISOString()}#${MESSAGE_ID}`,
        requestId: MESSAGE_ID,
        source: 'order',
        subject: 'Your order is confirmed',
        requestedAt: '2026-05-01T11:59:59.000Z',
        orderId: ORDER_ID,
        expiresAt: NOW.getTime() / 1000 + 400 * 24 * 60 * 60,
      },
    });
    expect(done?.Update).toMatchObject({
      TableName: TABLE,
      Key: keys.effect('mail', MESSAGE_ID),
      ConditionExpression: 'claimToken = :token',
      ExpressionAttributeValues: expect.objectContaining({ ':done': 'DONE', ':token': token }),
    });
  });

  it("sends every campaign request of a batch, each under its own request id, in the campaign's name", async () => {
    const result = await handler(sqsEvent(campaignMail(1), campaignMail(2), campaignMail(3)), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sink.requests.map((r) => r.headers['idempotency-key']).sort()).toEqual([
      'spring-1',
      'spring-2',
      'spring-3',
    ]);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
    expect(transactItems(ddb, 1)[0]?.Put?.Item).toMatchObject({
      source: 'campaign',
      campaignId: 'spring',
      recipient: expect.stringMatching(/^spring-\d@campaign\.example$/),
    });
  });

  it('sends and records nothing for a duplicate delivery of a request already sent', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb
      .on(GetCommand, { Key: keys.effect('mail', 'spring-1') })
      .resolves({ Item: { ...keys.effect('mail', 'spring-1'), status: 'DONE' } });

    const result = await handler(sqsEvent(campaignMail(1), campaignMail(1)), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sink.requests).toHaveLength(0);
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('fails the record, and records nothing, when its claim was taken over before the record', async () => {
    ddb.on(TransactWriteCommand).rejects(transactionCanceled('None', 'ConditionalCheckFailed'));

    const result = await handler(sqsEvent(campaignMail(1)), context);

    expect(ids(result.batchItemFailures)).toEqual(['c1']);
  });

  it('gives the claim back and fails only that record when the sink refuses its mail', async () => {
    reply = (request) =>
      request.headers['idempotency-key'] === 'spring-2'
        ? { status: 503, body: {} }
        : { status: 202, body: {} };

    const result = await handler(sqsEvent(campaignMail(1), campaignMail(2)), context);

    expect(ids(result.batchItemFailures)).toEqual(['c2']);
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, { Key: keys.effect('mail', 'spring-2') });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('sends nothing while the mail circuit is open: the request goes back on its queue, delayed', async () => {
    ddb.on(GetCommand, { Key: breakerKey('mail') }).resolves({
      Item: {
        ...breakerKey('mail'),
        version: 3,
        failures: 5,
        state: 'OPEN',
        openUntil: NOW.getTime() + 4_200,
      },
    });

    const result = await handler(sqsEvent(campaignMail(1)), context);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sink.requests).toHaveLength(0);
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { Key: keys.holdTicket('mail', 'spring-1') });
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: 'http://sqs.local/000000000000/mail',
      MessageBody: campaignMail(1).body,
      DelaySeconds: 5,
    });
  });

  it('fails a message that is no mail request, and sends the rest of its batch', async () => {
    const bad = sqsRecord(JSON.stringify({ kind: 'campaign', requestId: 'x' }), 'bad');

    const result = await handler(sqsEvent(bad, campaignMail(1)), context);

    expect(ids(result.batchItemFailures)).toEqual(['bad']);
    expect(sink.requests).toHaveLength(1);
  });
});

describe('mail requests', () => {
  it('names what a campaign request lacks', () => {
    expect(() => parseMailRequest(JSON.stringify({ ...campaignRequest(1), to: 'nobody' }))).toThrow(
      /not a mail request: to: /,
    );
    expect(() => parseMailRequest('{')).toThrow('mail request is not JSON');
  });

  it('reads "mails to X, newest first" as one Query on the recipient in descending order', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ recipient: 'ada@example.com', sentAt: 'b' }] });

    const mails = await mailsTo({ doc: documentClient, sentMailTableName: SENT_MAIL }, 'ada@example.com', 5);

    expect(mails).toHaveLength(1);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: SENT_MAIL,
      KeyConditionExpression: '#recipient = :recipient',
      ExpressionAttributeValues: { ':recipient': 'ada@example.com' },
      ScanIndexForward: false,
      Limit: 5,
    });
  });
});
