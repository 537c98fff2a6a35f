import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  APIGatewayProxyEventV2WithLambdaAuthorizer,
  APIGatewayRequestAuthorizerEventV2,
} from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { RouteTable } from '#local/engines/http-api/routes.ts';
import {
  collectHttpApis,
  type HttpApiDefinition,
  type RunningHttpApi,
  type StartHttpApiOptions,
  startHttpApi,
} from '#local/engines/http-api.ts';
import { LambdaService } from '#local/engines/lambda/service.ts';
import type { CfnResource, InvokeResult, LambdaInvoker } from '#local/types.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/lambda');
const ARN = (name: string): string => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

type FakeHandler = (event: unknown) => Promise<InvokeResult> | InvokeResult;

/** An invoker that records every event and answers from per-function handlers. */
class FakeInvoker implements LambdaInvoker {
  readonly calls: Array<{ arn: string; event: unknown }> = [];
  private readonly handlers: Record<string, FakeHandler>;

  constructor(handlers: Record<string, FakeHandler>) {
    this.handlers = handlers;
  }

  async invoke(arn: string, event: unknown): Promise<InvokeResult> {
    this.calls.push({ arn, event });
    const handler = this.handlers[arn];
    if (!handler) throw new Error(`no fake for ${arn}`);
    return handler(event);
  }

  eventsFor(name: string): unknown[] {
    return this.calls.filter((call) => call.arn === ARN(name)).map((call) => call.event);
  }
}

const ok = (payload: unknown): InvokeResult => ({ payload, durationMs: 1 });

function api(overrides: Partial<HttpApiDefinition> = {}): HttpApiDefinition {
  return {
    apiLogicalId: 'HttpApi',
    apiId: 'abc123defg',
    name: 'test-api',
    routes: [
      {
        routeKey: 'POST /orders',
        integrationId: 'i-orders',
        authorizationType: 'CUSTOM',
        authorizerId: 'auth1',
      },
      {
        routeKey: 'GET /orders/{trackingId}',
        integrationId: 'i-orders',
        authorizationType: 'CUSTOM',
        authorizerId: 'auth1',
      },
      { routeKey: 'GET /public/{proxy+}', integrationId: 'i-public', authorizationType: 'NONE' },
    ],
    integrations: {
      'i-orders': {
        id: 'i-orders',
        functionArn: ARN('orders'),
        payloadFormatVersion: '2.0',
        timeoutMs: 30_000,
      },
      'i-public': {
        id: 'i-public',
        functionArn: ARN('public'),
        payloadFormatVersion: '2.0',
        timeoutMs: 30_000,
      },
    },
    authorizers: {
      auth1: {
        id: 'auth1',
        name: 'ApiKeyAuthorizer',
        functionArn: ARN('authorizer'),
        identitySource: ['$request.header.Authorization'],
        payloadFormatVersion: '2.0',
        enableSimpleResponses: true,
        resultTtlSeconds: 300,
      },
    },
    ...overrides,
  };
}

/** Allows `Bearer good-<client>` with context {clientId}; anything else is denied. */
const simpleAuthorizer: FakeHandler = (event) => {
  const token = (event as APIGatewayRequestAuthorizerEventV2).headers?.authorization ?? '';
  const match = /^Bearer good-(.+)$/.exec(token);
  return ok(match ? { isAuthorized: true, context: { clientId: match[1] } } : { isAuthorized: false });
};

let running: RunningHttpApi[] = [];
let services: LambdaService[] = [];

async function start(
  definition: HttpApiDefinition,
  invoker: LambdaInvoker,
  extra: Partial<StartHttpApiOptions> = {},
) {
  const server = await startHttpApi({ ...definition, invoker, ...extra });
  running.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(running.map((server) => server.stop()));
  await Promise.all(services.map((service) => service.stop()));
  running = [];
  services = [];
});

