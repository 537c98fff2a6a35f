import { randomUUID } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ENV } from '#contracts/environment.ts';
import { loadConfig, positiveIntFromEnv } from '#shared/config.ts';
import { conditionHeld, epochSeconds, type TableDeps } from '#shared/dynamodb.ts';
import { keys } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';

/** The claim's lease unless `EFFECT_LEASE_SECONDS` says otherwise (tests that kill a worker compress it). */
export const DEFAULT_EFFECT_LEASE_SECONDS = 60;

/**
 * How long a claim protects an effect in progress. Longer than a worker invocation (so two live
 * workers never both act), short enough that a crashed worker's message is retried well before the
 * queue gives up on it; the work queues' visibility timeouts are longer still.
 */
export const EFFECT_LEASE_MS =
  loadConfig(
    z.object({
      [ENV.EFFECT_LEASE_SECONDS]: positiveIntFromEnv(ENV.EFFECT_LEASE_SECONDS, DEFAULT_EFFECT_LEASE_SECONDS),
    }),
  ).EFFECT_LEASE_SECONDS * 1000;

const DAY_SECONDS = 24 * 60 * 60;

/** The longest a message can wait in an SQS queue or DLQ (the SQS maximum, which every Buzzer queue uses for DLQs). */
export const SQS_MAX_RETENTION_SECONDS = 14 * DAY_SECONDS;

/**
 * How old (since the outbox item was created) an event may be for `buzzer relay replay` to publish it again by
 * default. A replayed copy may wait the longest SQS retention before a consumer takes it, and the consumer's marker
 * dates from the first delivery (after the item was created), so the marker must outlive this age plus that wait.
 */
export const SAFE_REPLAY_AGE_SECONDS = 14 * DAY_SECONDS;

/**
 * Markers outlive a replay of an event up to `SAFE_REPLAY_AGE_SECONDS` old plus the longest SQS retention (2 days
 * to spare), so any redelivery, even of a replayed copy, still finds its marker and never mails or credits twice.
 */
export const EFFECT_RETENTION_SECONDS = SAFE_REPLAY_AGE_SECONDS + SQS_MAX_RETENTION_SECONDS + 2 * DAY_SECONDS;

/** Another worker holds a live claim on this effect; the message is retried after its visibility timeout. */
export class EffectInProgress extends Error {
  override name = 'EffectInProgress';
  constructor(consumer: string, eventId: string) {
    super(`effect ${consumer} for event ${eventId} is being performed by another worker`);
  }
}

export type Claim = { status: 'claimed'; token: string } | { status: 'done' };

/**
 * Claims the right to perform `consumer`'s effect for one event. A claim whose lease ran out (its
 * worker crashed) may be taken over; a DONE marker means the effect already happened.
 */
export async function claimEffect(
  deps: TableDeps,
  consumer: string,
  eventId: string,
  now = new Date(),
): Promise<Claim> {
  const key = keys.effect(consumer, eventId);
  const token = randomUUID();
  for (let attempt = 0; attempt < 2; attempt++) {
    const claimed = await conditionHeld(
      deps.doc.send(
        new PutCommand({
          TableName: deps.tableName,
          Item: {
            ...key,
            entity: 'Effect',
            consumer,
            eventId,
            status: 'IN_PROGRESS',
            claimToken: token,
            at: now.toISOString(),
            leaseUntil: now.getTime() + EFFECT_LEASE_MS,
            expiresAt: epochSeconds(now) + EFFECT_RETENTION_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR (#status = :inProgress AND leaseUntil < :now)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':inProgress': 'IN_PROGRESS', ':now': now.getTime() },
        }),
      ),
    );
    if (claimed) return { status: 'claimed', token };
    const { Item } = await deps.doc.send(
      new GetCommand({ TableName: deps.tableName, Key: key, ConsistentRead: true }),
    );
    if (Item?.status === 'DONE') return { status: 'done' };
    // Still there: a live claim. Gone: its holder released it after a failure, so claim again.
    if (Item) throw new EffectInProgress(consumer, eventId);
  }
  throw new EffectInProgress(consumer, eventId);
}

export async function completeEffect(
  deps: TableDeps,
  consumer: string,
  eventId: string,
  now = new Date(),
): Promise<void> {
  // Unconditional: even if our lease expired and someone else took over, the effect did happen.
  await deps.doc.send(
    new UpdateCommand({
      TableName: deps.tableName,
      Key: keys.effect(consumer, eventId),
      UpdateExpression:
        'SET #status = :done, #at = :now, expiresAt = :expiresAt REMOVE leaseUntil, claimToken',
      ExpressionAttributeNames: { '#status': 'status', '#at': 'at' },
      ExpressionAttributeValues: {
        ':done': 'DONE',
        ':now': now.toISOString(),
        ':expiresAt': epochSeconds(now) + EFFECT_RETENTION_SECONDS,
      },
    }),
  );
}

/** Gives a claim back after a failure so the retry does not wait for the lease to run out. */
export async function releaseEffect(
  deps: TableDeps,
  consumer: string,
  eventId: string,
  token: string,
): Promise<void> {
  // The claim was taken over (or completed) meanwhile: it is not ours to delete.
  await conditionHeld(
    deps.doc.send(
      new DeleteCommand({
        TableName: deps.tableName,
        Key: keys.effect(consumer, eventId),
        ConditionExpression: 'claimToken = :token',
        ExpressionAttributeValues: { ':token': token },
      }),
    ),
  );
}
