/**
 * The local REST API engine (`AWS::ApiGateway::*`), run from a small CDK stack synthesized here without bundling
 * (inline function code; a fake invoker answers for the functions), through the resource module as the runtime starts
 * it: routing under the stage path, the Lambda proxy event, authorizers, usage plans and their keys.
 */

import { App, CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type {
  APIGatewayProxyEvent,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayTokenAuthorizerEvent,
} from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '#local/engines/gateway.ts';
import { freePort } from '#local/engines/ports.ts';
import { restApi } from '#local/resources/apigateway.ts';
import type { StartContext } from '#local/resources/module.ts';
import { classifyResources } from '#local/resources/support.ts';
import { LocalNames } from '#local/template/naming.ts';
import { TemplateResolver } from '#local/template/resolve.ts';
import {
  type CfnTemplate,
  DEFAULT_ACCOUNT,
  type InvokeResult,
  type LambdaInvoker,
  silentLogger,
} from '#local/types.ts';

const account = { ...DEFAULT_ACCOUNT, stackName: 'RestTest' };
const HEADER_KEY = 'header-key-0123456789abcdef';
const DAY_MS = 24 * 60 * 60 * 1000;

/** The stack: one API metering keys from `x-api-key`, one metering the key its authorizer names. */
function synthesize(): CfnTemplate {
  const app = new App();
  const stack = new Stack(app, 'RestTest', { env: { account: account.accountId, region: account.region } });
  const fn = (id: string) =>
    new lambda.Function(stack, id, {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200 })'),
    });
  const echo = fn('Echo');
  const malformed = fn('Malformed');
  const tokenAuthorizer = new apigw.TokenAuthorizer(stack, 'TokenAuth', {
    handler: fn('TokenAuthFn'),
    resultsCacheTtl: Duration.minutes(5),
  });
  const requestAuthorizer = new apigw.RequestAuthorizer(stack, 'RequestAuth', {
    handler: fn('RequestAuthFn'),
    identitySources: [apigw.IdentitySource.header('x-client'), apigw.IdentitySource.queryString('tenant')],
    resultsCacheTtl: Duration.seconds(0),
  });

  const api = new apigw.RestApi(stack, 'Api', {
    cloudWatchRole: false,
    binaryMediaTypes: ['image/*'],
    deployOptions: {
      stageName: 'prod',
      variables: { flavour: 'rest' },
      methodOptions: { '/public/GET': { throttlingRateLimit: 1, throttlingBurstLimit: 1 } },
    },
  });
  const integration = new apigw.LambdaIntegration(echo);
  const orders = api.root.addResource('orders');
  orders.addMethod('POST', integration, { authorizer: tokenAuthorizer, apiKeyRequired: true });
  orders.addResource('{trackingId}').addMethod('GET', integration, { authorizer: requestAuthorizer });
  api.root.addResource('files').addResource('{proxy+}').addMethod('ANY', integration);
  const open = api.root.addResource('public');
  open.addMethod('GET', integration);
  open.addCorsPreflight({ allowOrigins: ['https://shop.example'], allowMethods: ['GET'] });
  api.root.addResource('broken').addMethod('GET', new apigw.LambdaIntegration(malformed));
  api.addGatewayResponse('Throttled', {
    type: apigw.ResponseType.THROTTLED,
    responseHeaders: { 'Retry-After': "'1'" },
  });
  api.addGatewayResponse('Default4xx', {
    type: apigw.ResponseType.DEFAULT_4XX,
    responseHeaders: { 'x-request-id': 'method.request.header.x-trace' },
    templates: {
      'application/json': '{"error":$context.error.messageString,"type":"$context.error.responseType"}',
    },
  });
  const plan = api.addUsagePlan('Plan', {
    throttle: { rateLimit: 2, burstLimit: 2 },
    quota: { limit: 5, period: apigw.Period.DAY },
    apiStages: [{ api, stage: api.deploymentStage }],
  });
  plan.addApiKey(api.addApiKey('HeaderKey', { value: HEADER_KEY }));

  const clientApi = new apigw.RestApi(stack, 'ClientApi', {
    cloudWatchRole: false,
    apiKeySourceType: apigw.ApiKeySourceType.AUTHORIZER,
    deployOptions: { stageName: 'v1' },
  });
  const usageAuthorizer = new apigw.RequestAuthorizer(stack, 'UsageAuth', {
    handler: fn('UsageAuthFn'),
    identitySources: [apigw.IdentitySource.header('Authorization')],
    resultsCacheTtl: Duration.seconds(60),
  });
  clientApi.root.addResource('orders').addMethod('POST', new apigw.LambdaIntegration(echo), {
    authorizer: usageAuthorizer,
    apiKeyRequired: true,
  });
  clientApi.addUsagePlan('ClientPlan', {
    throttle: { rateLimit: 100, burstLimit: 100 },
    apiStages: [{ api: clientApi, stage: clientApi.deploymentStage }],
  });
  new CfnOutput(stack, 'ApiUrl', { value: api.url });
  return app.synth().getStackByName('RestTest').template as CfnTemplate;
}

