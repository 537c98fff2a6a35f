import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { type ApiEvent, jsonResponse, requireClientId } from '#shared/http.ts';
import { httpChain } from '#shared/middleware/http.ts';
import { takeToken } from '#shared/middleware/rate-limit.ts';
import { apiEvent, lambdaContext, NOW, parseBody, TABLE } from '../functions/helpers.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));

/**
 * The table as far as the limiter uses it: a bucket item per key, and the two conditional updates the limiter sends,
 * evaluated as DynamoDB would (a failed condition returns the old item, marshalled, when ALL_OLD is asked for).
 */
let buckets: Map<string, number>;
function fakeTable(): void {
  buckets = new Map();
  ddb.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
    const key = `${input.Key?.pk}/${input.Key?.sk}`;
    const values = input.ExpressionAttributeValues ?? {};
    const tat = buckets.get(key);
    const fail = () => {
      throw new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        ...(tat === undefined ? {} : { Item: { tat: { N: String(tat) } } }),
      });
    };
    if (input.ConditionExpression === 'attribute_not_exists(tat) OR tat <= :now') {
      if (tat !== undefined && tat > values[':now']) fail();
      buckets.set(key, values[':next']);
    } else if (input.ConditionExpression === 'tat <= :limit') {
      if (tat === undefined || tat > values[':limit']) fail();
      buckets.set(key, (tat as number) + values[':interval']);
    } else {
      throw new Error(`unexpected condition ${input.ConditionExpression}`);
    }
    return {};
  });
}

let clock: number;
const route = httpChain({ rateLimit: { doc, tableName: TABLE, now: () => clock } }).handler(async (event) =>
  jsonResponse(200, { clientId: requireClientId(event) }),
);

function limitedEvent(clientId: string, rateLimit: number | string, burstLimit: number | string) {
  const event = apiEvent({ method: 'GET', path: '/webhooks', clientId });
  return {
    ...event,
    requestContext: {
      ...event.requestContext,
      authorizer: { lambda: { clientId, rateLimit, burstLimit } },
    },
  };
}

async function send(clientId: string, rate: number | string, burst: number | string) {
  return route(limitedEvent(clientId, rate, burst), lambdaContext());
}

beforeEach(() => {
  ddb.reset();
  fakeTable();
  clock = NOW.getTime();
});

