import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_UNAVAILABLE_ATTEMPTS } from '#contracts/circuit.ts';
import { breakerKey } from '#functions/resilience/circuit-breaker.ts';
import {
  boundValues,
  conditionFailed,
  context,
  httpStub,
  NOW,
  ORDER_ID,
  orderKey,
  type RecordedRequest,
  type StubReply,
  sagaInput,
  sentInput,
  sentInputs,
  storedOrder,
} from './helpers.ts';

vi.hoisted(() => {
  // Short, so the time-out test is quick, yet far above a local stub's answer on a loaded machine (200 ms was not).
  process.env.PAYMENT_TIMEOUT_MS = '1000';
  // The sandbox transport: SigV4 with the function's own credentials.
  process.env.PAYMENT_PROVIDER_AUTH = 'sigv4';
  process.env.AWS_REGION = 'eu-west-1';
  process.env.AWS_ACCESS_KEY_ID = 'AKIDSTEP';
  process.env.AWS_SECRET_ACCESS_KEY = 'step-secret';
});

const ddb = mockClient(DynamoDBDocumentClient);

let reply: (request: RecordedRequest) => StubReply = () => ({ status: 500 });
const provider = await httpStub((request) => reply(request));
process.env.PAYMENT_PROVIDER_URL = `${provider.url}/`;
const { handler: authorize } = await import('#functions/saga/authorize-payment.ts');
const { handler: voidPayment } = await import('#functions/saga/void-payment.ts');

const priced = storedOrder({ amount: 3448, version: 2 });
const circuitKey = breakerKey('payment');

function orderIs(item: Record<string, unknown> | null) {
  ddb.on(GetCommand, { Key: orderKey }).resolves({ Item: item ?? undefined });
}

/** The writes to the order; the circuit breaker's own writes are `circuitWrites`. */
const updates = () => sentInputs(ddb, UpdateCommand).filter((input) => input.Key?.pk !== circuitKey.pk);
const circuitWrites = () => sentInputs(ddb, UpdateCommand).filter((input) => input.Key?.pk === circuitKey.pk);

beforeAll(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});

afterAll(async () => {
  vi.useRealTimers();
  await provider.close();
});

beforeEach(() => {
  ddb.reset();
  ddb.on(UpdateCommand).resolves({});
  // A circuit that never failed: no item.
  ddb.on(GetCommand, { Key: circuitKey }).resolves({});
  // No order held in line.
  ddb.on(QueryCommand).resolves({ Items: [] });
  provider.requests.length = 0;
});

afterEach(() => {
  reply = () => ({ status: 500 });
});