const ok = (payload: unknown): InvokeResult => ({ payload, durationMs: 1 });
const policy = (effect: 'Allow' | 'Deny', resource: string, extra: Record<string, unknown> = {}) => ({
  principalId: 'user-1',
  policyDocument: {
    Version: '2012-10-17',
    Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }],
  },
  ...extra,
});

/** Answers for the stack's functions, by logical id; records every event. */
class FakeFunctions implements LambdaInvoker {
  readonly calls: Array<{ logicalId: string; event: unknown }> = [];
  constructor(private readonly arns: Map<string, string>) {}

  async invoke(arn: string, event: unknown): Promise<InvokeResult> {
    const logicalId = this.arns.get(arn) ?? arn;
    this.calls.push({ logicalId, event });
    if (logicalId.startsWith('Echo')) {
      return ok({
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        multiValueHeaders: { 'set-cookie': ['a=1', 'b=2'] },
        body: JSON.stringify({ path: (event as APIGatewayProxyEvent).path }),
      });
    }
    if (logicalId.startsWith('Malformed')) return ok({ statusCode: 200, body: { not: 'a string' } });
    if (logicalId.startsWith('TokenAuthFn')) {
      const { authorizationToken: token, methodArn } = event as APIGatewayTokenAuthorizerEvent;
      if (token === 'deny') return ok(policy('Deny', methodArn));
      if (token === 'unauthorized')
        return { error: { errorType: 'Error', errorMessage: 'Unauthorized' }, durationMs: 1 };
      if (token === 'nested') return ok(policy('Allow', methodArn, { context: { client: { id: 1 } } }));
      return ok(policy('Allow', methodArn, { context: { clientId: token, tier: 2, trusted: true } }));
    }
    if (logicalId.startsWith('RequestAuthFn')) {
      const { headers, methodArn } = event as APIGatewayRequestAuthorizerEvent;
      return ok(policy(headers?.['x-client'] === 'good' ? 'Allow' : 'Deny', methodArn));
    }
    if (logicalId.startsWith('UsageAuthFn')) {
      const key = /^Bearer (.+)$/.exec(
        (event as APIGatewayRequestAuthorizerEvent).headers?.authorization ?? '',
      )?.[1];
      const arn = (event as APIGatewayRequestAuthorizerEvent).methodArn.replace(/\/v1\/.*$/, '/v1/*');
      return ok(policy('Allow', arn, { usageIdentifierKey: key, context: { clientId: 'c-1' } }));
    }
    throw new Error(`no fake for ${logicalId}`);
  }

  invocations(prefix: string): number {
    return this.calls.filter((call) => call.logicalId.startsWith(prefix)).length;
  }
}

let template: CfnTemplate;
let gateway: Gateway;
let functions: FakeFunctions;
let stops: Array<() => Promise<void>> = [];
let apiUrl = '';
let clientUrl = '';
let outputs: Record<string, unknown> = {};
let now = Date.UTC(2026, 0, 5, 12);

const idOf = (type: string, prefix: string): string => {
  const found = Object.entries(template.Resources).find(
    ([id, r]) => r.Type === type && id.startsWith(prefix),
  );
  if (!found) throw new Error(`no ${type} ${prefix}`);
  return found[0];
};

