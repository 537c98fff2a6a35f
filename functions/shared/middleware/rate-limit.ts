import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { MiddlewareObj } from '@middy/core';
import { isConditionalCheckFailed, type TableDeps } from '#shared/dynamodb.ts';
import { ApiError, type ApiEvent } from '#shared/http.ts';
import { logger } from '#shared/logger.ts';
import { keys } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';

/**
 * Per-client request limits on the client API, the same on every flavour and target: a token bucket per client
 * (`rateLimit` tokens a second, at most `burstLimit` at once), kept in the table so every instance of every route
 * function draws from the same bucket. The limits come from the authorizer's context (the stack's defaults or the
 * client's own, `functions/clients/limits.ts`), so the limiter reads no item.
 *
 * The bucket is GCRA (the generic cell rate algorithm): one number per client, the theoretical arrival time `tat`
 * (epoch ms) at which the bucket would be full again. A request at `now` is let through when `tat - now <= tolerance`
 * ((burst - 1) intervals) and moves `tat` one interval (1000 / rate ms) on from `max(tat, now)`. DynamoDB's update
 * expressions have no `max`, so it takes one conditional UpdateItem per branch:
 * 1. the bucket is full (no item, or `tat <= now`): `SET tat = now + interval`;
 * 2. else, knowing `tat` from the failed condition (ReturnValuesOnConditionCheckFailure, no read): refuse when it is
 *    over the tolerance, or `SET tat = tat + interval` on the condition that it still is not.
 * A client below its rate pays one write a request (branch 1); a client in a burst pays two, and a refused request
 * one or two (a failed condition is billed as a write). Concurrent requests cannot overdraw: each increment is
 * conditional on the tolerance, so a race is only ever decided against the late request.
 */

/** What the limiter reads from the authorizer's context; REST API authorizer contexts arrive as strings. */
const contextSchema = z.object({
  clientId: z.string().min(1),
  rateLimit: z.coerce.number().positive(),
  burstLimit: z.coerce.number().int().min(1),
});

export interface RateLimitOptions extends TableDeps {
  /** @default Date.now */
  now?: () => number;
}

export type BucketDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/** 429 in the client API's error format; `Retry-After` is when the bucket holds a token again, in whole seconds. */
export class RateLimited extends ApiError {
  override name = 'RateLimited';
  constructor(
    readonly retryAfterSeconds: number,
    limits: { rateLimit: number; burstLimit: number },
  ) {
    super(
      429,
      'rate_limited',
      `too many requests: this client may send ${limits.rateLimit} a second on average, at most ` +
        `${limits.burstLimit} at once; retry after ${retryAfterSeconds} s`,
      undefined,
      { 'retry-after': String(retryAfterSeconds) },
    );
  }
}

/** The TAT a failed condition returned with `ReturnValuesOnConditionCheckFailure: ALL_OLD` (marshalled by the SDK). */
function tatOf(error: unknown): number | undefined {
  const item = (error as { Item?: Record<string, unknown> }).Item;
  const tat = item?.tat;
  if (typeof tat === 'number') return tat;
  if (tat && typeof tat === 'object' && 'N' in tat) return Number((tat as { N: string }).N);
  return undefined;
}

/**
 * Takes one token from the client's bucket, or says how long until one is there. `clock` is read when each write is
 * sent: a write can wait (a loaded table, the SDK's retries after a throttle) while the client's other requests move
 * the bucket on, and a request judged by the time it started would be refused for its own lateness: over the
 * tolerance behind a bucket that is nowhere near full.
 */
export async function takeToken(
  deps: TableDeps,
  clientId: string,
  limits: { rateLimit: number; burstLimit: number },
  clock: () => number,
): Promise<BucketDecision> {
  const interval = 1000 / limits.rateLimit;
  const tolerance = (limits.burstLimit - 1) * interval;
  const update = (expression: string, condition: string, now: number, values: Record<string, number>) =>
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: keys.rateBucket(clientId),
        UpdateExpression: `${expression}, expiresAt = :expiresAt`,
        ConditionExpression: condition,
        // Deleted by TTL some time after the bucket is full again, when it says nothing any more.
        ExpressionAttributeValues: {
          ...values,
          ':expiresAt': Math.ceil((now + tolerance + interval) / 1000) + 60,
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
  const refusal = (tat: number | undefined, now: number): BucketDecision | undefined =>
    tat !== undefined && tat - now > tolerance
      ? { allowed: false, retryAfterMs: tat - now - tolerance }
      : undefined;

  let tat: number | undefined;
  const start = clock();
  try {
    await update('SET tat = :next', 'attribute_not_exists(tat) OR tat <= :now', start, {
      ':next': start + interval,
      ':now': start,
    });
    return { allowed: true };
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
    tat = tatOf(error);
  }
  const now = clock();
  const refused = refusal(tat, now);
  if (refused) return refused;
  try {
    await update('SET tat = tat + :interval', 'tat <= :limit', now, {
      ':interval': interval,
      ':limit': now + tolerance,
    });
    return { allowed: true };
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
    // Other requests of the client took the last tokens between the two writes.
    return refusal(tatOf(error), clock()) ?? { allowed: false, retryAfterMs: interval };
  }
}

/**
 * The client API's rate limiter, in the HTTP chain after the error mapper (its 429 is an `ApiError`) and before the
 * request parser (a refused request costs no parsing). Without a client or limits in the authorizer's context it lets
 * the request through, logged: the route's own `requireClientId` answers a request without a client, and a context
 * without limits comes from an authorizer older than the limits.
 */
export function clientRateLimit(options: RateLimitOptions): MiddlewareObj<ApiEvent> {
  const now = options.now ?? Date.now;
  return {
    before: async ({ event }) => {
      const parsed = contextSchema.safeParse(event.requestContext?.authorizer?.lambda ?? {});
      if (!parsed.success) {
        logger.warn('no client limits in the authorizer context: request not rate limited');
        return;
      }
      const { clientId, ...limits } = parsed.data;
      const decision = await takeToken(options, clientId, limits, now);
      if (decision.allowed) return;
      const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      logger.info('client rate limited', { clientId, ...limits, retryAfterSeconds });
      throw new RateLimited(retryAfterSeconds, limits);
    },
  };
}
