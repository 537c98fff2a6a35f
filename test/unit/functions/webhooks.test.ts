import { KMSClient } from '@aws-sdk/client-kms';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { KmsSecretBox, type SealedSecret } from '#functions/webhooks/secret-box.ts';
import {
  apiEvent,
  CLIENT_ID,
  context,
  fakeKms,
  parseBody,
  sentInput,
  TABLE,
  transactItems,
  transactionCanceled,
  WEBHOOK_ENV,
} from './helpers.ts';

// Registration resolves host names to refuse private targets; these tests run without DNS.
const dns = vi.hoisted(() => ({
  records: new Map<string, string[]>([
    ['hooks.example.com', ['93.184.216.34']],
    ['sneaky.example.com', ['93.184.216.34', '10.0.0.5']],
  ]),
}));
vi.mock('node:dns/promises', () => ({
  lookup: async (host: string) => {
    const addresses = dns.records.get(host);
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  },
}));

Object.assign(process.env, WEBHOOK_ENV);
const { handler: createHandler } = await import('#functions/webhooks/create-webhook.ts');
const { logger } = await import('#shared/logger.ts');
const { handler: listHandler } = await import('#functions/webhooks/list-webhooks.ts');
const { handler: deleteHandler } = await import('#functions/webhooks/delete-webhook.ts');

const ddb = mockClient(DynamoDBDocumentClient);
const kms = mockClient(KMSClient);

const WEBHOOK_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const create = (body: unknown, clientId = CLIENT_ID) =>
  createHandler(apiEvent({ method: 'POST', path: '/webhooks', body, clientId }), context);