describe('RouteTable', () => {
  const table = new RouteTable([
    { routeKey: 'GET /pets/dog/1', authorizationType: 'NONE' },
    { routeKey: 'GET /pets/dog/{id}', authorizationType: 'NONE' },
    { routeKey: 'GET /pets/{proxy+}', authorizationType: 'NONE' },
    { routeKey: 'ANY /{proxy+}', authorizationType: 'NONE' },
    { routeKey: 'ANY /pets/dog/{id}', authorizationType: 'NONE' },
    { routeKey: '$default', authorizationType: 'NONE' },
  ]);
  const selected = (method: string, path: string) => table.match(method, path);

  it('prefers the most specific route, as the API Gateway routing rules describe', () => {
    expect(selected('GET', '/pets/dog/1')?.route.routeKey).toBe('GET /pets/dog/1');
    expect(selected('GET', '/pets/dog/2')).toMatchObject({
      route: { routeKey: 'GET /pets/dog/{id}' },
      pathParameters: { id: '2' },
    });
    expect(selected('POST', '/pets/dog/2')?.route.routeKey).toBe('ANY /pets/dog/{id}');
    expect(selected('GET', '/pets/cat/1')).toMatchObject({
      route: { routeKey: 'GET /pets/{proxy+}' },
      pathParameters: { proxy: 'cat/1' },
    });
    expect(selected('POST', '/pets/cat')?.route.routeKey).toBe('ANY /{proxy+}');
    expect(selected('GET', '/')).toMatchObject({ route: { routeKey: '$default' }, resourcePath: '$default' });
  });

  it('decodes path parameters and does not match across empty segments', () => {
    expect(selected('GET', '/pets/dog/a%20b')?.pathParameters).toEqual({ id: 'a b' });
    expect(selected('GET', '/pets/dog/')?.route.routeKey).toBe('GET /pets/{proxy+}');
  });

  it('answers nothing when no route matches and there is no $default', () => {
    const strict = new RouteTable([{ routeKey: 'GET /orders/{id}', authorizationType: 'NONE' }]);
    expect(strict.match('GET', '/orders')).toBeUndefined();
    expect(strict.match('POST', '/orders/1')).toBeUndefined();
    expect(strict.match('GET', '/orders/1/items')).toBeUndefined();
  });
});

describe('collectHttpApis', () => {
  it('groups resolved CDK resources per HTTP API', () => {
    const authorizerUri =
      'arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:Buzzer-Auth/invocations';
    const resources: Record<string, CfnResource> = {
      HttpApi: {
        Type: 'AWS::ApiGatewayV2::Api',
        Properties: {
          Name: 'buzzer',
          ProtocolType: 'HTTP',
          CorsConfiguration: { AllowOrigins: ['*'], MaxAge: 60 },
        },
      },
      Stage: { Type: 'AWS::ApiGatewayV2::Stage', Properties: { ApiId: 'api0000001', StageName: '$default' } },
      Integration: {
        Type: 'AWS::ApiGatewayV2::Integration',
        Properties: {
          ApiId: 'api0000001',
          IntegrationType: 'AWS_PROXY',
          IntegrationUri: 'arn:aws:lambda:us-east-1:000000000000:function:Buzzer-Accept',
          PayloadFormatVersion: '2.0',
        },
      },
      Authorizer: {
        Type: 'AWS::ApiGatewayV2::Authorizer',
        Properties: {
          ApiId: 'api0000001',
          AuthorizerType: 'REQUEST',
          Name: 'ApiKeyAuthorizer',
          AuthorizerUri: authorizerUri,
          AuthorizerPayloadFormatVersion: '2.0',
          AuthorizerResultTtlInSeconds: 300,
          EnableSimpleResponses: true,
          IdentitySource: ['$request.header.Authorization'],
        },
      },
      Route: {
        Type: 'AWS::ApiGatewayV2::Route',
        Properties: {
          ApiId: 'api0000001',
          RouteKey: 'POST /orders',
          AuthorizationType: 'CUSTOM',
          AuthorizerId: 'auth001',
          Target: 'integrations/integ01',
        },
      },
    };
    const refs: Record<string, string> = {
      HttpApi: 'api0000001',
      Integration: 'integ01',
      Authorizer: 'auth001',
    };

    const [definition] = collectHttpApis(resources, (logicalId) => refs[logicalId] ?? logicalId);

    expect(definition).toEqual({
      apiLogicalId: 'HttpApi',
      apiId: 'api0000001',
      name: 'buzzer',
      cors: {
        allowOrigins: ['*'],
        allowMethods: [],
        allowHeaders: [],
        exposeHeaders: [],
        allowCredentials: false,
        maxAgeSeconds: 60,
      },
      routes: [
        {
          routeKey: 'POST /orders',
          integrationId: 'integ01',
          authorizationType: 'CUSTOM',
          authorizerId: 'auth001',
        },
      ],
      integrations: {
        integ01: {
          id: 'integ01',
          functionArn: ARN('Buzzer-Accept'),
          payloadFormatVersion: '2.0',
          timeoutMs: 30_000,
        },
      },
      authorizers: {
        auth001: {
          id: 'auth001',
          name: 'ApiKeyAuthorizer',
          functionArn: ARN('Buzzer-Auth'),
          identitySource: ['$request.header.Authorization'],
          payloadFormatVersion: '2.0',
          enableSimpleResponses: true,
          resultTtlSeconds: 300,
        },
      },
    });
  });
});

