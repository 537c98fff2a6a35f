import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  API_KEY_PATTERN,
  apiKeyVerdict,
  bearerApiKey,
  createApiKey,
  generateApiKey,
  hashApiKey,
  InvalidClientId,
  InvalidKeyExpiry,
  KEY_ID_PATTERN,
} from '#functions/clients/api-keys.ts';
import { logger } from '#shared/logger.ts';
import { context, NOW, sentInput, TABLE, transactItems } from './helpers.ts';

const { handler } = await import('#functions/clients/authorizer.ts');

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));

function authorizerEvent(headers: Record<string, string>): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: 'arn:aws:execute-api:us-east-1:000000000000:api/$default/POST/orders',
    identitySource: Object.values(headers),
    routeKey: 'POST /orders',
    rawPath: '/orders',
    rawQueryString: '',
    cookies: [],
    headers,
    requestContext: {
      accountId: '000000000000',
      apiId: 'api',
      domainName: 'api.local',
      domainPrefix: 'api',
      http: {
        method: 'POST',
        path: '/orders',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'vitest',
      },
      requestId: 'req-1',
      routeKey: 'POST /orders',
      stage: '$default',
      time: '',
      timeEpoch: 0,
    },
  };
}

beforeEach(() => {
  ddb.reset();
  ddb.on(TransactWriteCommand).resolves({});
  vi.restoreAllMocks();
});

const epoch = (date: Date) => Math.floor(date.getTime() / 1000);
const DAY = 86_400_000;

/** A key item as `createApiKey` writes it, with `overrides`. */
function keyItem(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    pk: 'APIKEY#ab',
    sk: 'APIKEY',
    entity: 'ApiKey',
    clientId: 'client-a',
    keyId: 'client-a:0123456789ab',
    status: 'ACTIVE',
    createdAt: '2026-04-01T00:00:00.000Z',
    expiresAt: epoch(NOW) + 3600,
    ...overrides,
  };
}