beforeEach(() => {
  ddb.reset();
  kms.reset();
  fakeKms(kms);
  ddb.on(QueryCommand).resolves({ Items: [], Count: 0 });
  ddb.on(PutCommand).resolves({});
  ddb.on(DeleteCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
});

describe('POST /webhooks', () => {
  it('registers an endpoint and shows its whsec_ secret once', async () => {
    const result = await create({
      url: 'https://hooks.example.com/buzzer',
      events: ['OrderConfirmed', 'OrderCancelled'],
    });

    expect(result.statusCode).toBe(201);
    const body = parseBody(result);
    expect(body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      url: 'https://hooks.example.com/buzzer',
      events: ['OrderConfirmed', 'OrderCancelled'],
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/),
      status: 'ENABLED',
      createdAt: expect.any(String),
    });
    expect(Buffer.from(String(body.secret).slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(
      24,
    );
    expect(result.headers?.location).toBe(`/webhooks/${body.id}`);
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [
        {
          Update: expect.objectContaining({
            TableName: TABLE,
            Key: { pk: `CLIENT#${CLIENT_ID}`, sk: 'WEBHOOKQUOTA' },
            UpdateExpression: 'SET webhookCount = webhookCount + :one',
            ConditionExpression: 'webhookCount < :max',
            ExpressionAttributeValues: { ':one': 1, ':max': 10 },
          }),
        },
        {
          Put: expect.objectContaining({
            TableName: TABLE,
            Item: expect.objectContaining({
              pk: `CLIENT#${CLIENT_ID}`,
              sk: `WEBHOOK#${body.id}`,
              entity: 'Webhook',
              webhookId: body.id,
              url: 'https://hooks.example.com/buzzer',
              events: ['OrderConfirmed', 'OrderCancelled'],
              status: 'ENABLED',
            }),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        },
      ],
    });
  });

  it('stores the secret sealed, never in plain text, and it opens only for its own endpoint', async () => {
    const result = await create({ url: 'https://hooks.example.com/buzzer', events: ['OrderPlaced'] });

    const { id, secret } = parseBody(result) as { id: string; secret: string };
    const item = transactItems(ddb)[1]?.Put?.Item ?? {};
    const stored = JSON.stringify(item);
    expect(item).not.toHaveProperty('secrets');
    expect(stored).not.toContain('whsec_');
    expect(stored).not.toContain(secret.slice('whsec_'.length));
    const [sealed] = item.sealedSecrets as SealedSecret[];
    if (!sealed) throw new Error('no sealed secret');
    const box = new KmsSecretBox(new KMSClient({}), 'key', { cacheTtlMs: 0 });
    await expect(box.open(sealed, { clientId: CLIENT_ID, webhookId: id })).resolves.toBe(secret);
    await expect(box.open(sealed, { clientId: 'client-b', webhookId: id })).rejects.toThrow(/does not open/);
  });

  it.each([
    ['http', { url: 'http://hooks.example.com/x', events: ['OrderConfirmed'] }, 'url', /https/],
    ['not a URL', { url: 'hooks', events: ['OrderConfirmed'] }, 'url', /absolute/],
    [
      'credentials',
      { url: 'https://u:p@hooks.example.com/x', events: ['OrderConfirmed'] },
      'url',
      /user name/,
    ],
    [
      'metadata IP',
      { url: 'https://169.254.169.254/latest', events: ['OrderConfirmed'] },
      'url',
      /not a public/,
    ],
    ['loopback', { url: 'https://127.0.0.1/x', events: ['OrderConfirmed'] }, 'url', /not a public/],
    ['localhost', { url: 'https://localhost/x', events: ['OrderConfirmed'] }, 'url', /local/],
    [
      'a name resolving to a private IP',
      { url: 'https://sneaky.example.com/x', events: ['OrderConfirmed'] },
      'url',
      /^url resolves to a non-public address$/,
    ],
    [
      'an unresolvable name',
      { url: 'https://nowhere.example.com/x', events: ['OrderConfirmed'] },
      'url',
      /resolve/,
    ],
    [
      'a fragment',
      { url: 'https://hooks.example.com/x#frag', events: ['OrderConfirmed'] },
      'url',
      /fragment/,
    ],
    [
      'unknown event',
      { url: 'https://hooks.example.com/x', events: ['OrderShipped'] },
      'events[0]',
      /one of/,
    ],
    ['no events', { url: 'https://hooks.example.com/x', events: [] }, 'events', /at least one/],
    [
      'repeated events',
      { url: 'https://hooks.example.com/x', events: ['OrderPlaced', 'OrderPlaced'] },
      'events',
      /repeat/,
    ],
    [
      'an unknown field',
      { url: 'https://hooks.example.com/x', events: ['OrderPlaced'], secret: 's' },
      '(body)',
      /secret/,
    ],
  ])('answers 400 for %s', async (_name, body, path, message) => {
    const result = await create(body);

    expect(result.statusCode).toBe(400);
    const { error } = parseBody(result) as { error: { details: unknown[] } };
    expect(error.details).toContainEqual({ path, message: expect.stringMatching(message) });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('does not tell the client which private address its name resolves to; the log keeps it', async () => {
    const warn = vi.spyOn(logger, 'warn');

    const result = await create({ url: 'https://sneaky.example.com/x', events: ['OrderConfirmed'] });

    expect(result.statusCode).toBe(400);
    expect(result.body).toContain('url resolves to a non-public address');
    expect(result.body).not.toContain('10.0.0.5');
    expect(warn).toHaveBeenCalledWith(
      'webhook url refused',
      expect.objectContaining({ reason: 'private_address', detail: expect.stringContaining('10.0.0.5') }),
    );
    warn.mockRestore();
  });

  it('answers 409 once the client has 10 endpoints', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(
        transactionCanceled({ Code: 'ConditionalCheckFailed', Item: { webhookCount: { N: '10' } } }, 'None'),
      );

    const result = await create({ url: 'https://hooks.example.com/x', events: ['OrderPlaced'] });

    expect(result.statusCode).toBe(409);
    expect(parseBody(result)).toMatchObject({ error: { code: 'webhook_limit_reached' } });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('starts the quota of a client from before it at the endpoints it already has', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(transactionCanceled('ConditionalCheckFailed', 'None'))
      .resolves({});
    ddb.on(QueryCommand).resolves({ Items: [{ sk: 'WEBHOOK#a' }, { sk: 'WEBHOOK#b' }] });

    const result = await create({ url: 'https://hooks.example.com/x', events: ['OrderPlaced'] });

    expect(result.statusCode).toBe(201);
    expect(ddb).toHaveReceivedNthCommandWith(PutCommand, 1, {
      Item: expect.objectContaining({ pk: `CLIENT#${CLIENT_ID}`, sk: 'WEBHOOKQUOTA', webhookCount: 2 }),
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
  });
});

describe('GET /webhooks', () => {
  it("lists the caller's endpoints without secrets, across pages", async () => {
    const item = (id: string, createdAt: string) => ({
      webhookId: id,
      url: `https://hooks.example.com/${id}`,
      events: ['OrderConfirmed'],
      status: 'ENABLED',
      createdAt,
    });
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [item('b', '2026-05-02T00:00:00.000Z')],
        LastEvaluatedKey: { pk: 'x', sk: 'y' },
      })
      .resolvesOnce({ Items: [item('a', '2026-05-01T00:00:00.000Z')] });

    const result = await listHandler(apiEvent({ method: 'GET', path: '/webhooks' }), context);

    expect(result.statusCode).toBe(200);
    expect(parseBody(result)).toEqual({
      webhooks: [
        {
          id: 'a',
          url: 'https://hooks.example.com/a',
          events: ['OrderConfirmed'],
          status: 'ENABLED',
          createdAt: '2026-05-01T00:00:00.000Z',
        },
        {
          id: 'b',
          url: 'https://hooks.example.com/b',
          events: ['OrderConfirmed'],
          status: 'ENABLED',
          createdAt: '2026-05-02T00:00:00.000Z',
        },
      ],
    });
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `CLIENT#${CLIENT_ID}`, ':prefix': 'WEBHOOK#' },
    });
    expect(sentInput(ddb, QueryCommand).ProjectionExpression).not.toContain('secret');
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 2, { ExclusiveStartKey: { pk: 'x', sk: 'y' } });
  });
});

