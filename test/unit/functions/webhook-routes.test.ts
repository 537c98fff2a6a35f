import { KMSClient } from '@aws-sdk/client-kms';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { KmsSecretBox, type SealedSecret } from '#functions/webhooks/secret-box.ts';
import {
  apiEvent,
  CLIENT_ID,
  conditionFailed,
  context,
  fakeKms,
  frozenClock,
  NOW,
  parseBody,
  sentInput,
  TABLE,
  WEBHOOK_ENV,
} from './helpers.ts';

Object.assign(process.env, WEBHOOK_ENV);
const { handler: rotateHandler } = await import('#functions/webhooks/rotate-webhook-secret.ts');
const { handler: deliveriesHandler } = await import('#functions/webhooks/list-webhook-deliveries.ts');
const { handler: enableHandler } = await import('#functions/webhooks/enable-webhook.ts');

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
const kms = mockClient(KMSClient);
fakeKms(kms);
const box = new KmsSecretBox(new KMSClient({}), 'key', { cacheTtlMs: 0 });

const WEBHOOK_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const CURRENT = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const OLDER = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
const webhookKey = { pk: `CLIENT#${CLIENT_ID}`, sk: `WEBHOOK#${WEBHOOK_ID}` };
const OWNER = { clientId: CLIENT_ID, webhookId: WEBHOOK_ID };
const SEALED_CURRENT = await box.seal(CURRENT, OWNER);
const SEALED_OLDER = await box.seal(OLDER, OWNER);
const opened = (secrets: unknown) => Promise.all((secrets as SealedSecret[]).map((s) => box.open(s, OWNER)));
/** The sealed secrets the rotation wrote: only opening them shows which secrets they are. */
const sealedSecrets = () => sentInput(ddb, UpdateCommand).ExpressionAttributeValues?.[':secrets'];

const endpointItem = (overrides: Record<string, unknown> = {}) => ({
  ...webhookKey,
  webhookId: WEBHOOK_ID,
  clientId: CLIENT_ID,
  url: 'https://hooks.example.com/x',
  events: ['OrderConfirmed'],
  sealedSecrets: [SEALED_CURRENT],
  status: 'ENABLED',
  createdAt: '2026-04-01T00:00:00.000Z',
  ...overrides,
});

const call = (
  handler: typeof rotateHandler,
  method: string,
  suffix: string,
  spec: { body?: unknown; clientId?: string; query?: Record<string, string>; id?: string } = {},
) => {
  const id = spec.id ?? WEBHOOK_ID;
  const event = apiEvent({
    method,
    path: `/webhooks/${id}${suffix}`,
    pathParameters: { id },
    ...(spec.body === undefined ? {} : { body: spec.body }),
    ...(spec.clientId ? { clientId: spec.clientId } : {}),
  });
  if (spec.query) event.queryStringParameters = spec.query;
  return handler(event, context);
};

beforeEach(() => {
  ddb.reset();
  sqs.reset();
  ddb.on(GetCommand).resolves({ Item: endpointItem() });
  ddb.on(UpdateCommand).resolves({});
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [] });
});

frozenClock();

