import { createHash, randomBytes } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from './keys.ts';

/** `bzk_` + 32 random bytes in base64url (43 characters): 256 bits, nothing to guess. */
export const API_KEY_PATTERN = /^bzk_[A-Za-z0-9_-]{43}$/;

/** Client ids become part of table keys (`CLIENT#<id>`, `IDEMPOTENCY#<id>#…`), so no `#` and nothing exotic. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class InvalidClientId extends Error {
  override name = 'InvalidClientId';
  constructor(clientId: string) {
    super(
      `invalid client id ${JSON.stringify(clientId)}: use 1-64 letters, digits, . _ - (starting with a letter or digit)`,
    );
  }
}

export function generateApiKey(): string {
  return `bzk_${randomBytes(32).toString('base64url')}`;
}

/** Only the hash is stored: a leaked table does not leak usable keys. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

/** Issues a new key for a client. The plain key is returned once and never stored. */
export async function createApiKey(
  doc: DynamoDBDocumentClient,
  tableName: string,
  clientId: string,
  label?: string,
): Promise<{ apiKey: string; clientId: string }> {
  if (!CLIENT_ID_PATTERN.test(clientId)) throw new InvalidClientId(clientId);
  const apiKey = generateApiKey();
  await doc.send(
    new PutCommand({
      TableName: tableName,
      Item: {
        ...keys.apiKey(hashApiKey(apiKey)),
        entity: 'ApiKey',
        clientId,
        createdAt: new Date().toISOString(),
        ...(label ? { label } : {}),
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  return { apiKey, clientId };
}

/** The client a well-formed key belongs to, or undefined for an unknown key. */
export async function findClientId(
  doc: DynamoDBDocumentClient,
  tableName: string,
  apiKey: string,
): Promise<string | undefined> {
  const { Item } = await doc.send(
    new GetCommand({ TableName: tableName, Key: keys.apiKey(hashApiKey(apiKey)) }),
  );
  const clientId = Item?.clientId;
  return typeof clientId === 'string' && clientId !== '' ? clientId : undefined;
}

/** The key from `Authorization: Bearer <key>`, or undefined when the header is absent or malformed. */
export function bearerApiKey(authorization: string | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
  const key = match?.[1];
  return key !== undefined && API_KEY_PATTERN.test(key) ? key : undefined;
}
