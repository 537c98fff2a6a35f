/**
 * The operator API: each route of contracts/operator-api.ts is one query or action of the operator CLI (ops/cli),
 * called with the context the CLI builds, so the console shows what `buzzer` prints and its buttons do what `buzzer`
 * does. One table, two servers: `npm start`'s console server (console/server/server.ts, under `/api`, no sign-in,
 * 127.0.0.1 only) and the stack's operator API Lambda (functions/operations/operator-api.ts, behind Cognito).
 */
import { OPERATOR_ROUTES, type OperatorRouteName } from '#contracts/operator-api.ts';
import { PARTNER_NAME } from '#contracts/settlement.ts';
import { isBusinessDate } from '#functions/settlement/business-date.ts';
import { listSettlementRuns, redriveSettlement, runSettlement } from '#ops/cli/batch.ts';
import { OperatorError, type OpsContext } from '#ops/cli/context.ts';
import { peekDlq, redriveDlq } from '#ops/cli/dlq.ts';
import { type RelatedItemsFinder, storyOfOrder } from '#ops/cli/order.ts';
import { listOrders } from '#ops/cli/orders.ts';
import { replayRelay } from '#ops/cli/relay.ts';
import { redriveExecution } from '#ops/cli/saga.ts';
import { dlqStatuses, sagaExecutions, unpublishedOutbox } from '#ops/cli/status.ts';
import { replayWebhook, webhookEndpoints } from '#ops/cli/webhooks.ts';
import * as z from '#shared/zod.ts';

export interface OperatorApiOptions {
  /** The clients the console offers in its pickers (locally: those `npm start` issued keys for). */
  clients: string[];
  /** How far back failed saga executions are listed. @default 24 hours */
  sagaWindowMs?: number;
  /**
   * How an order's story finds the items that name the order elsewhere (outbox items, failures, webhook deliveries):
   * a table scan (ops/cli/order.ts `scanForOrder`), `always` (the local runtime's small table) or `on-request`
   * (`?scan=1`). Passed in rather than imported, so the operator API's function, whose role may not Scan the table,
   * has no scan in its bundle. @default none: stories without those items
   */
  orderScan?: { when: 'always' | 'on-request'; find: RelatedItemsFinder };
  /**
   * How long a DLQ redrive waits for its move task to finish before it answers with the task still RUNNING (the
   * console polls the DLQ's depth anyway). Behind API Gateway it must end before the 30 s integration timeout.
   * @default 5 minutes
   */
  redriveWaitMs?: number;
}

export interface OperatorRequest {
  method: string;
  /** The route's path, without a prefix such as the console server's `/api`. */
  path: string;
  query: URLSearchParams;
  /** The parsed JSON body of a POST (`{}` when empty). */
  body: unknown;
}

export interface OperatorAnswer {
  status: number;
  body: unknown;
}

/** What the caller sent is wrong: answered 400 with this message. */
export class BadRequest extends Error {
  override name = 'BadRequest';
}

/** The body of a POST: JSON (an empty body is `{}`), at most 64 KiB. */
export function parseJsonBody(text: string): unknown {
  if (Buffer.byteLength(text) > 64 * 1024) throw new BadRequest('the body is larger than 64 KiB');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequest('the body is not JSON');
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new BadRequest(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '),
    );
  return parsed.data;
}

