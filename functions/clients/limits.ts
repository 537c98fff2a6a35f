import { createHash } from 'node:crypto';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { parseItem, type TableDeps } from '#shared/dynamodb.ts';
import { keys } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';
import { CLIENT_ID_PATTERN, InvalidClientId } from './api-keys.ts';

/**
 * A client's request limits: a token bucket of `burstLimit` requests refilled at `rateLimit` a second. The stack's
 * defaults (`clientRateLimit`, `clientBurstLimit`) apply to every client without its own item
 * (`LIMITS#<clientId>` / `LIMITS`, written by `buzzer clients limits`). The authorizer reads the item after the key
 * and hands the limits to the route in its context, so the rate limiter reads nothing; a change therefore reaches a
 * client within the authorizer cache TTL (60 s), like a revocation.
 */
export interface ClientLimits {
  rateLimit: number;
  burstLimit: number;
}

/** The largest limits a client may be given: API Gateway's own account default (10 000/s, burst 5 000) is above. */
export const MAX_CLIENT_RATE_LIMIT = 10_000;
export const MIN_CLIENT_RATE_LIMIT = 0.01;
export const MAX_CLIENT_BURST_LIMIT = 5_000;

export class InvalidClientLimits extends Error {
  override name = 'InvalidClientLimits';
}

const limitsItemSchema = z.object({
  clientId: z.string(),
  rateLimit: z.number().positive(),
  burstLimit: z.number().int().min(1),
  updatedAt: z.string(),
});

/** Checks limits given by an operator or a stack setting; the message names the setting. */
export function checkLimits(limits: ClientLimits, names = { rate: 'rate', burst: 'burst' }): ClientLimits {
  const { rateLimit, burstLimit } = limits;
  // Fractions allowed (0.5 is one request every 2 s), as in an API Gateway usage plan; to 1/100 of a request a second.
  if (
    !Number.isFinite(rateLimit) ||
    rateLimit < MIN_CLIENT_RATE_LIMIT ||
    rateLimit > MAX_CLIENT_RATE_LIMIT ||
    Math.round(rateLimit * 100) !== rateLimit * 100
  ) {
    throw new InvalidClientLimits(
      `${names.rate} must be requests a second from ${MIN_CLIENT_RATE_LIMIT} to ${MAX_CLIENT_RATE_LIMIT} ` +
        `(at most 2 decimals), got ${rateLimit}`,
    );
  }
  if (!Number.isInteger(burstLimit) || burstLimit < 1 || burstLimit > MAX_CLIENT_BURST_LIMIT) {
    throw new InvalidClientLimits(
      `${names.burst} must be a whole number of requests from 1 to ${MAX_CLIENT_BURST_LIMIT}, got ${burstLimit}`,
    );
  }
  return limits;
}

/** The client's own limits, or undefined when the stack's defaults apply to it. */
export async function findClientLimits(
  doc: DynamoDBDocumentClient,
  tableName: string,
  clientId: string,
): Promise<ClientLimits | undefined> {
  // Eventually consistent is enough: a change reaches the client within the authorizer's cache TTL anyway.
  const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: keys.clientLimits(clientId) }));
  if (!Item) return undefined;
  const item = parseItem(limitsItemSchema, Item, `limits of client ${clientId}`);
  return { rateLimit: item.rateLimit, burstLimit: item.burstLimit };
}

export async function setClientLimits(
  deps: TableDeps,
  clientId: string,
  limits: ClientLimits,
  now = new Date(),
): Promise<ClientLimits & { clientId: string; updatedAt: string }> {
  if (!CLIENT_ID_PATTERN.test(clientId)) throw new InvalidClientId(clientId);
  checkLimits(limits);
  const item = { clientId, ...limits, updatedAt: now.toISOString() };
  await deps.doc.send(
    new PutCommand({
      TableName: deps.tableName,
      Item: { ...keys.clientLimits(clientId), entity: 'ClientLimits', ...item },
    }),
  );
  return item;
}

/** Back to the stack's defaults. */
export async function clearClientLimits(deps: TableDeps, clientId: string): Promise<void> {
  if (!CLIENT_ID_PATTERN.test(clientId)) throw new InvalidClientId(clientId);
  await deps.doc.send(new DeleteCommand({ TableName: deps.tableName, Key: keys.clientLimits(clientId) }));
}

/**
 * The client's usage identifier in the REST flavour: the value of its API Gateway API key, which the authorizer
 * returns as `usageIdentifierKey` so API Gateway applies the client's usage plan (throttle and quota). It is derived
 * from the client id, so the authorizer and the CLI agree on it without storing it; it is not a credential (the
 * authorizer decides who may call, on the client's own secret key), only a name for the plan's meter. API Gateway
 * wants at least 20 characters: `bzu` + 40 hex.
 */
export function usageIdentifierOf(clientId: string): string {
  return `bzu${createHash('sha256').update(`buzzer-usage:${clientId}`, 'utf8').digest('hex').slice(0, 40)}`;
}
