/**
 * Every answer the sandbox gives that is not a success is one of these errors. Each carries the HTTP status and the
 * provider-style body (`{error: {type, code, message}}`) so the handler can render any of them the same way, the
 * way a real payment API (Stripe's shape) answers its clients.
 */

import { ApiError } from '#shared/http.ts';
import type { EdgeErrors } from '#shared/middleware/errors.ts';

export type ProviderErrorType = 'invalid_request_error' | 'card_error' | 'api_error' | 'idempotency_error';

/**
 * An `ApiError` in the provider's dialect: the shared HTTP edge's error mapper answers it with its status and
 * headers like any other, and `toBody` gives the provider-style body.
 */
export class SandboxError extends ApiError {
  constructor(
    statusCode: number,
    readonly type: ProviderErrorType,
    code: string,
    message: string,
    /** Extra fields rendered next to `error` (e.g. `calls` on a 404 so tests still see the attempts). */
    readonly extra: Record<string, unknown> = {},
    /** Extra response headers (e.g. `Allow` on a 405). */
    headers: Record<string, string> = {},
  ) {
    super(statusCode, code, message, undefined, headers);
    this.name = new.target.name;
  }

  override toBody(): Record<string, unknown> {
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

/**
 * The shared HTTP edge's own errors in the provider's dialect: the same rules as the client API (size limit, JSON,
 * zod validation, a busy table, the opaque 500), answered the way the sandbox documents them.
 */
export const SANDBOX_ERRORS: EdgeErrors = {
  internal: () => new ProviderInternalError('Unexpected sandbox failure'),
  busy: () =>
    new SandboxError(
      503,
      'api_error',
      'temporarily_unavailable',
      'The sandbox is busy; retry',
      {},
      {
        'retry-after': '1',
      },
    ),
  tooLarge: (limitBytes) =>
    new SandboxError(
      413,
      'invalid_request_error',
      'payload_too_large',
      `The request body exceeds ${limitBytes} bytes`,
    ),
  bodyRequired: () => new InvalidRequest('body_missing', 'A JSON request body is required'),
  invalidJson: () => new InvalidRequest('invalid_json', 'The request body is not valid JSON'),
  invalid: (error, part) => {
    const problems = error.issues.map((issue) => {
      const path = issue.path.map(String).join('.');
      return `${path === '' ? part : `${part}.${path}`}: ${issue.message}`;
    });
    return new InvalidRequest('parameter_invalid', problems.join('; '));
  },
};
