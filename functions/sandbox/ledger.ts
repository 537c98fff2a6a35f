/**
 * Effect counts for tests and chaos checks: after N orders with retries, duplicates and faults, the ledger must show
 * exactly the charges, refunds and mails the business asked for, however many attempts reached the provider.
 * Counted from the records themselves (not a counter kept beside them), so the count cannot drift from them.
 */
import type { SandboxContext } from './context.ts';
import type { Reply } from './routes.ts';
import type { CallsQuery } from './schemas.ts';

export async function getLedger(ctx: SandboxContext): Promise<Reply> {
  const counts = await ctx.table.countByEntity();
  return {
    statusCode: 200,
    body: {
      charges: counts.get('Charge') ?? 0,
      refunds: counts.get('Refund') ?? 0,
      mails: counts.get('Mail') ?? 0,
    },
  };
}

/**
 * `GET /v1/calls?since=&kind=`: every request that reached the sandbox since a moment (charges, look-ups, refunds,
 * mails), whatever became of it, oldest first: how a test sees how often a provider behind a circuit was tried.
 */
export async function listCalls(ctx: SandboxContext, query: CallsQuery): Promise<Reply> {
  const calls = await ctx.table.callsSince(new Date(query.since));
  return {
    statusCode: 200,
    body: { calls: query.kind ? calls.filter((call) => call.kind === query.kind) : calls },
  };
}
