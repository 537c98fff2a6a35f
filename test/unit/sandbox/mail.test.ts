import { BatchGetCommand, GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { sentInput } from '../functions/helpers.ts';
import { conditionFailed, ddb, resetTable, send, TABLE, testContext } from './helpers.ts';

const mailKey = { pk: 'MAIL#m1', sk: 'MAIL' };
const mail = {
  to: 'ada@example.com',
  subject: 'Order confirmed',
  text: 'Your order ord-1 is ready',
  orderId: 'ord-1',
};

const storedMail = (key: string, overrides: Record<string, unknown> = {}) => ({
  pk: `MAIL#${key}`,
  sk: 'MAIL',
  entity: 'Mail',
  id: `ml_${key}`,
  idempotencyKey: key,
  ...mail,
  createdAt: '2026-04-30T10:00:00.000Z',
  ...overrides,
});

const postMail = (ctx: ReturnType<typeof testContext>, body: unknown, key = 'm1') =>
  send(ctx, { method: 'POST', path: '/v1/mail', headers: { 'idempotency-key': key }, body });

beforeEach(() => {
  resetTable();
});

describe('POST /v1/mail', () => {
  it('records the mail with a conditional write and answers 202 with its id', async () => {
    const answer = await postMail(testContext(), mail);

    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ id: 'ml_test1' });
    expect(sentInput(ddb, PutCommand)).toEqual({
      TableName: TABLE,
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: {
        ...mailKey,
        entity: 'Mail',
        id: 'ml_test1',
        idempotencyKey: 'm1',
        ...mail,
        createdAt: '2026-05-01T12:00:00.000Z',
      },
    });
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, { Key: { pk: 'MAIL#m1', sk: 'CALLS' } });
  });

  it('leaves orderId out of the item when the mail has none', async () => {
    const { orderId: _omitted, ...withoutOrder } = mail;

    const answer = await postMail(testContext(), withoutOrder);

    expect(answer.status).toBe(202);
    expect(sentInput(ddb, PutCommand).Item).not.toHaveProperty('orderId');
  });

  it('records nothing new for a repeated key and says duplicate', async () => {
    ddb.on(GetCommand, { Key: mailKey }).resolves({ Item: storedMail('m1') });
    ddb.on(UpdateCommand).resolves({ Attributes: { calls: 2 } });

    const answer = await postMail(testContext(), mail);

    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ id: 'ml_m1', duplicate: true });
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 0);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
  });

  it('answers a concurrent duplicate that lost the conditional write as a duplicate of the winner', async () => {
    ddb
      .on(GetCommand, { Key: mailKey })
      .resolvesOnce({})
      .resolves({ Item: storedMail('m1', { id: 'ml_winner' }) });
    ddb.on(PutCommand).rejects(conditionFailed());

    const answer = await postMail(testContext(), mail);

    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ id: 'ml_winner', duplicate: true });
  });

  it('answers 503 while the sink is broken, yet counts the call', async () => {
    ddb.on(GetCommand, { Key: { pk: 'FAULTS', sk: 'FAULTS' } }).resolves({ Item: { mailBroken: true } });

    const answer = await postMail(testContext(), mail);

    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: { type: 'api_error', code: 'mail_sink_broken' } });
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 0);
  });

  it('fails at the mail failure rate', async () => {
    ddb.on(GetCommand, { Key: { pk: 'FAULTS', sk: 'FAULTS' } }).resolves({ Item: { mailFailureRate: 0.5 } });

    const failed = await postMail(testContext({ random: () => 0.49 }), mail);
    const delivered = await postMail(testContext({ random: () => 0.5 }), mail);

    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ error: { code: 'injected_fault' } });
    expect(delivered.status).toBe(202);
  });

  it.each([
    ['a bad address', { ...mail, to: 'not-an-address' }],
    ['no subject', { ...mail, subject: undefined }],
    ['a numeric text', { ...mail, text: 7 }],
    ['an empty orderId', { ...mail, orderId: '' }],
  ])('answers 400 for %s', async (_case, body) => {
    const answer = await postMail(testContext(), body);

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'parameter_invalid' } });
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});

describe('GET /v1/mail', () => {
  it('lists the mails to an address with the calls per key, oldest first, across scan pages', async () => {
    ddb
      .on(ScanCommand)
      .resolvesOnce({
        Items: [storedMail('m2', { createdAt: '2026-04-30T11:00:00.000Z' })],
        LastEvaluatedKey: { pk: 'MAIL#m2', sk: 'MAIL' },
      })
      .resolves({ Items: [storedMail('m1')] });
    ddb.on(BatchGetCommand).resolves({
      Responses: {
        [TABLE]: [
          { idempotencyKey: 'm1', calls: 3 },
          { idempotencyKey: 'm2', calls: 1 },
        ],
      },
    });

    const answer = await send(testContext(), {
      method: 'GET',
      path: '/v1/mail',
      query: { to: 'ada@example.com' },
    });

    expect(answer.status).toBe(200);
    expect(answer.body.messages).toEqual([
      {
        id: 'ml_m1',
        idempotencyKey: 'm1',
        ...mail,
        createdAt: '2026-04-30T10:00:00.000Z',
        calls: 3,
      },
      {
        id: 'ml_m2',
        idempotencyKey: 'm2',
        ...mail,
        createdAt: '2026-04-30T11:00:00.000Z',
        calls: 1,
      },
    ]);
    expect(ddb).toHaveReceivedCommandTimes(ScanCommand, 2);
    expect(ddb).toHaveReceivedNthCommandWith(ScanCommand, 1, {
      FilterExpression: '#entity = :entity AND #w0 = :w0',
      ExpressionAttributeNames: { '#entity': 'entity', '#w0': 'to' },
      ExpressionAttributeValues: { ':entity': 'Mail', ':w0': 'ada@example.com' },
    });
    expect(ddb).toHaveReceivedNthCommandWith(ScanCommand, 2, {
      ExclusiveStartKey: { pk: 'MAIL#m2', sk: 'MAIL' },
    });
    expect(ddb).toHaveReceivedNthCommandWith(BatchGetCommand, 1, {
      RequestItems: {
        [TABLE]: expect.objectContaining({
          Keys: [
            { pk: 'MAIL#m2', sk: 'CALLS' },
            { pk: 'MAIL#m1', sk: 'CALLS' },
          ],
        }),
      },
    });
  });

  it('filters by orderId', async () => {
    const answer = await send(testContext(), {
      method: 'GET',
      path: '/v1/mail',
      query: { orderId: 'ord-9' },
    });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ messages: [] });
    expect(ddb).toHaveReceivedNthCommandWith(ScanCommand, 1, {
      ExpressionAttributeValues: { ':entity': 'Mail', ':w0': 'ord-9' },
    });
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 0);
  });

  it('asks again for keys BatchGetItem left unprocessed', async () => {
    ddb.on(ScanCommand).resolves({ Items: [storedMail('m1')] });
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ pk: 'MAIL#m1', sk: 'CALLS' }] } },
      })
      .resolves({ Responses: { [TABLE]: [{ idempotencyKey: 'm1', calls: 2 }] } });

    const answer = await send(testContext(), {
      method: 'GET',
      path: '/v1/mail',
      query: { orderId: 'ord-1' },
    });

    expect((answer.body.messages as Array<{ calls: number }>)[0]?.calls).toBe(2);
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 2);
  });
});
