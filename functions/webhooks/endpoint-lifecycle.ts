/**
 * What happens to an endpoint after registration: secret rotation with a grace period, its failing streak and
 * circuit breaker (circuit.ts), auto-disable (410 Gone or failing for too long) and re-enabling. All writes are
 * conditional on the item existing under the caller's client partition, so a client can never touch another
 * client's endpoint.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditionHeld, isConditionalCheckFailed, type TableDeps } from '#shared/dynamodb.ts';
import { ConcurrentModification } from '#shared/errors.ts';
import { keys } from '#shared/table-keys.ts';
import { type CircuitPolicy, openUntil } from './circuit.ts';
import { type EndpointDeps, type EndpointRecord, getEndpoint, WebhookNotFound } from './endpoints.ts';
import type { RotatedSecretBody } from './route-schemas.ts';
import { generateSecret } from './signing.ts';

// How long the previous secret keeps signing after a rotation: the route's contract (route-schemas.ts).
export { DEFAULT_SECRET_GRACE_SECONDS, MAX_SECRET_GRACE_SECONDS } from './route-schemas.ts';

/** The secrets a delivery made at `now` is signed with, newest first (sealed or, for a legacy item, not). */
export function activeSecrets<T>(
  secrets: readonly T[],
  previousSecretExpiresAt: string | undefined,
  now: Date,
): T[] {
  const [current, ...previous] = secrets;
  const previousActive =
    previousSecretExpiresAt !== undefined && Date.parse(previousSecretExpiresAt) > now.getTime();
  return current === undefined ? [] : previousActive ? [current, ...previous] : [current];
}

export type RotatedSecret = RotatedSecretBody;

/**
 * A new current secret; the one it replaces keeps signing for `graceSeconds` so receivers can switch without
 * rejecting deliveries. Only one previous secret is kept: rotating again ends the earlier grace period, which is what
 * a client rotating because of a leak wants. The previous secret moves over still sealed (this function may seal but
 * never open); an endpoint from before sealing has its plaintext current secret sealed here, and its plaintext
 * attribute removed. Optimistic: retried when a concurrent rotation wins.
 */
export async function rotateSecret(
  deps: EndpointDeps,
  clientId: string,
  webhookId: string,
  graceSeconds: number,
  now = new Date(),
): Promise<RotatedSecret> {
  const owner = { clientId, webhookId };
  const secret = generateSecret();
  const sealed = await deps.secretBox.seal(secret, owner);
  const expiresAt = graceSeconds > 0 ? new Date(now.getTime() + graceSeconds * 1000).toISOString() : null;
  for (let attempt = 0; attempt < 3; attempt++) {
    const endpoint = await getEndpoint(deps, clientId, webhookId);
    if (!endpoint) throw new WebhookNotFound(webhookId);
    const seen = currentSecretCondition(endpoint);
    const [legacyCurrent] = endpoint.secrets ?? [];
    const current =
      endpoint.sealedSecrets?.[0] ??
      (legacyCurrent === undefined || expiresAt === null
        ? undefined
        : await deps.secretBox.seal(legacyCurrent, owner));
    const secrets = expiresAt === null || current === undefined ? [sealed] : [sealed, current];
    const rotated = await conditionHeld(
      deps.doc.send(
        new UpdateCommand({
          TableName: deps.tableName,
          Key: keys.webhook(clientId, webhookId),
          UpdateExpression:
            expiresAt === null
              ? 'SET sealedSecrets = :secrets, rotatedAt = :now REMOVE previousSecretExpiresAt, secrets'
              : 'SET sealedSecrets = :secrets, rotatedAt = :now, previousSecretExpiresAt = :expiresAt REMOVE secrets',
          ConditionExpression: seen.expression,
          ...(seen.names ? { ExpressionAttributeNames: seen.names } : {}),
          ExpressionAttributeValues: {
            ':secrets': secrets,
            ':now': now.toISOString(),
            ':current': seen.value,
            ...(expiresAt === null ? {} : { ':expiresAt': expiresAt }),
          },
        }),
      ),
    );
    if (rotated) return { id: webhookId, secret, previousSecretExpiresAt: expiresAt };
  }
  throw new ConcurrentModification(
    `webhook ${webhookId}: the secret changed during three rotations in a row`,
  );
}

