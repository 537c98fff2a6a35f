import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  chargeBody,
  ddb,
  postCharge,
  refundKey,
  resetTable,
  send,
  storedCharge,
  storedRefund,
  TABLE,
  testContext,
  transactionCanceled,
} from './helpers.ts';

const chargeKey = { pk: 'CHARGE#k1', sk: 'CHARGE' };

beforeEach(() => {
  resetTable();
});

describe('POST /v1/charges', () => {
  it('authorizes tok_ok, records the charge once with a conditional write and counts the call', async () => {
    const ctx = testContext();

    const answer = await postCharge(ctx, 'k1');

    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({
      id: 'ch_test1',
      status: 'authorized',
      amount: 2500,
      currency: 'EUR',
      idempotencyKey: 'k1',
    });
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [
        {
          Put: expect.objectContaining({
            TableName: TABLE,
            ConditionExpression: 'attribute_not_exists(pk)',
            Item: expect.objectContaining({
              ...chargeKey,
              entity: 'Charge',
              id: 'ch_test1',
              token: 'tok_ok',
              orderId: 'ord-1',
            }),
          }),
        },
        {
          Put: expect.objectContaining({
            Item: expect.objectContaining({
              pk: 'CHARGEID#ch_test1',
              sk: 'CHARGEREF',
              idempotencyKey: 'k1',
              orderId: 'ord-1',
            }),
          }),
        },
        {
          Put: expect.objectContaining({
            Item: expect.objectContaining({
              pk: 'ORDER#ord-1',
              sk: 'CHARGE#ch_test1',
              idempotencyKey: 'k1',
              chargeId: 'ch_test1',
            }),
          }),
        },
      ],
    });
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      Key: { pk: 'CHARGE#k1', sk: 'CALLS' },
      UpdateExpression: expect.stringContaining('ADD #calls :one'),
      ExpressionAttributeValues: expect.objectContaining({ ':one': 1 }),
    });
    expect(ctx.sleep).not.toHaveBeenCalled();
  });

  it('declines tok_decline with 402 card_declined and records nothing', async () => {
    const ctx = testContext();

    const answer = await postCharge(ctx, 'k1', chargeBody('tok_decline'));

    expect(answer.status).toBe(402);
    expect(answer.body).toEqual({
      error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' },
    });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
  });

  it('always answers tok_error with 500 api_error and records nothing', async () => {
    const ctx = testContext();

    const answer = await postCharge(ctx, 'k1', chargeBody('tok_error'));

    expect(answer.status).toBe(500);
    expect(answer.body).toMatchObject({ error: { type: 'api_error', code: 'internal_error' } });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('fails tok_flaky with 503 on the first two calls per key and authorizes the third', async () => {
    const ctx = testContext();
    ddb
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { calls: 1 } })
      .resolvesOnce({ Attributes: { calls: 2 } })
      .resolves({ Attributes: { calls: 3 } });

    const first = await postCharge(ctx, 'k1', chargeBody('tok_flaky'));
    const second = await postCharge(ctx, 'k1', chargeBody('tok_flaky'));
    const third = await postCharge(ctx, 'k1', chargeBody('tok_flaky'));

    expect([first.status, second.status, third.status]).toEqual([503, 503, 201]);
    expect(first.body).toMatchObject({ error: { type: 'api_error', code: 'service_unavailable' } });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 3);
  });

  it('waits 1 s for tok_slow before it records the charge', async () => {
    const order: string[] = [];
    const ctx = testContext({
      sleep: async (ms) => {
        order.push(`sleep ${ms}`);
      },
    });
    ddb.on(TransactWriteCommand).callsFake(() => {
      order.push('put');
      return {};
    });

    const answer = await postCharge(ctx, 'k1', chargeBody('tok_slow'));

    expect(answer.status).toBe(201);
    expect(order).toEqual(['sleep 1000', 'put']);
  });

  it('records a tok_timeout charge first and answers only after 10 s', async () => {
    let wake: () => void = () => {};
    const ctx = testContext({
      sleep: () =>
        new Promise<void>((resolve) => {
          wake = resolve;
        }),
    });
    let settled = false;

    const pending = postCharge(ctx, 'k1', chargeBody('tok_timeout')).finally(() => {
      settled = true;
    });
    await expect.poll(() => ctx.sleep.mock.calls.length).toBe(1);

    expect(ctx.sleep).toHaveBeenCalledWith(10_000);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    expect(settled).toBe(false);
    wake();
    expect((await pending).status).toBe(201);
  });

  it('replays the first answer for a repeated key without recording a second charge', async () => {
    const ctx = testContext();
    ddb.on(GetCommand, { Key: chargeKey }).resolves({ Item: storedCharge('k1') });
    ddb.on(UpdateCommand).resolves({ Attributes: { calls: 2 } });

    const answer = await postCharge(ctx, 'k1');

    expect(answer.status).toBe(201);
    expect(answer.headers['idempotent-replayed']).toBe('true');
    expect(answer.body).toEqual({
      id: 'ch_first',
      status: 'authorized',
      amount: 2500,
      currency: 'EUR',
      idempotencyKey: 'k1',
    });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
  });

  it('keeps timing out a replayed tok_timeout charge, so the caller never hears in time', async () => {
    const ctx = testContext();
    ddb.on(GetCommand, { Key: chargeKey }).resolves({ Item: storedCharge('k1', { token: 'tok_timeout' }) });

    const answer = await postCharge(ctx, 'k1', chargeBody('tok_timeout'));

    expect(answer.status).toBe(201);
    expect(ctx.sleep).toHaveBeenCalledWith(10_000);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('rejects a repeated key with a different request as 409 instead of replaying', async () => {
    const ctx = testContext();
    ddb.on(GetCommand, { Key: chargeKey }).resolves({ Item: storedCharge('k1') });

    const answer = await postCharge(ctx, 'k1', { ...chargeBody(), amount: 9900 });

    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({
      error: { type: 'idempotency_error', code: 'idempotency_key_reused' },
    });
    expect(String((answer.body.error as { message: string }).message)).toContain('amount');
  });

  it('takes a tok_late charge that lands after its caller gave up: nothing voids a key', async () => {
    const ctx = testContext();

    const answer = await postCharge(ctx, 'k1', chargeBody('tok_late'));

    expect(ctx.sleep).toHaveBeenCalledWith(14_000);
    expect(answer.status).toBe(201);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('answers the loser of a concurrent duplicate with the winner charge', async () => {
    const ctx = testContext();
    ddb
      .on(GetCommand, { Key: chargeKey })
      .resolvesOnce({})
      .resolves({ Item: storedCharge('k1', { id: 'ch_winner' }) });
    ddb.on(TransactWriteCommand).rejects(transactionCanceled());

    const answer = await postCharge(ctx, 'k1');

    expect(answer.status).toBe(201);
    expect(answer.body.id).toBe('ch_winner');
    expect(answer.headers['idempotent-replayed']).toBe('true');
  });

  it('records one charge when two requests with one key race, and both get the same id', async () => {
    const ctx = testContext();
    // The table's conditional write decides the race: the first Put wins, the second fails its condition.
    const stored = new Map<string, Record<string, unknown>>();
    ddb
      .on(TransactWriteCommand)
      .callsFake((input: { TransactItems: { Put: { Item: Record<string, unknown> } }[] }) => {
        const charge = input.TransactItems[0]?.Put.Item ?? {};
        const id = `${charge.pk}|${charge.sk}`;
        if (stored.has(id)) throw transactionCanceled();
        stored.set(id, charge);
        return {};
      });
    ddb.on(GetCommand).callsFake((input: { Key: { pk: string; sk: string } }) => ({
      Item: stored.get(`${input.Key.pk}|${input.Key.sk}`),
    }));

    const [a, b] = await Promise.all([postCharge(ctx, 'k1'), postCharge(ctx, 'k1')]);

    expect(stored.size).toBe(1);
    expect(a?.status).toBe(201);
    expect(b?.status).toBe(201);
    expect(a?.body.id).toBe(b?.body.id);
  });

  it('sleeps the latency knob and fails at the failure-rate knob before looking at the token', async () => {
    const ctx = testContext({ random: () => 0.2 });
    ddb
      .on(GetCommand, { Key: { pk: 'FAULTS', sk: 'FAULTS' } })
      .resolves({ Item: { pk: 'FAULTS', sk: 'FAULTS', paymentLatencyMs: 250, paymentFailureRate: 0.3 } });

    const answer = await postCharge(ctx, 'k1');

    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: { type: 'api_error', code: 'injected_fault' } });
    expect(ctx.sleep).toHaveBeenCalledWith(250);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('authorizes when the dice land above the failure rate', async () => {
    const ctx = testContext({ random: () => 0.5 });
    ddb
      .on(GetCommand, { Key: { pk: 'FAULTS', sk: 'FAULTS' } })
      .resolves({ Item: { pk: 'FAULTS', sk: 'FAULTS', paymentFailureRate: 0.3 } });

    const answer = await postCharge(ctx, 'k1');

    expect(answer.status).toBe(201);
  });

  it.each([
    ['no Idempotency-Key', undefined, chargeBody(), 'idempotency_key_missing'],
    ['a key with spaces', 'a key', chargeBody(), 'idempotency_key_invalid'],
    ['no body', 'k1', undefined, 'body_missing'],
    ['broken JSON', 'k1', '{"amount": ', 'invalid_json'],
    ['a JSON array', 'k1', [1, 2], 'parameter_invalid'],
    ['a negative amount', 'k1', { ...chargeBody(), amount: -5 }, 'parameter_invalid'],
    ['a fractional amount', 'k1', { ...chargeBody(), amount: 10.5 }, 'parameter_invalid'],
    ['an amount as a string', 'k1', { ...chargeBody(), amount: '2500' }, 'parameter_invalid'],
    ['an unknown token', 'k1', chargeBody('tok_nope'), 'parameter_invalid'],
    ['a bad currency', 'k1', { ...chargeBody(), currency: 'EURO' }, 'parameter_invalid'],
    ['no orderId', 'k1', { amount: 1, currency: 'EUR', token: 'tok_ok' }, 'parameter_invalid'],
  ])('answers 400 for %s and touches nothing', async (_case, key, body, code) => {
    const ctx = testContext();

    const answer = await postCharge(ctx, key, body);

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { type: 'invalid_request_error', code } });
    expect(ddb).not.toHaveReceivedAnyCommand();
  });

  it('names the invalid field in the 400 message', async () => {
    const answer = await postCharge(testContext(), 'k1', chargeBody('tok_nope'));

    expect((answer.body.error as { message: string }).message).toMatch(/^body\.token: /);
  });
});