describe('POST /webhooks/{id}/rotate-secret', () => {
  it('shows a new secret once and keeps the old one signing for 24 hours', async () => {
    const result = await call(rotateHandler, 'POST', '/rotate-secret');

    expect(result.statusCode).toBe(200);
    const body = parseBody(result);
    const expiresAt = new Date(NOW.getTime() + 24 * 3600_000).toISOString();
    expect(body).toEqual({
      id: WEBHOOK_ID,
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/),
      previousSecretExpiresAt: expiresAt,
    });
    expect(ddb).toHaveReceivedNthCommandWith(GetCommand, 1, {
      Key: webhookKey,
      ConsistentRead: true,
    });
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      TableName: TABLE,
      Key: webhookKey,
      UpdateExpression:
        'SET sealedSecrets = :secrets, rotatedAt = :now, previousSecretExpiresAt = :expiresAt REMOVE secrets',
      ConditionExpression: 'attribute_exists(pk) AND sealedSecrets[0].#iv = :current',
      ExpressionAttributeValues: expect.objectContaining({
        ':current': SEALED_CURRENT.iv,
        ':expiresAt': expiresAt,
      }),
    });
    // The old secret moves over still sealed; the new one is sealed and nowhere in plain text.
    const secrets = sealedSecrets() as SealedSecret[];
    expect(secrets[1]).toEqual(SEALED_CURRENT);
    expect(await opened(secrets)).toEqual([body.secret, CURRENT]);
    expect(JSON.stringify(sentInput(ddb, UpdateCommand))).not.toContain('whsec_');
  });

  it('seals the plaintext secret of an endpoint from before sealing and removes the plaintext', async () => {
    ddb
      .on(GetCommand)
      .resolves({ Item: endpointItem({ sealedSecrets: undefined, secrets: [CURRENT, OLDER] }) });

    const result = await call(rotateHandler, 'POST', '/rotate-secret');

    const body = parseBody(result);
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      UpdateExpression: expect.stringContaining('REMOVE secrets'),
      ConditionExpression:
        'attribute_exists(pk) AND attribute_not_exists(sealedSecrets) AND secrets[0] = :current',
    });
    expect(await opened(sealedSecrets())).toEqual([body.secret, CURRENT]);
    expect(JSON.stringify(sealedSecrets())).not.toContain('whsec_');
  });

  it('drops older secrets: only the one just replaced stays in its grace period', async () => {
    ddb.on(GetCommand).resolves({ Item: endpointItem({ sealedSecrets: [SEALED_CURRENT, SEALED_OLDER] }) });

    const result = await call(rotateHandler, 'POST', '/rotate-secret', {
      body: { gracePeriodSeconds: 3600 },
    });

    const body = parseBody(result);
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      ExpressionAttributeValues: expect.objectContaining({
        ':expiresAt': new Date(NOW.getTime() + 3600_000).toISOString(),
      }),
    });
    expect(await opened(sealedSecrets())).toEqual([body.secret, CURRENT]);
  });

  it('stops the old secret at once with a grace period of 0 (a leaked secret)', async () => {
    const result = await call(rotateHandler, 'POST', '/rotate-secret', { body: { gracePeriodSeconds: 0 } });

    const body = parseBody(result);
    expect(body.previousSecretExpiresAt).toBeNull();
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      UpdateExpression: expect.stringContaining('REMOVE previousSecretExpiresAt'),
    });
    expect(await opened(sealedSecrets())).toEqual([body.secret]);
  });

  it('tries again when a concurrent rotation changed the secret in between', async () => {
    ddb.on(UpdateCommand).rejectsOnce(conditionFailed()).resolves({});

    const result = await call(rotateHandler, 'POST', '/rotate-secret');

    expect(result.statusCode).toBe(200);
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 2);
  });

  it("answers 404 for another client's endpoint", async () => {
    ddb.on(GetCommand).resolves({});

    const result = await call(rotateHandler, 'POST', '/rotate-secret', { clientId: 'client-b' });

    expect(result.statusCode).toBe(404);
    expect(ddb).toHaveReceivedNthCommandWith(GetCommand, 1, {
      Key: { pk: 'CLIENT#client-b', sk: `WEBHOOK#${WEBHOOK_ID}` },
    });
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 0);
  });

  it.each([
    ['a negative grace period', { gracePeriodSeconds: -1 }],
    ['more than 7 days', { gracePeriodSeconds: 8 * 24 * 3600 }],
    ['a fraction', { gracePeriodSeconds: 1.5 }],
    ['an unknown field', { secret: 'whsec_mine' }],
  ])('answers 400 for %s', async (_name, body) => {
    const result = await call(rotateHandler, 'POST', '/rotate-secret', { body });

    expect(result.statusCode).toBe(400);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 0);
  });
});