describe('client rate limit', () => {
  it('lets a client through while its bucket has tokens', async () => {
    for (let i = 0; i < 4; i++) expect((await send('client-a', 2, 4)).statusCode).toBe(200);
  });

  it('answers 429 with Retry-After and a JSON error once the burst is used up', async () => {
    for (let i = 0; i < 4; i++) await send('client-a', 2, 4);

    const refused = await send('client-a', 2, 4);

    expect(refused.statusCode).toBe(429);
    // 2/s: the next token is 500 ms away, rounded up to whole seconds.
    expect(refused.headers?.['retry-after']).toBe('1');
    expect(parseBody(refused)).toEqual({
      error: {
        code: 'rate_limited',
        message: expect.stringContaining('retry after 1 s'),
      },
    });
  });

  it('computes Retry-After from the bucket: a slow rate waits longer', async () => {
    // One request every 10 s, bursts of 2: two now, the third 2.5 s later waits 7.5 s → 8.
    const deps = { doc, tableName: TABLE };
    const limits = { rateLimit: 0.1, burstLimit: 2 };
    for (let i = 0; i < 2; i++)
      expect(await takeToken(deps, 'slow', limits, () => clock)).toEqual({ allowed: true });
    expect(await takeToken(deps, 'slow', limits, () => clock + 2_500)).toEqual({
      allowed: false,
      retryAfterMs: 7_500,
    });

    clock += 2_500;
    const refused = await send('slow', '0.1', '2');
    expect(refused.statusCode).toBe(429);
    expect(refused.headers?.['retry-after']).toBe('8');
  });

  it('judges the bucket when its write is answered, not when a delayed request started', async () => {
    // The largest limits: 10,000 a second, 5,000 at once, so the tolerance is just under 500 ms. The request started
    // at T; its write waited 2 s, while the client's other requests moved the bucket to T + 1.9 s (500 tokens taken in
    // 2 s: far under the limits).
    const deps = { doc, tableName: TABLE };
    const limits = { rateLimit: 10_000, burstLimit: 5_000 };
    buckets.set('RATE#busy/RATE', clock + 1_900);
    const times = [clock, clock + 2_000];
    const delayed = () => times.shift() ?? clock + 2_000;

    expect(await takeToken(deps, 'busy', limits, delayed)).toEqual({ allowed: true });
    expect(buckets.get('RATE#busy/RATE')).toBeCloseTo(clock + 1_900.1, 6);
  });

  it('lets the client in again once the bucket has refilled, one token per interval', async () => {
    for (let i = 0; i < 4; i++) await send('client-a', 2, 4);
    expect((await send('client-a', 2, 4)).statusCode).toBe(429);

    clock += 500;
    expect((await send('client-a', 2, 4)).statusCode).toBe(200);
    expect((await send('client-a', 2, 4)).statusCode).toBe(429);

    clock += 2_000;
    for (let i = 0; i < 4; i++) expect((await send('client-a', 2, 4)).statusCode).toBe(200);
    expect((await send('client-a', 2, 4)).statusCode).toBe(429);
  });

  it("applies each client's own limits from the authorizer context (REST contexts are strings)", async () => {
    for (let i = 0; i < 10; i++) expect((await send('big', '50', '10')).statusCode).toBe(200);
    expect((await send('big', '50', '10')).statusCode).toBe(429);
    expect((await send('small', 1, 2)).statusCode).toBe(200);
    expect((await send('small', 1, 2)).statusCode).toBe(200);
    expect((await send('small', 1, 2)).statusCode).toBe(429);
  });

  it("keeps two clients' buckets apart: one exhausted, the other untouched", async () => {
    for (let i = 0; i < 6; i++) await send('noisy', 2, 4);
    expect((await send('noisy', 2, 4)).statusCode).toBe(429);

    for (let i = 0; i < 4; i++) expect((await send('quiet', 2, 4)).statusCode).toBe(200);
    expect([...buckets.keys()].sort()).toEqual(['RATE#noisy/RATE', 'RATE#quiet/RATE']);
  });

  it('writes one conditional update for an idle client, with the old item on a failed condition and a TTL', async () => {
    await send('client-a', 2, 4);

    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: 'RATE#client-a', sk: 'RATE' },
      UpdateExpression: 'SET tat = :next, expiresAt = :expiresAt',
      ConditionExpression: 'attribute_not_exists(tat) OR tat <= :now',
      ExpressionAttributeValues: {
        ':next': clock + 500,
        ':now': clock,
        ':expiresAt': Math.ceil((clock + 2_000) / 1000) + 60,
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('refuses, rather than overdraws, when another request took the last token between its two writes', async () => {
    // The first write fails on a bucket with room; by the second, others have filled it.
    ddb.reset();
    let calls = 0;
    ddb.on(UpdateCommand).callsFake(() => {
      calls += 1;
      const tat = calls === 1 ? clock + 500 : clock + 2_000;
      throw new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        Item: { tat: { N: String(tat) } },
      });
    });

    const refused = await send('client-a', 2, 4);

    expect(refused.statusCode).toBe(429);
    expect(refused.headers?.['retry-after']).toBe('1');
    expect(calls).toBe(2);
  });

  it('answers 503 with Retry-After when the table throttles the bucket, never 500', async () => {
    ddb.reset();
    ddb
      .on(UpdateCommand)
      .rejects(
        Object.assign(new Error('throughput exceeded'), { name: 'ProvisionedThroughputExceededException' }),
      );

    const answer = await send('client-a', 2, 4);

    expect(answer.statusCode).toBe(503);
    expect(answer.headers?.['retry-after']).toBe('1');
  });

  it('does not limit a request whose context carries no limits, and never reads the table for limits', async () => {
    const answer = await route(apiEvent({ method: 'GET', path: '/webhooks' }), lambdaContext());

    expect(answer.statusCode).toBe(200);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});

/** A REST API (payload 1.0) proxy event for `GET /webhooks/{id}/deliveries?limit=5`, as API Gateway sends it. */
function restEvent(overrides: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return {
    httpMethod: 'GET',
    resource: '/webhooks/{id}/deliveries',
    path: '/webhooks/w-1/deliveries',
    headers: { Accept: 'application/json', 'X-Correlation-Id': 'corr-rest-1' },
    multiValueHeaders: { Accept: ['application/json'], 'X-Correlation-Id': ['corr-rest-1'] },
    queryStringParameters: { limit: '5' },
    multiValueQueryStringParameters: { limit: ['5'] },
    pathParameters: { id: 'w-1' },
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      requestId: 'rest-req-1',
      stage: 'prod',
      protocol: 'HTTP/1.1',
      requestTimeEpoch: NOW.getTime(),
      identity: { sourceIp: '10.0.0.1', userAgent: 'curl' },
      authorizer: {
        principalId: 'client-a',
        integrationLatency: 3,
        clientId: 'client-a',
        rateLimit: '2',
        burstLimit: '4',
      },
    } as unknown as APIGatewayProxyEvent['requestContext'],
    ...overrides,
  };
}

describe('REST API (payload 1.0) events', () => {
  it('reach the handler in the 2.0 shape: headers lower-cased, context under lambda, route and path', async () => {
    let seen: unknown;
    const handler = httpChain().handler(async (event) => {
      seen = event;
      return jsonResponse(200, {});
    });

    const answer = await handler(restEvent(), lambdaContext());

    expect(answer.statusCode).toBe(200);
    expect(answer.headers?.['x-correlation-id']).toBe('corr-rest-1');
    expect(seen).toMatchObject({
      version: '2.0',
      routeKey: 'GET /webhooks/{id}/deliveries',
      rawPath: '/webhooks/w-1/deliveries',
      rawQueryString: 'limit=5',
      headers: { accept: 'application/json', 'x-correlation-id': 'corr-rest-1' },
      queryStringParameters: { limit: '5' },
      pathParameters: { id: 'w-1' },
      isBase64Encoded: false,
      requestContext: {
        requestId: 'rest-req-1',
        stage: 'prod',
        http: { method: 'GET', path: '/webhooks/w-1/deliveries', sourceIp: '10.0.0.1', userAgent: 'curl' },
        authorizer: { lambda: { clientId: 'client-a', rateLimit: '2', burstLimit: '4' } },
      },
    });
    expect(seen).not.toHaveProperty('body');
  });

  it('are rate limited like HTTP API events', async () => {
    for (let i = 0; i < 4; i++) expect((await route(restEvent(), lambdaContext())).statusCode).toBe(200);
    const refused = await route(restEvent(), lambdaContext());
    expect(refused.statusCode).toBe(429);
    expect(refused.headers?.['retry-after']).toBe('1');
  });

  it('joins repeated query parameters and headers as HTTP APIs do', async () => {
    let seen: ApiEvent | undefined;
    const handler = httpChain().handler(async (event) => {
      seen = event;
      return jsonResponse(200, {});
    });

    await handler(
      restEvent({
        queryStringParameters: { tag: 'b' },
        multiValueQueryStringParameters: { tag: ['a', 'b'] },
        headers: { 'X-Tag': 'y' },
        multiValueHeaders: { 'X-Tag': ['x', 'y'] },
      }),
      lambdaContext(),
    );

    expect(seen?.queryStringParameters).toEqual({ tag: 'a,b' });
    expect(seen?.headers['x-tag']).toBe('x,y');
  });

  it('answer 500, opaque, when the event is not what API Gateway sends', async () => {
    const handler = httpChain().handler(async () => jsonResponse(200, {}));

    const answer = await handler(
      { httpMethod: 'GET', requestContext: {} } as unknown as APIGatewayProxyEvent,
      lambdaContext(),
    );

    expect(answer.statusCode).toBe(500);
    expect(parseBody(answer)).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
  });
});