beforeAll(async () => {
  template = synthesize();
  const ports = new Map<string, number>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::ApiGateway::RestApi') ports.set(id, await freePort());
  }
  gateway = await startGateway({ logger: silentLogger });
  const endpoints = {
    dynamodb: 'http://127.0.0.1:1',
    sqs: 'http://127.0.0.1:1',
    gateway: gateway.endpoint,
    httpApi: (logicalId: string) => `http://127.0.0.1:${ports.get(logicalId) ?? 0}`,
  };
  const names = new LocalNames(template, account, endpoints);
  const resolver = new TemplateResolver(template, account, names);
  const arns = new Map<string, string>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::Lambda::Function') arns.set(String(names.getAtt(id, resource, 'Arn')), id);
  }
  functions = new FakeFunctions(arns);
  const parts = Object.entries(template.Resources)
    .filter(([, resource]) => restApi.types.includes(resource.Type))
    .map(([id, resource]) => restApi.parse(id, resource, resolver.resolveProperties(id)));
  // The module reads only these parts of the runtime's start context.
  const context = {
    account,
    logger: silentLogger,
    assembly: { template },
    names,
    engines: { lambda: functions, gateway },
    started: { httpApis: {} },
    httpApiPort: (logicalId: string) => ports.get(logicalId) ?? 0,
    httpApiUrl: endpoints.httpApi,
    iamCredentials: [],
    gatewayClock: () => now,
    onStop: (_name: string, stop: () => Promise<void>) => stops.push(stop),
  } as unknown as StartContext;
  await restApi.startAll?.(parts, context);
  outputs = resolver.outputs();
  apiUrl = `${endpoints.httpApi(idOf('AWS::ApiGateway::RestApi', 'Api'))}/prod`;
  clientUrl = `${endpoints.httpApi(idOf('AWS::ApiGateway::RestApi', 'ClientApi'))}/v1`;
}, 60_000);

afterAll(async () => {
  await Promise.all(stops.map((stop) => stop()));
  stops = [];
  await gateway.stop();
});

beforeEach(() => {
  // A new day per test: full buckets, a fresh quota, and the authorizer cache of the previous test expired.
  now += DAY_MS;
  functions.calls.length = 0;
});

async function call(url: string, init: RequestInit = {}) {
  const response = await fetch(url, init);
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}

const lastEvent = (prefix: string) =>
  functions.calls.filter((c) => c.logicalId.startsWith(prefix)).at(-1)?.event as APIGatewayProxyEvent & {
    requestContext: { authorizer: Record<string, unknown> };
  };

describe('the REST API from the template', () => {
  it('resolves the stack output ApiUrl to the local stage URL', () => {
    expect(outputs.ApiUrl).toBe(`${apiUrl}/`);
  });

  it('classifies the CDK types: every AWS::ApiGateway type runs, nothing is missing', () => {
    const classification = classifyResources(template, account);
    expect(Object.keys(classification.unsupported)).toEqual([]);
    expect(Object.keys(classification.supported)).toEqual(
      expect.arrayContaining([
        'AWS::ApiGateway::RestApi',
        'AWS::ApiGateway::UsagePlanKey',
        'AWS::ApiGateway::GatewayResponse',
      ]),
    );
  });

  it('routes {param} and {proxy+} under the stage and builds the REST proxy event', async () => {
    const answer = await call(`${apiUrl}/files/a/b%20c.txt?x=1&x=2`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-trace': 't-1' },
      body: '{"a":1}',
    });

    expect(answer.status).toBe(200);
    expect(answer.headers.get('set-cookie')).toBe('a=1, b=2');
    const event = lastEvent('Echo');
    expect(event).toMatchObject({
      resource: '/files/{proxy+}',
      path: '/files/a/b c.txt',
      httpMethod: 'PUT',
      pathParameters: { proxy: 'a/b c.txt' },
      queryStringParameters: { x: '2' },
      multiValueQueryStringParameters: { x: ['1', '2'] },
      stageVariables: { flavour: 'rest' },
      body: '{"a":1}',
      isBase64Encoded: false,
      requestContext: {
        resourcePath: '/files/{proxy+}',
        stage: 'prod',
        path: '/prod/files/a/b c.txt',
        httpMethod: 'PUT',
      },
    });
    expect(event.headers['x-trace']).toBe('t-1');
    expect(event).not.toHaveProperty('version');
  });

  it('passes a body base64-encoded only when its content type is one of the BinaryMediaTypes', async () => {
    const bytes = Buffer.from([0xff, 0x00, 0x7f]);
    await call(`${apiUrl}/files/a.png`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: bytes,
    });
    expect(lastEvent('Echo')).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });

    await call(`${apiUrl}/files/a.bin`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1&b=2',
    });
    expect(lastEvent('Echo')).toMatchObject({ body: 'a=1&b=2', isBase64Encoded: false });
  });

  it('answers 403 Missing Authentication Token for a path or method the API lacks, through DEFAULT_4XX', async () => {
    const answer = await call(`${apiUrl}/nowhere`, { headers: { 'x-trace': 'abc' } });

    expect(answer.status).toBe(403);
    expect(answer.json()).toEqual({
      error: 'Missing Authentication Token',
      type: 'MISSING_AUTHENTICATION_TOKEN',
    });
    expect(answer.headers.get('x-request-id')).toBe('abc');
    expect((await call(`${apiUrl}/public`, { method: 'DELETE' })).status).toBe(403);
  });

  it('answers 502 when the function answers a body that is not a string', async () => {
    const answer = await call(`${apiUrl}/broken`);
    expect(answer.status).toBe(502);
    expect(answer.text).toBe('{"message":"Internal server error"}');
  });

  it('answers a MOCK preflight with its static CORS headers', async () => {
    const answer = await call(`${apiUrl}/public`, { method: 'OPTIONS' });
    expect(answer.status).toBe(204);
    expect(answer.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(answer.headers.get('access-control-allow-methods')).toBe('GET');
  });

  it('throttles a method with its stage MethodSettings, with the THROTTLED gateway response', async () => {
    expect((await call(`${apiUrl}/public`)).status).toBe(200);
    const throttled = await call(`${apiUrl}/public`);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('1');
    now += 1000;
    expect((await call(`${apiUrl}/public`)).status).toBe(200);
  });
});

