/**
 * The webhook store against real engines: DynamoDB Local for the conditions and transactions, the runtime's own KMS
 * (through the real KMS client) for the sealing. What mocks cannot show: that the expressions DynamoDB evaluates do
 * what the code means, under concurrency, and that a table dump holds no usable secret.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeSecrets, migrateLegacySecrets, rotateSecret } from '#functions/webhooks/endpoint-lifecycle.ts';
import {
  createWebhook,
  deleteWebhook,
  type EndpointDeps,
  getEndpoint,
  MAX_WEBHOOKS_PER_CLIENT,
  WebhookLimitReached,
} from '#functions/webhooks/endpoints.ts';
import { KmsSecretBox, type SealedSecret, SecretUnreadable } from '#functions/webhooks/secret-box.ts';
import { generateSecret } from '#functions/webhooks/signing.ts';
import { LOCAL_CREDENTIALS } from '#local/engines/dynamodb-local.ts';
import { type Gateway, startGateway } from '#local/engines/gateway.ts';
import { createKmsService, KMS_TARGET, KmsEngine } from '#local/engines/kms.ts';
import { silentLogger } from '#local/types.ts';
import type { TableDeps } from '#shared/dynamodb.ts';
import { keys } from '#shared/table-keys.ts';
import { type LocalTable, startLocalTable } from '#test/unit/support/local-table.ts';

const TABLE = 'webhook-store';
const KEY = {
  keyId: '0e8f2a8c-1111-4e5b-9c1d-5f0a4b3c2d1e',
  arn: 'arn:aws:kms:us-east-1:000000000000:key/0e8f2a8c-1111-4e5b-9c1d-5f0a4b3c2d1e',
};
const REGISTRATION = { url: 'https://hooks.example.com/buzzer', events: ['OrderConfirmed' as const] };

let table: LocalTable;
let gateway: Gateway;
let dynamodb: DynamoDBClient;
let kms: KMSClient;
let deps: EndpointDeps;

beforeAll(async () => {
  table = await startLocalTable(TABLE);
  dynamodb = table.client;
  const engine = await KmsEngine.start();
  engine.registerKey(KEY);
  gateway = await startGateway({ logger: silentLogger });
  gateway.registerService(KMS_TARGET, createKmsService(engine));
  kms = new KMSClient({ endpoint: gateway.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  deps = {
    doc: table.doc,
    tableName: TABLE,
    secretBox: new KmsSecretBox(kms, KEY.arn, { cacheTtlMs: 0 }),
  };
}, 120_000);

afterAll(async () => {
  kms?.destroy();
  await gateway?.stop();
  await table?.stop();
});

const rawItem = async (clientId: string, webhookId: string) => {
  const { Item } = await dynamodb.send(
    new GetCommand({ TableName: TABLE, Key: keys.webhook(clientId, webhookId) }),
  );
  if (!Item) throw new Error('no item');
  return Item;
};

const openAll = (secrets: SealedSecret[], clientId: string, webhookId: string) =>
  Promise.all(secrets.map((s) => deps.secretBox.open(s, { clientId, webhookId })));

const countEndpoints = async (tableDeps: TableDeps, clientId: string) => {
  const { Items } = await tableDeps.doc.send(
    new QueryCommand({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `CLIENT#${clientId}`, ':prefix': 'WEBHOOK#' },
      ConsistentRead: true,
    }),
  );
  return Items?.length ?? 0;
};

describe('webhook secrets at rest', () => {
  it('stores no usable secret: a dump of the item has neither the whsec_ string nor its key bytes', async () => {
    const created = await createWebhook(deps, 'dump', REGISTRATION);

    const item = await rawItem('dump', created.id);
    const dump = JSON.stringify(item);
    const keyBytes = Buffer.from(created.secret.slice('whsec_'.length), 'base64');
    const storedBytes = Buffer.concat(
      (item.sealedSecrets as SealedSecret[]).flatMap((s) =>
        [s.key, s.iv, s.tag, s.data].map((part) => Buffer.from(part, 'base64')),
      ),
    );
    expect(item.secrets).toBeUndefined();
    expect(dump).not.toContain('whsec_');
    expect(dump).not.toContain(created.secret.slice('whsec_'.length));
    expect(storedBytes.includes(keyBytes)).toBe(false);
    expect(storedBytes.includes(Buffer.from(created.secret))).toBe(false);
    expect(await openAll(item.sealedSecrets as SealedSecret[], 'dump', created.id)).toEqual([created.secret]);
  });

  it('does not open a sealed secret copied onto another client or endpoint', async () => {
    const victim = await createWebhook(deps, 'victim', REGISTRATION);
    const attacker = await createWebhook(deps, 'attacker', REGISTRATION);
    const [stolen] = (await rawItem('victim', victim.id)).sealedSecrets as SealedSecret[];
    if (!stolen) throw new Error('no sealed secret');

    await expect(
      deps.secretBox.open(stolen, { clientId: 'attacker', webhookId: attacker.id }),
    ).rejects.toThrow(SecretUnreadable);
    await expect(deps.secretBox.open(stolen, { clientId: 'victim', webhookId: attacker.id })).rejects.toThrow(
      SecretUnreadable,
    );
  });

  it('rotates to a new sealed secret and keeps the old one sealed for its grace period', async () => {
    const created = await createWebhook(deps, 'rotate', REGISTRATION);

    const rotated = await rotateSecret(deps, 'rotate', created.id, 3600);
    const again = await rotateSecret(deps, 'rotate', created.id, 0);

    const item = await rawItem('rotate', created.id);
    expect(JSON.stringify(item)).not.toContain('whsec_');
    expect(await openAll(item.sealedSecrets as SealedSecret[], 'rotate', created.id)).toEqual([again.secret]);
    expect(rotated.secret).not.toBe(again.secret);
  });

  it('seals the plaintext secrets of an endpoint from before sealing on first read, once', async () => {
    const [current, previous] = [generateSecret(), generateSecret()];
    await deps.doc.send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          ...keys.webhook('legacy', 'w-legacy'),
          entity: 'Webhook',
          webhookId: 'w-legacy',
          clientId: 'legacy',
          url: REGISTRATION.url,
          events: REGISTRATION.events,
          secrets: [current, previous],
          previousSecretExpiresAt: new Date(Date.now() + 3600_000).toISOString(),
          status: 'ENABLED',
          createdAt: new Date().toISOString(),
        },
      }),
    );
    const endpoint = await getEndpoint(deps, 'legacy', 'w-legacy');
    if (!endpoint) throw new Error('no endpoint');

    const first = await migrateLegacySecrets(deps, endpoint);
    const second = await migrateLegacySecrets(deps, endpoint);

    const item = await rawItem('legacy', 'w-legacy');
    expect([first, second]).toEqual([true, false]);
    expect(item.secrets).toBeUndefined();
    expect(JSON.stringify(item)).not.toContain('whsec_');
    const sealed = activeSecrets(
      item.sealedSecrets as SealedSecret[],
      item.previousSecretExpiresAt,
      new Date(),
    );
    expect(await openAll(sealed, 'legacy', 'w-legacy')).toEqual([current, previous]);
  });

  it('rotates an endpoint from before sealing: the replaced plaintext secret is sealed, the plaintext removed', async () => {
    const legacySecret = generateSecret();
    await deps.doc.send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          ...keys.webhook('legacy', 'w-rotate'),
          webhookId: 'w-rotate',
          clientId: 'legacy',
          url: REGISTRATION.url,
          events: REGISTRATION.events,
          secrets: [legacySecret],
          status: 'ENABLED',
          createdAt: new Date().toISOString(),
        },
      }),
    );

    const rotated = await rotateSecret(deps, 'legacy', 'w-rotate', 3600);

    const item = await rawItem('legacy', 'w-rotate');
    expect(item.secrets).toBeUndefined();
    expect(await openAll(item.sealedSecrets as SealedSecret[], 'legacy', 'w-rotate')).toEqual([
      rotated.secret,
      legacySecret,
    ]);
  });
});

describe('webhook quota', () => {
  it(`never lets concurrent registrations pass ${MAX_WEBHOOKS_PER_CLIENT} endpoints`, async () => {
    const attempts = MAX_WEBHOOKS_PER_CLIENT + 6;

    const results = await Promise.allSettled(
      Array.from({ length: attempts }, () => createWebhook(deps, 'racer', REGISTRATION)),
    );

    const created = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
    expect(refused.every((reason) => reason instanceof WebhookLimitReached)).toBe(true);
    expect(created).toHaveLength(MAX_WEBHOOKS_PER_CLIENT);
    expect(await countEndpoints(deps, 'racer')).toBe(MAX_WEBHOOKS_PER_CLIENT);
  });

  it('frees a place when an endpoint is deleted', async () => {
    const [first] = await Promise.all(
      Array.from({ length: MAX_WEBHOOKS_PER_CLIENT }, () => createWebhook(deps, 'churn', REGISTRATION)),
    );
    if (!first) throw new Error('nothing created');
    await expect(createWebhook(deps, 'churn', REGISTRATION)).rejects.toThrow(WebhookLimitReached);

    await deleteWebhook(deps, 'churn', first.id);

    await expect(createWebhook(deps, 'churn', REGISTRATION)).resolves.toMatchObject({ status: 'ENABLED' });
    await expect(createWebhook(deps, 'churn', REGISTRATION)).rejects.toThrow(WebhookLimitReached);
  });

  it('counts the endpoints a client registered before the quota item existed', async () => {
    for (const id of ['old-1', 'old-2', 'old-3']) {
      await deps.doc.send(
        new PutCommand({ TableName: TABLE, Item: { ...keys.webhook('veteran', id), webhookId: id } }),
      );
    }

    const results = await Promise.allSettled(
      Array.from({ length: MAX_WEBHOOKS_PER_CLIENT }, () => createWebhook(deps, 'veteran', REGISTRATION)),
    );

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(MAX_WEBHOOKS_PER_CLIENT - 3);
    expect(await countEndpoints(deps, 'veteran')).toBe(MAX_WEBHOOKS_PER_CLIENT);
  });
});
