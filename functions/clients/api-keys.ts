import { createHash, randomBytes } from 'node:crypto';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import {
  cancellationReasons,
  getItem,
  hasReason,
  parseItem,
  queryItems,
  type TableDeps,
} from '#shared/dynamodb.ts';
import { CLIENT_API_KEY_PREFIX, clientPartition, keys } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';

/**
 * API keys and their lifecycle. Each key is two items written and changed together in one transaction:
 *
 * - `APIKEY#<sha256 of the key>` / `APIKEY`: what the authorizer reads (one GetItem per uncached request);
 * - `CLIENT#<clientId>` / `APIKEY#<first 12 hex of the sha256>`: the client's list of keys (a Query, no Scan) and
 *   the way from a public key id back to the key's hash.
 *
 * A key is ACTIVE until revoked, and works until its `expiresAt` (epoch seconds, the table's TTL attribute: DynamoDB
 * deletes both items some time after expiry, which is why the authorizer checks expiry itself).
 */

/** `bzk_` + 32 random bytes in base64url (43 characters): 256 bits, nothing to guess. */
export const API_KEY_PATTERN = /^bzk_[A-Za-z0-9_-]{43}$/;

/** Client ids become part of table keys (`CLIENT#<id>`, `IDEMPOTENCY#<id>#…`), so no `#` and nothing exotic. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A key's public id, `<clientId>:<first 12 hex of its SHA-256>`: safe to print and log (48 bits of a hash of a
 * 256-bit secret say nothing about the secret), and it names the client partition its entry lives in, so revoking
 * by id needs no index and no Scan. `:` cannot occur in a client id.
 */
export const KEY_ID_PATTERN = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63}):([0-9a-f]{12})$/;
const KEY_ID_HASH_CHARS = 12;

/** A new key works this long unless the operator asks for another lifetime, or explicitly for none. */
export const DEFAULT_API_KEY_LIFETIME_MS = 90 * 86_400_000;

export type ApiKeyStatus = 'ACTIVE' | 'REVOKED';
/** What a key is now: REVOKED, EXPIRED (active but past its expiry), or ACTIVE. */
export type ApiKeyState = ApiKeyStatus | 'EXPIRED';

export class InvalidClientId extends Error {
  override name = 'InvalidClientId';
  constructor(clientId: string) {
    super(
      `invalid client id ${JSON.stringify(clientId)}: use 1-64 letters, digits, . _ - (starting with a letter or digit)`,
    );
  }
}

export class InvalidKeyId extends Error {
  override name = 'InvalidKeyId';
  constructor(keyId: string) {
    super(
      `invalid key id ${JSON.stringify(keyId)}: a key id looks like <clientId>:<12 hex digits> (see keys list)`,
    );
  }
}

export class InvalidKeyExpiry extends Error {
  override name = 'InvalidKeyExpiry';
}

export class ApiKeyNotFound extends Error {
  override name = 'ApiKeyNotFound';
  constructor(keyId: string) {
    super(`no API key ${keyId} (an expired key is deleted some time after it expires)`);
  }
}

/** The key cannot take this change in its current state (e.g. rotating a revoked, expired or rotated key). */
export class ApiKeyNotActive extends Error {
  override name = 'ApiKeyNotActive';
}

/** Another change to the key won the race (a revoke or rotate at the same time, or its expiry deleted it). */
export class ApiKeyChanged extends Error {
  override name = 'ApiKeyChanged';
  constructor(keyId: string) {
    super(`API key ${keyId} changed while this command ran; look at keys list and try again`);
  }
}

const lifecycleFields = {
  clientId: z.string().regex(CLIENT_ID_PATTERN),
  keyId: z.string().regex(KEY_ID_PATTERN),
  status: z.enum(['ACTIVE', 'REVOKED']),
  createdAt: z.string(),
  /** Epoch seconds; absent for a key issued with `never`. */
  expiresAt: z.number().int().optional(),
  label: z.string().optional(),
  revokedAt: z.string().optional(),
  rotatedFrom: z.string().optional(),
  rotatedTo: z.string().optional(),
};
const apiKeyItemSchema = z.object(lifecycleFields);
const clientApiKeyItemSchema = z.object({
  ...lifecycleFields,
  keyHash: z.string().regex(/^[0-9a-f]{64}$/),
  last4: z.string(),
});
type ApiKeyItem = z.infer<typeof apiKeyItemSchema>;
type ClientApiKeyItem = z.infer<typeof clientApiKeyItemSchema>;

