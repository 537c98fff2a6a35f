import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { API_KEY_PATTERN, type ApiKeySummary, hashApiKey } from '#functions/clients/api-keys.ts';
import type { CreatedKey, RevokedKey, RotatedKey } from '#ops/cli/keys.ts';
import { runCli } from '#ops/cli/program.ts';
import { transactItems, transactionCanceled } from '#test/unit/functions/helpers.ts';
import { opsContext } from './helpers.ts';

const NOW = new Date('2026-05-01T12:00:00.000Z');
const epoch = (ms: number) => Math.floor(ms / 1000);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TABLE = 'Buzzer-Table';
const HASH = 'ab'.repeat(32);
const KEY_ID = `acme:${HASH.slice(0, 12)}`;

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));

/** A client entry as `createApiKey` writes it, with `overrides`. */
function entry(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    pk: 'CLIENT#acme',
    sk: `APIKEY#${HASH.slice(0, 12)}`,
    entity: 'ClientApiKey',
    clientId: 'acme',
    keyId: KEY_ID,
    status: 'ACTIVE',
    createdAt: '2026-04-01T00:00:00.000Z',
    expiresAt: epoch(NOW.getTime() + 30 * DAY),
    keyHash: HASH,
    last4: 'wxyz',
    label: 'ticket 1234',
    ...overrides,
  };
}

/** Runs `buzzer <args>` against the mocked table; answers the exit code and what was printed. */
async function buzzer(...args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    discover: async () => opsContext({ doc }),
    io: {
      out: (text) => {
        out += text;
      },
      err: (text) => {
        err += text;
      },
    },
  });
  return { code, out, err, json: <T>() => JSON.parse(out) as T };
}

beforeEach(() => {
  ddb.reset();
  ddb.on(TransactWriteCommand).resolves({});
  vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('keys create', () => {
  it('issues a key for 90 days by default, shown once with its key id', async () => {
    const { code, json } = await buzzer('keys', 'create', '--client', 'acme', '--json');

    expect(code).toBe(0);
    const key = json<CreatedKey>();
    expect(key.apiKey).toMatch(API_KEY_PATTERN);
    expect(key.keyId).toBe(`acme:${hashApiKey(key.apiKey).slice(0, 12)}`);
    expect(key.expiresAt).toBe(new Date(NOW.getTime() + 90 * DAY).toISOString());
    const expiring = {
      Put: expect.objectContaining({
        Item: expect.objectContaining({ expiresAt: epoch(NOW.getTime() + 90 * DAY) }),
      }),
    };
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [expiring, expiring],
    });
  });

  it('takes --expires-in as a duration or, only when said, never', async () => {
    await buzzer('keys', 'create', '--client', 'acme', '--expires-in', '7d', '--json');
    const never = await buzzer('keys', 'create', '--client', 'acme', '--expires-in', 'never', '--json');

    expect(transactItems(ddb, 1)[0]?.Put?.Item?.expiresAt).toBe(epoch(NOW.getTime() + 7 * DAY));
    expect(transactItems(ddb, 2)[0]?.Put?.Item).not.toHaveProperty('expiresAt');
    expect(never.json<CreatedKey>().expiresAt).toBeNull();
  });

  it.each([['0s'], ['soon'], ['-1d']])('refuses --expires-in %s without writing', async (value) => {
    const { code, err } = await buzzer('keys', 'create', '--client', 'acme', '--expires-in', value);

    expect(code).not.toBe(0);
    expect(err).toMatch(/duration|longer than 0|expires-in/);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});

describe('keys list', () => {
  it("queries the client's partition for its key entries and shows state, never key or hash", async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        entry(),
        entry({
          keyId: 'acme:000000000002',
          expiresAt: epoch(NOW.getTime() - HOUR),
          createdAt: '2026-01-01',
        }),
        entry({ keyId: 'acme:000000000003', status: 'REVOKED', revokedAt: '2026-04-02T00:00:00.000Z' }),
        entry({ keyId: 'acme:000000000004', expiresAt: undefined, createdAt: '2026-04-03' }),
      ],
    });

    const { code, json } = await buzzer('keys', 'list', '--client', 'acme', '--json');

    expect(code).toBe(0);
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': 'CLIENT#acme', ':prefix': 'APIKEY#' },
    });
    const keys = json<ApiKeySummary[]>();
    expect(keys.map((key) => [key.keyId, key.state, key.expiresAt])).toEqual([
      ['acme:000000000002', 'EXPIRED', new Date(epoch(NOW.getTime() - HOUR) * 1000).toISOString()],
      [KEY_ID, 'ACTIVE', new Date(epoch(NOW.getTime() + 30 * DAY) * 1000).toISOString()],
      ['acme:000000000003', 'REVOKED', new Date(epoch(NOW.getTime() + 30 * DAY) * 1000).toISOString()],
      ['acme:000000000004', 'ACTIVE', null],
    ]);
    expect(JSON.stringify(keys)).not.toContain(HASH);
  });

  it('prints a table with the last 4 characters', async () => {
    ddb.on(QueryCommand).resolves({ Items: [entry()] });

    const { out } = await buzzer('keys', 'list', '--client', 'acme');

    expect(out).toContain(KEY_ID);
    expect(out).toContain('…wxyz');
    expect(out).toContain('ACTIVE');
    expect(out).not.toContain(HASH);
  });
});