describe('authorize-payment', () => {
  it('charges the order amount with the order id as idempotency key and records the charge', async () => {
    orderIs(priced);
    reply = () => ({
      status: 201,
      body: { id: 'ch_1', status: 'authorized', amount: 3448, currency: 'EUR', idempotencyKey: ORDER_ID },
    });

    const result = await authorize(sagaInput, context);

    expect(result).toEqual({
      paymentRef: 'ch_1',
      amount: 3448,
      currency: 'EUR',
      authorizedAt: NOW.toISOString(),
    });
    expect(provider.requests).toHaveLength(1);
    expect(provider.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/charges',
      headers: {
        'idempotency-key': ORDER_ID,
        'content-type': 'application/json',
        authorization: expect.stringMatching(
          /^AWS4-HMAC-SHA256 Credential=AKIDSTEP\/\d{8}\/eu-west-1\/execute-api\/aws4_request, /,
        ),
      },
      body: { amount: 3448, currency: 'EUR', token: 'tok_ok', orderId: ORDER_ID },
    });
    // The attempt is written under the order's version before the provider is called: the compensation sees it.
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      ExpressionAttributeValues: expect.objectContaining({ ':expected': 2, ':next': 3, ':entries': [] }),
    });
    expect(boundValues(sentInput(ddb, UpdateCommand, 1))).toContain(NOW.toISOString());
    expect(provider.requests).toHaveLength(1);
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 2, {
      ConditionExpression: '#version = :expected',
      UpdateExpression: expect.stringContaining('REMOVE'),
      ExpressionAttributeValues: expect.objectContaining({
        ':expected': 2,
        ':next': 3,
        ':entries': [`${NOW.toISOString()} AuthorizePayment charge ch_1 authorized`],
      }),
    });
    expect(boundValues(sentInput(ddb, UpdateCommand, 2))).toContain('ch_1');
  });

  it('is a no-op when the charge is already recorded', async () => {
    orderIs({ ...priced, paymentRef: 'ch_1', authorizedAt: '2026-05-01T11:59:40.000Z' });

    const result = await authorize(sagaInput, context);

    expect(result).toEqual({
      paymentRef: 'ch_1',
      amount: 3448,
      currency: 'EUR',
      authorizedAt: '2026-05-01T11:59:40.000Z',
    });
    expect(provider.requests).toHaveLength(0);
    expect(updates()).toHaveLength(0);
  });

  it('throws PaymentDeclined on 402, with the provider message', async () => {
    orderIs(priced);
    reply = () => ({
      status: 402,
      body: { error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' } },
    });

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({
      name: 'PaymentDeclined',
      message: 'Your card was declined.',
    });
    // The attempt, then its settlement: no charge was made, so the compensation need not wait for one to land.
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 2, {
      UpdateExpression: expect.stringMatching(/SET .*#s0 = :s0/),
      ExpressionAttributeNames: expect.objectContaining({ '#s0': 'chargeSettledAt' }),
    });
  });

  it('refuses an order whose compensation has begun, before writing or calling the provider', async () => {
    orderIs({ ...priced, compensatingAt: NOW.toISOString() });

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({
      name: 'InvalidOrderState',
      message: expect.stringContaining('being compensated'),
    });
    expect(provider.requests).toHaveLength(0);
    expect(updates()).toHaveLength(0);
  });

  it('refunds its own charge when the compensation began while the provider was answering', async () => {
    ddb
      .on(GetCommand, { Key: orderKey })
      // The check before the circuit is asked, then the read that writes the attempt.
      .resolvesOnce({ Item: priced })
      .resolvesOnce({ Item: priced })
      .resolves({ Item: { ...priced, version: 4, compensatingAt: NOW.toISOString() } });
    reply = (request) =>
      request.path === '/v1/charges'
        ? { status: 201, body: { id: 'ch_1', status: 'authorized', amount: 3448, currency: 'EUR' } }
        : { status: 200, body: { id: 're_1', status: 'refunded', charge: 'ch_1' } };

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({ name: 'InvalidOrderState' });

    expect(provider.requests.map((request) => request.path)).toEqual(['/v1/charges', '/v1/refunds']);
    expect(provider.requests[1]).toMatchObject({
      headers: { 'idempotency-key': 'refund-ch_1' },
      body: { charge: 'ch_1' },
    });
    // Only the attempt was written: the charge is not recorded as the order's payment.
    expect(updates()).toHaveLength(1);
  });

  it('looks the first charge up instead of charging again once the provider has forgotten the key', async () => {
    const dayAndAHourAgo = new Date(NOW.getTime() - 25 * 3_600_000).toISOString();
    orderIs({ ...priced, chargeAttemptedAt: dayAndAHourAgo });
    reply = () => ({
      status: 200,
      body: { data: [{ id: 'ch_first', amount: 3448, currency: 'EUR', refunded: false }] },
    });

    const result = await authorize(sagaInput, context);

    expect(result).toHaveProperty('paymentRef', 'ch_first');
    expect(provider.requests).toHaveLength(1);
    expect(provider.requests[0]).toMatchObject({ method: 'GET', path: `/v1/charges?orderId=${ORDER_ID}` });
  });

  it('looks the charge up at exactly the key retention (24 h), the first moment the key may be gone', async () => {
    const dayAgo = new Date(NOW.getTime() - 24 * 3_600_000).toISOString();
    orderIs({ ...priced, chargeAttemptedAt: dayAgo });
    reply = () => ({
      status: 200,
      body: { data: [{ id: 'ch_first', amount: 3448, currency: 'EUR', refunded: false }] },
    });

    expect(await authorize(sagaInput, context)).toHaveProperty('paymentRef', 'ch_first');
    expect(provider.requests.map((request) => request.method)).toEqual(['GET']);
  });

  it('refuses to charge again after the key expired when the charge it finds was refunded', async () => {
    const twoDaysAgo = new Date(NOW.getTime() - 48 * 3_600_000).toISOString();
    orderIs({ ...priced, chargeAttemptedAt: twoDaysAgo });
    reply = () => ({
      status: 200,
      body: { data: [{ id: 'ch_first', amount: 3448, currency: 'EUR', refunded: true }] },
    });

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({
      name: 'InvalidOrderState',
      message: expect.stringContaining('refunded charge'),
    });
    expect(provider.requests.map((request) => request.method)).toEqual(['GET']);
  });

  it('refuses an order whose payment token is gone, without calling the provider', async () => {
    const { paymentToken: _token, ...withoutToken } = priced;
    orderIs(withoutToken);

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({
      name: 'InvalidOrderState',
      message: expect.stringContaining('no payment token'),
    });
    expect(provider.requests).toHaveLength(0);
  });

  it('charges again with the same key while the provider still remembers it', async () => {
    const aMinuteAgo = new Date(NOW.getTime() - 60_000).toISOString();
    orderIs({ ...priced, chargeAttemptedAt: aMinuteAgo });
    reply = () => ({
      status: 201,
      body: { id: 'ch_1', status: 'authorized', amount: 3448, currency: 'EUR' },
    });

    await authorize(sagaInput, context);

    expect(provider.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'POST /v1/charges',
    ]);
  });

  it.each([429, 500, 503])(
    'throws PaymentProviderUnavailable on %i (the state machine retries it)',
    async (status) => {
      orderIs(priced);
      reply = () => ({ status, body: { error: { type: 'api_error', message: 'boom' } } });

      await expect(authorize(sagaInput, context)).rejects.toMatchObject({
        name: 'PaymentProviderUnavailable',
        message: `charge failed with HTTP ${status}: boom`,
      });
    },
  );

  it('throws PaymentProviderUnavailable when the provider does not answer within PAYMENT_TIMEOUT_MS', async () => {
    orderIs(priced);
    reply = () => ({ status: 201, body: {}, delayMs: 5000 });

    const started = performance.now();
    await expect(authorize(sagaInput, context)).rejects.toMatchObject({
      name: 'PaymentProviderUnavailable',
      message: 'payment provider did not answer within 1000 ms',
    });
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('throws PaymentRequestRejected on another 4xx (retrying cannot fix it)', async () => {
    orderIs(priced);
    reply = () => ({ status: 400, body: { error: { message: 'amount must be positive' } } });

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({ name: 'PaymentRequestRejected' });
  });

  it('refuses to charge an order whose stock was not reserved', async () => {
    orderIs(storedOrder());

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({
      name: 'InvalidOrderState',
      message: expect.stringContaining('no amount'),
    });
    expect(provider.requests).toHaveLength(0);
  });

  it('does not take a recorded charge without a priced amount as done: it refuses the unpriced order', async () => {
    orderIs(storedOrder({ paymentRef: 'ch_1' }));

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({ name: 'InvalidOrderState' });
    expect(provider.requests).toHaveLength(0);
  });

  it.each(['CANCELLED', 'CONFIRMED'])('never charges a %s order that has no charge yet', async (status) => {
    orderIs({ ...priced, status });

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({
      name: 'InvalidOrderState',
      message: expect.stringContaining(status),
    });
    expect(provider.requests).toHaveLength(0);
    expect(updates()).toHaveLength(0);
  });

  it('keeps the charge a concurrent run recorded while the provider answered, without writing', async () => {
    ddb
      .on(GetCommand, { Key: orderKey })
      // The check before the circuit is asked, then the read that writes the attempt.
      .resolvesOnce({ Item: priced })
      .resolvesOnce({ Item: priced })
      .resolves({ Item: { ...priced, paymentRef: 'ch_0', version: 3 } });
    reply = () => ({
      status: 201,
      body: { id: 'ch_0', status: 'authorized', amount: 3448, currency: 'EUR' },
    });

    const result = await authorize(sagaInput, context);

    expect(result).toHaveProperty('paymentRef', 'ch_0');
    // Only the attempt was written; the concurrent run's record stands.
    expect(updates()).toHaveLength(1);
  });

  it('fails without recording the charge when the order was cancelled while the provider answered', async () => {
    ddb
      .on(GetCommand, { Key: orderKey })
      // The check before the circuit is asked, then the read that writes the attempt.
      .resolvesOnce({ Item: priced })
      .resolvesOnce({ Item: priced })
      .resolves({ Item: { ...priced, status: 'CANCELLED', version: 3 } });
    reply = (request) =>
      request.path === '/v1/refunds'
        ? { status: 200, body: { id: 're_1', status: 'refunded', charge: 'ch_1' } }
        : { status: 201, body: { id: 'ch_1', status: 'authorized', amount: 3448, currency: 'EUR' } };

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({
      name: 'InvalidOrderState',
      message: expect.stringContaining('ch_1'),
    });
    // The attempt only: the charge is refunded, not recorded as the order's payment.
    expect(updates()).toHaveLength(1);
    expect(provider.requests.map((request) => request.path)).toEqual(['/v1/charges', '/v1/refunds']);
  });
});