describe('HTTP API events', () => {
  it('builds the payload format 2.0 event', async () => {
    const invoker = new FakeInvoker({
      [ARN('authorizer')]: simpleAuthorizer,
      [ARN('orders')]: () => ok({ statusCode: 202, body: '{}' }),
    });
    const server = await start(api(), invoker);

    const response = await fetch(`${server.url}/orders?b=2&a=1&a=x%20y`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer good-client-7',
        'content-type': 'application/json',
        cookie: 'c1=v1; c2=v2',
        'x-multi': 'one',
        'user-agent': 'vitest',
      },
      body: JSON.stringify({ sku: 'A' }),
    });

    expect(response.status).toBe(202);
    const event = invoker.eventsFor('orders')[0] as APIGatewayProxyEventV2WithLambdaAuthorizer<{
      clientId: string;
    }>;
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /orders',
      rawPath: '/orders',
      rawQueryString: 'b=2&a=1&a=x%20y',
      cookies: ['c1=v1', 'c2=v2'],
      queryStringParameters: { a: '1,x y', b: '2' },
      body: '{"sku":"A"}',
      isBase64Encoded: false,
      requestContext: {
        accountId: '000000000000',
        apiId: 'abc123defg',
        domainName: `127.0.0.1:${server.port}`,
        http: {
          method: 'POST',
          path: '/orders',
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: 'vitest',
        },
        routeKey: 'POST /orders',
        stage: '$default',
        authorizer: { lambda: { clientId: 'client-7' } },
      },
    });
    expect(event.headers).toMatchObject({
      authorization: 'Bearer good-client-7',
      'content-type': 'application/json',
      'x-multi': 'one',
      'x-forwarded-proto': 'http',
      'x-forwarded-for': '127.0.0.1',
    });
    expect(event.headers.cookie).toBeUndefined();
    expect(event.pathParameters).toBeUndefined();
    expect(event.requestContext.requestId).toBe(response.headers.get('apigw-requestid'));
    expect(event.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(Math.abs(event.requestContext.timeEpoch - Date.now())).toBeLessThan(5000);
  });

  it('passes greedy path parameters decoded and leaves out an empty body', async () => {
    const invoker = new FakeInvoker({ [ARN('public')]: () => ok({ statusCode: 200 }) });
    const server = await start(api(), invoker);

    await fetch(`${server.url}/public/a/b%2Fc`);
    await fetch(`${server.url}/public/x`);

    const [nested, plain] = invoker.eventsFor('public') as Array<Record<string, unknown>>;
    expect(nested).toMatchObject({ routeKey: 'GET /public/{proxy+}', pathParameters: { proxy: 'a/b/c' } });
    expect(plain).toMatchObject({ pathParameters: { proxy: 'x' }, isBase64Encoded: false });
    expect(plain?.body).toBeUndefined();
  });

  it('base64-encodes a posted binary body', async () => {
    const invoker = new FakeInvoker({ [ARN('public')]: () => ok({ statusCode: 200 }) });
    const server = await start(
      api({
        routes: [{ routeKey: 'ANY /public/{proxy+}', integrationId: 'i-public', authorizationType: 'NONE' }],
      }),
      invoker,
    );

    await fetch(`${server.url}/public/upload`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array([0, 1, 2, 255]),
    });

    expect(invoker.eventsFor('public')[0]).toMatchObject({ body: 'AAEC/w==', isBase64Encoded: true });
  });

  it('answers 404 {"message":"Not Found"} when no route matches', async () => {
    const invoker = new FakeInvoker({});
    const server = await start(api(), invoker);

    const response = await fetch(`${server.url}/nowhere`);

    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ message: 'Not Found' });
    expect(invoker.calls).toHaveLength(0);
  });
});