describe('API keys', () => {
  it('generates bzk_ keys of 43 base64url characters, each different', () => {
    const keys = new Set(Array.from({ length: 50 }, generateApiKey));

    expect(keys.size).toBe(50);
    for (const key of keys) expect(key).toMatch(API_KEY_PATTERN);
  });

  it('hashes with SHA-256 hex', () => {
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('stores only the hash of a new key, with its client entry, in one conditional transaction', async () => {
    const issued = await createApiKey(doc, TABLE, 'client-a', { label: 'ci key', now: NOW });

    expect(issued.apiKey).toMatch(API_KEY_PATTERN);
    const hash = hashApiKey(issued.apiKey);
    expect(issued).toMatchObject({
      clientId: 'client-a',
      keyId: `client-a:${hash.slice(0, 12)}`,
      createdAt: NOW.toISOString(),
      expiresAt: new Date(NOW.getTime() + 90 * DAY).toISOString(),
      label: 'ci key',
    });
    expect(issued.keyId).toMatch(KEY_ID_PATTERN);
    const lifecycle = {
      clientId: 'client-a',
      keyId: issued.keyId,
      status: 'ACTIVE',
      createdAt: NOW.toISOString(),
      expiresAt: epoch(NOW) + 90 * 86_400,
      label: 'ci key',
    };
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [
        {
          Put: {
            TableName: TABLE,
            Item: { pk: `APIKEY#${hash}`, sk: 'APIKEY', entity: 'ApiKey', ...lifecycle },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Put: {
            TableName: TABLE,
            Item: {
              pk: 'CLIENT#client-a',
              sk: `APIKEY#${hash.slice(0, 12)}`,
              entity: 'ClientApiKey',
              ...lifecycle,
              keyHash: hash,
              last4: issued.apiKey.slice(-4),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ],
    });
    expect(JSON.stringify(sentInput(ddb, TransactWriteCommand))).not.toContain(issued.apiKey);
  });

  it('issues a key that never expires only when asked, and no key that is already expired', async () => {
    const issued = await createApiKey(doc, TABLE, 'client-a', { expiresAt: 'never', now: NOW });

    expect(issued.expiresAt).toBeNull();
    for (const item of transactItems(ddb)) expect(item.Put?.Item).not.toHaveProperty('expiresAt');
    await expect(createApiKey(doc, TABLE, 'client-a', { expiresAt: NOW, now: NOW })).rejects.toBeInstanceOf(
      InvalidKeyExpiry,
    );
  });

  it('refuses a client id that would break the table keys', async () => {
    await expect(createApiKey(doc, TABLE, 'a#b')).rejects.toBeInstanceOf(InvalidClientId);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });

  it.each([
    ['Bearer <key>', (key: string) => `Bearer ${key}`, true],
    ['lower-case scheme', (key: string) => `bearer ${key}`, true],
    ['Basic scheme', (key: string) => `Basic ${key}`, false],
    ['no scheme', (key: string) => key, false],
    ['a truncated key', (key: string) => `Bearer ${key.slice(0, -1)}`, false],
    ['another prefix', (key: string) => `Bearer sk_${key.slice(4)}`, false],
  ])('reads the bearer key: %s', (_name, header, ok) => {
    const key = generateApiKey();
    expect(bearerApiKey(header(key))).toBe(ok ? key : undefined);
  });
});

describe('key verdict', () => {
  it.each([
    ['an active key before its expiry', keyItem(), true],
    ['a key issued to never expire', keyItem({ expiresAt: undefined }), true],
    ['a revoked key', keyItem({ status: 'REVOKED', revokedAt: NOW.toISOString() }), false],
    ['a revoked key that has not expired', keyItem({ status: 'REVOKED', expiresAt: undefined }), false],
    ['a key at its expiry', keyItem({ expiresAt: epoch(NOW) }), false],
    ['a key past its expiry', keyItem({ expiresAt: epoch(NOW) - 1 }), false],
    ['a key without lifecycle fields (issued before them)', { clientId: 'client-a' }, false],
    ['a key with an unknown status', keyItem({ status: 'SUSPENDED' }), false],
    ['no key', undefined, false],
  ])('%s → allowed %s', (_name, item, allowed) => {
    expect(apiKeyVerdict(item, NOW).allowed).toBe(allowed);
  });
});

describe('authorizer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
    return () => vi.useRealTimers();
  });

  it('authorizes an active key with its client id as context, read strongly consistent', async () => {
    const key = generateApiKey();
    ddb.on(GetCommand).resolves({ Item: keyItem() });

    const result = await handler(authorizerEvent({ authorization: `Bearer ${key}` }), context);

    expect(result).toEqual({ isAuthorized: true, context: { clientId: 'client-a' } });
    expect(ddb).toHaveReceivedNthCommandWith(GetCommand, 1, {
      TableName: TABLE,
      Key: { pk: `APIKEY#${hashApiKey(key)}`, sk: 'APIKEY' },
      ConsistentRead: true,
    });
  });

  it.each([
    ['revoked', keyItem({ status: 'REVOKED', revokedAt: '2026-04-30T00:00:00.000Z' })],
    ['expired', keyItem({ expiresAt: epoch(NOW) - 60 })],
  ])('denies a key that is %s and logs why by its key id, never the key', async (reason, item) => {
    const key = generateApiKey();
    ddb.on(GetCommand).resolves({ Item: item });
    const info = vi.spyOn(logger, 'info');

    const result = await handler(authorizerEvent({ authorization: `Bearer ${key}` }), context);

    expect(result).toEqual({ isAuthorized: false });
    expect(info).toHaveBeenCalledWith(
      `denied: ${reason} key`,
      expect.objectContaining({ keyId: 'client-a:0123456789ab', clientId: 'client-a' }),
    );
    expect(JSON.stringify(info.mock.calls)).not.toContain(key);
    expect(JSON.stringify(info.mock.calls)).not.toContain(hashApiKey(key));
  });

  it('denies, loudly, a key item without status and expiry', async () => {
    ddb.on(GetCommand).resolves({ Item: { pk: 'APIKEY#x', sk: 'APIKEY', clientId: 'client-a' } });
    const error = vi.spyOn(logger, 'error');

    const result = await handler(authorizerEvent({ authorization: `Bearer ${generateApiKey()}` }), context);

    expect(result).toEqual({ isAuthorized: false });
    expect(error).toHaveBeenCalledWith(
      'denied: unreadable key',
      expect.objectContaining({ clientId: 'client-a' }),
    );
  });

  it('denies an unknown key', async () => {
    ddb.on(GetCommand).resolves({});

    const result = await handler(authorizerEvent({ authorization: `Bearer ${generateApiKey()}` }), context);

    expect(result).toEqual({ isAuthorized: false });
  });

  it.each([
    ['no header', {}],
    ['a malformed key', { authorization: 'Bearer nope' }],
    ['a different scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
  ])('denies %s without reading the table', async (_name, headers) => {
    const result = await handler(authorizerEvent(headers), context);

    expect(result).toEqual({ isAuthorized: false });
    expect(ddb).not.toHaveReceivedAnyCommand();
  });

  it('fails (API Gateway answers 500) rather than deny when the lookup fails', async () => {
    ddb.on(GetCommand).rejects(new Error('network down'));

    await expect(
      handler(authorizerEvent({ Authorization: `Bearer ${generateApiKey()}` }), context),
    ).rejects.toThrow('network down');
  });
});
