import type { MiddlewareObj } from '@middy/core';
import { correlationIdOf, type HttpEvent } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import type * as z from '#shared/zod.ts';
import { API_ERRORS, type EdgeErrors, type RequestPart } from './errors.ts';

export interface BodySpec<B> {
  schema: z.ZodType<B>;
  /** Larger bodies are refused (413) before they are parsed. */
  limitBytes: number;
  /** Validated in place of an absent or blank body; without it a body is required. */
  whenEmpty?: unknown;
}

/** What a route reads from its request, each part checked by a zod schema. */
export interface RequestSpec<B, P, Q> {
  body?: BodySpec<B>;
  path?: z.ZodType<P>;
  query?: z.ZodType<Q>;
}

/** What the parser hands the handler: every part validated (a part without a schema is `undefined`). */
export interface ParsedRequest<B, P, Q> {
  body: B;
  path: P;
  query: Q;
  /** The caller's `x-correlation-id` when safe, else the API request id (`correlationIdOf`). */
  correlationId: string;
}

/** The raw request body as text (base64 decoded), refused when larger than `limitBytes`. */
export function readBodyText(
  event: Pick<HttpEvent, 'body' | 'isBase64Encoded'>,
  limitBytes: number,
  errors: EdgeErrors = API_ERRORS,
): string | undefined {
  if (event.body === undefined || event.body === null) return undefined;
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(text, 'utf8') > limitBytes) throw errors.tooLarge(limitBytes);
  return text;
}

/** Absent or blank text is `bodyRequired`; a syntax error is answered with its position only. */
export function parseJsonText(text: string | undefined, errors: EdgeErrors = API_ERRORS): unknown {
  if (text === undefined || text.trim() === '') throw errors.bodyRequired();
  try {
    return JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text around the fault, which may be a payment token or an address: neither the
    // answer nor the log may carry it, so both get the position only.
    const position = error instanceof Error ? /at position (\d+)/.exec(error.message)?.[1] : undefined;
    logger.info('request body is not valid JSON', {
      bodyBytes: Buffer.byteLength(text, 'utf8'),
      ...(position === undefined ? {} : { position: Number(position) }),
    });
    throw errors.invalidJson(position === undefined ? undefined : Number(position));
  }
}

/** `value` checked by `schema` (async refinements included); a failure is the dialect's validation error. */
export async function validatePart<T>(
  schema: z.ZodType<T>,
  value: unknown,
  part: RequestPart,
  errors: EdgeErrors = API_ERRORS,
): Promise<T> {
  const result = await schema.safeParseAsync(value);
  if (!result.success) throw errors.invalid(result.error, part);
  return result.data;
}

/** The JSON body of `event`, bounded, parsed and validated. */
export async function parseBody<B>(
  event: Pick<HttpEvent, 'body' | 'isBase64Encoded'>,
  spec: BodySpec<B>,
  errors: EdgeErrors = API_ERRORS,
): Promise<B> {
  const text = readBodyText(event, spec.limitBytes, errors);
  const json =
    'whenEmpty' in spec && (text === undefined || text.trim() === '')
      ? spec.whenEmpty
      : parseJsonText(text, errors);
  return validatePart(spec.schema, json, 'body', errors);
}

/**
 * Parses the request before the handler runs: path, then query, then body (size, JSON, schema), in that order, and
 * hands the handler the result, with the correlation id, as `event.parsed`. Anything wrong is thrown to the error mapper.
 */
export function requestParser<B, P, Q>(
  spec: RequestSpec<B, P, Q>,
  errors: EdgeErrors = API_ERRORS,
): MiddlewareObj<HttpEvent> {
  return {
    before: async (request) => {
      const event = request.event;
      const path = spec.path
        ? await validatePart(spec.path, event.pathParameters ?? {}, 'path', errors)
        : undefined;
      const query = spec.query
        ? await validatePart(spec.query, event.queryStringParameters ?? {}, 'query', errors)
        : undefined;
      const body = spec.body ? await parseBody(event, spec.body, errors) : undefined;
      const parsed: ParsedRequest<unknown, unknown, unknown> = {
        body,
        path,
        query,
        correlationId: correlationIdOf(event),
      };
      // A new event object: the caller's stays as it was sent.
      request.event = { ...event, parsed } as unknown as HttpEvent;
    },
  };
}
