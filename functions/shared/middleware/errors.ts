import type { MiddlewareObj } from '@middy/core';
import { isTableBusy } from '#shared/dynamodb.ts';
import {
  ApiError,
  type ApiResult,
  errorResponse,
  InvalidRequest,
  PayloadTooLarge,
  TemporarilyUnavailable,
  validationError,
} from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import type * as z from '#shared/zod.ts';
import { DOMAIN_ANSWERS } from './domain-errors.ts';

/** The part of a request a schema reads. */
export type RequestPart = 'body' | 'path' | 'query';

/**
 * The errors the HTTP edge itself raises, in one API's dialect. The edge's rules (what is too large, what is not
 * JSON, what a busy table means) are the same for every API; only the wording of the answer is the API's own.
 */
export interface EdgeErrors {
  /** The opaque answer to anything unexpected (logged, never explained to the caller). */
  internal(): ApiError;
  /** DynamoDB refused for load: the caller retries the same request. */
  busy(): ApiError;
  tooLarge(limitBytes: number): ApiError;
  bodyRequired(): ApiError;
  /** `position` is where the parser stopped; the body itself is never quoted. */
  invalidJson(position: number | undefined): ApiError;
  invalid(error: z.ZodError, part: RequestPart): ApiError;
}

/** The client API's dialect (`{error: {code, message, details?}}`), documented in the README. */
export const API_ERRORS: EdgeErrors = {
  internal: () => new ApiError(500, 'internal_error', 'internal error'),
  busy: () => new TemporarilyUnavailable(),
  tooLarge: (limitBytes) => new PayloadTooLarge(limitBytes),
  bodyRequired: () => new InvalidRequest('invalid_json', 'request body is required (a JSON object)'),
  invalidJson: (position) =>
    new InvalidRequest(
      'invalid_json',
      position === undefined
        ? 'request body is not valid JSON'
        : `request body is not valid JSON (at position ${position})`,
    ),
  invalid: (error, part) => validationError(error, part === 'body' ? 'request body' : part),
};

/**
 * The one error mapper: an `ApiError` is answered with its status, headers and body, a domain error with the answer
 * `DOMAIN_ANSWERS` gives it; DynamoDB refusing for load
 * with the dialect's 503; anything else is logged and answered with an opaque 500. It sets the response and lets
 * the outer middlewares (correlation header, log scope, metrics) finish their work.
 */
export function errorMapper(errors: EdgeErrors = API_ERRORS): MiddlewareObj<unknown, ApiResult> {
  return {
    onError: (request) => {
      const { error } = request;
      let answer: ApiError | undefined = error instanceof ApiError ? error : undefined;
      if (!answer && error instanceof Error) answer = DOMAIN_ANSWERS[error.name]?.(error);
      if (answer) {
        logger.info('request rejected', {
          statusCode: answer.statusCode,
          code: answer.code,
          reason: answer.message,
        });
      } else if (isTableBusy(error)) {
        logger.warn('request refused: table busy', { error });
        answer = errors.busy();
      } else {
        logger.error('request failed', { error });
        answer = errors.internal();
      }
      request.response = errorResponse(answer);
    },
  };
}
