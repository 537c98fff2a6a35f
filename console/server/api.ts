/**
 * The console's JSON API: each route is one query or action of the operator CLI (ops/cli), called with the same
 * context the CLI builds, so the console shows what `buzzer` prints and its buttons do what `buzzer` does.
 */
import type { IncomingMessage } from 'node:http';
import { OperatorError, type OpsContext } from '#ops/cli/context.ts';
import { peekDlq, redriveDlq } from '#ops/cli/dlq.ts';
import { orderStory } from '#ops/cli/order.ts';
import { listOrders } from '#ops/cli/orders.ts';
import { replayRelay } from '#ops/cli/relay.ts';
import { redriveExecution } from '#ops/cli/saga.ts';
import { dlqStatuses, sagaExecutions, unpublishedOutbox } from '#ops/cli/status.ts';
import { replayWebhook, webhookEndpoints } from '#ops/cli/webhooks.ts';
import * as z from '#shared/zod.ts';

export interface ConsoleApiOptions {
  /** The clients the console offers in its pickers (locally: those `npm start` issued keys for). */
  clients: string[];
  /** How far back failed saga executions are listed. @default 24 hours */
  sagaWindowMs?: number;
}

export interface ApiAnswer {
  status: number;
  body: unknown;
}

const clientSchema = z.object({ client: z.string().min(1) });
const ordersQuery = z.object({
  client: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
const sagaRedriveBody = z.object({ executionArn: z.string().startsWith('arn:') });

type Route = (params: string[], query: URLSearchParams, body: unknown) => Promise<unknown>;

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new BadRequest(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '),
    );
  return parsed.data;
}

class BadRequest extends Error {
  override name = 'BadRequest';
}

/** The routes, by method and a path pattern whose groups become `params`. */
function routes(ctx: OpsContext, options: ConsoleApiOptions): Array<[string, RegExp, Route]> {
  const sagaWindowMs = options.sagaWindowMs ?? 24 * 3_600_000;
  return [
    [
      'GET',
      /^\/api\/config$/,
      async () => ({
        stackName: ctx.target.stackName,
        kind: ctx.target.kind,
        region: ctx.target.region,
        clients: options.clients,
      }),
    ],
    [
      'GET',
      /^\/api\/orders$/,
      async (_, query) => {
        const { client, limit } = parse(ordersQuery, Object.fromEntries(query));
        return listOrders(ctx, { clientId: client, limit });
      },
    ],
    [
      'GET',
      /^\/api\/orders\/([^/]+)$/,
      // The outbox items, failures and webhook deliveries of an order are found by a table scan: cheap on the local
      // runtime's small table, not on a deployed one polled every 2 s (`?scan=1` asks for it there).
      async ([id], query) =>
        orderStory(ctx, id ?? '', { scan: ctx.target.kind === 'local' || query.get('scan') === '1' }),
    ],
    ['GET', /^\/api\/dlqs$/, async () => ({ dlqs: await dlqStatuses(ctx) })],
    ['GET', /^\/api\/dlqs\/([^/]+)$/, async ([alias]) => peekDlq(ctx, alias ?? '', { max: 10 })],
    ['POST', /^\/api\/dlqs\/([^/]+)\/redrive$/, async ([alias]) => redriveDlq(ctx, alias ?? '')],
    [
      'GET',
      /^\/api\/sagas$/,
      async () => {
        const now = Date.now();
        return sagaExecutions(ctx, {
          since: new Date(now - sagaWindowMs),
          runningBefore: new Date(now - 5 * 60_000),
          limit: 50,
        });
      },
    ],
    [
      'POST',
      /^\/api\/sagas\/redrive$/,
      async (_, __, body) => redriveExecution(ctx, parse(sagaRedriveBody, body).executionArn),
    ],
    ['GET', /^\/api\/outbox$/, async () => unpublishedOutbox(ctx, { pendingBefore: new Date(), limit: 50 })],
    ['POST', /^\/api\/outbox\/replay$/, async () => replayRelay(ctx)],
    [
      'GET',
      /^\/api\/webhooks$/,
      async (_, query) => webhookEndpoints(ctx, parse(clientSchema, Object.fromEntries(query)).client),
    ],
    [
      'POST',
      /^\/api\/webhooks\/([^/]+)\/([^/]+)\/replay$/,
      async ([client, webhookId]) => replayWebhook(ctx, client ?? '', webhookId ?? ''),
    ],
  ];
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) throw new BadRequest('the body is larger than 64 KiB');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequest('the body is not JSON');
  }
}

/** Answers one `/api/…` request; the caller has checked where it comes from (server.ts). */
export function consoleApi(ctx: OpsContext, options: ConsoleApiOptions) {
  const table = routes(ctx, options);
  return async (request: IncomingMessage, url: URL): Promise<ApiAnswer> => {
    const path = url.pathname;
    const matching = table.filter(([, pattern]) => pattern.test(path));
    if (matching.length === 0) return { status: 404, body: { error: `no console route ${path}` } };
    const route = matching.find(([method]) => method === request.method);
    if (!route) return { status: 405, body: { error: `${request.method} is not allowed on ${path}` } };
    const [, pattern, handle] = route;
    try {
      const params = (pattern.exec(path) ?? []).slice(1).map((p) => decodeURIComponent(p));
      const body = request.method === 'POST' ? await readJson(request) : undefined;
      return { status: 200, body: await handle(params, url.searchParams, body) };
    } catch (error) {
      // What the operator typed or picked was wrong (an unknown queue, a bad id): the CLI's message, as a 400.
      if (error instanceof BadRequest || error instanceof OperatorError)
        return { status: 400, body: { error: error.message } };
      if (error instanceof URIError) return { status: 400, body: { error: 'the path is not valid' } };
      return {
        status: 500,
        body: { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) },
      };
    }
  };
}
