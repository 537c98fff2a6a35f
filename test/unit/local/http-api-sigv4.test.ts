import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningHttpApi, startHttpApi } from '#local/engines/http-api.ts';
import type { InvokeResult, LambdaInvoker } from '#local/types.ts';
import { authenticatedFetch, NO_AUTHENTICATION, SigV4Authenticator } from '#shared/request-auth.ts';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:sandbox';
const FUNCTION_CREDENTIALS = { accessKeyId: 'buzzerlocal', secretAccessKey: 'buzzerlocal' };

/** Records every event the integration receives and answers 200. */
class RecordingInvoker implements LambdaInvoker {
  readonly events: APIGatewayProxyEventV2[] = [];

  async invoke(_arn: string, event: unknown): Promise<InvokeResult> {
    this.events.push(event as APIGatewayProxyEventV2);
    return { payload: { statusCode: 200, body: '{"ok":true}' }, durationMs: 1 };
  }
}

const invoker = new RecordingInvoker();
let api: RunningHttpApi;

beforeAll(async () => {
  api = await startHttpApi({
    apiLogicalId: 'SandboxHttpApi',
    apiId: 'sandbox123',
    name: 'sandbox',
    routes: [{ routeKey: 'ANY /{proxy+}', integrationId: 'provider', authorizationType: 'AWS_IAM' }],
    integrations: {
      provider: { id: 'provider', functionArn: ARN, payloadFormatVersion: '2.0', timeoutMs: 30_000 },
    },
    authorizers: {},
    invoker,
    iamCredentials: [FUNCTION_CREDENTIALS],
  });
});

afterAll(() => api.stop());

beforeEach(() => {
  invoker.events.length = 0;
});

const signer = (
  credentials: { accessKeyId: string; secretAccessKey: string } = FUNCTION_CREDENTIALS,
  region = 'us-east-1',
) => new SigV4Authenticator({ region, credentials });

const refundBody = JSON.stringify({ charge: 'order-1' });
const refund = { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'r-1' } };

describe('local HTTP API: AWS_IAM routes', () => {
  it('answers 403 to an unsigned request without invoking the integration', async () => {
    const response = await authenticatedFetch(NO_AUTHENTICATION, `${api.url}/v1/mail?to=ada%40example.com`);

    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ message: 'Forbidden' });
    expect(invoker.events).toHaveLength(0);
  });

  it('answers 403 to a request signed with the wrong secret', async () => {
    const forged = signer({ accessKeyId: 'buzzerlocal', secretAccessKey: 'guessed' });

    const response = await authenticatedFetch(forged, `${api.url}/v1/faults`, { method: 'PUT', body: '{}' });

    expect(response.status).toBe(403);
    expect(invoker.events).toHaveLength(0);
  });

  it('answers 403 to an access key the runtime does not know', async () => {
    const stranger = signer({ accessKeyId: 'AKIDSTRANGER', secretAccessKey: 'buzzerlocal' });

    const response = await authenticatedFetch(stranger, `${api.url}/v1/ledger`);

    expect(response.status).toBe(403);
  });

  it('answers 403 to a signature for another region', async () => {
    const response = await authenticatedFetch(
      signer(FUNCTION_CREDENTIALS, 'eu-west-1'),
      `${api.url}/v1/ledger`,
    );

    expect(response.status).toBe(403);
  });

  it('answers 403 when the signed body was replaced', async () => {
    const headers = await signer().headersFor({ ...refund, url: `${api.url}/v1/refunds`, body: refundBody });

    const response = await fetch(`${api.url}/v1/refunds`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ charge: 'order-2' }),
    });

    expect(response.status).toBe(403);
    expect(invoker.events).toHaveLength(0);
  });

  it('answers 403 when the signed path was changed', async () => {
    const headers = await signer().headersFor({ method: 'GET', url: `${api.url}/v1/charges/a`, headers: {} });

    const response = await fetch(`${api.url}/v1/charges/b`, { headers });

    expect(response.status).toBe(403);
  });

  it('answers 403 to a signature older than 15 minutes', async () => {
    const headers = await signer().headersFor({ method: 'GET', url: `${api.url}/v1/ledger`, headers: {} });
    const stale = new Date(Date.now() - 16 * 60 * 1000)
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');

    const response = await fetch(`${api.url}/v1/ledger`, { headers: { ...headers, 'x-amz-date': stale } });

    expect(response.status).toBe(403);
  });

  it('passes a correctly signed request, with its query and body, and names the caller', async () => {
    const mail = await authenticatedFetch(signer(), `${api.url}/v1/mail?to=ada%40example.com&orderId=o%201`);
    const posted = await authenticatedFetch(signer(), `${api.url}/v1/refunds`, {
      ...refund,
      body: refundBody,
    });

    expect(mail.status).toBe(200);
    expect(posted.status).toBe(200);
    expect(invoker.events.map((event) => event.rawPath)).toEqual(['/v1/mail', '/v1/refunds']);
    expect(invoker.events[0]?.queryStringParameters).toEqual({ to: 'ada@example.com', orderId: 'o 1' });
    expect(invoker.events[1]?.body).toBe(refundBody);
    expect(invoker.events[1]?.requestContext).toMatchObject({
      authorizer: { iam: { accessKey: 'buzzerlocal', callerId: 'buzzerlocal' } },
    });
  });

  it('refuses every signed request when the gateway knows no credentials', async () => {
    const closed = await startHttpApi({
      apiLogicalId: 'Closed',
      apiId: 'closed',
      name: 'closed',
      routes: [{ routeKey: 'ANY /{proxy+}', integrationId: 'provider', authorizationType: 'AWS_IAM' }],
      integrations: {
        provider: { id: 'provider', functionArn: ARN, payloadFormatVersion: '2.0', timeoutMs: 30_000 },
      },
      authorizers: {},
      invoker,
    });
    try {
      const response = await authenticatedFetch(signer(), `${closed.url}/v1/ledger`);

      expect(response.status).toBe(403);
    } finally {
      await closed.stop();
    }
  });
});
