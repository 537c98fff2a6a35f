import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayRequestAuthorizerEvent, APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_CLIENT_BURST_LIMIT, DEFAULT_CLIENT_RATE_LIMIT } from '#contracts/api.ts';
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
import { stageWideArn } from '#functions/clients/authorizer.ts';
import { usageIdentifierOf } from '#functions/clients/limits.ts';
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

const LIMITS_KEY = { pk: 'LIMITS#client-a', sk: 'LIMITS' };
const limitsItem = {
  ...LIMITS_KEY,
  entity: 'ClientLimits',
  clientId: 'client-a',
  rateLimit: 2,
  burstLimit: 4,
  updatedAt: '2026-04-01T00:00:00.000Z',
};

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

  it('authorizes an active key with its client id and the default limits as context, read strongly consistent', async () => {
    const key = generateApiKey();
    ddb.on(GetCommand).resolves({ Item: keyItem() });
    ddb.on(GetCommand, { Key: LIMITS_KEY }).resolves({});

    const result = await handler(authorizerEvent({ authorization: `Bearer ${key}` }), context);

    expect(result).toEqual({
      isAuthorized: true,
      context: {
        clientId: 'client-a',
        rateLimit: DEFAULT_CLIENT_RATE_LIMIT,
        burstLimit: DEFAULT_CLIENT_BURST_LIMIT,
      },
    });
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

  it("gives the client's own limits when it has them, and the defaults when its item is unreadable", async () => {
    ddb.on(GetCommand).resolves({ Item: keyItem() });
    ddb.on(GetCommand, { Key: LIMITS_KEY }).resolves({ Item: limitsItem });
    const event = authorizerEvent({ authorization: `Bearer ${generateApiKey()}` });

    expect(await handler(event, context)).toEqual({
      isAuthorized: true,
      context: { clientId: 'client-a', rateLimit: 2, burstLimit: 4 },
    });
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { TableName: TABLE, Key: LIMITS_KEY });

    ddb.on(GetCommand, { Key: LIMITS_KEY }).resolves({ Item: { ...limitsItem, rateLimit: 'fast' } });
    const error = vi.spyOn(logger, 'error');
    expect(await handler(event, context)).toMatchObject({
      context: { rateLimit: DEFAULT_CLIENT_RATE_LIMIT },
    });
    expect(error).toHaveBeenCalledWith('unreadable client limits: the defaults apply', expect.anything());
  });

  it('fails (API Gateway answers 500) rather than deny when the lookup fails', async () => {
    ddb.on(GetCommand).rejects(new Error('network down'));

    await expect(
      handler(authorizerEvent({ Authorization: `Bearer ${generateApiKey()}` }), context),
    ).rejects.toThrow('network down');
  });
});

/** A REST API REQUEST authorizer event (payload 1.0), as API Gateway sends it for `GET /orders/{trackingId}`. */
function restAuthorizerEvent(headers: Record<string, string>): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: 'arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/orders/o:1',
    resource: '/orders/{trackingId}',
    path: '/orders/o:1',
    httpMethod: 'GET',
    headers,
    multiValueHeaders: {},
    pathParameters: { trackingId: 'o:1' },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: { requestId: 'rest-req-1' } as APIGatewayRequestAuthorizerEvent['requestContext'],
  };
}

describe('authorizer, REST API flavour', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
    return () => vi.useRealTimers();
  });

  it('allows the whole stage with an IAM policy, the same context, and the client usage identifier', async () => {
    ddb.on(GetCommand).resolves({ Item: keyItem() });
    ddb.on(GetCommand, { Key: LIMITS_KEY }).resolves({ Item: limitsItem });

    const result = await handler(
      restAuthorizerEvent({ Authorization: `Bearer ${generateApiKey()}` }),
      context,
    );

    expect(result).toEqual({
      principalId: 'client-a',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'execute-api:Invoke',
            Effect: 'Allow',
            Resource: 'arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*',
          },
        ],
      },
      context: { clientId: 'client-a', rateLimit: 2, burstLimit: 4 },
      usageIdentifierKey: usageIdentifierOf('client-a'),
    });
  });

  it('denies with a Deny policy and no usage identifier', async () => {
    ddb.on(GetCommand).resolves({});

    const result = await handler(
      restAuthorizerEvent({ Authorization: `Bearer ${generateApiKey()}` }),
      context,
    );

    expect(result).toEqual({
      principalId: 'anonymous',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'execute-api:Invoke',
            Effect: 'Deny',
            Resource: 'arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*',
          },
        ],
      },
    });
  });

  it('names one usage identifier per client: long enough for an API Gateway key, never the secret key', () => {
    const id = usageIdentifierOf('client-a');
    expect(id).toMatch(/^bzu[0-9a-f]{40}$/);
    expect(usageIdentifierOf('client-a')).toBe(id);
    expect(usageIdentifierOf('client-b')).not.toBe(id);
    expect(stageWideArn('arn:aws-cn:execute-api:cn-north-1:1:api/$default/POST/orders')).toBe(
      'arn:aws-cn:execute-api:cn-north-1:1:api/$default/*',
    );
  });
});