/** What operators see of a key: never the key, never its hash. */
export interface ApiKeySummary {
  keyId: string;
  clientId: string;
  state: ApiKeyState;
  createdAt: string;
  /** ISO time, or null for a key that never expires. */
  expiresAt: string | null;
  /** The last 4 characters of the key, so its holder can tell which key it is. */
  last4: string;
  label?: string;
  revokedAt?: string;
  rotatedFrom?: string;
  rotatedTo?: string;
}

/** A new key: the plain key is here once and never stored. */
export interface IssuedApiKey {
  apiKey: string;
  keyId: string;
  clientId: string;
  createdAt: string;
  expiresAt: string | null;
  label?: string;
}

export interface NewKeyOptions {
  label?: string;
  /** When the key stops working; `'never'` only when asked for. @default 90 days from now */
  expiresAt?: Date | 'never';
  now?: Date;
}

export function generateApiKey(): string {
  return `bzk_${randomBytes(32).toString('base64url')}`;
}

/** Only the hash is stored: a leaked table does not leak usable keys. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

export function keyIdOf(clientId: string, keyHash: string): string {
  return `${clientId}:${keyHash.slice(0, KEY_ID_HASH_CHARS)}`;
}

export function parseKeyId(keyId: string): { clientId: string; hashPrefix: string } {
  const match = KEY_ID_PATTERN.exec(keyId);
  if (!match?.[1] || !match[2]) throw new InvalidKeyId(keyId);
  return { clientId: match[1], hashPrefix: match[2] };
}

const isoOfEpoch = (seconds: number | undefined): string | null =>
  seconds === undefined ? null : new Date(seconds * 1000).toISOString();

export function keyState(item: Pick<ApiKeyItem, 'status' | 'expiresAt'>, now: Date): ApiKeyState {
  if (item.status === 'REVOKED') return 'REVOKED';
  return item.expiresAt !== undefined && now.getTime() >= item.expiresAt * 1000 ? 'EXPIRED' : 'ACTIVE';
}

function summary(item: ClientApiKeyItem, now: Date): ApiKeySummary {
  return {
    keyId: item.keyId,
    clientId: item.clientId,
    state: keyState(item, now),
    createdAt: item.createdAt,
    expiresAt: isoOfEpoch(item.expiresAt),
    last4: item.last4,
    ...(item.label !== undefined ? { label: item.label } : {}),
    ...(item.revokedAt !== undefined ? { revokedAt: item.revokedAt } : {}),
    ...(item.rotatedFrom !== undefined ? { rotatedFrom: item.rotatedFrom } : {}),
    ...(item.rotatedTo !== undefined ? { rotatedTo: item.rotatedTo } : {}),
  };
}

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** The two puts of a new key, for one transaction (alone, or with the old key's update in a rotation). */
function newKeyWrites(
  tableName: string,
  clientId: string,
  options: NewKeyOptions & { rotatedFrom?: string },
): { issued: IssuedApiKey; writes: TransactItem[] } {
  if (!CLIENT_ID_PATTERN.test(clientId)) throw new InvalidClientId(clientId);
  const now = options.now ?? new Date();
  const expiry = options.expiresAt ?? new Date(now.getTime() + DEFAULT_API_KEY_LIFETIME_MS);
  if (expiry !== 'never' && expiry.getTime() <= now.getTime()) {
    throw new InvalidKeyExpiry(`a new key must expire in the future, not at ${expiry.toISOString()}`);
  }
  const apiKey = generateApiKey();
  const keyHash = hashApiKey(apiKey);
  const keyId = keyIdOf(clientId, keyHash);
  const createdAt = now.toISOString();
  // Rounded up: a key never ends before the time asked for (TTL needs whole epoch seconds).
  const expiresAt = expiry === 'never' ? undefined : Math.ceil(expiry.getTime() / 1000);
  const lifecycle = {
    clientId,
    keyId,
    status: 'ACTIVE' satisfies ApiKeyStatus,
    createdAt,
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    ...(options.label ? { label: options.label } : {}),
    ...(options.rotatedFrom ? { rotatedFrom: options.rotatedFrom } : {}),
  };
  const put = (item: Record<string, unknown>): TransactItem => ({
    Put: { TableName: tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' },
  });
  return {
    issued: {
      apiKey,
      keyId,
      clientId,
      createdAt,
      expiresAt: isoOfEpoch(expiresAt),
      ...(options.label ? { label: options.label } : {}),
    },
    writes: [
      put({ ...keys.apiKey(keyHash), entity: 'ApiKey', ...lifecycle }),
      put({
        ...keys.clientApiKey(clientId, keyHash.slice(0, KEY_ID_HASH_CHARS)),
        entity: 'ClientApiKey',
        ...lifecycle,
        keyHash,
        last4: apiKey.slice(-4),
      }),
    ],
  };
}

/** Runs the writes of one key change; a failed condition means someone else changed the key first. */
async function writeTogether(deps: TableDeps, writes: TransactItem[], keyId: string): Promise<void> {
  try {
    await deps.doc.send(new TransactWriteCommand({ TransactItems: writes }));
  } catch (error) {
    const reasons = cancellationReasons(error);
    if (reasons && hasReason(reasons, 'ConditionalCheckFailed')) throw new ApiKeyChanged(keyId);
    throw error;
  }
}

/** Issues a new key for a client. The plain key is returned once and never stored. */
export async function createApiKey(
  doc: DynamoDBDocumentClient,
  tableName: string,
  clientId: string,
  options: NewKeyOptions = {},
): Promise<IssuedApiKey> {
  const { issued, writes } = newKeyWrites(tableName, clientId, options);
  await writeTogether({ doc, tableName }, writes, issued.keyId);
  return issued;
}

/** The stored item of a bearer key, or undefined for an unknown key (read strongly consistent: see `revoke`). */
export async function findApiKeyItem(
  doc: DynamoDBDocumentClient,
  tableName: string,
  apiKey: string,
): Promise<Record<string, unknown> | undefined> {
  const { Item } = await doc.send(
    new GetCommand({ TableName: tableName, Key: keys.apiKey(hashApiKey(apiKey)), ConsistentRead: true }),
  );
  return Item;
}

export type ApiKeyVerdict =
  | { allowed: true; clientId: string; keyId: string }
  | {
      allowed: false;
      reason: 'unknown' | 'revoked' | 'expired' | 'unreadable';
      keyId?: string;
      clientId?: string;
      detail?: string;
    };

/**
 * Whether a stored key may call the API now. An item without the lifecycle fields (issued before keys had a status
 * and an expiry, or damaged) is refused: a key nobody can revoke must not work.
 */
export function apiKeyVerdict(item: Record<string, unknown> | undefined, now: Date): ApiKeyVerdict {
  if (!item) return { allowed: false, reason: 'unknown' };
  const parsed = apiKeyItemSchema.safeParse(item);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join('.') || '(item)').join(', ');
    return {
      allowed: false,
      reason: 'unreadable',
      ...(typeof item.clientId === 'string' ? { clientId: item.clientId } : {}),
      detail: `unexpected or missing ${fields}: issue the client a new key`,
    };
  }
  const key = parsed.data;
  const state = keyState(key, now);
  // A known key that is no longer valid: the refusal names the key and its client so the caller can log both.
  const refused = (reason: 'revoked' | 'expired', detail: string): ApiKeyVerdict => ({
    allowed: false,
    reason,
    keyId: key.keyId,
    clientId: key.clientId,
    detail,
  });
  if (state === 'REVOKED') return refused('revoked', `revoked at ${key.revokedAt ?? '?'}`);
  if (state === 'EXPIRED') return refused('expired', `expired at ${isoOfEpoch(key.expiresAt)}`);
  return { allowed: true, clientId: key.clientId, keyId: key.keyId };
}

