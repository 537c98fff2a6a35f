import { GetCommand, PutCommand, ScanCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { lambdaContext } from '../functions/helpers.ts';
import { ddb, httpEvent, resetTable, send, TABLE, testContext } from './helpers.ts';

beforeEach(() => {
  resetTable();
});

describe('fault knobs', () => {
  it('reads no faults when none were set', async () => {
    const answer = await send(testContext(), { method: 'GET', path: '/v1/faults' });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      paymentLatencyMs: 0,
      paymentFailureRate: 0,
      mailBroken: false,
      mailFailureRate: 0,
    });
  });

  it('stores the knobs with PUT, replacing the ones left out by "no fault"', async () => {
    const answer = await send(testContext(), {
      method: 'PUT',
      path: '/v1/faults',
      body: { paymentLatencyMs: 500, mailBroken: true },
    });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      paymentLatencyMs: 500,
      paymentFailureRate: 0,
      mailBroken: true,
      mailFailureRate: 0,
    });
    expect(ddb).toHaveReceivedNthCommandWith(PutCommand, 1, {
      TableName: TABLE,
      Item: {
        pk: 'FAULTS',
        sk: 'FAULTS',
        entity: 'Faults',
        paymentLatencyMs: 500,
        paymentFailureRate: 0,
        mailBroken: true,
        mailFailureRate: 0,
        updatedAt: '2026-05-01T12:00:00.000Z',
      },
    });
  });

  it('reads back stored knobs', async () => {
    ddb.on(GetCommand, { Key: { pk: 'FAULTS', sk: 'FAULTS' } }).resolves({
      Item: {
        pk: 'FAULTS',
        sk: 'FAULTS',
        paymentLatencyMs: 100,
        paymentFailureRate: 0.25,
        mailBroken: false,
      },
    });

    const answer = await send(testContext(), { method: 'GET', path: '/v1/faults' });

    expect(answer.body).toEqual({
      paymentLatencyMs: 100,
      paymentFailureRate: 0.25,
      mailBroken: false,
      mailFailureRate: 0,
    });
  });

  it.each([
    ['a misspelt knob', { paymentLatency: 100 }],
    ['a rate above 1', { paymentFailureRate: 1.5 }],
    ['a negative latency', { paymentLatencyMs: -1 }],
    ['a latency beyond the Lambda timeout budget', { paymentLatencyMs: 60_000 }],
    ['mailBroken as a string', { mailBroken: 'yes' }],
  ])('answers 400 for %s and stores nothing', async (_case, body) => {
    const answer = await send(testContext(), { method: 'PUT', path: '/v1/faults', body });

    expect(answer.status).toBe(400);
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 0);
  });
});

describe('GET /v1/ledger', () => {
  it('counts effects (not attempts) by entity across scan pages', async () => {
    ddb
      .on(ScanCommand)
      .resolvesOnce({
        Items: [{ entity: 'Charge' }, { entity: 'Calls' }, { entity: 'Charge' }, { entity: 'Mail' }],
        LastEvaluatedKey: { pk: 'x', sk: 'y' },
      })
      .resolves({ Items: [{ entity: 'Refund' }, { entity: 'Faults' }, { entity: 'Calls' }] });

    const answer = await send(testContext(), { method: 'GET', path: '/v1/ledger' });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ charges: 2, refunds: 1, mails: 1 });
    expect(ddb).toHaveReceivedNthCommandWith(ScanCommand, 1, {
      ProjectionExpression: '#entity',
      ConsistentRead: true,
    });
  });
});