describe('Lambda authorizers', () => {
  const post = (token: string, key = HEADER_KEY) =>
    call(`${apiUrl}/orders`, { method: 'POST', headers: { authorization: token, 'x-api-key': key } });

  it('TOKEN: allows with context and principalId, caches the policy for its TTL', async () => {
    expect((await post('client-a')).status).toBe(200);
    now += 1000;
    expect((await post('client-a')).status).toBe(200);
    expect(functions.invocations('TokenAuthFn')).toBe(1);
    expect(lastEvent('Echo').requestContext.authorizer).toEqual({
      clientId: 'client-a',
      tier: '2',
      trusted: 'true',
      principalId: 'user-1',
      integrationLatency: 0,
    });
    expect(lastEvent('Echo').requestContext.identity).toMatchObject({ apiKey: HEADER_KEY });

    now += 301_000;
    expect((await post('client-a')).status).toBe(200);
    expect(functions.invocations('TokenAuthFn')).toBe(2);
  });

  it('TOKEN: a Deny policy is 403, an Unauthorized failure and a missing token are 401', async () => {
    const denied = await post('deny');
    expect(denied.status).toBe(403);
    expect(denied.json().error).toBe('User is not authorized to access this resource with an explicit deny');
    expect((await post('unauthorized')).status).toBe(401);
    // A context value that is an object is the authorizer's configuration error on AWS: 500.
    expect((await post('nested')).status).toBe(500);
    expect(
      (await call(`${apiUrl}/orders`, { method: 'POST', headers: { 'x-api-key': HEADER_KEY } })).status,
    ).toBe(401);
  });

  it('REQUEST: reads the header and query identity sources into the event and decides per request', async () => {
    const allowed = await call(`${apiUrl}/orders/T-1?tenant=acme`, { headers: { 'x-client': 'good' } });
    expect(allowed.status).toBe(200);
    expect(lastEvent('Echo')).toMatchObject({
      resource: '/orders/{trackingId}',
      pathParameters: { trackingId: 'T-1' },
    });
    const authorizerEvent = lastEvent('RequestAuthFn') as unknown as APIGatewayRequestAuthorizerEvent;
    expect(authorizerEvent).toMatchObject({ type: 'REQUEST', queryStringParameters: { tenant: 'acme' } });
    expect(authorizerEvent.methodArn).toMatch(
      /^arn:aws:execute-api:us-east-1:000000000000:[a-z0-9]{10}\/prod\/GET\/orders\/T-1$/,
    );

    expect((await call(`${apiUrl}/orders/T-1?tenant=acme`, { headers: { 'x-client': 'bad' } })).status).toBe(
      403,
    );
    expect((await call(`${apiUrl}/orders/T-1`, { headers: { 'x-client': 'good' } })).status).toBe(401);
  });
});

