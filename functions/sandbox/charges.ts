/**
 * Charges. The order of the steps is the contract:
 * 1. count the attempt (always, whatever happens next: tests compare attempts with effects);
 * 2. fault knobs (the provider is slow or down before it even looks at the request);
 * 3. replay an existing charge for the key (the token's delays still apply, see tokens.ts);
 * 4. the token's failure modes (decline, error, flaky), then record the charge once.
 * Like a real card processor, a charge that lands after its caller gave up is taken: nothing voids a key. Finding
 * and refunding it is the caller's job (`GET /v1/charges?orderId=`, then a refund by the charge's id).
 */
import type { SandboxContext } from './context.ts';
import { applyPaymentFaults, readFaults } from './faults.ts';
import {
  CardDeclined,
  ChargeNotFound,
  IdempotencyKeyReused,
  ProviderInternalError,
  ProviderUnavailable,
} from './provider-errors.ts';
import type { Reply } from './routes.ts';
import type { ChargeRequest } from './schemas.ts';
import type { ChargeRecord, RefundRecord } from './store.ts';
import { TOKENS } from './tokens.ts';

export const REPLAYED_HEADER = { 'idempotent-replayed': 'true' };

export async function createCharge(ctx: SandboxContext, key: string, request: ChargeRequest): Promise<Reply> {
  const calls = await ctx.table.countCall('CHARGE', key, ctx.now());
  await applyPaymentFaults(ctx, await readFaults(ctx));

  const behaviour = TOKENS[request.token];
  const existing = await ctx.table.getRecord('CHARGE', key);
  if (existing) {
    assertSameCharge(key, existing, request);
    await ctx.sleep(behaviour.delayBeforeMs + behaviour.delayAfterMs);
    return replay(existing);
  }

  if (behaviour.outcome === 'decline') throw new CardDeclined();
  if (behaviour.outcome === 'error') {
    throw new ProviderInternalError(`Test token ${request.token} always fails`);
  }
  if (calls <= behaviour.failFirstCalls) {
    throw new ProviderUnavailable(
      'service_unavailable',
      `Test token ${request.token} fails the first ${behaviour.failFirstCalls} calls per key (this was call ${calls})`,
    );
  }

  if (behaviour.delayBeforeMs > 0) await ctx.sleep(behaviour.delayBeforeMs);
  const proposed: ChargeRecord = {
    entity: 'Charge',
    id: ctx.newId('ch'),
    idempotencyKey: key,
    amount: request.amount,
    currency: request.currency,
    token: request.token,
    orderId: request.orderId,
    createdAt: ctx.now().toISOString(),
  };
  const recorded = await ctx.table.putChargeOnce(proposed);
  let reply: Reply;
  if (recorded) {
    ctx.logger.info('charge authorized', {
      idempotencyKey: key,
      chargeId: proposed.id,
      orderId: request.orderId,
    });
    reply = { statusCode: 201, body: chargeAnswer(proposed) };
  } else {
    // A concurrent request with the same key recorded first: answer with its charge, as a later retry would get.
    const winner = await ctx.table.getRecord('CHARGE', key);
    if (!winner) throw new ProviderUnavailable('conflict', `Charge ${key} is being written; retry`);
    assertSameCharge(key, winner, request);
    reply = replay(winner);
  }
  if (behaviour.delayAfterMs > 0) await ctx.sleep(behaviour.delayAfterMs);
  return reply;
}

export async function getCharge(ctx: SandboxContext, key: string): Promise<Reply> {
  const [charge, calls] = await Promise.all([
    ctx.table.getRecord('CHARGE', key),
    ctx.table.getCalls('CHARGE', key),
  ]);
  // The 404 still reports the attempts, so a test can see that declined or failed calls reached the provider.
  if (!charge) throw new ChargeNotFound(key, { calls });
  const refund = charge.refundKey ? await ctx.table.getRecord('REFUND', charge.refundKey) : undefined;
  return {
    statusCode: 200,
    body: { charge: chargeView(charge), refunds: refund ? [refundView(refund)] : [], calls },
  };
}

/** The 201 answer, rebuilt from the immutable fields so every replay is byte-identical to the first answer. */
export function chargeAnswer(charge: ChargeRecord) {
  return {
    id: charge.id,
    status: 'authorized' as const,
    amount: charge.amount,
    currency: charge.currency,
    idempotencyKey: charge.idempotencyKey,
  };
}

/** `GET /v1/charges?orderId=`: every charge of the order, as a caller that lost an answer looks for it. */
export async function listChargesOfOrder(ctx: SandboxContext, orderId: string): Promise<Reply> {
  await ctx.table.countCall('LOOKUP', orderId, ctx.now());
  // A provider that is down cannot be asked either: the compensation must wait for it, not conclude "no charge".
  await applyPaymentFaults(ctx, await readFaults(ctx));
  const charges = await ctx.table.chargesOfOrder(orderId);
  return { statusCode: 200, body: { data: charges.map(chargeView) } };
}

function chargeView(charge: ChargeRecord) {
  return {
    ...chargeAnswer(charge),
    orderId: charge.orderId,
    token: charge.token,
    createdAt: charge.createdAt,
    refunded: charge.refundKey !== undefined,
  };
}

export function refundAnswer(refund: RefundRecord) {
  return { id: refund.id, status: 'refunded' as const, charge: refund.charge };
}

function refundView(refund: RefundRecord) {
  return {
    ...refundAnswer(refund),
    idempotencyKey: refund.idempotencyKey,
    amount: refund.amount,
    currency: refund.currency,
    createdAt: refund.createdAt,
  };
}

function replay(charge: ChargeRecord): Reply {
  return { statusCode: 201, body: chargeAnswer(charge), headers: REPLAYED_HEADER };
}

function assertSameCharge(key: string, charge: ChargeRecord, request: ChargeRequest): void {
  const differing = (['amount', 'currency', 'token', 'orderId'] as const).filter(
    (field) => charge[field] !== request[field],
  );
  if (differing.length > 0) throw new IdempotencyKeyReused(key, `different ${differing.join(', ')}`);
}
