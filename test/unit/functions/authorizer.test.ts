import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  API_KEY_PATTERN,
  bearerApiKey,
  createApiKey,
  generateApiKey,
  hashApiKey,
  InvalidClientId,
} from '#shared/api-keys.ts';
import { context, TABLE } from './helpers.ts';

vi.hoisted(() => {
  process.env.TABLE_NAME = 'buzzer-test';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

const { handler } = await import('#functions/api/authorizer.ts');

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
  ddb.on(PutCommand).resolves({});
});

describe('API keys', () => {
  it('generates bzk_ keys of 43 base64url characters, each different', () => {
    const keys = new Set(Array.from({ length: 50 }, generateApiKey));

    expect(keys.size).toBe(50);
    for (const key of keys) expect(key).toMatch(API_KEY_PATTERN);
  });

  it('hashes with SHA-256 hex', () => {
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('stores only the hash of a new key, conditionally, and returns the plain key once', async () => {
    const { apiKey, clientId } = await createApiKey(doc, TABLE, 'client-a', 'ci key');

    expect(apiKey).toMatch(API_KEY_PATTERN);
    expect(clientId).toBe('client-a');
    const put = ddb.commandCalls(PutCommand)[0]?.args[0].input;
    expect(put).toMatchObject({
      TableName: TABLE,
      Item: {
        pk: `APIKEY#${hashApiKey(apiKey)}`,
        sk: 'APIKEY',
        entity: 'ApiKey',
        clientId: 'client-a',
        label: 'ci key',
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(JSON.stringify(put)).not.toContain(apiKey);
  });

  it('refuses a client id that would break the table keys', async () => {
    await expect(createApiKey(doc, TABLE, 'a#b')).rejects.toBeInstanceOf(InvalidClientId);
    expect(ddb.calls()).toHaveLength(0);
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

describe('authorizer', () => {
  it('authorizes a known key with its client id as context', async () => {
    const key = generateApiKey();
    ddb.on(GetCommand).resolves({ Item: { clientId: 'client-a' } });

    const result = await handler(authorizerEvent({ authorization: `Bearer ${key}` }), context);

    expect(result).toEqual({ isAuthorized: true, context: { clientId: 'client-a' } });
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: `APIKEY#${hashApiKey(key)}`, sk: 'APIKEY' },
    });
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
    expect(ddb.calls()).toHaveLength(0);
  });

  it('fails (API Gateway answers 500) rather than deny when the lookup fails', async () => {
    ddb.on(GetCommand).rejects(new Error('network down'));

    await expect(
      handler(authorizerEvent({ Authorization: `Bearer ${generateApiKey()}` }), context),
    ).rejects.toThrow('network down');
  });
});
