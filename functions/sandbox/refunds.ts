/**
 * Refunds: the compensation of a charge. Test tokens do not apply here (the charge's token was about the card; a
 * refund of a `tok_timeout` charge must work, or the saga could never undo it); the fault knobs do. A refund names
 * the charge by its id (`ch_…`), as card processors' refund APIs do; an unknown id is a 404 and changes nothing.
 */
import { REPLAYED_HEADER, refundAnswer } from './charges.ts';
import type { SandboxContext } from './context.ts';
import { applyPaymentFaults, readFaults } from './faults.ts';
import {
  ChargeAlreadyRefunded,
  ChargeNotFound,
  IdempotencyKeyReused,
  ProviderUnavailable,
} from './provider-errors.ts';
import type { Reply } from './routes.ts';
import type { RefundRequest } from './schemas.ts';
import type { RefundRecord } from './store.ts';

// A transaction only fails without a decisive reason when it collided with a concurrent one; after that many
// collisions the caller is told to retry rather than kept waiting.
const REFUND_ATTEMPTS = 3;

export async function createRefund(ctx: SandboxContext, key: string, request: RefundRequest): Promise<Reply> {
  await ctx.table.countCall('REFUND', key, ctx.now());
  await applyPaymentFaults(ctx, await readFaults(ctx));

  for (let attempt = 1; attempt <= REFUND_ATTEMPTS; attempt++) {
    const existing = await ctx.table.getRecord('REFUND', key);
    if (existing) {
      if (existing.charge !== request.charge) {
        throw new IdempotencyKeyReused(key, `different charge; first used for ${existing.charge}`);
      }
      return { statusCode: 200, body: refundAnswer(existing), headers: REPLAYED_HEADER };
    }
    const charge = await ctx.table.getChargeById(request.charge);
    if (!charge) throw new ChargeNotFound(request.charge);
    if (charge.refundKey !== undefined) throw new ChargeAlreadyRefunded(request.charge, charge.refundKey);

    const refund: RefundRecord = {
      entity: 'Refund',
      id: ctx.newId('re'),
      idempotencyKey: key,
      charge: request.charge,
      chargeKey: charge.idempotencyKey,
      amount: charge.amount,
      currency: charge.currency,
      createdAt: ctx.now().toISOString(),
    };
    if (await ctx.table.recordRefund(refund, ctx.now())) {
      ctx.logger.info('charge refunded', {
        idempotencyKey: key,
        refundId: refund.id,
        charge: request.charge,
      });
      return { statusCode: 200, body: refundAnswer(refund) };
    }
    // Lost a race (same refund key, or another refund of this charge): the next read tells which.
  }
  throw new ProviderUnavailable('conflict', `Refund ${key} collided with concurrent refunds; retry`);
}