/** A client's keys, oldest first: one Query on the client's partition. */
export async function listApiKeys(
  deps: TableDeps,
  clientId: string,
  now = new Date(),
): Promise<ApiKeySummary[]> {
  if (!CLIENT_ID_PATTERN.test(clientId)) throw new InvalidClientId(clientId);
  const items = await queryItems(deps, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': clientPartition(clientId), ':prefix': CLIENT_API_KEY_PREFIX },
  });
  return items
    .map((item) => summary(parseItem(clientApiKeyItemSchema, item, `API key ${String(item.sk)}`), now))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

async function loadKey(deps: TableDeps, keyId: string): Promise<ClientApiKeyItem> {
  const { clientId, hashPrefix } = parseKeyId(keyId);
  const item = await getItem(
    deps,
    keys.clientApiKey(clientId, hashPrefix),
    clientApiKeyItemSchema,
    `API key ${keyId}`,
  );
  if (!item) throw new ApiKeyNotFound(keyId);
  return item;
}

/** Both items of a key, for an update in one transaction. */
function bothItems(item: ClientApiKeyItem) {
  const { clientId, hashPrefix } = parseKeyId(item.keyId);
  return [keys.apiKey(item.keyHash), keys.clientApiKey(clientId, hashPrefix)];
}

/**
 * Revokes a key: both items say REVOKED, in one transaction. Idempotent: revoking a revoked key changes nothing.
 * The authorizer reads strongly consistent, so the key is refused as soon as API Gateway's cached decision for it
 * runs out (the authorizer cache TTL).
 */