describe('usage plans', () => {
  const post = (key?: string) =>
    call(`${apiUrl}/orders`, {
      method: 'POST',
      headers: { authorization: 'client-a', ...(key ? { 'x-api-key': key } : {}) },
    });

  it('refuses a missing or unknown key with 403 Forbidden', async () => {
    const missing = await post();
    expect(missing.status).toBe(403);
    expect(missing.json()).toEqual({ error: 'Forbidden', type: 'INVALID_API_KEY' });
    expect((await post('unknown-key-0123456789abcdef')).status).toBe(403);
    expect(functions.invocations('Echo')).toBe(0);
  });

  it("answers 429 with Retry-After over the plan's burst, and admits again once the bucket refills", async () => {
    expect((await post(HEADER_KEY)).status).toBe(200);
    expect((await post(HEADER_KEY)).status).toBe(200);
    const throttled = await post(HEADER_KEY);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('1');
    // THROTTLED is customised (its header) without a template: the body stays API Gateway's own.
    expect(throttled.json()).toEqual({ message: 'Too Many Requests' });
    now += 500;
    expect((await post(HEADER_KEY)).status).toBe(200);
  });

  it('answers 429 Limit Exceeded over the quota until the next period', async () => {
    now = Date.UTC(2026, 2, 20, 0, 0, 1);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      now += 1000;
      statuses.push((await post(HEADER_KEY)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    now += 1000;
    const over = await post(HEADER_KEY);
    expect(over.json()).toEqual({ error: 'Limit Exceeded', type: 'QUOTA_EXCEEDED' });
    now += DAY_MS;
    expect((await post(HEADER_KEY)).status).toBe(200);
  });
});

describe('keys issued at run time (API Gateway management API on the gateway endpoint)', () => {
  const gatewayCall = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${gateway.endpoint}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      errorType: response.headers.get('x-amzn-errortype'),
      body: text ? JSON.parse(text) : undefined,
    };
  };
  const order = (key: string) =>
    call(`${clientUrl}/orders`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });

  it('CreateApiKey + CreateUsagePlanKey make a key the authorizer names usable; UpdateApiKey disables it', async () => {
    const value = 'client-key-0123456789abcdefghij';
    expect((await order(value)).status).toBe(403);

    const created = await gatewayCall('POST', '/apikeys', { name: 'client-c-1', value, enabled: true });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'client-c-1', value, enabled: true });
    // REST-JSON dates are epoch seconds; lists are `item` on the wire (the SDK's `items`).
    expect(created.body.createdDate).toBeCloseTo(now / 1000, 0);
    const plans = await gatewayCall('GET', '/usageplans');
    const plan = (
      plans.body.item as Array<{ id: string; name: string; apiStages: Array<{ stage: string }> }>
    ).find((p) => p.apiStages.some((s) => s.stage === 'v1'));
    expect(plan).toBeDefined();
    const linked = await gatewayCall('POST', `/usageplans/${plan?.id}/keys`, {
      keyId: created.body.id,
      keyType: 'API_KEY',
    });
    expect(linked).toMatchObject({ status: 201, body: { id: created.body.id, type: 'API_KEY', value } });
    now += 61_000;

    const admitted = await order(value);
    expect(admitted.status).toBe(200);
    expect(lastEvent('Echo').requestContext.identity).toMatchObject({
      apiKey: value,
      apiKeyId: created.body.id,
    });

    // ApiKeySourceType AUTHORIZER: the key is what the authorizer names, never the x-api-key header.
    const headerOnly = await call(`${clientUrl}/orders`, {
      method: 'POST',
      headers: { authorization: 'Bearer someone-else-0123456789', 'x-api-key': value },
    });
    expect(headerOnly.status).toBe(403);

    const listed = await gatewayCall('GET', '/apikeys?name=client-c-1&includeValues=true');
    expect(listed.body.item).toEqual([expect.objectContaining({ id: created.body.id, value })]);
    const disabled = await gatewayCall('PATCH', `/apikeys/${created.body.id}`, {
      patchOperations: [{ op: 'replace', path: '/enabled', value: 'false' }],
    });
    expect(disabled.body).toMatchObject({ enabled: false });
    expect((await order(value)).status).toBe(403);

    expect((await gatewayCall('DELETE', `/apikeys/${created.body.id}`)).status).toBe(202);
    expect(await gatewayCall('GET', `/apikeys/${created.body.id}`)).toMatchObject({
      status: 404,
      errorType: 'NotFoundException',
    });
  });

  it('refuses a short key value and a second plan key for the same stage as API Gateway does', async () => {
    expect(await gatewayCall('POST', '/apikeys', { name: 'x', value: 'short' })).toMatchObject({
      status: 400,
      errorType: 'BadRequestException',
    });
    const key = await gatewayCall('POST', '/apikeys', { name: 'twice', enabled: true });
    expect(String(key.body.value)).toMatch(/^[A-Za-z0-9]{40}$/);
    const [plan] = (await gatewayCall('GET', '/usageplans')).body.item as Array<{ id: string }>;
    expect(
      (await gatewayCall('POST', `/usageplans/${plan?.id}/keys`, { keyId: key.body.id, keyType: 'API_KEY' }))
        .status,
    ).toBe(201);
    expect(
      await gatewayCall('POST', `/usageplans/${plan?.id}/keys`, { keyId: key.body.id, keyType: 'API_KEY' }),
    ).toMatchObject({
      status: 409,
      errorType: 'ConflictException',
    });
  });
});
