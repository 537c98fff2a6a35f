/**
 * Delivery records and the attempt log, both in the endpoint's own partition (`WEBHOOK#<webhookId>`):
 *
 * - `DELIVERY#<deliveryId>`: one event for one endpoint. `deliveryId` is the `webhook-id` header, derived from the
 *   event's message id and the endpoint id, so it is the same on every attempt, replay and duplicate event.
 * - `ATTEMPT#<ISO time>#<deliveryId>#<attempt>`: one HTTP attempt, listed newest first by the deliveries route.
 *
 * Exactly one worker runs each attempt. The record holds the attempt number due and a random `token`; only the queue
 * message carrying that token may run it, under a lease (`leaseUntil`) that a crashed worker's retry can take over.
 * Scheduling the next attempt swaps in a new token, so a duplicate or stale message finds nothing to do.
 */
import { randomUUID } from 'node:crypto';
import { PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ORDER_EVENT_TYPES } from '#functions/orders/events.ts';
import {
  conditionHeld,
  epochSeconds,
  getItem,
  isConditionalCheckFailed,
  parseItem,
  queryItems,
  type TableDeps,
} from '#shared/dynamodb.ts';
import { CorruptRecord } from '#shared/errors.ts';
import type { ItemKey } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';
import type { DeliveryMessage } from './messages.ts';
import { type AttemptView, attemptViewSchema } from './route-schemas.ts';

/** Records and attempts are kept this long (DynamoDB TTL); a failed delivery can be replayed until then. */
export const DELIVERY_RETENTION_SECONDS = 30 * 24 * 60 * 60;
/** Longer than the dispatcher's timeout, so a live worker never loses its attempt to a redelivered copy. */
export const ATTEMPT_LEASE_MS = 60_000;

