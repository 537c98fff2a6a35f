import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  ddb,
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
const chargeRefKey = { pk: 'CHARGEID#ch_first', sk: 'CHARGEREF' };

/** The charge `ch_first`, created with idempotency key k1, as the table holds it. */
function chargeStored(overrides: Record<string, unknown> = {}) {
  ddb.on(GetCommand, { Key: chargeRefKey }).resolves({
    Item: {
      ...chargeRefKey,
      entity: 'ChargeRef',
      chargeId: 'ch_first',
      idempotencyKey: 'k1',
      orderId: 'ord-1',
    },
  });
  ddb.on(GetCommand, { Key: chargeKey }).resolves({ Item: storedCharge('k1', overrides) });
}
const postRefund = (ctx: ReturnType<typeof testContext>, body: unknown, key = 'r1') =>
  send(ctx, { method: 'POST', path: '/v1/refunds', headers: { 'Idempotency-Key': key }, body });

beforeEach(() => {
  resetTable();
  ddb.on(TransactWriteCommand).resolves({});
});

describe('POST /v1/refunds', () => {
  it('refunds an authorized charge: the refund and the charge mark are written in one transaction', async () => {
    const ctx = testContext();
    chargeStored();

    const answer = await postRefund(ctx, { charge: 'ch_first' });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ id: 're_test1', status: 'refunded', charge: 'ch_first' });
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [
        {
          Put: expect.objectContaining({
            TableName: TABLE,
            ConditionExpression: 'attribute_not_exists(pk)',
            Item: expect.objectContaining({
              ...refundKey,
              entity: 'Refund',
              charge: 'ch_first',
              chargeKey: 'k1',
              amount: 2500,
            }),
          }),
        },
        {
          Update: expect.objectContaining({
            Key: chargeKey,
            ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#refundKey)',
            ExpressionAttributeValues: expect.objectContaining({
              ':refundKey': 'r1',
              ':refundId': 're_test1',
            }),
          }),
        },
      ],
    });
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, { Key: { pk: 'REFUND#r1', sk: 'CALLS' } });
  });

  it('answers 404 charge_not_found for an unknown charge id and writes nothing: a refund never voids anything', async () => {
    const answer = await postRefund(testContext(), { charge: 'ch_first' });

    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ error: { type: 'invalid_request_error', code: 'charge_not_found' } });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
  });

  it('replays the first refund for a repeated key', async () => {
    ddb.on(GetCommand, { Key: refundKey }).resolves({ Item: storedRefund() });

    const answer = await postRefund(testContext(), { charge: 'ch_first' });

    expect(answer.status).toBe(200);
    expect(answer.headers['idempotent-replayed']).toBe('true');
    expect(answer.body).toEqual({ id: 're_first', status: 'refunded', charge: 'ch_first' });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('rejects a repeated key for another charge as 409', async () => {
    ddb.on(GetCommand, { Key: refundKey }).resolves({ Item: storedRefund({ charge: 'k0' }) });

    const answer = await postRefund(testContext(), { charge: 'ch_first' });

    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ error: { code: 'idempotency_key_reused' } });
  });

  it('refuses a second refund of one charge under another key (409), so money goes back once', async () => {
    chargeStored({ refundKey: 'r0' });

    const answer = await postRefund(testContext(), { charge: 'ch_first' });

    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ error: { code: 'charge_already_refunded' } });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('replays the winner when a concurrent duplicate wrote the refund first', async () => {
    ddb
      .on(GetCommand, { Key: refundKey })
      .resolvesOnce({})
      .resolves({ Item: storedRefund({ id: 're_winner' }) });
    chargeStored();
    ddb.on(TransactWriteCommand).rejects(transactionCanceled());

    const answer = await postRefund(testContext(), { charge: 'ch_first' });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ id: 're_winner', status: 'refunded', charge: 'ch_first' });
  });

  it('answers 503 conflict after repeated transaction collisions instead of looping', async () => {
    chargeStored();
    ddb.on(TransactWriteCommand).rejects(transactionCanceled());

    const answer = await postRefund(testContext(), { charge: 'ch_first' });

    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: { type: 'api_error', code: 'conflict' } });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
  });

  it('refunds a tok_timeout charge at once: test tokens do not apply to refunds', async () => {
    const ctx = testContext();
    chargeStored({ token: 'tok_timeout' });

    const answer = await postRefund(ctx, { charge: 'ch_first' });

    expect(answer.status).toBe(200);
    expect(ctx.sleep).not.toHaveBeenCalled();
  });

  it('obeys the payment failure knob', async () => {
    ddb.on(GetCommand, { Key: { pk: 'FAULTS', sk: 'FAULTS' } }).resolves({ Item: { paymentFailureRate: 1 } });

    const answer = await postRefund(testContext(), { charge: 'ch_first' });

    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: { code: 'injected_fault' } });
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
  });

  it.each([
    ['no body', undefined],
    ['no charge', {}],
    ['an empty charge', { charge: '  ' }],
    ['a numeric charge', { charge: 42 }],
  ])('answers 400 for %s', async (_case, body) => {
    const answer = await postRefund(testContext(), body);

    expect(answer.status).toBe(400);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });

  it('answers 400 without an Idempotency-Key', async () => {
    const answer = await send(testContext(), {
      method: 'POST',
      path: '/v1/refunds',
      body: { charge: 'ch_first' },
    });

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'idempotency_key_missing' } });
  });
});
