import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { OrderEventType } from '#functions/orders/events.ts';
import {
  cancellationReasons,
  conditionHeld,
  getItem,
  hasReason,
  parseItem,
  queryItems,
  reasonCode,
  type TableDeps,
} from '#shared/dynamodb.ts';
import { ConcurrentModification } from '#shared/errors.ts';
import { clientPartition, keys } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';
import { WEBHOOK_EVENT_TYPES, type WebhookRegistration } from './registration.ts';
import { type CreatedWebhookBody, WEBHOOK_STATUSES } from './route-schemas.ts';
import { type SecretBox, sealedSecretSchema } from './secret-box.ts';
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

export { WEBHOOK_STATUSES };

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
export const endpointRecordSchema = webhookItemSchema
  .extend({
    clientId: z.string(),
    /**
     * Newest first, each sealed (secret-box.ts). The first signs until the next rotation; the others only until
     * `previousSecretExpiresAt`.
     */
    sealedSecrets: z.array(sealedSecretSchema).min(1).optional(),
    /**
     * Plaintext secrets of an endpoint registered before secrets were sealed, newest first. Read once more and sealed
     * by the first delivery or rotation that finds them (migrateLegacySecrets), which removes this attribute.
     */
    secrets: z.array(z.string()).min(1).optional(),
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
  })
  .refine((record) => record.sealedSecrets !== undefined || record.secrets !== undefined, {
    error: 'an endpoint needs a signing secret',
    path: ['sealedSecrets'],
  });
export type EndpointRecord = z.infer<typeof endpointRecordSchema>;

export type CreatedWebhook = CreatedWebhookBody;

export interface EndpointDeps extends TableDeps {
  secretBox: SecretBox;
}

/** Transactions on one client's quota item conflict when registrations race; each retry waits a little longer. */
const QUOTA_ATTEMPTS = 6;

/**
 * Registers an endpoint with a new secret, sealed before it is stored. The per-client quota is a counter item in the
 * client's partition, raised in the same transaction as the endpoint is written and only while below the limit, so
 * concurrent registrations can never pass it (a read-count-then-write could).
 */
export async function createWebhook(
  deps: EndpointDeps,
  clientId: string,
  registration: WebhookRegistration,
  now = new Date(),
): Promise<CreatedWebhook> {
  const webhookId = randomUUID();
  const secret = generateSecret();
  const sealed = await deps.secretBox.seal(secret, { clientId, webhookId });
  const createdAt = now.toISOString();
  const item = {
    ...keys.webhook(clientId, webhookId),
    entity: 'Webhook',
    webhookId,
    clientId,
    url: registration.url,
    events: registration.events,
    // Newest first; a list so a rotation can keep signing with the old secret for a while.
    sealedSecrets: [sealed],
    status: 'ENABLED',
    createdAt,
  };

  for (let attempt = 0; ; attempt++) {
    try {
      await deps.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: deps.tableName,
                Key: keys.webhookQuota(clientId),
                UpdateExpression: 'SET webhookCount = webhookCount + :one',
                ConditionExpression: 'webhookCount < :max',
                ExpressionAttributeValues: { ':one': 1, ':max': MAX_WEBHOOKS_PER_CLIENT },
                // Tells "no quota item yet" (a client from before the counter) from "at the limit".
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            {
              Put: { TableName: deps.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' },
            },
          ],
        }),
      );
      break;
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (!reasons) throw error;
      if (reasonCode(reasons, 0) === 'ConditionalCheckFailed') {
        if (reasons[0]?.Item !== undefined) throw new WebhookLimitReached();
        await createQuota(deps, clientId);
      } else if (!hasReason(reasons, 'TransactionConflict')) {
        throw error;
      }
      if (attempt + 1 >= QUOTA_ATTEMPTS) {
        throw new ConcurrentModification(`client ${clientId}: too many concurrent webhook registrations`);
      }
      await sleep(Math.round(Math.random() * 20 * 2 ** attempt));
    }
  }
  return {
    id: webhookId,
    url: registration.url,
    events: registration.events,
    secret,
    status: 'ENABLED',
    createdAt,
  };
}

/**
 * The quota item of a client that has none yet, counting the endpoints it already has (registered before the
 * counter existed). Two first registrations may race here: one creation wins and both then go through the
 * conditional transaction.
 */
async function createQuota(deps: TableDeps, clientId: string): Promise<void> {
  const existing = await queryItems(deps, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': clientPartition(clientId), ':prefix': 'WEBHOOK#' },
    ProjectionExpression: 'sk',
    ConsistentRead: true,
  });
  await conditionHeld(
    deps.doc.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: {
          ...keys.webhookQuota(clientId),
          entity: 'WebhookQuota',
          clientId,
          webhookCount: existing.length,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    ),
  );
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
  const remove = {
    TableName: deps.tableName,
    Key: keys.webhook(clientId, webhookId),
    ConditionExpression: 'attribute_exists(pk)',
  };
  for (let attempt = 0; ; attempt++) {
    try {
      // The quota goes down with the endpoint, in one transaction, so a failure cannot leave either half done.
      await deps.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Delete: remove },
            {
              Update: {
                TableName: deps.tableName,
                Key: keys.webhookQuota(clientId),
                UpdateExpression: 'SET webhookCount = webhookCount - :one',
                ConditionExpression: 'webhookCount > :zero',
                ExpressionAttributeValues: { ':one': 1, ':zero': 0 },
              },
            },
          ],
        }),
      );
      return;
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (!reasons) throw error;
      if (reasonCode(reasons, 0) === 'ConditionalCheckFailed') throw new WebhookNotFound(webhookId);
      if (reasonCode(reasons, 1) === 'ConditionalCheckFailed') {
        // No quota item yet (the client registered before the counter): the first registration counts what is left.
        if (!(await conditionHeld(deps.doc.send(new DeleteCommand(remove)))))
          throw new WebhookNotFound(webhookId);
        return;
      }
      if (!hasReason(reasons, 'TransactionConflict') || attempt + 1 >= QUOTA_ATTEMPTS) throw error;
      await sleep(Math.round(Math.random() * 20 * 2 ** attempt));
    }
  }
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