export const DELIVERY_STATUSES = ['PENDING', 'DELIVERED', 'FAILED', 'CANCELLED'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

const endpointPartition = (webhookId: string): string => `WEBHOOK#${webhookId}`;
const ATTEMPT_PREFIX = 'ATTEMPT#';

export const deliveryKeys = {
  delivery: (webhookId: string, deliveryId: string): ItemKey => ({
    pk: endpointPartition(webhookId),
    sk: `DELIVERY#${deliveryId}`,
  }),
  attempt: (webhookId: string, at: Date, deliveryId: string, attempt: number): ItemKey => ({
    pk: endpointPartition(webhookId),
    sk: `${ATTEMPT_PREFIX}${at.toISOString()}#${deliveryId}#${attempt}`,
  }),
};

/** The `webhook-id` of an event's delivery to one endpoint: stable across attempts, replays and duplicates. */
export function deliveryIdFor(eventMessageId: string, webhookId: string): string {
  return `msg_${eventMessageId}_${webhookId}`;
}

export const deliveryRecordSchema = z.object({
  deliveryId: z.string(),
  webhookId: z.string(),
  clientId: z.string(),
  eventId: z.string(),
  eventType: z.enum(ORDER_EVENT_TYPES),
  orderId: z.string(),
  correlationId: z.string(),
  /** The exact body every attempt sends: receivers verify signatures over these bytes. */
  body: z.string(),
  status: z.enum(DELIVERY_STATUSES),
  /** The attempt due (PENDING) or the last one made. Restarts at 1 when a failed delivery is replayed. */
  attempt: z.number().int().min(1),
  token: z.string(),
  /** The token of the message that scheduled the current one (see `claimAttempt`). */
  previousToken: z.string().optional(),
  nextAttemptAt: z.string(),
  leaseUntil: z.number().optional(),
  lastStatusCode: z.number().optional(),
  lastError: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type DeliveryRecord = z.infer<typeof deliveryRecordSchema>;

export interface NewDelivery {
  webhookId: string;
  clientId: string;
  eventId: string;
  eventType: DeliveryRecord['eventType'];
  orderId: string;
  correlationId: string;
  body: string;
}

export function attemptMessage(
  record: DeliveryRecord,
  kind: DeliveryMessage['kind'] = 'attempt',
): DeliveryMessage {
  return {
    kind,
    deliveryId: record.deliveryId,
    webhookId: record.webhookId,
    clientId: record.clientId,
    attempt: record.attempt,
    token: record.token,
    notBefore: record.nextAttemptAt,
    correlationId: record.correlationId,
  };
}

function parseRecord(item: Record<string, unknown>): DeliveryRecord {
  return parseItem(deliveryRecordSchema, item, `delivery ${String(item.deliveryId)}`);
}

export async function getDelivery(
  deps: TableDeps,
  webhookId: string,
  deliveryId: string,
): Promise<DeliveryRecord | undefined> {
  return getItem(
    deps,
    deliveryKeys.delivery(webhookId, deliveryId),
    deliveryRecordSchema,
    `delivery ${deliveryId}`,
  );
}

export type CreateDeliveryResult =
  | { created: true; record: DeliveryRecord }
  | { created: false; record: DeliveryRecord };

/** Writes the record of attempt 1 unless this event was already fanned out to this endpoint. */
export async function createDelivery(
  deps: TableDeps,
  input: NewDelivery,
  now: Date,
): Promise<CreateDeliveryResult> {
  const deliveryId = deliveryIdFor(input.eventId, input.webhookId);
  const at = now.toISOString();
  const record: DeliveryRecord = {
    ...input,
    deliveryId,
    status: 'PENDING',
    attempt: 1,
    token: randomUUID(),
    nextAttemptAt: at,
    createdAt: at,
    updatedAt: at,
  };
  const created = await conditionHeld(
    deps.doc.send(
      new PutCommand({
        TableName: deps.tableName,
        Item: {
          ...deliveryKeys.delivery(input.webhookId, deliveryId),
          entity: 'WebhookDelivery',
          ...record,
          expiresAt: epochSeconds(now) + DELIVERY_RETENTION_SECONDS,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    ),
  );
  if (created) return { created: true, record };
  const existing = await getDelivery(deps, input.webhookId, deliveryId);
  if (!existing) throw new CorruptRecord(`delivery ${deliveryId} vanished between write and read`);
  return { created: false, record: existing };
}

export type ClaimResult =
  | { kind: 'claimed'; record: DeliveryRecord }
  /** No record: its endpoint's partition expired or the message is forged. */
  | { kind: 'missing' }
  /** This message's attempt is over (a duplicate, or the delivery ended): nothing to do. */
  | { kind: 'stale'; record: DeliveryRecord }
  /** This message scheduled the current attempt; it came back, so sending the next message may have failed. */
  | { kind: 'scheduled_by_this'; record: DeliveryRecord }
  /** Another worker holds the lease on this very attempt. */
  | { kind: 'in_progress'; record: DeliveryRecord };

/** Takes the lease on the attempt `message` carries, if its token still authorises one. */
export async function claimAttempt(
  deps: TableDeps,
  message: DeliveryMessage,
  now: Date,
): Promise<ClaimResult> {
  try {
    const { Attributes } = await deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: deliveryKeys.delivery(message.webhookId, message.deliveryId),
        UpdateExpression: 'SET leaseUntil = :lease, updatedAt = :now',
        ConditionExpression:
          '#status = :pending AND #token = :token AND (attribute_not_exists(leaseUntil) OR leaseUntil < :nowMs)',
        ExpressionAttributeNames: { '#status': 'status', '#token': 'token' },
        ExpressionAttributeValues: {
          ':pending': 'PENDING',
          ':token': message.token,
          ':lease': now.getTime() + ATTEMPT_LEASE_MS,
          ':now': now.toISOString(),
          ':nowMs': now.getTime(),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { kind: 'claimed', record: parseRecord(Attributes ?? {}) };
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
  const record = await getDelivery(deps, message.webhookId, message.deliveryId);
  if (!record) return { kind: 'missing' };
  if (record.status === 'PENDING' && record.token === message.token) return { kind: 'in_progress', record };
  if (record.status === 'PENDING' && record.previousToken === message.token) {
    return { kind: 'scheduled_by_this', record };
  }
  return { kind: 'stale', record };
}

export interface AttemptLogEntry {
  deliveryId: string;
  webhookId: string;
  eventType: string;
  orderId: string;
  attempt: number;
  at: Date;
  durationMs: number;
  statusCode?: number;
  error?: string;
  outcome: 'succeeded' | 'failed';
  /** When the next attempt is due, if one was scheduled. */
  nextAttemptAt?: string;
}

export async function recordAttempt(deps: TableDeps, entry: AttemptLogEntry): Promise<void> {
  await deps.doc.send(
    new PutCommand({
      TableName: deps.tableName,
      Item: {
        ...deliveryKeys.attempt(entry.webhookId, entry.at, entry.deliveryId, entry.attempt),
        entity: 'WebhookAttempt',
        ...entry,
        at: entry.at.toISOString(),
        expiresAt: epochSeconds(entry.at) + DELIVERY_RETENTION_SECONDS,
      },
    }),
  );
}

export interface AttemptSummary {
  statusCode?: number;
  error?: string;
}

/** The last attempt's status and error on the record: set when known, removed when not (no stale error stays). */
function setLastAttempt(
  last: AttemptSummary,
  sets: string[],
  removes: string[],
  values: Record<string, unknown>,
): void {
  for (const [field, value] of [
    ['lastStatusCode', last.statusCode],
    ['lastError', last.error],
  ] as const) {
    if (value === undefined) removes.push(field);
    else {
      sets.push(`${field} = :${field}`);
      values[`:${field}`] = value;
    }
  }
}

/** Ends a delivery this worker holds (by `token`); a lost race means someone else ended it, which is fine. */
export async function finishDelivery(
  deps: TableDeps,
  message: Pick<DeliveryMessage, 'webhookId' | 'deliveryId' | 'token'>,
  status: Exclude<DeliveryStatus, 'PENDING'>,
  last: AttemptSummary,
  now: Date,
): Promise<void> {
  const names: Record<string, string> = { '#status': 'status', '#token': 'token' };
  const values: Record<string, unknown> = {
    ':status': status,
    ':token': message.token,
    ':now': now.toISOString(),
  };
  const sets = ['#status = :status', 'updatedAt = :now'];
  const removes = ['leaseUntil'];
  setLastAttempt(last, sets, removes, values);
  await conditionHeld(
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: deliveryKeys.delivery(message.webhookId, message.deliveryId),
        UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
        ConditionExpression: '#token = :token',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    ),
  );
}

/**
 * Hands the delivery to attempt `attempt` under a fresh token and returns the message that carries it. The caller
 * sends that message afterwards; if it crashes first, the old message comes back, finds itself `previousToken`
 * (`scheduled_by_this`) and sends the scheduled message again.
 */
export async function scheduleAttempt(
  deps: TableDeps,
  current: DeliveryRecord,
  next: { attempt: number; notBefore: Date; previousToken: string },
  last: AttemptSummary,
  now: Date,
): Promise<DeliveryMessage> {
  const token = randomUUID();
  const values: Record<string, unknown> = {
    ':attempt': next.attempt,
    ':token': token,
    ':previousToken': next.previousToken,
    ':next': next.notBefore.toISOString(),
    ':now': now.toISOString(),
    ':pending': 'PENDING',
  };
  const sets = [
    '#status = :pending',
    'attempt = :attempt',
    '#token = :token',
    'previousToken = :previousToken',
    'nextAttemptAt = :next',
    'updatedAt = :now',
  ];
  const removes = ['leaseUntil'];
  setLastAttempt(last, sets, removes, values);
  await deps.doc.send(
    new UpdateCommand({
      TableName: deps.tableName,
      Key: deliveryKeys.delivery(current.webhookId, current.deliveryId),
      UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
      ConditionExpression: '#token = :expected',
      ExpressionAttributeNames: { '#status': 'status', '#token': 'token' },
      ExpressionAttributeValues: { ...values, ':expected': next.previousToken },
    }),
  );
  return {
    kind: 'attempt',
    deliveryId: current.deliveryId,
    webhookId: current.webhookId,
    clientId: current.clientId,
    attempt: next.attempt,
    token,
    notBefore: next.notBefore.toISOString(),
    correlationId: current.correlationId,
  };
}

/**
 * Reopens a FAILED delivery for a fresh round of attempts, starting now. Undefined when it is not FAILED (any more):
 * replays are idempotent, whoever reopens first sends the message.
 */
export async function reopenDelivery(
  deps: TableDeps,
  record: Pick<DeliveryRecord, 'webhookId' | 'deliveryId' | 'token'>,
  now: Date,
): Promise<DeliveryMessage | undefined> {
  const token = randomUUID();
  try {
    const { Attributes } = await deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: deliveryKeys.delivery(record.webhookId, record.deliveryId),
        UpdateExpression:
          'SET #status = :pending, attempt = :one, #token = :token, previousToken = :old, nextAttemptAt = :now, ' +
          'updatedAt = :now, expiresAt = :expiresAt REMOVE leaseUntil',
        ConditionExpression: '#status = :failed AND #token = :old',
        ExpressionAttributeNames: { '#status': 'status', '#token': 'token' },
        ExpressionAttributeValues: {
          ':pending': 'PENDING',
          ':failed': 'FAILED',
          ':one': 1,
          ':token': token,
          ':old': record.token,
          ':now': now.toISOString(),
          // A replayed delivery gets a full retention period again.
          ':expiresAt': epochSeconds(now) + DELIVERY_RETENTION_SECONDS,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return attemptMessage(parseRecord(Attributes ?? {}));
  } catch (error) {
    if (isConditionalCheckFailed(error)) return undefined;
    throw error;
  }
}

/** Up to `limit` FAILED deliveries of an endpoint, oldest first (the order they are replayed in). */
export async function listFailedDeliveries(
  deps: TableDeps,
  webhookId: string,
  limit: number,
): Promise<DeliveryRecord[]> {
  const items = await queryItems(
    deps,
    {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      FilterExpression: '#status = :failed',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':pk': endpointPartition(webhookId),
        ':prefix': 'DELIVERY#',
        ':failed': 'FAILED',
      },
      ConsistentRead: true,
    },
    limit,
  );
  return items
    .map(parseRecord)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    .slice(0, limit);
}

export { type AttemptView, attemptViewSchema };

export class InvalidCursor extends Error {
  override name = 'InvalidCursor';
}

/** One page of an endpoint's attempts, newest first. The cursor is the last sort key, opaque to clients. */
export async function listAttempts(
  deps: TableDeps,
  webhookId: string,
  page: { limit: number; cursor?: string },
): Promise<{ attempts: AttemptView[]; nextCursor?: string }> {
  let startKey: ItemKey | undefined;
  if (page.cursor !== undefined) {
    const sk = Buffer.from(page.cursor, 'base64url').toString('utf8');
    // Only an attempt key of this endpoint: a cursor cannot move the query to another partition or item type.
    if (!sk.startsWith(ATTEMPT_PREFIX)) throw new InvalidCursor('cursor is not one this API returned');
    startKey = { pk: endpointPartition(webhookId), sk };
  }
  const result = await deps.doc.send(
    new QueryCommand({
      TableName: deps.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': endpointPartition(webhookId), ':prefix': ATTEMPT_PREFIX },
      ScanIndexForward: false,
      Limit: page.limit,
      ExclusiveStartKey: startKey,
    }),
  );
  const attempts = (result.Items ?? []).map((item) => attemptViewSchema.parse(item));
  const lastKey = result.LastEvaluatedKey?.sk;
  return typeof lastKey === 'string'
    ? { attempts, nextCursor: Buffer.from(lastKey, 'utf8').toString('base64url') }
    : { attempts };
}