export async function revokeApiKey(
  deps: TableDeps,
  keyId: string,
  now = new Date(),
): Promise<ApiKeySummary & { alreadyRevoked: boolean }> {
  const item = await loadKey(deps, keyId);
  if (item.status === 'REVOKED') return { ...summary(item, now), alreadyRevoked: true };
  const revokedAt = now.toISOString();
  await writeTogether(
    deps,
    bothItems(item).map((key) => ({
      Update: {
        TableName: deps.tableName,
        Key: key,
        UpdateExpression: 'SET #status = :revoked, revokedAt = :at',
        ConditionExpression: '#status = :active',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':revoked': 'REVOKED', ':active': 'ACTIVE', ':at': revokedAt },
      },
    })),
    keyId,
  );
  return { ...summary({ ...item, status: 'REVOKED', revokedAt }, now), alreadyRevoked: false };
}

export interface RotateOptions {
  /** How long the old key keeps working (never longer than it would have anyway). */
  graceMs: number;
  /** Expiry of the new key. @default 90 days from now */
  expiresAt?: Date | 'never';
  now?: Date;
}

/**
 * Issues a new key for the same client and makes the old one expire after the grace period, all in one transaction:
 * either the client has both keys (the old one ending), or nothing changed.
 */
export async function rotateApiKey(
  deps: TableDeps,
  keyId: string,
  options: RotateOptions,
): Promise<{ issued: IssuedApiKey; previous: ApiKeySummary }> {
  const now = options.now ?? new Date();
  if (!Number.isFinite(options.graceMs) || options.graceMs < 0) {
    throw new InvalidKeyExpiry('the grace period must be 0 or more');
  }
  const old = await loadKey(deps, keyId);
  const state = keyState(old, now);
  if (state !== 'ACTIVE') {
    throw new ApiKeyNotActive(`API key ${keyId} is ${state}: issue a new one with keys create`);
  }
  if (old.rotatedTo) {
    throw new ApiKeyNotActive(`API key ${keyId} was already rotated to ${old.rotatedTo}`);
  }
  const graceEnd = Math.ceil((now.getTime() + options.graceMs) / 1000);
  const oldExpiresAt = old.expiresAt === undefined ? graceEnd : Math.min(old.expiresAt, graceEnd);
  const { issued, writes } = newKeyWrites(deps.tableName, old.clientId, {
    ...(old.label !== undefined ? { label: old.label } : {}),
    ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}),
    now,
    rotatedFrom: old.keyId,
  });
  const ending: TransactItem[] = bothItems(old).map((key) => ({
    Update: {
      TableName: deps.tableName,
      Key: key,
      UpdateExpression: 'SET expiresAt = :expiresAt, rotatedTo = :next',
      ConditionExpression: '#status = :active AND attribute_not_exists(rotatedTo)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':expiresAt': oldExpiresAt, ':next': issued.keyId, ':active': 'ACTIVE' },
    },
  }));
  await writeTogether(deps, [...writes, ...ending], keyId);
  return {
    issued,
    previous: summary({ ...old, expiresAt: oldExpiresAt, rotatedTo: issued.keyId }, now),
  };
}

/** The key from `Authorization: Bearer <key>`, or undefined when the header is absent or malformed. */
export function bearerApiKey(authorization: string | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
  const key = match?.[1];
  return key !== undefined && API_KEY_PATTERN.test(key) ? key : undefined;
}