/** "The current secret is still the one read": a sealed secret is recognised by its IV, random per seal. */
function currentSecretCondition(endpoint: EndpointRecord): {
  expression: string;
  names?: Record<string, string>;
  value: string | undefined;
} {
  const sealed = endpoint.sealedSecrets?.[0];
  if (sealed) {
    return {
      expression: 'attribute_exists(pk) AND sealedSecrets[0].#iv = :current',
      names: { '#iv': 'iv' },
      value: sealed.iv,
    };
  }
  return {
    expression: 'attribute_exists(pk) AND attribute_not_exists(sealedSecrets) AND secrets[0] = :current',
    value: endpoint.secrets?.[0],
  };
}

/**
 * Seals the plaintext secrets of an endpoint registered before sealing (migrate on read: the dispatcher calls it on
 * the first delivery it signs with them) and removes the plaintext. False when someone else sealed them first (a
 * concurrent delivery or rotation), which is just as good.
 */
export async function migrateLegacySecrets(deps: EndpointDeps, endpoint: EndpointRecord): Promise<boolean> {
  const plaintext = endpoint.secrets;
  if (endpoint.sealedSecrets !== undefined || plaintext === undefined) return false;
  const owner = { clientId: endpoint.clientId, webhookId: endpoint.webhookId };
  const sealed = await Promise.all(plaintext.map((secret) => deps.secretBox.seal(secret, owner)));
  return conditionHeld(
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: keys.webhook(endpoint.clientId, endpoint.webhookId),
        UpdateExpression: 'SET sealedSecrets = :sealed REMOVE secrets',
        ConditionExpression: 'attribute_not_exists(sealedSecrets) AND secrets = :plaintext',
        ExpressionAttributeValues: { ':sealed': sealed, ':plaintext': plaintext },
      }),
    ),
  );
}

/** Stops deliveries to an endpoint. False when it was not ENABLED (already disabled, or deleted). */
export async function disableEndpoint(
  deps: TableDeps,
  clientId: string,
  webhookId: string,
  reason: string,
  now = new Date(),
): Promise<boolean> {
  return conditionHeld(
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: keys.webhook(clientId, webhookId),
        UpdateExpression: 'SET #status = :disabled, disabledReason = :reason, disabledAt = :now',
        ConditionExpression: '#status = :enabled',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':disabled': 'DISABLED',
          ':enabled': 'ENABLED',
          ':reason': reason,
          ':now': now.toISOString(),
        },
      }),
    ),
  );
}

/** Enables an endpoint again with a clean failure record. Idempotent; throws WebhookNotFound for unknown ids. */
export async function enableEndpoint(deps: TableDeps, clientId: string, webhookId: string): Promise<void> {
  const found = await conditionHeld(
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: keys.webhook(clientId, webhookId),
        UpdateExpression:
          'SET #status = :enabled REMOVE disabledReason, disabledAt, failingSince, consecutiveFailures, circuitOpenUntil',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':enabled': 'ENABLED' },
      }),
    ),
  );
  if (!found) throw new WebhookNotFound(webhookId);
}

export interface FailingStreak {
  /** The first failure after the endpoint's last success. */
  since: Date;
  /** Failed attempts since then, this one included. */
  consecutiveFailures: number;
  /** Set when this failure opened (or kept open) the circuit (circuit.ts). */
  circuitOpenUntil?: Date;
}

/**
 * Notes a failed attempt: extends the endpoint's failing streak and opens its circuit when the streak is long enough
 * (circuit.ts). Undefined when the endpoint is gone.
 */
export async function markEndpointFailing(
  deps: TableDeps,
  clientId: string,
  webhookId: string,
  policy: CircuitPolicy,
  now = new Date(),
): Promise<FailingStreak | undefined> {
  const streak = await extendStreak(
    deps,
    clientId,
    webhookId,
    { since: 'failingSince', count: 'consecutiveFailures' },
    policy,
    now,
  );
  if (!streak) return undefined;
  const { count, ...rest } = streak;
  return { ...rest, consecutiveFailures: count };
}

