/**
 * JWT routes on the local HTTP gateway (local/engines/http-api/jwt.ts): the runtime signs tokens in place of the
 * issuer (a Cognito user pool it cannot reach) and checks them as API Gateway does; the claims reach the function.
 */
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalJwtIssuer } from '#local/engines/http-api/jwt.ts';
import { type RunningHttpApi, startHttpApi } from '#local/engines/http-api.ts';
import type { InvokeResult, LambdaInvoker } from '#local/types.ts';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:operator-api';
const ISSUER = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI';
const CLIENT = 'console-client-id';

class RecordingInvoker implements LambdaInvoker {
  readonly events: APIGatewayProxyEventV2WithJWTAuthorizer[] = [];

  async invoke(_arn: string, event: unknown): Promise<InvokeResult> {
    this.events.push(event as APIGatewayProxyEventV2WithJWTAuthorizer);
    return { payload: { statusCode: 200, body: '{"ok":true}' }, durationMs: 1 };
  }
}

const invoker = new RecordingInvoker();
const issuer = new LocalJwtIssuer();
let api: RunningHttpApi;

beforeAll(async () => {
  api = await startHttpApi({
    apiLogicalId: 'OperatorApi',
    apiId: 'ops1234567',
    name: 'operators',
    routes: [{ routeKey: 'GET /dlqs', integrationId: 'fn', authorizationType: 'JWT', authorizerId: 'jwt1' }],
    integrations: { fn: { id: 'fn', functionArn: ARN, payloadFormatVersion: '2.0', timeoutMs: 30_000 } },
    authorizers: {},
    jwtAuthorizers: {
      jwt1: {
        id: 'jwt1',
        name: 'Operators',
        issuer: ISSUER,
        audience: [CLIENT],
        identitySource: ['$request.header.Authorization'],
      },
    },
    jwtIssuer: issuer,
    invoker,
  });
});

afterAll(() => api.stop());

beforeEach(() => {
  invoker.events.length = 0;
});

const get = (authorization?: string) =>
  fetch(`${api.url}/dlqs`, authorization ? { headers: { authorization } } : {});
const token = (overrides: Partial<Parameters<LocalJwtIssuer['mint']>[0]> = {}) =>
  issuer.mint({ issuer: ISSUER, clientId: CLIENT, subject: 'ada', groups: ['operators'], ...overrides });

describe('local HTTP API: JWT routes', () => {
  it('passes a token the runtime signed for this issuer and audience, with its claims as API Gateway gives them', async () => {
    const response = await get(`Bearer ${token()}`);
    expect(response.status).toBe(200);
    const claims = invoker.events[0]?.requestContext.authorizer.jwt.claims;
    expect(claims).toMatchObject({ sub: 'ada', client_id: CLIENT, 'cognito:groups': '[operators]' });
  });

  it.each([
    ['no token', undefined],
    [
      'a token of another issuer',
      `Bearer ${token({ issuer: 'https://cognito-idp.us-east-1.amazonaws.com/other' })}`,
    ],
    ['a token for another client', `Bearer ${token({ clientId: 'another' })}`],
    ['an expired token', `Bearer ${token({ now: Date.now() - 2 * 3600_000, ttlSeconds: 3600 })}`],
    [
      'a token signed by another runtime',
      `Bearer ${new LocalJwtIssuer().mint({ issuer: ISSUER, clientId: CLIENT, subject: 'x' })}`,
    ],
    [
      'a token whose claims were changed',
      `Bearer ${token().replace(/\.[^.]+\./, `.${Buffer.from('{"iss":"x"}').toString('base64url')}.`)}`,
    ],
    ['something that is no JWT', 'Bearer nope'],
  ])('answers 401 to %s without invoking the function', async (_, authorization) => {
    const response = await get(authorization);
    expect(response.status).toBe(401);
    expect(invoker.events).toHaveLength(0);
  });
});
