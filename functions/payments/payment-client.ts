import {
  PaymentDeclined,
  PaymentProviderUnavailable,
  PaymentRequestRejected,
} from '#functions/orders/errors.ts';
import type { RequestAuthenticator } from '#shared/request-auth.ts';
import * as z from '#shared/zod.ts';

export interface PaymentClientConfig {
  /** Base URL without a trailing slash, e.g. the sandbox API. */
  baseUrl: string;
  timeoutMs: number;
  /** Proves the caller to the provider: SigV4 for the sandbox, a bearer API key for a real provider. */
  auth: RequestAuthenticator;
}

export interface ChargeRequest {
  idempotencyKey: string;
  orderId: string;
  amount: number;
  currency: string;
  token: string;
}

const chargeSchema = z.object({
  id: z.string().min(1),
  status: z.string(),
  amount: z.number().int(),
  currency: z.string(),
});
export type Charge = z.infer<typeof chargeSchema>;

const refundSchema = z.object({ id: z.string().min(1), status: z.string(), charge: z.string() });

/** `already_refunded`: the charge was paid back under another refund key (e.g. by hand at the provider). */
export type RefundResult =
  | { status: 'refunded'; id: string }
  | { status: 'already_refunded' }
  | { status: 'not_found' };

const providerChargeSchema = z.object({
  id: z.string().min(1),
  amount: z.number().int(),
  currency: z.string(),
  refunded: z.boolean(),
});
export type ProviderCharge = z.infer<typeof providerChargeSchema>;
const chargeListSchema = z.object({ data: z.array(providerChargeSchema) });

const providerErrorSchema = z.object({
  error: z.object({ code: z.string().optional(), message: z.string().optional() }).optional(),
});

interface ProviderAnswer {
  status: number;
  body: unknown;
}

/** 408/409/429 and 5xx say "not now": the same idempotent request may succeed later. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

function providerCode(body: unknown): string | undefined {
  const parsed = providerErrorSchema.safeParse(body);
  return parsed.success ? parsed.data.error?.code : undefined;
}

function providerMessage(body: unknown): string | undefined {
  const parsed = providerErrorSchema.safeParse(body);
  return parsed.success ? (parsed.data.error?.message ?? parsed.data.error?.code) : undefined;
}

/** What the saga needs from a payment provider (docs/payment-provider.md); `PaymentClient` speaks it over HTTP. */
export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<Charge>;
  findCharges(orderId: string): Promise<ProviderCharge[]>;
  refund(idempotencyKey: string, chargeId: string): Promise<RefundResult>;
}

/**
 * HTTP client of the payment provider (Stripe-like; the sandbox implements the same contract). Every
 * request carries an idempotency key, so the saga can retry a charge or a refund without doing it twice.
 */
export class PaymentClient implements PaymentProvider {
  constructor(private readonly config: PaymentClientConfig) {}

  async charge(request: ChargeRequest): Promise<Charge> {
    const { idempotencyKey, ...body } = request;
    const answer = await this.post('/v1/charges', idempotencyKey, body);
    if (answer.status === 200 || answer.status === 201) {
      const charge = chargeSchema.safeParse(answer.body);
      if (!charge.success) throw new PaymentProviderUnavailable('payment provider sent a malformed charge');
      return charge.data;
    }
    const message = providerMessage(answer.body);
    if (answer.status === 402) throw new PaymentDeclined(message ?? 'payment declined');
    throw this.failure('charge', answer.status, message);
  }

  /** Every charge the provider holds for the order (its `orderId` metadata), refunded ones included. */
  async findCharges(orderId: string): Promise<ProviderCharge[]> {
    const answer = await this.request('GET', `/v1/charges?orderId=${encodeURIComponent(orderId)}`);
    if (answer.status === 200) {
      const list = chargeListSchema.safeParse(answer.body);
      if (!list.success)
        throw new PaymentProviderUnavailable('payment provider sent a malformed charge list');
      return list.data.data;
    }
    throw this.failure('charge lookup', answer.status, providerMessage(answer.body));
  }

  /** Refunds the charge with provider id `chargeId`; `not_found` means the provider knows no such charge. */
  async refund(idempotencyKey: string, chargeId: string): Promise<RefundResult> {
    const answer = await this.post('/v1/refunds', idempotencyKey, { charge: chargeId });
    if (answer.status === 200 || answer.status === 201) {
      const refund = refundSchema.safeParse(answer.body);
      if (!refund.success) throw new PaymentProviderUnavailable('payment provider sent a malformed refund');
      return { status: 'refunded', id: refund.data.id };
    }
    if (answer.status === 404) return { status: 'not_found' };
    if (providerCode(answer.body) === 'charge_already_refunded') return { status: 'already_refunded' };
    throw this.failure('refund', answer.status, providerMessage(answer.body));
  }

  private failure(operation: string, status: number, message: string | undefined): Error {
    const text = `${operation} failed with HTTP ${status}${message ? `: ${message}` : ''}`;
    return isRetryableStatus(status)
      ? new PaymentProviderUnavailable(text)
      : new PaymentRequestRejected(text);
  }

  private post(path: string, idempotencyKey: string, body: unknown): Promise<ProviderAnswer> {
    return this.request('POST', path, { idempotencyKey, body });
  }

  private async request(
    method: 'GET' | 'POST',
    path: string,
    send?: { idempotencyKey: string; body: unknown },
  ): Promise<ProviderAnswer> {
    // The timeout covers the whole exchange, body included: a provider that stalls mid-answer is unavailable.
    const signal = AbortSignal.timeout(this.config.timeoutMs);
    const url = `${this.config.baseUrl}${path}`;
    const payload = send ? JSON.stringify(send.body) : undefined;
    let headers: Record<string, string>;
    try {
      headers = await this.config.auth.headersFor({
        method,
        url,
        headers: send
          ? {
              'content-type': 'application/json',
              accept: 'application/json',
              'idempotency-key': send.idempotencyKey,
            }
          : { accept: 'application/json' },
        ...(payload === undefined ? {} : { body: payload }),
      });
    } catch (error) {
      // Credentials that cannot be had now (an unreadable key) make the provider unavailable: retried, never sent
      // without them. Only the message: its cause may name ARNs, which belong in logs, not in the order's timeline.
      throw new PaymentProviderUnavailable(
        `payment provider credentials unavailable${error instanceof Error ? `: ${error.message}` : ''}`,
      );
    }
    try {
      const response = await fetch(url, {
        method,
        headers,
        ...(payload === undefined ? {} : { body: payload }),
        signal,
      });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: response.status, body: parsed };
    } catch (error) {
      if (signal.aborted) {
        throw new PaymentProviderUnavailable(
          `payment provider did not answer within ${this.config.timeoutMs} ms`,
        );
      }
      const cause =
        error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : '';
      throw new PaymentProviderUnavailable(`payment provider unreachable${cause ? `: ${cause}` : ''}`);
    }
  }
}
