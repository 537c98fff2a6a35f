/**
 * The local runtime's S3 (s3rver) and Secrets Manager: the settlement functions' own S3 calls (SigV4-signed, path
 * style through AWS_ENDPOINT_URL_S3) against s3rver, and the secrets a function reads by name or ARN.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ObjectStore, objectStoreClient } from '#functions/settlement/object-store.ts';
import { LOCAL_CREDENTIALS } from '#local/engines/dynamodb-local.ts';
import { type S3Engine, startS3 } from '#local/engines/s3.ts';
import { SecretsEngine } from '#local/engines/secrets.ts';
import { silentLogger } from '#local/types.ts';

let s3: S3Engine;

beforeAll(async () => {
  s3 = await startS3({ logger: silentLogger });
  await s3.createBucket('buzzer-settlement-files');
  vi.stubEnv('AWS_ACCESS_KEY_ID', LOCAL_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', LOCAL_CREDENTIALS.secretAccessKey);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await s3.stop();
});

describe('S3 on s3rver', () => {
  const store = () =>
    new ObjectStore(
      'buzzer-settlement-files',
      objectStoreClient({ ...process.env, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: s3.endpoint }),
    );

  it('stores and reads back objects with signed requests, and answers a missing one with nothing', async () => {
    await store().putText('exports/acquirer/2026-12-01/parts/part-000001.jsonl', '{"a":1}\n{"a":2}\n');
    expect(await store().getText('exports/acquirer/2026-12-01/parts/part-000001.jsonl')).toBe(
      '{"a":1}\n{"a":2}\n',
    );
    expect(await store().exists('exports/acquirer/2026-12-01/parts/part-000001.jsonl')).toBe(true);
    expect(await store().exists('exports/acquirer/2026-12-01/parts/part-000002.jsonl')).toBe(false);
    expect(await store().getStream('exports/none')).toBeUndefined();
    const stream = await store().getStream('exports/acquirer/2026-12-01/parts/part-000001.jsonl');
    let text = '';
    for await (const chunk of stream ?? []) text += String(chunk);
    expect(text).toBe('{"a":1}\n{"a":2}\n');
    const tail = await store().getStream('exports/acquirer/2026-12-01/parts/part-000001.jsonl', 8);
    text = '';
    for await (const chunk of tail ?? []) text += String(chunk);
    expect(text).toBe('{"a":2}\n');
  });

  it('moves an object (copy, then delete), and a move already done is done', async () => {
    await store().putText('inbox/a b.csv', 'x\n');
    await store().move('inbox/a b.csv', 'processed/a b.csv');
    expect(await store().exists('inbox/a b.csv')).toBe(false);
    expect(await store().getText('processed/a b.csv')).toBe('x\n');
    await store().move('inbox/a b.csv', 'processed/a b.csv');
    await expect(store().move('inbox/none.csv', 'processed/none.csv')).rejects.toMatchObject({
      name: 'ObjectStoreError',
    });
  });

  it('refuses a request signed with credentials it does not know', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDSOMEONEELSE');
    try {
      await expect(store().putText('exports/x', 'x')).rejects.toMatchObject({ name: 'ObjectStoreError' });
    } finally {
      vi.stubEnv('AWS_ACCESS_KEY_ID', LOCAL_CREDENTIALS.accessKeyId);
    }
  });
});

describe('Secrets Manager', () => {
  it('answers GetSecretValue by name or ARN, takes PutSecretValue, and names a missing secret', async () => {
    const secrets = new SecretsEngine();
    secrets.register(
      'Buzzer/settlement/acquirer',
      'arn:aws:secretsmanager:us-east-1:000000000000:secret:x-AbCdEf',
    );
    const service = secrets.service();
    await service('PutSecretValue', { SecretId: 'Buzzer/settlement/acquirer', SecretString: '{"host":"h"}' });
    await expect(
      service('GetSecretValue', {
        SecretId: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:x-AbCdEf',
      }),
    ).resolves.toMatchObject({ Name: 'Buzzer/settlement/acquirer', SecretString: '{"host":"h"}' });
    await expect(service('GetSecretValue', { SecretId: 'nope' })).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});