const businessDate = z.string().refine(isBusinessDate, 'must be a date YYYY-MM-DD');
const partner = z.string().regex(PARTNER_NAME, 'is not a partner name');
const clientQuery = z.object({ client: z.string().min(1) });
const ordersQuery = z.object({
  client: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
const sagaRedriveBody = z.object({ executionArn: z.string().startsWith('arn:') });
const batchRunsQuery = z.object({
  date: businessDate.optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});
const settlementBody = z.object({
  date: businessDate,
  partner: partner.optional(),
  resend: z.boolean().optional(),
});
const batchRedriveBody = z
  .object({ execution: z.string().min(1).max(256).optional(), date: businessDate.optional() })
  .refine((body) => body.execution !== undefined || body.date !== undefined, 'give execution or date');

interface Call {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
}

/** A route's answer: a 200 with the value, or another status (202 for work started and not awaited). */
type Handler = (call: Call) => Promise<unknown>;
class Accepted {
  constructor(readonly body: unknown) {}
}
const accepted = (body: unknown) => new Accepted(body);

function handlers(ctx: OpsContext, options: OperatorApiOptions): Record<OperatorRouteName, Handler> {
  const sagaWindowMs = options.sagaWindowMs ?? 24 * 3_600_000;
  const scan = options.orderScan;
  return {
    config: async () => ({
      stackName: ctx.target.stackName,
      kind: ctx.target.kind,
      region: ctx.target.region,
      clients: options.clients,
    }),
    listOrders: async ({ query }) => {
      const { client, limit } = parse(ordersQuery, Object.fromEntries(query));
      return listOrders(ctx, { clientId: client, limit });
    },
    // The outbox items, failures and webhook deliveries of an order are found by a table scan: cheap on the local
    // runtime's small table, not on a deployed one polled every 2 s.
    orderStory: async ({ params, query }) =>
      storyOfOrder(
        ctx,
        params.orderId ?? '',
        scan && (scan.when === 'always' || query.get('scan') === '1') ? scan.find : undefined,
      ),
    listDlqs: async () => ({ dlqs: await dlqStatuses(ctx) }),
    peekDlq: async ({ params }) => peekDlq(ctx, params.alias ?? '', { max: 10 }),
    redriveDlq: async ({ params }) =>
      redriveDlq(ctx, params.alias ?? '', { timeoutMs: options.redriveWaitMs ?? 300_000 }),
    listSagas: async () => {
      const now = Date.now();
      return sagaExecutions(ctx, {
        since: new Date(now - sagaWindowMs),
        runningBefore: new Date(now - 5 * 60_000),
        limit: 50,
      });
    },
    redriveSaga: async ({ body }) => redriveExecution(ctx, parse(sagaRedriveBody, body).executionArn),
    unpublishedOutbox: async () => unpublishedOutbox(ctx, { limit: 50 }),
    replayOutbox: async () => replayRelay(ctx),
    listWebhooks: async ({ query }) =>
      webhookEndpoints(ctx, parse(clientQuery, Object.fromEntries(query)).client),
    replayWebhook: async ({ params }) => replayWebhook(ctx, params.client ?? '', params.webhookId ?? ''),
    listBatchRuns: async ({ query }) => {
      const { date, limit } = parse(batchRunsQuery, Object.fromEntries(query));
      return { runs: await listSettlementRuns(ctx, { ...(date ? { date } : {}), limit }) };
    },
    // Started, not awaited: an export outlasts an HTTP request (API Gateway gives up after 30 s); the console follows
    // it in the list of runs.
    runSettlement: async ({ body }) => {
      const { date, partner: name, resend } = parse(settlementBody, body);
      return accepted(
        await runSettlement(ctx, {
          date,
          ...(name ? { partner: name } : {}),
          ...(resend ? { resend: true } : {}),
          noWait: true,
        }),
      );
    },
    redriveBatchRun: async ({ body }) => {
      const { execution, date } = parse(batchRedriveBody, body);
      return accepted(
        await redriveSettlement(
          ctx,
          { ...(execution ? { execution } : {}), ...(date ? { date } : {}) },
          { noWait: true },
        ),
      );
    },
  };
}

/** `/dlqs/{alias}/redrive` → a pattern whose named groups are the path's parameters. */
function patternOf(path: string): RegExp {
  const source = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, '(?<$1>[^/]+)');
  return new RegExp(`^${source}$`);
}

const TABLE = OPERATOR_ROUTES.map((route) => ({ ...route, pattern: patternOf(route.path) }));

/** Answers one operator request: routing, input validation, and errors as status codes. */
export function operatorApi(ctx: OpsContext, options: OperatorApiOptions) {
  const handle = handlers(ctx, options);
  return async (request: OperatorRequest): Promise<OperatorAnswer> => {
    const matching = TABLE.filter((route) => route.pattern.test(request.path));
    if (matching.length === 0) return { status: 404, body: { error: `no operator route ${request.path}` } };
    const route = matching.find((r) => r.method === request.method);
    if (!route)
      return { status: 405, body: { error: `${request.method} is not allowed on ${request.path}` } };
    try {
      const groups = route.pattern.exec(request.path)?.groups ?? {};
      const params = Object.fromEntries(
        Object.entries(groups).map(([name, value]) => [name, decodeURIComponent(value)]),
      );
      const result = await handle[route.name]({ params, query: request.query, body: request.body });
      if (result instanceof Accepted) return { status: 202, body: result.body };
      return { status: 200, body: result };
    } catch (error) {
      return errorAnswer(error);
    }
  };
}

/** What the operator typed or picked was wrong (an unknown queue, a bad id): the CLI's message, as a 400. */
export function errorAnswer(error: unknown): OperatorAnswer {
  if (error instanceof BadRequest || error instanceof OperatorError)
    return { status: 400, body: { error: error.message } };
  if (error instanceof URIError) return { status: 400, body: { error: 'the path is not valid' } };
  return {
    status: 500,
    body: { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) },
  };
}