describe('keys revoke', () => {
  it('marks both items REVOKED in one transaction, each only while ACTIVE', async () => {
    ddb.on(GetCommand).resolves({ Item: entry() });

    const { code, json } = await buzzer('keys', 'revoke', KEY_ID, '--json');

    expect(code).toBe(0);
    expect(ddb).toHaveReceivedNthCommandWith(GetCommand, 1, {
      Key: { pk: 'CLIENT#acme', sk: `APIKEY#${HASH.slice(0, 12)}` },
      ConsistentRead: true,
    });
    const revoke = (Key: Record<string, string>) => ({
      Update: expect.objectContaining({
        Key,
        UpdateExpression: 'SET #status = :revoked, revokedAt = :at',
        ConditionExpression: '#status = :active',
        ExpressionAttributeValues: { ':revoked': 'REVOKED', ':active': 'ACTIVE', ':at': NOW.toISOString() },
      }),
    });
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [
        revoke({ pk: `APIKEY#${HASH}`, sk: 'APIKEY' }),
        revoke({ pk: 'CLIENT#acme', sk: `APIKEY#${HASH.slice(0, 12)}` }),
      ],
    });
    expect(json<RevokedKey>()).toMatchObject({ keyId: KEY_ID, state: 'REVOKED', alreadyRevoked: false });
  });

  it('changes nothing for a key that is already revoked', async () => {
    ddb
      .on(GetCommand)
      .resolves({ Item: entry({ status: 'REVOKED', revokedAt: '2026-04-02T00:00:00.000Z' }) });

    const { code, out } = await buzzer('keys', 'revoke', KEY_ID);

    expect(code).toBe(0);
    expect(out).toContain('already revoked at 2026-04-02T00:00:00.000Z');
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('says so for an unknown key and a malformed key id', async () => {
    ddb.on(GetCommand).resolves({});

    const unknown = await buzzer('keys', 'revoke', KEY_ID);
    const malformed = await buzzer('keys', 'revoke', 'bzk_not-an-id');

    expect(unknown).toMatchObject({ code: 1, err: expect.stringContaining(`no API key ${KEY_ID}`) });
    expect(malformed).toMatchObject({ code: 1, err: expect.stringContaining('invalid key id') });
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
  });

  it('reports a concurrent change instead of claiming success', async () => {
    ddb.on(GetCommand).resolves({ Item: entry() });
    ddb.on(TransactWriteCommand).rejects(transactionCanceled('ConditionalCheckFailed', 'None'));

    const { code, err } = await buzzer('keys', 'revoke', KEY_ID);

    expect(code).toBe(1);
    expect(err).toContain(`API key ${KEY_ID} changed while this command ran`);
  });
});

describe('keys rotate', () => {
  it('issues a new key and ends the old one after the grace period, in one transaction', async () => {
    ddb.on(GetCommand).resolves({ Item: entry() });

    const { code, json } = await buzzer('keys', 'rotate', KEY_ID, '--grace', '1h', '--json');

    expect(code).toBe(0);
    const { issued, previous } = json<RotatedKey>();
    expect(issued).toMatchObject({ clientId: 'acme', label: 'ticket 1234' });
    expect(issued.apiKey).toMatch(API_KEY_PATTERN);
    const graceEnd = epoch(NOW.getTime() + HOUR);
    expect(previous).toMatchObject({
      keyId: KEY_ID,
      state: 'ACTIVE',
      expiresAt: new Date(graceEnd * 1000).toISOString(),
      rotatedTo: issued.keyId,
    });
    const successor = {
      Put: expect.objectContaining({
        Item: expect.objectContaining({ rotatedFrom: KEY_ID, clientId: 'acme' }),
      }),
    };
    const retire = (Key: Record<string, string>) => ({
      Update: expect.objectContaining({
        Key,
        ConditionExpression: '#status = :active AND attribute_not_exists(rotatedTo)',
        ExpressionAttributeValues: expect.objectContaining({ ':expiresAt': graceEnd, ':next': issued.keyId }),
      }),
    });
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 1, {
      TransactItems: [
        successor,
        successor,
        retire({ pk: `APIKEY#${HASH}`, sk: 'APIKEY' }),
        retire({ pk: 'CLIENT#acme', sk: `APIKEY#${HASH.slice(0, 12)}` }),
      ],
    });
  });

  it('never lets the old key live longer than it would have, and defaults the grace to 24h', async () => {
    const soon = epoch(NOW.getTime() + 2 * HOUR);
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: entry({ expiresAt: soon }) })
      .resolves({ Item: entry() });

    await buzzer('keys', 'rotate', KEY_ID, '--json');
    await buzzer('keys', 'rotate', KEY_ID, '--json');

    expect(transactItems(ddb, 1)[2]?.Update?.ExpressionAttributeValues?.[':expiresAt']).toBe(soon);
    expect(transactItems(ddb, 2)[2]?.Update?.ExpressionAttributeValues?.[':expiresAt']).toBe(
      epoch(NOW.getTime() + DAY),
    );
  });

  it.each([
    ['revoked', entry({ status: 'REVOKED' }), /is REVOKED/],
    ['expired', entry({ expiresAt: epoch(NOW.getTime() - 1000) }), /is EXPIRED/],
    ['already rotated', entry({ rotatedTo: 'acme:ffffffffffff' }), /already rotated to acme:ffffffffffff/],
  ])('refuses a key that is %s', async (_name, item, message) => {
    ddb.on(GetCommand).resolves({ Item: item });

    const { code, err } = await buzzer('keys', 'rotate', KEY_ID);

    expect(code).toBe(1);
    expect(err).toMatch(message);
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });
});

describe('keys --help', () => {
  it('lists the lifecycle commands and states the revocation bound', async () => {
    const { out } = await buzzer('keys', '--help');

    for (const command of ['create', 'list', 'revoke', 'rotate']) expect(out).toContain(command);
    expect(out).toContain('within 60 s');
  });

  it('documents --grace, --expires-in and the global --json on rotate', async () => {
    const { out } = await buzzer('keys', 'rotate', '--help');

    for (const option of ['--grace', '--expires-in', '--json', '--stack']) expect(out).toContain(option);
  });
});
