/**
 * The console's JSON API under `/api`: the operator API's route table (ops/api/routes.ts), the same one the stack's
 * operator API Lambda serves, here in-process with the operator CLI's context and without sign-in (server.ts
 * listens on 127.0.0.1 only and refuses other origins).
 */
import type { IncomingMessage } from 'node:http';
import {
  BadRequest,
  errorAnswer,
  type OperatorAnswer,
  type OperatorApiOptions,
  operatorApi,
  parseJsonBody,
} from '#ops/api/routes.ts';
import type { OpsContext } from '#ops/cli/context.ts';
import { scanForOrder } from '#ops/cli/order.ts';

export type ConsoleApiOptions = OperatorApiOptions;
export type ApiAnswer = OperatorAnswer;

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) throw new BadRequest('the body is larger than 64 KiB');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Answers one `/api/…` request; the caller has checked where it comes from (server.ts). */
export function consoleApi(ctx: OpsContext, options: ConsoleApiOptions) {
  const api = operatorApi(ctx, {
    ...options,
    orderScan: options.orderScan ?? {
      when: ctx.target.kind === 'local' ? 'always' : 'on-request',
      find: scanForOrder,
    },
  });
  return async (request: IncomingMessage, url: URL): Promise<ApiAnswer> => {
    try {
      const body = request.method === 'POST' ? parseJsonBody(await readBody(request)) : undefined;
      return await api({
        method: request.method ?? 'GET',
        path: url.pathname.replace(/^\/api(?=\/)/, ''),
        query: url.searchParams,
        body,
      });
    } catch (error) {
      return errorAnswer(error);
    }
  };
}