describe('void-payment (compensation)', () => {
  it('refunds the charge by its own id with refund-<chargeId> as idempotency key and notes it on the order', async () => {
    orderIs({ ...priced, paymentRef: 'ch_1', version: 3, compensatingAt: NOW.toISOString() });
    reply = () => ({ status: 200, body: { id: 're_1', status: 'refunded', charge: 'ch_1' } });

    const result = await voidPayment({ ...sagaInput, error: { Error: 'States.TaskFailed' } }, context);

    expect(result).toEqual({ outcome: 'DONE', detail: 'refund re_1 issued for ch_1' });
    expect(provider.requests[0]).toMatchObject({
      path: '/v1/refunds',
      headers: { 'idempotency-key': 'refund-ch_1' },
      body: { charge: 'ch_1' },
    });
    expect(updates()[0]).toMatchObject({
      ExpressionAttributeValues: expect.objectContaining({
        ':entries': [`${NOW.toISOString()} VoidPayment refund re_1 issued for ch_1`],
      }),
    });
    expect(boundValues(updates()[0] ?? {})).toContain('re_1');
  });

  it('reads again and starts the compensation under the new version when its first write lost a race', async () => {
    ddb
      .on(GetCommand, { Key: orderKey })
      .resolvesOnce({ Item: { ...priced, paymentRef: 'ch_1', version: 3 } })
      .resolves({ Item: { ...priced, paymentRef: 'ch_1', version: 4 } });
    ddb.on(UpdateCommand).rejectsOnce(conditionFailed()).resolves({});
    reply = () => ({ status: 200, body: { id: 're_1', status: 'refunded', charge: 'ch_1' } });

    await voidPayment({ ...sagaInput, error: { Error: 'PaymentDeclined' } }, context);

    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      ExpressionAttributeNames: expect.objectContaining({ '#s0': 'compensatingAt' }),
    });
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 2, {
      ExpressionAttributeNames: expect.objectContaining({ '#s0': 'compensatingAt' }),
      ExpressionAttributeValues: expect.objectContaining({ ':expected': 4, ':next': 5 }),
    });
  });

  it('starts the compensation with one conditional write before it calls the provider', async () => {
    orderIs({ ...priced, paymentRef: 'ch_1', version: 3 });
    reply = () => ({ status: 200, body: { id: 're_1', status: 'refunded', charge: 'ch_1' } });

    await voidPayment({ ...sagaInput, error: { Error: 'PaymentDeclined' } }, context);

    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      ConditionExpression: '#version = :expected',
      ExpressionAttributeNames: expect.objectContaining({ '#s0': 'compensatingAt' }),
      ExpressionAttributeValues: expect.objectContaining({
        ':expected': 3,
        ':next': 4,
        ':entries': [`${NOW.toISOString()} Compensate PAYMENT_DECLINED`],
      }),
    });
  });

  it('skips when the provider knows no such charge (404), and says so', async () => {
    orderIs({ ...priced, paymentRef: 'ch_1', compensatingAt: NOW.toISOString() });
    reply = () => ({ status: 404, body: { error: { code: 'charge_not_found' } } });

    expect(await voidPayment(sagaInput, context)).toEqual({
      outcome: 'SKIPPED',
      detail: 'no charge to refund',
    });
  });

  it('is already done when the charge was refunded under another key (409 charge_already_refunded)', async () => {
    orderIs({ ...priced, paymentRef: 'ch_1', compensatingAt: NOW.toISOString() });
    reply = () => ({ status: 409, body: { error: { code: 'charge_already_refunded' } } });

    expect(await voidPayment(sagaInput, context)).toEqual({
      outcome: 'ALREADY_DONE',
      detail: 'ch_1 already refunded',
    });
  });

  it('never refunds a confirmed order: the payment is kept', async () => {
    orderIs({ ...priced, paymentRef: 'ch_1', status: 'CONFIRMED', version: 4 });

    const result = await voidPayment({ ...sagaInput, error: { Error: 'States.TaskFailed' } }, context);

    expect(result).toEqual({ outcome: 'SKIPPED', detail: 'order is confirmed; payment kept' });
    expect(provider.requests).toHaveLength(0);
    expect(updates()).toHaveLength(0);
  });

  it("looks for the order's charges when none is recorded (a timed-out charge may exist) and refunds each", async () => {
    const aMinuteAgo = new Date(NOW.getTime() - 60_000).toISOString();
    orderIs({ ...priced, compensatingAt: NOW.toISOString(), chargeAttemptedAt: aMinuteAgo });
    reply = (request) =>
      request.method === 'GET'
        ? { status: 200, body: { data: [{ id: 'ch_9', amount: 3448, currency: 'EUR', refunded: false }] } }
        : { status: 200, body: { id: 're_9', status: 'refunded', charge: 'ch_9' } };

    const result = await voidPayment(sagaInput, context);

    expect(result).toEqual({ outcome: 'DONE', detail: 'refund re_9 issued for ch_9' });
    expect(provider.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      `GET /v1/charges?orderId=${ORDER_ID}`,
      'POST /v1/refunds',
    ]);
  });

  it('skips when the provider holds no charge and the last request is older than the settle time', async () => {
    const aMinuteAgo = new Date(NOW.getTime() - 60_000).toISOString();
    orderIs({ ...priced, compensatingAt: NOW.toISOString(), chargeAttemptedAt: aMinuteAgo });
    reply = () => ({ status: 200, body: { data: [] } });

    const result = await voidPayment(sagaInput, context);

    expect(result).toEqual({ outcome: 'SKIPPED', detail: 'no charge was made' });
    expect(updates()[0]).toMatchObject({
      ExpressionAttributeValues: expect.objectContaining({
        ':entries': [`${NOW.toISOString()} VoidPayment:SKIPPED no charge was made`],
      }),
    });
  });

  it('waits (ChargeMayBeInFlight) while an unanswered charge request may still land', async () => {
    const secondsAgo = new Date(NOW.getTime() - 5_000).toISOString();
    orderIs({ ...priced, compensatingAt: NOW.toISOString(), chargeAttemptedAt: secondsAgo });
    reply = () => ({ status: 200, body: { data: [] } });

    await expect(voidPayment(sagaInput, context)).rejects.toMatchObject({ name: 'ChargeMayBeInFlight' });
    expect(updates()).toHaveLength(0);
  });

  it('does not wait when the provider answered that no charge was made', async () => {
    const secondsAgo = new Date(NOW.getTime() - 5_000).toISOString();
    orderIs({
      ...priced,
      compensatingAt: NOW.toISOString(),
      chargeAttemptedAt: secondsAgo,
      chargeSettledAt: secondsAgo,
    });
    reply = () => ({ status: 200, body: { data: [] } });

    expect(await voidPayment(sagaInput, context)).toEqual({
      outcome: 'SKIPPED',
      detail: 'no charge was made',
    });
  });

  it('skips without calling the provider when payment was never attempted', async () => {
    orderIs(storedOrder({ compensatingAt: NOW.toISOString() }));

    const result = await voidPayment(sagaInput, context);

    expect(result).toEqual({ outcome: 'SKIPPED', detail: 'no payment was attempted' });
    expect(provider.requests).toHaveLength(0);
    expect(updates()).toHaveLength(1);
  });

  it('keeps the payment of a CONFIRMED order: no refund, no voided mark, answers SKIPPED', async () => {
    orderIs({ ...priced, paymentRef: 'ch_1', status: 'CONFIRMED', version: 4 });
    reply = () => ({ status: 200, body: { id: 're_1', status: 'refunded', charge: ORDER_ID } });

    const result = await voidPayment({ ...sagaInput, error: { Error: 'States.TaskFailed' } }, context);

    expect(result.outcome).toBe('SKIPPED');
    expect(provider.requests).toHaveLength(0);
    const namedFields = sentInputs(ddb, UpdateCommand).flatMap((update) =>
      Object.values(update.ExpressionAttributeNames ?? {}),
    );
    expect(namedFields).not.toContain('paymentVoidedAt');
  });

  it('is a no-op when repeated', async () => {
    orderIs({ ...priced, compensatingAt: NOW.toISOString(), paymentVoidedAt: NOW.toISOString() });

    const result = await voidPayment(sagaInput, context);

    expect(result).toEqual({ outcome: 'ALREADY_DONE', detail: 'payment already voided' });
    expect(provider.requests).toHaveLength(0);
    expect(updates()).toHaveLength(0);
  });

  it('skips an order that does not exist', async () => {
    orderIs(null);

    expect(await voidPayment(sagaInput, context)).toEqual({ outcome: 'SKIPPED', detail: 'order not found' });
    expect(updates()).toHaveLength(0);
  });

  it('does not mark the order again when a concurrent compensation marked it while the refund ran', async () => {
    ddb
      .on(GetCommand, { Key: orderKey })
      .resolvesOnce({ Item: { ...priced, paymentRef: 'ch_1', compensatingAt: NOW.toISOString() } })
      .resolves({ Item: { ...priced, paymentRef: 'ch_1', paymentVoidedAt: NOW.toISOString(), version: 4 } });
    reply = () => ({ status: 200, body: { id: 're_1', status: 'refunded', charge: ORDER_ID } });

    const result = await voidPayment(sagaInput, context);

    expect(result).toEqual({ outcome: 'ALREADY_DONE', detail: 'payment already voided' });
    expect(updates()).toHaveLength(0);
  });

  it('throws PaymentProviderUnavailable when the refund cannot be made now', async () => {
    orderIs({ ...priced, paymentRef: 'ch_1', compensatingAt: NOW.toISOString() });
    reply = () => ({ status: 503 });

    await expect(voidPayment(sagaInput, context)).rejects.toMatchObject({
      name: 'PaymentProviderUnavailable',
    });
    expect(updates()).toHaveLength(0);
  });
});

