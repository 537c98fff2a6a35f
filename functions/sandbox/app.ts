/**
 * Request in, reply out, for any context: the Lambda handler gives it the real table, clock and sleep; tests give it
 * fakes. Provider errors become their documented answers; anything unexpected is logged and answered as a JSON 500.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { SandboxContext } from './context.ts';
import { type Reply, toRequest, toResult } from './http.ts';
import { SandboxError } from './provider-errors.ts';
import { route } from './routes.ts';

export type ProviderHandler = (
  event: APIGatewayProxyEventV2,
  context?: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export function createProvider(ctx: SandboxContext): ProviderHandler {
  return async (event, lambdaContext) => {
    if (lambdaContext) ctx.logger.addContext(lambdaContext);
    const started = Date.now();
    const request = toRequest(event);
    let reply: Reply;
    try {
      reply = await route(ctx, request);
    } catch (error) {
      reply = errorReply(ctx, error);
    }
    ctx.logger.info('sandbox request', {
      method: request.method,
      path: request.path,
      idempotencyKey: request.headers['idempotency-key'],
      statusCode: reply.statusCode,
      durationMs: Date.now() - started,
    });
    return toResult(reply);
  };
}

function errorReply(ctx: SandboxContext, error: unknown): Reply {
  if (error instanceof SandboxError) {
    return { statusCode: error.statusCode, body: error.toBody(), headers: error.headers };
  }
  ctx.logger.error('unexpected sandbox failure', error instanceof Error ? error : String(error));
  return {
    statusCode: 500,
    body: { error: { type: 'api_error', code: 'internal_error', message: 'Unexpected sandbox failure' } },
  };
}