describe('GET /v1/calls', () => {
  it('lists every call since a moment, of every kind, oldest first, from the attempt counters', async () => {
    ddb
      .on(ScanCommand)
      .resolvesOnce({
        Items: [
          {
            kind: 'CHARGE',
            idempotencyKey: 'o-1',
            callTimes: ['2026-05-01T11:59:59.000Z', '2026-05-01T12:00:03.000Z', '2026-05-01T12:00:01.000Z'],
          },
        ],
        LastEvaluatedKey: { pk: 'x', sk: 'y' },
      })
      .resolves({
        Items: [{ kind: 'LOOKUP', idempotencyKey: 'o-2', callTimes: ['2026-05-01T12:00:02.000Z'] }],
      });

    const answer = await send(testContext(), {
      method: 'GET',
      path: '/v1/calls',
      query: { since: '2026-05-01T12:00:00.000Z' },
    });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      calls: [
        { kind: 'CHARGE', key: 'o-1', at: '2026-05-01T12:00:01.000Z' },
        { kind: 'LOOKUP', key: 'o-2', at: '2026-05-01T12:00:02.000Z' },
        { kind: 'CHARGE', key: 'o-1', at: '2026-05-01T12:00:03.000Z' },
      ],
    });
    expect(ddb).toHaveReceivedNthCommandWith(ScanCommand, 1, {
      FilterExpression: '#entity = :calls',
      ConsistentRead: true,
    });
  });

  it('narrows to one kind, and refuses a missing or malformed moment', async () => {
    ddb.on(ScanCommand).resolves({
      Items: [
        { kind: 'CHARGE', idempotencyKey: 'o-1', callTimes: ['2026-05-01T12:00:01.000Z'] },
        { kind: 'MAIL', idempotencyKey: 'm-1', callTimes: ['2026-05-01T12:00:01.000Z'] },
      ],
    });

    const mails = await send(testContext(), {
      method: 'GET',
      path: '/v1/calls',
      query: { since: '2026-05-01T12:00:00.000Z', kind: 'MAIL' },
    });
    const missing = await send(testContext(), { method: 'GET', path: '/v1/calls' });
    const bad = await send(testContext(), {
      method: 'GET',
      path: '/v1/calls',
      query: { since: 'yesterday' },
    });

    expect(mails.body).toEqual({ calls: [{ kind: 'MAIL', key: 'm-1', at: '2026-05-01T12:00:01.000Z' }] });
    expect(missing.status).toBe(400);
    expect(bad.status).toBe(400);
  });
});

describe('routing and the HTTP edge', () => {
  it('answers 404 for an unknown route', async () => {
    const answer = await send(testContext(), { method: 'GET', path: '/v2/charges' });

    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({
      error: {
        type: 'invalid_request_error',
        code: 'route_not_found',
        message: 'No route for GET /v2/charges',
      },
    });
  });

  it('answers 405 with Allow for a known path and the wrong method', async () => {
    const answer = await send(testContext(), { method: 'DELETE', path: '/v1/faults' });

    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET, PUT');
  });

  it('serves routes below a named stage and ignores a trailing slash', async () => {
    const answer = await send(testContext(), { method: 'GET', path: '/v1/faults/', stage: 'sandbox' });

    expect(answer.status).toBe(200);
  });

  it('decodes base64 bodies', async () => {
    const ctx = testContext();
    const { createProvider } = await import('#functions/sandbox/app.ts');
    const event = httpEvent({ method: 'PUT', path: '/v1/faults' });
    event.body = Buffer.from(JSON.stringify({ mailBroken: true })).toString('base64');
    event.isBase64Encoded = true;

    const result = await createProvider(ctx)(event, lambdaContext());

    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body ?? '')).toMatchObject({ mailBroken: true });
  });

  it('answers an unexpected table failure with a JSON 500, never a crash', async () => {
    ddb.on(GetCommand).rejects(new Error('connection reset'));

    const answer = await send(testContext(), { method: 'GET', path: '/v1/faults' });

    expect(answer.status).toBe(500);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(answer.body).toEqual({
      error: { type: 'api_error', code: 'internal_error', message: 'Unexpected sandbox failure' },
    });
  });
});

describe('the Lambda handler', () => {
  it('serves requests from SANDBOX_TABLE_NAME through the real wiring', async () => {
    vi.stubEnv('SANDBOX_TABLE_NAME', 'real-sandbox');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.resetModules();
    const { handler } = await import('#functions/sandbox/provider.ts');

    const result = await handler(
      httpEvent({
        method: 'POST',
        path: '/v1/charges',
        headers: { 'idempotency-key': 'k1' },
        body: { amount: 100, currency: 'usd', token: 'tok_ok', orderId: 'o1' },
      }),
      lambdaContext(),
    );

    expect(result.statusCode).toBe(201);
    expect(JSON.parse(result.body ?? '')).toMatchObject({
      status: 'authorized',
      amount: 100,
      currency: 'usd',
    });
    expect(result.body).toMatch(/"id":"ch_[0-9a-f]{24}"/);
    // The charge, its id reference and the order's reference all go to the table the environment names.
    const toSandbox = { Put: expect.objectContaining({ TableName: 'real-sandbox' }) };
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [toSandbox, toSandbox, toSandbox],
    });
    vi.unstubAllEnvs();
  });

  it('refuses to start without SANDBOX_TABLE_NAME', async () => {
    vi.stubEnv('SANDBOX_TABLE_NAME', '');
    vi.resetModules();

    await expect(import('#functions/sandbox/provider.ts')).rejects.toThrow('SANDBOX_TABLE_NAME is not set');
    vi.unstubAllEnvs();
  });
});