describe('GET /webhooks/{id}/deliveries', () => {
  const attemptItem = (attempt: number, statusCode: number) => ({
    pk: `WEBHOOK#${WEBHOOK_ID}`,
    sk: `ATTEMPT#2026-05-01T12:00:0${attempt}.000Z#msg_1#${attempt}`,
    entity: 'WebhookAttempt',
    deliveryId: 'msg_1',
    webhookId: WEBHOOK_ID,
    eventType: 'OrderConfirmed',
    orderId: 'o-1',
    attempt,
    at: `2026-05-01T12:00:0${attempt}.000Z`,
    durationMs: 12,
    outcome: statusCode === 200 ? 'succeeded' : 'failed',
    statusCode,
    ...(statusCode === 200 ? {} : { error: `HTTP ${statusCode}` }),
    expiresAt: 1,
  });

  it("lists the caller's endpoint's attempts newest first, with a cursor for the next page", async () => {
    ddb.on(QueryCommand).resolves({
      Items: [attemptItem(2, 200), attemptItem(1, 500)],
      LastEvaluatedKey: { pk: `WEBHOOK#${WEBHOOK_ID}`, sk: attemptItem(1, 500).sk },
    });

    const result = await call(deliveriesHandler, 'GET', '/deliveries', { query: { limit: '2' } });

    expect(result.statusCode).toBe(200);
    const body = parseBody(result) as { attempts: unknown[]; nextCursor: string };
    expect(body.attempts).toEqual([
      {
        deliveryId: 'msg_1',
        eventType: 'OrderConfirmed',
        orderId: 'o-1',
        attempt: 2,
        at: '2026-05-01T12:00:02.000Z',
        durationMs: 12,
        outcome: 'succeeded',
        statusCode: 200,
      },
      expect.objectContaining({ attempt: 1, statusCode: 500, error: 'HTTP 500', outcome: 'failed' }),
    ]);
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `WEBHOOK#${WEBHOOK_ID}`, ':prefix': 'ATTEMPT#' },
      ScanIndexForward: false,
      Limit: 2,
    });

    await call(deliveriesHandler, 'GET', '/deliveries', { query: { cursor: body.nextCursor } });
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 2, {
      ExclusiveStartKey: { pk: `WEBHOOK#${WEBHOOK_ID}`, sk: attemptItem(1, 500).sk },
    });
  });

  it("answers 404 for another client's endpoint without reading its attempts", async () => {
    ddb.on(GetCommand).resolves({});

    const result = await call(deliveriesHandler, 'GET', '/deliveries', { clientId: 'client-b' });

    expect(result.statusCode).toBe(404);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 0);
  });

  it.each([
    ['a limit of 0', { limit: '0' }],
    ['a limit over 100', { limit: '101' }],
    ['a limit that is not a number', { limit: 'ten' }],
    ['a cursor that is not one of ours', { cursor: Buffer.from('DELIVERY#msg_1').toString('base64url') }],
  ])('answers 400 for %s', async (_name, query) => {
    const result = await call(deliveriesHandler, 'GET', '/deliveries', { query });

    expect(result.statusCode).toBe(400);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 0);
  });
});

describe('POST /webhooks/{id}/enable', () => {
  const failedDelivery = (deliveryId: string, createdAt: string) => ({
    deliveryId,
    webhookId: WEBHOOK_ID,
    clientId: CLIENT_ID,
    eventId: 'e-1',
    eventType: 'OrderConfirmed',
    orderId: 'o-1',
    correlationId: 'corr-1',
    body: '{}',
    status: 'FAILED',
    attempt: 8,
    token: `token-${deliveryId}`,
    nextAttemptAt: createdAt,
    createdAt,
    updatedAt: createdAt,
  });

  it('enables the endpoint, then queues a replay of each FAILED delivery, oldest first', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        failedDelivery('msg_b', '2026-04-30T00:00:00.000Z'),
        failedDelivery('msg_a', '2026-04-29T00:00:00.000Z'),
      ],
    });

    const result = await call(enableHandler, 'POST', '/enable');

    expect(result.statusCode).toBe(200);
    expect(parseBody(result)).toEqual({ id: WEBHOOK_ID, status: 'ENABLED', replayed: 2, more: false });
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      Key: webhookKey,
      // A clean slate: the failing streak and the circuit go with the disabled state.
      UpdateExpression:
        'SET #status = :enabled REMOVE disabledReason, disabledAt, failingSince, consecutiveFailures, circuitOpenUntil',
      ConditionExpression: 'attribute_exists(pk)',
    });
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      ExpressionAttributeValues: {
        ':pk': `WEBHOOK#${WEBHOOK_ID}`,
        ':prefix': 'DELIVERY#',
        ':failed': 'FAILED',
      },
    });
    const entries = sentInput(sqs, SendMessageBatchCommand).Entries ?? [];
    expect(entries.map((entry) => JSON.parse(entry.MessageBody ?? '{}'))).toEqual([
      expect.objectContaining({
        kind: 'replay',
        deliveryId: 'msg_a',
        token: 'token-msg_a',
        notBefore: NOW.toISOString(),
      }),
      expect.objectContaining({ kind: 'replay', deliveryId: 'msg_b', token: 'token-msg_b' }),
    ]);
  });

  it("answers 404 for another client's endpoint and replays nothing", async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());

    const result = await call(enableHandler, 'POST', '/enable', { clientId: 'client-b' });

    expect(result.statusCode).toBe(404);
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      Key: { pk: 'CLIENT#client-b', sk: `WEBHOOK#${WEBHOOK_ID}` },
    });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 0);
    expect(sqs).not.toHaveReceivedAnyCommand();
  });

  it('answers 400 for an id that cannot be one', async () => {
    const result = await call(enableHandler, 'POST', '/enable', { id: 'WEBHOOK#x' });

    expect(result.statusCode).toBe(400);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});
