/**
 * The delivery against a real SFTP server (local/partner-sftp.ts, ssh2's server on 127.0.0.1): upload under a
 * temporary name then rename, the pinned host key, once per date unless resent.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AlreadyDeliveredDifferently,
  deliverFile,
  type SftpLike,
  TransferFailed,
} from '#functions/settlement/deliver.ts';
import type { AssembledState } from '#functions/settlement/export.ts';
import type { ObjectStore } from '#functions/settlement/object-store.ts';
import { type PartnerSftpServer, startPartnerSftp } from '#local/partner-sftp.ts';
import { silentLogger } from '#local/types.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const secrets = mockClient(SecretsManagerClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const CONTENT = 'H,1,2026-12-01,acquirer,UTC\r\nT,0,,sha256:x\r\n';

let dir: string;
let server: PartnerSftpServer;
const partner = {
  name: 'acquirer',
  format: 'csv' as const,
  secretId: 'Buzzer/settlement/acquirer',
  directory: '.',
};
const store = { getStream: async () => Readable.from([Buffer.from(CONTENT)]) } as unknown as ObjectStore;
const state = (over: Partial<AssembledState> = {}): AssembledState => ({
  partner: 'acquirer',
  date: '2026-12-01',
  format: 'csv',
  timeZone: 'UTC',
  resend: false,
  scheduled: false,
  alreadyDelivered: false,
  windows: [],
  cursor: { page: 2, window: 1 },
  parts: 1,
  done: true,
  file: {
    key: 'exports/acquirer/2026-12-01/buzzer-settlement-acquirer-2026-12-01.csv',
    name: 'buzzer-settlement-acquirer-2026-12-01.csv',
    bytes: CONTENT.length,
    sha256: 'abc',
    records: 0,
    totals: {},
  },
  ...over,
});
const deps = () => ({
  doc,
  tableName: 'buzzer-test',
  store,
  secrets: new SecretsManagerClient({ region: 'eu-west-1' }),
});

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'partner-'));
  server = await startPartnerSftp({ directory: dir, logger: silentLogger });
});
afterAll(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  ddb.reset();
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: server.secretValue() });
  ddb.on(GetCommand).resolves({});
  ddb.on(PutCommand).resolves({});
  for (const name of await readdir(dir)) await rm(path.join(dir, name), { force: true });
});

describe('settlement delivery by SFTP', () => {
  it('uploads under a temporary name, renames it to the final name and records the checksum', async () => {
    const result = await deliverFile(deps(), partner, state());
    expect(result).toMatchObject({ sent: true, remotePath: 'buzzer-settlement-acquirer-2026-12-01.csv' });
    expect(await readdir(dir)).toEqual(['buzzer-settlement-acquirer-2026-12-01.csv']);
    expect(await readFile(path.join(dir, 'buzzer-settlement-acquirer-2026-12-01.csv'), 'utf8')).toBe(CONTENT);
    expect(server.renames.at(-1)).toBe('buzzer-settlement-acquirer-2026-12-01.csv');
    const put = ddb.commandCalls(PutCommand)[0]?.args[0].input;
    expect(put?.Item).toMatchObject({ pk: 'SETTLEMENT#acquirer#2026-12-01', sha256: 'abc', deliveries: 1 });
  });

  it('refuses a server whose host key is not the pinned one, naming both keys, and sends nothing', async () => {
    const secret = JSON.parse(server.secretValue()) as Record<string, unknown>;
    secrets.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ ...secret, hostKey: `SHA256:${'A'.repeat(43)}` }),
    });
    const failure = deliverFile(deps(), partner, state());
    await expect(failure).rejects.toMatchObject({ name: 'HostKeyMismatch' });
    await expect(failure).rejects.toThrow(server.hostKeyFingerprint);
    expect(await readdir(dir)).toEqual([]);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('leaves no file under the final name when the upload breaks midway, and the retry delivers it whole', async () => {
    server.failUploads(1);
    await expect(deliverFile(deps(), partner, state())).rejects.toBeInstanceOf(TransferFailed);
    expect(await readdir(dir)).toEqual(['buzzer-settlement-acquirer-2026-12-01.csv.part']);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    await deliverFile(deps(), partner, state());
    expect(await readdir(dir)).toEqual(['buzzer-settlement-acquirer-2026-12-01.csv']);
    expect(await readFile(path.join(dir, 'buzzer-settlement-acquirer-2026-12-01.csv'), 'utf8')).toBe(CONTENT);
  });

  it('sends a date once: the same file again is not sent, another file needs --resend', async () => {
    ddb.on(GetCommand).resolves({
      Item: { sha256: 'abc', file: 'x', deliveredAt: '2026-12-02T01:30:00.000Z', deliveries: 1 },
    });
    await expect(deliverFile(deps(), partner, state())).resolves.toMatchObject({ sent: false });
    const other = state({ file: { ...state().file, sha256: 'def' } });
    await expect(deliverFile(deps(), partner, other)).rejects.toBeInstanceOf(AlreadyDeliveredDifferently);
    expect(await readdir(dir)).toEqual([]);
    await expect(deliverFile(deps(), partner, { ...other, resend: true })).resolves.toMatchObject({
      sent: true,
    });
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input.Item).toMatchObject({
      sha256: 'def',
      deliveries: 2,
    });
  });

  it('does not rename an upload the client reported finished when the server holds fewer bytes', async () => {
    const calls: string[] = [];
    const fake: SftpLike = {
      connect: async () => undefined,
      put: async () => calls.push('put'),
      stat: async () => ({ size: 3 }),
      exists: async () => false,
      delete: async () => calls.push('delete'),
      rename: async () => calls.push('rename'),
      end: async () => undefined,
    };
    await expect(deliverFile({ ...deps(), sftp: () => fake }, partner, state())).rejects.toThrow(
      /has 3 of \d+ bytes/,
    );
    expect(calls).toEqual(['put']);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });
});