/**
 * Counts an answer that was delivered but slow (circuit.ts): it ends a failing streak, as any delivery does, and
 * adds to the slow streak, which opens the circuit at the threshold. Returns until when the circuit opened, if it did.
 */
export async function markEndpointSlow(
  deps: TableDeps,
  clientId: string,
  webhookId: string,
  policy: CircuitPolicy,
  now = new Date(),
): Promise<Date | undefined> {
  const streak = await extendStreak(
    deps,
    clientId,
    webhookId,
    { since: 'slowSince', count: 'slowAnswers', ends: 'failingSince, consecutiveFailures, circuitOpenUntil' },
    policy,
    now,
  );
  return streak?.circuitOpenUntil;
}

interface StreakFields {
  /** The attribute holding when the streak began. */
  since: 'failingSince' | 'slowSince';
  /** The attribute counting its attempts. */
  count: 'consecutiveFailures' | 'slowAnswers';
  /** Attributes this attempt removes (the streak it ends). */
  ends?: string;
}

/** Adds one attempt to a streak of the endpoint and opens its circuit at the threshold. Undefined when it is gone. */
async function extendStreak(
  deps: TableDeps,
  clientId: string,
  webhookId: string,
  fields: StreakFields,
  policy: CircuitPolicy,
  now: Date,
): Promise<{ since: Date; count: number; circuitOpenUntil?: Date } | undefined> {
  let since: Date;
  let count: number;
  try {
    const { Attributes } = await deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: keys.webhook(clientId, webhookId),
        UpdateExpression:
          `SET ${fields.since} = if_not_exists(${fields.since}, :now) ADD ${fields.count} :one` +
          (fields.ends ? ` REMOVE ${fields.ends}` : ''),
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':now': now.toISOString(), ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const began = Attributes?.[fields.since];
    const counted = Attributes?.[fields.count];
    since = typeof began === 'string' ? new Date(began) : now;
    count = typeof counted === 'number' ? counted : 1;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return undefined;
    throw error;
  }
  const until = openUntil(count, since, now, policy);
  if (!until) return { since, count };
  await openCircuit(deps, clientId, webhookId, until);
  return { since, count, circuitOpenUntil: until };
}

/** Opens the circuit until `until`; only ever later: a straggler must not shorten a cooldown a probe just lengthened. */
async function openCircuit(deps: TableDeps, clientId: string, webhookId: string, until: Date): Promise<void> {
  await conditionHeld(
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: keys.webhook(clientId, webhookId),
        UpdateExpression: 'SET circuitOpenUntil = :until',
        ConditionExpression:
          'attribute_exists(pk) AND (attribute_not_exists(circuitOpenUntil) OR circuitOpenUntil < :until)',
        ExpressionAttributeValues: { ':until': until.toISOString() },
      }),
    ),
  );
}

/**
 * Lets one delivery through a half-open circuit: moves `circuitOpenUntil` from the value this worker saw to
 * `probeUntil`, so concurrent workers find the circuit open again and hold their deliveries. False when another
 * worker took the probe (or the circuit closed meanwhile).
 */
export async function claimProbe(
  deps: TableDeps,
  clientId: string,
  webhookId: string,
  seenOpenUntil: string,
  probeUntil: Date,
): Promise<boolean> {
  return conditionHeld(
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: keys.webhook(clientId, webhookId),
        UpdateExpression: 'SET circuitOpenUntil = :probeUntil',
        ConditionExpression: 'circuitOpenUntil = :seen',
        ExpressionAttributeValues: { ':probeUntil': probeUntil.toISOString(), ':seen': seenOpenUntil },
      }),
    ),
  );
}

/**
 * A success ends the failing streak and closes the circuit. Only written when there is a streak, so healthy
 * deliveries cost no write.
 */
export async function markEndpointHealthy(
  deps: TableDeps,
  clientId: string,
  webhookId: string,
): Promise<void> {
  await conditionHeld(
    deps.doc.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: keys.webhook(clientId, webhookId),
        UpdateExpression:
          'REMOVE failingSince, consecutiveFailures, circuitOpenUntil, slowSince, slowAnswers',
        ConditionExpression:
          'attribute_exists(failingSince) OR attribute_exists(circuitOpenUntil) OR attribute_exists(slowSince)',
      }),
    ),
  );
}