describe('the payment circuit (authorize-payment holds, void-payment reports)', () => {
  const openUntil = NOW.getTime() + 12_000;
  const outageSince = '2026-05-01T11:58:00.000Z';
  const circuitIs = (item: Record<string, unknown>) =>
    ddb
      .on(GetCommand, { Key: circuitKey })
      .resolves({ Item: { ...circuitKey, version: 3, failures: 5, ...item } });
  const held = {
    reason: `payment provider unavailable since ${outageSince}`,
    since: NOW.toISOString(),
    until: new Date(NOW.getTime() + 900_000).toISOString(),
  };

  it('holds the order without calling the provider while the circuit is open, and says why on the order', async () => {
    orderIs(priced);
    circuitIs({ state: 'OPEN', openUntil, since: outageSince });

    const result = await authorize(sagaInput, context);

    // Back when the circuit may let a probe through: 12 s from now.
    expect(result).toEqual({ held: { ...held, waitSeconds: 12 } });
    expect(provider.requests).toHaveLength(0);
    const [hold] = updates();
    expect(updates()).toHaveLength(1);
    expect(hold?.ConditionExpression).toBe('#version = :expected');
    expect(Object.values(hold?.ExpressionAttributeValues ?? {})).toContainEqual(held);
    expect(hold?.ExpressionAttributeValues?.[':entries']).toEqual([
      `${NOW.toISOString()} Held:WAITING ${held.reason}; the order waits until ${held.until} at most`,
    ]);
    // No charge attempt is marked: nothing was sent, so a compensation has nothing to wait for.
    expect(JSON.stringify(hold)).not.toContain('chargeAttemptedAt');
  });

  it('writes nothing more for an order already held, and asks to come back no later than the hold ends', async () => {
    const ending = { ...held, until: new Date(NOW.getTime() + 5_000).toISOString() };
    orderIs({ ...priced, hold: ending, heldAt: held.since });
    circuitIs({ state: 'OPEN', openUntil, since: outageSince });

    expect(await authorize(sagaInput, context)).toEqual({ held: { ...ending, waitSeconds: 5 } });
    expect(updates()).toEqual([]);
    expect(provider.requests).toHaveLength(0);
  });

  it('ends the wait with PaymentHoldExpired (a verdict) once the hold is over and the circuit still open', async () => {
    orderIs({ ...priced, hold: { ...held, until: NOW.toISOString() }, heldAt: held.since });
    circuitIs({ state: 'OPEN', openUntil, since: outageSince });

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({
      name: 'PaymentHoldExpired',
      message: `${held.reason}; the order waited from ${held.since} until ${NOW.toISOString()}`,
    });
    expect(provider.requests).toHaveLength(0);
  });

  it('holds the order, instead of failing it, when its own failure opens the circuit', async () => {
    orderIs(priced);
    ddb
      .on(UpdateCommand, { Key: circuitKey })
      .resolvesOnce({ Attributes: { state: 'CLOSED', version: 3, failures: 5 } })
      .resolves({});
    ddb
      .on(GetCommand, { Key: circuitKey })
      .resolvesOnce({ Item: { ...circuitKey, state: 'CLOSED', version: 3, failures: 4 } })
      .resolves({
        Item: {
          ...circuitKey,
          state: 'OPEN',
          version: 4,
          failures: 5,
          openUntil: NOW.getTime() + 30_000,
          since: NOW.toISOString(),
        },
      });
    reply = () => ({ status: 503 });

    const result = await authorize(sagaInput, context);

    expect(result).toMatchObject({
      held: { waitSeconds: 30, reason: `payment provider unavailable since ${NOW.toISOString()}` },
    });
    expect(provider.requests).toHaveLength(1);
    expect(circuitWrites().map((write) => write.ConditionExpression)).toEqual([
      undefined,
      'version = :version AND #state = :closed',
    ]);
  });

  /** The circuit reads closed, one failure short of opening; the failure of this call opens it. */
  const failureOpensCircuit = () => {
    ddb
      .on(UpdateCommand, { Key: circuitKey })
      .resolvesOnce({ Attributes: { state: 'CLOSED', version: 3, failures: 5 } })
      .resolves({});
    ddb
      .on(GetCommand, { Key: circuitKey })
      .resolvesOnce({ Item: { ...circuitKey, state: 'CLOSED', version: 3, failures: 4 } })
      .resolves({
        Item: { ...circuitKey, state: 'OPEN', version: 4, failures: 5, openUntil, since: NOW.toISOString() },
      });
  };

  it("does not count a failure that opens the circuit against the order: the outage is the provider's, and it is held", async () => {
    orderIs({ ...priced, unavailableAttempts: MAX_UNAVAILABLE_ATTEMPTS - 1 });
    failureOpensCircuit();
    reply = () => ({ status: 503 });

    const result = await authorize(sagaInput, context);

    expect(result).toHaveProperty('held');
    expect(provider.requests).toHaveLength(1);
    expect(JSON.stringify(updates())).not.toContain('unavailableAttempts');
  });

  it('counts a failed charge request that leaves the circuit closed on the order, and fails for the state machine to retry', async () => {
    orderIs({ ...priced, unavailableAttempts: 1 });
    ddb
      .on(UpdateCommand, { Key: circuitKey })
      .resolves({ Attributes: { state: 'CLOSED', version: 1, failures: 1 } });
    reply = () => ({ status: 503 });

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({ name: 'PaymentProviderUnavailable' });
    expect(provider.requests).toHaveLength(1);
    expect(updates().map((update) => update.ExpressionAttributeNames)).toContainEqual(
      expect.objectContaining({ '#s0': 'unavailableAttempts' }),
    );
    expect(updates().flatMap((update) => boundValues(update))).toContain(2);
    expect(JSON.stringify(updates())).not.toContain('"hold"');
  });

  it('neither holds nor calls the provider for an order that has used up its failed charges, although the circuit is open', async () => {
    orderIs({ ...priced, unavailableAttempts: MAX_UNAVAILABLE_ATTEMPTS });
    circuitIs({ state: 'OPEN', openUntil, since: outageSince });

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({
      name: 'PaymentProviderUnavailable',
      message: `the provider failed ${MAX_UNAVAILABLE_ATTEMPTS} charge requests of order ${ORDER_ID}; it is not held again`,
    });
    expect(provider.requests).toHaveLength(0);
    expect(updates()).toEqual([]);
  });

  it('fails a call that leaves the circuit closed, for the state machine to retry', async () => {
    orderIs(priced);
    ddb
      .on(UpdateCommand, { Key: circuitKey })
      .resolves({ Attributes: { state: 'CLOSED', version: 1, failures: 1 } });
    reply = () => ({ status: 503 });

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({ name: 'PaymentProviderUnavailable' });
  });

  it('probes with a look-up when the circuit is due, closes it with the answer, then charges and drops the hold', async () => {
    orderIs({ ...priced, hold: held, heldAt: held.since });
    circuitIs({ state: 'OPEN', openUntil: NOW.getTime(), since: outageSince });
    reply = (request) =>
      request.method === 'GET'
        ? { status: 200, body: { data: [] } }
        : { status: 201, body: { id: 'ch_9', status: 'authorized', amount: 3448, currency: 'EUR' } };

    expect(await authorize(sagaInput, context)).toMatchObject({ paymentRef: 'ch_9' });
    expect(provider.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      `GET /v1/charges?orderId=${ORDER_ID}`,
      'POST /v1/charges',
    ]);
    // Claimed, closed by the probe; the charge through the closed circuit writes nothing more.
    expect(circuitWrites().map((write) => write.ConditionExpression)).toEqual([
      'version = :version',
      'probeToken = :token',
    ]);
    expect(updates().at(-1)?.UpdateExpression).toMatch(/REMOVE .*#r1/);
    expect(updates().at(-1)?.ExpressionAttributeNames).toMatchObject({
      '#r0': 'paymentToken',
      '#r1': 'hold',
    });
  });

  describe('the line of orders held during the outage, once the circuit has closed', () => {
    const charged = () => ({
      status: 201,
      body: { id: 'ch_7', status: 'authorized', amount: 3448, currency: 'EUR' },
    });
    /** The open orders still held, oldest first: `ahead` others, then this one. */
    const lineIs = (ahead: number) =>
      ddb.on(QueryCommand).resolves({
        Items: [
          ...Array.from({ length: ahead }, (_, i) => ({ orderId: `earlier-${i}` })),
          { orderId: ORDER_ID },
        ],
      });

    it('lets a held order go when fewer orders ahead of it are still held than go in a second (20)', async () => {
      orderIs({ ...priced, hold: held, heldAt: held.since });
      circuitIs({ state: 'CLOSED', failures: 0 });
      lineIs(19);
      reply = charged;

      expect(await authorize(sagaInput, context)).toMatchObject({ paymentRef: 'ch_7' });
      // The line is the open orders whose hold still runs, oldest first.
      expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
        IndexName: 'Open',
        KeyConditionExpression: 'openPk = :pk',
        FilterExpression: 'attribute_exists(#hold) AND #hold.#until > :now',
        ExpressionAttributeValues: { ':pk': 'ORDER#PENDING', ':now': NOW.toISOString() },
      });
    });

    it('keeps a held order waiting, a second for every 20 still held ahead of it, without calling the provider', async () => {
      orderIs({ ...priced, hold: held, heldAt: held.since });
      circuitIs({ state: 'CLOSED', failures: 0 });
      lineIs(45);

      expect(await authorize(sagaInput, context)).toEqual({ held: { ...held, waitSeconds: 2 } });
      expect(provider.requests).toHaveLength(0);
      expect(updates()).toEqual([]);
    });

    it('puts a held order the index does not list yet behind everyone it lists', async () => {
      orderIs({ ...priced, hold: held, heldAt: held.since });
      circuitIs({ state: 'CLOSED', failures: 0 });
      ddb
        .on(QueryCommand)
        .resolves({ Items: Array.from({ length: 20 }, (_, i) => ({ orderId: `earlier-${i}` })) });

      expect(await authorize(sagaInput, context)).toEqual({ held: { ...held, waitSeconds: 1 } });
      expect(provider.requests).toHaveLength(0);
    });

    it('does not look at the line for an order that was never held, nor for one whose hold has run out', async () => {
      for (const order of [
        priced,
        { ...priced, hold: { ...held, until: NOW.toISOString() }, heldAt: held.since },
      ]) {
        ddb.resetHistory();
        provider.requests.length = 0;
        orderIs(order);
        circuitIs({ state: 'CLOSED', failures: 0 });
        lineIs(100);
        reply = charged;

        expect(await authorize(sagaInput, context)).toMatchObject({ paymentRef: 'ch_7' });
        expect(ddb).not.toHaveReceivedCommand(QueryCommand);
      }
    });
  });

  it('holds the order again without a charge attempt when its probe fails, reopening the circuit', async () => {
    orderIs({ ...priced, hold: held, heldAt: held.since });
    ddb
      .on(GetCommand, { Key: circuitKey })
      .resolvesOnce({
        Item: {
          ...circuitKey,
          state: 'OPEN',
          version: 3,
          failures: 5,
          openUntil: NOW.getTime(),
          since: outageSince,
        },
      })
      .resolves({
        Item: {
          ...circuitKey,
          state: 'OPEN',
          version: 5,
          failures: 6,
          openUntil: NOW.getTime() + 30_000,
          since: outageSince,
        },
      });
    reply = () => ({ status: 503 });

    expect(await authorize(sagaInput, context)).toEqual({ held: { ...held, waitSeconds: 30 } });
    expect(provider.requests.map((request) => request.method)).toEqual(['GET']);
    expect(circuitWrites().map((write) => write.ConditionExpression)).toEqual([
      'version = :version',
      'probeToken = :token',
    ]);
    // Nothing written on the order: no attempt mark (nothing was charged), and the hold stands.
    expect(updates()).toEqual([]);
  });

  it('counts a decline as an answer: the provider is up', async () => {
    orderIs(priced);
    circuitIs({ state: 'CLOSED', failures: 2 });
    reply = () => ({ status: 402, body: { error: { code: 'card_declined' } } });

    await expect(authorize(sagaInput, context)).rejects.toMatchObject({ name: 'PaymentDeclined' });
    expect(circuitWrites()).toEqual([
      expect.objectContaining({ ConditionExpression: expect.stringContaining('failures > :zero') }),
    ]);
  });

  it('cancels a held order that never sent a charge without asking the provider', async () => {
    orderIs({ ...priced, compensatingAt: NOW.toISOString(), heldAt: held.since });

    expect(await voidPayment({ ...sagaInput, error: { Error: 'PaymentHoldExpired' } }, context)).toEqual({
      outcome: 'SKIPPED',
      detail: 'no payment was attempted',
    });
    expect(provider.requests).toHaveLength(0);
  });

  it('still asks the provider for an order whose charge was sent, and counts its failure on the circuit', async () => {
    orderIs({
      ...priced,
      compensatingAt: NOW.toISOString(),
      heldAt: held.since,
      chargeAttemptedAt: '2026-05-01T11:00:00.000Z',
    });
    ddb
      .on(UpdateCommand, { Key: circuitKey })
      .resolves({ Attributes: { state: 'OPEN', version: 4, failures: 9 } });
    reply = () => ({ status: 503 });

    await expect(
      voidPayment({ ...sagaInput, error: { Error: 'PaymentHoldExpired' } }, context),
    ).rejects.toMatchObject({
      name: 'PaymentProviderUnavailable',
    });
    expect(provider.requests).toHaveLength(1);
    expect(circuitWrites()).toEqual([expect.objectContaining({ ReturnValues: 'ALL_NEW' })]);
  });
});
