/**
 * Every answer the sandbox gives that is not a success is one of these errors. Each carries the HTTP status and the
 * provider-style body (`{error: {type, code, message}}`) so the handler can render any of them the same way, the
 * way a real payment API (Stripe's shape) answers its clients.
 */

export type ProviderErrorType = 'invalid_request_error' | 'card_error' | 'api_error' | 'idempotency_error';

export class SandboxError extends Error {
  constructor(
    readonly statusCode: number,
    readonly type: ProviderErrorType,
    readonly code: string,
    message: string,
    /** Extra fields rendered next to `error` (e.g. `calls` on a 404 so tests still see the attempts). */
    readonly extra: Record<string, unknown> = {},
    /** Extra response headers (e.g. `Allow` on a 405). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }

  toBody(): Record<string, unknown> {
    return { error: { type: this.type, code: this.code, message: this.message }, ...this.extra };
  }
}

export class InvalidRequest extends SandboxError {
  constructor(code: string, message: string) {
    super(400, 'invalid_request_error', code, message);
  }
}

export class RouteNotFound extends SandboxError {
  constructor(method: string, path: string) {
    super(404, 'invalid_request_error', 'route_not_found', `No route for ${method} ${path}`);
  }
}

export class MethodNotAllowed extends SandboxError {
  constructor(method: string, path: string, allowed: readonly string[]) {
    super(
      405,
      'invalid_request_error',
      'method_not_allowed',
      `${method} is not allowed on ${path}; use ${allowed.join(', ')}`,
      {},
      { allow: allowed.join(', ') },
    );
  }
}

export class ChargeNotFound extends SandboxError {
  constructor(chargeKey: string, extra: Record<string, unknown> = {}) {
    super(404, 'invalid_request_error', 'charge_not_found', `No charge ${chargeKey}`, extra);
  }
}

export class ChargeAlreadyRefunded extends SandboxError {
  constructor(chargeKey: string, refundKey: string) {
    super(
      409,
      'invalid_request_error',
      'charge_already_refunded',
      `Charge ${chargeKey} was already refunded under idempotency key ${refundKey}`,
    );
  }
}

/** The same Idempotency-Key came back with a different request: replaying would answer a question nobody asked. */
export class IdempotencyKeyReused extends SandboxError {
  constructor(key: string, detail: string) {
    super(
      409,
      'idempotency_error',
      'idempotency_key_reused',
      `Idempotency-Key ${key} was first used with a different request (${detail})`,
    );
  }
}

export class CardDeclined extends SandboxError {
  constructor() {
    super(402, 'card_error', 'card_declined', 'Your card was declined.');
  }
}

export class ProviderInternalError extends SandboxError {
  constructor(message: string) {
    super(500, 'api_error', 'internal_error', message);
  }
}

export class ProviderUnavailable extends SandboxError {
  constructor(code: string, message: string) {
    super(503, 'api_error', code, message);
  }
}
