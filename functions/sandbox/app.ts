/**
 * Request in, reply out, for any context: the Lambda handler gives it the real table, clock and sleep; tests give it
 * fakes. The HTTP edge is the client API's (`httpChain`: correlation id, the one error mapper, body and query
 * parsing), in the provider's error dialect, with one summary log line per request.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { jsonResponse } from '#shared/http.ts';
import { httpChain } from '#shared/middleware/http.ts';
import type { SandboxContext } from './context.ts';
import { SANDBOX_ERRORS } from './provider-errors.ts';
import { route, toRequest } from './routes.ts';

export type ProviderHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export function createProvider(ctx: SandboxContext): ProviderHandler {
  return httpChain<undefined, undefined, undefined, APIGatewayProxyEventV2>({
    errors: SANDBOX_ERRORS,
    accessLog: {
      message: 'sandbox request',
      fields: (event) => {
        const request = toRequest(event);
        return {
          method: request.method,
          path: request.path,
          idempotencyKey: request.headers['idempotency-key'],
        };
      },
    },
  }).handler(async (event) => {
    const reply = await route(ctx, toRequest(event));
    return jsonResponse(reply.statusCode, reply.body, reply.headers);
  });
}
