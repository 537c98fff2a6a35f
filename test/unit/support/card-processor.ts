/** A card processor as the payment adapter contract describes it, in memory, for domain tests on DynamoDB Local. */
import { PaymentProviderUnavailable } from '#functions/orders/errors.ts';
import type {
  Charge,
  ChargeRequest,
  PaymentProvider,
  ProviderCharge,
  RefundResult,
} from '#functions/payments/payment-client.ts';

const DAY_MS = 24 * 3_600_000;
const T0 = new Date('2026-12-01T10:00:00.000Z');

/** A card processor as the adapter contract describes it, with a hand on when a charge lands. */
export class CardProcessor implements PaymentProvider {
  charges: Array<ProviderCharge & { key: string; orderId: string; at: number }> = [];
  refunds = new Map<string, { id: string; chargeId: string }>();
  clock = T0.getTime();
  /** When set, the next charge request lands only when `land()` is called, and its caller has given up. */
  private held: { request: ChargeRequest; land: () => void } | undefined;
  holdNext = false;
  /** The provider's answer instead of a charge, for the next requests (a decline, an outage); undefined charges. */
  refuseWith: ((request: ChargeRequest) => Error | undefined) | undefined;
  /** Charge requests received, answered or not. */
  requests: ChargeRequest[] = [];

  async charge(request: ChargeRequest): Promise<Charge> {
    this.requests.push(request);
    const refusal = this.refuseWith?.(request);
    if (refusal) throw refusal;
    const known = this.charges.find(
      (charge) => charge.key === request.idempotencyKey && this.clock - charge.at < DAY_MS,
    );
    if (known) return { id: known.id, status: 'authorized', amount: known.amount, currency: known.currency };
    if (this.holdNext) {
      this.holdNext = false;
      this.held = { request, land: () => this.record(request) };
      throw new PaymentProviderUnavailable('payment provider did not answer within 3000 ms');
    }
    const charge = this.record(request);
    return { id: charge.id, status: 'authorized', amount: charge.amount, currency: charge.currency };
  }

  /** The request its caller gave up on reaches the ledger now. */
  land(): void {
    this.held?.land();
    this.held = undefined;
  }

  async findCharges(orderId: string): Promise<ProviderCharge[]> {
    return this.charges
      .filter((charge) => charge.orderId === orderId)
      .map(({ id, amount, currency, refunded }) => ({ id, amount, currency, refunded }));
  }

  async refund(idempotencyKey: string, chargeId: string): Promise<RefundResult> {
    const replay = this.refunds.get(idempotencyKey);
    if (replay) return { status: 'refunded', id: replay.id };
    const charge = this.charges.find((candidate) => candidate.id === chargeId);
    if (!charge) return { status: 'not_found' };
    if (charge.refunded) return { status: 'already_refunded' };
    charge.refunded = true;
    const id = `re_${this.refunds.size + 1}`;
    this.refunds.set(idempotencyKey, { id, chargeId });
    return { status: 'refunded', id };
  }

  private record(request: ChargeRequest) {
    const charge = {
      id: `ch_${this.charges.length + 1}`,
      key: request.idempotencyKey,
      orderId: request.orderId,
      amount: request.amount,
      currency: request.currency,
      refunded: false,
      at: this.clock,
    };
    this.charges.push(charge);
    return charge;
  }
}
