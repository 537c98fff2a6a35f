import type { MiddlewareObj, MiddyfiedHandler, Request } from '@middy/core';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { TableDeps } from '#shared/dynamodb.ts';
import { type ApiEvent, type ApiResult, correlationIdOf, type HttpEvent } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import { restEventNormalizer } from './api-event.ts';
import { lambdaChain } from './chain.ts';
import { API_ERRORS, type EdgeErrors, errorMapper } from './errors.ts';
import { clientRateLimit } from './rate-limit.ts';
import { type ParsedRequest, type RequestSpec, requestParser } from './request.ts';

/**
 * Puts a correlation id on every log line of the invocation (`correlationId`, as everywhere else in Buzzer). With
 * `echo`, the id also goes back to the caller as `x-correlation-id`, on answers and on mapped errors alike.
 */
export function correlation<TEvent>(
  idOf: (event: TEvent) => string | undefined,
  { echo = false }: { echo?: boolean } = {},
): MiddlewareObj<TEvent, ApiResult | unknown> {
  const answer = (request: { event: TEvent; response: unknown }) => {
    const result = request.response as ApiResult | undefined;
    const id = idOf(request.event);
    if (!echo || !result || id === undefined) return;
    request.response = { ...result, headers: { ...result.headers, 'x-correlation-id': id } };
  };
  return {
    before: ({ event }) => {
      const correlationId = idOf(event);
      if (correlationId) logger.appendKeys({ correlationId });
    },
    after: answer,
    onError: answer,
  };
}

/** One request-summary log line per request, written after the error mapper has chosen the answer. */
export interface AccessLog<TEvent> {
  message: string;
  fields?: (event: TEvent) => Record<string, unknown>;
}

function accessLog<TEvent>(spec: AccessLog<TEvent>): MiddlewareObj<TEvent, ApiResult> {
  const write = (request: Request<TEvent, ApiResult>) => {
    const started = (request.internal as { startedAt?: number }).startedAt;
    logger.info(spec.message, {
      ...spec.fields?.(request.event),
      statusCode: request.response?.statusCode,
      ...(typeof started === 'number' ? { durationMs: Date.now() - started } : {}),
    });
  };
  return {
    before: (request) => {
      request.internal = { ...request.internal, startedAt: Date.now() };
    },
    after: write,
    onError: write,
  };
}

/** The event a handler behind `httpChain` receives: the request as sent plus its validated parts. */
export type ParsedEvent<B, P, Q, TEvent extends HttpEvent = ApiEvent> = TEvent & {
  readonly parsed: ParsedRequest<B, P, Q>;
};

export interface HttpChainOptions<B, P, Q, TEvent> extends RequestSpec<B, P, Q> {
  /** The API's error dialect; the client API's by default. */
  errors?: EdgeErrors;
  accessLog?: AccessLog<TEvent>;
  /**
   * The client API's per-client rate limit, its bucket in this table (every client route has it; the sandbox and
   * operator routes do not).
   */
  rateLimit?: TableDeps & { now?: () => number };
}

/**
 * A middy chain whose handler sees the parsed event while the exported handler takes the event as API Gateway
 * sends it (the parser adds `parsed` on the way in).
 */
export interface HttpChain<B, P, Q, TEvent extends HttpEvent>
  extends Omit<MiddyfiedHandler<ParsedEvent<B, P, Q, TEvent>, ApiResult, Error, Context>, 'use' | 'handler'> {
  use(middleware: MiddlewareObj<ParsedEvent<B, P, Q, TEvent>, ApiResult>): HttpChain<B, P, Q, TEvent>;
  handler(
    handler: (event: ParsedEvent<B, P, Q, TEvent>, context: Context) => Promise<ApiResult>,
  ): MiddyfiedHandler<TEvent | APIGatewayProxyEvent, ApiResult, Error, Context>;
}

/**
 * The HTTP edge every API handler is exported through: `lambdaChain` (log scope, metrics), the correlation id
 * (logged, echoed as `x-correlation-id`), the one error mapper, a REST API (payload 1.0) event turned into the 2.0
 * shape (`api-event.ts`), the client's rate limit when asked for (`rate-limit.ts`), and the request parser (path,
 * query, body with zod).
 * The handler then reads as parse → domain call → answer and throws `ApiError`s for the answers that are not 2xx.
 */
export function httpChain<B = undefined, P = undefined, Q = undefined, TEvent extends HttpEvent = ApiEvent>(
  options: HttpChainOptions<B, P, Q, TEvent> = {},
): HttpChain<B, P, Q, TEvent> {
  const errors = options.errors ?? API_ERRORS;
  let chain = lambdaChain<HttpEvent, ApiResult>().use(correlation(correlationIdOf, { echo: true }));
  if (options.accessLog) chain = chain.use(accessLog(options.accessLog as AccessLog<HttpEvent>));
  chain = chain.use(errorMapper(errors)).use(restEventNormalizer());
  if (options.rateLimit) chain = chain.use(clientRateLimit(options.rateLimit) as MiddlewareObj<HttpEvent>);
  chain = chain.use(requestParser(options, errors));
  return chain as unknown as HttpChain<B, P, Q, TEvent>;
}