describe('GET /v1/charges?orderId=', () => {
  it("lists the order's charges, found through their references", async () => {
    const ctx = testContext();
    ddb.on(QueryCommand).resolves({
      Items: [{ pk: 'ORDER#ord-1', sk: 'CHARGE#ch_first', idempotencyKey: 'k1', chargeId: 'ch_first' }],
    });
    ddb.on(GetCommand, { Key: chargeKey }).resolves({ Item: storedCharge('k1') });

    const answer = await send(ctx, { method: 'GET', path: '/v1/charges', query: { orderId: 'ord-1' } });

    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual([
      expect.objectContaining({ id: 'ch_first', amount: 2500, refunded: false }),
    ]);
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      ExpressionAttributeValues: { ':pk': 'ORDER#ord-1', ':charge': 'CHARGE#' },
    });
  });

  it('obeys the payment failure knob: a provider that is down cannot be asked either', async () => {
    ddb.on(GetCommand, { Key: { pk: 'FAULTS', sk: 'FAULTS' } }).resolves({ Item: { paymentFailureRate: 1 } });

    const answer = await send(testContext(), {
      method: 'GET',
      path: '/v1/charges',
      query: { orderId: 'ord-1' },
    });

    expect(answer.status).toBe(503);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 0);
  });

  it('answers an empty list for an order without charges, and 400 without an orderId', async () => {
    const none = await send(testContext(), {
      method: 'GET',
      path: '/v1/charges',
      query: { orderId: 'ord-2' },
    });
    const bad = await send(testContext(), { method: 'GET', path: '/v1/charges' });

    expect(none).toMatchObject({ status: 200, body: { data: [] } });
    expect(bad.status).toBe(400);
  });
});