describe('DELETE /webhooks/{id}', () => {
  const remove = (id: string, clientId = CLIENT_ID) =>
    deleteHandler(
      apiEvent({ method: 'DELETE', path: `/webhooks/${id}`, pathParameters: { id }, clientId }),
      context,
    );

  it("deletes the caller's endpoint", async () => {
    const result = await remove(WEBHOOK_ID);

    expect(result.statusCode).toBe(204);
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [
        {
          Delete: {
            TableName: TABLE,
            Key: { pk: `CLIENT#${CLIENT_ID}`, sk: `WEBHOOK#${WEBHOOK_ID}` },
            ConditionExpression: 'attribute_exists(pk)',
          },
        },
        {
          Update: expect.objectContaining({
            Key: { pk: `CLIENT#${CLIENT_ID}`, sk: 'WEBHOOKQUOTA' },
            UpdateExpression: 'SET webhookCount = webhookCount - :one',
            ConditionExpression: 'webhookCount > :zero',
          }),
        },
      ],
    });
  });

  it('deletes without the quota for a client from before it (no counter to lower)', async () => {
    ddb.on(TransactWriteCommand).rejects(transactionCanceled('None', 'ConditionalCheckFailed'));

    const result = await remove(WEBHOOK_ID);

    expect(result.statusCode).toBe(204);
    expect(ddb).toHaveReceivedNthCommandWith(DeleteCommand, 1, {
      ConditionExpression: 'attribute_exists(pk)',
    });
  });

  it("answers 404 for an unknown endpoint or another client's", async () => {
    ddb.on(TransactWriteCommand).rejects(transactionCanceled('ConditionalCheckFailed', 'None'));

    const result = await remove(WEBHOOK_ID, 'client-b');

    expect(result.statusCode).toBe(404);
    expect(transactItems(ddb)[0]?.Delete?.Key).toEqual({
      pk: 'CLIENT#client-b',
      sk: `WEBHOOK#${WEBHOOK_ID}`,
    });
  });

  it('answers 400 for an id that cannot be one', async () => {
    const result = await remove('WEBHOOK#1');

    expect(result.statusCode).toBe(400);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});