describe('HTTP API Lambda authorizers', () => {
  it('answers 401 without invoking the authorizer when the identity source is missing', async () => {
    const invoker = new FakeInvoker({ [ARN('authorizer')]: simpleAuthorizer });
    const server = await start(api(), invoker);

    const response = await fetch(`${server.url}/orders/o-1`);

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ message: 'Unauthorized' });
    expect(invoker.calls).toHaveLength(0);
  });

  it('answers 403 when the authorizer denies', async () => {
    const invoker = new FakeInvoker({ [ARN('authorizer')]: simpleAuthorizer });
    const server = await start(api(), invoker);

    const response = await fetch(`${server.url}/orders/o-1`, { headers: { authorization: 'Bearer bad' } });

    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ message: 'Forbidden' });
    expect(invoker.eventsFor('orders')).toHaveLength(0);
  });

  it('sends the REQUEST authorizer event 2.0 and passes its context to the integration', async () => {
    const invoker = new FakeInvoker({
      [ARN('authorizer')]: simpleAuthorizer,
      [ARN('orders')]: () => ok({ statusCode: 200, body: 'ok' }),
    });
    const server = await start(api(), invoker);

    const response = await fetch(`${server.url}/orders/o-1?x=1`, {
      headers: { authorization: 'Bearer good-c1' },
    });

    expect(response.status).toBe(200);
    const authorizerEvent = invoker.eventsFor('authorizer')[0] as APIGatewayRequestAuthorizerEventV2;
    expect(authorizerEvent).toMatchObject({
      version: '2.0',
      type: 'REQUEST',
      routeArn: 'arn:aws:execute-api:us-east-1:000000000000:abc123defg/$default/GET/orders/o-1',
      identitySource: ['Bearer good-c1'],
      routeKey: 'GET /orders/{trackingId}',
      rawPath: '/orders/o-1',
      rawQueryString: 'x=1',
      pathParameters: { trackingId: 'o-1' },
      queryStringParameters: { x: '1' },
    });
    expect(invoker.eventsFor('orders')[0]).toMatchObject({
      pathParameters: { trackingId: 'o-1' },
      requestContext: { authorizer: { lambda: { clientId: 'c1' } } },
    });
  });

  it('caches decisions per identity value for the TTL', async () => {
    const invoker = new FakeInvoker({
      [ARN('authorizer')]: simpleAuthorizer,
      [ARN('orders')]: () => ok({ statusCode: 200 }),
    });
    const server = await start(api(), invoker);
    const get = (token: string) => fetch(`${server.url}/orders/o-1`, { headers: { authorization: token } });

    const statuses = [
      (await get('Bearer good-a')).status,
      (await get('Bearer good-a')).status,
      (await get('Bearer bad')).status,
      (await get('Bearer bad')).status,
      (await get('Bearer good-b')).status,
    ];

    expect(statuses).toEqual([200, 200, 403, 403, 200]);
    expect(invoker.eventsFor('authorizer')).toHaveLength(3);
  });

  it('invokes the authorizer on every request when caching is off', async () => {
    const definition = api();
    const authorizer = definition.authorizers.auth1;
    if (!authorizer) throw new Error('fixture has no authorizer');
    authorizer.resultTtlSeconds = 0;
    const invoker = new FakeInvoker({
      [ARN('authorizer')]: simpleAuthorizer,
      [ARN('orders')]: () => ok({ statusCode: 200 }),
    });
    const server = await start(definition, invoker);

    await fetch(`${server.url}/orders/o-1`, { headers: { authorization: 'Bearer good-a' } });
    await fetch(`${server.url}/orders/o-1`, { headers: { authorization: 'Bearer good-a' } });

    expect(invoker.eventsFor('authorizer')).toHaveLength(2);
  });

  it('answers 500 when the authorizer fails or answers nonsense', async () => {
    const invoker = new FakeInvoker({
      [ARN('authorizer')]: (event) => {
        const token = (event as APIGatewayRequestAuthorizerEventV2).headers?.authorization;
        return token === 'Bearer nonsense'
          ? ok({ allowed: 'yes' })
          : { error: { errorType: 'Error', errorMessage: 'boom' }, durationMs: 1 };
      },
    });
    const server = await start(api(), invoker);

    const failed = await fetch(`${server.url}/orders/o-1`, { headers: { authorization: 'Bearer x' } });
    const nonsense = await fetch(`${server.url}/orders/o-1`, {
      headers: { authorization: 'Bearer nonsense' },
    });

    expect([failed.status, nonsense.status]).toEqual([500, 500]);
    expect(await failed.json()).toEqual({ message: 'Internal Server Error' });
  });

  it('evaluates IAM policy responses against the route ARN when simple responses are off', async () => {
    const definition = api();
    const authorizer = definition.authorizers.auth1;
    if (!authorizer) throw new Error('fixture has no authorizer');
    authorizer.enableSimpleResponses = false;
    const invoker = new FakeInvoker({
      [ARN('authorizer')]: () =>
        ok({
          principalId: 'user-1',
          policyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Action: 'execute-api:Invoke',
                Effect: 'Allow',
                Resource: 'arn:aws:execute-api:*:*:abc123defg/*/GET/*',
              },
              {
                Action: 'execute-api:*',
                Effect: 'Deny',
                Resource: ['arn:aws:execute-api:*:*:abc123defg/*/GET/orders/secret'],
              },
            ],
          },
          context: { tier: 'gold' },
        }),
      [ARN('orders')]: () => ok({ statusCode: 200 }),
    });
    const server = await start(definition, invoker);
    const headers = { authorization: 'Bearer t' };

    const allowed = await fetch(`${server.url}/orders/o-1`, { headers });
    const denied = await fetch(`${server.url}/orders/secret`, { headers });
    const notAllowed = await fetch(`${server.url}/orders`, { method: 'POST', headers });

    expect([allowed.status, denied.status, notAllowed.status]).toEqual([200, 403, 403]);
    // One cached policy served all three routes.
    expect(invoker.eventsFor('authorizer')).toHaveLength(1);
    expect(invoker.eventsFor('orders')[0]).toMatchObject({
      requestContext: { authorizer: { lambda: { tier: 'gold' } } },
    });
  });
});

