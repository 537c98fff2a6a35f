import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { PaymentClient } from '#functions/payments/payment-client.ts';
import { paymentStepDeps } from '#functions/payments/payment-config.ts';
import { SecretBearerAuthenticator } from '#functions/payments/provider-key.ts';
import { ConfigurationError } from '#shared/config.ts';
import { SigV4Authenticator } from '#shared/request-auth.ts';
import { httpStub } from './helpers.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:buzzer/provider-AbCdEf';
const secrets = mockClient(SecretsManagerClient);
const stub = await httpStub(() => ({
  status: 201,
  body: { id: 'ch_1', status: 'authorized', amount: 500, currency: 'EUR' },
}));

afterAll(() => stub.close());

beforeEach(() => {
  secrets.reset();
  stub.requests.length = 0;
});

const charge = { idempotencyKey: 'o-1', orderId: 'o-1', amount: 500, currency: 'EUR', token: 'tok_ok' };
const baseEnv = { TABLE_NAME: 'buzzer-test', AWS_REGION: 'eu-west-1' };
const realProvider = {
  ...baseEnv,
  PAYMENT_PROVIDER_AUTH: 'bearer',
  PAYMENT_PROVIDER_URL: 'https://api.payments.example/',
  PAYMENT_PROVIDER_SECRET_ARN: SECRET_ARN,
};
const client = () => new SecretsManagerClient({ region: 'eu-west-1' });

describe('payment transport configuration', () => {
  it('refuses an http URL for a real provider', () => {
    expect(() =>
      paymentStepDeps({ ...realProvider, PAYMENT_PROVIDER_URL: 'http://api.payments.example' }, client),
    ).toThrow(/PAYMENT_PROVIDER_URL must be an https URL for a real provider/);
  });

  it('requires the secret ARN for a real provider', () => {
    const { PAYMENT_PROVIDER_SECRET_ARN: _, ...withoutSecret } = realProvider;

    expect(() => paymentStepDeps(withoutSecret, client)).toThrow(/PAYMENT_PROVIDER_SECRET_ARN is required/);
  });

  it('requires a transport to be named', () => {
    expect(() =>
      paymentStepDeps({ ...baseEnv, PAYMENT_PROVIDER_URL: 'https://api.payments.example' }, client),
    ).toThrow(ConfigurationError);
  });

  it('uses a bearer key from Secrets Manager for a real provider', () => {
    const deps = paymentStepDeps(realProvider, client);

    expect(deps.payments).toBeInstanceOf(PaymentClient);
    expect(Reflect.get(deps.payments, 'config')).toMatchObject({
      baseUrl: 'https://api.payments.example',
      auth: expect.any(SecretBearerAuthenticator),
    });
  });

  it('signs with SigV4 for the sandbox, over http locally', () => {
    const deps = paymentStepDeps(
      { ...baseEnv, PAYMENT_PROVIDER_AUTH: 'sigv4', PAYMENT_PROVIDER_URL: 'http://127.0.0.1:3001' },
      client,
    );

    expect(Reflect.get(deps.payments, 'config')).toMatchObject({ auth: expect.any(SigV4Authenticator) });
  });
});

describe('provider API key from Secrets Manager', () => {
  it('sends it as a bearer token, reading the secret once per environment', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: 'sk_live_1' });
    const payments = new PaymentClient({
      baseUrl: stub.url,
      timeoutMs: 1000,
      auth: new SecretBearerAuthenticator(client(), SECRET_ARN),
    });

    await payments.charge(charge);
    await payments.charge({ ...charge, idempotencyKey: 'o-2', orderId: 'o-2' });

    expect(stub.requests.map((request) => request.headers.authorization)).toEqual([
      'Bearer sk_live_1',
      'Bearer sk_live_1',
    ]);
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
  });

  it('reads the key from a key/value secret', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"apiKey":"sk_live_2"}' });
    const auth = new SecretBearerAuthenticator(client(), SECRET_ARN);

    expect(await auth.headersFor({ method: 'POST', url: stub.url, headers: { accept: 'x' } })).toEqual({
      accept: 'x',
      authorization: 'Bearer sk_live_2',
    });
  });

  it('makes an unreadable key a retryable unavailability, not a request without credentials', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejectsOnce(
        Object.assign(new Error('AccessDenied for arn:aws:iam::123:role/x'), { name: 'AccessDenied' }),
      )
      .resolves({ SecretString: 'sk_live_3' });
    const payments = new PaymentClient({
      baseUrl: stub.url,
      timeoutMs: 1000,
      auth: new SecretBearerAuthenticator(client(), SECRET_ARN),
    });

    const first = payments.charge(charge);

    await expect(first).rejects.toMatchObject({ name: 'PaymentProviderUnavailable' });
    await expect(first).rejects.not.toThrow(/arn:aws:iam/);
    expect(stub.requests).toHaveLength(0);
    await payments.charge(charge);
    expect(stub.requests[0]?.headers.authorization).toBe('Bearer sk_live_3');
  });

  it.each([
    [{ SecretString: '' }, /no SecretString/],
    [{ SecretString: '{"key":"x"}' }, /without a non-empty "apiKey"/],
  ])('refuses an unusable secret %j', async (answer, message) => {
    secrets.on(GetSecretValueCommand).resolves(answer);
    const auth = new SecretBearerAuthenticator(client(), SECRET_ARN);

    await expect(auth.headersFor({ method: 'POST', url: stub.url, headers: {} })).rejects.toThrow(message);
  });
});
