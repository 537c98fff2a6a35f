import { createHash } from 'node:crypto';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { type ClientLimits, clientLimitsProblem } from '#contracts/api.ts';
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
export type { ClientLimits };

export class InvalidClientLimits extends Error {
  override name = 'InvalidClientLimits';
}

const limitsItemSchema = z.object({
  clientId: z.string(),
  rateLimit: z.number().positive(),
  burstLimit: z.number().int().min(1),
  updatedAt: z.string(),
});

/** Checks limits given by an operator; the message names the options. */
export function checkLimits(
  limits: ClientLimits,
  names = { rate: '--rate', burst: '--burst' },
): ClientLimits {
  const problem = clientLimitsProblem(limits, names);
  if (problem) throw new InvalidClientLimits(problem);
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