describe('HTTP API responses', () => {
  const withPublic = (handler: FakeHandler, extra: Partial<HttpApiDefinition> = {}) =>
    start(api(extra), new FakeInvoker({ [ARN('public')]: handler }));

  it('maps a structured 2.0 response: status, headers, cookies, base64 body', async () => {
    const server = await withPublic(() =>
      ok({
        statusCode: 418,
        headers: { 'content-type': 'image/png', 'x-custom': 5 },
        cookies: ['a=1; Path=/', 'b=2'],
        body: Buffer.from([137, 80, 78, 71]).toString('base64'),
        isBase64Encoded: true,
      }),
    );

    const response = await fetch(`${server.url}/public/x`);

    expect(response.status).toBe(418);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(response.headers.get('x-custom')).toBe('5');
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2']);
    expect([...new Uint8Array(await response.arrayBuffer())]).toEqual([137, 80, 78, 71]);
  });

  it('turns any other return value into a 200 JSON response', async () => {
    const server = await withPublic((event) => {
      const rawPath = (event as { rawPath: string }).rawPath;
      return ok(rawPath === '/public/text' ? 'Hello from Lambda!' : { hello: 'world' });
    });

    const json = await fetch(`${server.url}/public/json`);
    const text = await fetch(`${server.url}/public/text`);

    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toBe('application/json');
    expect(await json.json()).toEqual({ hello: 'world' });
    expect(await text.text()).toBe('Hello from Lambda!');
  });

  it('answers 500 when the function fails and when a 1.0 response has no statusCode', async () => {
    const failing = await withPublic(() => ({
      error: { errorType: 'Error', errorMessage: 'x' },
      durationMs: 1,
    }));
    const v1 = await start(
      api({
        integrations: {
          'i-public': {
            id: 'i-public',
            functionArn: ARN('public'),
            payloadFormatVersion: '1.0',
            timeoutMs: 30_000,
          },
        },
      }),
      new FakeInvoker({ [ARN('public')]: () => ok({ hello: 'world' }) }),
    );

    const failed = await fetch(`${failing.url}/public/x`);
    const malformed = await fetch(`${v1.url}/public/x`);

    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ message: 'Internal Server Error' });
    expect(malformed.status).toBe(500);
  });

  it('sends the 1.0 event to a 1.0 integration', async () => {
    const invoker = new FakeInvoker({ [ARN('public')]: () => ok({ statusCode: 204, body: '' }) });
    const server = await start(
      api({
        integrations: {
          'i-public': {
            id: 'i-public',
            functionArn: ARN('public'),
            payloadFormatVersion: '1.0',
            timeoutMs: 30_000,
          },
        },
      }),
      invoker,
    );

    const response = await fetch(`${server.url}/public/a/b?q=1&q=2`, { headers: { 'x-one': 'v' } });

    expect(response.status).toBe(204);
    expect(invoker.eventsFor('public')[0]).toMatchObject({
      version: '1.0',
      resource: '/public/{proxy+}',
      path: '/public/a/b',
      httpMethod: 'GET',
      headers: { 'x-one': 'v' },
      multiValueHeaders: { 'x-one': ['v'] },
      queryStringParameters: { q: '2' },
      multiValueQueryStringParameters: { q: ['1', '2'] },
      pathParameters: { proxy: 'a/b' },
      body: null,
      isBase64Encoded: false,
      requestContext: { httpMethod: 'GET', resourcePath: '/public/{proxy+}', stage: '$default' },
    });
  });

  it('answers 503 when the integration outlasts its timeout', async () => {
    const server = await withPublic(
      () => new Promise((resolve) => setTimeout(() => resolve(ok('late')), 500)),
      {
        integrations: {
          'i-public': {
            id: 'i-public',
            functionArn: ARN('public'),
            payloadFormatVersion: '2.0',
            timeoutMs: 50,
          },
        },
      },
    );

    const response = await fetch(`${server.url}/public/x`);

    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ message: 'Service Unavailable' });
  });

  it('refuses bodies over 10 MB with 413 without invoking the function', async () => {
    const invoker = new FakeInvoker({ [ARN('public')]: () => ok('fine') });
    const server = await start(
      api({
        routes: [{ routeKey: 'ANY /public/{proxy+}', integrationId: 'i-public', authorizationType: 'NONE' }],
      }),
      invoker,
    );

    const tooBig = await fetch(`${server.url}/public/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Uint8Array(10 * 1024 * 1024 + 1),
    });
    const justRight = await fetch(`${server.url}/public/upload`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x'.repeat(1024),
    });

    expect(tooBig.status).toBe(413);
    expect(await tooBig.json()).toEqual({ message: 'Request Entity Too Large' });
    expect(justRight.status).toBe(200);
    expect(invoker.eventsFor('public')).toHaveLength(1);
  });

  it('answers CORS preflights itself and adds CORS headers to responses', async () => {
    const invoker = new FakeInvoker({
      [ARN('public')]: () => ok({ statusCode: 200, headers: { 'access-control-allow-origin': 'evil' } }),
    });
    const server = await start(
      api({
        cors: {
          allowOrigins: ['https://app.example'],
          allowMethods: ['GET', 'POST'],
          allowHeaders: ['authorization', 'content-type'],
          exposeHeaders: ['x-request-id'],
          maxAgeSeconds: 600,
          allowCredentials: false,
        },
      }),
      invoker,
    );

    const preflight = await fetch(`${server.url}/orders`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    const actual = await fetch(`${server.url}/public/x`, { headers: { origin: 'https://app.example' } });
    const foreign = await fetch(`${server.url}/public/x`, { headers: { origin: 'https://other.example' } });

    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET,POST');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization,content-type');
    expect(preflight.headers.get('access-control-max-age')).toBe('600');
    expect(actual.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(actual.headers.get('access-control-expose-headers')).toBe('x-request-id');
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect(invoker.calls).toHaveLength(2);
  });
});

describe('HTTP API with the local Lambda service', () => {
  it('runs real fixture handlers: authorizer, integration and response mapping', async () => {
    const lambda = new LambdaService({ logSink: () => {} });
    services.push(lambda);
    for (const [name, handler] of [
      ['authorizer', 'authorizer.handler'],
      ['orders', 'http-echo.handler'],
    ] as const) {
      lambda.register({
        logicalId: name,
        functionName: name,
        arn: ARN(name),
        codeDir: FIXTURES,
        handler,
        runtime: 'nodejs24.x',
      });
    }
    const server = await start(api(), lambda);

    const created = await fetch(`${server.url}/orders`, {
      method: 'POST',
      headers: { authorization: 'Bearer good-acme', 'content-type': 'application/json' },
      body: '{"sku":"A"}',
    });
    const denied = await fetch(`${server.url}/orders`, {
      method: 'POST',
      headers: { authorization: 'Bearer no' },
    });
    const exploded = await fetch(`${server.url}/orders`, {
      method: 'POST',
      headers: { authorization: 'Bearer explode' },
    });

    expect(created.status).toBe(201);
    expect(created.headers.get('x-function')).toBe('orders');
    expect(created.headers.getSetCookie()).toEqual(['session=abc; HttpOnly']);
    const { event } = (await created.json()) as {
      event: APIGatewayProxyEventV2WithLambdaAuthorizer<unknown>;
    };
    expect(event.body).toBe('{"sku":"A"}');
    expect(event.requestContext.authorizer.lambda).toEqual({ clientId: 'acme', calls: 1 });
    expect(denied.status).toBe(403);
    expect(exploded.status).toBe(500);
  });
});