describe('GET /v1/charges/{idempotencyKey}', () => {
  it('shows the charge, its refund and the number of calls', async () => {
    const ctx = testContext();
    ddb
      .on(GetCommand, { Key: chargeKey })
      .resolves({ Item: storedCharge('k1', { refundKey: 'r1', refundId: 're_1' }) });
    ddb.on(GetCommand, { Key: { pk: 'CHARGE#k1', sk: 'CALLS' } }).resolves({ Item: { calls: 3 } });
    ddb.on(GetCommand, { Key: refundKey }).resolves({ Item: storedRefund({ id: 're_1' }) });

    const answer = await send(ctx, { method: 'GET', path: '/v1/charges/k1' });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      charge: {
        id: 'ch_first',
        status: 'authorized',
        amount: 2500,
        currency: 'EUR',
        idempotencyKey: 'k1',
        orderId: 'ord-1',
        token: 'tok_ok',
        createdAt: '2026-04-30T10:00:00.000Z',
        refunded: true,
      },
      refunds: [
        {
          id: 're_1',
          status: 'refunded',
          charge: 'ch_first',
          idempotencyKey: 'r1',
          amount: 2500,
          currency: 'EUR',
          createdAt: '2026-04-30T11:00:00.000Z',
        },
      ],
      calls: 3,
    });
  });

  it('decodes a percent-encoded key', async () => {
    const ctx = testContext();
    ddb.on(GetCommand, { Key: { pk: 'CHARGE#order:1/a', sk: 'CHARGE' } }).resolves({
      Item: storedCharge('order:1/a'),
    });

    const answer = await send(ctx, { method: 'GET', path: '/v1/charges/order%3A1%2Fa' });

    expect(answer.status).toBe(200);
    expect(answer.body.refunds).toEqual([]);
  });

  it('answers 404 charge_not_found with the attempts that reached the provider', async () => {
    const ctx = testContext();
    ddb.on(GetCommand, { Key: { pk: 'CHARGE#k1', sk: 'CALLS' } }).resolves({ Item: { calls: 2 } });

    const answer = await send(ctx, { method: 'GET', path: '/v1/charges/k1' });

    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ error: { code: 'charge_not_found' }, calls: 2 });
  });

  it('answers 400 for a malformed percent-encoding', async () => {
    const answer = await send(testContext(), { method: 'GET', path: '/v1/charges/%E0%A4%A' });

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'path_invalid' } });
  });
});
