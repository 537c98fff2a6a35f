import { randomUUID } from 'node:crypto';
import { DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { conditionHeld, getItem, parseItem, queryItems, type TableDeps } from '../dynamodb.ts';
import type { OrderEventType } from '../events.ts';
import { clientPartition, keys } from '../keys.ts';
import * as z from '../zod.ts';
import { WEBHOOK_EVENT_TYPES, type WebhookRegistration } from './registration.ts';
import { generateSecret } from './signing.ts';

/** Enough for a partner's environments; a client with more is doing something worth a conversation. */
export const MAX_WEBHOOKS_PER_CLIENT = 10;

export class WebhookLimitReached extends Error {
  override name = 'WebhookLimitReached';
  constructor() {
    super(`a client can register at most ${MAX_WEBHOOKS_PER_CLIENT} webhook endpoints`);
  }
}

export class WebhookNotFound extends Error {
  override name = 'WebhookNotFound';
  constructor(readonly webhookId: string) {
    super(`webhook ${webhookId} not found`);
  }
}

export const WEBHOOK_STATUSES = ['ENABLED', 'DISABLED'] as const;

const webhookItemSchema = z.object({
  webhookId: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
  status: z.enum(WEBHOOK_STATUSES),
  createdAt: z.string(),
  /** Why deliveries stopped (`http_410`, `failing_since:<ISO time>`), while DISABLED. */
  disabledReason: z.string().optional(),
  disabledAt: z.string().optional(),
});

export type WebhookView = z.infer<typeof webhookItemSchema>;

/** The whole endpoint item, secrets included: for the dispatcher and the secret rotation, never for a response. */
export const endpointRecordSchema = webhookItemSchema.extend({
  clientId: z.string(),
  /** Newest first. The first signs until the next rotation; the others only until `previousSecretExpiresAt`. */
  secrets: z.array(z.string()).min(1),
  previousSecretExpiresAt: z.string().optional(),
  /** Set by the first failed attempt after a success; an endpoint failing for 5 days is disabled. */
  failingSince: z.string().optional(),
  /** Failed attempts since the last success, across the endpoint's deliveries. */
  consecutiveFailures: z.number().int().optional(),
  /** Set by the first slow answer after a fast one (circuit.ts); slow answers never disable an endpoint. */
  slowSince: z.string().optional(),
  /** Slow answers in a row, across the endpoint's deliveries. */
  slowAnswers: z.number().int().optional(),
  /** While in the future, nothing is sent to the endpoint (circuit.ts). */
  circuitOpenUntil: z.string().optional(),
});
export type EndpointRecord = z.infer<typeof endpointRecordSchema>;

export interface CreatedWebhook {
  id: string;
  url: string;
  events: WebhookRegistration['events'];
  secret: string;
  status: 'ENABLED';
  createdAt: string;
}

export async function createWebhook(
  deps: TableDeps,
  clientId: string,
  registration: WebhookRegistration,
  now = new Date(),
): Promise<CreatedWebhook> {
  // Counted before the write, so two concurrent registrations can pass the limit by one: acceptable for a quota.
  const existing = await deps.doc.send(
    new QueryCommand({
      TableName: deps.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': clientPartition(clientId), ':prefix': 'WEBHOOK#' },
      Select: 'COUNT',
      ConsistentRead: true,
    }),
  );
  if ((existing.Count ?? 0) >= MAX_WEBHOOKS_PER_CLIENT) throw new WebhookLimitReached();

  const webhookId = randomUUID();
  const secret = generateSecret();
  const createdAt = now.toISOString();
  await deps.doc.send(
    new PutCommand({
      TableName: deps.tableName,
      Item: {
        ...keys.webhook(clientId, webhookId),
        entity: 'Webhook',
        webhookId,
        clientId,
        url: registration.url,
        events: registration.events,
        // Newest first; a list so a rotation can keep signing with the old secret for a while.
        secrets: [secret],
        status: 'ENABLED',
        createdAt,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  return {
    id: webhookId,
    url: registration.url,
    events: registration.events,
    secret,
    status: 'ENABLED',
    createdAt,
  };
}

/** The client's endpoints, without secrets. */
export async function listWebhooks(deps: TableDeps, clientId: string): Promise<WebhookView[]> {
  const items = await queryItems(deps, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': clientPartition(clientId), ':prefix': 'WEBHOOK#' },
    ProjectionExpression: 'webhookId, #url, events, #status, createdAt, disabledReason, disabledAt',
    ExpressionAttributeNames: { '#url': 'url', '#status': 'status' },
  });
  const webhooks = items.map((item) =>
    parseItem(webhookItemSchema, item, `webhook ${String(item.webhookId)}`),
  );
  return webhooks.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function deleteWebhook(deps: TableDeps, clientId: string, webhookId: string): Promise<void> {
  const found = await conditionHeld(
    deps.doc.send(
      new DeleteCommand({
        TableName: deps.tableName,
        Key: keys.webhook(clientId, webhookId),
        ConditionExpression: 'attribute_exists(pk)',
      }),
    ),
  );
  if (!found) throw new WebhookNotFound(webhookId);
}

/** The caller's endpoint with its secrets, or undefined: another client's id is simply not in this partition. */
export async function getEndpoint(
  deps: TableDeps,
  clientId: string,
  webhookId: string,
): Promise<EndpointRecord | undefined> {
  return getItem(deps, keys.webhook(clientId, webhookId), endpointRecordSchema, `webhook ${webhookId}`);
}

/** The client's ENABLED endpoints subscribed to `eventType`: where one event fans out to. */
export async function listSubscribedEndpoints(
  deps: TableDeps,
  clientId: string,
  eventType: OrderEventType,
): Promise<WebhookView[]> {
  const endpoints = await listWebhooks(deps, clientId);
  return endpoints.filter((endpoint) => endpoint.status === 'ENABLED' && endpoint.events.includes(eventType));
}
